//! A throw-away git repository for tests, built and inspected with the git CLI in a hermetic
//! environment (no system or global config, a private HOME, fixed names and dates). Lives under
//! cargo's per-target temp dir (not /tmp), so agent state folders placed next to it are not under a
//! temp dir either.

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment every git call of the tests runs with (`home` is the private HOME).
pub fn hermetic_git_env(home: &Path) -> Vec<(String, OsString)> {
    let fixed = [
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_AUTHOR_NAME", "Test Author"),
        ("GIT_AUTHOR_EMAIL", "author@example.invalid"),
        ("GIT_AUTHOR_DATE", "2001-02-03T04:05:06Z"),
        ("GIT_COMMITTER_NAME", "Test Committer"),
        ("GIT_COMMITTER_EMAIL", "committer@example.invalid"),
        ("GIT_COMMITTER_DATE", "2001-02-03T04:05:06Z"),
    ];
    let mut env: Vec<(String, OsString)> =
        fixed.iter().map(|(name, value)| (name.to_string(), OsString::from(value))).collect();
    env.push(("HOME".to_owned(), home.as_os_str().to_owned()));
    env
}

/// A temp root holding `repo/` (a git repository with one commit) and `home/`.
pub struct ScratchRepo {
    pub temp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
}

impl ScratchRepo {
    /// `git init` + one commit of `README.md` on branch `main`.
    pub fn new() -> Self {
        let temp = tempfile::Builder::new()
            .prefix("gd-test-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("creating a temp dir under CARGO_TARGET_TMPDIR");
        let base = temp.path().canonicalize().expect("canonicalizing the temp dir");
        let (root, home) = (base.join("repo"), base.join("home"));
        std::fs::create_dir_all(&root).expect("creating repo/");
        std::fs::create_dir_all(&home).expect("creating home/");
        let repo = ScratchRepo { temp, root, home };
        repo.git(&["init", "-q", "-b", "main"]);
        std::fs::write(repo.root.join("README.md"), "# scratch\n").expect("writing README.md");
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "initial"]);
        repo
    }

    /// The temp root (parent of `repo/` and `home/`).
    pub fn base(&self) -> PathBuf {
        self.root.parent().expect("repo/ has a parent").to_path_buf()
    }

    pub fn git_env(&self) -> Vec<(String, OsString)> {
        hermetic_git_env(&self.home)
    }

    /// Runs git in the repository; panics with its stderr when it fails; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(args)
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.git_env())
            .output()
            .expect("running git");
        assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("git output is UTF-8")
    }

    /// `git status --porcelain` lines, sorted.
    pub fn status(&self) -> Vec<String> {
        let mut lines: Vec<String> =
            self.git(&["status", "--porcelain", "--untracked-files=all"]).lines().map(str::to_owned).collect();
        lines.sort();
        lines
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root.join(path)).unwrap_or_else(|error| panic!("reading {path}: {error}"))
    }
}
