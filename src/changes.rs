//! The exact changed-path set between the base commit and the result commit (tree diff with
//! rename detection), as a sorted list of typed changes.

use anyhow::Context as _;
use gix::bstr::{BString, ByteSlice};
use gix::objs::tree::{EntryKind, EntryMode};
use gix::ObjectId;
use serde::Serialize;

/// What happened to one path between base and result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
    /// file <-> symlink <-> submodule
    TypeChanged,
    /// only the executable bit changed; content and mode both changed is `Modified`
    ModeChanged,
}

/// One changed path. Paths are repository-relative, `/`-separated; a name that is not valid UTF-8
/// is shown lossily here (the patch keeps the real bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: String,
    pub status: ChangeStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// git's octal mode string, e.g. "100644", "100755", "120000", "160000"
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_after: Option<String>,
    /// true when the path (or old path) was not valid UTF-8
    #[serde(skip)]
    pub lossy_path: bool,
}

/// One side of a change: a non-tree entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub path: BString,
    pub mode: EntryMode,
    pub id: ObjectId,
}

/// A change between two trees with the raw bytes of its paths (directories dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct RawChange {
    pub status: ChangeStatus,
    pub old: Option<Side>,
    pub new: Option<Side>,
    /// For renames: git-style similarity in percent (100 when the content is identical).
    pub similarity: Option<u8>,
}

impl RawChange {
    /// The path the change is sorted and reported by (the new path, or the old one for deletions).
    pub fn path(&self) -> &BString {
        match (&self.new, &self.old) {
            (Some(side), _) | (None, Some(side)) => &side.path,
            (None, None) => unreachable!("a change has at least one side"),
        }
    }
}

/// The rename detection used for the changed set and the patch: git's `-M` default (50%, empty
/// files included as git does), no copies.
pub fn rewrites() -> gix::diff::Rewrites {
    gix::diff::Rewrites { copies: None, percentage: Some(0.5), limit: 1000, track_empty: true }
}

/// The changes from `base` to `result` (commits or trees), sorted by path bytes.
pub fn changed_set(repo: &gix::Repository, base: ObjectId, result: ObjectId) -> anyhow::Result<Vec<Change>> {
    Ok(from_raw(&raw_changes(repo, base, result)?))
}

/// The typed changes of already computed raw changes (same order).
pub fn from_raw(raw: &[RawChange]) -> Vec<Change> {
    raw.iter().map(to_change).collect()
}

/// The raw changes from `base` to `result` (commits or trees), sorted by path bytes.
pub fn raw_changes(repo: &gix::Repository, base: ObjectId, result: ObjectId) -> anyhow::Result<Vec<RawChange>> {
    raw_changes_with(repo, base, result, Some(rewrites()))
}

/// [`raw_changes`] without rename detection: every change is an addition, a deletion or a
/// modification at one path (what path-by-path checks want).
pub fn raw_changes_without_renames(
    repo: &gix::Repository,
    base: ObjectId,
    result: ObjectId,
) -> anyhow::Result<Vec<RawChange>> {
    raw_changes_with(repo, base, result, None)
}

fn raw_changes_with(
    repo: &gix::Repository,
    base: ObjectId,
    result: ObjectId,
    rewrites: Option<gix::diff::Rewrites>,
) -> anyhow::Result<Vec<RawChange>> {
    let old = tree_of(repo, base)?;
    let new = tree_of(repo, result)?;
    let detached = tree_diff(repo, &old, &new, rewrites)?;
    let mut changes: Vec<RawChange> = detached.into_iter().flat_map(from_detached).collect();
    changes.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(changes)
}

/// `diff_tree_to_tree` without the index: gix's own version builds attributes from the main
/// checkout's index (or, lacking one, an index of HEAD), which costs more than the diff itself.
fn tree_diff(
    repo: &gix::Repository,
    old: &gix::Tree<'_>,
    new: &gix::Tree<'_>,
    rewrites: Option<gix::diff::Rewrites>,
) -> anyhow::Result<Vec<gix::object::tree::diff::ChangeDetached>> {
    use gix::worktree::stack::state::attributes::Source;
    let no_index = gix::index::State::new(repo.object_hash());
    let attributes = repo.attributes_only(&no_index, Source::IdMapping).context("reading attributes")?.detach();
    let mut cache =
        gix::diff::resource_cache(repo, gix::diff::blob::pipeline::Mode::ToGit, attributes, Default::default())
            .context("preparing the diff cache")?;
    let options =
        gix::diff::tree_with_rewrites::Options { location: Some(gix::diff::tree::recorder::Location::Path), rewrites };
    let mut out = Vec::new();
    gix::diff::tree_with_rewrites(
        gix::objs::TreeRefIter::from_bytes(&old.data, old.id.kind()),
        gix::objs::TreeRefIter::from_bytes(&new.data, new.id.kind()),
        &mut cache,
        &mut Default::default(),
        &repo.objects,
        |change| {
            out.push(change.into_owned());
            Ok(std::ops::ControlFlow::Continue(()))
        },
        options,
    )
    .map_err(|err| anyhow::anyhow!("{err}"))
    .context("diffing base and result trees")?;
    Ok(out)
}

fn tree_of(repo: &gix::Repository, id: ObjectId) -> anyhow::Result<gix::Tree<'_>> {
    repo.find_object(id)
        .with_context(|| format!("reading object {id}"))?
        .peel_to_tree()
        .with_context(|| format!("{id} is not a commit or tree"))
}

fn side(path: &BString, mode: EntryMode, id: ObjectId) -> Option<Side> {
    (!mode.is_tree()).then(|| Side { path: path.clone(), mode, id })
}

fn from_detached(change: gix::object::tree::diff::ChangeDetached) -> Vec<RawChange> {
    use gix::object::tree::diff::ChangeDetached as C;
    let one = |status, old, new| vec![RawChange { status, old, new, similarity: None }];
    match change {
        C::Addition { location, entry_mode, id, .. } => match side(&location, entry_mode, id) {
            Some(new) => one(ChangeStatus::Added, None, Some(new)),
            None => Vec::new(),
        },
        C::Deletion { location, entry_mode, id, .. } => match side(&location, entry_mode, id) {
            Some(old) => one(ChangeStatus::Deleted, Some(old), None),
            None => Vec::new(),
        },
        C::Modification { location, previous_entry_mode, previous_id, entry_mode, id } => {
            let old = side(&location, previous_entry_mode, previous_id);
            let new = side(&location, entry_mode, id);
            match (old, new) {
                (Some(old), Some(new)) => one(modification_status(&old, &new), Some(old), Some(new)),
                (Some(old), None) => one(ChangeStatus::Deleted, Some(old), None),
                (None, Some(new)) => one(ChangeStatus::Added, None, Some(new)),
                (None, None) => Vec::new(),
            }
        }
        C::Rewrite { source_location, source_entry_mode, source_id, diff, entry_mode, id, location, .. } => {
            let similarity = diff.map_or(100, |d| (d.similarity * 100.0).floor().clamp(0.0, 100.0) as u8);
            vec![RawChange {
                status: ChangeStatus::Renamed,
                old: side(&source_location, source_entry_mode, source_id),
                new: side(&location, entry_mode, id),
                similarity: Some(similarity),
            }]
        }
    }
}

/// Which kind of object an entry is, for type changes (the executable bit is not a type).
fn type_class(mode: EntryMode) -> u8 {
    match mode.kind() {
        EntryKind::Blob | EntryKind::BlobExecutable => 0,
        EntryKind::Link => 1,
        EntryKind::Commit => 2,
        EntryKind::Tree => 3,
    }
}

fn modification_status(old: &Side, new: &Side) -> ChangeStatus {
    if type_class(old.mode) != type_class(new.mode) {
        ChangeStatus::TypeChanged
    } else if old.id == new.id && old.mode != new.mode {
        ChangeStatus::ModeChanged
    } else {
        ChangeStatus::Modified
    }
}

/// git's octal mode string of an entry.
pub fn mode_string(mode: EntryMode) -> String {
    mode.kind().as_octal_str().to_string()
}

fn to_change(raw: &RawChange) -> Change {
    let lossy = |p: &BString| p.to_str().is_err();
    let lossy_path =
        raw.new.as_ref().is_some_and(|s| lossy(&s.path)) || raw.old.as_ref().is_some_and(|s| lossy(&s.path));
    let old_path = match raw.status {
        ChangeStatus::Renamed => raw.old.as_ref().map(|s| s.path.to_str_lossy().into_owned()),
        _ => None,
    };
    Change {
        path: raw.path().to_str_lossy().into_owned(),
        status: raw.status,
        old_path,
        mode_before: raw.old.as_ref().map(|s| mode_string(s.mode)),
        mode_after: raw.new.as_ref().map(|s| mode_string(s.mode)),
        lossy_path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side_with(mode: EntryKind, id: u8) -> Side {
        Side { path: "p".into(), mode: mode.into(), id: ObjectId::from_bytes_or_panic(&[id; 20]) }
    }

    #[test]
    fn classifies_modifications() {
        use EntryKind::*;
        let status = |a, ia, b, ib| modification_status(&side_with(a, ia), &side_with(b, ib));
        assert_eq!(status(Blob, 1, Blob, 2), ChangeStatus::Modified);
        assert_eq!(status(Blob, 1, BlobExecutable, 1), ChangeStatus::ModeChanged);
        assert_eq!(status(Blob, 1, BlobExecutable, 2), ChangeStatus::Modified);
        assert_eq!(status(Blob, 1, Link, 1), ChangeStatus::TypeChanged);
        assert_eq!(status(Link, 1, Commit, 2), ChangeStatus::TypeChanged);
    }

    #[test]
    fn serializes_with_kebab_case_and_omits_empty_fields() {
        let change = Change {
            path: "a".into(),
            status: ChangeStatus::TypeChanged,
            old_path: None,
            mode_before: Some("100644".into()),
            mode_after: Some("120000".into()),
            lossy_path: false,
        };
        assert_eq!(
            serde_json::to_string(&change).unwrap(),
            r#"{"path":"a","status":"type-changed","mode_before":"100644","mode_after":"120000"}"#
        );
        assert_eq!(mode_string(EntryKind::Commit.into()), "160000");
    }
}
