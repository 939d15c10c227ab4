//! End to end through the binary: a worker run offered with the fake agent, then every hand-back
//! path: `review`, `list`, `show --json`, `apply` (patch and `--merge`), the refusals (applied twice,
//! a conflict, a violation run, a rewritten result.patch), RUN as id / unique prefix / omitted, and
//! `clean` with and without `--force` and `--artifacts`. The user's checkout and index are asserted
//! byte-identical wherever the tool promises not to touch them.

mod support;

use std::path::{Path, PathBuf};

use serde_json::json;
use support::cli::{dispatch, printed_run_dir, read_json, run, stderr, stdout, worker_packet, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::{git, tree_fingerprint};

/// A plan that adds tests/test_more.py and changes the last line of tests/test_util.py.
fn in_scope_plan() -> serde_json::Value {
    json!([
        {"step": "write", "path": "tests/test_more.py", "content": "def test_more():\n    assert True\n"},
        {"step": "write", "path": "tests/test_util.py", "content": TEST_UTIL_BY_AGENT},
    ])
}

const TEST_UTIL_BY_AGENT: &str = "from app.util import add, greet\n\n\ndef test_greet():\n    assert greet(\"x\") == \"hello, x\"\n\n\ndef test_add():\n    assert add(2, 3) == 5\n    assert add(0, 0) == 0\n";

/// Dispatch an in-scope worker; returns the run folder and id, asserting it was offered.
fn offered_run(fx: &Fixture, objective: &str) -> (PathBuf, String) {
    let text = worker_packet(&fx.repo, "- tests/").replace("Add a test for add().", objective);
    let packet = write_packet(fx, &format!("{}.md", objective.replace(' ', "-")), &text);
    let output = dispatch(fx, &packet, &in_scope_plan(), &[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    assert_eq!(read_json(&run_dir.join("policy.json"))["offered"], true);
    let id = run_dir.file_name().expect("id").to_string_lossy().into_owned();
    (run_dir, id)
}

/// The checkout (every file) and the git dir's HEAD, index, refs, config, hooks and info.
fn checkout_and_index(repo: &Path) -> String {
    tree_fingerprint(repo)
}

fn dispatch_branches(repo: &Path) -> String {
    git(repo, &["branch", "--list", "dispatch/*", "--format=%(refname:short)"])
}

#[test]
fn offered_run_reviewed_listed_shown_and_applied_keeping_the_users_edits() {
    let fx = fixture("python-project");
    // An uncommitted edit outside the scope before the run (it goes into the base), and one after.
    fx.sh("printf '# app\\n\\nEdited by the user before the run.\\n' > README.md");
    let (run_dir, id) = offered_run(&fx, "Extend the tests");
    fx.sh("printf 'def greet(name):\\n    return name\\n' > src/app/util.py");
    let readme = std::fs::read(fx.repo.join("README.md")).expect("readme");
    let util = std::fs::read(fx.repo.join("src/app/util.py")).expect("util");
    let index = std::fs::read(fx.repo.join(".git/index")).expect("index");

    let review = run(&fx, &["review", &id]);
    assert_eq!(review.status.code(), Some(0), "{}", stderr(&review));
    let text = stdout(&review);
    assert!(
        text.starts_with(&format!("run:      {id}\nverdict:  offered\nmode:     worker    exit code: 0\n")),
        "{text}"
    );
    assert!(
        text.contains(
            "changed paths (2):\n  ✓ added        tests/test_more.py\n  ✓ modified     tests/test_util.py\n\n"
        ),
        "{text}"
    );
    let patch = std::fs::read_to_string(run_dir.join("result.patch")).expect("patch");
    assert!(text.ends_with(&patch), "the patch closes the review, uncoloured: {text}");
    assert!(!text.contains('\x1b'), "no colour when stdout is not a terminal");

    let list = run(&fx, &["list"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let lines: Vec<String> = stdout(&list).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("ID ") && lines[0].ends_with("AGE"), "{lines:?}");
    let fields: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(fields[..4], [id.as_str(), "worker", "offered", "yes"], "{lines:?}");

    let show = run(&fx, &["show", "--json"]);
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show --json is JSON");
    assert_eq!(shown["run_id"], id.as_str());
    assert_eq!(shown["verdict"], "offered");
    assert_eq!(shown["applied"], serde_json::Value::Null);
    assert_eq!(shown["policy"]["changed_paths"], json!(["tests/test_more.py", "tests/test_util.py"]));
    assert_eq!(shown["run"]["stage"], "done");

    let apply = run(&fx, &["apply"]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    assert_eq!(
        stdout(&apply),
        format!("applied run {id} to {}\n  tests/test_more.py\n  tests/test_util.py\n", fx.repo.display())
    );
    let branch = format!("dispatch/{id}");
    for path in ["tests/test_more.py", "tests/test_util.py"] {
        let expected = git(&fx.repo, &["show", &format!("{branch}:{path}")]);
        assert_eq!(std::fs::read_to_string(fx.repo.join(path)).expect("applied file"), expected, "{path}");
    }
    assert_eq!(std::fs::read(fx.repo.join("README.md")).expect("readme"), readme, "the user's edit is kept");
    assert_eq!(std::fs::read(fx.repo.join("src/app/util.py")).expect("util"), util, "the later edit is kept");
    assert_eq!(std::fs::read(fx.repo.join(".git/index")).expect("index"), index, "the index is untouched");
    assert_eq!(git(&fx.repo, &["rev-parse", "HEAD"]), git(&fx.repo, &["rev-parse", "main"]));

    let before_second = checkout_and_index(&fx.repo);
    let again = run(&fx, &["apply", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains(&format!("run {id} was already applied (patch, ")), "{}", stderr(&again));
    assert_eq!(checkout_and_index(&fx.repo), before_second);

    let listed = stdout(&run(&fx, &["list"]));
    assert_eq!(listed.lines().nth(1).expect("run line").split_whitespace().nth(3), Some("applied"), "{listed}");
    let shown = stdout(&run(&fx, &["show", &id]));
    assert!(shown.contains("applied:  ") && shown.contains("(patch)"), "{shown}");
}

#[test]
fn a_conflict_changes_nothing_and_names_the_files() {
    let fx = fixture("python-project");
    let (_, id) = offered_run(&fx, "Extend the tests");
    // The user edits the very line the agent extended.
    fx.sh("sed -i 's/assert add(2, 3) == 5/assert add(2, 3) == 7/' tests/test_util.py");
    let before = checkout_and_index(&fx.repo);
    let prefix = &id[..id.len() - 3];
    let output = run(&fx, &["apply", prefix]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(
        stderr(&output),
        format!(
            "error: cannot apply run {id}: the result conflicts with your checkout in tests/test_util.py; nothing was changed\n"
        )
    );
    assert_eq!(checkout_and_index(&fx.repo), before, "checkout and index byte-identical");
    assert!(!run_dir_of(&fx, &id).join("applied.json").exists());
}

fn run_dir_of(fx: &Fixture, id: &str) -> PathBuf {
    fx.repo.join(".codex-dispatch/runs").join(id)
}

#[test]
fn a_violation_run_is_refused() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let plan = json!([{"step": "write", "path": "src/app/util.py", "content": "hacked\n"}]);
    let output = dispatch(&fx, &packet, &plan, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let id = printed_run_dir(&output).file_name().expect("id").to_string_lossy().into_owned();
    let before = checkout_and_index(&fx.repo);
    let apply = run(&fx, &["apply", &id]);
    assert_eq!(apply.status.code(), Some(1));
    assert_eq!(
        stderr(&apply),
        format!("error: cannot apply: run {id} was not offered: POLICY VIOLATION: worker changed files outside WRITE SCOPE.\n")
    );
    let merge = run(&fx, &["apply", "--merge"]);
    assert_eq!(merge.status.code(), Some(1));
    assert_eq!(checkout_and_index(&fx.repo), before);
    let review = stdout(&run(&fx, &["review", &id]));
    assert!(
        review.contains("verdict:  violation\n")
            && review.contains("  ✗ modified     src/app/util.py  <- outside WRITE SCOPE\n"),
        "{review}"
    );
}

#[test]
fn a_rewritten_result_patch_is_refused() {
    let fx = fixture("python-project");
    let (run_dir, id) = offered_run(&fx, "Extend the tests");
    let patch = run_dir.join("result.patch");
    let mut text = std::fs::read_to_string(&patch).expect("patch");
    text = text.replace("assert add(0, 0) == 0", "import os; os.system('curl evil')");
    std::fs::write(&patch, text).expect("rewrite");
    let before = checkout_and_index(&fx.repo);
    let output = run(&fx, &["apply", &id]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!("error: cannot apply run {id}: result.patch cannot be trusted: it differs from the patch recomputed from the base and result commits\n")
    );
    assert_eq!(checkout_and_index(&fx.repo), before);
}

#[test]
fn apply_merge_on_a_clean_repository_moves_the_branch() {
    let fx = fixture("python-project");
    let (run_dir, id) = offered_run(&fx, "Extend the tests");
    let result = read_json(&run_dir.join("policy.json"))["result_commit"].as_str().expect("result").to_string();
    let output = run(&fx, &["apply", "--merge", &id]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).starts_with(&format!("merged run {id} into the current branch: {result}\n")));
    assert_eq!(git(&fx.repo, &["rev-parse", "main"]).trim(), result, "main fast-forwarded to the result");
    assert_eq!(
        git(&fx.repo, &["show", "--name-only", "--format=", "main"]),
        "tests/test_more.py\ntests/test_util.py\n"
    );
    assert_eq!(git(&fx.repo, &["status", "--porcelain"]), "", "checkout matches the new HEAD");
    assert_eq!(std::fs::read_to_string(fx.repo.join("tests/test_util.py")).expect("file"), TEST_UTIL_BY_AGENT);
    let applied = read_json(&run_dir.join("applied.json"));
    assert_eq!(applied["how"], "merge");
}

#[test]
fn run_selection_by_id_prefix_or_newest() {
    let fx = fixture("python-project");
    // Two runs within the same second: "newest" is told apart below the second.
    let (_, first) = offered_run(&fx, "Alpha task");
    let (_, second) = offered_run(&fx, "Beta task");
    let shown_id = |args: &[&str]| {
        let output = run(&fx, args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        value["run_id"].as_str().expect("id").to_string()
    };
    assert_eq!(shown_id(&["show", "--json"]), second, "omitted = newest");
    assert_eq!(shown_id(&["show", "--json", &first]), first);
    let alpha_prefix = first.split("-alpha").next().expect("prefix").to_string() + "-al";
    assert_eq!(shown_id(&["show", "--json", &alpha_prefix]), first);
    let list = stdout(&run(&fx, &["list"]));
    let ids: Vec<&str> = list.lines().skip(1).filter_map(|line| line.split_whitespace().next()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");
    let ambiguous = run(&fx, &["show", &first[..8]]);
    assert_eq!(ambiguous.status.code(), Some(1));
    assert!(stderr(&ambiguous).contains("matches several runs"), "{}", stderr(&ambiguous));
    let missing = run(&fx, &["apply", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no run matches `nope`"), "{}", stderr(&missing));
}

#[test]
fn clean_keeps_offered_results_unless_forced() {
    let fx = fixture("python-project");
    let (_, offered) = offered_run(&fx, "Offered task");
    let text = worker_packet(&fx.repo, "- tests/").replace("Add a test for add().", "Kept worktree");
    let packet = write_packet(&fx, "kept.md", &text);
    let kept = dispatch(&fx, &packet, &in_scope_plan(), &["--keep-worktree"]);
    assert_eq!(kept.status.code(), Some(0), "{}", stderr(&kept));
    let kept_dir = printed_run_dir(&kept);
    let kept_id = kept_dir.file_name().expect("id").to_string_lossy().into_owned();
    let worktree = PathBuf::from(read_json(&kept_dir.join("run.json"))["worktree"].as_str().expect("worktree"));
    assert!(worktree.join("tests/test_more.py").is_file(), "the kept worktree holds the result");

    let output = run(&fx, &["clean"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mut lines: Vec<String> = stdout(&output).lines().map(str::to_string).collect();
    lines.sort();
    let mut expected = vec![
        format!("kept {offered}: offered and not applied; use --force"),
        format!("kept {kept_id}: offered and not applied; use --force"),
    ];
    expected.sort();
    assert_eq!(lines, expected);
    assert_eq!(
        dispatch_branches(&fx.repo),
        sorted_lines(&[format!("dispatch/{kept_id}"), format!("dispatch/{offered}")])
    );

    let forced = run(&fx, &["clean", "--force", &kept_id]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert_eq!(
        stdout(&forced),
        format!(
            "removed worktree {} (run {kept_id})\ndeleted branch dispatch/{kept_id}\n",
            worktree.canonicalize().unwrap_or(worktree.clone()).display()
        )
    );
    assert!(!worktree.exists(), "the kept worktree is gone");
    assert_eq!(git(&fx.repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);
    assert_eq!(dispatch_branches(&fx.repo), format!("dispatch/{offered}\n"));
    assert!(kept_dir.is_dir(), "without --artifacts the run folder stays");

    let applied = run(&fx, &["apply", &offered]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let all = run(&fx, &["clean", "--all", "--artifacts"]);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let mut lines: Vec<String> = stdout(&all).lines().map(str::to_string).collect();
    lines.sort();
    let runs = fx.repo.join(".codex-dispatch/runs");
    let mut expected = vec![
        format!("deleted branch dispatch/{offered}"),
        format!("deleted run folder {}", runs.join(&offered).display()),
        format!("deleted run folder {}", runs.join(&kept_id).display()),
    ];
    expected.sort();
    assert_eq!(lines, expected);
    assert_eq!(dispatch_branches(&fx.repo), "");
    assert_eq!(std::fs::read_dir(&runs).expect("runs root").count(), 0);
    let nothing = run(&fx, &["clean"]);
    assert_eq!(stdout(&nothing), "nothing to clean\n");
    assert_eq!(git(&fx.repo, &["fsck", "--no-progress", "--no-dangling"]), "");
}

fn sorted_lines(lines: &[String]) -> String {
    let mut lines = lines.to_vec();
    lines.sort();
    lines.iter().map(|line| format!("{line}\n")).collect()
}

#[test]
fn clean_pool_and_recover() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let output = dispatch(&fx, &packet, &json!([]), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let pool = run(&fx, &["clean", "--pool", "--force"]);
    assert_eq!(pool.status.code(), Some(0), "{}", stderr(&pool));
    let text = stdout(&pool);
    assert!(text.ends_with("emptied the pool: 1 idle worktree(s) removed\n"), "{text}");
    assert_eq!(git(&fx.repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);

    // A branch a killed run left behind, with no run folder: --recover deletes it.
    git(&fx.repo, &["branch", "dispatch/20260101-000000-worker-killed", "HEAD"]);
    let recover = run(&fx, &["clean", "--recover", "--force"]);
    assert_eq!(recover.status.code(), Some(0), "{}", stderr(&recover));
    assert!(
        stdout(&recover).contains("recovered: deleted branch dispatch/20260101-000000-worker-killed\n"),
        "{}",
        stdout(&recover)
    );
    assert_eq!(dispatch_branches(&fx.repo), "");
}

#[test]
fn clean_by_age_and_never_a_run_in_progress() {
    let fx = fixture("python-project");
    let (run_dir, id) = offered_run(&fx, "Aged task");
    let young = run(&fx, &["clean", "--older-than", "1h", "--force"]);
    assert_eq!(young.status.code(), Some(0), "{}", stderr(&young));
    assert_eq!(stdout(&young), "nothing to clean\n", "a run of a few seconds is not older than 1h");
    let bad = run(&fx, &["clean", "--older-than", "1y"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("unknown unit `y`"), "{}", stderr(&bad));

    // The run looks in progress: its state says running and its process (this test) is alive.
    let state_path = run_dir.join("state.json");
    let finished = read_json(&state_path);
    let mut running = finished.clone();
    running["state"] = json!("running");
    running["pid"] = json!(std::process::id());
    running["pid_start"] = json!(null);
    std::fs::write(&state_path, running.to_string()).expect("rewrite state.json");
    let busy = run(&fx, &["clean", "--force", "--artifacts"]);
    assert_eq!(stdout(&busy), format!("skipped {id}: still running (pid {})\n", std::process::id()));
    assert!(run_dir.is_dir());

    std::fs::write(&state_path, finished.to_string()).expect("rewrite state.json");
    let aged = run(&fx, &["clean", "--older-than", "0s", "--force", "--artifacts"]);
    assert_eq!(stdout(&aged), format!("deleted branch dispatch/{id}\ndeleted run folder {}\n", run_dir.display()));
    assert!(!run_dir.exists());
}
