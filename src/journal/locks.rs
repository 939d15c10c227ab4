//! Lock files a killed run may leave in the shared git dir, and which of them may go.
//!
//! A run's own locks (its branch's ref and reflog locks, its worktree admin dir's `index.lock`
//! and `HEAD.lock`) belong to nobody else: once the run is dead they are removed. Shared locks
//! (`index.lock`, `HEAD.lock`, `packed-refs.lock`, `config.lock`, `refs/**/*.lock`) may belong
//! to any git process of the user: one is removed only when it is older than the start of a dead
//! run (minus [`CLOCK_MARGIN`]), i.e. it outlived a whole run, which no live git writer does.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Slack for filesystem timestamps, which may lag the system clock.
pub const CLOCK_MARGIN: Duration = Duration::from_secs(1);

/// What happened to the lock files looked at.
#[derive(Debug, Default)]
pub struct LockSweep {
    pub removed: Vec<PathBuf>,
    /// Shared locks left in place because they are not older than the dead runs.
    pub kept: Vec<PathBuf>,
    pub errors: Vec<String>,
}

/// The lock files only run `run_id` (worktree `worktree_name`) could have written.
pub fn own_locks(common_dir: &Path, run_id: &str, worktree_name: Option<&str>) -> Vec<PathBuf> {
    let branch = format!("heads/dispatch/{run_id}.lock");
    let mut paths = vec![common_dir.join("refs").join(&branch), common_dir.join("logs/refs").join(&branch)];
    if let Some(name) = worktree_name {
        let admin = common_dir.join("worktrees").join(name);
        paths.extend([admin.join("index.lock"), admin.join("HEAD.lock")]);
    }
    paths.retain(|path| path.symlink_metadata().is_ok());
    paths
}

/// The shared lock files present now: in the common dir, the user's own git dir (when it is a
/// linked worktree's), and below `refs/`.
pub fn shared_locks(common_dir: &Path, user_git_dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> =
        ["index.lock", "HEAD.lock", "packed-refs.lock", "config.lock"].iter().map(|n| common_dir.join(n)).collect();
    if user_git_dir != common_dir {
        paths.extend([user_git_dir.join("index.lock"), user_git_dir.join("HEAD.lock")]);
    }
    paths.retain(|path| path.symlink_metadata().is_ok());
    collect_ref_locks(&common_dir.join("refs"), &mut paths);
    paths.sort();
    paths.dedup();
    paths
}

fn collect_ref_locks(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    for item in listing.flatten() {
        let path = item.path();
        let Ok(kind) = item.file_type() else { continue };
        if kind.is_dir() {
            collect_ref_locks(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "lock") {
            out.push(path);
        }
    }
}

/// Removes each of `paths` whose mtime is before `threshold - CLOCK_MARGIN`; the rest are kept.
/// `threshold: None` removes them all (the run's own locks).
pub fn sweep(paths: &[PathBuf], threshold: Option<SystemTime>, out: &mut LockSweep) {
    for path in paths {
        let old_enough = match threshold {
            None => true,
            Some(limit) => modified(path).is_some_and(|mtime| mtime + CLOCK_MARGIN < limit),
        };
        if !old_enough {
            if !out.kept.contains(path) {
                out.kept.push(path.clone());
            }
            continue;
        }
        match std::fs::remove_file(path) {
            Ok(()) => {
                out.kept.retain(|kept| kept != path);
                out.removed.push(path.clone());
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => out.errors.push(format!("cannot remove the lock {}: {err}", path.display())),
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.symlink_metadata().and_then(|md| md.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_aged(path: &Path, age: Duration) {
        let file = std::fs::File::create(path).expect("a lock can be created");
        file.set_modified(SystemTime::now() - age).expect("mtime can be set");
    }

    #[test]
    fn only_locks_older_than_the_threshold_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("refs/heads")).expect("refs");
        let old = dir.path().join("index.lock");
        let fresh = dir.path().join("refs/heads/main.lock");
        lock_aged(&old, Duration::from_secs(3600));
        lock_aged(&fresh, Duration::ZERO);
        let found = shared_locks(dir.path(), dir.path());
        assert_eq!(found, vec![old.clone(), fresh.clone()]);

        let mut out = LockSweep::default();
        sweep(&found, Some(SystemTime::now() - Duration::from_secs(60)), &mut out);
        assert_eq!(out.removed, vec![old.clone()]);
        assert_eq!(out.kept, vec![fresh.clone()]);
        assert!(!old.exists() && fresh.exists());
    }

    #[test]
    fn own_locks_name_the_branch_and_admin_dir() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ref_lock = dir.path().join("refs/heads/dispatch/r1.lock");
        std::fs::create_dir_all(ref_lock.parent().expect("parent")).expect("dirs");
        std::fs::write(&ref_lock, "").expect("lock");
        let admin_lock = dir.path().join("worktrees/r1/index.lock");
        std::fs::create_dir_all(admin_lock.parent().expect("parent")).expect("dirs");
        std::fs::write(&admin_lock, "").expect("lock");
        assert_eq!(own_locks(dir.path(), "r1", Some("r1")), vec![ref_lock, admin_lock]);
        assert_eq!(own_locks(dir.path(), "r2", None), Vec::<PathBuf>::new());
    }
}
