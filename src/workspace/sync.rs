//! Moving an existing worktree to another tree (warm start, and cleaning before pooling),
//! touching only the paths that differ: files whose index entry or content differs from the
//! target are rewritten, paths the target lacks and untracked files are deleted, ignored files
//! stay. Afterwards the index equals the target tree (with stat info, so status is cheap); a
//! worktree already there (files and index) is left untouched, its index not even rewritten.

use super::scan::{self, RawStatus, ScanOptions};
use anyhow::Context as _;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::ObjectId;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// What a retarget did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Retarget {
    /// Repository paths written from the target tree.
    pub written: Vec<String>,
    /// Repository paths deleted (tracked paths the target lacks, untracked files).
    pub deleted: Vec<String>,
    /// The ignored files and directories left in place: `(path, is_dir)`, sorted.
    pub ignored: Vec<(BString, bool)>,
}

/// Makes `wt`'s files and index equal `target_tree`, leaving ignored files alone.
pub fn retarget(wt: &gix::Repository, target_tree: ObjectId) -> anyhow::Result<Retarget> {
    let workdir = wt.workdir().context("worktree has no working directory")?.to_owned();
    let index = crate::checkout_status::read_index(wt).or_else(|_| wt.index_from_tree(&wt.empty_tree().id))?;
    let mut status =
        scan::raw_status(wt, &index, Some(target_tree), ScanOptions { list_ignored: true, ..Default::default() })?;
    status.ignored.sort();
    if already_there(&status, &index) {
        return Ok(Retarget { ignored: status.ignored, ..Retarget::default() });
    }
    let ignored = std::mem::take(&mut status.ignored);
    apply_plan(wt, &workdir, &index, &status, target_tree, ignored)
}

/// [`retarget`] of a worktree known to hold `from_tree` exactly (files and index, ignored files
/// aside, nothing untracked: a sealed pooled worktree, see `seal`): only the paths where the two
/// trees differ are looked at, from the trees alone; the files are not read.
pub fn retarget_sealed(
    wt: &gix::Repository,
    from_tree: ObjectId,
    target_tree: ObjectId,
    ignored: Vec<(BString, bool)>,
) -> anyhow::Result<Retarget> {
    let mut status = RawStatus::default();
    for change in crate::changes::raw_changes_without_renames(wt, from_tree, target_tree)? {
        for side in [change.old, change.new].into_iter().flatten() {
            status.staged.insert(side.path, None);
        }
    }
    if status.staged.is_empty() {
        return Ok(Retarget { ignored, ..Retarget::default() });
    }
    let workdir = wt.workdir().context("worktree has no working directory")?.to_owned();
    let index = crate::checkout_status::read_index(wt).context("reading the worktree's index")?;
    apply_plan(wt, &workdir, &index, &status, target_tree, ignored)
}

/// Deletes and writes the paths `status` says differ from `target_tree`, and writes the index
/// of `target_tree` with the stat data of `index` kept for the paths left alone.
fn apply_plan(
    wt: &gix::Repository,
    workdir: &Path,
    index: &gix::index::File,
    status: &RawStatus,
    target_tree: ObjectId,
    ignored: Vec<(BString, bool)>,
) -> anyhow::Result<Retarget> {
    let mut target = wt.index_from_tree(&target_tree).context("reading the target tree")?;
    let plan = Plan::new(status, &target);
    delete_paths(workdir, &plan.delete)?;
    let written = checkout_paths(wt, workdir, &mut target, &plan.write)?;
    carry_stats(index, &mut target, &written);
    write_index(target)?;
    Ok(Retarget {
        written: plan.write.iter().map(|p| p.to_str_lossy().into_owned()).collect(),
        deleted: plan.delete.iter().map(|(p, _)| p.to_str_lossy().into_owned()).collect(),
        ignored,
    })
}

/// True when the files equal the index and the index equals the target tree (plain entries only:
/// no conflict stages, intent-to-add or skip-worktree marks): nothing to write, not even the index.
fn already_there(status: &RawStatus, index: &gix::index::File) -> bool {
    let plain = |entry: &gix::index::Entry| {
        entry.stage_raw() == 0
            && !entry
                .flags
                .intersects(gix::index::entry::Flags::INTENT_TO_ADD | gix::index::entry::Flags::SKIP_WORKTREE)
    };
    status.staged.is_empty()
        && status.changed_tracked.is_empty()
        && status.removed.is_empty()
        && status.untracked.is_empty()
        && index.entries().iter().all(plain)
}

struct Plan {
    write: BTreeSet<BString>,
    /// path, and whether it may be a directory (nested repository)
    delete: Vec<(BString, bool)>,
}

impl Plan {
    fn new(status: &RawStatus, target: &gix::index::File) -> Self {
        let in_target = |p: &BStr| target.entry_by_path(p).is_some();
        let mut write = BTreeSet::new();
        let mut delete = Vec::new();
        let tracked_changes = status.staged.keys().chain(status.changed_tracked.iter()).chain(status.removed.iter());
        for path in tracked_changes {
            if in_target(path.as_bstr()) {
                write.insert(path.clone());
            } else {
                delete.push((path.clone(), false));
            }
        }
        for (path, kind) in &status.untracked {
            delete.push((path.clone(), *kind == gix::dir::entry::Kind::Repository));
        }
        delete.sort();
        delete.dedup();
        Plan { write, delete }
    }
}

fn delete_paths(workdir: &Path, paths: &[(BString, bool)]) -> anyhow::Result<()> {
    for (rela, may_be_dir) in paths {
        let path = super::scan::join(workdir, rela.as_bstr());
        let md = match std::fs::symlink_metadata(&path) {
            Ok(md) => md,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).with_context(|| format!("inspecting {}", path.display())),
        };
        let result = if md.is_dir() {
            if *may_be_dir {
                std::fs::remove_dir_all(&path)
            } else {
                // A tracked file replaced by a directory: its untracked contents are deleted
                // separately; ignored contents keep the directory alive.
                continue;
            }
        } else {
            std::fs::remove_file(&path)
        };
        result.with_context(|| format!("deleting {}", path.display()))?;
        remove_empty_parents(workdir, &path);
    }
    Ok(())
}

/// Removes now-empty parent directories of `path` up to (not including) `workdir`.
fn remove_empty_parents(workdir: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == workdir || !d.starts_with(workdir) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Checks out the `paths` of `target` (overwriting what is there), `.gitattributes` files first
/// so the others are converted with the new attributes. Returns the entries written, with stat.
fn checkout_paths(
    wt: &gix::Repository,
    workdir: &Path,
    target: &mut gix::index::File,
    paths: &BTreeSet<BString>,
) -> anyhow::Result<gix::index::State> {
    let is_attributes = |p: &BStr| p == ".gitattributes" || p.ends_with(b"/.gitattributes");
    let (attrs, rest): (BTreeSet<BString>, BTreeSet<BString>) =
        paths.iter().cloned().partition(|p| is_attributes(p.as_bstr()));
    let mut written = subset(target, &BTreeSet::new());
    for group in [attrs, rest] {
        if group.is_empty() {
            continue;
        }
        let mut part = subset(target, &group);
        checkout_state(wt, workdir, &mut part)?;
        written = merge_states(written, part);
    }
    Ok(written)
}

/// The entries of `index` whose paths are in `paths`, as a new state.
fn subset(index: &gix::index::File, paths: &BTreeSet<BString>) -> gix::index::State {
    let mut state: gix::index::State = (**index).clone();
    state.remove_entries(|_, path, _| !paths.contains(path));
    state.remove_tree();
    state
}

fn merge_states(mut a: gix::index::State, b: gix::index::State) -> gix::index::State {
    for entry in b.entries() {
        let path = entry.path(&b).to_owned();
        a.dangerously_push_entry(entry.stat, entry.id, entry.flags, entry.mode, path.as_bstr());
    }
    a.sort_entries();
    a
}

fn checkout_state(wt: &gix::Repository, workdir: &Path, state: &mut gix::index::State) -> anyhow::Result<()> {
    let mut options = wt
        .checkout_options(gix::worktree::stack::state::attributes::Source::WorktreeThenIdMapping)
        .context("reading checkout options")?;
    options.overwrite_existing = true;
    options.destination_is_initially_empty = false;
    let objects = wt.objects.clone().into_arc().context("sharing the object database")?;
    let files = gix::progress::Discard;
    let bytes = gix::progress::Discard;
    let outcome =
        gix::worktree::state::checkout(state, workdir, objects, &files, &bytes, &AtomicBool::new(false), options)
            .context("checking out files")?;
    if let Some(err) = outcome.errors.first() {
        anyhow::bail!("checking out {}: {}", err.path, err.error);
    }
    if let Some(collision) = outcome.collisions.first() {
        anyhow::bail!("checking out {}: collides with another path", collision.path);
    }
    Ok(())
}

/// Fills `target`'s stat info: from `written` for checked-out paths, else from `old` where the
/// entry is unchanged (same id and mode) so the next status does not rehash it.
fn carry_stats(old: &gix::index::File, target: &mut gix::index::File, written: &gix::index::State) {
    let (entries, paths) = target.entries_mut_and_pathbacking();
    for entry in entries {
        let path = entry.path_in(paths);
        if let Some(w) = written.entry_by_path(path) {
            entry.stat = w.stat;
        } else if let Some(o) = old.entry_by_path(path) {
            if o.id == entry.id && o.mode == entry.mode {
                entry.stat = o.stat;
            }
        }
    }
}

fn write_index(mut index: gix::index::File) -> anyhow::Result<()> {
    index.remove_tree();
    index
        .write(gix::index::write::Options::default())
        .with_context(|| format!("writing index {}", index.path().display()))
}
