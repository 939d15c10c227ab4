//! Guard tests for the user's checkout: edits, new and deleted files, mode changes, symlinks,
//! hard links and index changes are reported; git dirs and run folders are not; a linked worktree
//! works as the user's checkout.

mod guard_support;

use std::fs;

use git_dispatch::guard::{capture, compare, GuardReport, GuardScope};
use guard_support::{set_mode, write_file, Repo};
use pretty_assertions::assert_eq;

fn changed(repo_scope: &GuardScope, change: impl FnOnce()) -> GuardReport {
    let before = capture(repo_scope).expect("capture before");
    change();
    let after = capture(repo_scope).expect("capture after");
    compare(&before, &after)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn untouched_checkout_reports_nothing() {
    let repo = Repo::new();
    let report = changed(&repo.scope(), || {
        write_file(&repo.path(".codex-dispatch/runs/r1/result.md"), b"run folder\n");
        write_file(&repo.path("sub/.codex-dispatch/runs/r2/events.jsonl"), b"{}\n");
        write_file(&repo.git_dir().join("objects/pack/tmp_pack"), b"");
        write_file(&repo.path("vendor/embedded/.git/HEAD"), b"ref: refs/heads/main\n");
    });
    assert_eq!(report, GuardReport::default());
}

#[test]
fn edits_creations_deletions_and_mode_changes() {
    let repo = Repo::new();
    let report = changed(&repo.scope(), || {
        repo.write("README.md", "rewritten by the agent\n");
        repo.write("new/file.txt", "new\n");
        fs::remove_file(repo.path("docs/guide.txt")).expect("delete");
        set_mode(&repo.path("src/lib.rs"), 0o755);
    });
    let expected = GuardReport {
        git_dir_tampered: vec![],
        main_checkout_changed: strings(&["README.md", "docs/guide.txt", "new/file.txt", "src/lib.rs"]),
    };
    assert_eq!(report, expected);
}

#[test]
fn same_size_rewrite_is_seen() {
    let repo = Repo::new();
    let report = changed(&repo.scope(), || {
        repo.write("README.md", "HELLO\nWORLD\n");
    });
    assert_eq!(report.main_checkout_changed, strings(&["README.md"]));
}

#[test]
fn ignored_files_are_guarded_too() {
    let repo = Repo::new();
    repo.write(".gitignore", "target/\n.env\n");
    repo.write(".env", "TOKEN=1\n");
    let report = changed(&repo.scope(), || {
        repo.write(".env", "TOKEN=stolen-and-replaced\n");
        repo.write("target/debug/build.rs", "fn main() {}\n");
    });
    assert_eq!(report.main_checkout_changed, strings(&[".env", "target/debug/build.rs"]));
}

#[test]
fn symlink_retargeted_and_hard_link_made() {
    let repo = Repo::new();
    std::os::unix::fs::symlink("README.md", repo.path("link")).expect("symlink");
    let outside = repo.tmp.path().join("outside-copy");
    let report = changed(&repo.scope(), || {
        fs::remove_file(repo.path("link")).expect("remove link");
        std::os::unix::fs::symlink("/etc/passwd", repo.path("link")).expect("symlink");
        fs::hard_link(repo.path("docs/guide.txt"), &outside).expect("hard link");
    });
    assert_eq!(report.main_checkout_changed, strings(&["docs/guide.txt", "link"]));
}

#[test]
fn index_change_is_reported() {
    let repo = Repo::new();
    repo.write("README.md", "changed before the run\n");
    let report = changed(&repo.scope(), || {
        repo.git(&["add", "README.md"]);
    });
    assert_eq!(report.main_checkout_changed, strings(&["<index>"]));
}

#[test]
fn linked_worktree_as_the_users_checkout() {
    let repo = Repo::new();
    let linked = repo.tmp.path().join("linked");
    let linked = {
        repo.git(&["worktree", "add", "-q", "-b", "topic", linked.to_str().expect("utf-8")]);
        fs::canonicalize(&linked).expect("canonical")
    };
    let scope = GuardScope {
        common_dir: repo.git_dir(),
        user_root: linked.clone(),
        user_git_dir: repo.git_dir().join("worktrees/linked"),
        own_worktrees_root: repo.own_root(),
    };
    let report = changed(&scope, || {
        write_file(&linked.join("README.md"), b"edited in the linked checkout\n");
        repo.git_in(&linked, &["add", "README.md"]);
        repo.write("docs/guide.txt", "the main worktree is not this user's checkout\n");
    });
    assert_eq!(
        report,
        GuardReport { git_dir_tampered: vec![], main_checkout_changed: strings(&["README.md", "<index>"]) }
    );

    let report = changed(&scope, || {
        repo.git_in(&linked, &["commit", "-q", "-m", "moves topic"]);
    });
    assert_eq!(
        report.git_dir_tampered,
        strings(&["logs/refs/heads/topic", "refs/heads/topic", "worktrees/linked/logs/HEAD"])
    );
    assert_eq!(report.main_checkout_changed, strings(&["<index>"]));
}
