#!/usr/bin/env bash
# Installs the agent CLIs that the real-CLI tests run (tests/real_cli_*.rs) and the MCP inspector
# (tests/mcp_inspector.rs) into an npm folder OUTSIDE the clone, so CI can cache it between runs,
# and prints that folder's bin dir on stdout.
#
#   dir=$(scripts/install-agent-clis.sh)   # then GIT_DISPATCH_CODEX_BIN=$dir/codex, ...
#
# Folder: ${GIT_DISPATCH_NPM_CACHE:-$HOME/.cache/git-dispatch-ci/npm}. A package already installed
# at the pinned version is not installed again. Claude Code needs its postinstall step, so scripts
# are not disabled. Progress goes to stderr; only the bin dir goes to stdout.
set -euo pipefail

CODEX_PACKAGE="@openai/codex"
CODEX_VERSION="0.171.0"
CLAUDE_PACKAGE="@anthropic-ai/claude-code"
CLAUDE_VERSION="2.1.332"
# The MCP inspector's CLI mode drives `git dispatch mcp` in tests/mcp_inspector.rs. 1.x, because 2.x
# needs Node 22.19 or later (this machine and CI have Node 20).
INSPECTOR_PACKAGE="@modelcontextprotocol/inspector"
INSPECTOR_VERSION="1.0.3"

cache="${GIT_DISPATCH_NPM_CACHE:-${HOME:?HOME is not set}/.cache/git-dispatch-ci/npm}"
clone="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cache="$(realpath -m "$cache")"
case "$cache/" in
  "$clone"/*)
    echo "install-agent-clis: $cache is inside the clone; set GIT_DISPATCH_NPM_CACHE elsewhere" >&2
    exit 1 ;;
esac
mkdir -p "$cache"

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "install-agent-clis: $tool not found on PATH" >&2; exit 1; }
done

installed_version() {
  local manifest="$cache/node_modules/$1/package.json"
  [ -f "$manifest" ] || return 0
  node -e 'process.stdout.write(String(require(process.argv[1]).version || ""))' "$manifest" 2>/dev/null || true
}

wanted=()
[ "$(installed_version "$CODEX_PACKAGE")" = "$CODEX_VERSION" ] || wanted+=("$CODEX_PACKAGE@$CODEX_VERSION")
[ "$(installed_version "$CLAUDE_PACKAGE")" = "$CLAUDE_VERSION" ] || wanted+=("$CLAUDE_PACKAGE@$CLAUDE_VERSION")
[ "$(installed_version "$INSPECTOR_PACKAGE")" = "$INSPECTOR_VERSION" ] || wanted+=("$INSPECTOR_PACKAGE@$INSPECTOR_VERSION")

if [ "${#wanted[@]}" -gt 0 ]; then
  echo "install-agent-clis: installing ${wanted[*]} into $cache" >&2
  npm install --prefix "$cache" --save-exact --no-audit --no-fund --loglevel=error "${wanted[@]}" >&2
else
  echo "install-agent-clis: $CODEX_PACKAGE@$CODEX_VERSION, $CLAUDE_PACKAGE@$CLAUDE_VERSION and $INSPECTOR_PACKAGE@$INSPECTOR_VERSION already in $cache" >&2
fi

bin="$cache/node_modules/.bin"
codex_line="$("$bin/codex" --version 2>/dev/null || true)"
claude_line="$("$bin/claude" --version 2>/dev/null || true)"
[ "$codex_line" = "codex-cli $CODEX_VERSION" ] || {
  echo "install-agent-clis: $bin/codex --version said '$codex_line'" >&2; exit 1; }
case "$claude_line" in
  "$CLAUDE_VERSION "*) ;;
  *) echo "install-agent-clis: $bin/claude --version said '$claude_line'" >&2; exit 1 ;;
esac
[ "$(installed_version "$INSPECTOR_PACKAGE")" = "$INSPECTOR_VERSION" ] && [ -x "$bin/mcp-inspector" ] || {
  echo "install-agent-clis: $INSPECTOR_PACKAGE@$INSPECTOR_VERSION is not in $cache" >&2; exit 1; }
echo "install-agent-clis: $codex_line, claude $claude_line, mcp-inspector $INSPECTOR_VERSION" >&2
echo "$bin"
