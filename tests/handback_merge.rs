//! `apply --merge`: fast-forward, merge commit, one commit when the base carried uncommitted state,
//! and the refusals (dirty overlap, detached HEAD, conflict), each leaving everything as it was.

mod handback_support;

use git_dispatch::handback::{ApplyError, ApplyHow, MergeKind};
use handback_support::Fixture;
use pretty_assertions::assert_eq;

const RUN: &str = "20260101-000000-worker-merge";

fn edit_lib(fixture: &Fixture, base: &str) -> String {
    fixture.make_result(RUN, base, |wt| {
        handback_support::write_in(wt, "src/lib.rs", b"pub fn one() -> u32 {\n    2\n}\n");
        handback_support::write_in(wt, "src/new.rs", b"// new\n");
    })
}

fn parents(fixture: &Fixture, commit: &str) -> Vec<String> {
    let line = fixture.git(&["rev-list", "--parents", "-n", "1", commit]);
    line.split_whitespace().skip(1).map(str::to_string).collect()
}

#[test]
fn fast_forward_when_head_is_the_base() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = edit_lib(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    fixture.write("notes.md", "the user's untracked notes\n");
    fixture.write("b.txt", "bee, unstaged\n");

    let outcome = fixture.apply(&run, ApplyHow::Merge).expect("merges");

    assert_eq!(outcome.merge, Some(MergeKind::FastForward));
    assert_eq!(outcome.commit.map(|id| id.to_string()), Some(result.clone()));
    assert_eq!(fixture.head(), result);
    assert_eq!(fixture.git(&["symbolic-ref", "HEAD"]), "refs/heads/main\n");
    assert_eq!(fixture.git(&["status", "--porcelain"]), " M b.txt\n?? notes.md\n");
    assert_eq!(fixture.git(&["diff", "--cached", "--name-only"]), "");
    assert_eq!(fixture.read("src/lib.rs"), "pub fn one() -> u32 {\n    2\n}\n");
    assert_eq!(fixture.read("b.txt"), "bee, unstaged\n");
    assert_eq!(
        fixture.git(&["reflog", "-1", "--format=%gs", "main"]),
        format!("git-dispatch: merge dispatch/{RUN}: Fast-forward\n")
    );
    assert_eq!(
        fixture.git(&["reflog", "-1", "--format=%gs", "HEAD"]),
        format!("git-dispatch: merge dispatch/{RUN}: Fast-forward\n")
    );
    let applied = git_dispatch::handback::load_applied(&run.path).expect("readable").expect("recorded");
    assert_eq!((applied.how.as_str(), applied.commit), ("merge", Some(result)));
}

#[test]
fn merge_commit_when_the_branch_moved_on() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = edit_lib(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    fixture.write("b.txt", "bee, committed after the dispatch\n");
    let head = fixture.commit_all("user work");

    let outcome = fixture.apply(&run, ApplyHow::Merge).expect("merges");

    assert_eq!(outcome.merge, Some(MergeKind::MergeCommit));
    let tip = fixture.head();
    assert_eq!(outcome.commit.map(|id| id.to_string()), Some(tip.clone()));
    assert_eq!(parents(&fixture, &tip), vec![head.clone(), result.clone()]);
    assert_eq!(
        fixture.git(&["log", "-1", "--format=%B", &tip]),
        format!("Merge git-dispatch run {RUN}\n\nResult commit {result} (branch dispatch/{RUN}).\n\n")
    );
    assert_eq!(
        fixture.git(&["log", "-1", "--format=%an <%ae>|%cn <%ce>", &tip]),
        "Repo User <user@example.com>|Repo User <user@example.com>\n"
    );
    let expected_tree = fixture.git(&["merge-tree", "--write-tree", &head, &result]);
    assert_eq!(fixture.git(&["rev-parse", &format!("{tip}^{{tree}}")]), expected_tree);
    assert_eq!(fixture.git(&["status", "--porcelain"]), "");
    assert_eq!(fixture.read("b.txt"), "bee, committed after the dispatch\n");
    assert_eq!(fixture.read("src/new.rs"), "// new\n");
    assert_eq!(fixture.git(&["fsck", "--no-dangling", "--no-progress"]), "");
}

#[test]
fn merge_commit_for_a_synthetic_base_without_uncommitted_state() {
    let fixture = Fixture::new();
    let head = fixture.head();
    let base = fixture.synthetic_base();
    assert_ne!(base, head);
    let result = edit_lib(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);

    let outcome = fixture.apply(&run, ApplyHow::Merge).expect("merges");

    assert_eq!(outcome.merge, Some(MergeKind::MergeCommit));
    assert_eq!(parents(&fixture, &fixture.head()), vec![head, result]);
    assert_eq!(fixture.git(&["status", "--porcelain"]), "");
}

#[test]
fn one_commit_when_the_base_carried_uncommitted_state() {
    let fixture = Fixture::new();
    let head = fixture.head();
    fixture.write("b.txt", "bee, dirty at dispatch time\n");
    fixture.write("scratch.txt", "untracked at dispatch time\n");
    let base = fixture.synthetic_base();
    let result = edit_lib(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);

    let outcome = fixture.apply(&run, ApplyHow::Merge).expect("merges");

    assert_eq!(outcome.merge, Some(MergeKind::SingleCommit));
    assert_eq!(outcome.paths, vec!["src/lib.rs", "src/new.rs"]);
    let tip = fixture.head();
    assert_eq!(parents(&fixture, &tip), vec![head.clone()]);
    assert_eq!(
        fixture.git(&["log", "-1", "--format=%B", &tip]),
        format!("Apply git-dispatch run {RUN}\n\nResult commit {result} (branch dispatch/{RUN}).\n\n")
    );
    // The commit holds the agent's change only; the user's dirty state stays theirs, uncommitted.
    assert_eq!(fixture.git(&["diff", "--name-status", &head, &tip]), "M\tsrc/lib.rs\nA\tsrc/new.rs\n");
    assert_eq!(fixture.git(&["status", "--porcelain"]), " M b.txt\n?? scratch.txt\n");
    assert_eq!(fixture.read("b.txt"), "bee, dirty at dispatch time\n");
    assert_eq!(fixture.git(&["reflog", "-1", "--format=%gs", "main"]), format!("git-dispatch: apply run {RUN}\n"));
}

#[test]
fn refused_when_uncommitted_changes_touch_merged_paths() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = edit_lib(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    fixture.write("src/lib.rs", "// the user's edit\n");
    fixture.write("src/new.rs", "// the user's own new file\n");
    fixture.write("b.txt", "unrelated edit\n");
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Merge).expect_err("refused");

    match &err {
        ApplyError::DirtyForMerge { paths } => assert_eq!(paths, &vec!["src/lib.rs".to_string(), "src/new.rs".into()]),
        other => panic!("expected DirtyForMerge, got {other:?}"),
    }
    assert_eq!(fixture.fingerprint(), before);
}

#[test]
fn refused_on_a_detached_head() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = edit_lib(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    fixture.git(&["checkout", "-q", "--detach"]);
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Merge).expect_err("refused");

    assert!(matches!(err, ApplyError::DetachedHead), "{err:?}");
    assert_eq!(fixture.fingerprint(), before);
}

#[test]
fn a_conflicting_commit_on_the_branch_changes_nothing() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = edit_lib(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    fixture.write("src/lib.rs", "pub fn one() -> u32 {\n    3\n}\n");
    fixture.commit_all("conflicting work");
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Merge).expect_err("conflicts");

    assert!(matches!(&err, ApplyError::MergeConflict { paths } if paths == &vec!["src/lib.rs".to_string()]), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the result conflicts with HEAD in src/lib.rs; nothing was changed (apply without --merge brings it into your working tree)"
    );
    assert_eq!(fixture.fingerprint(), before);
}

#[test]
fn refused_while_another_git_process_holds_the_index() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = edit_lib(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    std::fs::write(fixture.path(".git/index.lock"), "").expect("lock");
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Merge).expect_err("refused");

    assert!(err.to_string().ends_with("index.lock exists: another git process is using the index"), "{err}");
    assert_eq!(fixture.fingerprint(), before);
}
