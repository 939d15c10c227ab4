//! What the diff and the trees say: the entries the run added or changed (from a diff without
//! rename detection), the base's modes and the deleted paths, and where a symlink really points
//! (following the tree's other symlinks; only then is the whole result tree read).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use gix::bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::objs::tree::EntryMode;
use gix::ObjectId;

use crate::changes::RawChange;

/// Every non-tree entry of a tree, by its full `/`-separated path.
pub type Entries = BTreeMap<BString, (EntryMode, ObjectId)>;

/// How many symlinks a resolution may follow before it counts as a loop (Linux's limit).
const MAX_LINKS: usize = 40;

/// The non-tree entries of the tree of `id` (a commit or a tree).
pub fn entries(repo: &gix::Repository, id: ObjectId) -> anyhow::Result<Entries> {
    let tree = repo
        .find_object(id)
        .with_context(|| format!("reading object {id}"))?
        .peel_to_tree()
        .with_context(|| format!("{id} is not a commit or tree"))?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse().breadthfirst(&mut recorder).with_context(|| format!("walking the tree of {id}"))?;
    Ok(recorder
        .records
        .into_iter()
        .filter(|entry| !entry.mode.is_tree())
        .map(|entry| (entry.filepath, (entry.mode, entry.oid)))
        .collect())
}

/// The result entries that are new or differ (mode or content) from the base entry at their
/// path, from a diff without rename detection.
pub fn touched(diff: &[RawChange]) -> Vec<(BString, EntryMode, ObjectId)> {
    let mut out: Vec<(BString, EntryMode, ObjectId)> = diff
        .iter()
        .filter_map(|change| change.new.as_ref())
        .map(|side| (side.path.clone(), side.mode, side.id))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The base's mode of every path the diff changed or deleted.
pub fn modes_before(diff: &[RawChange]) -> BTreeMap<&BStr, EntryMode> {
    diff.iter().filter_map(|change| change.old.as_ref()).map(|side| (side.path.as_bstr(), side.mode)).collect()
}

/// Base paths the result no longer has, sorted.
pub fn deleted(diff: &[RawChange]) -> Vec<&BString> {
    let present: BTreeSet<&BString> = diff.iter().filter_map(|c| c.new.as_ref()).map(|side| &side.path).collect();
    let mut gone: Vec<&BString> = diff
        .iter()
        .filter_map(|c| c.old.as_ref())
        .map(|side| &side.path)
        .filter(|path| !present.contains(path))
        .collect();
    gone.sort();
    gone.dedup();
    gone
}

/// The targets of all symlinks in `entries`.
pub fn link_targets(repo: &gix::Repository, entries: &Entries) -> anyhow::Result<BTreeMap<BString, BString>> {
    let mut links = BTreeMap::new();
    for (path, (mode, id)) in entries.iter().filter(|(_, (mode, _))| mode.is_link()) {
        debug_assert!(mode.is_link());
        let blob = repo.find_object(*id).with_context(|| format!("reading the symlink target of {path}"))?;
        links.insert(path.clone(), BString::from(blob.data.clone()));
    }
    Ok(links)
}

/// Does the symlink at `link` with `target` resolve outside the tree's root, following the other
/// symlinks of the tree? Absolute targets, `..` above the root and loops count as outside.
pub fn escapes(link: &BStr, target: &BStr, links: &BTreeMap<BString, BString>) -> bool {
    let mut resolved: Vec<BString> = parent_components(link);
    let mut pending: Vec<BString> = Vec::new();
    if push_target(target, &mut pending) {
        return true;
    }
    let mut followed = 0;
    while let Some(component) = pending.pop() {
        match component.as_bytes() {
            b"" | b"." => {}
            b".." => {
                if resolved.pop().is_none() {
                    return true;
                }
            }
            _ => {
                resolved.push(component);
                let here = join(&resolved);
                if let Some(next) = links.get(&here) {
                    followed += 1;
                    resolved.pop();
                    if followed > MAX_LINKS || push_target(next.as_bstr(), &mut pending) {
                        return true;
                    }
                }
            }
        }
    }
    false
}

/// Queue the components of `target` (reversed, as a stack); `true` when the target is absolute.
fn push_target(target: &BStr, pending: &mut Vec<BString>) -> bool {
    if target.starts_with(b"/") {
        return true;
    }
    pending.extend(target.split(|b| *b == b'/').rev().map(BString::from));
    false
}

fn parent_components(path: &BStr) -> Vec<BString> {
    let mut parts: Vec<BString> = path.split(|b| *b == b'/').map(BString::from).collect();
    parts.pop();
    parts
}

fn join(parts: &[BString]) -> BString {
    let mut out = BString::default();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push_byte(b'/');
        }
        out.push_str(part);
    }
    out
}
