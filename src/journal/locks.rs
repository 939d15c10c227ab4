//! Lock files a killed run may leave in the shared git dir, and which of them may go.
//!
//! Only a lock git-dispatch can prove its dead run took is removed: the run's journal entry
//! records, before the run could take them, the lock files of what only that run writes (its
//! branch's ref and reflog locks, its worktree admin dir's `index.lock` and `HEAD.lock`), and
//! recovery removes those that are both recorded and still named so by the run's ids. Shared locks
//! (`index.lock`, `HEAD.lock`, `packed-refs.lock`, `config.lock`, `refs/**/*.lock`) are never
//! removed, however old: a user's `git commit` holds `index.lock` for as long as its editor is
//! open. They are named instead (`clean --recover`, `doctor`, a dispatch that recovered a dead
//! run), with the command to remove one by hand once no git command is running.

use std::path::{Path, PathBuf};

/// What happened to the lock files looked at.
#[derive(Debug, Default)]
pub struct LockSweep {
    pub removed: Vec<PathBuf>,
    pub errors: Vec<String>,
}

/// The lock files only run `run_id` (worktree `worktree_name`) could take, present or not.
pub fn own_lock_paths(common_dir: &Path, run_id: &str, worktree_name: Option<&str>) -> Vec<PathBuf> {
    let branch = format!("heads/dispatch/{run_id}.lock");
    let mut paths = vec![common_dir.join("refs").join(&branch), common_dir.join("logs/refs").join(&branch)];
    if let Some(name) = worktree_name {
        let admin = common_dir.join("worktrees").join(name);
        paths.extend([admin.join("index.lock"), admin.join("HEAD.lock")]);
    }
    paths
}

/// Of the locks a journal entry `recorded`, those that are run `run_id`'s own (a tampered entry
/// cannot name another file) and present now.
pub fn own_locks(common_dir: &Path, run_id: &str, worktree_name: Option<&str>, recorded: &[PathBuf]) -> Vec<PathBuf> {
    let mut paths = own_lock_paths(common_dir, run_id, worktree_name);
    paths.retain(|path| recorded.contains(path) && path.symlink_metadata().is_ok());
    paths
}

/// The shared lock files present now: in the common dir, the user's own git dir (when it is a
/// linked worktree's), and below `refs/` (git-dispatch's own `refs/heads/dispatch/` aside).
pub fn shared_locks(common_dir: &Path, user_git_dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> =
        ["index.lock", "HEAD.lock", "packed-refs.lock", "config.lock"].iter().map(|n| common_dir.join(n)).collect();
    if user_git_dir != common_dir {
        paths.extend([user_git_dir.join("index.lock"), user_git_dir.join("HEAD.lock")]);
    }
    paths.retain(|path| path.symlink_metadata().is_ok());
    let own = common_dir.join("refs/heads/dispatch");
    collect_ref_locks(&common_dir.join("refs"), &own, &mut paths);
    paths.sort();
    paths.dedup();
    paths
}

fn collect_ref_locks(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) {
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    for item in listing.flatten() {
        let path = item.path();
        let Ok(kind) = item.file_type() else { continue };
        if kind.is_dir() && path != skip {
            collect_ref_locks(&path, skip, out);
        } else if kind.is_file() && path.extension().is_some_and(|ext| ext == "lock") {
            out.push(path);
        }
    }
}

/// One line naming a shared lock left in place and how to remove it by hand.
pub fn describe_shared(path: &Path) -> String {
    let shown = path.display().to_string().replace('\'', "'\\''");
    format!(
        "Lock file {} left in place (git-dispatch cannot tell whether a git process holds it); if no git command is running, remove it: rm '{shown}'",
        path.display()
    )
}

/// Removes each of `paths` (locks proven to be a dead run's own).
pub fn sweep(paths: &[PathBuf], out: &mut LockSweep) {
    for path in paths {
        match std::fs::remove_file(path) {
            Ok(()) => out.removed.push(path.clone()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => out.errors.push(format!("cannot remove the lock {}: {err}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_are_found_but_not_ours() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("refs/heads/dispatch")).expect("refs");
        let index = dir.path().join("index.lock");
        let branch = dir.path().join("refs/heads/main.lock");
        let ours = dir.path().join("refs/heads/dispatch/r1.lock");
        for lock in [&index, &branch, &ours] {
            std::fs::write(lock, "").expect("lock");
        }
        assert_eq!(shared_locks(dir.path(), dir.path()), vec![index.clone(), branch.clone()]);
        assert!(describe_shared(&index).ends_with(&format!("rm '{}'", index.display())));
    }

    #[test]
    fn own_locks_must_be_recorded_and_named_by_the_run() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ref_lock = dir.path().join("refs/heads/dispatch/r1.lock");
        std::fs::create_dir_all(ref_lock.parent().expect("parent")).expect("dirs");
        std::fs::write(&ref_lock, "").expect("lock");
        let admin_lock = dir.path().join("worktrees/r1/index.lock");
        std::fs::create_dir_all(admin_lock.parent().expect("parent")).expect("dirs");
        std::fs::write(&admin_lock, "").expect("lock");
        let index = dir.path().join("index.lock");
        std::fs::write(&index, "").expect("lock");
        let recorded = own_lock_paths(dir.path(), "r1", Some("r1"));
        assert_eq!(own_locks(dir.path(), "r1", Some("r1"), &recorded), vec![ref_lock.clone(), admin_lock.clone()]);
        assert_eq!(own_locks(dir.path(), "r1", Some("r1"), &[]), Vec::<PathBuf>::new(), "not recorded");
        assert_eq!(
            own_locks(dir.path(), "r1", None, std::slice::from_ref(&index)),
            Vec::<PathBuf>::new(),
            "not its own"
        );
    }
}
