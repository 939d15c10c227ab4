//! Fixture repositories: `fixtures/repos/<name>.sh` run in a fresh temporary folder with a
//! hermetic git environment. The `Fixture` keeps the folder alive until it is dropped.

use super::git::hermetic_command_with_home;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A fixture repository in its own temporary folder:
/// `<root>/repo` (the repository), `<root>/home` (HOME), `<root>/worktrees` (free for worktrees).
pub struct Fixture {
    _tmp: TempDir,
    /// The temporary folder holding everything.
    pub root: PathBuf,
    /// The repository's working tree (canonical path).
    pub repo: PathBuf,
    /// The HOME used while building it.
    pub home: PathBuf,
}

impl Fixture {
    /// The repository's working tree.
    pub fn path(&self) -> &Path {
        &self.repo
    }

    /// A folder in the fixture's tempdir meant as the worktrees root (not created).
    pub fn worktrees_root(&self) -> PathBuf {
        self.root.join("worktrees")
    }

    /// Runs a bash snippet in the repository with the hermetic environment; panics on failure.
    pub fn sh(&self, script: &str) {
        run_bash(&self.repo, &self.home, &["-c", script]);
    }
}

/// The folder holding the fixture scripts.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos")
}

/// Builds fixture `name` (`python-project`, `dirty`, `symlinks`, `submodule`; `.sh` optional).
pub fn fixture(name: &str) -> Fixture {
    let fx = empty_fixture();
    let script = fixtures_dir().join(format!("{}.sh", name.trim_end_matches(".sh")));
    assert!(script.is_file(), "no fixture script {}", script.display());
    let script = script.to_string_lossy().into_owned();
    run_bash(&fx.repo, &fx.home, &[script.as_str()]);
    fx
}

/// Builds fixture `name`, then runs `extra` (bash) in it.
pub fn fixture_with(name: &str, extra: &str) -> Fixture {
    let fx = fixture(name);
    fx.sh(extra);
    fx
}

/// An empty folder `<root>/repo` (no repository yet) with its home, for tests that build their own.
pub fn empty_fixture() -> Fixture {
    let tmp = tempfile::Builder::new().prefix("gd-fixture-").tempdir().expect("a temp dir can be created");
    let root = tmp.path().canonicalize().expect("temp dir has a canonical path");
    let repo = root.join("repo");
    let home = root.join("home");
    std::fs::create_dir_all(&repo).expect("create repo dir");
    std::fs::create_dir_all(&home).expect("create home dir");
    Fixture { _tmp: tmp, root, repo, home }
}

fn run_bash(cwd: &Path, home: &Path, args: &[&str]) {
    let out =
        hermetic_command_with_home("bash", home).args(args).current_dir(cwd).output().expect("bash can be spawned");
    assert!(
        out.status.success(),
        "bash {args:?} in {} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        cwd.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
