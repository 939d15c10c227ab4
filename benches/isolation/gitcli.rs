//! Running the git CLI for the benchmark (setup and the baselines), hermetically: no system or
//! global config, fixed identity.

use std::path::Path;
use std::process::{Command, Stdio};

/// Makes this process's environment hermetic for git and gix (called once, before any thread).
pub fn make_env_hermetic(home: &Path) {
    for (key, value) in [
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_AUTHOR_NAME", "Bench"),
        ("GIT_AUTHOR_EMAIL", "bench@localhost"),
        ("GIT_COMMITTER_NAME", "Bench"),
        ("GIT_COMMITTER_EMAIL", "bench@localhost"),
        ("GIT_TERMINAL_PROMPT", "0"),
    ] {
        std::env::set_var(key, value);
    }
    std::env::set_var("HOME", home);
    for key in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_DISPATCH_WORKTREES", "XDG_CACHE_HOME"] {
        std::env::remove_var(key);
    }
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(args);
    cmd
}

/// Runs git; panics with its stderr on failure; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = command(dir, args).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs git with `input` on stdin.
pub fn git_stdin(dir: &Path, args: &[&str], input: &[u8]) {
    use std::io::Write as _;
    let mut child = command(dir, args).stdin(Stdio::piped()).spawn().expect("git runs");
    child.stdin.take().expect("piped").write_all(input).expect("git reads stdin");
    let status = child.wait().expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

/// Runs a shell snippet in `dir` (for `git add -A && ...` pipelines); panics on failure.
pub fn sh(dir: &Path, script: &str) {
    let status =
        Command::new("sh").arg("-c").arg(script).current_dir(dir).stdout(Stdio::null()).status().expect("sh runs");
    assert!(status.success(), "{script} failed");
}
