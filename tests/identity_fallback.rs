//! With no git identity anywhere (`GIT_CONFIG_GLOBAL=/dev/null`, no system config, no
//! `GIT_AUTHOR_*` / `GIT_COMMITTER_*` / `EMAIL`), a dispatch still works: the tool's own commits
//! (base, result) and reflog entries (its branch, the worktree's HEAD, `apply --merge` moving the
//! user's branch) use `git-dispatch <git-dispatch@localhost>`; a warm second run and `clean` work
//! too. When the user has an identity, it is the one used.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use pretty_assertions::assert_eq;
use serde_json::json;

use support::cli::{self, printed_run_dir, read_json, result_naming, stderr};
use support::fixtures::{fixture, Fixture};
use support::git::git;

const FALLBACK: &str = "git-dispatch <git-dispatch@localhost>";

/// The binary with the fake agent and no identity in its environment; `global` is its
/// `GIT_CONFIG_GLOBAL` (`/dev/null` for none).
fn command(fx: &Fixture, plan: &serde_json::Value, global: &Path) -> Command {
    let mut command = cli::command_with_plan(fx, plan);
    for var in ["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"] {
        command.env_remove(var);
    }
    command.env("GIT_CONFIG_GLOBAL", global).env("GIT_CONFIG_NOSYSTEM", "1");
    command
}

fn run(mut command: Command, args: &[&str]) -> Output {
    command.args(args).output().expect("git-dispatch can be spawned")
}

fn dispatch(fx: &Fixture, file: &str, global: &Path) -> (Output, std::path::PathBuf) {
    let packet = cli::tests_scope_packet(fx, "");
    let plan = json!([{"step": "write", "path": file, "content": "x\n"}, result_naming(&[file])]);
    let output = run(command(fx, &plan, global), &["run", "--task", packet.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let dir = printed_run_dir(&output);
    (output, dir)
}

/// `name <email>` of the author and of the committer of `rev`.
fn people(repo: &Path, rev: &str) -> Vec<String> {
    git(repo, &["log", "-1", "--format=%an <%ae>%n%cn <%ce>", rev]).lines().map(str::to_owned).collect()
}

/// The identities (`name <email>`) of the entries of the reflog file `log`.
fn reflog_people(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("read {}: {e}", log.display()));
    text.lines()
        .map(|line| {
            let after_ids = line.splitn(3, ' ').nth(2).expect("old new identity...");
            after_ids[..after_ids.find('>').expect("an e-mail") + 1].to_string()
        })
        .collect()
}

#[test]
fn no_identity_anywhere_uses_the_fallback() {
    let fx = fixture("python-project");
    let none = Path::new("/dev/null");
    let (_, first) = dispatch(&fx, "tests/one.txt", none);
    let policy = read_json(&first.join("policy.json"));
    let branch = policy["branch"].as_str().expect("offered: the branch is kept").to_owned();
    assert_eq!(people(&fx.repo, &branch), [FALLBACK, FALLBACK]);
    let branch_log = fx.repo.join(".git/logs/refs/heads").join(&branch);
    assert!(!reflog_people(&branch_log).is_empty());
    assert!(reflog_people(&branch_log).iter().all(|who| who == FALLBACK), "{:?}", reflog_people(&branch_log));
    for admin in std::fs::read_dir(fx.repo.join(".git/worktrees")).expect("the pooled worktree's admin dir") {
        let log = admin.expect("entry").path().join("logs/HEAD");
        assert!(reflog_people(&log).iter().all(|who| who == FALLBACK), "{:?}", reflog_people(&log));
    }

    let (_, second) = dispatch(&fx, "tests/two.txt", none);
    assert_eq!(read_json(&second.join("run.json"))["warm_start"], true, "the pooled worktree was reused");

    let id = first.file_name().expect("id").to_string_lossy().into_owned();
    let merged = run(command(&fx, &json!([]), none), &["apply", "--merge", &id]);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(git(&fx.repo, &["show", "HEAD:tests/one.txt"]), "x\n");
    let main_log = reflog_people(&fx.repo.join(".git/logs/refs/heads/main"));
    assert_eq!(main_log.last().map(String::as_str), Some(FALLBACK), "{main_log:?}");

    let clean = run(command(&fx, &json!([]), none), &["clean", "--all", "--force"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "");
}

#[test]
fn the_users_identity_wins_when_set() {
    let fx = fixture("python-project");
    let global = fx.root.join("gitconfig");
    std::fs::write(&global, "[user]\n\tname = Real User\n\temail = real@example.test\n").expect("gitconfig");
    let (_, dir) = dispatch(&fx, "tests/one.txt", &global);
    let branch = read_json(&dir.join("policy.json"))["branch"].as_str().expect("branch").to_owned();
    assert_eq!(people(&fx.repo, &branch), ["Real User <real@example.test>", "Real User <real@example.test>"]);
}
