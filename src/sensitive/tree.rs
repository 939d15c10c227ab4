//! What the base and result trees say: every non-tree entry by path, the entries the run added or
//! changed, where a symlink really points (following the tree's other symlinks), bare repositories
//! committed as plain files, and paths that collide under case folding.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use gix::bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::objs::tree::EntryMode;
use gix::ObjectId;

use super::names;

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

/// The result entries that are new or differ (mode or content) from the base entry at their path.
pub fn touched<'a>(before: &Entries, after: &'a Entries) -> Vec<(&'a BString, EntryMode, ObjectId)> {
    after
        .iter()
        .filter(|(path, entry)| before.get(*path) != Some(entry))
        .map(|(path, (mode, id))| (path, *mode, *id))
        .collect()
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

/// Directories of the result that hold a bare repository as plain files (`HEAD`, something below
/// `objects/` and below `refs/`) where the run touched one of those (or `config`); `""` is the root.
pub fn bare_repositories(after: &Entries, touched: &BTreeSet<&BString>) -> Vec<BString> {
    let mut found = Vec::new();
    for path in after.keys() {
        let (dir, name) = match path.rfind_byte(b'/') {
            Some(pos) => (path[..pos].as_bstr(), path[pos + 1..].as_bstr()),
            None => (b"".as_bstr(), path.as_bstr()),
        };
        if !name.eq_ignore_ascii_case(b"HEAD") {
            continue;
        }
        let prefix = |sub: &str| if dir.is_empty() { sub.to_string() } else { format!("{dir}/{sub}") };
        let has_under = |sub: &str| {
            let start = BString::from(prefix(sub));
            after.range(start.clone()..).next().is_some_and(|(p, _)| p.starts_with(&start))
        };
        let parts = [prefix("HEAD"), prefix("config"), prefix("objects/"), prefix("refs/")];
        let touched_inside = touched.iter().any(|p| {
            parts.iter().any(|part| if part.ends_with('/') { p.starts_with(part.as_bytes()) } else { *p == part })
        });
        if has_under("objects/") && has_under("refs/") && touched_inside {
            found.push(dir.to_owned());
        }
    }
    found
}

/// Groups of result paths equal under case folding where at least one path was touched.
pub fn case_collisions(after: &Entries, touched: &BTreeSet<&BString>) -> Vec<Vec<BString>> {
    let mut by_key: BTreeMap<String, Vec<&BString>> = BTreeMap::new();
    for path in after.keys() {
        by_key.entry(names::fold(path.as_bstr())).or_default().push(path);
    }
    by_key
        .into_values()
        .filter(|group| group.len() > 1 && group.iter().any(|path| touched.contains(path)))
        .map(|group| group.into_iter().cloned().collect())
        .collect()
}
