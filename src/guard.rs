//! The guard: what an agent run may not change in the user's repository, checked before and after.
//!
//! [`capture`] takes a [`Fingerprint`] of the shared git dir (config, hooks, info, refs other than
//! git-dispatch's own `refs/heads/dispatch/*`, packed refs, alternates, submodule and foreign
//! worktree admin files, lock files; bytes and modes kept) and of the user's checkout (an `lstat`
//! record of every file plus the index hash). [`compare`] turns two fingerprints into a
//! [`GuardReport`]; [`restore`] puts every tampered git-dir file back, keeping the tampered
//! versions under `<run_dir>/tampered/`. Writes outside the git dir are only reported.
//!
//! Without a sandbox the agent can also write the run folders and the object store: [`runfolders`]
//! and [`objects`] record them before the run and report what changed after it.
//!
//! The seed's audit files come from here too: [`status_short`], [`diff_stat`], [`diff_name_only`],
//! all three from one status pass with [`audit`], computed in-process with gix, never writing the
//! index and never running hooks or fsmonitor.

mod checkout;
mod diffstat;
mod fsmeta;
mod gitdir;
pub mod objects;
mod packed;
mod restore;
pub mod runfolders;
mod status;

use std::path::{Path, PathBuf};

use anyhow::Result;

pub use diffstat::diff_stat;
pub use status::{audit, audit_items, diff_name_only, status_short, CheckoutAudit};

/// Where the guard looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardScope {
    /// The shared (common) git dir of the user's repository.
    pub common_dir: PathBuf,
    /// The root of the user's checkout (its worktree).
    pub user_root: PathBuf,
    /// That checkout's own git dir (`== common_dir` for the main worktree,
    /// `<common>/worktrees/<name>` for a linked one); its `index` is the user's index.
    pub user_git_dir: PathBuf,
    /// git-dispatch's worktrees root: admin dirs whose `gitdir` points below it are its own.
    pub own_worktrees_root: PathBuf,
}

/// The state of the guarded files at one moment.
#[derive(Clone, Debug)]
pub struct Fingerprint {
    git_dir: GitDirFingerprint,
    checkout: CheckoutFingerprint,
}

/// The shared git dir's half of a [`Fingerprint`].
#[derive(Clone, Debug)]
pub struct GitDirFingerprint(gitdir::GitDirSnapshot);

/// The user's checkout's half of a [`Fingerprint`] (taken apart so that it can be taken while
/// other work goes on: nothing git-dispatch does writes there).
#[derive(Clone, Debug)]
pub struct CheckoutFingerprint(checkout::CheckoutSnapshot);

impl Fingerprint {
    /// The two halves taken apart, as one fingerprint.
    pub fn from_parts(git_dir: GitDirFingerprint, checkout: CheckoutFingerprint) -> Fingerprint {
        Fingerprint { git_dir, checkout }
    }

    /// The shared git dir's half.
    pub fn git_dir(&self) -> &GitDirFingerprint {
        &self.git_dir
    }

    /// The user's checkout's half.
    pub fn checkout(&self) -> &CheckoutFingerprint {
        &self.checkout
    }
}

/// What changed between two fingerprints.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GuardReport {
    /// Paths relative to the common git dir, sorted (`config`, `hooks/pre-commit`,
    /// `refs/heads/main`, `worktrees/x/HEAD`, `index.lock`, ...).
    pub git_dir_tampered: Vec<String>,
    /// Repository-relative paths of the user's checkout, sorted, then `<index>` if its index changed.
    pub main_checkout_changed: Vec<String>,
}

impl GuardReport {
    /// `true` when nothing guarded changed.
    pub fn is_clean(&self) -> bool {
        self.git_dir_tampered.is_empty() && self.main_checkout_changed.is_empty()
    }
}

/// Fingerprints the shared git dir and the user's checkout of `scope`.
pub fn capture(scope: &GuardScope) -> Result<Fingerprint> {
    Ok(Fingerprint::from_parts(capture_git_dir(scope)?, capture_checkout(scope)?))
}

/// Fingerprints the shared git dir of `scope`.
pub fn capture_git_dir(scope: &GuardScope) -> Result<GitDirFingerprint> {
    Ok(GitDirFingerprint(gitdir::capture(&scope.common_dir, &scope.own_worktrees_root)?))
}

/// Fingerprints the user's checkout of `scope` (its files and its index).
pub fn capture_checkout(scope: &GuardScope) -> Result<CheckoutFingerprint> {
    let skip_dirs = [scope.common_dir.clone(), scope.user_git_dir.clone(), scope.own_worktrees_root.clone()];
    Ok(CheckoutFingerprint(checkout::capture(&scope.user_root, &skip_dirs, &scope.user_git_dir.join("index"))?))
}

/// What differs between `before` and `after`.
pub fn compare(before: &Fingerprint, after: &Fingerprint) -> GuardReport {
    GuardReport {
        git_dir_tampered: compare_git_dir(&before.git_dir, &after.git_dir),
        main_checkout_changed: compare_checkout(&before.checkout, &after.checkout),
    }
}

/// [`GuardReport::git_dir_tampered`] of two git-dir halves.
pub fn compare_git_dir(before: &GitDirFingerprint, after: &GitDirFingerprint) -> Vec<String> {
    gitdir::compare(&before.0, &after.0).iter().map(|(path, _)| gitdir::display_path(path)).collect()
}

/// [`GuardReport::main_checkout_changed`] of two checkout halves.
pub fn compare_checkout(before: &CheckoutFingerprint, after: &CheckoutFingerprint) -> Vec<String> {
    checkout::compare(&before.0, &after.0)
}

/// Restores every git-dir path of `report.git_dir_tampered` to its state in `before`, after copying
/// its state in `after` to `<run_dir>/tampered/<path>` (listed in `tampered/MANIFEST.json`).
/// Changes to the user's checkout are not undone.
pub fn restore(
    scope: &GuardScope,
    before: &Fingerprint,
    after: &Fingerprint,
    report: &GuardReport,
    run_dir: &Path,
) -> Result<()> {
    restore_git_dir(scope, &before.git_dir, &after.git_dir, &report.git_dir_tampered, run_dir)
}

/// [`restore`] from the git-dir halves, for the `tampered` paths of [`compare_git_dir`].
pub fn restore_git_dir(
    scope: &GuardScope,
    before: &GitDirFingerprint,
    after: &GitDirFingerprint,
    tampered: &[String],
    run_dir: &Path,
) -> Result<()> {
    let tampers: Vec<_> = gitdir::compare(&before.0, &after.0)
        .into_iter()
        .filter(|(path, _)| tampered.contains(&gitdir::display_path(path)))
        .collect();
    restore::restore(&scope.common_dir, &before.0, &after.0, &tampers, run_dir)
}
