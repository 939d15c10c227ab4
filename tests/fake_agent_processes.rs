//! The fake agent's process steps: `sleep`, `hang`, `spawn_child`, `setsid_daemon`, `fork_bomb`
//! and `kill_parent`. Every process a test starts is killed by the test, pid by pid.

#[path = "support/fake_agent.rs"]
mod fake_agent;
#[path = "support/scratch_repo.rs"]
mod scratch_repo;

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{getsid, Pid};
use pretty_assertions::assert_eq;
use serde_json::json;

use fake_agent::{collect, run_codex, write_plan};
use scratch_repo::ScratchRepo;

fn pids_in(path: &std::path::Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .map(|line| line.trim().parse().expect("a pid per line"))
        .collect()
}

/// Running (a zombie waiting for a reaper counts as gone).
fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next());
    kill(Pid::from_raw(pid), None).is_ok() && state != Some(Some('Z'))
}

/// Kills `pid` and waits (bounded) until it is gone (reaped by init, as an orphan).
fn kill_and_wait(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sleep_waits_and_hang_never_ends_by_itself() {
    let repo = ScratchRepo::new();
    let started = Instant::now();
    let run = run_codex(&repo, &json!([{"step": "sleep", "ms": 300}]));
    assert_eq!(run.code(), Some(0));
    assert!(started.elapsed() >= Duration::from_millis(300));

    let plan = write_plan(&repo.base(), &json!([{"step": "message", "text": "before"}, {"step": "hang"}]));
    let mut command = fake_agent::codex_command(&repo.root, &plan, &repo.base().join("r.json"));
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    // Once its message is out, the plan has reached `hang`: it must still be running then.
    let mut reader = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    while !seen.contains("before") {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
    }
    assert!(seen.contains("before"), "{seen}");
    assert_eq!(child.try_wait().unwrap(), None, "still hanging");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn spawn_child_leaves_a_child_alive_after_the_agent_exits() {
    let repo = ScratchRepo::new();
    let pidfile = repo.base().join("child.pid");
    let run =
        run_codex(&repo, &json!([{"step": "spawn_child", "sleep_secs": 30, "pidfile": pidfile, "stdio": "null"}]));
    assert_eq!(run.code(), Some(0));
    let pid = pids_in(&pidfile)[0];
    assert!(alive(pid), "the child outlived the agent");
    kill_and_wait(pid);
}

#[test]
fn setsid_daemon_runs_in_its_own_session() {
    let repo = ScratchRepo::new();
    let pidfile = repo.base().join("daemon.pid");
    let run = run_codex(&repo, &json!([{"step": "setsid_daemon", "pidfile": "../daemon.pid", "stdio": "null"}]));
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let pid = pids_in(&pidfile)[0];
    assert!(alive(pid));
    let own_session = getsid(None).unwrap();
    let daemon_session = getsid(Some(Pid::from_raw(pid))).unwrap();
    assert_ne!(daemon_session, own_session);
    kill_and_wait(pid);
}

#[test]
fn fork_bomb_starts_exactly_max_processes() {
    let repo = ScratchRepo::new();
    let pidfile = repo.base().join("bomb.pids");
    let run = run_codex(&repo, &json!([{"step": "fork_bomb", "max": 7, "sleep_secs": 30, "pidfile": pidfile}]));
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let mut pids = pids_in(&pidfile);
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 7);
    assert!(pids.iter().all(|&pid| alive(pid)));
    for pid in pids {
        kill_and_wait(pid);
    }
}

#[test]
fn kill_parent_kills_the_process_that_started_the_agent() {
    let repo = ScratchRepo::new();
    let plan = write_plan(
        &repo.base(),
        &json!([{"step": "kill_parent"}, {"step": "write", "path": "after.txt", "content": "went on"}]),
    );
    // `sh` stays the parent because a command follows the agent.
    let script = format!(
        "FAKE_AGENT_STYLE=codex FAKE_AGENT_PLAN='{}' '{}' exec -C '{}' hi; echo survived",
        plan.display(),
        fake_agent::fake_agent_bin().display(),
        repo.root.display()
    );
    let mut command = std::process::Command::new("sh");
    command.arg("-c").arg(script).stdin(Stdio::null());
    let run = collect(&mut command, None);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(run.status.signal(), Some(9));
    assert!(!String::from_utf8_lossy(&run.stdout).contains("survived"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !repo.root.join("after.txt").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(repo.read("after.txt"), "went on");
}
