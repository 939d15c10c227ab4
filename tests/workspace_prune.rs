//! `prune` removes what crashed runs left (worktrees, admin dirs, branches) and nothing a live
//! run or the user still needs; `release` removes the admin dir and the branch.

mod support;

use git_dispatch::workspace::{self, Release, WorkspaceOptions};
use pretty_assertions::assert_eq;
use support::fixtures::{fixture, Fixture};
use support::git::git;

fn options(fx: &Fixture) -> WorkspaceOptions {
    WorkspaceOptions { worktrees_root: Some(fx.worktrees_root()), fresh: true, pool_size: 2 }
}

fn worktree_count(fx: &Fixture) -> usize {
    git(fx.path(), &["worktree", "list", "--porcelain"]).matches("worktree ").count()
}

#[test]
fn crashed_runs_are_pruned_live_ones_kept() {
    let fx = fixture("python-project");
    let opts = options(&fx);
    git(fx.path(), &["branch", "feature"]);
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let live = workspace::create(fx.path(), "live", &base, &opts).unwrap();
    let crashed = workspace::create(fx.path(), "crashed", &base, &opts).unwrap();
    let vanished = workspace::create(fx.path(), "vanished", &base, &opts).unwrap();
    let offered = workspace::create(fx.path(), "offered", &base, &opts).unwrap();
    workspace::release(&offered, Release::KeepBranch, &WorkspaceOptions { pool_size: 0, ..opts.clone() }).unwrap();
    std::fs::remove_dir_all(&vanished.path).unwrap();
    assert_eq!(worktree_count(&fx), 4);

    let is_live = |id: &str| id == "live" || id == "offered";
    let report = workspace::prune(fx.path(), &opts, &is_live).unwrap();

    assert_eq!(report.removed_worktrees, std::slice::from_ref(&crashed.path));
    assert_eq!(report.pruned_admin_dirs.len(), 1);
    let mut deleted = report.deleted_branches.clone();
    deleted.sort();
    assert_eq!(deleted, ["dispatch/crashed", "dispatch/vanished"]);
    assert!(live.path.exists() && !crashed.path.exists());
    assert_eq!(worktree_count(&fx), 2);
    assert_eq!(
        git(fx.path(), &["branch", "--list", "--format=%(refname:short)"]),
        "dispatch/live\ndispatch/offered\nfeature\nmain\n"
    );
    assert_eq!(git(fx.path(), &["worktree", "prune", "--dry-run", "-v"]), "", "git sees nothing left to prune");

    // Pruning again finds nothing.
    let again = workspace::prune(fx.path(), &opts, &is_live).unwrap();
    assert_eq!(again, Default::default());
    workspace::release(&live, Release::DeleteBranch, &opts).unwrap();
}

#[test]
fn prune_keeps_the_pool_and_drops_broken_pool_entries() {
    let fx = fixture("python-project");
    let opts = WorkspaceOptions { fresh: false, ..options(&fx) };
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let a = workspace::create(fx.path(), "pa", &base, &opts).unwrap();
    let b = workspace::create(fx.path(), "pb", &base, &opts).unwrap();
    workspace::release(&a, Release::DeleteBranch, &opts).unwrap();
    workspace::release(&b, Release::DeleteBranch, &opts).unwrap();
    std::fs::remove_dir_all(&b.path).unwrap();
    let report = workspace::prune(fx.path(), &opts, &|_| false).unwrap();
    assert!(a.path.exists(), "healthy pooled worktree kept");
    assert_eq!(report.pruned_admin_dirs.len(), 1, "{report:?}");
    let layout = workspace::layout_for(fx.path(), &opts).unwrap();
    assert_eq!(layout.pooled().unwrap(), ["pa"]);
    assert_eq!(worktree_count(&fx), 2);
}
