//! One status of a checkout: the one gix status pipeline of git-dispatch (a tree against the
//! index, the index against the files, the untracked and optionally the ignored files), run
//! in-process: the index is never written, no hook and no fsmonitor runs. Callers say what to
//! compare ([`Options`]) and read the items:
//!
//! - the guard's audit (`git status --short`, `git diff`): HEAD, renames as configured,
//!   submodules as configured;
//! - the workspace's scans (the base commit, the snapshot's full scan, moving a pooled worktree):
//!   a given tree or none, an index in memory, no renames, submodules by their checked-out commit,
//!   ignored files when asked;
//! - the hand-back's dirty paths: HEAD, no renames, no submodules;
//! - `.worktreeinclude`: the ignored entries alone ([`ignored_entries`]).
//!
//! Whatever the user's configuration says (`status.showUntrackedFiles=no`, ...), untracked files
//! are listed one by one and empty directories are not; index-worktree renames are never tracked.
//! gix compares the index with the files on a thread per core (the stat data of the index makes
//! unchanged files cheap) while its directory walk finds the untracked files. When the index's
//! cache tree proves it equals the tree, the tree-index comparison is skipped, as git skips it.

use anyhow::Context as _;
use gix::ObjectId;

/// Which tree the index is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    /// HEAD's tree (none when HEAD is unborn).
    Head,
    /// This tree.
    Given(ObjectId),
    /// None: the caller knows the index equals its tree.
    Skip,
}

/// How submodules are looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submodules {
    /// As `git status` does: their `ignore` setting decides (without stopping at the first change).
    AsConfigured,
    /// Only whether their checked-out commit differs from the index (`ignore = dirty`).
    CommitOnly,
    /// Not at all.
    Skip,
}

/// What one status pass compares and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub tree: Tree,
    /// Track renames between the tree and the index as configured (`status.renames`); else none.
    pub tree_renames: bool,
    /// Also report ignored files, symlinks, special files and (collapsed) directories.
    pub ignored: bool,
    pub submodules: Submodules,
}

impl Options {
    /// `git status` of the user's checkout: HEAD, renames and submodules as configured.
    pub fn git_status() -> Options {
        Options { tree: Tree::Head, tree_renames: true, ignored: false, submodules: Submodules::AsConfigured }
    }

    /// What a scan needs to record the files as `git add -A` would: `tree`, no renames.
    pub fn scan(tree: Tree, ignored: bool) -> Options {
        Options { tree, tree_renames: false, ignored, submodules: Submodules::CommitOnly }
    }
}

/// The index a status compares with.
pub enum Index {
    /// The repository's own index file (an empty index when there is none).
    Repository,
    /// This one, in memory.
    Given(Box<gix::index::File>),
}

/// Runs one status pass of `repo`'s checkout and gives every item to `each`, in the order gix
/// produces them (tree-index changes and index-worktree items interleaved).
pub fn for_each(
    repo: &gix::Repository,
    index: Index,
    options: &Options,
    mut each: impl FnMut(gix::status::Item) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use gix::status::tree_index::TrackRenames;
    let dirwalk = repo
        .dirwalk_options()
        .context("reading the directory-walk options")?
        .emit_untracked(gix::dir::walk::EmissionMode::Matching)
        .emit_ignored(options.ignored.then_some(gix::dir::walk::EmissionMode::Matching))
        .emit_empty_directories(false);
    let renames = if options.tree_renames { TrackRenames::AsConfigured } else { TrackRenames::Disabled };
    let index = match index {
        Index::Repository => gix::worktree::Index::new(gix::fs::FileSnapshot::new(index_or_empty(repo)?)),
        Index::Given(index) => gix::worktree::Index::new(gix::fs::FileSnapshot::new(*index)),
    };
    let tree = match options.tree {
        Tree::Head => Some(repo.head_tree_id_or_empty().context("reading HEAD's tree")?.detach()),
        Tree::Given(tree) => Some(tree),
        Tree::Skip => None,
    };
    // The index's cache tree says it holds exactly that tree: nothing is staged, the comparison
    // (a walk of the whole tree) can be skipped, as `git status` skips it.
    let tree = tree.filter(|tree| !index_holds(&index, *tree));
    let platform = repo
        .status(gix::progress::Discard)
        .context("preparing the status")?
        .index_worktree_rewrites(None)
        .index_worktree_options_mut(|opts| opts.dirwalk_options = Some(dirwalk))
        .tree_index_track_renames(renames)
        .index_worktree_submodules(submodules(options.submodules))
        .index(gix::worktree::IndexPersistedOrInMemory::Persisted(index));
    let items: Box<dyn Iterator<Item = gix::Result<gix::status::Item>>> = match tree {
        Some(tree) => Box::new(platform.head_tree(tree).into_iter(None).context("starting the status")?),
        None => Box::new(
            platform
                .into_index_worktree_iter(Vec::new())
                .context("starting the status")?
                .map(|item| item.map(gix::status::Item::IndexWorktree)),
        ),
    };
    for item in items {
        each(item.context("computing the status")?)?;
    }
    Ok(())
}

/// `repo`'s index as git reads it: decoded (on `index.threads` threads) without hashing the whole
/// file to verify its trailing checksum, which git verifies only in `git fsck` (at 100k entries the
/// SHA-1 costs more than the decoding). An error when there is none or it cannot be decoded.
pub fn read_index(repo: &gix::Repository) -> anyhow::Result<gix::index::File> {
    read_index_at(repo, false)
}

/// [`read_index`], or an empty index when there is no index file.
pub fn index_or_empty(repo: &gix::Repository) -> anyhow::Result<gix::index::File> {
    read_index_at(repo, true)
}

fn read_index_at(repo: &gix::Repository, or_empty: bool) -> anyhow::Result<gix::index::File> {
    let threads = repo.config_snapshot().string("index.threads");
    let thread_limit = threads
        .map(|value| gix::config::tree::Index::THREADS.try_into_index_threads(value))
        .transpose()
        .context("reading index.threads")?;
    let options = gix::index::decode::Options { thread_limit, ..Default::default() };
    let (path, hash) = (repo.index_path(), repo.object_hash());
    let index = if or_empty {
        gix::index::File::at_or_default(&path, hash, true, options)
    } else {
        gix::index::File::at(&path, hash, true, options)
    };
    index.with_context(|| format!("reading the index {}", path.display()))
}

/// The ignored entries of `repo`'s checkout, ignored directories collapsed: `(path, is_dir)` (the
/// directory walk of a status pass alone, for `.worktreeinclude`).
pub fn ignored_entries(repo: &gix::Repository) -> anyhow::Result<Vec<(gix::bstr::BString, bool)>> {
    use gix::dir::walk::EmissionMode;
    let index = index_or_empty(repo)?;
    let options = repo
        .dirwalk_options()
        .context("reading dirwalk options")?
        .emit_ignored(Some(EmissionMode::CollapseDirectory))
        .emit_untracked(EmissionMode::CollapseDirectory);
    let mut collect = gix::dir::walk::delegate::Collect::default();
    repo.dirwalk(&index, None::<&str>, &std::sync::atomic::AtomicBool::new(false), options, &mut collect)
        .context("walking the checkout for ignored files")?;
    Ok(collect
        .into_entries_by_path()
        .into_iter()
        .filter(|(e, _)| matches!(e.status, gix::dir::entry::Status::Ignored(_)))
        .filter_map(|(e, _)| match e.disk_kind {
            Some(gix::dir::entry::Kind::Directory | gix::dir::entry::Kind::Repository) => Some((e.rela_path, true)),
            Some(gix::dir::entry::Kind::File | gix::dir::entry::Kind::Symlink) => Some((e.rela_path, false)),
            _ => None,
        })
        .collect())
}

/// [`for_each`], collected.
pub fn items(repo: &gix::Repository, index: Index, options: &Options) -> anyhow::Result<Vec<gix::status::Item>> {
    let mut items = Vec::new();
    for_each(repo, index, options, |item| {
        items.push(item);
        Ok(())
    })?;
    Ok(items)
}

/// The index's cache tree (`TREE` extension) is valid at its root, counts every entry, and names
/// `tree`: the index then equals that tree (git invalidates the root on any change of an entry).
fn index_holds(index: &gix::index::State, tree: ObjectId) -> bool {
    let plain = index
        .entries()
        .iter()
        .all(|entry| entry.stage_raw() == 0 && !entry.flags.contains(gix::index::entry::Flags::INTENT_TO_ADD));
    index.tree().is_some_and(|root| {
        root.name.is_empty() && root.id == tree && root.num_entries == Some(index.entries().len() as u32)
    }) && plain
}

fn submodules(submodules: Submodules) -> Option<gix::status::Submodule> {
    match submodules {
        Submodules::AsConfigured => Some(gix::status::Submodule::AsConfigured { check_dirty: false }),
        Submodules::CommitOnly => {
            Some(gix::status::Submodule::Given { ignore: gix::submodule::config::Ignore::Dirty, check_dirty: false })
        }
        Submodules::Skip => None,
    }
}
