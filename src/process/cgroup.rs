//! A cgroup (v2) of its own for each child, where one can be made (root, or a delegated
//! subtree): every process the child starts stays in it whatever it does (new session, new
//! process group, double fork, reparenting), and `cgroup.kill` ends them all at once when the
//! child is done. It is the strongest form of "no process outlives the run" and comes on top of
//! the process group, the subreaper and the pid namespace, which remain for where no cgroup can
//! be had. `GIT_DISPATCH_CGROUP=off` turns it off.
//!
//! The cgroups are made below the one git-dispatch runs in (`/proc/self/cgroup`, on the cgroup2
//! mount from `/proc/self/mountinfo`), named `git-dispatch-<pid>-<n>`, and removed after the kill.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `off` turns the cgroups off.
pub const CGROUP_ENV: &str = "GIT_DISPATCH_CGROUP";

/// Set for the child: its cgroup's `cgroup.procs`, which the Landlock trampoline writes its own
/// pid to before it starts anything (so nothing it starts can be outside, even for an instant).
pub const CGROUP_PROCS_ENV: &str = "GIT_DISPATCH_CGROUP_PROCS";

/// How long the kill waits for the cgroup to be empty.
const EMPTY_WAIT: Duration = Duration::from_secs(2);

/// One child's cgroup; removed (after killing what is in it) when dropped.
#[derive(Debug)]
pub struct Cgroup {
    dir: PathBuf,
}

/// The folder in which child cgroups are made, or why there is none (probed once).
pub fn parent() -> Result<PathBuf, String> {
    static PARENT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PARENT.get_or_init(probe_parent).clone()
}

fn probe_parent() -> Result<PathBuf, String> {
    if std::env::var(CGROUP_ENV).is_ok_and(|value| value == "off") {
        return Err(format!("{CGROUP_ENV}=off"));
    }
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|err| format!("/proc/self/mountinfo: {err}"))?;
    let mount = cgroup2_mount(&mountinfo).ok_or("no cgroup2 file system is mounted")?;
    let own = std::fs::read_to_string("/proc/self/cgroup").map_err(|err| format!("/proc/self/cgroup: {err}"))?;
    let own = own.lines().find_map(|line| line.strip_prefix("0::")).ok_or("this process is in no cgroup2 group")?;
    let own = own.trim().trim_matches('/');
    let dir = if own.is_empty() { mount } else { mount.join(own) };
    let probe = dir.join(format!("git-dispatch-probe-{}", std::process::id()));
    match std::fs::create_dir(&probe) {
        Ok(()) => {
            let killable = probe.join("cgroup.kill").exists();
            let _ = std::fs::remove_dir(&probe);
            if killable {
                Ok(dir)
            } else {
                Err("the kernel has no cgroup.kill (Linux 5.14+)".to_string())
            }
        }
        Err(err) => Err(format!("cannot make a cgroup in {}: {err}", dir.display())),
    }
}

/// The mount point of the cgroup2 file system in a `/proc/self/mountinfo` text.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (fields, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        fields.split_whitespace().nth(4).map(PathBuf::from)
    })
}

impl Cgroup {
    /// A new, empty cgroup for one child; `None` where none can be made.
    pub fn create() -> Option<Cgroup> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        static SWEPT: OnceLock<()> = OnceLock::new();
        let parent = parent().ok()?;
        SWEPT.get_or_init(|| sweep(&parent));
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = parent.join(format!("git-dispatch-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        Some(Cgroup { dir })
    }

    /// Its `cgroup.procs`.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// Runs `spawn` with this process inside the cgroup, so that the child starts in it (a child
    /// is in its parent's cgroup from its first instruction: nothing it forks can be outside), then
    /// moves this process back. The caller makes spawns take turns (`reaper::spawn` holds its lock),
    /// so no other child starts here meanwhile. When this process cannot be moved, the child is
    /// moved right after it started instead.
    pub fn spawn_inside<T>(
        &self,
        spawn: impl FnOnce() -> std::io::Result<T>,
        pid_of: impl Fn(&T) -> u32,
    ) -> std::io::Result<T> {
        let me = std::process::id();
        let home = parent().ok().map(|dir| dir.join("cgroup.procs"));
        let entered = home.is_some() && add_to(&self.procs_file(), me);
        let spawned = spawn();
        match (&home, entered) {
            (Some(home), true) => {
                add_to(home, me);
            }
            _ => {
                if let Ok(child) = &spawned {
                    add_to(&self.procs_file(), pid_of(child));
                }
            }
        }
        spawned
    }

    /// Kills every process in it and waits (a little) until it is empty.
    pub fn kill_all(&self) {
        if std::fs::write(self.dir.join("cgroup.kill"), "1").is_err() {
            return;
        }
        let deadline = Instant::now() + EMPTY_WAIT;
        while populated(&self.dir) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.kill_all();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Kills and removes the cgroups a dead git-dispatch left in `parent` (it was SIGKILLed before it
/// could): `git-dispatch-<pid>-<n>` whose `<pid>` no longer runs.
fn sweep(parent: &Path) {
    let Ok(listing) = std::fs::read_dir(parent) else { return };
    for entry in listing.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name.strip_prefix("git-dispatch-").and_then(|rest| rest.split('-').next()) else { continue };
        let Ok(pid) = owner.parse::<u32>() else { continue };
        let identity = crate::journal::ProcessIdentity { pid, start: None, namespace: None };
        if crate::journal::alive::process_liveness(&identity) == crate::journal::alive::Liveness::Dead {
            drop(Cgroup { dir: entry.path() });
        }
    }
}

/// Writes `pid` into the `cgroup.procs` file `procs`.
pub fn add_to(procs: &Path, pid: u32) -> bool {
    std::fs::write(procs, pid.to_string()).is_ok()
}

/// `populated 1` in its `cgroup.events` (a missing file: not populated).
fn populated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .map(|events| events.lines().any(|line| line.trim() == "populated 1"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup2_mount_is_found_in_mountinfo() {
        let text = "25 30 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw\n\
                    31 25 0:27 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup2_mount(text), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(cgroup2_mount("25 30 0:22 / /x rw - tmpfs tmpfs rw\n"), None);
    }
}
