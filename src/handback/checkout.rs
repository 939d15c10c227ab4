//! The user's checkout as git sees it, read without changing it: which paths are dirty (staged,
//! unstaged, untracked), and the whole working tree as a tree object ("ours" of a 3-way apply).
//!
//! Nothing here writes the user's index or files. Blobs and trees are written to the repository's
//! object store, so callers that must leave no trace use a repository with object memory enabled.

use std::collections::BTreeSet;

use anyhow::Context;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::objs::tree::EntryKind;
use gix::ObjectId;

use crate::checkout_status;

/// Repository paths where the checkout differs from HEAD: staged or unstaged changes, deletions,
/// untracked (not ignored) files one by one, and conflicts. Sorted, without duplicates.
/// Submodule contents and nested repositories are not looked into.
pub fn dirty_paths(repo: &gix::Repository) -> anyhow::Result<Vec<BString>> {
    let options = checkout_status::Options {
        tree: checkout_status::Tree::Head,
        tree_renames: false,
        ignored: false,
        submodules: checkout_status::Submodules::Skip,
    };
    let mut paths = BTreeSet::new();
    checkout_status::for_each(repo, checkout_status::Index::Repository, &options, |item| {
        if let Some(path) = dirty_location(&item) {
            paths.insert(path.to_owned());
        }
        Ok(())
    })
    .context("cannot read the status of your checkout")?;
    Ok(paths.into_iter().collect())
}

/// The path an item of the status makes dirty, if it makes one dirty.
fn dirty_location(item: &gix::status::Item) -> Option<&BStr> {
    match item {
        gix::status::Item::TreeIndex(change) => Some(change.location()),
        gix::status::Item::IndexWorktree(change) => {
            if let gix::status::index_worktree::Item::DirectoryContents { entry, .. } = change {
                let is_repository = matches!(entry.disk_kind, Some(gix::dir::entry::Kind::Repository));
                if is_repository {
                    return None;
                }
            }
            change.summary().map(|_| change.rela_path())
        }
    }
}

/// The tree of the working tree as it is on disk: `head_tree` with every path of `dirty` replaced by
/// its file (hashed through the clean filters), or removed where it is gone. With `core.fileMode`
/// false the index's (else HEAD's) executable bit is kept, as git does.
pub fn worktree_tree(repo: &gix::Repository, head_tree: ObjectId, dirty: &[BString]) -> anyhow::Result<ObjectId> {
    let (mut pipeline, index) = repo.filter_pipeline(None).context("cannot set up the file filters")?;
    let trust_exec_bit = repo.config_snapshot().boolean("core.fileMode").unwrap_or(true);
    let head = repo.find_tree(head_tree).context("cannot read HEAD's tree")?;
    let mut upserts = Vec::new();
    let mut removals = Vec::new();
    for path in dirty {
        let hashed = pipeline
            .worktree_file_to_object(path.as_bstr(), &index)
            .with_context(|| format!("cannot read {} in your checkout", path.to_str_lossy()))?;
        match hashed {
            Some((id, kind, _)) if kind != EntryKind::Commit => {
                let kind = if trust_exec_bit { kind } else { recorded_kind(&index, &head, path, kind) };
                upserts.push((path, kind, id));
            }
            Some(_) => {}
            None => removals.push(path),
        }
    }
    let mut editor = repo.edit_tree(head_tree).context("cannot edit HEAD's tree")?;
    for path in removals {
        editor.remove(path.as_bstr()).with_context(|| format!("cannot remove {} from a tree", path.to_str_lossy()))?;
    }
    for (path, kind, id) in upserts {
        editor
            .upsert(path.as_bstr(), kind, id)
            .with_context(|| format!("cannot put {} into a tree", path.to_str_lossy()))?;
    }
    Ok(editor.write().context("cannot write the tree of your checkout")?.detach())
}

/// With `core.fileMode=false`: a regular file keeps the executable bit of its index entry, else of
/// HEAD's entry, else it is not executable.
fn recorded_kind(index: &gix::index::State, head: &gix::Tree<'_>, path: &BString, on_disk: EntryKind) -> EntryKind {
    if !matches!(on_disk, EntryKind::Blob | EntryKind::BlobExecutable) {
        return on_disk;
    }
    let from_index =
        index.entry_by_path(path.as_bstr()).map(|entry| entry.mode == gix::index::entry::Mode::FILE_EXECUTABLE);
    let from_head = || {
        head.lookup_entry(path.split(|byte| *byte == b'/'))
            .ok()
            .flatten()
            .map(|entry| entry.mode().kind() == EntryKind::BlobExecutable)
    };
    if from_index.or_else(from_head).unwrap_or(false) {
        EntryKind::BlobExecutable
    } else {
        EntryKind::Blob
    }
}
