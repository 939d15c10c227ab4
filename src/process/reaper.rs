//! Who reaps what. Every child the process module starts is registered while it is unreaped, so
//! that a process that is a *child subreaper* ([`become_subreaper`]: the git-dispatch binary, and
//! the confinement supervisor of `sandbox`) can tell its own children from the orphans the kernel
//! hands it: descendants whose parent died, such as a daemon that left the agent's process group
//! with `setsid` and a double fork. Orphans are SIGKILLed and reaped once no registered child is
//! left ([`reap_orphans`]), i.e. at the end of the run (of the last of parallel runs).
//!
//! Killing a child found in `/proc` is safe from pid reuse: a child's pid stays ours until we
//! reap it, and only this module reaps orphans (by pid, never `waitpid(-1)` in git-dispatch, which
//! would steal the exit of a registered child).

use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Children started here and not yet reaped.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Set by [`become_subreaper`]: orphans are ours to kill.
static SUBREAPER: AtomicBool = AtomicBool::new(false);

/// How long one round of killing orphans may go on (a fork storm cannot hold git-dispatch).
const ORPHAN_LIMIT: Duration = Duration::from_secs(10);

fn live() -> MutexGuard<'static, Vec<u32>> {
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes this process a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`): orphaned descendants
/// become its children instead of init's, and [`reap_orphans`] kills them. For the binary only
/// (a test harness has children of its own that are not registered here).
pub fn become_subreaper() -> anyhow::Result<()> {
    use anyhow::Context as _;
    nix::sys::prctl::set_child_subreaper(true).context("prctl(PR_SET_CHILD_SUBREAPER)")?;
    SUBREAPER.store(true, Ordering::SeqCst);
    Ok(())
}

/// True when [`become_subreaper`] succeeded in this process.
pub fn is_subreaper() -> bool {
    SUBREAPER.load(Ordering::SeqCst)
}

/// Spawns `command` and registers the child (under the lock, so that no orphan scan sees it
/// unregistered).
pub(super) fn spawn(command: &mut Command, cgroup: Option<&super::cgroup::Cgroup>) -> std::io::Result<Child> {
    let mut live = live();
    let child = match cgroup {
        Some(cgroup) => cgroup.spawn_inside(|| command.spawn(), Child::id)?,
        None => command.spawn()?,
    };
    live.push(child.id());
    Ok(child)
}

/// Reaps a child that has ended (seen by `group::exited`) and forgets it, under the lock (so that
/// its pid, free again, cannot be registered by another thread in between); then, when it was the
/// last registered child, kills and reaps the orphans.
pub(super) fn reap(child: &mut Child) -> std::io::Result<ExitStatus> {
    let mut live = live();
    let status = child.wait();
    if let Some(index) = live.iter().position(|pid| *pid == child.id()) {
        live.swap_remove(index);
    }
    if live.is_empty() && is_subreaper() {
        kill_children_of_self(&live);
    }
    status
}

/// Kills and reaps every child of this process not in `keep` (orphans handed to a subreaper),
/// round after round (their own children become ours as they die), for at most [`ORPHAN_LIMIT`].
/// Returns how many were killed.
pub fn kill_children_of_self(keep: &[u32]) -> usize {
    let me = std::process::id();
    let deadline = Instant::now() + ORPHAN_LIMIT;
    let mut killed = 0;
    loop {
        let orphans: Vec<u32> = children_of(me).into_iter().filter(|pid| !keep.contains(pid)).collect();
        if orphans.is_empty() || Instant::now() >= deadline {
            return killed;
        }
        for pid in &orphans {
            kill_and_reap(*pid);
        }
        killed += orphans.len();
    }
}

fn kill_and_reap(pid: u32) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let Ok(raw) = i32::try_from(pid) else { return };
    let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
    loop {
        match nix::sys::wait::waitpid(Pid::from_raw(raw), None) {
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return,
        }
    }
}

/// The children of `parent` (live or zombie), from `/proc/<pid>/stat`; empty without `/proc`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut children: Vec<u32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect();
    children.sort_unstable();
    children
}

/// The parent pid of `pid` (`/proc/<pid>/stat`, field 4), if it exists.
fn parent_of(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_children_of_this_process_include_a_spawned_one() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("sleep");
        let children = children_of(std::process::id());
        assert!(children.contains(&child.id()), "{children:?}");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(parent_of(u32::MAX), None);
    }
}
