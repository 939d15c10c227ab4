//! Test support for the hand-back tests: a repository built with the git CLI in a hermetic
//! environment, scratch branches made like a dispatch makes them, run folders written by hand,
//! and a byte-level fingerprint of the user's checkout.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use git_dispatch::handback::{self, ApplyError, ApplyHow, ApplyOutcome, RunRecord};
use git_dispatch::policy::Verdict;
use sha2::Digest;

/// A repository `<tmp>/repo` on branch `main`, with its run folders in `<tmp>/runs`.
pub struct Fixture {
    _tmp: tempfile::TempDir,
    pub tmp: PathBuf,
    pub root: PathBuf,
    pub home: PathBuf,
    pub runs: PathBuf,
}

pub const DATE: &str = "2026-01-01T00:00:00Z";

/// The environment every git command of the tests runs with.
pub fn hermetic_env(home: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("HOME", home.display().to_string()),
        ("GIT_AUTHOR_NAME", "Test Author".into()),
        ("GIT_AUTHOR_EMAIL", "author@example.com".into()),
        ("GIT_AUTHOR_DATE", DATE.into()),
        ("GIT_COMMITTER_NAME", "Test Committer".into()),
        ("GIT_COMMITTER_EMAIL", "committer@example.com".into()),
        ("GIT_COMMITTER_DATE", DATE.into()),
        ("LC_ALL", "C".into()),
    ]
}

/// Run git in `dir` hermetically; panics with its stderr on failure; returns stdout.
pub fn git_in(dir: &Path, home: &Path, args: &[&str]) -> String {
    let output = git_output(dir, home, args, None);
    assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn git_output(dir: &Path, home: &Path, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    let mut command = Command::new("git");
    command.current_dir(dir).args(args).envs(hermetic_env(home)).env_remove("GIT_DIR").env_remove("GIT_INDEX_FILE");
    command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    command.stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("git runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin.unwrap_or_default()).expect("stdin takes the input");
    drop(input);
    child.wait_with_output().expect("git finishes")
}

impl Fixture {
    /// A repository with a few committed files (text, executable script, binary, nested dirs).
    pub fn new() -> Fixture {
        let tmp_dir = tempfile::Builder::new().prefix("gd-handback-").tempdir().expect("tempdir");
        let tmp = tmp_dir.path().canonicalize().expect("canonical tempdir");
        let root = tmp.join("repo");
        let home = tmp.join("home");
        std::fs::create_dir_all(&root).expect("repo dir");
        std::fs::create_dir_all(&home).expect("home dir");
        let fixture = Fixture { _tmp: tmp_dir, runs: tmp.join("runs"), tmp, root, home };
        fixture.git(&["init", "-q", "-b", "main"]);
        fixture.git(&["config", "user.name", "Repo User"]);
        fixture.git(&["config", "user.email", "user@example.com"]);
        std::fs::write(fixture.root.join(".git/info/exclude"), ".codex-dispatch/\n").expect("exclude");
        fixture.write("a.txt", "line 1\nline 2\nline 3\nline 4\nline 5\n");
        fixture.write("b.txt", "bee\n");
        fixture.write("src/lib.rs", "pub fn one() -> u32 {\n    1\n}\n");
        fixture.write("src/deep/mod.rs", "// deep\n");
        fixture.write(".gitignore", "*.log\nbuild/\n");
        fixture.write_bytes("assets/logo.bin", &[0, 1, 2, 3, 255, 0, 10, 13]);
        fixture.write("scripts/run.sh", "#!/bin/sh\necho run\n");
        fixture.chmod("scripts/run.sh", 0o755);
        fixture.commit_all("initial");
        fixture
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(&self.root, &self.home, args)
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn write(&self, relative: &str, text: &str) {
        self.write_bytes(relative, text.as_bytes());
    }

    pub fn write_bytes(&self, relative: &str, bytes: &[u8]) {
        write_in(&self.root, relative, bytes);
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_else(|err| panic!("cannot read {relative}: {err}"))
    }

    pub fn chmod(&self, relative: &str, mode: u32) {
        chmod_in(&self.root, relative, mode);
    }

    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev]).trim().to_string()
    }

    /// A synthetic base like a dispatch makes: HEAD plus the user's uncommitted and untracked
    /// state as one commit whose parent is HEAD, built without touching the user's index.
    pub fn synthetic_base(&self) -> String {
        let index = self.tmp.join("synthetic-index");
        let index_env = index.display().to_string();
        let run = |args: &[&str]| {
            let output = Command::new("git")
                .current_dir(&self.root)
                .args(args)
                .envs(hermetic_env(&self.home))
                .env("GIT_INDEX_FILE", &index_env)
                .output()
                .expect("git runs");
            assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        };
        run(&["read-tree", "HEAD"]);
        run(&["add", "-A"]);
        let tree = run(&["write-tree"]);
        let head = self.head();
        let base = run(&["commit-tree", &tree, "-p", &head, "-m", "git-dispatch base"]);
        let _ = std::fs::remove_file(&index);
        base
    }

    /// The scratch branch `dispatch/<id>` at a result commit made from `base` by `edit`, which gets
    /// a checkout of `base` to change (in a temporary linked worktree, removed afterwards).
    pub fn make_result(&self, id: &str, base: &str, edit: impl FnOnce(&Path)) -> String {
        let worktree = self.tmp.join(format!("wt-{id}"));
        let worktree_arg = worktree.display().to_string();
        let branch = format!("dispatch/{id}");
        self.git(&["worktree", "add", "-q", "-b", &branch, &worktree_arg, base]);
        edit(&worktree);
        git_in(&worktree, &self.home, &["add", "-A"]);
        git_in(&worktree, &self.home, &["commit", "-q", "--allow-empty", "-m", "agent result"]);
        let result = git_in(&worktree, &self.home, &["rev-parse", "HEAD"]).trim().to_string();
        self.git(&["worktree", "remove", "--force", &worktree_arg]);
        result
    }

    /// A run folder for `id` like a dispatch writes it: policy.json (offered worker run), result.patch
    /// (rendered by `git_dispatch::patch::render`), changes.json; returns its record.
    pub fn write_run(&self, id: &str, base: &str, result: &str) -> RunRecord {
        let patch = self.render(base, result);
        let verdict = Verdict {
            mode: "worker".into(),
            offered: true,
            scope_ok: true,
            exit_code: 0,
            agent: "codex".into(),
            base_commit: Some(base.into()),
            result_commit: Some(result.into()),
            branch: Some(format!("dispatch/{id}")),
            patch_sha256: Some(sha256_hex(&patch)),
            changed_paths: vec!["a.txt".into()],
            stage: "done".into(),
            ..Verdict::default()
        };
        let dir = self.runs.join(id);
        std::fs::create_dir_all(&dir).expect("run folder");
        std::fs::write(dir.join("result.patch"), &patch).expect("result.patch");
        let policy = serde_json::to_vec_pretty(&verdict).expect("verdict serializes");
        std::fs::write(dir.join("policy.json"), policy).expect("policy.json");
        let changes = format!(
            r#"{{"base": "{base}", "result": "{result}", "changes": [{{"path": "a.txt", "status": "modified", "in_scope": true}}], "ignored_written": []}}"#
        );
        std::fs::write(dir.join("changes.json"), changes).expect("changes.json");
        RunRecord::load(&dir)
    }

    /// Rewrite fields of a run's policy.json and reload it.
    pub fn edit_policy(&self, run: &RunRecord, edit: impl FnOnce(&mut Verdict)) -> RunRecord {
        let mut verdict = run.policy.clone();
        edit(&mut verdict);
        let bytes = serde_json::to_vec_pretty(&verdict).expect("verdict serializes");
        std::fs::write(run.file("policy.json"), bytes).expect("policy.json");
        RunRecord::load(&run.path)
    }

    /// The patch base..result (what `result.patch` holds), rendered by the product.
    pub fn render(&self, base: &str, result: &str) -> Vec<u8> {
        let repo = gix::open(&self.root).expect("the fixture is a repository");
        let id = |hex: &str| gix::ObjectId::from_hex(hex.as_bytes()).expect("a commit id");
        git_dispatch::patch::render(&repo, id(base), id(result)).expect("the patch renders")
    }

    /// The hand-back under test.
    pub fn apply(&self, run: &RunRecord, how: ApplyHow) -> Result<ApplyOutcome, ApplyError> {
        handback::apply(run, &self.root, how)
    }

    /// The user's checkout byte for byte (files, modes, symlinks, ignored files), the index bytes,
    /// HEAD, all refs, and the number of loose objects.
    pub fn fingerprint(&self) -> String {
        let mut out = worktree_fingerprint(&self.root);
        let index = std::fs::read(self.root.join(".git/index")).expect("index");
        out.push_str(&format!("index {}\n", sha256_hex(&index)));
        out.push_str(&format!("HEAD {}", std::fs::read_to_string(self.root.join(".git/HEAD")).expect("HEAD")));
        out.push_str(&self.git(&["for-each-ref", "--format=%(refname) %(objectname)"]));
        out.push_str(self.git(&["count-objects", "-v"]).lines().next().expect("a count line"));
        out
    }

    pub fn index_bytes(&self) -> Vec<u8> {
        std::fs::read(self.root.join(".git/index")).expect("index")
    }
}

/// `git diff --binary --full-index base result`: a git-apply-able patch.
pub fn render_with_git(dir: &Path, home: &Path, base: &str, result: &str) -> Vec<u8> {
    let output = git_output(dir, home, &["diff", "--binary", "--full-index", base, result], None);
    assert!(output.status.success(), "git diff: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// `git apply` of `patch` in `dir`.
pub fn git_apply(dir: &Path, home: &Path, patch: &[u8]) {
    let output = git_output(dir, home, &["apply", "--whitespace=nowarn", "-"], Some(patch));
    assert!(output.status.success(), "git apply: {}", String::from_utf8_lossy(&output.stderr));
}

pub fn write_in(dir: &Path, relative: &str, bytes: &[u8]) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("parent dirs");
    std::fs::write(&path, bytes).unwrap_or_else(|err| panic!("cannot write {relative}: {err}"));
}

pub fn chmod_in(dir: &Path, relative: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join(relative), std::fs::Permissions::from_mode(mode)).expect("chmod");
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Every entry below `dir` except `.git` and run folders: path, kind, executable bit, content hash
/// or link target; sorted.
pub fn worktree_fingerprint(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mut lines = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).expect("readable dir") {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            let relative = path.strip_prefix(dir).expect("below dir").display().to_string();
            if relative == ".git" {
                continue;
            }
            let md = std::fs::symlink_metadata(&path).expect("lstat");
            if md.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                lines.push(format!("{relative} link -> {}", target.display()));
            } else if md.is_dir() {
                lines.push(format!("{relative}/ dir"));
                stack.push(path);
            } else {
                let exec = md.permissions().mode() & 0o111 != 0;
                let content = std::fs::read(&path).expect("read");
                lines.push(format!("{relative} file exec={exec} {}", sha256_hex(&content)));
            }
        }
    }
    lines.sort();
    lines.join("\n") + "\n"
}
