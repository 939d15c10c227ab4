//! A pooled worktree taken without a rescan (issue 17): a run whose programs all ran confined
//! returns its worktree sealed, and the next run takes it by touching only the paths where its
//! tree and the new base differ. It must hold the base exactly (as `git add -A` records it), and
//! the change journal's snapshot after edits must equal the full scan's and git's. Where the seal
//! cannot vouch (an unconfined program ran since, the index or HEAD moved, no seal), the take
//! reads every file as before.

mod support;

use git_dispatch::workspace::{self, JournalHandle, Release, Workspace, WorkspaceOptions};
use pretty_assertions::assert_eq;
use std::path::Path;
use support::fixtures::{fixture, Fixture};
use support::git::{add_all_tree, git, sh_in as sh};

fn tree_of(repo: &Path, commit: &gix::ObjectId) -> String {
    git(repo, &["rev-parse", &format!("{commit}^{{tree}}")]).trim().to_string()
}

fn pooled(fx: &Fixture) -> WorkspaceOptions {
    WorkspaceOptions { worktrees_root: Some(fx.worktrees_root()), fresh: false, pool_size: 2 }
}

/// A confined run's worktree, with ignored build outputs, returned to the pool (sealed).
fn return_sealed(fx: &Fixture, run_id: &str) {
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let mut ws = workspace::create(fx.path(), run_id, &base, &pooled(fx)).unwrap();
    ws.confined = true;
    sh(&ws.path, "mkdir -p __pycache__ && printf 'o\\n' > __pycache__/kept.pyc && echo n >> README.md");
    let snap = workspace::snapshot(&ws).unwrap();
    assert_eq!(snap.full_scan_reason, None);
    workspace::release_snapshotted(&ws, snap.result_commit, Release::DeleteBranch, &pooled(fx)).unwrap();
}

fn take(fx: &Fixture, run_id: &str) -> (Workspace, workspace::Base) {
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), run_id, &base, &pooled(fx)).unwrap();
    assert!(ws.warm, "taken from the pool");
    (ws, base)
}

#[test]
fn a_sealed_worktree_is_taken_without_a_rescan_and_snapshots_as_the_full_scan_and_git() {
    let fx = fixture("python-project");
    return_sealed(&fx, "first");
    // The user's checkout moves on: the new base differs from the pooled tree.
    fx.sh("echo '# user' >> README.md && rm tests/test_util.py && mkdir -p new && printf 'u\\n' > new/user.txt");
    let (taken, base) = take(&fx, "second");
    assert!(!taken.pool_rescanned, "sealed by a confined run, nothing unconfined since: no rescan");
    assert_eq!(add_all_tree(&taken.path), tree_of(fx.path(), &base.commit), "it holds the base exactly");
    assert!(taken.path.join("__pycache__/kept.pyc").is_file(), "ignored outputs stay");
    assert_eq!(git(&taken.path, &["--no-optional-locks", "status", "--porcelain"]), "");

    let mut scanned =
        workspace::create(fx.path(), "scanned", &base, &WorkspaceOptions { fresh: true, ..pooled(&fx) }).unwrap();
    scanned.journal = JournalHandle::off("the test scans in full");
    let script = "echo more >> README.md && rm -r src/app && printf 'p\\n' > src/app \
                  && mv new/user.txt moved.txt && chmod +x scripts/run.sh && mkdir -p __pycache__ && printf 'w\\n' > __pycache__/new.pyc";
    sh(&taken.path, script);
    sh(&scanned.path, script);
    let expected = add_all_tree(&taken.path);
    assert_eq!(add_all_tree(&scanned.path), expected);
    let fast = workspace::snapshot(&taken).unwrap();
    let full = workspace::snapshot(&scanned).unwrap();
    assert_eq!(fast.full_scan_reason, None, "the journal of a sealed take vouches");
    assert_eq!(tree_of(fx.path(), &fast.result_commit), expected, "journal after a sealed take");
    assert_eq!(tree_of(fx.path(), &full.result_commit), expected, "full scan");
    assert_eq!(fast.ignored_written, ["__pycache__/new.pyc"]);
    assert_eq!(fast.ignored_written, full.ignored_written);
    for ws in [&taken, &scanned] {
        workspace::release(ws, Release::DeleteBranch, &pooled(&fx)).unwrap();
    }
}

#[test]
fn an_unconfined_program_since_the_seal_means_a_rescan() {
    let fx = fixture("python-project");
    return_sealed(&fx, "first");
    // A run without a sandbox starts (it may write any pooled worktree) and ends.
    workspace::mark_unconfined(&fx.worktrees_root(), "unconfined-run").unwrap();
    let (busy, _) = take(&fx, "while-it-runs");
    assert!(busy.pool_rescanned, "an unconfined run is going on");
    let planted = busy.path.join("README.md");
    workspace::release(&busy, Release::DeleteBranch, &pooled(&fx)).unwrap();
    workspace::release_unconfined();
    // Sealed while the unconfined run was going on, and the marker went later: still read in full.
    std::fs::write(&planted, "written while pooled\n").unwrap();
    let (after, base) = take(&fx, "after-it-ended");
    assert!(after.pool_rescanned, "the seal is older than the unconfined run's end");
    assert_eq!(add_all_tree(&after.path), tree_of(fx.path(), &base.commit), "the rescan put the file back");
}

#[test]
fn a_moved_index_or_head_or_an_unsealed_worktree_means_a_rescan() {
    let fx = fixture("python-project");
    return_sealed(&fx, "first");
    let admin = fx.path().join(".git/worktrees/first");
    // Something rewrote the pooled worktree's index (a `git add` there, say).
    let index = std::fs::read(admin.join("index")).unwrap();
    std::fs::write(admin.join("index"), index).unwrap();
    let (taken, base) = take(&fx, "second");
    assert!(taken.pool_rescanned, "the index is not the sealed one");
    assert_eq!(add_all_tree(&taken.path), tree_of(fx.path(), &base.commit));
    // Returned by a run that was not confined (ws.confined stays false): no seal.
    let snap = workspace::snapshot(&taken).unwrap();
    workspace::release_snapshotted(&taken, snap.result_commit, Release::DeleteBranch, &pooled(&fx)).unwrap();
    let (again, _) = take(&fx, "third");
    assert!(again.pool_rescanned, "not sealed");
}
