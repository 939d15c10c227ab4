//! Looking at live processes through /proc (Linux): is a pid alive, which processes still work
//! below a folder, reading pidfiles, and waiting for a file to show something. For the tests that
//! check that nothing of an agent is left after git-dispatch ends.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The state letter and process group of `pid`, from `/proc/<pid>/stat`; `None` when it is gone.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// True while `pid` exists and is not a zombie (a zombie has ended; only its parent's wait is missing).
pub fn alive(pid: i32) -> bool {
    matches!(stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// Waits up to `limit` for every pid of `pids` to end; returns the ones still alive.
pub fn wait_all_dead(pids: &[i32], limit: Duration) -> Vec<i32> {
    let deadline = Instant::now() + limit;
    loop {
        let living: Vec<i32> = pids.iter().copied().filter(|pid| alive(*pid)).collect();
        if living.is_empty() || Instant::now() >= deadline {
            return living;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every pid in /proc.
fn all_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// Live processes whose working directory lies below `root` (also when that folder was deleted),
/// with their command lines. The agent works in its worktree, so this finds what is left of it.
pub fn working_below(root: &Path) -> Vec<(i32, String)> {
    all_pids()
        .into_iter()
        .filter(|pid| *pid != std::process::id() as i32 && alive(*pid))
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| {
                let cwd = cwd.to_string_lossy();
                cwd.trim_end_matches(" (deleted)").starts_with(&*root.to_string_lossy())
            })
        })
        .map(|pid| (pid, command_line(pid)))
        .collect()
}

/// Waits up to `limit` until no process works below `root`; returns those still there.
pub fn wait_none_working_below(root: &Path, limit: Duration) -> Vec<(i32, String)> {
    let deadline = Instant::now() + limit;
    loop {
        let left = working_below(root);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Live members of process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|pid| matches!(stat(*pid), Some((state, group)) if group == pgid && state != 'Z'))
        .collect()
}

/// `/proc/<pid>/cmdline` with spaces between the arguments.
pub fn command_line(pid: i32) -> String {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&bytes).replace('\0', " ").trim_end().to_owned()
}

/// The pids in a pidfile, one a line.
pub fn read_pids(path: &Path) -> Vec<i32> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|line| line.trim().parse().ok()).collect()
}

/// Waits up to `limit` until `path` exists and `ready` accepts its text.
pub fn wait_for_file(path: &Path, limit: Duration, ready: impl Fn(&str) -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|text| ready(&text)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// SIGKILLs a pid the test is responsible for (cleanup of what the code under test could not stop).
pub fn kill(pid: i32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
}

/// A pidfile path in `dir`.
pub fn pidfile(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.pid"))
}
