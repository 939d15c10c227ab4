//! End to end: `--dry-run` and packet errors through the real binary on fixture repositories.

mod support;

use support::cli::{last_line, read_json, run, run_dirs, stderr, worker_packet, write_packet};
use support::fixtures::fixture;
use support::git::{git, tree_fingerprint};

/// The fingerprint without what a dry run may add: the run folders and the exclude line.
fn without_run_folders(fingerprint: &str) -> String {
    fingerprint
        .lines()
        .filter(|line| !line.starts_with(".codex-dispatch") && !line.starts_with(".git/info"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn dry_run_writes_the_run_folder_and_nothing_else() {
    let fx = fixture("python-project");
    let packet_text = worker_packet(&fx.repo, "- tests/test_util.py (MODIFY)\n- tests/test_new.py (NEW, optional)");
    let packet = write_packet(&fx, "task.md", &packet_text);
    let before = tree_fingerprint(&fx.repo);

    let output = run(&fx, &["run", "--task", packet.to_str().expect("utf-8"), "--dry-run"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));

    let dirs = run_dirs(&fx.repo);
    assert_eq!(dirs.len(), 1);
    let run_dir = &dirs[0];
    assert_eq!(last_line(&output), run_dir.display().to_string(), "the run folder is printed last");
    let id = run_dir.file_name().expect("name").to_string_lossy().into_owned();
    assert!(id.ends_with("-worker-add-a-test-for-add"), "{id}");
    assert_eq!(id.as_bytes()[8], b'-');

    assert_eq!(std::fs::read_to_string(run_dir.join("task.md")).expect("task.md"), packet_text);
    let prompt = std::fs::read_to_string(run_dir.join("prompt.md")).expect("prompt.md");
    assert!(prompt.contains("WRITE SCOPE:\n[\n  \"tests/test_util.py\",\n  \"tests/test_new.py\"\n]"), "{prompt}");
    let schema = read_json(&run_dir.join("result.schema.json"));
    assert_eq!(schema["required"][0], "result");
    let result = read_json(&run_dir.join("result.json"));
    assert_eq!(result["dry_run"], true);
    assert_eq!(result["result"], "done");
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["dry_run"], true);
    assert_eq!(policy["mode"], "worker");
    assert_eq!(policy["policy_violation"], false);
    assert_eq!(policy["offered"], false);
    assert_eq!(policy["exit_code"], 0);
    assert_eq!(policy["write_scope"], serde_json::json!(["tests/test_util.py", "tests/test_new.py"]));
    assert_eq!(policy["workdir"], fx.repo.display().to_string());
    assert!(run_dir.join("result.md").is_file());

    let exclude = std::fs::read_to_string(fx.repo.join(".git/info/exclude")).expect("exclude");
    assert_eq!(exclude.lines().filter(|line| *line == ".codex-dispatch/").count(), 1);
    assert_eq!(git(&fx.repo, &["status", "--porcelain"]), "", "run folders are ignored");
    assert_eq!(git(&fx.repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1, "no worktree");
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "", "no scratch branch");
    assert_eq!(without_run_folders(&tree_fingerprint(&fx.repo)), without_run_folders(&before));

    // A second dry run reuses the exclude line and gets its own folder.
    let again = run(&fx, &["--task", packet.to_str().expect("utf-8"), "--dry-run"]);
    assert_eq!(again.status.code(), Some(0), "seed form: {}", stderr(&again));
    assert_eq!(run_dirs(&fx.repo).len(), 2);
    let exclude = std::fs::read_to_string(fx.repo.join(".git/info/exclude")).expect("exclude");
    assert_eq!(exclude.lines().filter(|line| *line == ".codex-dispatch/").count(), 1);
}

#[test]
fn dry_run_with_output_dir_json_and_relative_workdir() {
    let fx = fixture("python-project");
    let packet = write_packet(
        &fx,
        "rel.md",
        "MODE: reviewer\nWORKDIR: repo\nOBJECTIVE: Review util.\nWRITE SCOPE: none\nNON-GOALS:\n- no edits\nVERIFICATION:\n- read it\nDELIVERABLE: findings\n",
    );
    let out_dir = fx.root.join("runs-elsewhere");
    let output = run(
        &fx,
        &[
            "--task",
            packet.to_str().expect("utf-8"),
            "--dry-run",
            "--json",
            "--output-dir",
            out_dir.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    assert_eq!(summary["mode"], "reviewer");
    assert_eq!(summary["exit_code"], 0);
    let run_dir = std::path::PathBuf::from(summary["run_dir"].as_str().expect("run_dir"));
    assert!(run_dir.starts_with(&out_dir));
    assert!(run_dir.join("policy.json").is_file());
    assert!(run_dirs(&fx.repo).is_empty(), "nothing in the repository");
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(
        policy["workdir"],
        fx.repo.display().to_string(),
        "relative WORKDIR resolved against the packet's folder"
    );
}

/// Each bad packet: exit 1, one line naming the field (and line), nothing created.
#[test]
fn packet_errors_exit_1_and_create_nothing() {
    let fx = fixture("python-project");
    let repo = fx.repo.display().to_string();
    let good = worker_packet(&fx.repo, "- tests/");
    let not_a_repo = fx.root.join("plain");
    std::fs::create_dir_all(&not_a_repo).expect("dir");
    let cases: Vec<(String, String)> = vec![
        (good.replace("MODE: worker\n", ""), "missing required field MODE".into()),
        (good.replace("MODE: worker", "MODE: builder"), "line 1: MODE: unknown mode `builder`".into()),
        (good.replace(&format!("WORKDIR: {repo}\n"), ""), "missing required field WORKDIR".into()),
        (good.replace(&repo, "/nonexistent/dir"), "line 2: WORKDIR /nonexistent/dir does not exist".into()),
        (good.replace(&repo, &not_a_repo.display().to_string()), "is not inside a git repository".into()),
        (good.replace("OBJECTIVE: Add a test for add().", "OBJECTIVE:"), "line 3: field OBJECTIVE is empty".into()),
        (good.replace("- tests/", "- /etc/passwd"), "line 6: WRITE SCOPE: `/etc/passwd` is an absolute path".into()),
        (good.replace("- tests/", "- ../outside"), "line 6: WRITE SCOPE: `../outside` contains `..`".into()),
        (good.replace("- tests/", "- tests/[oops"), "line 6: WRITE SCOPE: `tests/[oops` is not a valid glob".into()),
        (good.replace("NON-GOALS:\n- Do not modify src/.\n", ""), "missing required field NON-GOALS".into()),
        (
            good.replace("VERIFICATION:\n- python3 -m pytest -q tests\n", "VERIFICATION:\n"),
            "field VERIFICATION is empty".into(),
        ),
        (good.replace("DELIVERABLE:\n- A passing test.\n", ""), "missing required field DELIVERABLE".into()),
    ];
    let before = tree_fingerprint(&fx.repo);
    for (index, (text, expected)) in cases.iter().enumerate() {
        let packet = write_packet(&fx, &format!("bad-{index}.md"), text);
        let output = run(&fx, &["run", "--task", packet.to_str().expect("utf-8"), "--dry-run"]);
        assert_eq!(output.status.code(), Some(1), "case {index}: {expected}");
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: task packet "), "{err}");
        assert!(err.contains(expected.as_str()), "case {index}: expected {expected:?} in {err:?}");
        assert!(output.stdout.is_empty());
    }
    assert!(run_dirs(&fx.repo).is_empty(), "no run folder");
    assert_eq!(tree_fingerprint(&fx.repo), before, "nothing changed, not even info/exclude");

    let missing = run(&fx, &["run", "--task", "/nonexistent/packet.md", "--dry-run"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("cannot read task packet /nonexistent/packet.md"));
    let bad_flag = run(&fx, &["run", "--task", "x.md", "--timeout-sec", "soon"]);
    assert_eq!(bad_flag.status.code(), Some(1), "bad flags exit 1");
    assert!(stderr(&bad_flag).contains("--timeout-sec"));
}

#[test]
fn help_and_version() {
    let fx = fixture("python-project");
    let help = run(&fx, &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--task",
        "--output-dir",
        "--allow-dirty-overlap",
        "--dry-run",
        "--timeout-sec",
        "--heartbeat-sec",
        "--quota-gate",
        "--force",
        "--agent",
        "--base",
        "--keep-worktree",
        "--verify",
        "--json",
        "--jobs",
        "--quiet",
        "CODEX_DISPATCH_TIMEOUT_SEC",
        "CODEX_DISPATCH_HEARTBEAT_SEC",
        "CODEX_DISPATCH_QUOTA_GATE",
    ] {
        assert!(text.contains(flag), "--help mentions {flag}");
    }
    let version = run(&fx, &["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("git-dispatch {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn near_misses_and_impossible_limits() {
    let fx = fixture("python-project");
    let good = format!(
        "MODE: worker\nWORKDIR: {}\nOBJECTIVE: Add a test.\nWRITE SCOPE:\n- tests/\nNON-GOALZ:\n- typo\nNON-GOALS:\n- none\nTIMEOUT: 60\nVERIFICATION:\n- true\nDELIVERABLE: a test\n",
        fx.repo.display()
    );
    let packet = write_packet(&fx, "typo.md", &good);
    let out = run(&fx, &["run", "--task", packet.to_str().expect("utf-8"), "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 6: unknown field `NON-GOALZ` is ignored; did you mean `NON-GOALS`?"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("line 10: unknown field `TIMEOUT` is ignored; did you mean `TIMEOUT SEC`?"),
        "{}",
        stderr(&out)
    );
    let policy = read_json(&std::path::PathBuf::from(last_line(&out)).join("policy.json"));
    assert!(
        policy["messages"].to_string().contains("WARNING: task packet: line 6: unknown field `NON-GOALZ`"),
        "{policy}"
    );

    for (flag, value, says) in [("--timeout-sec", "0", "--timeout-sec"), ("-j", "0", "--jobs")] {
        let out = run(&fx, &["run", "--task", packet.to_str().expect("utf-8"), "--dry-run", flag, value]);
        assert_eq!(out.status.code(), Some(1), "{flag} {value}");
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
    let empty = write_packet(&fx, "empty.md", &good.replace("WRITE SCOPE:\n- tests/", "WRITE SCOPE: none"));
    let out = run(&fx, &["run", "--task", empty.to_str().expect("utf-8"), "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("line 4: WRITE SCOPE: a worker must be allowed to write something"),
        "{}",
        stderr(&out)
    );

    let bad = write_packet(&fx, "bad.md", "MODE: worker\n");
    let out = run(&fx, &["run", "--json", "--task", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON error on stdout");
    assert!(error["error"].as_str().expect("error").contains("missing required field WORKDIR"), "{error}");
    assert_eq!(error["exit_code"], 1);
    assert!(stderr(&out).contains("missing required field WORKDIR"), "{}", stderr(&out));
}
