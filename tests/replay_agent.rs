//! The built-in replay agent (the binary started as `git-dispatch-replay-agent exec ...`): run as
//! Codex is run, on the demo project, directly and through the agent runner.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use git_dispatch::agent::replay::{
    demo_repo_files, replay_agent_link, replay_edits, replay_result, REPLAY_DELAY_ENV, REPLAY_VERSION,
};
use git_dispatch::agent::{AgentKind, AgentRequest, StructuredResult, TokenUsage};
use serde_json::Value;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-dispatch"))
}

/// The binary under the replay agent's name (a link in a temp folder kept for the test's life).
fn replay_agent() -> PathBuf {
    static LINK: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, link) = LINK.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let link = replay_agent_link(&binary(), dir.path()).expect("link");
        (dir, link)
    });
    link.clone()
}

/// A temp folder with the demo project in `project/` and an empty `run/`.
fn demo_dir() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().canonicalize().expect("canonical temp dir");
    let project = root.join("project");
    for (path, content) in demo_repo_files() {
        let path = project.join(path);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write demo file");
    }
    let run = root.join("run");
    std::fs::create_dir_all(&run).expect("mkdir run");
    (tmp, project, run)
}

/// Runs the binary as the replay agent with the Codex command line of the runner.
fn replay(project: &Path, result: &Path, delay: Option<&str>) -> Output {
    let mut command = Command::new(replay_agent());
    command
        .args(["exec", "--json", "--dangerously-bypass-approvals-and-sandbox", "-C"])
        .arg(project)
        .arg("--output-schema")
        .arg(result.with_file_name("result.schema.json"))
        .arg("-o")
        .arg(result)
        .arg("Fix slugify.")
        .env_remove(REPLAY_DELAY_ENV)
        .stdin(Stdio::null());
    if let Some(delay) = delay {
        command.env(REPLAY_DELAY_ENV, delay);
    }
    command.output().expect("the binary runs")
}

fn events(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}")))
        .collect()
}

fn kind(event: &Value) -> String {
    let kind = event["type"].as_str().expect("type");
    match event["item"]["type"].as_str() {
        Some(item) => format!("{kind}:{item}"),
        None => kind.to_string(),
    }
}

#[test]
fn replay_prints_the_session_edits_the_project_and_writes_the_result() {
    let (_tmp, project, run) = demo_dir();
    let result = run.join("result.json");
    let output = replay(&project, &result, Some("0"));
    assert_eq!(output.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));

    let events = events(&output);
    let kinds: Vec<String> = events.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            "thread.started",
            "turn.started",
            "item.completed:reasoning",
            "item.started:command_execution",
            "item.completed:command_execution",
            "item.completed:reasoning",
            "item.started:file_change",
            "item.completed:file_change",
            "item.started:command_execution",
            "item.completed:command_execution",
            "item.completed:agent_message",
            "turn.completed",
        ]
    );
    let change_paths: Vec<&str> = events[7]["item"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["path"].as_str().expect("path"))
        .collect();
    let expected_paths = [project.join("src/app/util.py"), project.join("tests/test_slug.py")];
    assert_eq!(change_paths, expected_paths.iter().map(|p| p.to_str().expect("utf-8")).collect::<Vec<_>>());
    assert_eq!(events[9]["item"]["command"], "/bin/bash -lc \"python3 -m pytest -q\"");
    assert_eq!(events[9]["item"]["exit_code"], 0);
    let message: Value = serde_json::from_str(events[10]["item"]["text"].as_str().expect("text")).expect("JSON text");
    assert_eq!(message, replay_result());
    assert_eq!(events[11]["usage"]["output_tokens"], 612);

    for (path, content) in replay_edits() {
        assert_eq!(std::fs::read_to_string(project.join(path)).expect("edited file"), content, "{path}");
    }
    assert!(std::fs::read_to_string(project.join("src/app/util.py")).expect("util").contains(r#"r"[^a-z0-9]+""#));
    let written: Value = serde_json::from_slice(&std::fs::read(&result).expect("-o file")).expect("JSON result");
    assert_eq!(written, replay_result());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "git-dispatch replay agent: replaying a recorded Codex session (no model, no network)\n"
    );
}

#[test]
fn replay_answers_version() {
    let output = Command::new(replay_agent()).arg("--version").output().expect("runs");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{REPLAY_VERSION}\n"));
}

#[test]
fn replay_takes_its_recorded_time() {
    let (_tmp, project, run) = demo_dir();
    let started = Instant::now();
    let output = replay(&project, &run.join("result.json"), None);
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(0));
    assert!(elapsed >= Duration::from_millis(770), "the recorded delays add up to 0.77 s, took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

#[test]
fn replay_into_a_missing_folder_fails_with_a_failed_turn() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let output = replay(&tmp.path().join("missing"), &tmp.path().join("result.json"), Some("0"));
    assert_eq!(output.status.code(), Some(1));
    let kinds: Vec<String> = events(&output).iter().map(kind).collect();
    assert_eq!(kinds, ["error", "turn.failed"]);
    assert!(!tmp.path().join("result.json").exists());
}

#[test]
fn the_agent_runner_reads_the_replay_as_a_codex_run() {
    let (_tmp, project, run) = demo_dir();
    let request = AgentRequest {
        kind: AgentKind::Codex,
        program: replay_agent(),
        cwd: &project,
        worktree: &project,
        prompt: "Fix slugify.",
        run_dir: &run,
        timeout: Duration::from_secs(60),
        heartbeat: Duration::from_secs(30),
        quiet: true,
        wrapper: Vec::new(),
        extra_env: vec![(REPLAY_DELAY_ENV.into(), "0".into())],
        output_dir: None,
        cancel: None,
        on_activity: None,
    };
    let report = git_dispatch::agent::run(&request).expect("the runner runs the replay");
    assert!(report.exited_cleanly(), "{report:?}");
    assert_eq!(report.result, StructuredResult::Valid(replay_result()));
    assert_eq!(report.commands, ["cat src/app/util.py", "python3 -m pytest -q"]);
    assert_eq!(
        report.usage,
        TokenUsage { input_tokens: 4821, cached_input_tokens: 3584, output_tokens: 612, reasoning_output_tokens: 256 }
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let lines = std::fs::read_to_string(run.join("events.jsonl")).expect("events.jsonl");
    assert_eq!(lines.lines().count(), 12);
    let written: Value =
        serde_json::from_slice(&std::fs::read(run.join("result.json")).expect("result")).expect("JSON");
    assert_eq!(written, replay_result());
}
