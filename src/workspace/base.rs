//! The base commit of a dispatch: HEAD plus the user's uncommitted state (staged and unstaged
//! edits, deletions, untracked non-ignored files) recorded as a commit whose parent is HEAD, or a
//! given revision as it is. The user's checkout, index and refs are only read.

use super::{repo, scan, Base};
use anyhow::Context as _;
use gix::bstr::ByteSlice;
use std::path::Path;

/// See [`super::resolve_base`].
pub fn resolve_base(repo_root: &Path, rev: Option<&str>) -> anyhow::Result<Base> {
    let repo = repo::open(repo_root)?;
    let head = repo.head_id().ok().map(|id| id.detach());
    let scanned = match repo.workdir() {
        Some(_) => Some(scan::scan(&repo, scan::ScanOptions::default())?),
        None => None,
    };
    let dirty_paths: Vec<String> = scanned
        .as_ref()
        .map(|s| s.dirty_paths().iter().map(|p| p.to_str_lossy().into_owned()).collect())
        .unwrap_or_default();
    if let Some(rev) = rev {
        let commit = resolve_rev(&repo, rev)?;
        return Ok(Base { commit, head, includes_uncommitted: false, dirty_paths });
    }
    let edits = scanned.as_ref().map(|s| s.edits()).unwrap_or_default();
    if edits.is_empty() {
        let commit = head.ok_or(super::WorkspaceError::NoCommits)?;
        return Ok(Base { commit, head, includes_uncommitted: false, dirty_paths });
    }
    let head_tree = scanned.as_ref().map(|s| s.head_tree).expect("edits come from a scan");
    let tree = scan::write_tree(&repo, head_tree, &edits)?;
    if let (Some(commit), true) = (head, tree == head_tree) {
        return Ok(Base { commit, head, includes_uncommitted: false, dirty_paths });
    }
    let parents: Vec<_> = head.into_iter().collect();
    let commit = repo::write_commit(&repo, tree, &parents, "git-dispatch base: HEAD + uncommitted changes\n")?;
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
