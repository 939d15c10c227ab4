//! What only the worktree on disk shows: repositories planted inside it (a `.git` directory or
//! file below the root, or a bare repository's `HEAD` + `objects/` + `refs/`), special files
//! (FIFOs, sockets, device nodes: git's status never lists them), files that share
//! their inode with another file (hard links), and ignored symlinks that lead out of the worktree.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Component, Path, PathBuf};

use crate::walk::{Step, Walk};

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

/// Walk the worktree (symlinks not followed, the worktree's own `.git` skipped, on a few threads)
/// for planted repositories (a repository found is not searched further) and special files,
/// which git's status never reports. Unreadable directories are skipped.
pub fn walk(worktree: &Path) -> OnDisk {
    let mut on_disk = OnDisk::default();
    walk_below(worktree, Path::new(""), &mut on_disk);
    on_disk.sort();
    on_disk
}

/// [`walk`] of only these entries of the worktree (`(path, is_dir)`; folders walked whole): where
/// something can differ from a worktree known to hold neither (fresh, or a trusted pooled one),
/// as the change journal saw it (touched files and folders) plus its ignored entries.
pub fn walk_roots(worktree: &Path, roots: &[(String, bool)]) -> OnDisk {
    let mut on_disk = OnDisk::default();
    for (rela, _) in roots {
        let rela = Path::new(rela);
        let Ok(meta) = std::fs::symlink_metadata(worktree.join(rela)) else { continue };
        let name = rela.file_name().unwrap_or_default();
        if name.as_encoded_bytes().eq_ignore_ascii_case(b".git") && rela != Path::new(".git") {
            let why = "a `.git` entry below the worktree's root";
            on_disk.planted.push(Planted { path: display(rela), why });
        } else if meta.is_dir() && looks_bare(&worktree.join(rela)) {
            on_disk.planted.push(Planted { path: display(rela), why: "a bare repository (HEAD, objects/, refs/)" });
        } else if meta.is_dir() {
            walk_below(worktree, rela, &mut on_disk);
        } else if is_special(meta.file_type()) {
            on_disk.special.push(display(rela));
        }
    }
    on_disk.sort();
    on_disk
}

impl OnDisk {
    fn sort(&mut self) {
        self.planted.sort_by(|a, b| a.path.cmp(&b.path));
        self.planted.dedup();
        self.special.sort();
        self.special.dedup();
    }
}

/// Adds what is below the folder `start` of the worktree to `on_disk`.
fn walk_below(worktree: &Path, start: &Path, on_disk: &mut OnDisk) {
    enum Found {
        Planted(Planted),
        Special(String),
    }
    let at_root = start.as_os_str().is_empty();
    let found = Walk::new(&worktree.join(start)).parallel().try_collect(|entry, out| {
        let Ok(entry) = entry else { return Ok(Step::Continue) };
        let name = entry.name();
        let is_git = name.as_encoded_bytes().eq_ignore_ascii_case(b".git");
        let own_git = at_root && entry.depth() == 1 && name == ".git";
        let kind = entry.file_type();
        let rela = start.join(entry.rela());
        if is_git && !own_git {
            let why = "a `.git` entry below the worktree's root";
            out.push(Found::Planted(Planted { path: display(&rela), why }));
        } else if !is_git && kind.is_some_and(|kind| kind.is_dir()) {
            if looks_bare(entry.path()) {
                let why = "a bare repository (HEAD, objects/, refs/)";
                out.push(Found::Planted(Planted { path: display(&rela), why }));
                return Ok(Step::Prune);
            }
            return Ok(Step::Continue);
        } else if kind.is_some_and(is_special) {
            out.push(Found::Special(display(&rela)));
        }
        Ok(Step::Prune)
    });
    for item in found.unwrap_or_default() {
        match item {
            Found::Planted(planted) => on_disk.planted.push(planted),
            Found::Special(path) => on_disk.special.push(path),
        }
    }
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

    #[test]
    fn walking_only_the_roots_finds_what_is_inside_them_and_nothing_else() {
        let dir = tempfile::tempdir().expect("temp dir");
        let wt = dir.path();
        let mkdir = |p: &str| std::fs::create_dir_all(wt.join(p)).expect("mkdir");
        mkdir("old/.git");
        mkdir("new/deep/.git");
        mkdir("bare/objects");
        mkdir("bare/refs");
        std::fs::write(wt.join("bare/HEAD"), "x").expect("write");
        nix::unistd::mkfifo(&wt.join("pipe"), nix::sys::stat::Mode::S_IRWXU).expect("fifo");
        nix::unistd::mkfifo(&wt.join("new/pipe"), nix::sys::stat::Mode::S_IRWXU).expect("fifo");
        let roots = [("new".to_string(), true), ("bare".to_string(), true), ("pipe".to_string(), false)];
        let on_disk = walk_roots(wt, &roots);
        assert_eq!(on_disk.special, ["new/pipe", "pipe"]);
        let planted: Vec<&str> = on_disk.planted.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(planted, ["bare", "new/deep/.git"], "old/.git is outside the roots");
        assert_eq!(walk_roots(wt, &[("gone".to_string(), false)]), OnDisk::default());
    }
}
