//! Warm starts: released worktrees go to the pool clean and detached, the next run gets one moved
//! to its own base touching only differing paths, with nothing of the previous run left but
//! ignored build outputs.

mod support;

use git_dispatch::workspace::{self, Release, WorkspaceOptions};
use pretty_assertions::assert_eq;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use support::fixtures::{fixture, Fixture};
use support::git::{git, git_output, hermetic_command};

fn options(fx: &Fixture, pool_size: usize) -> WorkspaceOptions {
    WorkspaceOptions { worktrees_root: Some(fx.worktrees_root()), fresh: false, pool_size }
}

fn sh(dir: &Path, script: &str) {
    let out = hermetic_command("bash").arg("-c").arg(script).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `(inode, mtime ns)` of every tracked file of the worktree.
fn identities(wt: &Path) -> BTreeMap<String, (u64, i64)> {
    git(wt, &["ls-files", "-z"])
        .split('\0')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let md = std::fs::symlink_metadata(wt.join(p)).ok()?;
            Some((p.to_string(), (md.ino(), md.mtime() * 1_000_000_000 + md.mtime_nsec())))
        })
        .collect()
}

#[test]
fn a_run_leaving_edits_behind_does_not_leak_into_the_next_run() {
    let fx = fixture("python-project");
    let opts = options(&fx, 2);
    let base_a = workspace::resolve_base(fx.path(), None).unwrap();
    let a = workspace::create(fx.path(), "run-a", &base_a, &opts).unwrap();
    sh(
        &a.path,
        "echo leaked >> README.md && printf 'untracked\\n' > leftover.txt && mkdir -p deep/er && echo u > deep/er/x && \
         echo staged >> src/app/util.py && git add src/app/util.py && rm tests/test_util.py && \
         mkdir -p build && echo artifact > build/out.o && chmod +x README.md",
    );
    // No snapshot: a failed run hands back a dirty worktree.
    workspace::release(&a, Release::DeleteBranch, &opts).unwrap();
    let layout = workspace::layout_for(fx.path(), &opts).unwrap();
    assert_eq!(layout.pooled().unwrap(), ["run-a"]);
    assert!(a.path.exists());
    assert_eq!(git(&a.path, &["status", "--porcelain", "--untracked-files=all"]), "");
    assert_eq!(git(&a.path, &["rev-parse", "HEAD"]).trim(), base_a.commit.to_string());
    assert!(!git_output(&a.path, &["symbolic-ref", "-q", "HEAD"]).status.success(), "pooled worktrees are detached");
    assert_eq!(git(fx.path(), &["branch", "--list", "dispatch/*"]), "");

    // The user moves on: new commit plus dirty state.
    sh(
        fx.path(),
        "echo 'def mul(a, b):\n    return a * b' >> src/app/util.py && git commit -qam more && echo new > user-new.txt",
    );
    let base_b = workspace::resolve_base(fx.path(), None).unwrap();
    let before = identities(&a.path);
    let b = workspace::create(fx.path(), "run-b", &base_b, &opts).unwrap();

    assert!(b.warm);
    assert_eq!(b.path, a.path);
    assert_eq!(git(&b.path, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/dispatch/run-b");
    assert_eq!(git(&b.path, &["rev-parse", "HEAD"]).trim(), base_b.commit.to_string());
    assert_eq!(git(&b.path, &["status", "--porcelain", "--untracked-files=all"]), "");
    assert_eq!(git(&b.path, &["diff", "HEAD", "--stat"]), "");
    assert!(!b.path.join("leftover.txt").exists() && !b.path.join("deep").exists());
    assert_eq!(std::fs::read_to_string(b.path.join("user-new.txt")).unwrap(), "new\n");
    assert_eq!(std::fs::read_to_string(b.path.join("build/out.o")).unwrap(), "artifact\n", "ignored outputs stay");

    let after = identities(&b.path);
    let changed: Vec<&String> = after.keys().filter(|p| before.get(*p) != after.get(*p)).collect();
    assert_eq!(changed, ["src/app/util.py", "user-new.txt"], "only paths that differ between the bases are touched");
    workspace::release(&b, Release::DeleteBranch, &opts).unwrap();
}

#[test]
fn snapshot_then_pool_keeps_result_branch_when_asked() {
    let fx = fixture("python-project");
    let opts = options(&fx, 2);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "offered", &base, &opts).unwrap();
    sh(&ws.path, "echo change >> README.md");
    let snap = workspace::snapshot(&ws).unwrap();
    workspace::release(&ws, Release::KeepBranch, &opts).unwrap();
    assert_eq!(git(fx.path(), &["rev-parse", "dispatch/offered"]).trim(), snap.result_commit.to_string());
    assert_eq!(git(&ws.path, &["rev-parse", "HEAD"]).trim(), snap.result_commit.to_string());
    let head_file = git(&ws.path, &["rev-parse", "--path-format=absolute", "--git-path", "HEAD"]);
    let head = std::fs::read_to_string(head_file.trim()).unwrap();
    assert_eq!(head.trim(), snap.result_commit.to_string(), "pooled worktrees are detached");
    // The kept branch is free: the user can check it out in their checkout.
    git(fx.path(), &["checkout", "-q", "dispatch/offered"]);
}

#[test]
fn a_snapshotted_worktree_goes_to_the_pool_clean_without_another_pass() {
    let fx = fixture("python-project");
    let opts = options(&fx, 2);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "snap", &base, &opts).unwrap();
    sh(&ws.path, "echo change >> README.md && echo new > added.txt");
    let snap = workspace::snapshot(&ws).unwrap();
    assert_eq!(git(&ws.path, &["status", "--porcelain", "--untracked-files=all"]), "", "the snapshot leaves it clean");
    // Written after the snapshot: a pass over the files would delete it; none is made.
    sh(&ws.path, "echo late > late.txt");
    workspace::release_snapshotted(&ws, snap.result_commit, Release::DeleteBranch, &opts).unwrap();
    let layout = workspace::layout_for(fx.path(), &opts).unwrap();
    assert_eq!(layout.pooled().unwrap(), ["snap"]);
    assert_eq!(git(&ws.path, &["rev-parse", "HEAD"]).trim(), snap.result_commit.to_string());
    assert!(!git_output(&ws.path, &["symbolic-ref", "-q", "HEAD"]).status.success(), "pooled worktrees are detached");
    assert_eq!(git(&ws.path, &["status", "--porcelain", "--untracked-files=all"]), "?? late.txt\n");

    let next = workspace::create(fx.path(), "next", &base, &opts).unwrap();
    assert_eq!(next.path, ws.path);
    assert_eq!(git(&next.path, &["status", "--porcelain", "--untracked-files=all"]), "", "taking it cleans it");
    assert!(!next.path.join("late.txt").exists() && !next.path.join("added.txt").exists());
    workspace::release(&next, Release::DeleteBranch, &opts).unwrap();
}

#[test]
fn taking_a_clean_worktree_at_its_own_commit_rewrites_nothing() {
    let fx = fixture("python-project");
    let opts = options(&fx, 2);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let first = workspace::create(fx.path(), "first", &base, &opts).unwrap();
    workspace::release(&first, Release::DeleteBranch, &opts).unwrap();
    let index = git(&first.path, &["rev-parse", "--path-format=absolute", "--git-path", "index"]);
    let stamp = |path: &str| {
        let md = std::fs::metadata(path.trim()).unwrap();
        (md.ino(), md.mtime(), md.mtime_nsec())
    };
    let (index_before, files_before) = (stamp(&index), identities(&first.path));

    let second = workspace::create(fx.path(), "second", &base, &opts).unwrap();
    assert!(second.warm);
    assert_eq!(stamp(&index), index_before, "the index is not rewritten");
    assert_eq!(identities(&second.path), files_before);
    assert_eq!(git(&second.path, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/dispatch/second");
    assert_eq!(git(&second.path, &["status", "--porcelain", "--untracked-files=all"]), "");
    workspace::release(&second, Release::DeleteBranch, &opts).unwrap();
}

#[test]
fn a_snapshot_that_is_not_the_branch_tip_is_cleaned_as_usual() {
    let fx = fixture("python-project");
    let opts = options(&fx, 2);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "stale", &base, &opts).unwrap();
    sh(&ws.path, "echo change >> README.md");
    let snap = workspace::snapshot(&ws).unwrap();
    sh(&ws.path, "echo late > late.txt");
    workspace::release_snapshotted(&ws, base.commit, Release::KeepBranch, &opts).unwrap();
    assert_eq!(git(&ws.path, &["rev-parse", "HEAD"]).trim(), snap.result_commit.to_string());
    assert_eq!(git(&ws.path, &["status", "--porcelain", "--untracked-files=all"]), "");
}

#[test]
fn fresh_skips_the_pool_and_the_pool_has_a_size_limit() {
    let fx = fixture("python-project");
    let opts = options(&fx, 1);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let first = workspace::create(fx.path(), "one", &base, &opts).unwrap();
    let second = workspace::create(fx.path(), "two", &base, &opts).unwrap();
    workspace::release(&first, Release::DeleteBranch, &opts).unwrap();
    workspace::release(&second, Release::DeleteBranch, &opts).unwrap();
    assert!(first.path.exists());
    assert!(!second.path.exists(), "the pool holds one worktree");
    let layout = workspace::layout_for(fx.path(), &opts).unwrap();
    assert_eq!(layout.pooled().unwrap(), ["one"]);

    let fresh = WorkspaceOptions { fresh: true, ..opts.clone() };
    let third = workspace::create(fx.path(), "three", &base, &fresh).unwrap();
    assert!(!third.warm);
    assert_ne!(third.path, first.path);
    assert_eq!(layout.pooled().unwrap(), ["one"]);
    workspace::release(&third, Release::DeleteBranch, &WorkspaceOptions { pool_size: 0, ..opts.clone() }).unwrap();

    assert_eq!(workspace::clear_pool(fx.path(), &opts).unwrap(), 1);
    assert!(!first.path.exists());
    assert_eq!(layout.pooled().unwrap(), Vec::<String>::new());
    assert_eq!(git(fx.path(), &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);
}

#[test]
fn a_pooled_worktree_changed_while_idle_is_cleaned_when_taken() {
    let fx = fixture("python-project");
    let opts = options(&fx, 2);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let a = workspace::create(fx.path(), "idle-a", &base, &opts).unwrap();
    workspace::release(&a, Release::DeleteBranch, &opts).unwrap();
    sh(&a.path, "echo tampered >> README.md && echo stray > stray.txt && git rm -q --cached scripts/run.sh");
    let b = workspace::create(fx.path(), "idle-b", &base, &opts).unwrap();
    assert!(b.warm);
    assert_eq!(git(&b.path, &["status", "--porcelain", "--untracked-files=all"]), "");
    assert!(!b.path.join("stray.txt").exists());
}

#[test]
fn a_broken_pool_entry_is_dropped_and_a_fresh_worktree_made() {
    let fx = fixture("python-project");
    let opts = options(&fx, 2);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let a = workspace::create(fx.path(), "broken-a", &base, &opts).unwrap();
    workspace::release(&a, Release::DeleteBranch, &opts).unwrap();
    // A missing `.git` file is put back when the worktree is taken; a missing admin dir is not.
    std::fs::remove_dir_all(a.common_dir.join("worktrees").join(&a.name)).unwrap();
    let b = workspace::create(fx.path(), "broken-b", &base, &opts).unwrap();
    assert!(!b.warm);
    assert_eq!(git(&b.path, &["status", "--porcelain"]), "");
    let layout = workspace::layout_for(fx.path(), &opts).unwrap();
    assert_eq!(layout.pooled().unwrap(), Vec::<String>::new());
}
