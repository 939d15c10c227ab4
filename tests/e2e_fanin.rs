//! End to end through the binary: several offered runs brought back together. `review A B`
//! (changed paths, overlaps with their in-memory 3-way verdict, whether they apply together),
//! `apply A B` (patch and `--merge`: both or nothing), and the refusals, after each of which the
//! user's checkout, index and refs are byte-identical.

mod support;

use std::path::{Path, PathBuf};

use serde_json::json;
use support::cli::{dispatch, printed_run_dir, read_json, run, stderr, stdout, worker_packet, write_packet};
use support::fixtures::{fixture, fixture_with, Fixture};
use support::git::{git, tree_fingerprint};

/// Dispatches a worker (scope `tests/` and `docs/`) whose fake agent follows `plan`; returns the
/// run id, asserting the run was offered.
fn offered(fx: &Fixture, name: &str, plan: serde_json::Value) -> String {
    let text = worker_packet(&fx.repo, "- tests/\n- docs/").replace("Add a test for add().", &format!("Change {name}"));
    let packet = write_packet(fx, &format!("{name}.md"), &text);
    let output = dispatch(fx, &packet, &plan, &[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    assert_eq!(read_json(&run_dir.join("policy.json"))["offered"], true);
    run_dir.file_name().expect("id").to_string_lossy().into_owned()
}

fn write(path: &str, content: &str) -> serde_json::Value {
    json!([{"step": "write", "path": path, "content": content}])
}

fn run_dir(fx: &Fixture, id: &str) -> PathBuf {
    fx.repo.join(".codex-dispatch/runs").join(id)
}

fn applied(fx: &Fixture, id: &str) -> Option<serde_json::Value> {
    let path = run_dir(fx, id).join("applied.json");
    path.exists().then(|| read_json(&path))
}

fn read(repo: &Path, path: &str) -> String {
    std::fs::read_to_string(repo.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const TEST_UTIL: &str = "from app.util import add, greet\n\n\ndef test_greet():\n    assert greet(\"x\") == \"hello, x\"\n\n\ndef test_add():\n    assert add(2, 3) == 5\n";

#[test]
fn two_runs_on_different_files_are_applied_together() {
    let fx = fixture("python-project");
    let a = offered(&fx, "a", write("tests/test_a.py", "def test_a():\n    assert True\n"));
    let b = offered(&fx, "b", write("docs/b.md", "# B\n"));
    let index = std::fs::read(fx.repo.join(".git/index")).expect("index");

    let review = run(&fx, &["review", &a, &b]);
    assert_eq!(review.status.code(), Some(0), "{}", stderr(&review));
    let text = stdout(&review);
    assert!(text.starts_with("runs (2):\n"), "{text}");
    assert!(text.contains(&format!("  {a}  offered  1 path, +2 -0\n      tests/test_a.py\n")), "{text}");
    assert!(text.contains(&format!("  {b}  offered  1 path, +1 -0\n      docs/b.md\n")), "{text}");
    assert!(text.contains("overlaps (0):\n"), "{text}");
    assert!(
        text.ends_with(&format!("together, in this order, onto your checkout: clean (git dispatch apply {a} {b})\n")),
        "{text}"
    );

    let apply = run(&fx, &["apply", &a, &b]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    assert_eq!(
        stdout(&apply),
        format!(
            "applied run {a} to {repo}\napplied run {b} to {repo}\npaths written (2):\n  docs/b.md\n  tests/test_a.py\n",
            repo = fx.repo.display()
        )
    );
    assert_eq!(git(&fx.repo, &["status", "--porcelain"]), "?? docs/b.md\n?? tests/test_a.py\n", "exactly both");
    assert_eq!(read(&fx.repo, "tests/test_a.py"), "def test_a():\n    assert True\n");
    assert_eq!(read(&fx.repo, "docs/b.md"), "# B\n");
    assert_eq!(std::fs::read(fx.repo.join(".git/index")).expect("index"), index, "the index is untouched");
    for id in [&a, &b] {
        let record = applied(&fx, id).expect("applied.json");
        assert_eq!((record["how"].clone(), record["runs"].clone()), (json!("patch"), json!([a, b])), "{id}");
        let run_json = read_json(&run_dir(&fx, id).join("run.json"));
        assert_eq!(run_json["applied"], record, "run.json records the hand-back too");
    }
    let listed = stdout(&run(&fx, &["list"]));
    assert_eq!(listed.matches("  applied  ").count(), 2, "{listed}");
    let again = run(&fx, &["apply", &a, &b]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains(&format!("run {a} was already applied (patch, ")), "{}", stderr(&again));
}

#[test]
fn two_runs_changing_the_same_lines_conflict_and_nothing_is_written() {
    let fx = fixture("python-project");
    let a = offered(&fx, "a", write("tests/test_util.py", &TEST_UTIL.replace("== 5", "== 5  # by A")));
    let b = offered(&fx, "b", write("tests/test_util.py", &TEST_UTIL.replace("== 5", "== 5  # by B")));

    let review = run(&fx, &["review", &a, &b]);
    assert_eq!(review.status.code(), Some(0), "{}", stderr(&review));
    let text = stdout(&review);
    assert!(text.contains(&format!("overlaps (1):\n  tests/test_util.py  {a} and {b}: conflict\n")), "{text}");
    assert!(
        text.ends_with(&format!(
            "together, in this order, onto your checkout: conflicts: run {b} conflicts in tests/test_util.py (with run {a})\n"
        )),
        "{text}"
    );
    let json_review = run(&fx, &["review", "--json", &a, &b]);
    let report: serde_json::Value = serde_json::from_slice(&json_review.stdout).expect("review --json is JSON");
    assert_eq!(report["overlaps"], json!([{"path": "tests/test_util.py", "runs": [a, b], "check": "conflict"}]));
    assert_eq!(report["together"]["clean"], false);

    let before = tree_fingerprint(&fx.repo);
    for how in [&[][..], &["--merge"][..]] {
        let apply = run(&fx, &[&["apply"], how, &[&a, &b]].concat());
        assert_eq!(apply.status.code(), Some(1), "{how:?}: {}", stdout(&apply));
        let message = stderr(&apply);
        assert!(
            message.starts_with(&format!(
                "error: cannot apply runs {a}, {b}: run {b} conflicts in tests/test_util.py (with run {a}); nothing was changed"
            )),
            "{how:?}: {message}"
        );
        assert_eq!(tree_fingerprint(&fx.repo), before, "{how:?}: checkout, index and refs byte-identical");
        assert!(applied(&fx, &a).is_none() && applied(&fx, &b).is_none(), "nothing recorded");
    }

    let alone = run(&fx, &["apply", &a]);
    assert_eq!(alone.status.code(), Some(0), "{}", stderr(&alone));
    assert_eq!(read(&fx.repo, "tests/test_util.py"), TEST_UTIL.replace("== 5", "== 5  # by A"));
    let after_a = tree_fingerprint(&fx.repo);
    let then_b = run(&fx, &["apply", &b]);
    assert_eq!(then_b.status.code(), Some(1), "B now conflicts with the checkout");
    assert_eq!(tree_fingerprint(&fx.repo), after_a);
}

#[test]
fn two_runs_changing_one_file_in_different_places_merge_cleanly() {
    let fx = fixture_with("python-project", "seq 1 30 > docs/numbers.txt && git add -A && git commit -qm numbers");
    let numbers: String = (1..=30).map(|n| format!("{n}\n")).collect();
    let a = offered(&fx, "a", write("docs/numbers.txt", &numbers.replace("\n3\n", "\nthree\n")));
    let b = offered(&fx, "b", write("docs/numbers.txt", &numbers.replace("\n27\n", "\ntwenty-seven\n")));

    let review = stdout(&run(&fx, &["review", &a, &b]));
    assert!(review.contains(&format!("overlaps (1):\n  docs/numbers.txt  {a} and {b}: clean merge\n")), "{review}");
    assert!(review.contains("onto your checkout: clean ("), "{review}");

    let head = git(&fx.repo, &["rev-parse", "HEAD"]).trim().to_string();
    let apply = run(&fx, &["apply", "--merge", &a, &b]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    let both = numbers.replace("\n3\n", "\nthree\n").replace("\n27\n", "\ntwenty-seven\n");
    assert_eq!(read(&fx.repo, "docs/numbers.txt"), both);
    assert_eq!(git(&fx.repo, &["status", "--porcelain"]), "", "the index and the checkout follow the new HEAD");
    assert_eq!(git(&fx.repo, &["show", "HEAD:docs/numbers.txt"]), both);
    // A's base is HEAD: a fast-forward to A's result; then B's merge commit on top of it.
    let a_record = applied(&fx, &a).expect("A applied");
    let b_record = applied(&fx, &b).expect("B applied");
    assert_eq!((a_record["merge"].clone(), b_record["merge"].clone()), (json!("fast-forward"), json!("merge-commit")));
    let a_result = read_json(&run_dir(&fx, &a).join("policy.json"))["result_commit"].clone();
    assert_eq!(a_record["commit"], a_result);
    let tip = git(&fx.repo, &["rev-parse", "HEAD"]).trim().to_string();
    assert_eq!(b_record["commit"], json!(tip));
    assert_eq!(git(&fx.repo, &["log", "-1", "--format=%s%n%P", "HEAD"]), {
        let b_result =
            read_json(&run_dir(&fx, &b).join("policy.json"))["result_commit"].as_str().expect("B").to_string();
        format!("Merge git-dispatch run {b}\n{} {b_result}\n", a_result.as_str().expect("A"))
    });
    assert_eq!(
        git(&fx.repo, &["rev-list", "--count", &format!("{head}..HEAD")]).trim(),
        "3",
        "the results of A and B, and B's merge"
    );
    let reflog = git(&fx.repo, &["reflog", "-1", "--format=%gs", "main"]);
    assert_eq!(reflog, format!("git-dispatch: merge runs {a}, {b}\n"), "the branch moved once");
    assert_eq!(read_json(&run_dir(&fx, &b).join("run.json"))["applied"]["commit"], json!(tip));
    let stdout = stdout(&apply);
    assert!(
        stdout.starts_with(&format!(
            "merged run {a} into the current branch: {} (fast-forward)\n",
            a_result.as_str().unwrap()
        )),
        "{stdout}"
    );
}

#[test]
fn runs_that_cannot_go_together_are_refused_with_the_checkout_untouched() {
    let fx = fixture("python-project");
    let a = offered(&fx, "a", write("tests/test_a.py", "a = 1\n"));
    let packet = write_packet(&fx, "bad.md", &worker_packet(&fx.repo, "- tests/"));
    let violation = dispatch(&fx, &packet, &write("src/app/util.py", "hacked\n"), &[]);
    assert_eq!(violation.status.code(), Some(3));
    let v = printed_run_dir(&violation).file_name().expect("id").to_string_lossy().into_owned();
    let before = tree_fingerprint(&fx.repo);
    let cases: [(&[&str], String); 3] = [
        (&["apply", &a, &v], format!("run {v} was not offered: POLICY VIOLATION")),
        (&["apply", &a, &a], format!("run {a} is named twice")),
        (&["apply", &a, "no-such-run"], "no run matches `no-such-run`".to_string()),
    ];
    for (args, expected) in cases {
        let output = run(&fx, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(stderr(&output).contains(&expected), "{args:?}: {}", stderr(&output));
        assert_eq!(stderr(&output).lines().count(), 1, "one line: {}", stderr(&output));
        assert_eq!(tree_fingerprint(&fx.repo), before, "{args:?}: byte-identical");
    }
    let review = stdout(&run(&fx, &["review", &a, &v]));
    assert!(review.ends_with(&format!("onto your checkout: would be refused: run {v} is violation\n")), "{review}");
    let all = stdout(&run(&fx, &["review", "--all-offered"]));
    assert!(all.starts_with(&format!("runs (1):\n  {a}  offered ")), "{all}");
}

#[test]
fn a_run_that_conflicts_with_your_uncommitted_edit_is_named_with_it() {
    let fx = fixture("python-project");
    let a = offered(&fx, "a", write("docs/a.md", "# A\n"));
    let b = offered(&fx, "b", write("tests/test_util.py", &TEST_UTIL.replace("== 5", "== 5  # by B")));
    fx.sh("sed -i 's/== 5/== 5  # by you/' tests/test_util.py");
    let before = tree_fingerprint(&fx.repo);
    let apply = run(&fx, &["apply", &a, &b]);
    assert_eq!(apply.status.code(), Some(1));
    assert_eq!(
        stderr(&apply),
        format!(
            "error: cannot apply runs {a}, {b}: run {b} conflicts in tests/test_util.py (with your checkout); nothing was changed\n"
        )
    );
    assert_eq!(tree_fingerprint(&fx.repo), before, "not even run A's file was written");
    assert!(!fx.repo.join("docs/a.md").exists());
    let review = stdout(&run(&fx, &["review", &a, &b]));
    assert!(review.contains("overlaps (0):\n"), "the runs do not overlap: {review}");
    assert!(review.ends_with("conflicts in tests/test_util.py (with your checkout)\n"), "{review}");
}
