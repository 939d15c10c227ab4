//! The locks that make concurrent hand-backs safe: of two `apply` of one run, exactly one applies.
//!
//! - per run: a lock on the run folder itself, taken without waiting; a second `apply` of the run
//!   while the first holds it is refused ("already being applied"), and one that comes after
//!   finds `applied.json` (read again once the lock is held: "already applied").
//! - per repository: a lock on the repository's common git dir, the folder itself (no file is
//!   made in it, so a running dispatch's guard sees nothing new), taken with waiting: applies of
//!   different runs (patch or `--merge`) into one checkout go one at a time, whatever
//!   `GIT_DISPATCH_WORKTREES` each of them was given.
//!
//! Both are `flock(2)` locks on the folders themselves: no file is created (a refused `apply`
//! leaves the run folder byte-identical), and the kernel drops them when their holder exits,
//! however it exits, so a killed `apply` leaves nothing stale behind.

use std::fs::File;
use std::path::Path;

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};

/// A held lock; released when dropped.
pub struct Held {
    _lock: Flock<File>,
}

fn open(dir: &Path) -> anyhow::Result<File> {
    File::open(dir).with_context(|| format!("cannot open {} to lock it", dir.display()))
}

/// Takes the lock of the run folder `run_dir` without waiting; `None` when another process holds it.
pub fn try_lock_run(run_dir: &Path) -> anyhow::Result<Option<Held>> {
    match Flock::lock(open(run_dir)?, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(Held { _lock: lock })),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(anyhow::anyhow!("cannot lock {}: {errno}", run_dir.display())),
    }
}

/// Takes the lock of the repository whose common git dir is `common_dir`, waiting for it.
pub fn lock_repository(common_dir: &Path) -> anyhow::Result<Held> {
    let lock = Flock::lock(open(common_dir)?, FlockArg::LockExclusive)
        .map_err(|(_, errno)| anyhow::anyhow!("cannot lock {}: {errno}", common_dir.display()))?;
    Ok(Held { _lock: lock })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_lock_is_held_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = try_lock_run(dir.path()).expect("lock").expect("free");
        assert!(try_lock_run(dir.path()).expect("lock").is_none(), "held by the first");
        drop(first);
        assert!(try_lock_run(dir.path()).expect("lock").is_some(), "free again");
    }
}
