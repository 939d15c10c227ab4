//! The warm pool and the end of a workspace's life: taking an idle worktree for a new run
//! (moved to the new base touching only differing paths), returning one (cleaned, detached),
//! removing worktrees and branches, emptying the pool, and pruning what crashed runs left.

use super::layout::RepoLayout;
use super::seal::{self, Seal};
use super::{repo, sync, Release, Workspace, WorkspaceOptions};
use anyhow::Context as _;
use gix::bstr::BString;
use gix::refs::FullName;
use gix::ObjectId;
use std::path::{Path, PathBuf};

/// What [`prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Worktree checkouts removed (crashed runs, orphans, broken pool entries).
    pub removed_worktrees: Vec<PathBuf>,
    /// Admin dirs (`<git-dir>/worktrees/<name>`) of worktrees whose folder was gone.
    pub pruned_admin_dirs: Vec<PathBuf>,
    /// `dispatch/<run-id>` branches deleted (short names).
    pub deleted_branches: Vec<String>,
}

/// A pooled worktree claimed for a run.
pub struct Taken {
    pub name: String,
    pub path: PathBuf,
    /// The ignored entries (`(path, is_dir)`) it kept from earlier runs.
    pub kept_ignored: Vec<(BString, bool)>,
    /// Its files were read in full (it had no seal it could be trusted by).
    pub rescanned: bool,
}

/// Claims an idle worktree and moves it to `base` on `branch`. Broken pool entries are removed.
pub fn take(
    repo: &gix::Repository,
    layout: &RepoLayout,
    run_id: &str,
    branch: &FullName,
    base: ObjectId,
) -> anyhow::Result<Option<Taken>> {
    for name in layout.pooled()? {
        if !layout.claim(&name)? {
            continue;
        }
        let seal = Seal::parse(&layout.marker(&name));
        layout.mark_busy(&name, run_id)?;
        let path = layout.worktree_path(&name);
        let root = layout.dir.parent().unwrap_or(&layout.dir).to_path_buf();
        match prepare_pooled(repo, &path, &name, branch, base, seal.as_ref().map(|seal| (seal, root.as_path()))) {
            Ok((kept_ignored, rescanned)) => return Ok(Some(Taken { name, path, kept_ignored, rescanned })),
            Err(_) => {
                let _ = remove_worktree(repo, &path);
                let _ = layout.forget(&name);
            }
        }
    }
    Ok(None)
}

/// Moves the pooled worktree `name` at `path` to `base` on `branch`; returns the ignored entries
/// it kept, and whether it had to be read in full (no seal it could be trusted by). Its `.git`
/// file and admin links are put back first (a run without a sandbox could have redirected them to
/// a git dir with filters the checkout would run).
fn prepare_pooled(
    repo: &gix::Repository,
    path: &Path,
    name: &str,
    branch: &FullName,
    base: ObjectId,
    seal: Option<(&Seal, &Path)>,
) -> anyhow::Result<(Vec<(BString, bool)>, bool)> {
    let common = std::fs::canonicalize(repo.common_dir()).unwrap_or_else(|_| repo.common_dir().to_path_buf());
    let dot_git_replaced = repo::restore_dot_git(path, &common, name)?;
    let links_restored = !repo::restore_admin_links(path, &common, name)?.is_empty();
    let wt = repo::open(path)?;
    let same_repo = wt.common_dir().canonicalize().ok() == repo.common_dir().canonicalize().ok();
    anyhow::ensure!(same_repo, "{} is not a worktree of this repository", path.display());
    let intact = !dot_git_replaced && !links_restored;
    let trusted = seal.filter(|_| intact).and_then(|(seal, root)| Some((seal.trusted(&wt, root)?, seal)));
    let target = repo::commit_tree(repo, base)?;
    let (retargeted, rescanned) = match trusted {
        Some((commit, seal)) => {
            (sync::retarget_sealed(&wt, repo::commit_tree(repo, commit)?, target, seal.ignored())?, false)
        }
        None => (sync::retarget(&wt, target)?, true),
    };
    repo::attach_head(&wt, branch)?;
    Ok((retargeted.ignored, rescanned))
}

/// See [`super::release`]; `clean_at` is the commit the worktree is known to hold exactly (files
/// and index), if any.
pub fn release(
    ws: &Workspace,
    branch: Release,
    opts: &WorkspaceOptions,
    clean_at: Option<ObjectId>,
) -> anyhow::Result<()> {
    let repo = repo::open(&ws.common_dir)?;
    let layout = RepoLayout { dir: ws.layout_dir.clone() };
    let branch_name = repo::branch_name(&ws.run_id)?;
    let pooled = opts.pool_size > 0
        && layout.pooled()?.len() < opts.pool_size
        && park(&repo, ws, &branch_name, clean_at).is_ok_and(|seal| layout.park(&ws.name, &seal).is_ok());
    if !pooled {
        remove_worktree(&repo, &ws.path)?;
        layout.forget(&ws.name)?;
    }
    if branch == Release::DeleteBranch {
        repo::delete_ref(&repo, &branch_name)?;
    }
    Ok(())
}

/// More ignored entries than this and a worktree is not sealed (the seal would be large; the
/// next run reads it in full instead).
const MAX_SEALED_IGNORED: usize = 10_000;

/// Cleans the worktree to its branch tip and detaches HEAD there, unless it is known to hold
/// exactly that commit: the caller says so (`clean_at`), or the change journal saw nothing touched
/// since the snapshot at the tip. Returns what its pool marker holds: its seal when every program
/// of the run ran confined and its ignored entries are known, else `pool`.
fn park(
    repo: &gix::Repository,
    ws: &Workspace,
    branch: &FullName,
    clean_at: Option<ObjectId>,
) -> anyhow::Result<Vec<u8>> {
    let tip = repo::ref_target(repo, branch)?.unwrap_or(ws.base_commit);
    let wt = repo::open_worktree(&ws.path, &ws.common_dir, &ws.name)?;
    let untouched = match ws.journal.get() {
        Some(journal) => journal.untouched_since(&wt, branch, tip)?,
        None => false,
    };
    let ignored = if clean_at != Some(tip) && !untouched {
        Some(sync::retarget(&wt, repo::commit_tree(repo, tip)?)?.ignored)
    } else if untouched {
        ws.journal.get().and_then(|journal| journal.last_ignored())
    } else {
        None
    };
    repo::detach_head(&wt, tip)?;
    let seal = match ignored.filter(|ignored| ws.confined && ignored.len() <= MAX_SEALED_IGNORED) {
        Some(ignored) => {
            let root = ws.layout_dir.parent().unwrap_or(&ws.layout_dir);
            seal::ensure_unconfined_dir(root)?;
            Some(Seal::take(&wt, tip, &ignored, &ws.layout_dir)?)
        }
        None => None,
    };
    Ok(match seal {
        Some(seal) => serde_json::to_vec(&seal).context("writing the seal")?,
        None => b"pool\n".to_vec(),
    })
}

/// Removes a linked worktree and its admin dir (forcefully); a folder that is not a registered
/// worktree is just deleted.
pub fn remove_worktree(repo: &gix::Repository, path: &Path) -> anyhow::Result<()> {
    let registered = registered_worktree(repo, path)?;
    if registered.is_some() {
        // `<layout>/wt/<name>`: the lock is in `<layout>`.
        let layout_dir = path.parent().and_then(Path::parent);
        let _turn = layout_dir.map(super::layout::AdminLock::acquire).transpose()?;
        repo.remove_worktree(path, gix::worktree::remove::Force::OverrideLock, gix::progress::Discard)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("removing worktree {}", path.display()))?;
    }
    if path.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

/// The admin dir of the worktree registered at `path`, if any.
fn registered_worktree(repo: &gix::Repository, path: &Path) -> anyhow::Result<Option<PathBuf>> {
    let wanted = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    for proxy in repo.worktrees().context("listing worktrees")? {
        let Ok(base) = proxy.base() else { continue };
        if base.canonicalize().unwrap_or(base) == wanted {
            return Ok(Some(proxy.git_dir().to_path_buf()));
        }
    }
    Ok(None)
}

/// See [`super::clear_pool`].
pub fn clear(repo_root: &Path, opts: &WorkspaceOptions) -> anyhow::Result<usize> {
    let repo = repo::open(repo_root)?;
    let layout = super::repo_layout(&repo, opts)?;
    let mut removed = 0;
    for name in layout.pooled()? {
        if !layout.claim(&name)? {
            continue;
        }
        remove_worktree(&repo, &layout.worktree_path(&name))?;
        layout.forget(&name)?;
        removed += 1;
    }
    Ok(removed)
}

/// See [`super::prune`].
pub fn prune(repo_root: &Path, opts: &WorkspaceOptions, is_live: &dyn Fn(&str) -> bool) -> anyhow::Result<PruneReport> {
    let repo = repo::open(repo_root)?;
    let layout = super::repo_layout(&repo, opts)?;
    let mut report = PruneReport::default();
    prune_missing_checkouts(&repo, &layout, &mut report)?;
    prune_dead_owners(&repo, &layout, is_live, &mut report)?;
    prune_broken_pool(&repo, &layout, &mut report)?;
    prune_orphans(&repo, &layout, &mut report)?;
    prune_branches(&repo, is_live, &mut report)?;
    Ok(report)
}

/// See [`super::remove_run`].
pub fn remove_run(
    repo_root: &Path,
    opts: &WorkspaceOptions,
    run_id: &str,
    worktree_name: Option<&str>,
    branch: Release,
) -> anyhow::Result<PruneReport> {
    let repo = repo::open(repo_root)?;
    let layout = super::repo_layout(&repo, opts)?;
    let mut report = PruneReport::default();
    let mut names: Vec<String> =
        layout.busy()?.into_iter().filter(|(_, owner)| owner == run_id).map(|(name, _)| name).collect();
    if let Some(name) = worktree_name {
        let unmarked = !layout.pool_dir().join(name).exists() && !layout.busy_dir().join(name).exists();
        if unmarked && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    for name in names {
        let path = layout.worktree_path(&name);
        if path.symlink_metadata().is_ok() || registered_worktree(&repo, &path)?.is_some() {
            remove_broken_worktree(&repo, &path)?;
            report.removed_worktrees.push(path);
        }
        prune_unfinished_admin_dirs(&repo, &name, &mut report)?;
        layout.forget(&name)?;
    }
    prune_missing_checkouts(&repo, &layout, &mut report)?;
    if branch == Release::DeleteBranch {
        let full = repo::branch_name(run_id)?;
        if !checked_out_branches(&repo)?.contains(&full) && repo::delete_ref(&repo, &full)? {
            report.deleted_branches.push(format!("dispatch/{run_id}"));
        }
    }
    Ok(report)
}

/// [`remove_worktree`], falling back to deleting the admin dir and the folder when gix cannot
/// remove a half-made worktree (killed during its checkout).
fn remove_broken_worktree(repo: &gix::Repository, path: &Path) -> anyhow::Result<()> {
    if remove_worktree(repo, path).is_ok() {
        return Ok(());
    }
    if let Some(admin) = registered_worktree(repo, path)? {
        std::fs::remove_dir_all(&admin).with_context(|| format!("removing {}", admin.display()))?;
    }
    if path.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

/// Admin dirs named after worktree `name` (gix appends digits on a clash) that have no `gitdir`
/// file: a worktree add that was killed before it registered its checkout.
fn prune_unfinished_admin_dirs(repo: &gix::Repository, name: &str, report: &mut PruneReport) -> anyhow::Result<()> {
    let admin_root = repo.common_dir().join("worktrees");
    let Ok(entries) = std::fs::read_dir(&admin_root) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", admin_root.display()))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let named_after = file_name.strip_prefix(name).is_some_and(|suffix| suffix.chars().all(|c| c.is_ascii_digit()));
        let admin = entry.path();
        if named_after && admin.is_dir() && !admin.join("gitdir").exists() {
            std::fs::remove_dir_all(&admin).with_context(|| format!("removing {}", admin.display()))?;
            report.pruned_admin_dirs.push(admin);
        }
    }
    Ok(())
}

/// Admin dirs of our worktrees whose checkout folder is gone.
fn prune_missing_checkouts(
    repo: &gix::Repository,
    layout: &RepoLayout,
    report: &mut PruneReport,
) -> anyhow::Result<()> {
    let ours = layout.worktrees_dir();
    for proxy in repo.worktrees().context("listing worktrees")? {
        let Ok(base) = proxy.base() else { continue };
        if base.starts_with(&ours) && base.symlink_metadata().is_err() {
            let admin = proxy.git_dir().to_path_buf();
            std::fs::remove_dir_all(&admin).with_context(|| format!("removing {}", admin.display()))?;
            report.pruned_admin_dirs.push(admin);
        }
    }
    Ok(())
}

fn prune_dead_owners(
    repo: &gix::Repository,
    layout: &RepoLayout,
    is_live: &dyn Fn(&str) -> bool,
    report: &mut PruneReport,
) -> anyhow::Result<()> {
    for (name, owner) in layout.busy()? {
        if is_live(&owner) {
            continue;
        }
        let path = layout.worktree_path(&name);
        if path.symlink_metadata().is_ok() || registered_worktree(repo, &path)?.is_some() {
            remove_worktree(repo, &path)?;
            report.removed_worktrees.push(path);
        }
        layout.forget(&name)?;
    }
    Ok(())
}

fn prune_broken_pool(repo: &gix::Repository, layout: &RepoLayout, report: &mut PruneReport) -> anyhow::Result<()> {
    for name in layout.pooled()? {
        let path = layout.worktree_path(&name);
        if registered_worktree(repo, &path)?.is_some() && path.join(".git").is_file() {
            continue;
        }
        if !layout.claim(&name)? {
            continue;
        }
        if path.symlink_metadata().is_ok() {
            remove_worktree(repo, &path)?;
            report.removed_worktrees.push(path);
        }
        layout.forget(&name)?;
    }
    Ok(())
}

/// Worktree folders with no marker (a crash between removal steps).
fn prune_orphans(repo: &gix::Repository, layout: &RepoLayout, report: &mut PruneReport) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(layout.worktrees_dir()) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.context("listing worktrees folder")?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let marked = layout.pool_dir().join(&name).exists() || layout.busy_dir().join(&name).exists();
        if !marked {
            let path = entry.path();
            remove_worktree(repo, &path)?;
            report.removed_worktrees.push(path);
        }
    }
    Ok(())
}

fn prune_branches(
    repo: &gix::Repository,
    is_live: &dyn Fn(&str) -> bool,
    report: &mut PruneReport,
) -> anyhow::Result<()> {
    let checked_out = checked_out_branches(repo)?;
    let refs = repo.references().context("reading references")?;
    let mut dead = Vec::new();
    for reference in refs.prefixed("refs/heads/dispatch/").context("listing dispatch branches")? {
        let reference = reference.map_err(|e| anyhow::anyhow!("{e}")).context("reading a dispatch branch")?;
        let name = reference.name().to_owned();
        let short = name.as_bstr().to_string();
        let run_id = short.trim_start_matches("refs/heads/dispatch/").to_string();
        if !is_live(&run_id) && !checked_out.contains(&name) {
            dead.push((name, run_id));
        }
    }
    for (name, run_id) in dead {
        repo::delete_ref(repo, &name)?;
        report.deleted_branches.push(format!("dispatch/{run_id}"));
    }
    Ok(())
}

fn checked_out_branches(repo: &gix::Repository) -> anyhow::Result<Vec<FullName>> {
    let mut out = Vec::new();
    for proxy in repo.worktrees().context("listing worktrees")? {
        if let Ok(wt) = proxy.into_repo_with_possibly_inaccessible_worktree() {
            if let Ok(Some(name)) = repo::head_branch(&wt) {
                out.push(name);
            }
        }
    }
    if let Ok(Some(name)) = repo::head_branch(repo) {
        out.push(name);
    }
    Ok(out)
}
