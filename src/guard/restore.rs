//! Putting tampered git-dir files back as they were before the run: first a copy of each tampered
//! version goes to `<run_dir>/tampered/<path>` with a `MANIFEST.json`, then created files (and the
//! directories made for them) are removed and modified or deleted files re-written with their old
//! bytes and mode. Stale locks are removed only while they are still the file the guard saw.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::fsmeta::{self, Identity};
use super::gitdir::{self, Content, GitDirSnapshot, GitFile, TamperKind};
use super::packed;

/// One line of `tampered/MANIFEST.json`.
#[derive(Serialize)]
struct ManifestEntry {
    path: String,
    kind: TamperKind,
    type_before: Option<&'static str>,
    type_after: Option<&'static str>,
    sha256_before: Option<String>,
    sha256_after: Option<String>,
    /// Where the tampered version was kept, relative to the run folder.
    copy: Option<String>,
}

/// Keeps the tampered versions under `run_dir/tampered/`, then restores `tampers` in `common_dir`.
pub(crate) fn restore(
    common_dir: &Path,
    before: &GitDirSnapshot,
    after: &GitDirSnapshot,
    tampers: &[(PathBuf, TamperKind)],
    run_dir: &Path,
) -> Result<()> {
    if tampers.is_empty() {
        return Ok(());
    }
    fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    make_real_dirs(run_dir, Path::new("tampered"))?;
    keep_tampered_copies(after, before, tampers, &run_dir.join("tampered"))?;
    for (path, kind) in tampers {
        if *kind == TamperKind::Created || gitdir::is_lock(path) {
            remove_created(common_dir, path, after.files.get(path))?;
        }
    }
    remove_created_dirs(common_dir, before, after);
    let mut unrestorable = Vec::new();
    for (path, kind) in tampers {
        if *kind == TamperKind::Created || gitdir::is_lock(path) {
            continue;
        }
        let Some(old) = before.files.get(path) else {
            if before.dirs.contains(path) {
                make_real_dirs(common_dir, path)?;
            }
            continue;
        };
        if !write_back(common_dir, path, &old.content)? {
            unrestorable.push(gitdir::display_path(path));
        }
    }
    if !unrestorable.is_empty() {
        bail!("could not restore these git-dir entries (not regular files): {}", unrestorable.join(", "));
    }
    Ok(())
}

fn keep_tampered_copies(
    after: &GitDirSnapshot,
    before: &GitDirSnapshot,
    tampers: &[(PathBuf, TamperKind)],
    dir: &Path,
) -> Result<()> {
    let mut manifest = Vec::new();
    for (path, kind) in tampers {
        let old = before.files.get(path).map(|f| &f.content);
        let new = after.files.get(path).map(|f| &f.content);
        let copy = match new {
            Some(content) => Some(keep_copy(dir, path, content)?),
            None => None,
        };
        manifest.push(ManifestEntry {
            path: gitdir::display_path(path),
            kind: *kind,
            type_before: old.map(type_name).or(before.dirs.contains(path).then_some("dir")),
            type_after: new.map(type_name),
            sha256_before: old.map(sha256_hex),
            sha256_after: new.map(sha256_hex),
            copy,
        });
    }
    let json = serde_json::to_vec_pretty(&manifest).context("serializing the tampered manifest")?;
    write_atomically(&dir.join("MANIFEST.json"), &json, 0o644)
}

/// Writes the tampered version as a plain, non-executable file (a symlink as its target's text).
fn keep_copy(dir: &Path, path: &Path, content: &Content) -> Result<String> {
    make_real_dirs(dir, path.parent().unwrap_or(Path::new("")))?;
    write_atomically(&dir.join(path), &content_bytes(content), 0o644)?;
    Ok(format!("tampered/{}", gitdir::display_path(path)))
}

fn type_name(content: &Content) -> &'static str {
    match content {
        Content::File { .. } => "file",
        Content::Symlink { .. } => "symlink",
        Content::Special => "special",
    }
}

fn content_bytes(content: &Content) -> Vec<u8> {
    match content {
        Content::File { bytes, .. } => bytes.clone(),
        Content::Symlink { target } => target.as_os_str().as_encoded_bytes().to_vec(),
        Content::Special => Vec::new(),
    }
}

fn sha256_hex(content: &Content) -> String {
    Sha256::digest(content_bytes(content)).iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes a created file or stale lock, but only while it is still the file the guard saw.
fn remove_created(common_dir: &Path, path: &Path, seen: Option<&GitFile>) -> Result<()> {
    let abs = common_dir.join(path);
    if path == Path::new(packed::FILE_NAME) {
        return restore_packed_refs(common_dir, None);
    }
    let Ok(meta) = fs::symlink_metadata(&abs) else { return Ok(()) };
    if gitdir::is_lock(path) && seen.map(|f| f.identity) != Some(Identity::of(&meta)) {
        return Ok(());
    }
    let removed = if meta.is_dir() { fs::remove_dir_all(&abs) } else { fs::remove_file(&abs) };
    match removed {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", abs.display()))
        }
        _ => Ok(()),
    }
}

/// Removes directories the run created inside tracked areas, deepest first, when they are empty.
fn remove_created_dirs(common_dir: &Path, before: &GitDirSnapshot, after: &GitDirSnapshot) {
    for dir in after.dirs.iter().rev().filter(|dir| !before.dirs.contains(*dir)) {
        // Not empty means it holds something the guard does not own: leave it.
        let _ = fs::remove_dir(common_dir.join(dir));
    }
}

/// Puts `content` back at `path`; `false` if that kind of entry cannot be re-created.
fn write_back(common_dir: &Path, path: &Path, content: &Content) -> Result<bool> {
    if path == Path::new(packed::FILE_NAME) && matches!(content, Content::File { .. }) {
        restore_packed_refs(common_dir, Some(content)).context("restoring packed-refs")?;
        return Ok(true);
    }
    let abs = common_dir.join(path);
    make_real_dirs(common_dir, path.parent().unwrap_or(Path::new("")))?;
    clear_non_file(&abs)?;
    match content {
        Content::File { bytes, mode } => write_atomically(&abs, bytes, *mode)?,
        Content::Symlink { target } => {
            remove_if_present(&abs)?;
            fsmeta::create_symlink(target, &abs)
                .with_context(|| format!("re-creating the symlink {}", abs.display()))?;
        }
        Content::Special => return Ok(false),
    }
    Ok(true)
}

/// Writes packed-refs as before the run, keeping the entries of git-dispatch's own branches as they
/// are now. `before == None` means the file did not exist.
fn restore_packed_refs(common_dir: &Path, before: Option<&Content>) -> Result<()> {
    let abs = common_dir.join(packed::FILE_NAME);
    let current = match fs::read(&abs) {
        Ok(bytes) => Some(bytes),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("reading {}", abs.display())),
    };
    let (before_bytes, mode) = match before {
        Some(Content::File { bytes, mode }) => (Some(bytes.as_slice()), *mode),
        _ => (None, 0o644),
    };
    match packed::merged(before_bytes, current.as_deref()) {
        Some(bytes) => {
            clear_non_file(&abs)?;
            write_atomically(&abs, &bytes, mode)
        }
        None => remove_if_present(&abs),
    }
}

/// Makes every directory of `rel` below `base` a real directory: a symlink or file standing where
/// one belongs is removed first, so that nothing is ever written through a planted symlink.
fn make_real_dirs(base: &Path, rel: &Path) -> Result<()> {
    let mut dir = base.to_path_buf();
    for component in rel.components() {
        dir.push(component);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => fs::remove_file(&dir).with_context(|| format!("removing {}", dir.display()))?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("reading the metadata of {}", dir.display())),
        }
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// Removes a directory standing where a file must go back (its tracked contents were kept already).
fn clear_non_file(abs: &Path) -> Result<()> {
    match fs::symlink_metadata(abs) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(abs).with_context(|| format!("removing {}", abs.display())),
        _ => Ok(()),
    }
}

fn remove_if_present(abs: &Path) -> Result<()> {
    match fs::remove_file(abs) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", abs.display()))
        }
        _ => Ok(()),
    }
}

/// Replaces `path` by a file holding `bytes` with permission bits `mode` (temp file + rename).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".guard-")
        .tempfile_in(parent)
        .with_context(|| format!("creating a temporary file in {}", parent.display()))?;
    temp.write_all(bytes).with_context(|| format!("writing {}", temp.path().display()))?;
    fsmeta::set_permission_bits(temp.path(), mode)
        .with_context(|| format!("setting the mode of {}", temp.path().display()))?;
    temp.persist(path).map_err(|err| err.error).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}
