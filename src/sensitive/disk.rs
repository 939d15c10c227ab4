//! What only the worktree on disk shows: repositories planted inside it (a `.git` directory or
//! file below the root, or a bare repository's `HEAD` + `objects/` + `refs/`), special files
//! (FIFOs, sockets, device nodes: git's status never lists them), files that share
//! their inode with another file (hard links), and ignored symlinks that lead out of the worktree.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Component, Path, PathBuf};

/// A repository found inside the worktree: its directory relative to the worktree, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    pub path: String,
    pub why: &'static str,
}

/// What a walk of the worktree found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnDisk {
    pub planted: Vec<Planted>,
    /// FIFOs, sockets and device nodes (ignored folders included), relative paths, sorted.
    pub special: Vec<String>,
}

/// Walk the worktree (symlinks not followed, the worktree's own `.git` skipped) for planted
/// repositories (a repository found is not searched further) and special files, which git's
/// status never reports. Unreadable directories are skipped.
pub fn walk(worktree: &Path) -> OnDisk {
    let mut found = OnDisk::default();
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(rela) = stack.pop() {
        let dir = worktree.join(&rela);
        if !rela.as_os_str().is_empty() && looks_bare(&dir) {
            found.planted.push(Planted { path: display(&rela), why: "a bare repository (HEAD, objects/, refs/)" });
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let child = rela.join(&name);
            let is_git = name.as_encoded_bytes().eq_ignore_ascii_case(b".git");
            let own_git = rela.as_os_str().is_empty() && name == ".git";
            let kind = entry.file_type().ok();
            if is_git && !own_git {
                found.planted.push(Planted { path: display(&child), why: "a `.git` entry below the worktree's root" });
            } else if !is_git && kind.is_some_and(|kind| kind.is_dir()) {
                stack.push(child);
            } else if kind.is_some_and(is_special) {
                found.special.push(display(&child));
            }
        }
    }
    found.planted.sort_by(|a, b| a.path.cmp(&b.path));
    found.special.sort();
    found
}

fn is_special(kind: std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    kind.is_fifo() || kind.is_socket() || kind.is_block_device() || kind.is_char_device()
}

/// A directory git would take for a bare repository: a `HEAD` file, `objects/` and `refs/`.
fn looks_bare(dir: &Path) -> bool {
    let is = |name: &str, dir_wanted: bool| {
        std::fs::symlink_metadata(dir.join(name)).is_ok_and(|md| md.is_dir() == dir_wanted)
    };
    is("HEAD", false) && is("objects", true) && is("refs", true)
}

fn display(rela: &Path) -> String {
    rela.to_string_lossy().into_owned()
}

/// How many names the regular file at `worktree/rela` has, when more than one.
pub fn extra_links(worktree: &Path, rela: &Path) -> Option<u64> {
    let md = std::fs::symlink_metadata(worktree.join(rela)).ok()?;
    (md.is_file() && md.nlink() > 1).then(|| md.nlink())
}

/// What the special file at `worktree/rela` is (`a FIFO`, `a socket`, `a device node`), if it is one.
pub fn special_kind(worktree: &Path, rela: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = std::fs::symlink_metadata(worktree.join(rela)).ok()?.file_type();
    if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_block_device() || kind.is_char_device() {
        Some("a device node")
    } else {
        None
    }
}

/// Where the symlink at `worktree/rela` leads, when that is outside the worktree (absolute, or
/// `..` above the root by its text, or outside once resolved on disk).
pub fn symlink_outside(worktree: &Path, rela: &Path) -> Option<PathBuf> {
    let path = worktree.join(rela);
    let target = std::fs::read_link(&path).ok()?;
    if target.is_absolute() || climbs_out(rela, &target) {
        return Some(target);
    }
    let root = std::fs::canonicalize(worktree).ok()?;
    match std::fs::canonicalize(&path) {
        Ok(real) if !real.starts_with(&root) => Some(target),
        _ => None,
    }
}

/// Does `target`, read from the directory of `rela`, climb above the root by its text alone?
fn climbs_out(rela: &Path, target: &Path) -> bool {
    let mut depth = rela.parent().map_or(0, |parent| parent.components().count()) as i64;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_repositories_on_disk() {
        let dir = tempfile::tempdir().expect("temp dir");
        let wt = dir.path();
        let mkdir = |p: &str| std::fs::create_dir_all(wt.join(p)).expect("mkdir");
        let write = |p: &str| std::fs::write(wt.join(p), "x").expect("write");
        write(".git");
        mkdir("src");
        write("src/lib.rs");
        mkdir("a/b/.git/objects");
        mkdir("c");
        write("c/.git");
        mkdir(".GIT");
        mkdir("bare/objects");
        mkdir("bare/refs");
        write("bare/HEAD");
        mkdir("notbare/objects");
        write("notbare/HEAD");
        nix::unistd::mkfifo(&wt.join("src/pipe"), nix::sys::stat::Mode::S_IRWXU).expect("fifo");
        std::os::unix::net::UnixListener::bind(wt.join("sock")).expect("socket");
        let on_disk = walk(wt);
        assert_eq!(on_disk.special, ["sock", "src/pipe"]);
        let found: Vec<(String, &str)> = on_disk.planted.into_iter().map(|p| (p.path, p.why)).collect();
        let dotgit = "a `.git` entry below the worktree's root";
        assert_eq!(
            found,
            vec![
                (".GIT".to_string(), dotgit),
                ("a/b/.git".to_string(), dotgit),
                ("bare".to_string(), "a bare repository (HEAD, objects/, refs/)"),
                ("c/.git".to_string(), dotgit),
            ]
        );
    }
}
