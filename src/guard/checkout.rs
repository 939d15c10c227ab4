//! Fingerprint of the user's checkout: a cheap `lstat` record of every non-directory below its root
//! (walked on a few threads, skipping `.git`, `.codex-dispatch` and the given folders) and the hash
//! of its index file.

use std::cmp::Ordering;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::fsmeta::{self, Identity};

/// Directory names skipped at any depth: git dirs (or `.git` files) and the run folders.
const SKIPPED_NAMES: [&str; 2] = [".git", ".codex-dispatch"];

/// What `lstat` says about one file of the checkout (plus its target for a symlink).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileStat {
    kind: FileKind,
    size: u64,
    mode: u32,
    links: u64,
    identity: Identity,
    link_target: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileKind {
    File,
    Symlink,
    Other,
}

/// A repository-relative path as bytes, `/` separated.
type RelPath = Vec<u8>;

/// The user's checkout at one moment.
#[derive(Clone, Debug, Default)]
pub(crate) struct CheckoutSnapshot {
    /// Repository-relative paths with their stat records, sorted by path.
    pub(crate) files: Vec<(RelPath, FileStat)>,
    /// SHA-256 of the index file, `None` if there is none.
    pub(crate) index_hash: Option<[u8; 32]>,
}

/// Records every file below `root` (except in `skip_dirs`) and hashes the index at `index_path`.
pub(crate) fn capture(root: &Path, skip_dirs: &[PathBuf], index_path: &Path) -> Result<CheckoutSnapshot> {
    let mut files = walk(root, skip_dirs).with_context(|| format!("fingerprinting the checkout {}", root.display()))?;
    files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let index_hash = hash_file(index_path)?;
    Ok(CheckoutSnapshot { files, index_hash })
}

/// The repository-relative paths whose record differs, sorted, then `<index>` if the index changed.
pub(crate) fn compare(before: &CheckoutSnapshot, after: &CheckoutSnapshot) -> Vec<String> {
    let mut changed = Vec::new();
    let (mut old, mut new) = (before.files.iter().peekable(), after.files.iter().peekable());
    loop {
        let order = match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => a.0.cmp(&b.0),
        };
        let (path, differs) = match order {
            Ordering::Less => (&old.next().expect("peeked").0, true),
            Ordering::Greater => (&new.next().expect("peeked").0, true),
            Ordering::Equal => {
                let (a, b) = (old.next().expect("peeked"), new.next().expect("peeked"));
                (&a.0, a.1 != b.1)
            }
        };
        if differs {
            changed.push(String::from_utf8_lossy(path).into_owned());
        }
    }
    if before.index_hash != after.index_hash {
        changed.push("<index>".to_string());
    }
    changed
}

fn hash_file(path: &Path) -> Result<Option<[u8; 32]>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(Sha256::digest(&bytes).into())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading the index {}", path.display())),
    }
}

fn stat_of(entry: &fs::DirEntry, meta: &Metadata) -> FileStat {
    let kind = if meta.file_type().is_symlink() {
        FileKind::Symlink
    } else if meta.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    };
    let link_target = (kind == FileKind::Symlink).then(|| fs::read_link(entry.path()).unwrap_or_default());
    FileStat {
        kind,
        size: meta.len(),
        mode: fsmeta::permission_bits(meta),
        links: fsmeta::link_count(meta),
        identity: Identity::of(meta),
        link_target,
    }
}

/// Work shared by the walking threads: directories still to list, and how many are being listed.
struct Queue {
    pending: Vec<(PathBuf, RelPath)>,
    busy: usize,
}

fn walk(root: &Path, skip_dirs: &[PathBuf]) -> Result<Vec<(RelPath, FileStat)>> {
    let queue = Mutex::new(Queue { pending: vec![(root.to_path_buf(), RelPath::new())], busy: 0 });
    let wake = Condvar::new();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
    let results: Vec<Result<Vec<(RelPath, FileStat)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(|| walk_worker(&queue, &wake, skip_dirs))).collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a walker panicked")))).collect()
    });
    let mut files = Vec::new();
    for result in results {
        files.extend(result?);
    }
    Ok(files)
}

fn walk_worker(queue: &Mutex<Queue>, wake: &Condvar, skip_dirs: &[PathBuf]) -> Result<Vec<(RelPath, FileStat)>> {
    let mut found = Vec::new();
    loop {
        let (abs, rel) = {
            let mut q = queue.lock().map_err(|_| anyhow::anyhow!("walk queue poisoned"))?;
            loop {
                if let Some(next) = q.pending.pop() {
                    q.busy += 1;
                    break next;
                }
                if q.busy == 0 {
                    wake.notify_all();
                    return Ok(found);
                }
                q = wake.wait(q).map_err(|_| anyhow::anyhow!("walk queue poisoned"))?;
            }
        };
        let listed = list_dir(&abs, &rel, skip_dirs, &mut found);
        let mut q = queue.lock().map_err(|_| anyhow::anyhow!("walk queue poisoned"))?;
        q.busy -= 1;
        match listed {
            Ok(subdirs) => q.pending.extend(subdirs),
            Err(err) => {
                // Leave the queue consistent so the other walkers finish, then report.
                wake.notify_all();
                return Err(err);
            }
        }
        wake.notify_all();
    }
}

/// Records the files of one directory and returns its subdirectories to walk.
fn list_dir(
    abs: &Path,
    rel: &[u8],
    skip_dirs: &[PathBuf],
    found: &mut Vec<(RelPath, FileStat)>,
) -> Result<Vec<(PathBuf, RelPath)>> {
    let entries = match fs::read_dir(abs) {
        Ok(entries) => entries,
        // Gone meanwhile, or not ours to read: nothing to record below it.
        Err(err) if matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied) => {
            return Ok(Vec::new());
        }
        Err(err) => return Err(err).with_context(|| format!("listing {}", abs.display())),
    };
    let mut subdirs = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", abs.display()))?;
        let name = entry.file_name();
        if SKIPPED_NAMES.iter().any(|skipped| name == *skipped) {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).with_context(|| format!("reading the metadata of {}", entry.path().display())),
        };
        let mut rel_child = Vec::with_capacity(rel.len() + 1 + name.len());
        if !rel.is_empty() {
            rel_child.extend_from_slice(rel);
            rel_child.push(b'/');
        }
        rel_child.extend_from_slice(name.as_encoded_bytes());
        if meta.is_dir() {
            let path = entry.path();
            if !skip_dirs.contains(&path) {
                subdirs.push((path, rel_child));
            }
        } else {
            found.push((rel_child, stat_of(&entry, &meta)));
        }
    }
    Ok(subdirs)
}
