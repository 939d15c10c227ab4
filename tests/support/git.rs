//! Running git hermetically in tests (no system/global config, fixed identity and dates), and
//! `tree_fingerprint`, a byte-exact description of a checkout and its git dir for
//! "unchanged afterwards" assertions.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The fixed date of every commit made by tests.
pub const FIXED_DATE: &str = "2026-01-01T00:00:00Z";

/// Variables that would point git somewhere else; removed from every hermetic command.
pub const GIT_ENV_REMOVED: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CEILING_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_DISPATCH_WORKTREES",
    "XDG_CACHE_HOME",
];

/// A home folder shared by the hermetic commands of this test binary (empty, inside the target dir).
pub fn hermetic_home() -> PathBuf {
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hermetic-home");
    std::fs::create_dir_all(&home).expect("the cargo target tmp dir is writable");
    home
}

/// The environment of a hermetic git (or git-dispatch) run, with `hermetic_home()` as HOME.
pub fn hermetic_env() -> Vec<(String, String)> {
    hermetic_env_with_home(&hermetic_home())
}

/// The environment of a hermetic git run with the given HOME.
pub fn hermetic_env_with_home(home: &Path) -> Vec<(String, String)> {
    let home = home.to_string_lossy().into_owned();
    let pairs = [
        ("GIT_CONFIG_NOSYSTEM", "1".to_string()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".to_string()),
        ("HOME", home.clone()),
        ("XDG_CONFIG_HOME", format!("{home}/.config")),
        ("GIT_AUTHOR_NAME", "Fixture Author".to_string()),
        ("GIT_AUTHOR_EMAIL", "author@fixture.test".to_string()),
        ("GIT_AUTHOR_DATE", FIXED_DATE.to_string()),
        ("GIT_COMMITTER_NAME", "Fixture Committer".to_string()),
        ("GIT_COMMITTER_EMAIL", "committer@fixture.test".to_string()),
        ("GIT_COMMITTER_DATE", FIXED_DATE.to_string()),
        ("GIT_TERMINAL_PROMPT", "0".to_string()),
        ("GIT_PAGER", "cat".to_string()),
        ("LC_ALL", "C".to_string()),
        ("TZ", "UTC".to_string()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A `Command` for `program` with the hermetic environment (home = `hermetic_home()`).
pub fn hermetic_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    hermetic_command_with_home(program, &hermetic_home())
}

/// A `Command` for `program` with the hermetic environment and the given HOME.
pub fn hermetic_command_with_home(program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    for var in GIT_ENV_REMOVED {
        cmd.env_remove(var);
    }
    cmd.envs(hermetic_env_with_home(home));
    cmd
}

/// Runs `git -C repo args...` hermetically; returns its raw output whatever the exit status.
pub fn git_output(repo: &Path, args: &[&str]) -> Output {
    hermetic_command("git").arg("-C").arg(repo).args(args).output().expect("git can be spawned")
}

/// Runs `git -C repo args...` hermetically; panics with stderr on failure; returns stdout bytes.
pub fn git_bytes(repo: &Path, args: &[&str]) -> Vec<u8> {
    let out = git_output(repo, args);
    assert!(
        out.status.success(),
        "git {args:?} in {} failed ({}):\n{}",
        repo.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `git -C repo args...` hermetically; panics with stderr on failure; returns stdout.
pub fn git(repo: &Path, args: &[&str]) -> String {
    String::from_utf8(git_bytes(repo, args)).expect("git output is UTF-8 in these tests")
}

/// Like `git`, with `input` on stdin.
pub fn git_stdin(repo: &Path, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    let mut child = hermetic_command("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("git can be spawned");
    child.stdin.take().expect("stdin is piped").write_all(input).expect("git reads its stdin");
    let out = child.wait_with_output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed ({}):\n{}",
        repo.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("git output is UTF-8 in these tests")
}

/// A byte-exact description of a repository as the user sees it: every file of the checkout
/// (tracked, untracked and ignored; `.git` excluded) with its type, mode and content hash, and the
/// git dir's `HEAD`, `index`, `config`, `packed-refs`, `refs/`, `logs/`, `hooks/` and `info/`.
/// Objects and `worktrees/` are not included (new objects are harmless; worktrees are checked
/// separately). Two equal fingerprints mean nothing the user can see changed.
pub fn tree_fingerprint(repo: &Path) -> String {
    let mut lines = Vec::new();
    walk(repo, repo, &mut lines, &|rel| rel == Path::new(".git"));
    let git_dir = repo.join(".git");
    assert!(git_dir.is_dir(), "tree_fingerprint expects {} to be a directory", git_dir.display());
    let mut git_lines = Vec::new();
    for name in ["HEAD", "index", "config", "packed-refs", "refs", "logs", "hooks", "info"] {
        let path = git_dir.join(name);
        if path.symlink_metadata().is_ok() {
            if path.is_dir() {
                walk(&git_dir, &path, &mut git_lines, &|_| false);
            } else {
                git_lines.push(describe(&git_dir, &path));
            }
        }
    }
    lines.extend(git_lines.into_iter().map(|l| format!(".git/{l}")));
    lines.join("\n")
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>, skip: &dyn Fn(&Path) -> bool) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(root).expect("below root");
        if skip(rel) {
            continue;
        }
        out.push(describe(root, &path));
        let meta = path.symlink_metadata().expect("entry has metadata");
        if meta.is_dir() {
            walk(root, &path, out, skip);
        }
    }
}

fn describe(root: &Path, path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let rel = path.strip_prefix(root).expect("below root").to_string_lossy().into_owned();
    let meta = path.symlink_metadata().expect("entry has metadata");
    let mode = meta.permissions().mode() & 0o7777;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).expect("symlink target");
        format!("{rel} link -> {}", target.display())
    } else if meta.is_dir() {
        format!("{rel} dir {mode:o}")
    } else {
        let bytes = std::fs::read(path).expect("file is readable");
        let hash = Sha256::digest(&bytes);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        format!("{rel} file {mode:o} {} {hex}", bytes.len())
    }
}

/// Runs a bash snippet in `dir` with the hermetic environment; panics on failure.
#[allow(dead_code)]
pub fn sh_in(dir: &std::path::Path, script: &str) {
    let out = hermetic_command("bash").arg("-c").arg(script).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The tree `git add -A && git write-tree` would record in worktree `wt`, computed on a copy of
/// its index (the worktree's own index is left alone).
#[allow(dead_code)]
pub fn add_all_tree(wt: &std::path::Path) -> String {
    let index = git(wt, &["rev-parse", "--path-format=absolute", "--git-path", "index"]).trim().to_string();
    let tmp = format!("{index}.expected");
    std::fs::copy(&index, &tmp).unwrap();
    let run = |args: &[&str]| {
        let out = hermetic_command("git").arg("-C").arg(wt).args(args).env("GIT_INDEX_FILE", &tmp).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["add", "-A"]);
    let tree = run(&["write-tree"]).trim().to_string();
    std::fs::remove_file(&tmp).unwrap();
    tree
}
