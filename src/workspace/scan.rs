//! Reading a working tree's state as git would record it with `git add -A`: the differences
//! between the HEAD tree and the index (staged), between the index and the files (unstaged,
//! deletions, type changes) and the untracked non-ignored files, each hashed through gix's
//! filter pipeline (clean filters, `core.autocrlf`, `.gitattributes`). Nothing is written but
//! blobs; the index on disk is left alone. `status.showUntrackedFiles` is overridden.

use anyhow::Context as _;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::objs::tree::EntryKind;
use gix::ObjectId;
use std::collections::BTreeMap;

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
    let index = repo.open_index().or_else(|_| empty_index(repo))?;
    let head_tree = repo.head_tree_id_or_empty().context("reading HEAD's tree")?.detach();
    let mut collected = raw_status(repo, &index, Some(head_tree), options)?;
    let unstaged = hash_worktree_paths(repo, &index, &collected)?;
    collected.ignored.sort();
    Ok(Scan { head_tree, staged: collected.staged, unstaged, ignored: collected.ignored, index })
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
    /// Ignored files, symlinks and whole directories (only with `list_ignored`): `(path, is_dir)`.
    pub ignored: Vec<(BString, bool)>,
}

/// Runs status of `repo`'s working tree against `index`, and of `index` against `compare_tree`
/// (skipped when `None`: the caller knows the index equals that tree).
pub fn raw_status(
    repo: &gix::Repository,
    index: &gix::index::File,
    compare_tree: Option<ObjectId>,
    options: ScanOptions,
) -> anyhow::Result<RawStatus> {
    let mut out = RawStatus::default();
    use gix::status::{index_worktree::Item as Iw, Item};
    let dirwalk = repo
        .dirwalk_options()
        .context("reading dirwalk options")?
        .emit_untracked(gix::dir::walk::EmissionMode::Matching)
        .emit_ignored(options.list_ignored.then_some(gix::dir::walk::EmissionMode::Matching))
        .emit_empty_directories(false);
    let platform = repo
        .status(gix::progress::Discard)
        .context("preparing status")?
        .index(gix::worktree::IndexPersistedOrInMemory::InMemory(index.clone()))
        .index_worktree_options_mut(|opts| {
            opts.dirwalk_options = Some(dirwalk);
            opts.rewrites = None;
        })
        .tree_index_track_renames(gix::status::tree_index::TrackRenames::Disabled)
        .index_worktree_submodules(gix::status::Submodule::Given {
            ignore: gix::submodule::config::Ignore::Dirty,
            check_dirty: false,
        });
    let items: Box<dyn Iterator<Item = gix::Result<Item>>> = match compare_tree {
        Some(tree) => Box::new(platform.head_tree(tree).into_iter(None).context("running status")?),
        None => Box::new(
            platform
                .into_index_worktree_iter(Vec::new())
                .context("running status")?
                .map(|item| item.map(Item::IndexWorktree)),
        ),
    };
    for item in items {
        match item.context("reading a status item")? {
            Item::TreeIndex(change) => record_staged(index, change, &mut out),
            Item::IndexWorktree(Iw::Modification { rela_path, status, .. }) => {
                record_modification(rela_path, status, &mut out)
            }
            Item::IndexWorktree(Iw::DirectoryContents { entry, .. }) => record_dir_entry(entry, &mut out),
            Item::IndexWorktree(Iw::Rewrite { .. }) => {
                anyhow::bail!("status reported a rewrite although rename tracking is off")
            }
        }
    }
    Ok(out)
}

fn record_staged(index: &gix::index::File, change: gix::diff::index::Change, out: &mut RawStatus) {
    use gix::diff::index::Change as C;
    let (path, edit) = match change {
        C::Deletion { location, .. } => (location.into_owned(), None),
        C::Addition { location, entry_mode, id, .. } | C::Modification { location, entry_mode, id, .. } => {
            let Some(kind) = entry_mode.to_tree_entry_mode().map(|m| m.kind()) else {
                return;
            };
            let edit = Some(Hashed { kind, id: id.into_owned(), stat: None });
            (location.into_owned(), edit)
        }
        C::Rewrite { .. } => return,
    };
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
        Status::Untracked => {
            if let Some(kind @ (Kind::File | Kind::Symlink | Kind::Repository)) = entry.disk_kind {
                out.untracked.push((entry.rela_path, kind))
            }
        }
        Status::Ignored(_) => match entry.disk_kind {
            Some(Kind::File | Kind::Symlink) => out.ignored.push((entry.rela_path, false)),
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
) -> anyhow::Result<BTreeMap<BString, Edit>> {
    let mut out: BTreeMap<BString, Edit> = BTreeMap::new();
    for path in &collected.removed {
        out.insert(path.clone(), None);
    }
    let to_hash: Vec<&BString> =
        collected.changed_tracked.iter().chain(collected.untracked.iter().map(|(p, _)| p)).collect();
    if to_hash.is_empty() {
        return Ok(out);
    }
    let mut hasher = Hasher::new(repo)?;
    for path in to_hash {
        out.insert(path.clone(), hasher.hash(path.as_bstr(), index)?);
    }
    Ok(out)
}

/// Hashes worktree files into blobs as `git add` would (filters, `core.autocrlf`, `core.fileMode`).
pub struct Hasher<'repo> {
    pipeline: gix::filter::Pipeline<'repo>,
    trust_exec_bit: bool,
    workdir: std::path::PathBuf,
}

impl<'repo> Hasher<'repo> {
    pub fn new(repo: &'repo gix::Repository) -> anyhow::Result<Hasher<'repo>> {
        let trust_exec_bit = repo.filesystem_options().context("reading filesystem options")?.executable_bit;
        let (pipeline, _) = repo.filter_pipeline(None).context("preparing the filter pipeline")?;
        let workdir = repo.workdir().context("the repository has no working tree")?.to_owned();
        Ok(Hasher { pipeline, trust_exec_bit, workdir })
    }

    /// The blob for the file at `path` (written to the object database), `None` when it is gone.
    pub fn hash(&mut self, path: &BStr, index: &gix::index::File) -> anyhow::Result<Edit> {
        // Stat before hashing: a file changed in between then looks modified next time.
        let stat = stat_of(&self.workdir, path);
        let hashed = self
            .pipeline
            .worktree_file_to_object(path, index)
            .with_context(|| format!("hashing worktree file {path}"))?;
        Ok(hashed.map(|(id, kind, _)| {
            let kind = if self.trust_exec_bit { kind } else { kind_without_exec_bit(index, path, kind) };
            Hashed { kind, id, stat }
        }))
    }
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

/// With `core.fileMode=false` the executable bit on disk means nothing: keep the index's.
fn kind_without_exec_bit(index: &gix::index::File, path: &BStr, kind: EntryKind) -> EntryKind {
    if !matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable) {
        return kind;
    }
    match index.entry_by_path(path).map(|e| e.mode) {
        Some(mode) if mode == gix::index::entry::Mode::FILE_EXECUTABLE => EntryKind::BlobExecutable,
        _ => EntryKind::Blob,
    }
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
