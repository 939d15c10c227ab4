//! End to end: Ctrl-C. `git dispatch run` is started as a child with the fake agent (a child of its
//! own, then hang); once the agent runs, git-dispatch gets SIGINT (or SIGTERM). It must end
//! promptly with exit 3, record `interrupted: true`, leave no agent process, no worktree, no
//! scratch branch, and the user's checkout byte-identical. With the warm-start pool on, the run's
//! worktree may be parked in the pool (detached and clean). A parallel run (`-j 2`) stops every
//! agent. An interrupt during SETUP is covered too (ignored until the pipeline records it as an
//! interrupt).

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use support::cli::{self, read_json, user_visible, worker_packet, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::{git, tree_fingerprint};
use support::procs;

/// The grace period between SIGTERM and SIGKILL (`process::DEFAULT_GRACE`).
const GRACE: Duration = Duration::from_secs(5);

/// How long the agent may take to start.
const START_LIMIT: Duration = Duration::from_secs(30);

/// git-dispatch running in the background, its output drained on threads.
struct Background {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

impl Background {
    fn start(mut command: std::process::Command) -> Background {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("git-dispatch can be spawned");
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Background { child, stdout, stderr }
    }

    fn signal(&self, signal: Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signalling git-dispatch");
    }

    /// Waits up to `limit`; `None` (after killing it) when it did not end in time.
    fn wait(mut self, limit: Duration) -> (Option<std::process::ExitStatus>, String, String) {
        use wait_timeout::ChildExt;
        let status = self.child.wait_timeout(limit).expect("waiting for git-dispatch");
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let join =
            |handle: Option<JoinHandle<String>>| handle.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        (status, join(self.stdout.take()), join(self.stderr.take()))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The only run folder of the fixture, once it exists.
fn run_dir(fx: &Fixture) -> Option<PathBuf> {
    cli::run_dirs(&fx.repo).into_iter().next()
}

/// Waits until the agent runs: run.json says stage "agent" and the agent wrote `agent_record`.
fn wait_for_agent(fx: &Fixture, agent_record: &Path) -> PathBuf {
    let deadline = Instant::now() + START_LIMIT;
    while Instant::now() < deadline {
        if let Some(dir) = run_dir(fx) {
            let stage = std::fs::read(dir.join("run.json"))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .map(|record| record["stage"].clone());
            // The record is written by the agent while we look: wait until it is whole JSON.
            let record_whole =
                std::fs::read(agent_record).ok().is_some_and(|bytes| serde_json::from_slice::<Value>(&bytes).is_ok());
            if stage == Some(json!("agent")) && record_whole {
                return dir;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the agent did not start within {START_LIMIT:?}");
}

/// The worktrees git knows of, as `git worktree list --porcelain` names them.
fn worktrees(repo: &Path) -> Vec<String> {
    git(repo, &["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|line| line.strip_prefix("worktree "))
        .map(str::to_owned)
        .collect()
}

/// The worktrees besides the main one must be idle pooled ones: below the fixture's worktrees
/// root, on a detached HEAD, clean.
fn assert_only_pooled_worktrees(fx: &Fixture) {
    let all = worktrees(&fx.repo);
    assert_eq!(all[0], fx.repo.display().to_string());
    for path in &all[1..] {
        assert!(Path::new(path).starts_with(fx.worktrees_root()), "{path} is not below the worktrees root");
        let porcelain = git(&fx.repo, &["worktree", "list", "--porcelain"]);
        let entry = porcelain.split("\n\n").find(|entry| entry.starts_with(&format!("worktree {path}\n")));
        assert!(entry.expect("listed").lines().any(|line| line == "detached"), "{path} is pooled detached");
        assert_eq!(git(Path::new(path), &["status", "--porcelain"]), "", "{path} is clean");
    }
}

/// `pool`: the default warm-start pool (an interrupted run's worktree may be parked there); else
/// `GIT_DISPATCH_POOL_SIZE=0` (it must be removed).
fn interrupt_with(signal: Signal, pool: bool) {
    let fx = fixture("python-project");
    let before = tree_fingerprint(&fx.repo);
    let agent_record = fx.root.join("agent.json");
    let child_pid = procs::pidfile(&fx.root, "child");
    let plan = json!([
        {"step": "spawn_child", "sleep_secs": 1000, "pidfile": child_pid, "stdio": "inherit"},
        {"step": "write", "path": "tests/test_more.py", "content": "half done\n"},
        {"step": "record", "path": agent_record},
        {"step": "hang"},
    ]);
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let mut command = cli::command_with_plan(&fx, &plan);
    if !pool {
        command.env("GIT_DISPATCH_POOL_SIZE", "0");
    }
    command.args(["run", "--task"]).arg(&packet).args(["--timeout-sec", "120", "--heartbeat-sec", "120"]);
    let running = Background::start(command);
    let dir = wait_for_agent(&fx, &agent_record);
    let agent_pid = read_json(&agent_record)["pid"].as_i64().expect("the agent's pid") as i32;
    let pids = vec![agent_pid, procs::read_pids(&child_pid)[0]];
    assert_eq!(procs::wait_all_dead(&pids, Duration::ZERO), pids, "the agent and its child run");

    let signalled = Instant::now();
    running.signal(signal);
    let (status, stdout, stderr) = running.wait(GRACE + Duration::from_secs(10));
    let elapsed = signalled.elapsed();
    let status = status.unwrap_or_else(|| panic!("git-dispatch did not end after {signal}; stderr: {stderr}"));
    assert_eq!(status.code(), Some(3), "after {signal}: stdout {stdout:?} stderr {stderr:?}");
    assert!(elapsed < GRACE + Duration::from_secs(3), "ended promptly: {elapsed:?}");
    assert_eq!(stdout.lines().last(), Some(dir.to_str().expect("utf-8")), "the run folder is printed");

    let policy = read_json(&dir.join("policy.json"));
    assert_eq!(policy["interrupted"], true, "{policy:#}");
    assert_eq!(policy["watchdog_killed"], false);
    assert_eq!(policy["exit_code"], 3);
    assert_eq!(policy["offered"], false);
    let message =
        "FAILED: interrupted: git-dispatch was stopped (SIGINT/SIGTERM) and stopped the agent; nothing is offered.";
    assert!(policy["messages"].as_array().expect("messages").contains(&json!(message)), "{policy:#}");
    assert_eq!(read_json(&dir.join("run.json"))["stage"], "done");
    assert_eq!(read_json(&dir.join("result.json"))["result"], "blocked");

    assert_eq!(procs::wait_all_dead(&pids, Duration::from_secs(3)), Vec::<i32>::new(), "the agent and its child");
    assert_eq!(procs::working_below(&fx.root), vec![], "no process left in the fixture");
    if pool {
        assert_only_pooled_worktrees(&fx);
    } else {
        assert_eq!(worktrees(&fx.repo), vec![fx.repo.display().to_string()], "only the main worktree");
    }
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "");
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before), "the checkout is untouched");
}

#[test]
fn sigint_stops_the_agent_and_leaves_nothing_half_done() {
    interrupt_with(Signal::SIGINT, false);
}

#[test]
fn sigterm_stops_the_agent_and_leaves_nothing_half_done() {
    interrupt_with(Signal::SIGTERM, false);
}

#[test]
fn sigint_with_the_warm_start_pool_leaves_at_most_a_clean_pooled_worktree() {
    interrupt_with(Signal::SIGINT, true);
}

/// Today an interrupted SETUP command is recorded as a failed SETUP (exit 2, "BLOCKED: SETUP
/// command ... failed", `interrupted: false`); cleanup is already right.
#[test]
fn sigint_during_setup_stops_it_and_records_the_interrupt() {
    let fx = fixture("python-project");
    let before = tree_fingerprint(&fx.repo);
    let pidfile = procs::pidfile(&fx.root, "setup");
    let text = worker_packet(&fx.repo, "- tests/")
        + &format!("\nSETUP:\n- echo $$ > '{}'; exec sleep 1000\n", pidfile.display());
    let packet = write_packet(&fx, "task.md", &text);
    let mut command = cli::command_with_plan(&fx, &json!([]));
    command.args(["run", "--task"]).arg(&packet).env("GIT_DISPATCH_POOL_SIZE", "0");
    let running = Background::start(command);
    assert!(procs::wait_for_file(&pidfile, START_LIMIT, |text| text.ends_with('\n')), "SETUP started");
    let setup_pid = procs::read_pids(&pidfile)[0];
    let dir = run_dir(&fx).expect("the run folder exists");
    running.signal(Signal::SIGINT);
    let (status, stdout, stderr) = running.wait(GRACE + Duration::from_secs(10));
    let status = status.unwrap_or_else(|| panic!("git-dispatch did not end; stderr: {stderr}"));
    let policy = read_json(&dir.join("policy.json"));
    assert_eq!(stdout.lines().last(), Some(dir.to_str().expect("utf-8")), "the run folder is printed");
    assert_eq!(procs::wait_all_dead(&[setup_pid], Duration::from_secs(3)), Vec::<i32>::new());
    assert_eq!(worktrees(&fx.repo), vec![fx.repo.display().to_string()], "only the main worktree");
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "");
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before), "the checkout is untouched");
    assert_eq!(policy["interrupted"], true, "{policy:#}");
    assert_eq!(status.code(), Some(3), "stderr: {stderr}");
    assert_eq!(policy["exit_code"], 3);
}

#[test]
fn sigint_stops_every_agent_of_a_parallel_run() {
    let fx = fixture("python-project");
    let before = tree_fingerprint(&fx.repo);
    let plan = json!([
        {"step": "spawn_child", "sleep_secs": 1000, "stdio": "null"},
        {"step": "message", "text": "working"},
        {"step": "hang"},
    ]);
    let first = write_packet(&fx, "one.md", &worker_packet(&fx.repo, "- tests/"));
    let second = write_packet(&fx, "two.md", &worker_packet(&fx.repo, "- tests/"));
    let mut command = cli::command_with_plan(&fx, &plan);
    command.args(["run", "-j", "2", "--task"]).arg(&first).arg(&second).env("GIT_DISPATCH_POOL_SIZE", "0");
    let running = Background::start(command);
    let deadline = Instant::now() + START_LIMIT;
    let events_started =
        |dir: &PathBuf| std::fs::read_to_string(dir.join("events.jsonl")).is_ok_and(|t| t.contains("working"));
    loop {
        let dirs = cli::run_dirs(&fx.repo);
        if dirs.len() == 2 && dirs.iter().all(events_started) {
            break;
        }
        assert!(Instant::now() < deadline, "both agents did not start within {START_LIMIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    running.signal(Signal::SIGINT);
    let (status, stdout, stderr) = running.wait(GRACE + Duration::from_secs(10));
    let status = status.unwrap_or_else(|| panic!("git-dispatch did not end; stderr: {stderr}"));
    assert_eq!(status.code(), Some(3), "stdout {stdout:?} stderr {stderr:?}");
    let dirs = cli::run_dirs(&fx.repo);
    assert_eq!(stdout.lines().count(), 2, "one run folder per packet: {stdout:?}");
    for dir in &dirs {
        let policy = read_json(&dir.join("policy.json"));
        assert_eq!(policy["interrupted"], true, "{policy:#}");
        assert_eq!(policy["exit_code"], 3);
    }
    assert_eq!(procs::wait_none_working_below(&fx.root, Duration::from_secs(3)), vec![], "no agent is left");
    assert_eq!(worktrees(&fx.repo), vec![fx.repo.display().to_string()], "only the main worktree");
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "");
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before), "the checkout is untouched");
}
