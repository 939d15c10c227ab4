//! Reading a working tree's state as git would record it with `git add -A`: the differences
//! between the HEAD tree and the index (staged), between the index and the files (unstaged,
//! deletions, type changes) and the untracked non-ignored files, each hashed through gix's
//! filter pipeline (clean filters, `core.autocrlf`, `.gitattributes`). Nothing is written but
//! blobs; the index on disk is left alone. `status.showUntrackedFiles` is overridden.
//!
//! What git cannot record, or must not be asked to, is left out and listed ([`LeftOut`]): FIFOs,
//! sockets and device nodes, and files larger than `max_file_size` (never read at all). A large
//! file is streamed into the object store (read and compressed in chunks), so memory stays bounded
//! whatever its size, unless a clean filter or `core.autocrlf` has to convert it.

use anyhow::Context as _;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::objs::tree::EntryKind;
use gix::ObjectId;
use std::collections::BTreeMap;

use crate::checkout_status;

pub use super::hasher::{is_special, Hasher};

/// The new state of one path: `None` when it is gone.
pub type Edit = Option<Hashed>;

/// A path's recorded content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    pub kind: EntryKind,
    pub id: ObjectId,
    /// The file's stat when it was hashed (for refreshing an index); `None` for staged-only edits.
    pub stat: Option<gix::index::entry::Stat>,
}

/// What to collect besides the changes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    /// Also list ignored files (individually).
    pub list_ignored: bool,
    /// Files larger than this (bytes) are not hashed but listed in [`LeftOut::oversized`].
    pub max_file_size: Option<u64>,
}

/// Paths of the working tree a scan did not record, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeftOut {
    /// FIFOs, sockets and device nodes (untracked ones, and tracked paths that became one).
    pub special: Vec<String>,
    /// Files larger than the limit, with their size in bytes.
    pub oversized: Vec<(String, u64)>,
}

impl LeftOut {
    /// Adds `other`'s paths.
    pub fn extend(&mut self, other: LeftOut) {
        self.special.extend(other.special);
        self.oversized.extend(other.oversized);
    }

    /// Sorted, each path once.
    pub fn normalize(&mut self) {
        self.special.sort();
        self.special.dedup();
        self.oversized.sort();
        self.oversized.dedup();
    }
}

/// The state of a working tree relative to its HEAD tree.
pub struct Scan {
    /// The tree of HEAD (the empty tree when HEAD is unborn).
    pub head_tree: ObjectId,
    /// HEAD tree -> index differences.
    pub staged: BTreeMap<BString, Edit>,
    /// index -> worktree differences and untracked files (these win over `staged`).
    pub unstaged: BTreeMap<BString, Edit>,
    /// Ignored entries (with `list_ignored`): `(path, is_directory)`, sorted; an ignored
    /// directory stands for everything below it.
    pub ignored: Vec<(BString, bool)>,
    /// The index the scan compared against.
    pub index: gix::index::File,
    /// What was not recorded (special files, files over the size limit).
    pub left_out: LeftOut,
}

impl Scan {
    /// All edits relative to `head_tree`, later sources winning.
    pub fn edits(&self) -> BTreeMap<BString, Edit> {
        let mut all = self.staged.clone();
        all.extend(self.unstaged.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// Every path that differs from HEAD in the index or the working tree, sorted.
    pub fn dirty_paths(&self) -> Vec<BString> {
        let mut paths: Vec<BString> = self.staged.keys().chain(self.unstaged.keys()).cloned().collect();
        paths.sort();
        paths.dedup();
        paths
    }
}

/// Scans the working tree of `repo`.
pub fn scan(repo: &gix::Repository, options: ScanOptions) -> anyhow::Result<Scan> {
    let index = index_or_empty(repo)?;
    let head_tree = repo.head_tree_id_or_empty().context("reading HEAD's tree")?.detach();
    let collected = raw_status(repo, &index, Some(head_tree), options)?;
    finish_scan(repo, index, head_tree, collected, options)
}

/// [`scan`] from the items of a status pass run already (against `head_tree` and `index`, the
/// index-worktree part without renames; renames between the tree and the index are split into a
/// deletion and an addition), e.g. one whose items also serve the guard's audit.
pub fn scan_items(
    repo: &gix::Repository,
    index: gix::index::File,
    head_tree: ObjectId,
    items: impl IntoIterator<Item = gix::status::Item>,
    options: ScanOptions,
) -> anyhow::Result<Scan> {
    let mut collected = RawStatus::default();
    for item in items {
        record_item(&index, item, &mut collected)?;
    }
    finish_scan(repo, index, head_tree, collected, options)
}

fn finish_scan(
    repo: &gix::Repository,
    index: gix::index::File,
    head_tree: ObjectId,
    mut collected: RawStatus,
    options: ScanOptions,
) -> anyhow::Result<Scan> {
    let (unstaged, mut left_out) = hash_worktree_paths(repo, &index, &collected, options.max_file_size)?;
    left_out.special.extend(collected.special.iter().map(|path| path.to_str_lossy().into_owned()));
    left_out.normalize();
    collected.ignored.sort();
    Ok(Scan { head_tree, staged: collected.staged, unstaged, ignored: collected.ignored, index, left_out })
}

/// The index of `repo`, or an empty one when it has none.
pub fn index_or_empty(repo: &gix::Repository) -> anyhow::Result<gix::index::File> {
    crate::checkout_status::read_index(repo).or_else(|_| empty_index(repo))
}

fn empty_index(repo: &gix::Repository) -> anyhow::Result<gix::index::File> {
    let empty = repo.empty_tree().id;
    repo.index_from_tree(&empty).context("creating an empty index")
}

/// Status of a working tree without hashing anything.
#[derive(Default, Debug)]
pub struct RawStatus {
    /// `compare_tree` -> index differences: the index's version, `None` when the index lacks it.
    pub staged: BTreeMap<BString, Edit>,
    /// Tracked paths whose file differs from the index (content, mode, type).
    pub changed_tracked: Vec<BString>,
    /// Tracked paths whose file is gone.
    pub removed: Vec<BString>,
    /// Untracked, not ignored files, symlinks and nested repositories.
    pub untracked: Vec<(BString, gix::dir::entry::Kind)>,
    /// Ignored files, symlinks, special files and whole directories (only with `list_ignored`):
    /// `(path, is_dir)`.
    pub ignored: Vec<(BString, bool)>,
    /// Untracked, not ignored FIFOs, sockets and device nodes.
    pub special: Vec<BString>,
}

/// Runs status of `repo`'s working tree against `index`, and of `index` against `compare_tree`
/// (skipped when `None`: the caller knows the index equals that tree).
pub fn raw_status(
    repo: &gix::Repository,
    index: &gix::index::File,
    compare_tree: Option<ObjectId>,
    options: ScanOptions,
) -> anyhow::Result<RawStatus> {
    let tree = compare_tree.map_or(checkout_status::Tree::Skip, checkout_status::Tree::Given);
    let options = checkout_status::Options::scan(tree, options.list_ignored);
    let mut out = RawStatus::default();
    checkout_status::for_each(repo, checkout_status::Index::Given(Box::new(index.clone())), &options, |item| {
        record_item(index, item, &mut out)
    })?;
    Ok(out)
}

/// Records one item of a [`checkout_status::Options::scan`] pass.
pub fn record_item(index: &gix::index::File, item: gix::status::Item, out: &mut RawStatus) -> anyhow::Result<()> {
    use gix::status::{index_worktree::Item as Iw, Item};
    match item {
        Item::TreeIndex(change) => record_staged(index, change, out),
        Item::IndexWorktree(Iw::Modification { rela_path, status, .. }) => record_modification(rela_path, status, out),
        Item::IndexWorktree(Iw::DirectoryContents { entry, .. }) => record_dir_entry(entry, out),
        Item::IndexWorktree(Iw::Rewrite { .. }) => {
            anyhow::bail!("status reported a rewrite although rename tracking is off")
        }
    }
    Ok(())
}

fn record_staged(index: &gix::index::File, change: gix::diff::index::Change, out: &mut RawStatus) {
    use gix::diff::index::Change as C;
    let edit_of = |entry_mode: gix::index::entry::Mode, id: &gix::oid| {
        let kind = entry_mode.to_tree_entry_mode().map(|m| m.kind())?;
        Some(Hashed { kind, id: id.to_owned(), stat: None })
    };
    match change {
        C::Deletion { location, .. } => stage(index, location.into_owned(), None, out),
        C::Addition { location, entry_mode, id, .. } | C::Modification { location, entry_mode, id, .. } => {
            if let Some(edit) = edit_of(entry_mode, &id) {
                stage(index, location.into_owned(), Some(edit), out);
            }
        }
        C::Rewrite { source_location, location, entry_mode, id, copy, .. } => {
            if !copy {
                stage(index, source_location.into_owned(), None, out);
            }
            if let Some(edit) = edit_of(entry_mode, &id) {
                stage(index, location.into_owned(), Some(edit), out);
            }
        }
    }
}

/// Records the index's version of `path` (`None`: the index lacks it).
fn stage(index: &gix::index::File, path: BString, edit: Edit, out: &mut RawStatus) {
    // Conflicted paths have no stage-0 entry; their worktree state decides.
    if index.entry_by_path_and_stage(path.as_bstr(), gix::index::entry::Stage::Unconflicted).is_some() || edit.is_none()
    {
        out.staged.insert(path, edit);
    }
}

fn record_modification(
    rela_path: BString,
    status: gix::status::plumbing::index_as_worktree::EntryStatus<(), gix::submodule::Status>,
    out: &mut RawStatus,
) {
    use gix::status::plumbing::index_as_worktree::{Change, EntryStatus};
    match status {
        EntryStatus::NeedsUpdate(_) => {}
        EntryStatus::Change(Change::Removed) => out.removed.push(rela_path),
        EntryStatus::Change(_) | EntryStatus::IntentToAdd | EntryStatus::Conflict { .. } => {
            out.changed_tracked.push(rela_path)
        }
    }
}

fn record_dir_entry(entry: gix::dir::Entry, out: &mut RawStatus) {
    use gix::dir::entry::{Kind, Status};
    match entry.status {
        Status::Untracked => match entry.disk_kind {
            Some(kind @ (Kind::File | Kind::Symlink | Kind::Repository)) => out.untracked.push((entry.rela_path, kind)),
            Some(Kind::Untrackable) => out.special.push(entry.rela_path),
            _ => {}
        },
        Status::Ignored(_) => match entry.disk_kind {
            Some(Kind::File | Kind::Symlink | Kind::Untrackable) => out.ignored.push((entry.rela_path, false)),
            Some(Kind::Directory) => out.ignored.push((entry.rela_path, true)),
            _ => {}
        },
        Status::Tracked | Status::Pruned => {}
    }
}

fn hash_worktree_paths(
    repo: &gix::Repository,
    index: &gix::index::File,
    collected: &RawStatus,
    max_file_size: Option<u64>,
) -> anyhow::Result<(BTreeMap<BString, Edit>, LeftOut)> {
    let mut out: BTreeMap<BString, Edit> = BTreeMap::new();
    for path in &collected.removed {
        out.insert(path.clone(), None);
    }
    let to_hash: Vec<&BString> =
        collected.changed_tracked.iter().chain(collected.untracked.iter().map(|(p, _)| p)).collect();
    if to_hash.is_empty() {
        return Ok((out, LeftOut::default()));
    }
    let mut hasher = Hasher::new(repo, max_file_size)?;
    for path in to_hash {
        if let Some(edit) = hasher.hash(path.as_bstr(), index)? {
            out.insert(path.clone(), edit);
        }
    }
    Ok((out, hasher.left_out))
}

/// `workdir/rela_path` (repository paths are bytes; on Unix any bytes are a valid path).
pub fn join(workdir: &std::path::Path, rela_path: &BStr) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    workdir.join(std::ffi::OsStr::from_bytes(rela_path))
}

/// The index stat of the file at `rela_path`, if it can be read.
pub fn stat_of(workdir: &std::path::Path, rela_path: &BStr) -> Option<gix::index::entry::Stat> {
    let path = join(workdir, rela_path);
    let md = gix::index::fs::Metadata::from_path_no_follow(&path).ok()?;
    gix::index::entry::Stat::from_fs(&md).ok()
}

/// Applies `edits` to `base_tree` and writes the resulting tree (removals first, so a file can
/// replace a directory and vice versa).
pub fn write_tree(
    repo: &gix::Repository,
    base_tree: ObjectId,
    edits: &BTreeMap<BString, Edit>,
) -> anyhow::Result<ObjectId> {
    if edits.is_empty() {
        return Ok(base_tree);
    }
    let mut editor = repo.edit_tree(base_tree).context("opening tree editor")?;
    for (path, _) in edits.iter().filter(|(_, e)| e.is_none()) {
        editor.remove(path).with_context(|| format!("removing {path} from tree"))?;
    }
    for (path, edit) in edits {
        if let Some(h) = edit {
            editor.upsert(path, h.kind, h.id).with_context(|| format!("adding {path} to tree"))?;
        }
    }
    Ok(editor.write().context("writing tree")?.detach())
}
