//! Creating a workspace: the base commit carries the user's dirty state without touching their
//! checkout, the linked worktree works with the git CLI, and releasing it leaves nothing behind.

mod support;

use git_dispatch::workspace::{self, Release, WorkspaceOptions};
use pretty_assertions::assert_eq;
use support::fixtures::{fixture, Fixture};
use support::git::{git, tree_fingerprint};

fn options(fx: &Fixture, pool_size: usize) -> WorkspaceOptions {
    WorkspaceOptions { worktrees_root: Some(fx.worktrees_root()), fresh: false, pool_size }
}

/// The tree `git add -A && git write-tree` gives for the checkout, computed on a copy.
fn expected_dirty_tree(fx: &Fixture) -> String {
    let copy = fx.root.join("copy");
    let status = std::process::Command::new("cp").arg("-a").arg(fx.path()).arg(&copy).status().unwrap();
    assert!(status.success());
    git(&copy, &["add", "-A"]);
    git(&copy, &["write-tree"]).trim().to_string()
}

#[test]
fn base_of_a_dirty_checkout_is_head_plus_its_changes_and_changes_nothing() {
    let fx = fixture("dirty");
    let before = tree_fingerprint(fx.path());
    let head = git(fx.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let expected_tree = expected_dirty_tree(&fx);

    let base = workspace::resolve_base(fx.path(), None).unwrap();

    assert_eq!(tree_fingerprint(fx.path()), before, "user's checkout, index or refs changed");
    assert!(base.includes_uncommitted);
    assert_eq!(base.head.unwrap().to_string(), head);
    let commit = base.commit.to_string();
    assert_eq!(git(fx.path(), &["rev-parse", &format!("{commit}^{{tree}}")]).trim(), expected_tree);
    assert_eq!(git(fx.path(), &["rev-parse", &format!("{commit}^")]).trim(), head);
    assert_eq!(
        base.dirty_paths,
        ["NOTES.txt", "README.md", "docs/read me.txt", "src/app/new/mod.py", "src/app/util.py", "tests/test_util.py"]
    );
}

#[test]
fn base_of_a_clean_checkout_is_head() {
    let fx = fixture("python-project");
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    assert_eq!(base.commit.to_string(), git(fx.path(), &["rev-parse", "HEAD"]).trim());
    assert!(!base.includes_uncommitted);
    assert!(base.dirty_paths.is_empty());
}

#[test]
fn base_revision_is_used_as_is() {
    let fx = fixture("dirty");
    git(fx.path(), &["tag", "v1"]);
    let base = workspace::resolve_base(fx.path(), Some("v1")).unwrap();
    assert_eq!(base.commit.to_string(), git(fx.path(), &["rev-parse", "v1^{commit}"]).trim());
    assert!(!base.includes_uncommitted);
    assert_eq!(base.dirty_paths.len(), 6);
    let err = workspace::resolve_base(fx.path(), Some("no-such-rev")).unwrap_err();
    assert!(format!("{err:#}").contains("no-such-rev"), "{err:#}");
}

#[test]
fn show_untracked_files_no_does_not_hide_untracked_files_from_the_base() {
    let fx = fixture("dirty");
    git(fx.path(), &["config", "status.showUntrackedFiles", "no"]);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let files = git(fx.path(), &["ls-tree", "-r", "--name-only", &base.commit.to_string()]);
    assert!(files.contains("NOTES.txt\n"), "{files}");
    assert!(files.contains("src/app/new/mod.py\n"), "{files}");
    assert!(!files.contains(".env"), "ignored files must not be in the base: {files}");
}

#[test]
fn created_worktree_works_with_the_git_cli_and_release_leaves_nothing() {
    let fx = fixture("dirty");
    let before = tree_fingerprint(fx.path());
    let opts = options(&fx, 0);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "20260101-000000-worker-one", &base, &opts).unwrap();

    assert!(!ws.warm);
    assert_eq!(ws.branch, "dispatch/20260101-000000-worker-one");
    assert!(ws.path.starts_with(fx.worktrees_root()), "{}", ws.path.display());
    let list = git(fx.path(), &["worktree", "list", "--porcelain"]);
    assert!(list.contains(&format!("worktree {}\n", ws.path.display())), "{list}");
    assert!(list.contains("branch refs/heads/dispatch/20260101-000000-worker-one\n"), "{list}");
    assert_eq!(git(&ws.path, &["status", "--porcelain", "--untracked-files=all"]), "");
    assert_eq!(git(&ws.path, &["diff", "HEAD"]), "");
    assert_eq!(git(&ws.path, &["rev-parse", "HEAD"]).trim(), base.commit.to_string());
    assert_eq!(std::fs::read_to_string(ws.path.join("NOTES.txt")).unwrap(), "notes from the user\n");
    assert!(!ws.path.join("tests/test_util.py").exists());
    assert!(!ws.path.join(".env").exists(), "ignored files are not copied without .worktreeinclude");

    std::fs::write(ws.path.join("new.txt"), "x\n").unwrap();
    git(&ws.path, &["add", "new.txt"]);
    git(&ws.path, &["commit", "-q", "-m", "agent commit"]);
    assert_eq!(git(&ws.path, &["status", "--porcelain"]), "");

    workspace::release(&ws, Release::DeleteBranch, &opts).unwrap();
    assert!(!ws.path.exists());
    assert_eq!(git(fx.path(), &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);
    assert_eq!(git(fx.path(), &["branch", "--list", "dispatch/*"]), "");
    assert_eq!(tree_fingerprint(fx.path()), before);
    assert!(
        !fx.path().join(".git/worktrees").exists()
            || std::fs::read_dir(fx.path().join(".git/worktrees")).unwrap().next().is_none()
    );
}

#[test]
fn keep_branch_keeps_the_branch_only() {
    let fx = fixture("python-project");
    let opts = options(&fx, 0);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "keep-1", &base, &opts).unwrap();
    workspace::release(&ws, Release::KeepBranch, &opts).unwrap();
    assert!(!ws.path.exists());
    assert_eq!(git(fx.path(), &["branch", "--list", "dispatch/*"]), "  dispatch/keep-1\n");
}

#[test]
fn an_existing_branch_or_a_bad_run_id_is_refused() {
    let fx = fixture("python-project");
    let opts = options(&fx, 0);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    git(fx.path(), &["branch", "dispatch/taken"]);
    let err = workspace::create(fx.path(), "taken", &base, &opts).unwrap_err();
    assert!(matches!(err.downcast_ref(), Some(workspace::WorkspaceError::BranchExists(_))), "{err:#}");
    let err = workspace::create(fx.path(), "../x", &base, &opts).unwrap_err();
    assert!(matches!(err.downcast_ref(), Some(workspace::WorkspaceError::InvalidRunId(_))), "{err:#}");
}

#[test]
fn a_worktrees_root_inside_the_repository_is_refused() {
    let fx = fixture("python-project");
    let opts = WorkspaceOptions { worktrees_root: Some(fx.path().join("wts")), ..Default::default() };
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let err = workspace::create(fx.path(), "inside", &base, &opts).unwrap_err();
    assert!(matches!(err.downcast_ref(), Some(workspace::WorkspaceError::RootInsideRepository { .. })), "{err:#}");
    assert_eq!(git(fx.path(), &["branch", "--list", "dispatch/*"]), "");
}

#[test]
fn per_repository_folder_is_named_after_the_repository() {
    let fx = fixture("python-project");
    let opts = options(&fx, 0);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "naming", &base, &opts).unwrap();
    let folder = ws.layout_dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(folder.starts_with("repo-"), "{folder}");
    assert_eq!(ws.layout_dir.parent().unwrap(), fx.worktrees_root());
    workspace::release(&ws, Release::DeleteBranch, &opts).unwrap();
}

#[test]
fn no_hook_or_fsmonitor_runs() {
    let fx = fixture("python-project");
    let marker = fx.root.join("hook-ran");
    let hook = format!("#!/bin/sh\necho \"$0\" >> '{}'\n", marker.display());
    for name in
        ["post-checkout", "pre-commit", "post-commit", "reference-transaction", "post-index-change", "fsmonitor"]
    {
        let path = fx.path().join(".git/hooks").join(name);
        std::fs::write(&path, &hook).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    git(fx.path(), &["config", "core.fsmonitor", fx.path().join(".git/hooks/fsmonitor").to_str().unwrap()]);
    std::fs::write(fx.path().join("dirty.txt"), "d\n").unwrap();
    let opts = WorkspaceOptions { worktrees_root: Some(fx.worktrees_root()), fresh: false, pool_size: 1 };
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "hooks", &base, &opts).unwrap();
    std::fs::write(ws.path.join("x.txt"), "x\n").unwrap();
    workspace::snapshot(&ws).unwrap();
    workspace::release(&ws, Release::DeleteBranch, &opts).unwrap();
    let again = workspace::create(fx.path(), "hooks-2", &base, &opts).unwrap();
    workspace::release(&again, Release::DeleteBranch, &opts).unwrap();
    assert!(!marker.exists(), "a hook ran: {}", std::fs::read_to_string(&marker).unwrap_or_default());
    // The planted hooks do work for the git CLI, so the assertion above can fail.
    git(fx.path(), &["commit", "-q", "--allow-empty", "-m", "hooked"]);
    assert!(marker.exists());
}

#[test]
fn works_from_a_users_linked_worktree() {
    let fx = fixture("python-project");
    let user_wt = fx.root.join("user-linked");
    git(fx.path(), &["worktree", "add", "-q", "-b", "topic", user_wt.to_str().unwrap()]);
    std::fs::write(user_wt.join("topic.txt"), "topic work\n").unwrap();
    let before = git(&user_wt, &["status", "--porcelain"]);
    let opts = options(&fx, 1);
    let base = workspace::resolve_base(&user_wt, None).unwrap();
    assert_eq!(base.head.unwrap().to_string(), git(&user_wt, &["rev-parse", "topic"]).trim());
    assert_eq!(base.dirty_paths, ["topic.txt"]);
    let ws = workspace::create(&user_wt, "from-linked", &base, &opts).unwrap();
    assert_eq!(std::fs::read_to_string(ws.path.join("topic.txt")).unwrap(), "topic work\n");
    assert!(ws.layout_dir.file_name().unwrap().to_string_lossy().starts_with("repo-"), "named after the main checkout");
    assert_eq!(git(fx.path(), &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 3);
    workspace::release(&ws, Release::DeleteBranch, &opts).unwrap();
    assert_eq!(git(&user_wt, &["status", "--porcelain"]), before);
    assert_eq!(git(&user_wt, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/topic");
}
