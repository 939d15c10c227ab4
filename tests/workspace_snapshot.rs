//! `workspace::snapshot` records the worktree's final state exactly as `git add -A` would see it,
//! on `dispatch/<run-id>` with the expected parent, whatever the agent did to HEAD and the index.

mod support;

use git_dispatch::workspace::{self, Base, Release, Workspace, WorkspaceOptions};
use pretty_assertions::assert_eq;
use std::path::Path;
use support::fixtures::{fixture, Fixture};
use support::git::git;

struct Setup {
    fx: Fixture,
    opts: WorkspaceOptions,
    base: Base,
    ws: Workspace,
}

fn setup(name: &str, before: &str) -> Setup {
    let fx = fixture(name);
    if !before.is_empty() {
        fx.sh(before);
    }
    let opts = WorkspaceOptions { worktrees_root: Some(fx.worktrees_root()), fresh: true, pool_size: 0 };
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "snap", &base, &opts).unwrap();
    Setup { fx, opts, base, ws }
}

use support::git::{add_all_tree, sh_in as sh};

fn rev(repo: &Path, spec: &str) -> String {
    git(repo, &["rev-parse", spec]).trim().to_string()
}

#[test]
fn every_kind_of_change_is_recorded_on_top_of_the_agents_commits() {
    let s = setup("python-project", "");
    let wt = &s.ws.path;
    sh(
        wt,
        "echo '# agent' >> README.md && git add README.md && git commit -q -m 'agent commit' && \
         printf 'staged\\n' > staged.txt && git add staged.txt && \
         echo 'unstaged = 1' >> src/app/util.py && \
         rm tests/test_util.py && \
         git mv 'docs/read me.txt' docs/readme.txt && echo more >> docs/readme.txt && \
         chmod +x src/app/__init__.py && chmod -x scripts/run.sh && \
         ln -s README.md link && rm assets/logo.bin && ln -s ../README.md assets/logo.bin && \
         mkdir -p new/deep && printf 'u\\n' > new/deep/untracked.txt && \
         printf 'secret\\n' > .env && mkdir -p build && printf 'o\\n' > build/out.txt && \
         printf 'staged then deleted\\n' > gone.txt && git add gone.txt && rm gone.txt",
    );
    let agent_commit = rev(wt, "HEAD");
    let expected_tree = add_all_tree(wt);

    let snap = workspace::snapshot(&s.ws).unwrap();

    let result = snap.result_commit.to_string();
    assert_eq!(rev(s.fx.path(), "refs/heads/dispatch/snap"), result);
    assert_eq!(rev(wt, &format!("{result}^{{tree}}")), expected_tree);
    assert_eq!(rev(wt, &format!("{result}^")), agent_commit);
    assert_eq!(snap.ignored_written, [".env", "build/out.txt"]);
    assert_eq!(git(wt, &["status", "--porcelain", "--untracked-files=all"]), "");
    assert_eq!(git(wt, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/dispatch/snap");
    let names = git(wt, &["ls-tree", "-r", "--name-only", &result]);
    assert!(!names.contains(".env") && !names.contains("build/"), "{names}");
    assert!(names.contains("new/deep/untracked.txt\n"), "{names}");
    workspace::release(&s.ws, Release::DeleteBranch, &s.opts).unwrap();
}

#[test]
fn detached_head_commits_are_kept_as_content_with_base_as_parent() {
    let s = setup("python-project", "");
    let wt = &s.ws.path;
    sh(wt, "git checkout -q --detach && echo x >> README.md && git commit -qam detached && echo y > extra.txt");
    let expected_tree = add_all_tree(wt);
    let snap = workspace::snapshot(&s.ws).unwrap();
    let result = snap.result_commit.to_string();
    assert_eq!(rev(wt, &format!("{result}^{{tree}}")), expected_tree);
    assert_eq!(rev(wt, &format!("{result}^")), s.base.commit.to_string());
    assert_eq!(rev(s.fx.path(), "dispatch/snap"), result);
    assert_eq!(git(wt, &["symbolic-ref", "HEAD"]).trim(), "refs/heads/dispatch/snap");
    assert_eq!(git(wt, &["status", "--porcelain"]), "");
}

#[test]
fn switching_branch_does_not_move_the_result_elsewhere() {
    let s = setup("python-project", "");
    let wt = &s.ws.path;
    sh(wt, "git checkout -q -b agent-side && echo side > side.txt && git add side.txt && git commit -qm side");
    let side = rev(wt, "agent-side");
    let snap = workspace::snapshot(&s.ws).unwrap();
    let result = snap.result_commit.to_string();
    assert_eq!(rev(wt, &format!("{result}^")), s.base.commit.to_string());
    assert_eq!(rev(wt, &format!("{result}:side.txt")), rev(wt, &format!("{side}:side.txt")));
    assert_eq!(rev(s.fx.path(), "agent-side"), side, "the agent's other branch is left alone");
}

#[test]
fn branch_reset_away_from_base_falls_back_to_base() {
    let s = setup("python-project", "");
    let wt = &s.ws.path;
    sh(wt, "git checkout -q --orphan tmp && git commit -qm orphan && git branch -f dispatch/snap tmp && git checkout -q dispatch/snap && git branch -q -D tmp");
    let snap = workspace::snapshot(&s.ws).unwrap();
    assert_eq!(snap.result_commit, s.base.commit, "same tree as base, and the orphan is not kept");
    assert_eq!(rev(s.fx.path(), "dispatch/snap"), s.base.commit.to_string());
    sh(wt, "echo q > q.txt");
    let snap = workspace::snapshot(&s.ws).unwrap();
    assert_eq!(rev(wt, &format!("{}^", snap.result_commit)), s.base.commit.to_string());
}

#[test]
fn nothing_changed_means_result_is_base() {
    let s = setup("dirty", "");
    let snap = workspace::snapshot(&s.ws).unwrap();
    assert_eq!(snap.result_commit, s.base.commit);
    assert!(snap.ignored_written.is_empty());
}

#[test]
fn agent_commits_without_further_edits_are_the_result() {
    let s = setup("python-project", "");
    let wt = &s.ws.path;
    sh(wt, "echo z >> README.md && git commit -qam one && echo w >> README.md && git commit -qam two");
    let tip = rev(wt, "HEAD");
    let snap = workspace::snapshot(&s.ws).unwrap();
    assert_eq!(snap.result_commit.to_string(), tip);
}

#[test]
fn file_mode_false_keeps_index_modes() {
    let s = setup("python-project", "git config core.fileMode false");
    let wt = &s.ws.path;
    sh(wt, "chmod +x README.md && chmod -x scripts/run.sh && printf 'n\\n' > new.sh && chmod +x new.sh");
    let snap = workspace::snapshot(&s.ws).unwrap();
    let tree = git(wt, &["ls-tree", "-r", "--format=%(objectmode) %(path)", &snap.result_commit.to_string()]);
    assert!(tree.contains("100644 README.md\n"), "{tree}");
    assert!(tree.contains("100755 scripts/run.sh\n"), "{tree}");
    assert!(tree.contains("100644 new.sh\n"), "{tree}");
    assert_eq!(rev(wt, &format!("{}^{{tree}}", snap.result_commit)), add_all_tree(wt));
}

#[test]
fn autocrlf_and_gitattributes_are_respected() {
    let s = setup(
        "python-project",
        "git config core.autocrlf input && printf '*.bat text eol=crlf\\n*.raw -text\\n' > .gitattributes && git add .gitattributes && git commit -qm attrs",
    );
    let wt = &s.ws.path;
    sh(wt, "printf 'a\\r\\nb\\r\\n' > dos.txt && printf 'x\\r\\ny\\r\\n' > run.bat && printf 'k\\r\\n' > keep.raw");
    let expected = add_all_tree(wt);
    let snap = workspace::snapshot(&s.ws).unwrap();
    let result = snap.result_commit.to_string();
    assert_eq!(rev(wt, &format!("{result}^{{tree}}")), expected);
    assert_eq!(git(wt, &["cat-file", "-p", &format!("{result}:dos.txt")]), "a\nb\n");
    assert_eq!(git(wt, &["cat-file", "-p", &format!("{result}:keep.raw")]), "k\r\n");
    assert_eq!(git(wt, &["status", "--porcelain"]), "");
}

#[test]
fn show_untracked_files_no_does_not_hide_new_files() {
    let s = setup("python-project", "git config status.showUntrackedFiles no");
    sh(&s.ws.path, "mkdir -p a/b && echo 1 > a/b/c.txt && echo 2 > top.txt");
    let snap = workspace::snapshot(&s.ws).unwrap();
    let names = git(&s.ws.path, &["ls-tree", "-r", "--name-only", &snap.result_commit.to_string()]);
    assert!(names.contains("a/b/c.txt\n") && names.contains("top.txt\n"), "{names}");
}

#[test]
fn symlink_changes_and_dangling_links_are_recorded() {
    let s = setup("symlinks", "");
    let wt = &s.ws.path;
    sh(wt, "ln -sfn elsewhere dangling-link && rm link-to-dir && mkdir link-to-dir && echo f > link-to-dir/f && rm lib/target.txt");
    let expected = add_all_tree(wt);
    let snap = workspace::snapshot(&s.ws).unwrap();
    assert_eq!(rev(wt, &format!("{}^{{tree}}", snap.result_commit)), expected);
}

#[test]
fn ignored_files_present_before_the_run_are_not_listed() {
    let s = setup("python-project", "printf '.env\\n' > .worktreeinclude && printf 'S=1\\n' > .env");
    assert_eq!(s.ws.included, [".env"]);
    sh(&s.ws.path, "mkdir -p build && echo o > build/o.txt");
    let snap = workspace::snapshot(&s.ws).unwrap();
    assert_eq!(snap.ignored_written, ["build/o.txt"]);
}

#[test]
fn submodules_are_recorded_as_gitlinks() {
    let s = setup("submodule", "");
    let wt = &s.ws.path;
    assert_eq!(s.base.commit.to_string(), rev(s.fx.path(), "HEAD"));
    let snap = workspace::snapshot(&s.ws).unwrap();
    assert_eq!(snap.result_commit, s.base.commit, "an uninitialized submodule is no change");
    sh(wt, "echo more >> README.md");
    let snap = workspace::snapshot(&s.ws).unwrap();
    let names = git(wt, &["diff", "--name-only", &s.base.commit.to_string(), &snap.result_commit.to_string()]);
    assert_eq!(names, "README.md\n");

    // A submodule moved in the user's checkout is part of the base.
    sh(s.fx.path(), "git -C vendor/lib commit -q --allow-empty -m moved");
    let moved = workspace::resolve_base(s.fx.path(), None).unwrap();
    assert!(moved.includes_uncommitted);
    assert_eq!(moved.dirty_paths, ["vendor/lib"]);
    let gitlink = git(s.fx.path(), &["rev-parse", &format!("{}:vendor/lib", moved.commit)]);
    assert_eq!(gitlink, git(&s.fx.path().join("vendor/lib"), &["rev-parse", "HEAD"]));
}

/// The ctime of `rela` below `dir`, as a `SystemTime`.
fn ctime_of(dir: &Path, rela: &str) -> std::time::SystemTime {
    use std::os::unix::fs::MetadataExt as _;
    let md = std::fs::symlink_metadata(dir.join(rela)).unwrap();
    std::time::UNIX_EPOCH + std::time::Duration::new(md.ctime() as u64, md.ctime_nsec() as u32)
}

/// Issue 20 item 3: with coarse timestamps, a file the agent writes in the tick the workspace was
/// stamped ready carries exactly the stamp's time (ctime cannot be set, so the test sets the stamp
/// to the file's ctime instead: the same tick, made certain). It still counts as written, and the
/// symlink it is reaches the sensitive checks.
#[test]
fn an_ignored_file_changed_in_the_stamps_own_tick_counts_as_written() {
    let mut s = setup("python-project", "");
    sh(&s.ws.path, "ln -s /etc/passwd .env && mkdir -p build && printf 'o\\n' > build/out.txt");
    s.ws.ready_at = ctime_of(&s.ws.path, ".env");

    let snap = workspace::snapshot(&s.ws).unwrap();

    assert_eq!(snap.ignored_written, [".env", "build/out.txt"]);
    let found = git_dispatch::sensitive::detect_ignored(&s.ws.path, &snap.ignored_written);
    assert_eq!(found.iter().map(|f| (f.path.as_str(), f.kind.as_str())).collect::<Vec<_>>(), [(".env", "symlink")]);
    workspace::release(&s.ws, Release::DeleteBranch, &s.opts).unwrap();
}

/// Files in place before the stamp (`.worktreeinclude` copies, SETUP outputs) have an earlier
/// ctime than it, even when made in the tick just before: the stamp waits for the next tick.
#[test]
fn files_changed_just_before_the_stamp_do_not_count() {
    let mut s = setup("python-project", "");
    sh(&s.ws.path, "printf 'setup\\n' > .env");
    s.ws.mark_ready().unwrap();
    assert!(ctime_of(&s.ws.path, ".env") < s.ws.ready_at);
    let snap = workspace::snapshot(&s.ws).unwrap();
    assert_eq!(snap.ignored_written, Vec::<String>::new());
    workspace::release(&s.ws, Release::DeleteBranch, &s.opts).unwrap();
}
