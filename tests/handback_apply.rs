//! `apply` as a patch: the result lands in the working tree (3-way against the base), the user's
//! unrelated edits and their index stay, and every refusal changes nothing.

mod handback_support;

use git_dispatch::handback::{ApplyError, ApplyHow, RunRecord};
use handback_support::Fixture;
use pretty_assertions::assert_eq;

const RUN: &str = "20260101-000000-worker-task";

/// A result that edits a.txt line 2, adds new.txt, deletes b.txt.
fn simple_result(fixture: &Fixture, base: &str) -> String {
    fixture.make_result(RUN, base, |wt| {
        handback_support::write_in(wt, "a.txt", b"line 1\nline 2 by agent\nline 3\nline 4\nline 5\n");
        handback_support::write_in(wt, "new.txt", b"new\n");
        std::fs::remove_file(wt.join("b.txt")).expect("delete b.txt");
    })
}

fn applied_how(run: &RunRecord) -> Option<String> {
    git_dispatch::handback::load_applied(&run.path).expect("readable").map(|applied| applied.how)
}

#[test]
fn clean_apply_writes_the_result_and_leaves_the_index() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = simple_result(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    let index_before = fixture.index_bytes();

    let outcome = fixture.apply(&run, ApplyHow::Patch).expect("applies");

    assert_eq!(outcome.paths, vec!["a.txt", "b.txt", "new.txt"]);
    assert_eq!(outcome.commit, None);
    assert_eq!(fixture.read("a.txt"), "line 1\nline 2 by agent\nline 3\nline 4\nline 5\n");
    assert_eq!(fixture.read("new.txt"), "new\n");
    assert!(!fixture.path("b.txt").exists());
    assert_eq!(fixture.index_bytes(), index_before, "the index is not touched");
    assert_eq!(fixture.head(), base);
    assert_eq!(fixture.git(&["status", "--porcelain"]), " M a.txt\n D b.txt\n?? new.txt\n");
    assert_eq!(applied_how(&run).as_deref(), Some("patch"));
}

#[test]
fn unrelated_uncommitted_edits_and_the_index_are_kept() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = simple_result(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    // After the dispatch: a staged change, an unstaged edit in the file the result edits (other
    // lines), an untracked file, an ignored file.
    fixture.write("src/lib.rs", "pub fn one() -> u32 {\n    1 // staged\n}\n");
    fixture.git(&["add", "src/lib.rs"]);
    fixture.write("src/lib.rs", "pub fn one() -> u32 {\n    1 // staged and more\n}\n");
    fixture.write("a.txt", "line 1\nline 2\nline 3\nline 4\nline 5 by user\n");
    fixture.write("notes.md", "mine\n");
    fixture.write("debug.log", "ignored\n");
    let index_before = fixture.index_bytes();

    fixture.apply(&run, ApplyHow::Patch).expect("applies");

    assert_eq!(fixture.read("a.txt"), "line 1\nline 2 by agent\nline 3\nline 4\nline 5 by user\n");
    assert_eq!(fixture.read("src/lib.rs"), "pub fn one() -> u32 {\n    1 // staged and more\n}\n");
    assert_eq!(fixture.read("notes.md"), "mine\n");
    assert_eq!(fixture.read("debug.log"), "ignored\n");
    assert_eq!(fixture.read("new.txt"), "new\n");
    assert_eq!(fixture.index_bytes(), index_before, "the index is byte-identical");
}

#[test]
fn a_dirty_base_applies_onto_the_same_dirty_checkout() {
    let fixture = Fixture::new();
    fixture.write("b.txt", "bee edited by user\n");
    fixture.write("untracked.txt", "u\n");
    let base = fixture.synthetic_base();
    let result = fixture.make_result(RUN, &base, |wt| {
        handback_support::write_in(wt, "untracked.txt", b"u\nplus agent\n");
        handback_support::write_in(wt, "src/lib.rs", b"pub fn one() -> u32 {\n    2\n}\n");
    });
    let run = fixture.write_run(RUN, &base, &result);

    let outcome = fixture.apply(&run, ApplyHow::Patch).expect("applies");

    assert_eq!(outcome.paths, vec!["src/lib.rs", "untracked.txt"]);
    assert_eq!(fixture.read("b.txt"), "bee edited by user\n");
    assert_eq!(fixture.read("untracked.txt"), "u\nplus agent\n");
    assert_eq!(fixture.read("src/lib.rs"), "pub fn one() -> u32 {\n    2\n}\n");
}

#[test]
fn a_conflict_changes_nothing_and_names_the_files() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = simple_result(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    fixture.write("a.txt", "line 1\nline 2 by user\nline 3\nline 4\nline 5\n");
    fixture.write("src/lib.rs", "// staged\n");
    fixture.git(&["add", "src/lib.rs"]);
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Patch).expect_err("conflicts");

    match &err {
        ApplyError::Conflict { paths } => assert_eq!(paths, &vec!["a.txt".to_string()]),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(err.to_string(), "the result conflicts with your checkout in a.txt; nothing was changed");
    assert_eq!(fixture.fingerprint(), before, "checkout, index and refs are byte-identical");
    assert_eq!(applied_how(&run), None);
}

#[test]
fn an_ignored_file_in_the_way_is_refused() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = fixture.make_result(RUN, &base, |wt| {
        handback_support::write_in(wt, "build/out.txt", b"agent output\n");
        handback_support::write_in(wt, "a.txt", b"changed\n");
        // The agent force-adds a path the user ignores (and has locally).
        handback_support::git_in(wt, &fixture.home, &["add", "-f", "build/out.txt"]);
    });
    let run = fixture.write_run(RUN, &base, &result);
    fixture.write("build/out.txt", "the user's own build output\n");
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Patch).expect_err("refused");

    assert!(matches!(&err, ApplyError::InTheWay { paths } if paths == &vec!["build/out.txt".to_string()]), "{err:?}");
    assert_eq!(fixture.fingerprint(), before);
}

#[test]
fn a_run_not_offered_is_refused() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = simple_result(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    let run = fixture.edit_policy(&run, |verdict| {
        verdict.offered = false;
        verdict.policy_violation = true;
        verdict.messages = vec!["out of scope: b.txt".into()];
    });
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Patch).expect_err("refused");

    assert_eq!(err.to_string(), format!("run {RUN} was not offered: out of scope: b.txt"));
    assert_eq!(fixture.fingerprint(), before);
}

#[test]
fn a_moved_or_missing_branch_is_refused() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = simple_result(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    fixture.git(&["branch", "-f", &format!("dispatch/{RUN}"), &base]);
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Patch).expect_err("refused");

    assert_eq!(
        err.to_string(),
        format!("the branch dispatch/{RUN} moved: it points at {base}, the run recorded {result}")
    );
    assert_eq!(fixture.fingerprint(), before);

    fixture.git(&["branch", "-D", &format!("dispatch/{RUN}")]);
    let err = fixture.apply(&run, ApplyHow::Patch).expect_err("refused");
    assert!(matches!(err, ApplyError::BranchMissing { .. }), "{err:?}");
}

#[test]
fn a_rewritten_patch_is_refused_even_with_a_matching_hash() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = simple_result(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    let mut patch = std::fs::read(run.file("result.patch")).expect("patch");
    patch.extend_from_slice(b"diff --git a/evil b/evil\n");
    std::fs::write(run.file("result.patch"), &patch).expect("rewrite");
    let run = fixture.edit_policy(&run, |verdict| verdict.patch_sha256 = Some(handback_support::sha256_hex(&patch)));
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Patch).expect_err("refused");

    assert_eq!(
        err.to_string(),
        "result.patch cannot be trusted: it differs from the patch recomputed from the base and result commits"
    );
    assert_eq!(fixture.fingerprint(), before);
}

#[test]
fn a_hash_mismatch_is_refused() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = simple_result(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    let run = fixture.edit_policy(&run, |verdict| verdict.patch_sha256 = Some("0".repeat(64)));
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Patch).expect_err("refused");

    assert_eq!(err.to_string(), "result.patch cannot be trusted: its sha256 differs from patch_sha256 in policy.json");
    assert_eq!(fixture.fingerprint(), before);
}

#[test]
fn applying_twice_is_refused() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = simple_result(&fixture, &base);
    let run = fixture.write_run(RUN, &base, &result);
    fixture.apply(&run, ApplyHow::Patch).expect("first apply");
    let before = fixture.fingerprint();

    // The same (stale) record, and a fresh one.
    for run in [run.clone(), RunRecord::load(&run.path)] {
        let err = fixture.apply(&run, ApplyHow::Merge).expect_err("refused");
        assert!(
            err.to_string().starts_with(&format!("run {RUN} was already applied (patch, ")),
            "unexpected message: {err}"
        );
    }
    assert_eq!(fixture.fingerprint(), before);
}

#[test]
fn without_core_filemode_the_recorded_executable_bit_is_kept() {
    let fixture = Fixture::new();
    fixture.git(&["config", "core.fileMode", "false"]);
    let base = fixture.head();
    let result = fixture.make_result(RUN, &base, |wt| {
        handback_support::write_in(wt, "scripts/run.sh", b"#!/bin/bash\necho run\n");
    });
    let run = fixture.write_run(RUN, &base, &result);
    // A filesystem without executable bits, and an edit of the user's own.
    fixture.write("scripts/run.sh", "#!/bin/sh\necho run\necho user\n");
    fixture.chmod("scripts/run.sh", 0o644);

    fixture.apply(&run, ApplyHow::Patch).expect("applies");

    assert_eq!(fixture.read("scripts/run.sh"), "#!/bin/bash\necho run\necho user\n");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(fixture.path("scripts/run.sh")).expect("stat").permissions(),
    );
    assert_eq!(mode & 0o100, 0o100, "written as executable, as recorded");
}

#[test]
fn nothing_is_written_through_an_ignored_symlink() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = fixture.make_result(RUN, &base, |wt| {
        handback_support::write_in(wt, "cache.log/planted.txt", b"written through a symlink?\n");
        handback_support::git_in(wt, &fixture.home, &["add", "-f", "cache.log/planted.txt"]);
    });
    let run = fixture.write_run(RUN, &base, &result);
    let outside = fixture.tmp.join("outside");
    std::fs::create_dir_all(&outside).expect("outside dir");
    std::os::unix::fs::symlink(&outside, fixture.path("cache.log")).expect("an ignored symlink");
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Patch).expect_err("refused");

    assert!(
        matches!(&err, ApplyError::InTheWay { paths } if paths == &vec!["cache.log/planted.txt".to_string()]),
        "{err:?}"
    );
    assert_eq!(fixture.fingerprint(), before);
    assert_eq!(std::fs::read_dir(&outside).expect("readable").count(), 0);
}
