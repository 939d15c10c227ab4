//! The change journal's fast snapshot gives exactly what the full scan gives: for every kind of
//! edit an agent can make without git, two worktrees of the same base get the same edits, one
//! snapshotted from the journal and one by scanning every file, and both trees must equal what
//! `git add -A && git write-tree` records. Where the journal cannot vouch for the result (ignore
//! rules changed, a directory moved, the index or HEAD moved, a repository appeared) the
//! snapshot falls back to the full scan and says why.

mod support;

use git_dispatch::workspace::{self, JournalHandle, Release, Snapshot, Workspace, WorkspaceOptions};
use pretty_assertions::assert_eq;
use std::path::Path;
use support::fixtures::{fixture, Fixture};
use support::git::git;

use support::git::{add_all_tree, sh_in as sh};

fn tree_of(repo: &Path, commit: &gix::ObjectId) -> String {
    git(repo, &["rev-parse", &format!("{commit}^{{tree}}")]).trim().to_string()
}

fn options(fx: &Fixture, fresh: bool, pool_size: usize) -> WorkspaceOptions {
    WorkspaceOptions { worktrees_root: Some(fx.worktrees_root()), fresh, pool_size }
}

/// Runs `script` in a journaled worktree and in one scanned in full; returns both snapshots
/// after checking they record the same tree as git and list the same ignored files.
fn both_ways(before: &str, script: &str) -> (Snapshot, Snapshot) {
    let fx = fixture("python-project");
    if !before.is_empty() {
        fx.sh(before);
    }
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let opts = options(&fx, true, 0);
    let journaled = workspace::create(fx.path(), "journaled", &base, &opts).unwrap();
    let mut scanned = workspace::create(fx.path(), "scanned", &base, &opts).unwrap();
    assert!(journaled.journal.get().is_some(), "{:?}", journaled.journal);
    scanned.journal = JournalHandle::off("the test scans in full");
    sh(&journaled.path, script);
    sh(&scanned.path, script);
    let expected = add_all_tree(&journaled.path);
    assert_eq!(add_all_tree(&scanned.path), expected, "the same script gives the same tree");

    let fast = workspace::snapshot(&journaled).unwrap();
    let full = workspace::snapshot(&scanned).unwrap();

    assert_eq!(full.full_scan_reason.as_deref(), Some("the test scans in full"));
    assert_eq!(tree_of(fx.path(), &fast.result_commit), expected, "journal: {script}");
    assert_eq!(tree_of(fx.path(), &full.result_commit), expected, "full scan: {script}");
    assert_eq!(fast.ignored_written, full.ignored_written, "{script}");
    let status = git(&journaled.path, &["status", "--porcelain"]);
    assert_eq!(status, "", "the worktree is clean after the journaled snapshot");
    for ws in [&journaled, &scanned] {
        workspace::release(ws, Release::DeleteBranch, &opts).unwrap();
    }
    (fast, full)
}

fn journal_only(script: &str) -> Snapshot {
    let (fast, _) = both_ways("", script);
    assert_eq!(fast.full_scan_reason, None, "the journal was enough for: {script}");
    fast
}

#[test]
fn content_edits_additions_and_deletions() {
    journal_only("echo '# more' >> README.md && printf 'x = 1\\n' >> src/app/util.py && rm tests/test_util.py");
    journal_only("printf 'new\\n' > src/app/new.py && mkdir -p new/deep/er && printf 'n\\n' > new/deep/er/f.txt");
    journal_only("rm -r tests && mkdir tests && printf 'again\\n' > tests/other.py");
}

#[test]
fn modes_symlinks_and_type_changes() {
    journal_only("chmod +x src/app/util.py && chmod -x scripts/run.sh");
    journal_only("rm README.md && ln -s src/app/util.py README.md && ln -s nowhere dangling");
    journal_only("rm -r src/app && printf 'a file now\\n' > src/app");
    journal_only("rm README.md && mkdir README.md && printf 'inside\\n' > README.md/x.md");
    journal_only("rm -r docs && ln -s src docs");
}

#[test]
fn renames_of_files_and_odd_names() {
    journal_only("mv 'docs/read me.txt' docs/readme.txt && mv src/app/util.py tests/util.py");
    journal_only("printf 'bytes\\n' > $'src/caf\\xe9.txt' && printf 'tab\\n' > $'src/a\\tb.txt'");
    journal_only("printf '\\x00\\x01\\xff' > assets/logo.bin");
}

#[test]
fn touching_without_changing_is_no_change() {
    let snap = journal_only("touch README.md && cp src/app/util.py /tmp/gd-journal-copy-$$ && cat /tmp/gd-journal-copy-$$ > src/app/util.py && rm /tmp/gd-journal-copy-$$");
    assert_eq!(snap.full_scan_reason, None);
}

#[test]
fn ignored_files_written_are_listed_not_committed() {
    let snap = journal_only("printf 'S=1\\n' > .env && mkdir -p build/x && printf 'o\\n' > build/x/o.txt && mkdir -p src/__pycache__ && printf 'c' > src/__pycache__/m.pyc && printf 'p' > src/app/m.pyc");
    assert_eq!(snap.ignored_written, [".env", "build/x/o.txt", "src/__pycache__/m.pyc", "src/app/m.pyc"]);
}

#[test]
fn file_mode_false_and_autocrlf_are_respected() {
    let before = "git config core.fileMode false && git config core.autocrlf true";
    let (fast, _) = both_ways(
        before,
        "chmod -x scripts/run.sh && printf 'a\\r\\nb\\r\\n' > src/crlf.txt && printf 'x\\r\\n' >> README.md",
    );
    assert_eq!(fast.full_scan_reason, None);
}

#[test]
fn changed_ignore_rules_fall_back_to_the_full_scan() {
    let (fast, _) = both_ways("", "printf '*.md\\n' >> .gitignore && printf 'y\\n' > notes.md");
    assert_eq!(fast.full_scan_reason.as_deref(), Some(".gitignore changed"));
    let (fast, _) = both_ways("", "mkdir sub && printf 'x\\n' > sub/.gitignore && printf 'x\\n' > sub/x");
    assert_eq!(fast.full_scan_reason.as_deref(), Some("sub/.gitignore changed"));
    let (fast, _) = both_ways("", "printf '*.txt text eol=crlf\\n' > .gitattributes");
    assert_eq!(fast.full_scan_reason.as_deref(), Some(".gitattributes changed"));
}

#[test]
fn moved_directories_fall_back_to_the_full_scan() {
    let (fast, _) = both_ways("", "mv src/app src/application && echo more >> src/application/util.py");
    assert_eq!(fast.full_scan_reason.as_deref(), Some("directory src/app was moved"));
}

#[test]
fn repositories_inside_the_worktree_fall_back_to_the_full_scan() {
    let (fast, _) = both_ways(
        "",
        "mkdir -p vendor/x && cd vendor/x && git init -q && printf 'v\\n' > f && git add f && git commit -qm nested",
    );
    assert!(fast.full_scan_reason.as_deref().is_some_and(|r| r.contains(".git")), "{:?}", fast.full_scan_reason);
}

#[test]
fn staging_or_committing_falls_back_to_the_full_scan() {
    let (fast, _) = both_ways("", "echo s >> README.md && git add README.md");
    assert_eq!(fast.full_scan_reason.as_deref(), Some("the worktree's index was written during the run"));
    let (fast, _) = both_ways("", "echo c >> README.md && git commit -qam agent");
    assert!(fast.full_scan_reason.is_some());
}

#[test]
fn the_journal_goes_on_after_a_snapshot() {
    let fx = fixture("python-project");
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let opts = options(&fx, true, 0);
    let ws: Workspace = workspace::create(fx.path(), "again", &base, &opts).unwrap();
    sh(&ws.path, "mkdir -p new && printf '1\\n' > new/one.txt && echo a >> README.md");
    let first = workspace::snapshot(&ws).unwrap();
    assert_eq!(first.full_scan_reason, None);
    assert_eq!(tree_of(fx.path(), &first.result_commit), add_all_tree(&ws.path));
    // `new/` appeared in the first period: it is watched in the second.
    sh(&ws.path, "printf '2\\n' > new/two.txt && echo 1 >> new/one.txt && rm README.md");
    let second = workspace::snapshot(&ws).unwrap();
    assert_eq!(second.full_scan_reason, None);
    assert_eq!(tree_of(fx.path(), &second.result_commit), add_all_tree(&ws.path));
    let parent = git(fx.path(), &["rev-parse", &format!("{}^", second.result_commit)]);
    assert_eq!(parent.trim(), first.result_commit.to_string());
    workspace::release(&ws, Release::DeleteBranch, &opts).unwrap();
}

#[test]
fn build_outputs_kept_in_a_pooled_worktree_are_searched_for_writes() {
    let fx = fixture("python-project");
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let opts = options(&fx, false, 1);
    let first = workspace::create(fx.path(), "first", &base, &opts).unwrap();
    sh(&first.path, "mkdir -p build/deep && printf 'o\\n' > build/deep/old.o && printf 'k\\n' > build/keep.o");
    workspace::snapshot(&first).unwrap();
    workspace::release(&first, Release::DeleteBranch, &opts).unwrap();

    let second = workspace::create(fx.path(), "second", &base, &opts).unwrap();
    assert!(second.warm);
    assert!(second.path.join("build/keep.o").is_file(), "ignored outputs stay in the pool");
    sh(&second.path, "printf 'n\\n' > build/deep/new.o && echo x >> build/deep/old.o");
    let snap = workspace::snapshot(&second).unwrap();
    assert_eq!(snap.full_scan_reason, None);
    assert_eq!(snap.ignored_written, ["build/deep/new.o", "build/deep/old.o"]);
    workspace::release(&second, Release::DeleteBranch, &opts).unwrap();
}

#[test]
fn returning_to_the_pool_skips_the_scan_only_when_nothing_was_touched() {
    use std::os::unix::fs::MetadataExt as _;
    let fx = fixture("python-project");
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let opts = options(&fx, false, 2);
    let index_of = |ws: &Workspace| {
        let admin = fx.path().join(".git/worktrees").join(&ws.name);
        std::fs::metadata(admin.join("index")).unwrap().ino()
    };

    let quiet = workspace::create(fx.path(), "quiet", &base, &opts).unwrap();
    sh(&quiet.path, "echo q >> README.md");
    workspace::snapshot(&quiet).unwrap();
    let index_after_snapshot = index_of(&quiet);
    workspace::release(&quiet, Release::DeleteBranch, &opts).unwrap();
    assert_eq!(index_of(&quiet), index_after_snapshot, "nothing touched: the index is not rewritten");
    assert_eq!(git(&quiet.path, &["status", "--porcelain"]), "");

    let noisy = workspace::create(fx.path(), "noisy", &base, &opts).unwrap();
    assert!(noisy.warm, "the quiet worktree was pooled and is taken again");
    sh(&noisy.path, "echo n >> README.md");
    workspace::snapshot(&noisy).unwrap();
    let committed = std::fs::read(noisy.path.join("README.md")).unwrap();
    // Written after the snapshot (a verification command, a late process): cleaned on return.
    sh(&noisy.path, "echo late >> README.md && printf 'u\\n' > late.txt");
    workspace::release(&noisy, Release::DeleteBranch, &opts).unwrap();
    assert_eq!(std::fs::read(noisy.path.join("README.md")).unwrap(), committed);
    assert!(!noisy.path.join("late.txt").exists());
    assert_eq!(git(&noisy.path, &["status", "--porcelain"]), "");
}
