//! The supervisor never signals a process group after reaping its leader (issue 20 item 4): once
//! the leader is reaped its pid is free, and an unrelated process that gets it and makes itself a
//! group leader must not be killed when the run ends.
//!
//! The test makes the reuse happen: the child exits while a `setsid` grandchild holds its stdout
//! open (so the run waits for the pipe), and in that window an unrelated `sleep` is given the
//! child's pid (`/proc/sys/kernel/ns_last_pid`, root only) in a group of its own. Where the
//! child has a cgroup of its own (root), the grandchild also moves itself out of it (into this
//! test's cgroup), as a hostile agent that escaped both would, or the cgroup's kill would end it
//! and with it the window.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use git_dispatch::process::{self, ProcessSpec};

const NS_LAST_PID: &str = "/proc/sys/kernel/ns_last_pid";

#[path = "support/skip.rs"]
mod skip;

fn skip(key: &str, reason: &str) {
    skip::skip(key, reason);
}

fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// An unrelated `sleep` in its own process group with pid `pid`, if the kernel hands it out.
fn sleeper_with_pid(pid: u32) -> Option<std::process::Child> {
    for _ in 0..20 {
        let mut file = std::fs::OpenOptions::new().write(true).open(NS_LAST_PID).ok()?;
        file.write_all((pid - 1).to_string().as_bytes()).ok()?;
        drop(file);
        let mut child = std::process::Command::new("sleep").arg("30").process_group(0).spawn().ok()?;
        if child.id() == pid {
            return Some(child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

#[test]
fn a_reaped_leaders_pid_taken_by_another_group_is_not_signalled() {
    if !skip::require_root("choosing the next pid (ns_last_pid)") {
        return;
    }
    if std::fs::OpenOptions::new().write(true).open(NS_LAST_PID).is_err() {
        return skip("ns-last-pid", "ns_last_pid is not writable here");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let leader_file = dir.path().join("leader");
    let daemon_file = dir.path().join("daemon");
    let escape = match git_dispatch::process::cgroup::parent() {
        Ok(outside) => format!("echo $$ > {}; ", outside.join("cgroup.procs").display()),
        Err(_) => String::new(),
    };
    let script = format!(
        "setsid sh -c '{escape}echo $$ > {daemon}; exec sleep 20' & while [ ! -s {daemon} ]; do sleep 0.01; done; \
         echo $$ > {leader}; exit 0",
        daemon = daemon_file.display(),
        leader = leader_file.display()
    );
    let spec = ProcessSpec::new("sh", dir.path()).arg("-c").arg(script).timeout(Duration::from_secs(30));
    let run = std::thread::spawn(move || process::run_captured(&spec).expect("the child runs"));
    let read_pid = |path: &Path| std::fs::read_to_string(path).ok()?.trim().parse::<u32>().ok();
    assert!(wait_for(Duration::from_secs(10), || read_pid(&leader_file).is_some() && read_pid(&daemon_file).is_some()));
    let leader = read_pid(&leader_file).expect("leader pid");
    let daemon = read_pid(&daemon_file).expect("daemon pid");
    // Reaped: no /proc entry (a zombie would still have one).
    assert!(wait_for(Duration::from_secs(5), || !Path::new(&format!("/proc/{leader}")).exists()), "leader reaped");
    let victim = sleeper_with_pid(leader);
    // The run must still be waiting for the daemon's pipe, or the window was missed.
    let in_window = !run.is_finished();
    let captured = run.join().expect("the run thread");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(daemon as i32), nix::sys::signal::Signal::SIGKILL);
    assert_eq!(captured.outcome.exit_code, Some(0));
    let Some(mut victim) = victim.filter(|_| in_window) else {
        return skip("pid-race", "the kernel did not hand out the reaped leader's pid in time (a busy machine)");
    };
    // A SIGKILL sent before this SIGTERM has already decided how the victim ends.
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(leader as i32), nix::sys::signal::Signal::SIGTERM);
    let status = victim.wait().expect("wait");
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), Some(15), "the unrelated process group with the reused pid {leader} was signalled");
}
