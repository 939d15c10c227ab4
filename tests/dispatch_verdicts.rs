//! End to end: whole dispatches with the fake agent on fixture repositories, one per verdict.
//! Each asserts the exact exit code, the run folder, and that the user's checkout is untouched.

mod support;

use serde_json::json;
use support::cli::{
    self, dispatch, printed_run_dir, read_json, stderr, stdout, user_visible, worker_packet, write_packet,
};
use support::fixtures::fixture;
use support::git::{git, tree_fingerprint};

fn branch_exists(repo: &std::path::Path, branch: &str) -> bool {
    !git(repo, &["branch", "--list", branch]).trim().is_empty()
}

/// The tree `git apply --cached` makes of `patch` on top of `base`, in a private index.
fn patched_tree(repo: &std::path::Path, base: &str, patch: &std::path::Path) -> String {
    let index = repo.parent().expect("root").join(format!("index-{base}"));
    let run = |args: &[&str]| {
        let output = support::git::hermetic_command("git")
            .env("GIT_INDEX_FILE", &index)
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .expect("git");
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    run(&["read-tree", base]);
    run(&["apply", "--cached", patch.to_str().expect("utf-8")]);
    run(&["write-tree"])
}

#[test]
fn in_scope_worker_is_offered() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let before = tree_fingerprint(&fx.repo);
    let plan = json!([
        {"step": "write", "path": "tests/test_more.py", "content": "def test_more():\n    assert True\n"},
        {"step": "append", "path": "tests/test_util.py", "content": "\n# more\n"},
    ]);
    let output = dispatch(&fx, &packet, &plan, &[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["policy_violation"], false, "{policy:#}");
    assert_eq!(policy["offered"], true);
    assert_eq!(policy["scope_ok"], true);
    assert_eq!(policy["exit_code"], 0);
    assert_eq!(policy["changed_paths"], json!(["tests/test_more.py", "tests/test_util.py"]));
    assert_eq!(policy["claims_mismatch"], serde_json::Value::Null);
    let id = run_dir.file_name().expect("id").to_string_lossy().into_owned();
    assert!(
        stderr(&output).lines().any(|line| line == format!("git-dispatch: {id}: offered (exit 0, 2 changed paths)")),
        "the one-line verdict on stderr: {}",
        stderr(&output)
    );
    let branch = format!("dispatch/{id}");
    assert_eq!(policy["branch"], branch);
    assert_eq!(git(&fx.repo, &["rev-parse", &branch]).trim(), policy["result_commit"].as_str().expect("result"));

    let changes = read_json(&run_dir.join("changes.json"));
    assert_eq!(
        changes["changes"][0],
        json!({"path": "tests/test_more.py", "status": "added", "in_scope": true, "mode_after": "100644"})
    );
    assert_eq!(changes["changes"][1]["status"], "modified");
    for file in [
        "task.md",
        "prompt.md",
        "events.jsonl",
        "stderr.txt",
        "result.json",
        "result.md",
        "pre-status.txt",
        "post-status.txt",
        "pre-diff-stat.txt",
        "post-diff-stat.txt",
        "post-diff-name-only.txt",
        "changes.json",
        "result.patch",
        "policy.json",
        "run.json",
        "result.schema.json",
    ] {
        assert!(run_dir.join(file).is_file(), "{file} is written");
    }
    assert_eq!(
        patched_tree(&fx.repo, policy["base_commit"].as_str().expect("base"), &run_dir.join("result.patch")),
        git(&fx.repo, &["rev-parse", &format!("{branch}^{{tree}}")]),
        "the patch turns base into result"
    );
    let run = read_json(&run_dir.join("run.json"));
    assert_eq!(run["stage"], "done");
    assert_eq!(run["agent_argv"][1], "exec");
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before), "the checkout is untouched");
    let result_md = std::fs::read_to_string(run_dir.join("result.md")).expect("result.md");
    assert!(result_md.starts_with("# git-dispatch result\n\nVERDICT: OK: the result is offered"), "{result_md}");
    assert!(result_md.contains("`tests/test_more.py` (added, in scope)"));
}

#[test]
fn out_of_scope_worker_is_a_violation_and_nothing_is_offered() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let plan = json!([
        {"step": "write", "path": "tests/test_more.py", "content": "x\n"},
        {"step": "write", "path": "src/app/util.py", "content": "hacked\n"},
        {"step": "rename", "from": "README.md", "to": "tests/README.md"},
    ]);
    let output = dispatch(&fx, &packet, &plan, &[]);
    assert_eq!(output.status.code(), Some(3), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["policy_violation"], true);
    assert_eq!(policy["scope_ok"], false);
    assert_eq!(policy["offered"], false);
    assert_eq!(policy["out_of_scope_changes"], json!(["src/app/util.py", "README.md -> tests/README.md"]));
    assert!(policy["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .any(|m| m == "POLICY VIOLATION: worker changed files outside WRITE SCOPE."));
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "", "the branch of a refused result is deleted");
    let review = stdout(&cli::run(&fx, &["review"]));
    assert!(review.contains("verdict:  violation\nmode:     worker    exit code: 3\nscope:    tests/\n"), "{review}");
    assert!(review.contains("src/app/util.py  <- outside WRITE SCOPE\n"), "{review}");
    let changes = read_json(&run_dir.join("changes.json"));
    let util = changes["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["path"] == "src/app/util.py")
        .expect("util")
        .clone();
    assert_eq!(util["in_scope"], false);
}

#[test]
fn read_only_modes_may_not_write() {
    let fx = fixture("python-project");
    for mode in ["verifier", "reviewer", "synthesizer"] {
        let text = worker_packet(&fx.repo, "- none").replace("MODE: worker", &format!("MODE: {mode}"));
        let packet = write_packet(&fx, &format!("{mode}.md"), &text);
        let clean = dispatch(&fx, &packet, &json!([{"step": "message", "text": "looked"}]), &[]);
        assert_eq!(clean.status.code(), Some(0), "{mode}: {}", stderr(&clean));
        let policy = read_json(&printed_run_dir(&clean).join("policy.json"));
        assert_eq!(policy["offered"], false, "a read-only run offers nothing");
        let wrote = dispatch(&fx, &packet, &json!([{"step": "write", "path": "notes.md", "content": "n\n"}]), &[]);
        assert_eq!(wrote.status.code(), Some(3), "{mode}");
        let policy = read_json(&printed_run_dir(&wrote).join("policy.json"));
        assert_eq!(policy["out_of_scope_changes"], json!(["notes.md"]));
        assert!(policy["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .any(|m| m == &json!(format!("POLICY VIOLATION: {mode} mode changed working tree."))));
    }
}

#[test]
fn agent_failures_are_violations() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let cases = [
        (
            json!([{"step": "write", "path": "tests/a.py", "content": "a\n"}, {"step": "exit", "code": 7}]),
            "FAILED: the agent exited non-zero: 7",
            "codex_exit_code",
            json!(7),
        ),
        (json!([{"step": "no_result"}]), "no usable structured result", "structured_result_ok", json!(false)),
        (
            json!([{"step": "result_raw", "text": "I am done!"}]),
            "no usable structured result",
            "structured_result_ok",
            json!(false),
        ),
        (
            json!([{"step": "fail", "message": "model overloaded"}]),
            "FAILED: the agent exited non-zero: 1",
            "codex_exit_code",
            json!(1),
        ),
    ];
    for (plan, message, field, value) in cases {
        let output = dispatch(&fx, &packet, &plan, &[]);
        assert_eq!(output.status.code(), Some(3), "{plan}: {}", stderr(&output));
        let run_dir = printed_run_dir(&output);
        let policy = read_json(&run_dir.join("policy.json"));
        assert_eq!(policy[field], value, "{plan}");
        assert_eq!(policy["offered"], false);
        let messages = policy["messages"].to_string();
        assert!(messages.contains(message), "{message} in {messages}");
        let result = read_json(&run_dir.join("result.json"));
        if field == "structured_result_ok" {
            assert_eq!(result["result"], "blocked", "a missing result is recorded as blocked");
        }
    }
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "");
}

#[test]
fn watchdog_kills_a_hung_or_silent_agent_and_its_children() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let pidfile = fx.root.join("child.pid");
    let plan = json!([{"step": "spawn_child", "sleep_secs": 300, "pidfile": pidfile}, {"step": "hang"}]);
    let started = std::time::Instant::now();
    let output = dispatch(&fx, &packet, &plan, &["--heartbeat-sec", "1", "--timeout-sec", "60"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    assert_eq!(policy["watchdog_killed"], true);
    assert!(policy["watchdog_reason"].as_str().expect("reason").contains("heartbeat"), "{}", policy["watchdog_reason"]);
    let pid = std::fs::read_to_string(&pidfile).expect("pidfile").trim().to_string();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z ")),
        "grandchild {pid} is dead"
    );

    let output = dispatch(
        &fx,
        &packet,
        &json!([{"step": "stdout", "bytes": "{}\n", "count": 1}, {"step": "shell", "cmd": "while true; do echo '{\"type\":\"tick\"}'; sleep 0.2; done"}]),
        &["--timeout-sec", "2", "--heartbeat-sec", "60"],
    );
    assert_eq!(output.status.code(), Some(3));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    assert_eq!(policy["watchdog_killed"], true);
    assert!(policy["watchdog_reason"].as_str().expect("reason").contains("timeout"), "{}", policy["watchdog_reason"]);
}

#[test]
fn claims_mismatch_is_a_warning() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let result = json!({"result": "done", "summary": "s", "changed_files": ["tests/claimed.py"], "verification_run": [], "evidence": [], "findings": [], "risks": [], "next": ""});
    let plan =
        json!([{"step": "write", "path": "tests/real.py", "content": "r\n"}, {"step": "result", "value": result}]);
    let output = dispatch(&fx, &packet, &plan, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(
        policy["claims_mismatch"],
        json!({"claimed_not_changed": ["tests/claimed.py"], "changed_not_claimed": ["tests/real.py"]})
    );
    assert_eq!(policy["offered"], true);
    assert!(std::fs::read_to_string(run_dir.join("result.md"))
        .expect("md")
        .contains("WARNING: the agent's changed_files do not match"));
}

#[test]
fn dirty_overlap_blocks_before_the_agent() {
    let fx = fixture("dirty");
    let dirty = git(&fx.repo, &["status", "--porcelain"]);
    assert!(!dirty.is_empty());
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- src/"));
    let before = tree_fingerprint(&fx.repo);
    let marker = fx.root.join("agent-ran");
    let plan = json!([{"step": "record", "path": marker}]);
    let output = dispatch(&fx, &packet, &plan, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let policy = read_json(&run_dir.join("policy.json"));
    assert!(!policy["dirty_overlap"].as_array().expect("list").is_empty(), "{policy:#}");
    assert_eq!(policy["blocked"], true);
    assert!(policy["messages"][0]
        .as_str()
        .expect("msg")
        .starts_with("BLOCKED: write scope overlaps uncommitted changes in: "));
    let result_md = std::fs::read_to_string(run_dir.join("result.md")).expect("md");
    assert!(result_md.contains("BLOCKED"));
    let review = stdout(&cli::run(&fx, &["review"]));
    for path in policy["dirty_overlap"].as_array().expect("list") {
        let path = path.as_str().expect("a path");
        assert!(stderr(&output).contains(path), "stderr names {path}: {}", stderr(&output));
        assert!(result_md.contains(path), "result.md names {path}");
        assert!(review.contains(path), "review names {path}: {review}");
    }
    assert!(stderr(&output).contains(": blocked (exit 2, 0 changed paths): BLOCKED:"), "{}", stderr(&output));
    assert!(!marker.exists(), "the agent did not run");
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before));
    assert_eq!(git(&fx.repo, &["worktree", "list"]).lines().count(), 1);

    let allowed = dispatch(&fx, &packet, &plan, &["--allow-dirty-overlap"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
    assert!(marker.exists(), "the agent ran");
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before), "dirty checkout byte-identical");
}

#[test]
fn agent_not_found_exits_1() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let output = support::cli::command(&fx)
        .env("PATH", "/usr/bin:/bin")
        .env("GIT_DISPATCH_CLAUDE_BIN", "")
        .args(["run", "--task", packet.to_str().expect("utf-8"), "--agent", "claude"])
        .output()
        .expect("spawn");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("claude") && err.contains("npm install -g @anthropic-ai/claude-code"), "{err}");
    assert!(support::cli::run_dirs(&fx.repo).is_empty());
}

#[test]
fn claude_as_root_without_is_sandbox_cannot_start() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let output = support::cli::command_with_plan(&fx, &json!([]))
        .env_remove("IS_SANDBOX")
        .args(["run", "--task", packet.to_str().expect("utf-8"), "--agent", "claude"])
        .output()
        .expect("spawn");
    if !nix::unistd::geteuid().is_root() {
        // Not root: nothing to refuse, the run goes on.
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        return;
    }
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("IS_SANDBOX=1") && err.contains("as root"), "{err}");
    assert!(support::cli::run_dirs(&fx.repo).is_empty(), "nothing created");
}

#[test]
fn a_branch_agent_commits_and_detaches_still_lands_on_the_run_branch() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let plan = json!([
        {"step": "write", "path": "tests/one.py", "content": "1\n"},
        {"step": "commit", "message": "agent commit"},
        {"step": "write", "path": "tests/two.py", "content": "2\n"},
        {"step": "detach"},
    ]);
    let output = dispatch(&fx, &packet, &plan, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    assert_eq!(policy["changed_paths"], json!(["tests/one.py", "tests/two.py"]));
    assert!(branch_exists(&fx.repo, policy["branch"].as_str().expect("branch")));
}

#[test]
fn a_worker_that_changed_nothing_exits_0_and_says_why_nothing_is_offered() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let output = dispatch(&fx, &packet, &json!([]), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!((policy["offered"].clone(), policy["policy_violation"].clone()), (json!(false), json!(false)));
    assert!(policy["messages"].to_string().contains("NOTHING OFFERED: the worker changed nothing."), "{policy}");
    assert!(stderr(&output)
        .contains(": nothing changed (exit 0, 0 changed paths): NOTHING OFFERED: the worker changed nothing."));
    let review = stdout(&cli::run(&fx, &["review"]));
    assert!(review.contains("verdict:  nothing changed\n"), "{review}");
    let result_md = std::fs::read_to_string(run_dir.join("result.md")).expect("result.md");
    assert!(result_md.contains("VERDICT: OK: the worker changed nothing; nothing to offer"), "{result_md}");
    let apply = cli::run(&fx, &["apply"]);
    assert_eq!(apply.status.code(), Some(1));
    assert!(stderr(&apply).contains("was not offered: the worker changed nothing"), "{}", stderr(&apply));
}
