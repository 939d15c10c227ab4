//! Every way a child can end under `process`: exit codes, signals, timeout, heartbeat, a
//! SIGTERM-ignoring child, and background grandchildren that must not survive.

use std::path::Path;
use std::time::{Duration, Instant};

use git_dispatch::process::{self, KillReason, ProcessSpec};

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("sh", std::env::temp_dir()).arg("-c").arg(script).timeout(Duration::from_secs(60))
}

fn run(spec: &ProcessSpec) -> (process::Outcome, Vec<String>, String) {
    let mut lines = Vec::new();
    let mut stderr = Vec::new();
    let outcome =
        process::run_streaming(spec, &mut |line| lines.push(String::from_utf8_lossy(line).into_owned()), &mut stderr)
            .expect("the child starts");
    (outcome, lines, String::from_utf8(stderr).expect("utf-8 stderr"))
}

/// True when the process is gone or a zombie (dead, waiting to be reaped by init).
fn is_dead(pid: u32) -> bool {
    let status = Path::new("/proc").join(pid.to_string()).join("status");
    match std::fs::read_to_string(status) {
        Err(_) => true,
        Ok(text) => text.lines().any(|line| line.starts_with("State:") && line.contains('Z')),
    }
}

fn wait_dead(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if is_dead(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn exit_zero_delivers_stdout_lines_and_stderr() {
    let (outcome, lines, stderr) = run(&sh("echo one; echo two; echo oops >&2"));
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.signal, None);
    assert_eq!(outcome.killed, None);
    assert!(outcome.success());
    assert_eq!(lines, vec!["one", "two"]);
    assert_eq!(stderr, "oops\n");
}

#[test]
fn exit_code_n_is_reported() {
    let (outcome, lines, _) = run(&sh("echo partial; exit 7"));
    assert_eq!(outcome.exit_code, Some(7));
    assert_eq!(outcome.killed, None);
    assert!(!outcome.success());
    assert_eq!(lines, vec!["partial"]);
}

#[test]
fn death_by_signal_is_reported() {
    let (outcome, _, _) = run(&sh("kill -9 $$"));
    assert_eq!(outcome.exit_code, None);
    assert_eq!(outcome.signal, Some(9));
    assert_eq!(outcome.killed, None);
}

#[test]
fn stdin_is_dev_null_and_cwd_and_env_apply() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spec = sh("cat; pwd; echo \"$GD_SET\"; echo \"${GD_GONE-unset}\"");
    spec.cwd = dir.path().to_path_buf();
    spec.env.push(("GD_SET".into(), "here".into()));
    spec.env_remove.push("GD_GONE".into());
    std::env::set_var("GD_GONE", "inherited");
    let (outcome, lines, _) = run(&spec);
    assert_eq!(outcome.exit_code, Some(0));
    let cwd = dir.path().canonicalize().expect("canonical temp dir");
    assert_eq!(lines, vec![cwd.to_string_lossy().into_owned(), "here".into(), "unset".into()]);
}

#[test]
fn a_missing_program_is_an_error() {
    let spec = ProcessSpec::new("/nonexistent/git-dispatch-no-such-program", "/");
    let error = process::run_captured(&spec).expect_err("cannot start");
    assert!(format!("{error:#}").starts_with("starting /nonexistent/git-dispatch-no-such-program in /:"), "{error:#}");
}

#[test]
fn timeout_terminates_the_group() {
    let started = Instant::now();
    let spec = sh("echo started; sleep 30").timeout(Duration::from_millis(300));
    let (outcome, lines, _) = run(&spec);
    assert_eq!(outcome.killed, Some(KillReason::Timeout(Duration::from_millis(300))));
    assert_eq!(outcome.signal, Some(15));
    assert_eq!(lines, vec!["started"]);
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(KillReason::Timeout(Duration::from_secs(30)).to_string(), "hard timeout (30s)");
}

#[test]
fn heartbeat_kills_a_silent_child() {
    let spec = sh("echo hello; sleep 30").heartbeat(Duration::from_millis(400));
    let (outcome, lines, _) = run(&spec);
    assert_eq!(outcome.killed, Some(KillReason::Heartbeat(Duration::from_millis(400))));
    assert_eq!(lines, vec!["hello"]);
    assert!(outcome.duration < Duration::from_secs(4), "{:?}", outcome.duration);
    assert_eq!(KillReason::Heartbeat(Duration::from_secs(300)).to_string(), "heartbeat stall (300s without stdout)");
}

#[test]
fn heartbeat_spares_a_child_that_keeps_talking() {
    let spec = sh("for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.1; done").heartbeat(Duration::from_millis(600));
    let (outcome, lines, _) = run(&spec);
    assert_eq!(outcome.killed, None);
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(lines.len(), 8);
}

#[test]
fn a_child_ignoring_sigterm_gets_sigkill_after_the_grace_period() {
    let spec = sh("trap '' TERM; echo ready; while true; do sleep 1; done")
        .timeout(Duration::from_millis(200))
        .grace(Duration::from_millis(700));
    let (outcome, lines, _) = run(&spec);
    assert_eq!(lines, vec!["ready"]);
    assert_eq!(outcome.killed, Some(KillReason::Timeout(Duration::from_millis(200))));
    assert_eq!(outcome.signal, Some(9));
    assert!(outcome.duration >= Duration::from_millis(850), "{:?}", outcome.duration);
    assert!(outcome.duration < Duration::from_secs(4), "{:?}", outcome.duration);
}

#[test]
fn a_background_grandchild_is_dead_after_a_normal_exit() {
    let (outcome, lines, _) = run(&sh("sleep 1000 & echo $!; exit 0"));
    assert_eq!(outcome.exit_code, Some(0));
    let pid: u32 = lines[0].parse().expect("a pid");
    assert!(outcome.duration < Duration::from_secs(3), "{:?}", outcome.duration);
    assert!(wait_dead(pid), "grandchild {pid} still alive");
}

#[test]
fn a_grandchild_that_closed_its_pipes_is_dead_too() {
    let script = "sleep 1000 >/dev/null 2>&1 </dev/null & echo $!; exit 3";
    let (outcome, lines, _) = run(&sh(script));
    assert_eq!(outcome.exit_code, Some(3));
    let pid: u32 = lines[0].parse().expect("a pid");
    assert!(wait_dead(pid), "grandchild {pid} still alive");
}

#[test]
fn grandchildren_die_with_a_timed_out_child() {
    let spec = sh("sleep 1000 & echo $!; trap '' TERM; wait").timeout(Duration::from_millis(300));
    let spec = spec.grace(Duration::from_millis(300));
    let (outcome, lines, _) = run(&spec);
    assert_eq!(outcome.killed, Some(KillReason::Timeout(Duration::from_millis(300))));
    let pid: u32 = lines[0].parse().expect("a pid");
    assert!(wait_dead(pid), "grandchild {pid} still alive");
}

#[test]
fn run_captured_keeps_both_streams() {
    let captured = process::run_captured(&sh("printf 'a\\nb'; printf 'err' >&2; exit 4")).expect("the child starts");
    assert_eq!(captured.outcome.exit_code, Some(4));
    assert_eq!(captured.stdout, b"a\nb");
    assert_eq!(captured.stderr, b"err");
    assert_eq!(captured.dropped_bytes, 0);
}

#[test]
fn a_child_that_closed_its_pipes_is_still_timed_out() {
    let spec = sh("echo bye; exec >/dev/null 2>&1; sleep 30").timeout(Duration::from_millis(500));
    let (outcome, lines, _) = run(&spec);
    assert_eq!(lines, vec!["bye"]);
    assert_eq!(outcome.killed, Some(KillReason::Timeout(Duration::from_millis(500))));
    assert!(outcome.duration < Duration::from_secs(4), "{:?}", outcome.duration);
}
