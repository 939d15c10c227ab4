//! Shared by the crash tests: start a dispatch that pauses at a given point
//! (`GIT_DISPATCH_TEST_PAUSE_AT`, test-only), SIGKILL it, recover, and check that nothing is left.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use git_dispatch::journal::{self, Entry, RecoverOptions, RecoveryReport};
use git_dispatch::workspace::WorkspaceOptions;
use pretty_assertions::assert_eq;

use crate::support::cli::{command_with_plan, user_visible, worker_packet, write_packet};
use crate::support::fixtures::{fixture, fixture_with, Fixture};
use crate::support::git::{git, git_output, tree_fingerprint};

/// How long a test waits for a dispatch to reach its pause point.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(120);

/// A fixture repository, a worker packet for it and its fingerprint before any dispatch.
pub struct Scene {
    pub fx: Fixture,
    pub packet: PathBuf,
    pub before: String,
}

impl Scene {
    /// The python-project fixture, then `extra` (bash) committed when not empty.
    pub fn new(extra: &str) -> Scene {
        let fx = if extra.is_empty() {
            fixture("python-project")
        } else {
            let fx = fixture_with("python-project", extra);
            git(fx.path(), &["add", "-A"]);
            git(fx.path(), &["commit", "-q", "-m", "extra"]);
            fx
        };
        let packet = write_packet(&fx, "packet.md", &worker_packet(fx.path(), "- tests/"));
        let before = tree_fingerprint(fx.path());
        Scene { fx, packet, before }
    }

    /// Starts a dispatch whose agent follows `plan`, pausing at `pause` when given.
    pub fn start(&self, plan: &serde_json::Value, pause: Option<&str>) -> Running {
        let pause_file = self.fx.root.join(format!("paused-{}", pause.unwrap_or("none")));
        let mut command = command_with_plan(&self.fx, plan);
        command
            .env("GIT_DISPATCH_POOL_SIZE", "0")
            .env("GIT_DISPATCH_TEST_PAUSE_FILE", &pause_file)
            .arg("run")
            .arg("--task")
            .arg(&self.packet)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(point) = pause {
            command.env("GIT_DISPATCH_TEST_PAUSE_AT", point);
        }
        let child = command.spawn().expect("git-dispatch can be spawned");
        Running { child: Some(child), pause_file }
    }

    /// Runs `git dispatch clean --recover`'s library call: `journal::recover`.
    pub fn recover(&self) -> RecoveryReport {
        journal::recover(self.fx.path(), &self.options()).expect("recovery runs")
    }

    pub fn options(&self) -> RecoverOptions {
        RecoverOptions {
            workspace: WorkspaceOptions { worktrees_root: Some(self.fx.worktrees_root()), ..Default::default() },
        }
    }

    /// The per-repository folder below the worktrees root (there is exactly one).
    pub fn repo_folder(&self) -> PathBuf {
        let root = self.fx.worktrees_root();
        // `.unconfined` (markers of runs without a sandbox) is not a repository folder.
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .expect("the worktrees root exists")
            .map(|e| e.expect("entry").path())
            .filter(|path| !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.')))
            .collect();
        assert_eq!(dirs.len(), 1, "one repository folder in {}", root.display());
        dirs.remove(0)
    }

    /// The journal entries now present.
    pub fn journal(&self) -> Vec<Entry> {
        let dir = self.repo_folder().join("journal");
        journal::read_entries(&dir).expect("journal readable").into_iter().map(|(_, e)| e.expect("entry")).collect()
    }

    /// The only journal entry (asserted).
    pub fn only_entry(&self) -> Entry {
        let mut entries = self.journal();
        assert_eq!(entries.len(), 1, "one journal entry");
        entries.remove(0)
    }

    /// Branches of the repository, short names, sorted.
    pub fn branches(&self) -> Vec<String> {
        git(self.fx.path(), &["branch", "--list", "--format=%(refname:short)"]).lines().map(str::to_string).collect()
    }

    /// Registered worktrees (`git worktree list`), main included.
    pub fn worktree_count(&self) -> usize {
        git(self.fx.path(), &["worktree", "list", "--porcelain"]).matches("worktree ").count()
    }

    /// Everything a killed run could leave is gone: only the main worktree, no `dispatch/*`
    /// branch but `kept`, no lock file in the git dir, no journal entry, no worktree folder, the
    /// user's checkout byte-identical, `git fsck` clean.
    pub fn assert_nothing_left(&self, kept: &[&str]) {
        let repo = self.fx.path();
        assert_eq!(self.worktree_count(), 1, "{}", git(repo, &["worktree", "list"]));
        assert_eq!(git(repo, &["worktree", "prune", "--dry-run", "-v"]), "", "git sees nothing to prune");
        let mut expected: Vec<String> = kept.iter().map(|b| b.to_string()).collect();
        expected.push("main".to_string());
        expected.sort();
        assert_eq!(self.branches(), expected);
        assert_eq!(lock_files(&repo.join(".git")), Vec::<PathBuf>::new(), "no lock file left");
        assert_eq!(self.journal(), Vec::<Entry>::new(), "no journal entry left");
        let wt = self.repo_folder().join("wt");
        let left: Vec<PathBuf> =
            std::fs::read_dir(&wt).map(|d| d.map(|e| e.expect("e").path()).collect()).unwrap_or_default();
        assert_eq!(left, Vec::<PathBuf>::new(), "no worktree folder left");
        assert_eq!(user_visible(&tree_fingerprint(repo)), user_visible(&self.before), "the checkout is unchanged");
        let fsck = git_output(repo, &["fsck", "--no-dangling", "--no-progress"]);
        assert!(fsck.status.success(), "git fsck: {}", String::from_utf8_lossy(&fsck.stderr));
        assert_eq!(String::from_utf8_lossy(&fsck.stdout), "", "git fsck reports nothing");
    }
}

/// A dispatch process started by a test; SIGKILLed when dropped.
pub struct Running {
    child: Option<Child>,
    pub pause_file: PathBuf,
}

impl Running {
    /// Waits until the dispatch reached its pause point; panics if it ended first.
    pub fn wait_paused(&mut self) {
        let pause_file = self.pause_file.clone();
        self.wait_for(&pause_file);
    }

    /// Waits until `path` exists; panics if the dispatch ended first or after [`REACH_TIMEOUT`].
    pub fn wait_for(&mut self, path: &Path) {
        let started = Instant::now();
        while !path.exists() {
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("the dispatch ended ({status}) before {} appeared", path.display());
            }
            assert!(started.elapsed() < REACH_TIMEOUT, "{} did not appear", path.display());
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until `path` holds a whole JSON document (the fake agent's `record` is not atomic).
    pub fn wait_for_json(&mut self, path: &Path) -> serde_json::Value {
        self.wait_for(path);
        let started = Instant::now();
        loop {
            let bytes = std::fs::read(path).unwrap_or_default();
            if let Ok(value) = serde_json::from_slice(&bytes) {
                return value;
            }
            assert!(started.elapsed() < REACH_TIMEOUT, "{} never held JSON", path.display());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The dispatch's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    /// Waits for the dispatch to end by itself; its exit code.
    pub fn wait(&mut self) -> i32 {
        let mut child = self.child.take().expect("running");
        child.wait().expect("waited").code().expect("an exit code")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every `*.lock` below `dir`, sorted.
pub fn lock_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(listing) = std::fs::read_dir(&dir) else { continue };
        for entry in listing {
            let path = entry.expect("entry").path();
            if path.is_dir() && !path.is_symlink() {
                if path.file_name().is_some_and(|n| n != "objects") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "lock") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// True while `pid` runs (a zombie does not).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Reads a pid file written by the fake agent.
pub fn read_pid(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim().parse().unwrap_or_else(|e| panic!("{}: {text:?}: {e}", path.display()))
}

/// Sets `path`'s mtime `age` in the past, creating it empty when missing.
pub fn plant_lock(path: &Path, age: Duration) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("parent dirs");
    let file = std::fs::File::create(path).expect("lock can be created");
    file.set_modified(std::time::SystemTime::now() - age).expect("mtime can be set");
}

/// A plan writing one in-scope file, so that the run has a result to offer.
pub fn writing_plan() -> serde_json::Value {
    serde_json::json!([{"step": "write", "path": "tests/test_new.py", "content": "def test_new():\n    assert True\n"}])
}
