//! End to end: the live status line of a running agent (issue 4, item 6) through the binary with
//! the fake agent. With stderr not a terminal there is no status and no escape code at all; under a
//! pseudo-terminal (util-linux `script`, skipped when missing) the line is redrawn in place and
//! ends with one summary line; `--quiet` silences it.

mod support;

use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use support::cli::{self, dispatch, printed_run_dir, stderr, worker_packet, write_packet};
use support::fixtures::{fixture, Fixture};

/// An agent that says something, runs a command, and takes a little over a second.
fn chatty_plan() -> Value {
    json!([
        {"step": "message", "text": "Looking at the tests"},
        {"step": "sleep", "ms": 600},
        {"step": "shell", "cmd": "echo hi"},
        {"step": "sleep", "ms": 600},
        {"step": "write", "path": "tests/test_more.py", "content": "def test_more():\n    pass\n"},
    ])
}

fn packet(fx: &Fixture) -> std::path::PathBuf {
    write_packet(fx, "task.md", &worker_packet(&fx.repo, "- tests/"))
}

#[test]
fn no_escape_codes_and_no_status_when_stderr_is_not_a_terminal() {
    let fx = fixture("python-project");
    let output = dispatch(&fx, &packet(&fx), &chatty_plan(), &[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let text = stderr(&output);
    assert!(!text.contains('\x1b'), "no escape codes on stderr: {text:?}");
    assert!(!text.contains('\r'), "no carriage returns on stderr: {text:?}");
    let id = run_dir.file_name().expect("id").to_string_lossy().into_owned();
    assert_eq!(text, format!("git-dispatch: {id}: offered (exit 0, 1 changed path)\n"), "only the verdict line");
    let stdout = cli::stdout(&output);
    assert!(!stdout.contains('\x1b'), "no escape codes on stdout: {stdout:?}");
}

/// Runs `git dispatch run` under a pseudo-terminal with util-linux `script`; `None` when `script`
/// is not installed. The terminal's output (stdout and stderr together) is in `stdout`.
fn under_pty(fx: &Fixture, extra: &str) -> Option<Output> {
    let available = Command::new("script").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !available.is_ok_and(|status| status.success()) {
        support::skip::skip("pty", "util-linux `script` is not installed (needed for a pseudo-terminal)");
        return None;
    }
    let inner = cli::command_with_plan(fx, &chatty_plan());
    let line = format!("'{}' run --task '{}' {extra}", cli::binary().display(), packet(fx).display());
    let mut command = Command::new("script");
    command.env_clear().args(["-qefc", &line, "/dev/null"]).current_dir(&fx.repo).stdin(Stdio::null());
    for (key, value) in inner.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    command.env("SHELL", "/bin/sh").env("TERM", "xterm");
    Some(command.output().expect("script can be spawned"))
}

#[test]
fn under_a_terminal_the_line_is_redrawn_and_ends_with_a_summary() {
    let fx = fixture("python-project");
    let Some(output) = under_pty(&fx, "") else {
        return;
    };
    let text = cli::stdout(&output);
    assert_eq!(output.status.code(), Some(0), "terminal output: {text:?}");
    assert!(text.contains("\r\x1b[K"), "redrawn in place: {text:?}");
    assert!(text.contains("codex"), "the agent is named: {text:?}");
    let summary = text.lines().find(|line| line.contains("codex: exited 0 after ")).unwrap_or_default();
    assert!(summary.contains("1 command"), "one summary line: {text:?}");
    let run_dir = text.lines().last().expect("a last line").trim_end_matches('\r');
    assert!(std::path::Path::new(run_dir).join("policy.json").is_file(), "the run folder is printed last: {text:?}");
}

#[test]
fn quiet_silences_the_status_even_under_a_terminal() {
    let fx = fixture("python-project");
    let Some(output) = under_pty(&fx, "--quiet") else {
        return;
    };
    let text = cli::stdout(&output);
    assert_eq!(output.status.code(), Some(0), "terminal output: {text:?}");
    assert!(!text.contains('\x1b'), "no escape codes with --quiet: {text:?}");
    assert!(!text.contains("codex: exited"), "no summary line with --quiet: {text:?}");
}
