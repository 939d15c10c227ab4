//! The result tree read only where the run touched it: the directories on the way to each
//! touched path (case-insensitively, for collisions) and the directories holding a touched
//! `HEAD`, `config`, `objects/` or `refs/` (for bare repositories). At 100k files this reads a
//! handful of tree objects instead of all of them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Context as _;
use gix::bstr::{BStr, BString, ByteSlice, ByteVec};
use gix::objs::tree::EntryMode;
use gix::ObjectId;

use super::names;

/// One entry of a directory: name, mode, id.
type DirEntry = (BString, EntryMode, ObjectId);

/// Directories of one tree by path, read on demand and kept.
pub struct TreeReader<'r> {
    repo: &'r gix::Repository,
    dirs: HashMap<BString, Option<Vec<DirEntry>>>,
}

impl<'r> TreeReader<'r> {
    /// A reader of the tree of `id` (a commit or a tree).
    pub fn new(repo: &'r gix::Repository, id: ObjectId) -> anyhow::Result<Self> {
        let tree = repo
            .find_object(id)
            .with_context(|| format!("reading object {id}"))?
            .peel_to_tree()
            .with_context(|| format!("{id} is not a commit or tree"))?;
        let mut dirs = HashMap::new();
        dirs.insert(BString::default(), Some(decode(&tree)?));
        Ok(TreeReader { repo, dirs })
    }

    /// The entries of the directory at `path` (`""` is the root), `None` when there is none.
    pub fn dir(&mut self, path: &BStr) -> anyhow::Result<Option<&[DirEntry]>> {
        if !self.dirs.contains_key(path) {
            let entries = self.read(path)?;
            self.dirs.insert(path.to_owned(), entries);
        }
        Ok(self.dirs[path].as_deref())
    }

    fn read(&mut self, path: &BStr) -> anyhow::Result<Option<Vec<DirEntry>>> {
        let (parent, name) = match path.rfind_byte(b'/') {
            Some(pos) => (path[..pos].as_bstr(), path[pos + 1..].as_bstr()),
            None => (b"".as_bstr(), path),
        };
        let Some(id) = self
            .dir(parent)?
            .and_then(|entries| entries.iter().find(|(n, mode, _)| n == name && mode.is_tree()).map(|(_, _, id)| *id))
        else {
            return Ok(None);
        };
        let tree = self.repo.find_tree(id).with_context(|| format!("reading tree {id} at {path}"))?;
        Ok(Some(decode(&tree)?))
    }
}

fn decode(tree: &gix::Tree<'_>) -> anyhow::Result<Vec<DirEntry>> {
    let decoded = tree.decode().with_context(|| format!("decoding tree {}", tree.id))?;
    Ok(decoded.entries.iter().map(|e| (e.filename.to_owned(), e.mode, e.oid.to_owned())).collect())
}

fn join(dir: &BStr, name: &BStr) -> BString {
    let mut out = dir.to_owned();
    if !out.is_empty() {
        out.push_byte(b'/');
    }
    out.push_str(name);
    out
}

/// Groups of result paths equal under case folding where at least one path was touched, each
/// sorted, the groups in order of their folded key.
pub fn case_collisions(reader: &mut TreeReader<'_>, touched: &BTreeSet<&BString>) -> anyhow::Result<Vec<Vec<BString>>> {
    let mut groups: BTreeMap<String, BTreeSet<BString>> = BTreeMap::new();
    for path in touched {
        let key = names::fold(path.as_bstr());
        if groups.contains_key(&key) {
            continue;
        }
        let found = folded_matches(reader, path.as_bstr())?;
        groups.insert(key, found);
    }
    Ok(groups.into_values().filter(|group| group.len() > 1).map(|group| group.into_iter().collect()).collect())
}

/// Every non-tree path of the tree that folds to the same key as `path`.
fn folded_matches(reader: &mut TreeReader<'_>, path: &BStr) -> anyhow::Result<BTreeSet<BString>> {
    let components: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
    let Some((last, dirs)) = components.split_last() else { return Ok(BTreeSet::new()) };
    let mut here: Vec<BString> = vec![BString::default()];
    for component in dirs {
        let key = names::fold(component.as_bstr());
        let mut next = Vec::new();
        for dir in &here {
            let Some(entries) = reader.dir(dir.as_bstr())? else { continue };
            for (name, mode, _) in entries {
                if mode.is_tree() && names::fold(name.as_bstr()) == key {
                    next.push(join(dir.as_bstr(), name.as_bstr()));
                }
            }
        }
        here = next;
    }
    let key = names::fold(last.as_bstr());
    let mut found = BTreeSet::new();
    for dir in &here {
        let Some(entries) = reader.dir(dir.as_bstr())? else { continue };
        for (name, mode, _) in entries {
            if !mode.is_tree() && names::fold(name.as_bstr()) == key {
                found.insert(join(dir.as_bstr(), name.as_bstr()));
            }
        }
    }
    Ok(found)
}

/// Directories of the result that hold a bare repository as plain files (a `HEAD` file, a
/// non-empty `objects/` and `refs/`) where the run touched `HEAD`, `config` or something below
/// `objects/` or `refs/` in it; `""` is the root. Sorted.
pub fn bare_repositories(reader: &mut TreeReader<'_>, touched: &BTreeSet<&BString>) -> anyhow::Result<Vec<BString>> {
    let mut candidates: BTreeSet<BString> = BTreeSet::new();
    for path in touched {
        let mut start = 0;
        loop {
            let rest = &path[start..];
            let dir = if start == 0 { b"".as_bstr() } else { path[..start - 1].as_bstr() };
            if rest == b"HEAD" || rest == b"config" || rest.starts_with(b"objects/") || rest.starts_with(b"refs/") {
                candidates.insert(dir.to_owned());
            }
            match rest.find_byte(b'/') {
                Some(slash) => start += slash + 1,
                None => break,
            }
        }
    }
    let mut found = Vec::new();
    for dir in candidates {
        let Some(entries) = reader.dir(dir.as_bstr())? else { continue };
        let has_head = entries.iter().any(|(name, mode, _)| !mode.is_tree() && name.eq_ignore_ascii_case(b"HEAD"));
        let has_tree = |wanted: &[u8]| entries.iter().any(|(name, mode, _)| mode.is_tree() && name == wanted);
        if has_head && has_tree(b"objects") && has_tree(b"refs") {
            found.push(dir);
        }
    }
    Ok(found)
}
