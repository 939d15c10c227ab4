//! fake-agent: a test-only stand-in for the codex and claude CLIs that follows a plan file.
//!
//! # Which CLI it poses as
//! `FAKE_AGENT_STYLE=codex|claude` decides; otherwise `fake-agent exec ...` is codex,
//! an argv with `-p`/`--print` is claude, else the program name (`codex`, `claude`) decides.
//! codex style runs in the `-C DIR` directory, writes JSONL like `codex exec --json`
//! (`thread.started`, `turn.started`, `item.*`, `turn.completed` / `turn.failed`) and writes the
//! final message to the `-o FILE` (created empty at start when missing, as codex does).
//! claude style runs in its cwd, writes `stream-json` (`system/init`, `assistant`, `user`,
//! `result`) and puts the result in the last event's `structured_output` when `--json-schema` was
//! given and a JSON value came back (a text result leaves the field out, as the real claude does).
//! `--version` prints the real CLI's version line.
//! With `FAKE_AGENT_ROOT_CHECK=1`, claude style refuses `--dangerously-skip-permissions` as root
//! unless `IS_SANDBOX=1`, with the real CLI's message and exit 1.
//!
//! # The plan
//! `FAKE_AGENT_PLAN` names a JSON file: a list of steps, or `{"steps": [...]}`. No plan means no
//! steps (a clean run with the default result). Each step is an object tagged by `"step"`;
//! unknown fields are errors (exit 2 before anything runs). Paths are relative to the cwd above, or
//! absolute; a path may be `{"b64": "..."}` for non-UTF-8 names.
//!
//! | step | fields | does |
//! |---|---|---|
//! | `write` | `path`, `content` or `base64`, `count`=1 | create/replace the file with the payload `count` times |
//! | `append` | same | append (creating the file if needed) |
//! | `delete` | `path` | remove a file, symlink (not followed) or directory tree |
//! | `rename` | `from`, `to` | `rename(2)` |
//! | `chmod` | `path`, `mode` (`"755"` octal string or number) | set the mode |
//! | `symlink` | `target` (verbatim), `path` | `ln -s target path` |
//! | `hardlink` | `target`, `path` | `ln target path` |
//! | `mkdir` | `path` | `mkdir -p` |
//! | `special` | `path`, `kind` (`fifo`, `socket`, `device`) | a FIFO, a unix socket, or a character device (1:3, needs CAP_MKNOD) |
//! | `commit` | `message`="fake agent commit" | `git add -A && git commit -q -m message` |
//! | `git` | `args` | `git args...` |
//! | `checkout` | `rev` | `git checkout rev` |
//! | `detach` | `rev`? | `git checkout --detach [rev]` |
//! | `shell` | `cmd` | `sh -c cmd` (waits for it and its output) |
//! | `emit` | `line` or `json` | one raw line on stdout |
//! | `message` | `text` | an assistant message event |
//! | `stdout` | `bytes` or `base64`, `count`=1 | raw bytes on stdout, no newline (`"x"` x 100000000 = a 100 MB line) |
//! | `stderr` | `text`, `count`=1 | raw text on stderr |
//! | `sleep` | `ms` | sleep |
//! | `hang` | | sleep forever, silently |
//! | `spawn_child` | `sleep_secs`, `pidfile`?, `stdio`=`inherit`/`null` | a child in the agent's process group |
//! | `setsid_daemon` | `pidfile`, `sleep_secs`=30, `stdio`=`inherit`/`null` | a double-forked daemon in its own session; the step returns once `pidfile` holds its pid |
//! | `group_daemon` | `pidfile`, `sleep_secs`=30, `stdio`=`inherit`/`null` | a double-forked daemon in a process group of its own (same session) |
//! | `fork_bomb` | `max`, `sleep_secs`=30, `pidfile`? | a tree of exactly `max` sleeping processes; every pid appended to `pidfile` |
//! | `kill_parent` | `signal`=`KILL` (`TERM`, `INT`, `HUP`) | signal the parent process |
//! | `result` | `value` | the structured result to hand back (any JSON; `null` gives claude `structured_output: null`) |
//! | `result_raw` | `text` | hand back this text verbatim (e.g. not JSON) |
//! | `no_result` | | hand back nothing (codex: the `-o` file stays as it was, empty if it was missing; claude: no `structured_output` field) |
//! | `exit` | `code`, `abrupt`=false | stop; closing events and result still written unless `abrupt` |
//! | `fail` | `message` | a failed turn (codex `error` + `turn.failed`, claude `is_error: true`), exit 1 |
//! | `record` | `path`, `env`=[] | write `{argv, cwd, style, prompt, schema_offered, pid, ppid, env}` as JSON |
//! | `net` | `probe`, `host`?, `port`?, `name`?, `count`?, `at_once`? | one network attempt (`tcp`, `udp`, `dns`, `http`, `connect`, `garbage`, `half_open`, `flood`: see `fake_agent/net_steps.rs`), reported as a message `net <probe> <target>: ok (...)` / `failed (...)` |
//!
//! The default result is `{"result": "done", "summary": ..., "changed_files": [paths the file steps
//! touched below the cwd, sorted], "verification_run": [], "evidence": [], "findings": [],
//! "risks": [], "next": []}`. A step that fails (a refused write, a failing command) is reported on
//! stderr and in the events, and the plan goes on. Exit code: 0, or the `exit` step's code, or 1
//! after `fail`, or 2 for a bad plan or command line. No network but what `net` steps ask, no randomness.
//!
//! Attempts of a group (`git dispatch run --attempts N`, `--agent codex,claude`) share one plan:
//! git-dispatch gives each attempt's agent `GIT_DISPATCH_ATTEMPT` (1, 2, ...) and
//! `GIT_DISPATCH_GROUP`, so a `shell` step can make them differ
//! (`case "$GIT_DISPATCH_ATTEMPT" in 1) ...;; 2) ...;; esac`, see `tests/e2e_attempts.rs`).

#[path = "fake_agent/events.rs"]
mod events;
#[path = "fake_agent/fs_steps.rs"]
mod fs_steps;
#[path = "fake_agent/invocation.rs"]
mod invocation;
#[path = "fake_agent/net_steps.rs"]
mod net_steps;
#[path = "fake_agent/plan.rs"]
mod plan;
#[path = "fake_agent/proc_steps.rs"]
mod proc_steps;
#[path = "fake_agent/run.rs"]
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use invocation::Style;

const CODEX_VERSION: &str = "codex-cli 0.171.0";
const CLAUDE_VERSION: &str = "2.1.332 (Claude Code)";
const ROOT_REFUSAL: &str =
    "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os().map(|arg| arg.to_string_lossy().into_owned()).collect();
    if argv.get(1).map(String::as_str) == Some(proc_steps::INTERNAL_FLAG) {
        return proc_steps::internal(&argv[2..]);
    }
    match run_agent(argv) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            eprintln!("fake-agent: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run_agent(argv: Vec<String>) -> Result<i32> {
    let style_env = std::env::var("FAKE_AGENT_STYLE").ok();
    let style = invocation::detect_style(&argv, style_env.as_deref())?;
    let process_cwd = std::env::current_dir().context("reading the current directory")?;
    let invocation = invocation::parse(argv, style, &process_cwd)?;
    if invocation.version {
        println!("{}", if style == Style::Codex { CODEX_VERSION } else { CLAUDE_VERSION });
        return Ok(0);
    }
    if refuses_root(&invocation) {
        eprint!("{ROOT_REFUSAL}");
        return Ok(1);
    }
    let steps = match std::env::var_os("FAKE_AGENT_PLAN") {
        Some(path) => plan::load(&process_cwd.join(PathBuf::from(path)))?,
        None => Vec::new(),
    };
    std::env::set_current_dir(&invocation.cwd).with_context(|| format!("entering {}", invocation.cwd.display()))?;
    if style == Style::Codex {
        eprintln!("Reading additional input from stdin...");
    }
    run::Runner::new(invocation).run(&steps)
}

/// The real claude refuses to skip permissions as root unless IS_SANDBOX=1 (opt-in imitation).
fn refuses_root(invocation: &invocation::Invocation) -> bool {
    invocation.style == Style::Claude
        && std::env::var("FAKE_AGENT_ROOT_CHECK").as_deref() == Ok("1")
        && nix::unistd::geteuid().is_root()
        && std::env::var("IS_SANDBOX").as_deref() != Ok("1")
        && invocation.argv.iter().any(|arg| arg == "--dangerously-skip-permissions")
}
