//! Turning the difference between two trees into file operations on the user's working tree:
//! deletions first, then files, symlinks and executable bits written through the smudge filters.
//!
//! Only the paths that differ are touched. Every file is written to a temporary name beside it and
//! renamed into place, so a reader never sees half a file. Paths are validated (no `..`, no `.git`
//! component) and nothing is ever written through a symlink or over an untracked or ignored file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::objs::tree::EntryKind;
use gix::ObjectId;

/// One path that differs between two trees: what it becomes (`None`: it is deleted) and whether it
/// existed before (`false`: an addition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathEdit {
    pub path: BString,
    pub target: Option<(EntryKind, ObjectId)>,
    pub existed: bool,
}

impl PathEdit {
    pub fn path_lossy(&self) -> String {
        self.path.to_str_lossy().into_owned()
    }
}

/// The non-tree entries that differ from the tree `from` to the tree `to`, sorted by path.
pub fn path_edits(repo: &gix::Repository, from: ObjectId, to: ObjectId) -> anyhow::Result<Vec<PathEdit>> {
    use gix::object::tree::diff::ChangeDetached as Change;
    let from_tree = repo.find_tree(from).context("cannot read a tree to compare")?;
    let to_tree = repo.find_tree(to).context("cannot read a tree to compare")?;
    let options = gix::diff::Options::default().with_rewrites(None);
    let changes = repo.diff_tree_to_tree(&from_tree, &to_tree, options).context("cannot compare two trees")?;
    let mut edits = Vec::new();
    for change in changes {
        let (path, before, after) = match change {
            Change::Addition { location, entry_mode, id, .. } => (location, None, Some((entry_mode, id))),
            Change::Deletion { location, entry_mode, .. } => (location, Some(entry_mode), None),
            Change::Modification { location, previous_entry_mode, entry_mode, id, .. } => {
                (location, Some(previous_entry_mode), Some((entry_mode, id)))
            }
            Change::Rewrite { .. } => anyhow::bail!("unexpected rename in a diff without rename tracking"),
        };
        let existed = before.is_some_and(|mode| !mode.is_tree());
        let target = after.filter(|(mode, _)| !mode.is_tree()).map(|(mode, id)| (mode.kind(), id));
        if existed || target.is_some() {
            edits.push(PathEdit { path, target, existed });
        }
    }
    edits.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(edits)
}

/// The paths of `edits` that cannot be written safely: an invalid path, an untracked or ignored
/// file (or a symlink, or a file where a directory is needed) in the way. Empty when all is well.
pub fn blocked_paths(workdir: &Path, edits: &[PathEdit]) -> Vec<String> {
    let deleted: std::collections::HashSet<&BStr> =
        edits.iter().filter(|edit| edit.existed).map(|edit| edit.path.as_bstr()).collect();
    let mut blocked = Vec::new();
    for edit in edits.iter().filter(|edit| edit.target.is_some()) {
        let in_the_way = validate_path(edit.path.as_bstr()).is_err()
            || (!edit.existed && lstat(workdir, edit.path.as_bstr()).is_some_and(|md| !md.is_dir()))
            || ancestors(edit.path.as_bstr())
                .any(|dir| !deleted.contains(dir) && lstat(workdir, dir).is_some_and(|md| !md.is_dir()));
        if in_the_way {
            blocked.push(edit.path_lossy());
        }
    }
    blocked
}

fn lstat(workdir: &Path, path: &BStr) -> Option<std::fs::Metadata> {
    let path = gix::path::from_bstr(path).ok()?;
    std::fs::symlink_metadata(workdir.join(path)).ok()
}

/// `a`, `a/b` for `a/b/c`.
fn ancestors(path: &BStr) -> impl Iterator<Item = &BStr> {
    path.iter().enumerate().filter(|(_, byte)| **byte == b'/').map(move |(at, _)| path[..at].as_bstr())
}

/// Refuse paths git itself would refuse to check out: empty, `.`, `..`, `.git` (in any case and
/// its NTFS/HFS disguises) components.
fn validate_path(path: &BStr) -> anyhow::Result<()> {
    let options = gix::validate::path::component::Options {
        protect_windows: cfg!(windows),
        protect_hfs: cfg!(target_os = "macos"),
        protect_ntfs: true,
    };
    for component in path.split(|byte| *byte == b'/') {
        gix::validate::path::component(component.as_bstr(), None, options)
            .with_context(|| format!("refusing to write the path {}", path.to_str_lossy()))?;
    }
    Ok(())
}

/// What was written for one path, for updating an index entry afterwards.
#[derive(Debug)]
pub struct Written {
    pub path: BString,
    /// `None` when the path was deleted.
    pub target: Option<(EntryKind, ObjectId)>,
    pub disk_path: PathBuf,
}

/// Apply `edits` to the working tree at `workdir`: deletions (and the directories they leave
/// empty) first, then the files. Call [`blocked_paths`] first.
pub fn write_edits(repo: &gix::Repository, workdir: &Path, edits: &[PathEdit]) -> anyhow::Result<Vec<Written>> {
    let mut written = Vec::new();
    for edit in edits.iter().rev().filter(|edit| edit.existed && edit.target.is_none()) {
        validate_path(edit.path.as_bstr())?;
        let disk_path = disk_path(workdir, edit.path.as_bstr())?;
        remove_entry(workdir, &disk_path)?;
        written.push(Written { path: edit.path.clone(), target: None, disk_path });
    }
    let (mut pipeline, _index) = repo.filter_pipeline(None).context("cannot set up the file filters")?;
    for edit in edits {
        let Some((kind, id)) = edit.target else { continue };
        validate_path(edit.path.as_bstr())?;
        let disk_path = disk_path(workdir, edit.path.as_bstr())?;
        make_parent_dirs(workdir, edit.path.as_bstr())?;
        write_entry(repo, &mut pipeline, edit.path.as_bstr(), &disk_path, kind, id)
            .with_context(|| format!("cannot write {}", disk_path.display()))?;
        written.push(Written { path: edit.path.clone(), target: edit.target, disk_path });
    }
    Ok(written)
}

fn disk_path(workdir: &Path, path: &BStr) -> anyhow::Result<PathBuf> {
    let relative = gix::path::from_bstr(path).with_context(|| format!("{} is no valid path here", path))?;
    Ok(workdir.join(relative))
}

/// Remove a file or symlink, then the directories above it that became empty.
fn remove_entry(workdir: &Path, disk_path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(disk_path) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("cannot delete {}", disk_path.display())),
    }
    let mut dir = disk_path.parent();
    while let Some(current) = dir.filter(|current| *current != workdir && current.starts_with(workdir)) {
        if std::fs::remove_dir(current).is_err() {
            break;
        }
        dir = current.parent();
    }
    Ok(())
}

/// Create the directories above `path`, refusing to pass through a symlink or a file.
fn make_parent_dirs(workdir: &Path, path: &BStr) -> anyhow::Result<()> {
    for dir in ancestors(path) {
        let disk_dir = disk_path(workdir, dir)?;
        match std::fs::symlink_metadata(&disk_dir) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => anyhow::bail!("{} is in the way of a directory", disk_dir.display()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&disk_dir)
                .with_context(|| format!("cannot create the directory {}", disk_dir.display()))?,
            Err(err) => return Err(err).with_context(|| format!("cannot inspect {}", disk_dir.display())),
        }
    }
    Ok(())
}

fn write_entry(
    repo: &gix::Repository,
    pipeline: &mut gix::filter::Pipeline<'_>,
    path: &BStr,
    disk_path: &Path,
    kind: EntryKind,
    id: ObjectId,
) -> anyhow::Result<()> {
    if kind == EntryKind::Commit {
        // A submodule: git leaves an empty directory until the submodule is initialised.
        return match std::fs::symlink_metadata(disk_path) {
            Ok(md) if md.is_dir() => Ok(()),
            _ => {
                remove_empty_dir(disk_path)?;
                std::fs::create_dir(disk_path).context("cannot create the submodule directory")
            }
        };
    }
    let blob = repo.find_blob(id).with_context(|| format!("cannot read the blob {id}"))?;
    remove_empty_dir(disk_path)?;
    let temp = temp_path(disk_path);
    if kind == EntryKind::Link {
        write_symlink(&blob.data, &temp)?;
    } else {
        let options = gix::filter::plumbing::pipeline::convert::to_worktree::Options::default();
        let mut converted =
            pipeline.convert_to_worktree(&blob.data, path, options).context("cannot run the smudge filters")?;
        let mut file = create_file(&temp, kind == EntryKind::BlobExecutable)?;
        let copied = std::io::copy(&mut converted, &mut file).and_then(|_| file.flush());
        if let Err(err) = copied {
            let _ = std::fs::remove_file(&temp);
            return Err(err).context("cannot write the file's contents");
        }
    }
    if let Err(err) = std::fs::rename(&temp, disk_path) {
        let _ = std::fs::remove_file(&temp);
        return Err(err).context("cannot move the new file into place");
    }
    Ok(())
}

/// A directory where a file goes must be empty by now (its tracked contents were deleted).
fn remove_empty_dir(disk_path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(disk_path) {
        Ok(md) if md.is_dir() => std::fs::remove_dir(disk_path)
            .with_context(|| format!("the directory {} is in the way and not empty", disk_path.display())),
        _ => Ok(()),
    }
}

fn temp_path(disk_path: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = disk_path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    disk_path.with_file_name(format!(".{name}.git-dispatch-{}-{count}.tmp", std::process::id()))
}

/// A new file with git's permissions: 0777 or 0666 for an executable or not, less the umask.
fn create_file(path: &Path, executable: bool) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if executable { 0o777 } else { 0o666 });
    options.open(path).with_context(|| format!("cannot create {}", path.display()))
}

fn write_symlink(target: &[u8], link: &Path) -> anyhow::Result<()> {
    let target = gix::path::from_byte_slice(target).context("the symlink's target is no valid path")?;
    std::os::unix::fs::symlink(target, link).with_context(|| format!("cannot create the symlink {}", link.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_of_a_path() {
        let found: Vec<&BStr> = ancestors(b"a/b/c".as_bstr()).collect();
        assert_eq!(found, vec![b"a".as_bstr(), b"a/b".as_bstr()]);
        assert_eq!(ancestors(b"top".as_bstr()).count(), 0);
    }

    #[test]
    fn dangerous_paths_are_refused() {
        for bad in ["../x", "a/../b", ".git/config", "a/.GIT/hooks", "a//b", "./a"] {
            assert!(validate_path(bad.as_bytes().as_bstr()).is_err(), "{bad}");
        }
        for good in ["a", "a/b.txt", "dir with space/x", ".gitignore", ".github/workflows/ci.yml"] {
            assert!(validate_path(good.as_bytes().as_bstr()).is_ok(), "{good}");
        }
    }
}
