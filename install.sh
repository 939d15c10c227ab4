#!/bin/sh
# git-dispatch installer (POSIX sh): the binary, the Claude Code skill, and the seed's entry point.
#
#   ./install.sh          from a checkout: cargo install --locked --path . --bin git-dispatch
#   curl -fsSL .../install.sh | GIT_DISPATCH_REPO_URL=<git URL> sh
#                         from anywhere: clones the repository (depth 1), then the same
#
# What it installs (running it again updates all of it in place):
#   ${CARGO_HOME:-~/.cargo}/bin/git-dispatch       on PATH, so that `git dispatch ...` works
#   ${XDG_DATA_HOME:-~/.local/share}/man/man1/git-dispatch.1
#                                                   the man page, so that `git dispatch --help` works
#                                                   (linked from ${CARGO_HOME:-~/.cargo}/share/man/man1,
#                                                   where man looks when ~/.cargo/bin is on PATH)
#   ${CLAUDE_SKILLS_DIR:-~/.claude/skills}/git-dispatch/
#                                                   the skill: SKILL.md, examples/, docs/
#   ${CLAUDE_SKILLS_DIR:-~/.claude/skills}/claude-codex-dispatch/bin/codex-dispatch
#                                                   the old entry point, now running git-dispatch with
#                                                   the same flags (`codex-dispatch --task F --dry-run`)
# An older Python claude-codex-dispatch found there is moved aside, not deleted.
#
# Environment:
#   CLAUDE_SKILLS_DIR       where Claude Code skills live (default ~/.claude/skills)
#   CARGO_HOME              cargo's home; the binary goes to $CARGO_HOME/bin (default ~/.cargo)
#   XDG_DATA_HOME           the man page goes to $XDG_DATA_HOME/man/man1 (default ~/.local/share)
#   GIT_DISPATCH_CODEX_BIN, GIT_DISPATCH_CLAUDE_BIN
#                           the agent programs, when they are not on PATH as codex and claude
#   GIT_DISPATCH_REPO_URL   the git URL to clone when this script is not run from a checkout
#   GIT_DISPATCH_REF        the branch or tag to clone (default: the repository's default branch)
#   GIT_DISPATCH_INSTALL_SKIP_BUILD=1 with GIT_DISPATCH_BINARY=/path/to/git-dispatch
#                           copy that prebuilt binary instead of running cargo (tests, packagers)
#
# Requirements: git and cargo (Rust, https://rustup.rs). Optional: codex and/or claude, the agent
# CLIs (`git dispatch demo` works without them).

set -eu

say() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# An agent CLI is usable: its override variable names an executable (else a warning says what is
# wrong with it), or the program is on PATH.
have_agent() {
    if [ -n "$2" ]; then
        if [ -f "$2" ] && [ -x "$2" ]; then return 0; fi
        warn "$3=$2 is not an executable file"
        return 1
    fi
    have "$1"
}

# Single-quotes a string for a shell script.
sh_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

: "${HOME:?HOME is not set}"
INSTALL_ROOT="${CARGO_HOME:-$HOME/.cargo}"
CARGO_BIN="$INSTALL_ROOT/bin"
BINARY="$CARGO_BIN/git-dispatch"
MAN_DIR="${XDG_DATA_HOME:-$HOME/.local/share}/man/man1"
MAN_LINK_DIR="$INSTALL_ROOT/share/man/man1"
SKILLS_DIR="${CLAUDE_SKILLS_DIR:-$HOME/.claude/skills}"
SKILL_DIR="$SKILLS_DIR/git-dispatch"
SEED_DIR="$SKILLS_DIR/claude-codex-dispatch"
MARK=".installed-by-git-dispatch"
SKIP_BUILD="${GIT_DISPATCH_INSTALL_SKIP_BUILD:-0}"
SRC=""
TMP_SRC=""

check_prerequisites() {
    have git || die "git is required but is not on PATH: install git (https://git-scm.com), then run this again"
    if [ "$SKIP_BUILD" != 1 ]; then
        have cargo || die "cargo is required to build git-dispatch but is not on PATH: install Rust (https://rustup.rs), then run this again"
    fi
    agents=0
    if have_agent codex "${GIT_DISPATCH_CODEX_BIN:-}" GIT_DISPATCH_CODEX_BIN; then
        agents=$((agents + 1))
    else
        warn "codex is not on PATH: to dispatch to Codex, npm install -g @openai/codex (or set GIT_DISPATCH_CODEX_BIN)"
    fi
    if have_agent claude "${GIT_DISPATCH_CLAUDE_BIN:-}" GIT_DISPATCH_CLAUDE_BIN; then
        agents=$((agents + 1))
    else
        warn "claude is not on PATH: to dispatch to Claude Code, npm install -g @anthropic-ai/claude-code (or set GIT_DISPATCH_CLAUDE_BIN)"
    fi
    if [ "$agents" = 0 ]; then
        warn "no agent CLI found: \`git dispatch demo\` works, real dispatches need codex or claude"
    fi
}

is_checkout() {
    [ -f "$1/Cargo.toml" ] && [ -f "$1/SKILL.md" ] && grep -q '^name = "git-dispatch"' "$1/Cargo.toml"
}

cleanup() {
    if [ -n "$TMP_SRC" ]; then rm -rf "$TMP_SRC"; fi
}

# Sets SRC: this script's checkout, or a fresh clone of GIT_DISPATCH_REPO_URL.
find_source() {
    if [ -f "$0" ]; then
        here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
        if is_checkout "$here"; then
            SRC=$here
            return
        fi
    fi
    [ -n "${GIT_DISPATCH_REPO_URL:-}" ] ||
        die "not run from a git-dispatch checkout: run ./install.sh in a clone of the repository, or set GIT_DISPATCH_REPO_URL to clone one"
    TMP_SRC=$(mktemp -d "${TMPDIR:-/tmp}/git-dispatch-src.XXXXXX")
    trap cleanup EXIT
    say "Cloning $GIT_DISPATCH_REPO_URL"
    if [ -n "${GIT_DISPATCH_REF:-}" ]; then
        git clone -q --depth 1 --branch "$GIT_DISPATCH_REF" "$GIT_DISPATCH_REPO_URL" "$TMP_SRC/git-dispatch" || die "git clone failed"
    else
        git clone -q --depth 1 "$GIT_DISPATCH_REPO_URL" "$TMP_SRC/git-dispatch" || die "git clone failed"
    fi
    is_checkout "$TMP_SRC/git-dispatch" || die "$GIT_DISPATCH_REPO_URL is not a git-dispatch repository"
    SRC="$TMP_SRC/git-dispatch"
}

install_binary() {
    if [ "$SKIP_BUILD" = 1 ]; then
        [ -n "${GIT_DISPATCH_BINARY:-}" ] || die "GIT_DISPATCH_INSTALL_SKIP_BUILD=1 needs GIT_DISPATCH_BINARY=/path/to/git-dispatch"
        if [ ! -f "$GIT_DISPATCH_BINARY" ] || [ ! -x "$GIT_DISPATCH_BINARY" ]; then
            die "GIT_DISPATCH_BINARY=$GIT_DISPATCH_BINARY is not an executable file"
        fi
        mkdir -p "$CARGO_BIN"
        say "Installing the prebuilt $GIT_DISPATCH_BINARY as $BINARY"
        # Copy, then rename over: a running binary cannot be overwritten in place.
        cp "$GIT_DISPATCH_BINARY" "$CARGO_BIN/.git-dispatch.new.$$"
        chmod 755 "$CARGO_BIN/.git-dispatch.new.$$"
        mv -f "$CARGO_BIN/.git-dispatch.new.$$" "$BINARY"
    else
        say "Building: cargo install --locked --path $SRC --bin git-dispatch --root $INSTALL_ROOT"
        cargo install --locked --path "$SRC" --bin git-dispatch --root "$INSTALL_ROOT" || die "cargo install failed (see above)"
    fi
}

# The man page from the installed binary, and a link to it where man looks for the pages of
# programs in $CARGO_BIN.
install_man_page() {
    mkdir -p "$MAN_DIR" "$MAN_LINK_DIR"
    "$BINARY" man >"$MAN_DIR/.git-dispatch.1.new.$$" || die "cannot render the man page with $BINARY man"
    mv -f "$MAN_DIR/.git-dispatch.1.new.$$" "$MAN_DIR/git-dispatch.1"
    if [ "$MAN_LINK_DIR" != "$MAN_DIR" ]; then ln -sf "$MAN_DIR/git-dispatch.1" "$MAN_LINK_DIR/git-dispatch.1"; fi
    say "Installed the man page $MAN_DIR/git-dispatch.1 (git dispatch --help)"
}

check_man_page() {
    have man || return 0
    if ! PATH="$CARGO_BIN:$PATH" man -w git-dispatch >/dev/null 2>&1; then
        warn "man does not find git-dispatch(1), so \`git dispatch --help\` cannot show it. Add its folder, e.g.:"
        say "    echo 'export MANPATH=\"${MAN_DIR%/man1}:\$MANPATH\"' >> ~/.profile"
    fi
}

# The path of a file with its folder's symlinks resolved.
physical() { printf '%s/%s' "$(CDPATH='' cd -- "$(dirname -- "$1")" && pwd -P)" "$(basename -- "$1")"; }

check_path() {
    found=$(command -v git-dispatch 2>/dev/null || true)
    if [ -n "$found" ] && [ "$(physical "$found")" = "$(physical "$BINARY")" ]; then
        say "git-dispatch is on PATH ($found), so \`git dispatch\` works"
    elif [ -n "$found" ]; then
        warn "another git-dispatch comes first on PATH: $found. Put $CARGO_BIN before it, or remove it."
    else
        warn "$CARGO_BIN is not on PATH, so \`git dispatch\` cannot find git-dispatch yet. Add it, e.g.:"
        say "    echo 'export PATH=\"$CARGO_BIN:\$PATH\"' >> ~/.profile    # then open a new shell"
    fi
}

# Moves a folder this installer did not make out of the way, keeping it, and stops Claude Code from
# loading its SKILL.md.
set_aside() {
    backup="$1.backup-$(date +%Y%m%d%H%M%S)"
    mv "$1" "$backup"
    if [ -f "$backup/SKILL.md" ]; then mv "$backup/SKILL.md" "$backup/SKILL.md.disabled"; fi
    warn "moved the existing $1 to $backup (its SKILL.md renamed SKILL.md.disabled)"
}

# Replaces `target` with the folder `staging`, setting aside a target that is not ours.
replace_dir() {
    if [ -e "$2" ] && [ ! -f "$2/$MARK" ]; then set_aside "$2"; fi
    : >"$1/$MARK"
    rm -rf "$2"
    mv "$1" "$2"
}

install_skill() {
    mkdir -p "$SKILLS_DIR"
    staging="$SKILLS_DIR/.git-dispatch.new.$$"
    rm -rf "$staging"
    mkdir -p "$staging"
    cp "$SRC/SKILL.md" "$staging/SKILL.md"
    cp -R "$SRC/examples" "$staging/examples"
    cp -R "$SRC/docs" "$staging/docs"
    if [ -f "$SRC/CHANGELOG.md" ]; then cp "$SRC/CHANGELOG.md" "$staging/CHANGELOG.md"; fi
    replace_dir "$staging" "$SKILL_DIR"
    say "Installed the Claude Code skill in $SKILL_DIR"
}

# shellcheck disable=SC2016 # the wrapper's own variables are written, not expanded
write_seed_wrapper() {
    {
        say '#!/bin/sh'
        say '# codex-dispatch: the claude-codex-dispatch entry point, kept by the git-dispatch installer.'
        say '# It runs git-dispatch with the same arguments: the flags of the seed are those of git-dispatch'
        say '# (codex-dispatch --task F [--dry-run] ...). Run the install.sh of git-dispatch again to update it.'
        say "installed=$(sh_quote "$BINARY")"
        say 'if [ -x "$installed" ]; then exec "$installed" "$@"; fi'
        say 'exec git-dispatch "$@"'
    } >"$1"
    chmod 755 "$1"
}

# shellcheck disable=SC2016 # backticks are Markdown here
install_seed_entry_point() {
    staging="$SKILLS_DIR/.claude-codex-dispatch.new.$$"
    rm -rf "$staging"
    mkdir -p "$staging/bin"
    write_seed_wrapper "$staging/bin/codex-dispatch"
    {
        say '# claude-codex-dispatch (compatibility entry point)'
        say ''
        say 'This folder only keeps the old entry point `bin/codex-dispatch` working: it runs'
        say '`git-dispatch` with the same flags. The skill itself is `../git-dispatch/SKILL.md`.'
    } >"$staging/README.md"
    replace_dir "$staging" "$SEED_DIR"
    say "Kept the seed's entry point: $SEED_DIR/bin/codex-dispatch"
}

smoke_test() {
    version=$("$BINARY" --version) || die "smoke test failed: $BINARY --version"
    say "Smoke test: $version"
    if PATH="$CARGO_BIN:$PATH" git dispatch --version >/dev/null 2>&1; then
        say "Smoke test: git dispatch --version works"
    else
        die "smoke test failed: git dispatch --version (with $CARGO_BIN on PATH)"
    fi
    "$SEED_DIR/bin/codex-dispatch" --version >/dev/null || die "smoke test failed: $SEED_DIR/bin/codex-dispatch --version"
}

main() {
    check_prerequisites
    find_source
    install_binary
    install_man_page
    install_skill
    install_seed_entry_point
    smoke_test
    check_path
    check_man_page
    say ""
    say "Done. Next:"
    say "  git dispatch demo                       a full dispatch with a built-in replay agent (no API key)"
    say "  git dispatch doctor                     what is installed and usable"
    say "  cat $SKILL_DIR/SKILL.md     the contract, for you and for Claude Code"
    say "Restart Claude Code to pick up the skill."
    say ""
    say "Or use the Claude Code plugin instead of the plain skill (the same skill, the MCP tools and the"
    say "/dispatch commands; remove $SKILL_DIR first so the skill is not loaded twice):"
    say "  claude plugin marketplace add $(plugin_source)"
    say "  claude plugin install git-dispatch@git-dispatch"
    say "Other MCP clients: run \`git-dispatch mcp\` (README: \"Use from an agent\")."
}

# Where the plugin's marketplace is: this checkout, or the URL the clone came from.
plugin_source() {
    if [ -n "$TMP_SRC" ]; then printf '%s\n' "$GIT_DISPATCH_REPO_URL"; else printf '%s\n' "$SRC"; fi
}

main "$@"
