//! Finding runs (newest first, by id prefix) and the review text.

use std::path::Path;

use git_dispatch::handback::{self, RunRecord, SelectError};
use git_dispatch::policy::Verdict;
use pretty_assertions::assert_eq;

fn write_policy(root: &Path, id: &str, verdict: &Verdict) -> std::path::PathBuf {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).expect("run folder");
    std::fs::write(dir.join("policy.json"), serde_json::to_vec(verdict).expect("serializes")).expect("policy.json");
    dir
}

fn offered() -> Verdict {
    Verdict { mode: "worker".into(), offered: true, ..Verdict::default() }
}

fn ids(runs: &[RunRecord]) -> Vec<&str> {
    runs.iter().map(|run| run.id.as_str()).collect()
}

fn select_error(root: &Path, selector: Option<&str>) -> SelectError {
    let err = handback::select_run(root, selector).expect_err("no single run");
    err.downcast::<SelectError>().expect("a typed selection error")
}

#[test]
fn runs_are_listed_newest_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    for id in [
        "20260101-120000-worker-b",
        "20260102-080000-review-c",
        "20260101-120000-worker-b-2",
        "20251231-235959-worker-a",
    ] {
        write_policy(root, id, &offered());
    }
    std::fs::create_dir_all(root.join("20260103-000000-worker-starting")).expect("a run without policy.json");
    std::fs::write(root.join("stray-file"), "not a run").expect("file");

    let runs = handback::list_runs(root).expect("lists");

    assert_eq!(
        ids(&runs),
        vec![
            "20260103-000000-worker-starting",
            "20260102-080000-review-c",
            "20260101-120000-worker-b-2",
            "20260101-120000-worker-b",
            "20251231-235959-worker-a",
        ]
    );
    assert!(runs[0].problem.as_deref().is_some_and(|problem| problem.starts_with("cannot read")), "{:?}", runs[0]);
    assert!(!runs[0].policy.offered);
    assert_eq!(handback::verdict_label(&runs[0]), "unreadable");
    assert_eq!(handback::verdict_label(&runs[1]), "offered");
    assert!(handback::list_runs(&root.join("missing")).expect("no root, no runs").is_empty());
}

#[test]
fn select_by_id_prefix_or_newest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    for id in ["20260101-120000-worker-alpha", "20260101-130000-worker-beta", "20260101-130000-worker-beta-2"] {
        write_policy(root, id, &offered());
    }

    assert_eq!(handback::select_run(root, None).expect("newest").id, "20260101-130000-worker-beta-2");
    assert_eq!(handback::select_run(root, Some("20260101-12")).expect("prefix").id, "20260101-120000-worker-alpha");
    assert_eq!(
        handback::select_run(root, Some("20260101-130000-worker-beta")).expect("exact id wins over prefix").id,
        "20260101-130000-worker-beta"
    );
    let ambiguous = select_error(root, Some("20260101-13"));
    assert_eq!(
        ambiguous.to_string(),
        "`20260101-13` matches several runs: 20260101-130000-worker-beta-2, 20260101-130000-worker-beta"
    );
    assert!(matches!(select_error(root, Some("2027")), SelectError::NotFound { .. }));
    let empty = tempfile::tempdir().expect("tempdir");
    assert!(matches!(select_error(empty.path(), None), SelectError::NoRuns { .. }));
}

const PATCH: &str = "diff --git a/a.txt b/a.txt\nindex 1111111..2222222 100644\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n keep\n-old\n+new\n";

fn reviewed_run(root: &Path) -> RunRecord {
    let verdict = Verdict {
        mode: "worker".into(),
        offered: false,
        policy_violation: true,
        exit_code: 3,
        base_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        result_commit: Some("89abcdef0123456789abcdef0123456789abcdef".into()),
        branch: Some("dispatch/20260101-000000-worker-x".into()),
        messages: vec!["out of scope: secrets.env".into()],
        write_scope: vec!["a.txt".into(), "*.rs".into()],
        ..Verdict::default()
    };
    let dir = write_policy(root, "20260101-000000-worker-x", &verdict);
    std::fs::write(
        dir.join("changes.json"),
        r#"{"base": "0123", "result": "89ab", "changes": [
            {"path": "a.txt", "status": "modified", "in_scope": true, "mode_before": "100644", "mode_after": "100644"},
            {"path": "new.rs", "status": "renamed", "old_path": "old.rs", "in_scope": true},
            {"path": "secrets.env", "status": "added", "in_scope": false}
        ], "ignored_written": []}"#,
    )
    .expect("changes.json");
    std::fs::write(dir.join("result.patch"), PATCH).expect("result.patch");
    RunRecord::load(&dir)
}

#[test]
fn review_shows_verdict_then_paths_then_patch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = reviewed_run(tmp.path());
    let mut out = Vec::new();

    handback::review(&run, false, &mut out).expect("reviews");

    let expected = "\
run:      20260101-000000-worker-x
verdict:  violation
mode:     worker    exit code: 3
scope:    a.txt, *.rs
base:     0123456789ab    result: 89abcdef0123
branch:   dispatch/20260101-000000-worker-x
messages:
  - out of scope: secrets.env
changed paths (3):
  ✓ modified     a.txt
  ✓ renamed      new.rs (from old.rs)
  ✗ added        secrets.env  <- outside WRITE SCOPE

"
    .to_string()
        + PATCH;
    assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
}

#[test]
fn review_in_colour() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = reviewed_run(tmp.path());
    let mut out = Vec::new();

    handback::review(&run, true, &mut out).expect("reviews");

    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("  \x1b[32m✓\x1b[0m modified     a.txt\n"), "{text}");
    assert!(text.contains("  \x1b[31m✗\x1b[0m added        secrets.env  <- outside WRITE SCOPE\n"), "{text}");
    let patch = &text[text.find("\x1b[1mdiff --git").expect("bold header")..];
    assert_eq!(
        patch,
        "\x1b[1mdiff --git a/a.txt b/a.txt\x1b[0m\n\x1b[1mindex 1111111..2222222 100644\x1b[0m\n\
         \x1b[1m--- a/a.txt\x1b[0m\n\x1b[1m+++ b/a.txt\x1b[0m\n\x1b[36m@@ -1,2 +1,2 @@\x1b[0m\n keep\n\
         \x1b[31m-old\x1b[0m\n\x1b[32m+new\x1b[0m\n"
    );
}

#[test]
fn review_of_an_applied_run_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = reviewed_run(tmp.path());
    std::fs::write(
        run.file(handback::APPLIED_FILE),
        r#"{"applied_at": "2026-01-02T03:04:05+00:00", "how": "merge", "commit": "fedcba9876543210fedcba9876543210fedcba98"}"#,
    )
    .expect("applied.json");
    let run = RunRecord::load(&run.path);
    let mut out = Vec::new();

    handback::review(&run, false, &mut out).expect("reviews");

    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("\napplied:  2026-01-02T03:04:05+00:00 by merge (commit fedcba987654)\n"), "{text}");
}
