#!/usr/bin/env bash
# Runs the tests whose behaviour differs for root once more as a plain user (issue 21 item 7):
# CI runs as root, so without this pass the non-root branches of those tests (Claude Code's root
# refusal, capabilities, device nodes, bubblewrap's user namespace as an unprivileged user, ...)
# would never run. Root only; makes the user `gd-ci` if it is missing. The test binaries are the
# ones `cargo test` already built; they run with GIT_DISPATCH_TEST_PASS=nonroot, so a root-only
# case skips there as tests/ci-allowed-skips.txt allows, and every other skip fails under CI=true.
#
#   scripts/test-as-user.sh [TEST_TARGET...]     # default: the list below
set -euo pipefail
cd "$(dirname "$0")/.."
clone=$PWD
[ "$(id -u)" = 0 ] || { echo "test-as-user: run as root (it switches to a plain user)" >&2; exit 1; }
user=gd-ci
id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(dispatch_verdicts fake_agent_results sandbox_processes process_pid_reuse sandbox_confinement
           sandbox_landlock sandbox_home sandbox_network integrity e2e_detach e2e_interrupt crash_stages)
fi

# The user must reach the clone (read and run) and the tests' temp folder (write).
dir=$clone
while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
chmod -R o+rX "$clone"
mkdir -p "$clone/target/tmp" && chmod 1777 "$clone/target/tmp"

executables=$(cargo test --locked --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
wanted = set(sys.argv[1:])
for line in sys.stdin:
    message = json.loads(line)
    target = message.get("target", {})
    if message.get("reason") == "compiler-artifact" and message.get("executable") and target.get("name") in wanted and "test" in target.get("kind", []):
        print(message["executable"])
' "${targets[@]}")
[ -n "$executables" ] || { echo "test-as-user: no test binaries for: ${targets[*]}" >&2; exit 1; }

status=0
for exe in $executables; do
  echo "== as $user: $(basename "$exe")"
  runuser -u "$user" -- env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
    CI="${CI:-true}" GIT_DISPATCH_TEST_PASS=nonroot "$exe" --test-threads=2 || status=1
done
exit $status
