//! `git dispatch demo`: a whole dispatch with the built-in replay agent, offline, with no git
//! identity configured, leaving nothing behind (or, with --keep, a repository to try apply in).

use std::path::PathBuf;
use std::process::Command;

fn demo(home: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_git-dispatch"))
        .arg("demo")
        .args(extra)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_DISPATCH_REPLAY_DELAY_MS", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("TMPDIR", home)
        .output()
        .expect("git-dispatch runs")
}

fn repo_of(stdout: &str) -> PathBuf {
    let first = stdout.lines().next().expect("a first line");
    PathBuf::from(first.rsplit(" at ").next().expect("a path"))
}

#[test]
fn demo_runs_a_whole_dispatch_and_cleans_up() {
    let home = tempfile::tempdir().expect("tempdir");
    let output = demo(home.path(), &["--quiet"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "stdout {stdout} stderr {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("verdict: exit 0 (offered)"), "{stdout}");
    assert!(stdout.contains("$ git dispatch review\nrun:      "), "{stdout}");
    assert!(stdout.contains("  ✓ modified     src/app/util.py\n  ✓ added        tests/test_slug.py\n"), "{stdout}");
    assert!(stdout.contains("+    return re.sub(r\"[^a-z0-9]+\", \"-\", title.lower()).strip(\"-\")"), "{stdout}");
    assert!(stdout.contains("git dispatch review && git dispatch apply"), "next commands are shown");
    let repo = repo_of(&stdout);
    assert!(!repo.exists(), "the throw-away repository is removed: {}", repo.display());
    assert!(!home.path().join(".cache/git-dispatch").exists(), "no worktree left in the user's cache");
}

#[test]
fn demo_keep_leaves_a_repository_where_apply_works() {
    let home = tempfile::tempdir().expect("tempdir");
    let output = demo(home.path(), &["--quiet", "--keep"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let repo = repo_of(&stdout);
    assert!(repo.join(".codex-dispatch/runs").is_dir());
    assert!(stdout.contains("agent: a recorded Codex session, replayed by git-dispatch itself"), "{stdout}");
    // The demo runs under the sandbox `auto` picks here, like any run.
    let runs: Vec<PathBuf> = std::fs::read_dir(repo.join(".codex-dispatch/runs"))
        .expect("runs")
        .map(|entry| entry.expect("entry").path())
        .collect();
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs[0].join("policy.json")).expect("policy")).expect("JSON");
    assert_eq!(policy["sandbox"]["kind"], git_dispatch::sandbox::auto_kind().0.name(), "{policy}");
    let apply = Command::new(env!("CARGO_BIN_EXE_git-dispatch"))
        .args(["apply", "-C"])
        .arg(&repo)
        .env("HOME", home.path())
        .output()
        .expect("apply runs");
    assert_eq!(apply.status.code(), Some(0), "{}", String::from_utf8_lossy(&apply.stderr));
    let util = std::fs::read_to_string(repo.join("src/app/util.py")).expect("util.py");
    assert!(util.contains("[^a-z0-9]+"), "the fix landed: {util}");
    assert!(repo.join("tests/test_slug.py").is_file());
    std::fs::remove_dir_all(repo.parent().expect("scratch")).expect("cleanup");
}
