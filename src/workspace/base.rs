//! The base commit of a dispatch: HEAD plus the user's uncommitted state (staged and unstaged
//! edits, deletions, untracked non-ignored files) recorded as a commit whose parent is HEAD, or a
//! given revision as it is. The user's checkout, index and refs are only read.

use super::{repo, scan, Base};
use crate::checkout_status;
use anyhow::Context as _;
use gix::bstr::ByteSlice;
use std::path::Path;

/// See [`super::resolve_base`].
pub fn resolve_base(repo_root: &Path, rev: Option<&str>) -> anyhow::Result<Base> {
    let repo = repo::open(repo_root)?;
    let scanned = match repo.workdir() {
        Some(_) => Some(scan::scan(&repo, scan::ScanOptions::default())?),
        None => None,
    };
    base_of(&repo, rev, scanned.as_ref())
}

/// See [`super::resolve_base_and_status`].
pub fn resolve_base_and_status(
    repo_root: &Path,
    rev: Option<&str>,
) -> anyhow::Result<(Base, Option<Vec<gix::status::Item>>)> {
    let repo = repo::open(repo_root)?;
    let index = scan::index_or_empty(&repo)?;
    let has_submodules = index.entries().iter().any(|e| e.mode == gix::index::entry::Mode::COMMIT);
    if repo.workdir().is_none() || has_submodules {
        // Submodules: `git status` looks into them as configured, a scan by their commit only.
        return Ok((resolve_base(repo_root, rev)?, None));
    }
    let head_tree = repo.head_tree_id_or_empty().context("reading HEAD's tree")?.detach();
    let options = checkout_status::Options {
        tree: checkout_status::Tree::Given(head_tree),
        ..checkout_status::Options::git_status()
    };
    let items = checkout_status::items(&repo, checkout_status::Index::Given(Box::new(index.clone())), &options)?;
    let scanned = scan::scan_items(&repo, index, head_tree, items.iter().cloned(), scan::ScanOptions::default())?;
    Ok((base_of(&repo, rev, Some(&scanned))?, Some(items)))
}

/// The base from a scan of the checkout (`None`: a bare repository).
fn base_of(repo: &gix::Repository, rev: Option<&str>, scanned: Option<&scan::Scan>) -> anyhow::Result<Base> {
    let head = repo.head_id().ok().map(|id| id.detach());
    let dirty_paths: Vec<String> =
        scanned.map(|s| s.dirty_paths().iter().map(|p| p.to_str_lossy().into_owned()).collect()).unwrap_or_default();
    if let Some(rev) = rev {
        let commit = resolve_rev(repo, rev)?;
        return Ok(Base { commit, head, includes_uncommitted: false, dirty_paths });
    }
    let edits = scanned.map(|s| s.edits()).unwrap_or_default();
    if edits.is_empty() {
        let commit = head.ok_or(super::WorkspaceError::NoCommits)?;
        return Ok(Base { commit, head, includes_uncommitted: false, dirty_paths });
    }
    let head_tree = scanned.map(|s| s.head_tree).expect("edits come from a scan");
    let tree = scan::write_tree(repo, head_tree, &edits)?;
    if let (Some(commit), true) = (head, tree == head_tree) {
        return Ok(Base { commit, head, includes_uncommitted: false, dirty_paths });
    }
    let parents: Vec<_> = head.into_iter().collect();
    let commit = repo::write_commit(repo, tree, &parents, "git-dispatch base: HEAD + uncommitted changes\n")?;
    Ok(Base { commit, head, includes_uncommitted: true, dirty_paths })
}

fn resolve_rev(repo: &gix::Repository, rev: &str) -> anyhow::Result<gix::ObjectId> {
    let object = repo
        .rev_parse_single(rev)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("resolving revision {rev:?}"))?
        .object()
        .with_context(|| format!("reading revision {rev:?}"))?;
    let commit = object.peel_to_commit().with_context(|| format!("revision {rev:?} is not a commit"))?;
    Ok(commit.id)
}
