//! Fingerprint of the user's checkout: a cheap `lstat` record of every non-directory below its root
//! (walked on a few threads by [`crate::walk`], skipping `.git`, `.codex-dispatch` and the given
//! folders) and the hash of its index file.

use std::cmp::Ordering;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::fsmeta::Identity;
use crate::walk::{Step, Walk};

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
    let files = walk(root, skip_dirs).with_context(|| format!("fingerprinting the checkout {}", root.display()))?;
    // The index hashed while the two halves of the list are sorted (on a 100k-file checkout each of
    // the three costs about as much as the others).
    let (files, index_hash) = std::thread::scope(|scope| {
        let hashed = scope.spawn(|| hash_file(index_path));
        let files = sort_by_path(scope, files);
        (files, hashed.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    Ok(CheckoutSnapshot { files, index_hash: index_hash? })
}

/// `files` sorted by path: each half on its own thread, then merged (paths are unique).
fn sort_by_path<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    mut files: Vec<(RelPath, FileStat)>,
) -> Vec<(RelPath, FileStat)> {
    let by_path = |a: &(RelPath, FileStat), b: &(RelPath, FileStat)| a.0.cmp(&b.0);
    let mut upper = files.split_off(files.len() / 2);
    let sorted_upper = scope.spawn(move || {
        upper.sort_unstable_by(by_path);
        upper
    });
    files.sort_unstable_by(by_path);
    let upper = sorted_upper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let mut merged = Vec::with_capacity(files.len() + upper.len());
    let (mut lower, mut upper) = (files.into_iter().peekable(), upper.into_iter().peekable());
    loop {
        let take_lower = match (lower.peek(), upper.peek()) {
            (Some(a), Some(b)) => a.0 < b.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        merged.extend(if take_lower { lower.next() } else { upper.next() });
    }
    merged
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

fn stat_of(path: &Path, stat: &nix::sys::stat::FileStat) -> FileStat {
    let kind = match stat.st_mode & nix::libc::S_IFMT {
        nix::libc::S_IFLNK => FileKind::Symlink,
        nix::libc::S_IFREG => FileKind::File,
        _ => FileKind::Other,
    };
    let link_target = (kind == FileKind::Symlink).then(|| fs::read_link(path).unwrap_or_default());
    FileStat {
        kind,
        size: stat.st_size as u64,
        mode: stat.st_mode & 0o7777,
        links: stat.st_nlink,
        identity: Identity::of_stat(stat),
        link_target,
    }
}

/// Every non-directory below `root` with its stat record, on a few threads; folders that vanish
/// or may not be read meanwhile hold nothing, any other failure to read is an error.
fn walk(root: &Path, skip_dirs: &[PathBuf]) -> Result<Vec<(RelPath, FileStat)>> {
    Walk::new(root).parallel().try_collect(|found, files| {
        let entry = match found {
            Ok(entry) => entry,
            Err(err) if err.is_gone_or_denied() => return Ok(Step::Continue),
            Err(err) => return Err(err).context("listing a folder"),
        };
        let name = entry.name();
        if SKIPPED_NAMES.iter().any(|skipped| name == *skipped) {
            return Ok(Step::Prune);
        }
        if entry.is_dir() {
            let skipped = skip_dirs.iter().any(|dir| dir == entry.path());
            return Ok(if skipped { Step::Prune } else { Step::Continue });
        }
        let meta = match entry.lstat() {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Step::Continue),
            Err(err) => return Err(err).with_context(|| format!("reading the metadata of {}", entry.path().display())),
        };
        files.push((entry.rela().as_os_str().as_encoded_bytes().to_vec(), stat_of(entry.path(), &meta)));
        Ok(Step::Continue)
    })
}
