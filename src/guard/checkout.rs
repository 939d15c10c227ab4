//! Fingerprint of the user's checkout: a cheap `lstat` record of every non-directory below its root
//! (walked on a few threads, skipping `.git`, `.codex-dispatch` and the given folders) and the hash
//! of its index file.

use std::collections::HashMap;
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

/// The user's checkout at one moment.
#[derive(Clone, Debug, Default)]
pub(crate) struct CheckoutSnapshot {
    /// Repository-relative path -> its stat record.
    pub(crate) files: HashMap<PathBuf, FileStat>,
    /// SHA-256 of the index file, `None` if there is none.
    pub(crate) index_hash: Option<[u8; 32]>,
}

/// Records every file below `root` (except in `skip_dirs`) and hashes the index at `index_path`.
pub(crate) fn capture(root: &Path, skip_dirs: &[PathBuf], index_path: &Path) -> Result<CheckoutSnapshot> {
    let files = walk(root, skip_dirs).with_context(|| format!("fingerprinting the checkout {}", root.display()))?;
    let index_hash = hash_file(index_path)?;
    Ok(CheckoutSnapshot { files, index_hash })
}

/// The repository-relative paths whose record differs, sorted, then `<index>` if the index changed.
pub(crate) fn compare(before: &CheckoutSnapshot, after: &CheckoutSnapshot) -> Vec<String> {
    let mut changed: Vec<String> = before
        .files
        .iter()
        .filter(|(path, stat)| after.files.get(*path) != Some(stat))
        .map(|(path, _)| path)
        .chain(after.files.keys().filter(|path| !before.files.contains_key(*path)))
        .map(|path| super::gitdir::display_path(path))
        .collect();
    changed.sort();
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

fn stat_of(path: &Path, meta: &Metadata) -> FileStat {
    let kind = if meta.file_type().is_symlink() {
        FileKind::Symlink
    } else if meta.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    };
    let link_target = (kind == FileKind::Symlink).then(|| fs::read_link(path).unwrap_or_default());
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
    pending: Vec<(PathBuf, PathBuf)>,
    busy: usize,
}

fn walk(root: &Path, skip_dirs: &[PathBuf]) -> Result<HashMap<PathBuf, FileStat>> {
    let queue = Mutex::new(Queue { pending: vec![(root.to_path_buf(), PathBuf::new())], busy: 0 });
    let wake = Condvar::new();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
    let results: Vec<Result<Vec<(PathBuf, FileStat)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(|| walk_worker(&queue, &wake, skip_dirs))).collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a walker panicked")))).collect()
    });
    let mut files = HashMap::new();
    for result in results {
        files.extend(result?);
    }
    Ok(files)
}

fn walk_worker(queue: &Mutex<Queue>, wake: &Condvar, skip_dirs: &[PathBuf]) -> Result<Vec<(PathBuf, FileStat)>> {
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
    rel: &Path,
    skip_dirs: &[PathBuf],
    found: &mut Vec<(PathBuf, FileStat)>,
) -> Result<Vec<(PathBuf, PathBuf)>> {
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
        let path = entry.path();
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).with_context(|| format!("reading the metadata of {}", path.display())),
        };
        if meta.is_dir() {
            if !skip_dirs.contains(&path) {
                subdirs.push((path, rel.join(&name)));
            }
        } else {
            found.push((rel.join(&name), stat_of(&path, &meta)));
        }
    }
    Ok(subdirs)
}
