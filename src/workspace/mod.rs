//! The isolated workspace: a linked gix worktree on `dispatch/<run-id>`, its base commit, the
//! warm pool, `.worktreeinclude` copies, and the snapshot of the agent's final state.
//!
//! Everything here runs in-process with gix: no `git` CLI, so no hooks and no fsmonitor run,
//! whatever an agent planted in the shared git dir. The user's checkout, index and refs are
//! only read; the only refs written are `refs/heads/dispatch/<run-id>`.

mod base;
mod hasher;
pub mod include;
mod journal_handle;
pub mod layout;
pub mod pause;
mod pool;
mod repo;
pub mod scan;
mod seal;
mod snapshot;
mod stamp;
pub mod sync;
pub mod touched;
pub mod watch;

use anyhow::Context as _;
use gix::refs::transaction::PreviousValue;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

pub use journal_handle::JournalHandle;
pub use layout::{repo_folder_name, validate_run_id, worktrees_root, AdminLock, RepoLayout};
pub use pause::pause_point;
pub use pool::{PruneReport, Taken};
pub use repo::{restore_admin_links, FALLBACK_EMAIL, FALLBACK_NAME};
pub use seal::{mark_unconfined, release_unconfined};

/// Errors callers may want to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("invalid run id {0:?}: use letters, digits, '.', '_' and '-'")]
    InvalidRunId(String),
    #[error("branch dispatch/{0} already exists")]
    BranchExists(String),
    #[error("the repository has no commits yet")]
    NoCommits,
    #[error("no cache directory: set XDG_CACHE_HOME, HOME or GIT_DISPATCH_WORKTREES")]
    NoCacheDir,
    #[error("the worktrees folder {root} is inside the repository {repo}; choose one outside it")]
    RootInsideRepository { root: PathBuf, repo: PathBuf },
}

/// How workspaces are placed and reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceOptions {
    /// `GIT_DISPATCH_WORKTREES` override; `None` = `${XDG_CACHE_HOME:-~/.cache}/git-dispatch/worktrees`.
    pub worktrees_root: Option<PathBuf>,
    /// Never take a worktree from the pool.
    pub fresh: bool,
    /// How many idle worktrees to keep per repository (0 disables the pool).
    pub pool_size: usize,
}

impl Default for WorkspaceOptions {
    fn default() -> Self {
        WorkspaceOptions { worktrees_root: None, fresh: false, pool_size: 2 }
    }
}

impl WorkspaceOptions {
    /// Defaults, with `worktrees_root` from `GIT_DISPATCH_WORKTREES` when set and not empty.
    pub fn from_env() -> Self {
        let root = std::env::var_os("GIT_DISPATCH_WORKTREES").filter(|v| !v.is_empty());
        WorkspaceOptions { worktrees_root: root.map(PathBuf::from), ..Default::default() }
    }
}

/// The commit a dispatch starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub commit: gix::ObjectId,
    /// The user's HEAD commit (`None` when unborn).
    pub head: Option<gix::ObjectId>,
    /// True when `commit` is HEAD plus the user's uncommitted state.
    pub includes_uncommitted: bool,
    /// The user's uncommitted/untracked paths, repository-relative, sorted.
    pub dirty_paths: Vec<String>,
}

/// HEAD + the user's uncommitted tracked changes, deletions, untracked non-ignored files as a
/// commit (rev=None), or the given revision as it is. Never changes the user's checkout, index or refs.
pub fn resolve_base(repo_root: &Path, rev: Option<&str>) -> anyhow::Result<Base> {
    base::resolve_base(repo_root, rev)
}

/// [`resolve_base`] from one status pass of the checkout that also serves `git status` (the
/// guard's audit: [`crate::guard::audit_items`]), whose items come back with the base. `None` when
/// the checkout has submodules (the audit looks into them as configured, the base by their
/// commit only: each takes its own pass) or no working tree.
pub fn resolve_base_and_status(
    repo_root: &Path,
    rev: Option<&str>,
) -> anyhow::Result<(Base, Option<Vec<gix::status::Item>>)> {
    base::resolve_base_and_status(repo_root, rev)
}

/// A worktree given to one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub run_id: String,
    /// The user's worktree root.
    pub repo_root: PathBuf,
    /// The shared git dir.
    pub common_dir: PathBuf,
    /// The linked worktree.
    pub path: PathBuf,
    /// `"dispatch/<run-id>"`
    pub branch: String,
    pub base_commit: gix::ObjectId,
    /// True when taken from the pool.
    pub warm: bool,
    /// Taken from the pool and read in full (no seal it could be trusted by); false when it was
    /// trusted as sealed (only the paths its tree and the base differ in were touched).
    pub pool_rescanned: bool,
    /// Every program of the run (SETUP, the agent, `--verify`) runs confined: set by the caller
    /// once it knows; only then is the worktree sealed when it goes back to the pool.
    pub confined: bool,
    /// `.worktreeinclude` matches copied in (directories end with `/`).
    pub included: Vec<String>,
    /// The per-repository folder (`<root>/<repo-name>-<hash>`).
    pub layout_dir: PathBuf,
    /// The worktree's name (its folder's basename, its pool marker's name).
    pub name: String,
    /// Files of the worktree whose inode changed at this instant or later (ctime `>=`) count as
    /// written by the run (a filesystem stamp: see `fs_now`).
    pub ready_at: SystemTime,
    /// The change journal that lets the snapshot look at touched paths only.
    pub journal: JournalHandle,
}

impl Workspace {
    /// Restarts the clock for `ignored_written` (e.g. after SETUP commands ran).
    pub fn mark_ready(&mut self) -> anyhow::Result<()> {
        self.ready_at = stamp::fs_now(&self.layout_dir)?;
        Ok(())
    }
}

/// Create (or take from the pool, unless opts.fresh) a worktree at `base` on
/// refs/heads/dispatch/<run_id>; copies .worktreeinclude matches from the user's checkout.
pub fn create(repo_root: &Path, run_id: &str, base: &Base, opts: &WorkspaceOptions) -> anyhow::Result<Workspace> {
    validate_run_id(run_id)?;
    let repo = repo::open(repo_root)?;
    let layout = repo_layout(&repo, opts)?;
    layout.ensure()?;
    let branch = repo::branch_name(run_id)?;
    if repo::ref_target(&repo, &branch)?.is_some() {
        return Err(WorkspaceError::BranchExists(run_id.to_string()).into());
    }
    repo::set_ref(&repo, &branch, base.commit, PreviousValue::MustNotExist, "git-dispatch: base")?;
    let mut claimed = None;
    let result = place_worktree(&repo, &layout, run_id, &branch, base, opts, &mut claimed);
    if result.is_err() {
        let _ = repo::delete_ref(&repo, &branch);
        if let Some(name) = &claimed {
            let _ = layout.forget(name);
        }
    }
    let Placed { name, path, warm, kept_ignored, rescanned } = result?;
    let included = match include::copy_includes(&repo, &path) {
        Ok(included) => included,
        Err(err) => {
            let _ = pool::remove_worktree(&repo, &path);
            let _ = layout.forget(&name);
            let _ = repo::delete_ref(&repo, &branch);
            return Err(err);
        }
    };
    let journal = start_journal(&path, base.commit, &included, kept_ignored);
    Ok(Workspace {
        journal,
        run_id: run_id.to_string(),
        repo_root: repo.workdir().map(Path::to_path_buf).unwrap_or_else(|| repo_root.to_path_buf()),
        common_dir: canonical(repo.common_dir()),
        path,
        branch: format!("dispatch/{run_id}"),
        base_commit: base.commit,
        warm,
        pool_rescanned: rescanned,
        confined: false,
        included,
        ready_at: stamp::fs_now(&layout.dir)?,
        layout_dir: layout.dir,
        name,
    })
}

/// The journal of the worktree at `path`; ignored entries already there are its roots.
fn start_journal(
    path: &Path,
    commit: gix::ObjectId,
    included: &[String],
    mut ignored_roots: Vec<(gix::bstr::BString, bool)>,
) -> JournalHandle {
    let Ok(wt) = repo::open(path) else {
        return JournalHandle::off("the worktree could not be opened for the change journal");
    };
    for entry in included {
        let (path, is_dir) = match entry.strip_suffix('/') {
            Some(dir) => (dir, true),
            None => (entry.as_str(), false),
        };
        ignored_roots.push((path.into(), is_dir));
    }
    JournalHandle::start(&wt, commit, ignored_roots)
}

/// A worktree placed for a run: its name, path, whether it came from the pool, and the ignored
/// entries (`(path, is_dir)`) it kept from earlier runs.
struct Placed {
    name: String,
    path: PathBuf,
    warm: bool,
    kept_ignored: Vec<(gix::bstr::BString, bool)>,
    rescanned: bool,
}

/// Takes a pooled worktree or adds a new one; `claimed` receives the marker name once owned.
fn place_worktree(
    repo: &gix::Repository,
    layout: &RepoLayout,
    run_id: &str,
    branch: &gix::refs::FullName,
    base: &Base,
    opts: &WorkspaceOptions,
    claimed: &mut Option<String>,
) -> anyhow::Result<Placed> {
    if !opts.fresh {
        if let Some(taken) = pool::take(repo, layout, run_id, branch, base.commit)? {
            *claimed = Some(taken.name.clone());
            let Taken { name, path, kept_ignored, rescanned } = taken;
            return Ok(Placed { name, path, warm: true, kept_ignored, rescanned });
        }
    }
    let name = unique_name(layout, run_id);
    layout.mark_busy(&name, run_id)?;
    *claimed = Some(name.clone());
    let path = layout.worktree_path(&name);
    pause_point("worktree-add");
    let head = gix::worktree::add::Head::Attached(branch.clone());
    let turn = layout::AdminLock::acquire(&layout.dir)?;
    repo.add_worktree(&path, head, gix::progress::Discard, &AtomicBool::new(false))
        .map_err(anyhow::Error::from)
        .with_context(|| format!("adding worktree {}", path.display()))?;
    drop(turn);
    pause_point("worktree-added");
    Ok(Placed { name, path, warm: false, kept_ignored: Vec::new(), rescanned: false })
}

fn unique_name(layout: &RepoLayout, run_id: &str) -> String {
    let taken = |n: &str| {
        layout.worktree_path(n).symlink_metadata().is_ok()
            || layout.pool_dir().join(n).exists()
            || layout.busy_dir().join(n).exists()
    };
    if !taken(run_id) {
        return run_id.to_string();
    }
    (2..).map(|i| format!("{run_id}-{i}")).find(|n| !taken(n)).expect("some suffix is free")
}

/// The per-repository layout of `repo` under the configured root, refusing a root inside the repository.
fn repo_layout(repo: &gix::Repository, opts: &WorkspaceOptions) -> anyhow::Result<RepoLayout> {
    let root = layout::canonical_prefix(&worktrees_root(opts)?);
    let common_dir = canonical(repo.common_dir());
    let inside = |dir: &Path| root.starts_with(dir);
    if let Some(workdir) = repo.workdir().map(canonical) {
        if inside(&workdir) {
            return Err(WorkspaceError::RootInsideRepository { root, repo: workdir }.into());
        }
    }
    if inside(&common_dir) {
        return Err(WorkspaceError::RootInsideRepository { root, repo: common_dir }.into());
    }
    Ok(RepoLayout::new(&root, &common_dir, &repo_name(&common_dir)))
}

/// The repository's name: the main checkout's folder name (or the bare repository's, minus `.git`).
fn repo_name(common_dir: &Path) -> String {
    let name = if common_dir.file_name().is_some_and(|n| n == ".git") {
        common_dir.parent().and_then(Path::file_name)
    } else {
        common_dir.file_name()
    };
    let name = name.map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.strip_suffix(".git").map(str::to_string).unwrap_or(name)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The result of [`snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub result_commit: gix::ObjectId,
    /// Ignored files written (or renamed, chmodded) after the workspace was ready; not committed.
    pub ignored_written: Vec<String>,
    /// The worktree's `.git` file had been replaced (it was put back before the snapshot).
    pub dot_git_replaced: bool,
    /// Why every file was scanned instead of only those the change journal saw touched.
    pub full_scan_reason: Option<String>,
    /// What the result does not record: special files, files over the size limit.
    pub left_out: scan::LeftOut,
    /// From the change journal: the only entries where the disk can differ from the worktree as
    /// the journal started (touched files and folders, ignored entries; `(path, is_dir)`); `None`
    /// after a full scan.
    pub disk_roots: Option<Vec<(String, bool)>>,
}

/// The default limit of [`snapshot`]: a file larger than this (50 MiB) is left out of the result.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 50 * 1024 * 1024;

/// Commit the worktree's final state to refs/heads/dispatch/<run-id> with parent = the agent's
/// commits on that branch if they descend from base, else base. Respects core.fileMode/autocrlf/.gitattributes.
/// Files over [`DEFAULT_MAX_FILE_SIZE`] and special files are left out (`Snapshot::left_out`).
pub fn snapshot(ws: &Workspace) -> anyhow::Result<Snapshot> {
    snapshot::snapshot(ws, Some(DEFAULT_MAX_FILE_SIZE))
}

/// [`snapshot`] with the file size limit given (`None`: no limit); a larger file is never read.
pub fn snapshot_limited(ws: &Workspace, max_file_size: Option<u64>) -> anyhow::Result<Snapshot> {
    snapshot::snapshot(ws, max_file_size)
}

/// What to do with the run's branch on release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    DeleteBranch,
    KeepBranch,
}

/// Remove the worktree or return it to the pool (detached, clean); delete or keep the branch.
pub fn release(ws: &Workspace, branch: Release, opts: &WorkspaceOptions) -> anyhow::Result<()> {
    pool::release(ws, branch, opts, None)
}

/// [`release`] of a worktree that holds exactly `snapshot` (the commit [`snapshot`] made of it, with
/// its index refreshed) because nothing ran in it since: when that is still its branch's tip, it goes
/// to the pool without another pass over its files. A worktree whose run ran confined
/// ([`Workspace::confined`]) is sealed there, and the next [`create`] reads it in full only when the
/// seal cannot vouch for it (something unconfined ran since, its index or HEAD moved: `seal`).
pub fn release_snapshotted(
    ws: &Workspace,
    snapshot: gix::ObjectId,
    branch: Release,
    opts: &WorkspaceOptions,
) -> anyhow::Result<()> {
    pool::release(ws, branch, opts, Some(snapshot))
}

/// Find worktrees and dispatch/* branches left by crashed runs (worktree dirs gone, or worktrees
/// and branches whose run is not alive per `is_live`), remove them. `is_live` must also answer
/// true for runs whose branch is to be kept (an offered result not applied yet).
pub fn prune(repo_root: &Path, opts: &WorkspaceOptions, is_live: &dyn Fn(&str) -> bool) -> anyhow::Result<PruneReport> {
    pool::prune(repo_root, opts, is_live)
}

/// Removes what the run `run_id` (whose process is gone) left: the worktrees its ownership
/// markers name, plus `worktree_name` when no marker claims that one; unfinished admin dirs
/// of those worktrees (no `gitdir` file yet); admin dirs of this repository's dispatch
/// worktrees whose folder is gone; and, with [`Release::DeleteBranch`], its branch. Never
/// touches a worktree owned by another run, the pool, or a branch checked out somewhere.
pub fn remove_run(
    repo_root: &Path,
    opts: &WorkspaceOptions,
    run_id: &str,
    worktree_name: Option<&str>,
    branch: Release,
) -> anyhow::Result<PruneReport> {
    pool::remove_run(repo_root, opts, run_id, worktree_name, branch)
}

/// Removes every idle pooled worktree of the repository; returns how many.
pub fn clear_pool(repo_root: &Path, opts: &WorkspaceOptions) -> anyhow::Result<usize> {
    pool::clear(repo_root, opts)
}

/// The per-repository folder for the repository at `repo_root`.
pub fn layout_for(repo_root: &Path, opts: &WorkspaceOptions) -> anyhow::Result<RepoLayout> {
    repo_layout(&repo::open(repo_root)?, opts)
}
