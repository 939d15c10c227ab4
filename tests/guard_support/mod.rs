//! Shared setup for the guard tests: throw-away repositories built with the git CLI in a hermetic
//! environment, and a byte dump of a git dir to prove restoration byte-identical.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use git_dispatch::guard::GuardScope;

/// A temporary repository: `root` is the main worktree, `home` a private HOME.
pub struct Repo {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
}

impl Repo {
    /// A repository on `main` with a few committed files.
    pub fn new() -> Repo {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let base = fs::canonicalize(tmp.path()).expect("a canonical temp dir");
        let root = base.join("repo");
        let home = base.join("home");
        fs::create_dir_all(&root).expect("repo dir");
        fs::create_dir_all(&home).expect("home dir");
        let repo = Repo { tmp, root, home };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write("README.md", "hello\n");
        repo.write("src/lib.rs", "pub fn one() -> u32 {\n    1\n}\n");
        repo.write("docs/guide.txt", "line 1\nline 2\nline 3\n");
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "initial"]);
        repo.write("README.md", "hello\nworld\n");
        repo.git(&["commit", "-q", "-am", "second"]);
        repo
    }

    pub fn git_dir(&self) -> PathBuf {
        self.root.join(".git")
    }

    /// Where git-dispatch's own worktrees live in these tests.
    pub fn own_root(&self) -> PathBuf {
        self.root.parent().expect("a parent").join("own-worktrees")
    }

    /// The scope of the main worktree.
    pub fn scope(&self) -> GuardScope {
        GuardScope {
            common_dir: self.git_dir(),
            user_root: self.root.clone(),
            user_git_dir: self.git_dir(),
            own_worktrees_root: self.own_root(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        write_file(&self.root.join(rel), content.as_bytes());
    }

    /// Runs git in the main worktree; panics unless it succeeds; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_command(dir, args).output().expect("git runs");
        assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    pub fn git_command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(args).current_dir(dir);
        for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "COLUMNS", "GIT_PAGER"] {
            cmd.env_remove(var);
        }
        cmd.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_AUTHOR_NAME", "Ada Author")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
            .env("GIT_COMMITTER_NAME", "Cy Committer")
            .env("GIT_COMMITTER_EMAIL", "cy@example.com")
            .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
            .env("LC_ALL", "C");
        cmd
    }

    /// The object id `rev` resolves to.
    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev]).trim().to_string()
    }
}

pub fn write_file(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("parent dir");
    fs::write(path, bytes).expect("write file");
}

#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(unix)]
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path).expect("metadata").permissions().mode() & 0o7777
}

/// One entry of a git-dir dump.
#[derive(Debug, PartialEq, Eq)]
pub enum Dumped {
    Dir(u32),
    /// Lossy text (the tests only need a readable diff) and mode.
    File(String, u32),
    Symlink(PathBuf),
}

/// Every entry of `git_dir` except `objects/` (but `objects/info/alternates`), `logs/` and `index`,
/// with bytes and modes.
pub fn dump_git_dir(git_dir: &Path) -> BTreeMap<String, Dumped> {
    let mut out = BTreeMap::new();
    dump_into(git_dir, Path::new(""), &mut out);
    let alternates = git_dir.join("objects/info/alternates");
    if let Ok(bytes) = fs::read(&alternates) {
        out.insert("objects/info/alternates".into(), Dumped::File(lossy(bytes), mode_of(&alternates)));
    }
    out
}

fn dump_into(root: &Path, rel: &Path, out: &mut BTreeMap<String, Dumped>) {
    for entry in fs::read_dir(root.join(rel)).expect("read_dir") {
        let entry = entry.expect("entry");
        let rel_child = rel.join(entry.file_name());
        if ["objects", "logs", "index"].iter().any(|skip| rel_child == Path::new(skip)) {
            continue;
        }
        let abs = entry.path();
        let meta = fs::symlink_metadata(&abs).expect("metadata");
        let key = rel_child.to_string_lossy().into_owned();
        if meta.file_type().is_symlink() {
            out.insert(key, Dumped::Symlink(fs::read_link(&abs).expect("readlink")));
        } else if meta.is_dir() {
            out.insert(key, Dumped::Dir(mode_of(&abs)));
            dump_into(root, &rel_child, out);
        } else {
            out.insert(key, Dumped::File(lossy(fs::read(&abs).expect("read")), mode_of(&abs)));
        }
    }
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|err| format!("{:?}", err.into_bytes()))
}
