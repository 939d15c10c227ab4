//! `git status --short --untracked-files=all` and `git diff --name-only` of a checkout, computed
//! in-process with gix (no git CLI: no hooks, no fsmonitor) and without writing its index.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use gix::bstr::BString;
use gix::status::index_worktree::Item as WorktreeItem;
use gix::status::plumbing::index_as_worktree::{Change, Conflict, EntryStatus};

use crate::checkout_status;
use crate::quote::{quote_path, Quoting};

/// How a tracked file differs between the index and the worktree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorktreeKind {
    Modified,
    Deleted,
    TypeChanged,
    IntentToAdd,
    /// A submodule: `M` (other commit), `m` (modified content) or `?` (untracked content).
    Submodule(char),
    Conflicted(Conflict),
}

/// One tracked path whose worktree version differs from its index entry.
#[derive(Clone, Debug)]
pub(crate) struct WorktreeChange {
    pub(crate) path: BString,
    pub(crate) kind: WorktreeKind,
    pub(crate) index_id: gix::ObjectId,
    pub(crate) index_mode: gix::index::entry::Mode,
}

/// One line of the short status: the two status letters, the path, and the rename source.
#[derive(Clone, Debug)]
struct ShortLine {
    staged: char,
    unstaged: char,
    source: Option<BString>,
}

/// The seed's three audit files of a checkout, computed from one status pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckoutAudit {
    /// `git status --short --untracked-files=all`
    pub status_short: String,
    /// `git diff --stat` (worktree against index)
    pub diff_stat: String,
    /// `git diff --name-only` (worktree against index)
    pub diff_name_only: String,
}

/// [`status_short`], [`super::diff_stat`] and [`diff_name_only`] of the checkout at `repo_root`
/// from one walk of it (one index-worktree comparison, one directory walk).
pub fn audit(repo_root: &Path) -> Result<CheckoutAudit> {
    let repo = open(repo_root)?;
    let items =
        checkout_status::items(&repo, checkout_status::Index::Repository, &checkout_status::Options::git_status())?;
    audit_of(&repo, items)
}

/// [`audit`] from the items of a status pass taken already with [`checkout_status::Options::git_status`]
/// (HEAD's tree, or the tree HEAD resolved to).
pub fn audit_items(repo_root: &Path, items: Vec<gix::status::Item>) -> Result<CheckoutAudit> {
    audit_of(&open(repo_root)?, items)
}

fn audit_of(repo: &gix::Repository, items: Vec<gix::status::Item>) -> Result<CheckoutAudit> {
    let pass = pass_of(repo, items)?;
    Ok(CheckoutAudit {
        status_short: render_short(&pass, quoting(repo, true)),
        diff_stat: super::diffstat::render_stat(repo, &pass.worktree)?,
        diff_name_only: render_name_only(&pass.worktree, quoting(repo, false)),
    })
}

/// `git status --short --untracked-files=all` of the checkout at `repo_root` (repository-relative
/// paths, tracked changes first, then untracked files, each sorted by path).
pub fn status_short(repo_root: &Path) -> Result<String> {
    Ok(audit(repo_root)?.status_short)
}

/// `git diff --name-only` (worktree against index) of the checkout at `repo_root`.
pub fn diff_name_only(repo_root: &Path) -> Result<String> {
    Ok(audit(repo_root)?.diff_name_only)
}

/// What one status pass of a checkout found.
pub(crate) struct StatusPass {
    /// Short-status lines of tracked paths, by path.
    lines: BTreeMap<BString, ShortLine>,
    /// Untracked paths (directories end with `/`).
    untracked: BTreeSet<BString>,
    /// Tracked paths whose worktree version differs from the index, as `git diff` lists them.
    pub(crate) worktree: Vec<WorktreeChange>,
}

/// The audit's reading of the items of a [`checkout_status::Options::git_status`] pass.
pub(crate) fn pass_of(repo: &gix::Repository, items: Vec<gix::status::Item>) -> Result<StatusPass> {
    let mut lines: BTreeMap<BString, ShortLine> = BTreeMap::new();
    let mut untracked: BTreeSet<BString> = BTreeSet::new();
    let mut changes = WorktreeChanges::new();
    for item in items {
        match item {
            gix::status::Item::TreeIndex(change) => record_staged(&mut lines, &change),
            gix::status::Item::IndexWorktree(item) => {
                changes.record(repo, &item)?;
                record_worktree(&mut lines, &mut untracked, item);
            }
        }
    }
    // gix's walk sees a conflicted file (no stage-0 entry) as untracked; git does not list it.
    untracked.retain(|path| !lines.get(path).is_some_and(is_conflict));
    Ok(StatusPass { lines, untracked, worktree: changes.into_sorted() })
}

fn render_short(pass: &StatusPass, quoting: Quoting) -> String {
    let mut out = String::new();
    for (path, line) in &pass.lines {
        out.push(line.staged);
        out.push(line.unstaged);
        out.push(' ');
        if let Some(source) = &line.source {
            out.push_str(&quote_path(source, quoting));
            out.push_str(" -> ");
        }
        out.push_str(&quote_path(path, quoting));
        out.push('\n');
    }
    for path in &pass.untracked {
        out.push_str("?? ");
        out.push_str(&quote_path(path, quoting));
        out.push('\n');
    }
    out
}

fn render_name_only(changes: &[WorktreeChange], quoting: Quoting) -> String {
    let mut out = String::new();
    for change in changes {
        out.push_str(&quote_path(&change.path, quoting));
        out.push('\n');
    }
    out
}

/// Opens the repository of a checkout (its own configuration applies, as for `git status`).
pub(crate) fn open(repo_root: &Path) -> Result<gix::Repository> {
    gix::open(repo_root).with_context(|| format!("opening the repository at {}", repo_root.display()))
}

/// Path quoting as configured (`core.quotePath`), with quoted spaces for the short status.
pub(crate) fn quoting(repo: &gix::Repository, quote_space: bool) -> Quoting {
    Quoting::of(repo, quote_space)
}

/// Tracked paths whose worktree version differs from the index, as `git diff` lists them: once
/// per path, and a conflicted path a second time when its worktree file differs from "our"
/// version (stage 2), compared against that version.
struct WorktreeChanges {
    by_path: BTreeMap<BString, (WorktreeChange, Option<WorktreeChange>)>,
}

impl WorktreeChanges {
    fn new() -> Self {
        WorktreeChanges { by_path: BTreeMap::new() }
    }

    fn record(&mut self, repo: &gix::Repository, item: &WorktreeItem) -> Result<()> {
        let WorktreeItem::Modification { entry, rela_path, status, .. } = item else {
            return Ok(());
        };
        let Some(kind) = worktree_kind(status) else { return Ok(()) };
        // `git diff` does not count untracked files inside a submodule as a change.
        if kind == WorktreeKind::Submodule('?') || self.by_path.contains_key(rela_path) {
            return Ok(());
        }
        let against_ours = match status {
            EntryStatus::Conflict { entries, .. } => entries[1]
                .as_ref()
                .and_then(|ours| against_stage_two(repo, rela_path, ours.id, ours.mode))
                .transpose()?,
            _ => None,
        };
        let change = WorktreeChange { path: rela_path.clone(), kind, index_id: entry.id, index_mode: entry.mode };
        self.by_path.insert(rela_path.clone(), (change, against_ours));
        Ok(())
    }

    /// Sorted by path.
    fn into_sorted(self) -> Vec<WorktreeChange> {
        self.by_path.into_values().flat_map(|(change, follow_up)| std::iter::once(change).chain(follow_up)).collect()
    }
}

/// The change of a conflicted path's worktree file against "our" version, if it differs (compared
/// by raw content, without clean filters).
fn against_stage_two(
    repo: &gix::Repository,
    rela_path: &BString,
    ours_id: gix::ObjectId,
    ours_mode: gix::index::entry::Mode,
) -> Option<Result<WorktreeChange>> {
    let workdir = repo.workdir()?;
    let path = workdir.join(gix::path::from_bstr(rela_path).ok()?);
    let change = |kind| WorktreeChange { path: rela_path.clone(), kind, index_id: ours_id, index_mode: ours_mode };
    let content = match std::fs::symlink_metadata(&path) {
        Err(_) => return Some(Ok(change(WorktreeKind::Deleted))),
        Ok(meta) if meta.file_type().is_symlink() => {
            std::fs::read_link(&path).map(|target| target.into_os_string().into_encoded_bytes())
        }
        Ok(_) => std::fs::read(&path),
    };
    let hashed = content
        .with_context(|| format!("reading {}", path.display()))
        .and_then(|bytes: Vec<u8>| Ok(gix::objs::compute_hash(repo.object_hash(), gix::objs::Kind::Blob, &bytes)?));
    match hashed {
        Ok(id) if id == ours_id => None,
        Ok(_) => Some(Ok(change(WorktreeKind::Modified))),
        Err(err) => Some(Err(err)),
    }
}

fn worktree_kind(status: &EntryStatus<(), gix::submodule::Status>) -> Option<WorktreeKind> {
    Some(match status {
        EntryStatus::Conflict { summary, .. } => WorktreeKind::Conflicted(*summary),
        EntryStatus::Change(Change::Removed) => WorktreeKind::Deleted,
        EntryStatus::Change(Change::Type { .. }) => WorktreeKind::TypeChanged,
        EntryStatus::Change(Change::Modification { .. }) => WorktreeKind::Modified,
        EntryStatus::Change(Change::SubmoduleModification(sub)) => WorktreeKind::Submodule(submodule_letter(sub)?),
        EntryStatus::IntentToAdd => WorktreeKind::IntentToAdd,
        EntryStatus::NeedsUpdate(_) => return None,
    })
}

fn submodule_letter(sub: &gix::submodule::Status) -> Option<char> {
    if sub.checked_out_head_id.is_some() && sub.checked_out_head_id != sub.index_id {
        return Some('M');
    }
    let changes = sub.changes.as_deref().unwrap_or_default();
    let is_untracked = |item: &gix::status::Item| {
        matches!(item, gix::status::Item::IndexWorktree(WorktreeItem::DirectoryContents { entry, .. })
            if entry.status == gix::dir::entry::Status::Untracked)
    };
    if changes.iter().any(|item| !is_untracked(item)) {
        Some('m')
    } else if !changes.is_empty() {
        Some('?')
    } else {
        None
    }
}

fn record_staged(lines: &mut BTreeMap<BString, ShortLine>, change: &gix::diff::index::Change) {
    use gix::diff::index::ChangeRef;
    let (path, letter, source) = match change {
        ChangeRef::Addition { location, .. } => (location, 'A', None),
        ChangeRef::Deletion { location, .. } => (location, 'D', None),
        ChangeRef::Modification { location, previous_entry_mode, entry_mode, .. } => {
            let letter = if type_of(*previous_entry_mode) == type_of(*entry_mode) { 'M' } else { 'T' };
            (location, letter, None)
        }
        ChangeRef::Rewrite { source_location, location, copy, .. } => {
            (location, if *copy { 'C' } else { 'R' }, Some(source_location.as_ref().to_owned()))
        }
    };
    let line = lines.entry(path.as_ref().to_owned()).or_insert(ShortLine { staged: ' ', unstaged: ' ', source: None });
    if !is_conflict(line) {
        line.staged = letter;
        line.source = source;
    }
}

fn record_worktree(lines: &mut BTreeMap<BString, ShortLine>, untracked: &mut BTreeSet<BString>, item: WorktreeItem) {
    match item {
        WorktreeItem::Modification { rela_path, status, .. } => {
            let Some(kind) = worktree_kind(&status) else { return };
            let line = lines.entry(rela_path).or_insert(ShortLine { staged: ' ', unstaged: ' ', source: None });
            let unstaged = match kind {
                WorktreeKind::Modified => 'M',
                WorktreeKind::Deleted => 'D',
                WorktreeKind::TypeChanged => 'T',
                WorktreeKind::IntentToAdd => 'A',
                WorktreeKind::Submodule(letter) => letter,
                WorktreeKind::Conflicted(conflict) => {
                    (line.staged, line.unstaged) = conflict_letters(conflict);
                    line.source = None;
                    return;
                }
            };
            if !is_conflict(line) {
                line.unstaged = unstaged;
            }
        }
        WorktreeItem::DirectoryContents { entry, .. } | WorktreeItem::Rewrite { dirwalk_entry: entry, .. } => {
            if entry.status == gix::dir::entry::Status::Untracked {
                let mut path = entry.rela_path;
                if matches!(entry.disk_kind, Some(gix::dir::entry::Kind::Directory | gix::dir::entry::Kind::Repository))
                {
                    path.push(b'/');
                }
                untracked.insert(path);
            }
        }
    }
}

fn is_conflict(line: &ShortLine) -> bool {
    matches!((line.staged, line.unstaged), ('U', _) | (_, 'U') | ('A', 'A') | ('D', 'D'))
}

fn conflict_letters(conflict: Conflict) -> (char, char) {
    match conflict {
        Conflict::BothDeleted => ('D', 'D'),
        Conflict::AddedByUs => ('A', 'U'),
        Conflict::DeletedByThem => ('U', 'D'),
        Conflict::AddedByThem => ('U', 'A'),
        Conflict::DeletedByUs => ('D', 'U'),
        Conflict::BothAdded => ('A', 'A'),
        Conflict::BothModified => ('U', 'U'),
    }
}

/// File, symlink or submodule: a change between these is a type change (`T`), not `M`.
fn type_of(mode: gix::index::entry::Mode) -> u8 {
    if mode.is_submodule() {
        2
    } else if mode == gix::index::entry::Mode::SYMLINK {
        1
    } else {
        0
    }
}
