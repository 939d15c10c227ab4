//! The real codex CLI (0.171.0) run directly against the scripted OpenAI Responses server in a
//! scratch repository: a worker turn (shell command, patch, final JSON), HTTP 500, a final answer
//! that is not JSON, and an unreachable server. Skipped with a message when codex is not
//! installed, a failure under `CI=true`.

#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/real_cli.rs"]
mod real_cli;
#[path = "support/scratch_repo.rs"]
mod scratch_repo;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use model_server::{ModelServer, Turn};
use real_cli::{Cli, Finished, Running};
use scratch_repo::ScratchRepo;

const LIMIT: Duration = Duration::from_secs(60);

/// The command line of SPEC §6, with the environment from [`real_cli::codex_env`].
fn codex_command(bin: &Path, repo: &ScratchRepo, base_url: &str) -> (Command, PathBuf) {
    let base = repo.base();
    let schema = base.join("schema.json");
    std::fs::write(&schema, real_cli::result_schema().to_string()).unwrap();
    let result_file = base.join("result.json");
    let mut command = Command::new(bin);
    command
        .args(["exec", "--json", "--dangerously-bypass-approvals-and-sandbox", "-C"])
        .arg(&repo.root)
        .arg("--output-schema")
        .arg(&schema)
        .arg("-o")
        .arg(&result_file)
        .arg("Create hello.txt and notes.md")
        .current_dir(&base)
        .env_clear()
        .envs(real_cli::codex_env(&base, base_url, bin));
    (command, result_file)
}

fn run_codex(bin: &Path, repo: &ScratchRepo, server: &ModelServer) -> (Finished, Option<String>) {
    let (command, result_file) = codex_command(bin, repo, &server.url());
    let finished = Running::start(command).finish_within(LIMIT);
    (finished, std::fs::read_to_string(result_file).ok())
}

fn final_result() -> Value {
    json!({
        "result": "done", "summary": "created hello.txt and notes.md",
        "changed_files": ["hello.txt", "notes.md"], "verification_run": [], "evidence": [],
        "findings": [], "risks": [], "next": [],
    })
}

/// The `item` of every `item.completed` event.
fn completed_items(finished: &Finished) -> Vec<Value> {
    finished
        .events()
        .into_iter()
        .filter(|event| event["type"] == "item.completed")
        .map(|event| event["item"].clone())
        .collect()
}

/// The `call_id`s of the tool outputs codex sent back in a request's history.
fn output_call_ids(body: &Value) -> Vec<(String, String)> {
    body["input"]
        .as_array()
        .expect("input is a list")
        .iter()
        .filter(|item| item["type"].as_str().is_some_and(|kind| kind.ends_with("_call_output")))
        .map(|item| (item["type"].as_str().unwrap().to_owned(), item["call_id"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn worker_turn_runs_a_command_applies_a_patch_and_returns_the_json_result() {
    let Some(bin) = real_cli::find(Cli::Codex) else {
        return;
    };
    let repo = ScratchRepo::new();
    let server = ModelServer::openai(vec![
        Turn::shell("printf 'hello from exec_command\\n' > hello.txt && cat hello.txt"),
        Turn::write("notes.md", "# Notes\nwritten by apply_patch\n"),
        Turn::final_json(&final_result()),
    ]);
    let (finished, result_file) = run_codex(&bin, &repo, &server);
    assert_eq!(finished.code(), Some(0), "stderr: {}", finished.stderr);
    assert_eq!(repo.read("hello.txt"), "hello from exec_command\n");
    assert_eq!(repo.read("notes.md"), "# Notes\nwritten by apply_patch\n");
    let result: Value = serde_json::from_str(result_file.as_deref().expect("-o file written")).unwrap();
    assert_eq!(result, final_result());

    assert_eq!(
        finished.event_types(),
        vec![
            "thread.started",
            "turn.started",
            "item.started",
            "item.completed",
            "item.started",
            "item.completed",
            "item.completed",
            "turn.completed",
        ]
    );
    let items = completed_items(&finished);
    assert_eq!(items[0]["type"], "command_execution");
    assert_eq!(items[0]["exit_code"], 0);
    assert_eq!(items[0]["aggregated_output"], "hello from exec_command\n");
    assert_eq!(items[1]["type"], "file_change");
    let notes = repo.root.join("notes.md").display().to_string();
    assert_eq!(items[1]["changes"], json!([{"path": notes, "kind": "add"}]));
    assert_eq!(items[2]["type"], "agent_message");
    assert_eq!(items[2]["text"], final_result().to_string());
    let usage = finished.events().last().unwrap()["usage"].clone();
    assert_eq!(usage["input_tokens"], 300, "three responses of 100 input tokens");

    let requests = server.model_requests();
    assert_eq!(requests.len(), 3);
    let first = requests[0].json();
    assert_eq!(first["text"]["format"]["name"], "codex_output_schema");
    assert_eq!(first["text"]["format"]["schema"], real_cli::result_schema());
    assert_eq!(output_call_ids(&first), vec![]);
    assert_eq!(
        output_call_ids(&requests[2].json()),
        vec![
            ("function_call_output".to_owned(), "call_t0_0".to_owned()),
            ("custom_tool_call_output".to_owned(), "call_t1_0".to_owned()),
        ]
    );
}

#[test]
fn http_500_fails_the_turn_with_exit_1_and_leaves_an_empty_or_stale_result_file() {
    let Some(bin) = real_cli::find(Cli::Codex) else {
        return;
    };
    let repo = ScratchRepo::new();
    let server = ModelServer::openai(vec![Turn::Http500]);
    let (finished, result_file) = run_codex(&bin, &repo, &server);
    assert_eq!(finished.code(), Some(1), "stderr: {}", finished.stderr);
    assert_eq!(result_file.as_deref(), Some(""), "codex creates the -o file empty and leaves it so");
    let message = "We\u{2019}re currently experiencing high demand, which may cause temporary errors.";
    let events = finished.events();
    assert_eq!(finished.event_types(), vec!["thread.started", "turn.started", "error", "turn.failed"]);
    assert_eq!(events[2]["message"], message);
    assert_eq!(events[3]["error"]["message"], message);
    assert_eq!(server.model_requests().len(), 1, "no retries with request_max_retries = 0");

    std::fs::write(repo.base().join("result.json"), "stale").unwrap();
    let (command, result_path) = codex_command(&bin, &repo, &server.url());
    let again = Running::start(command).finish_within(LIMIT);
    assert_eq!(again.code(), Some(1));
    assert_eq!(std::fs::read_to_string(result_path).unwrap(), "stale", "an old -o file survives a failure");
}

#[test]
fn a_final_answer_that_is_not_json_still_exits_0_and_lands_in_the_result_file() {
    let Some(bin) = real_cli::find(Cli::Codex) else {
        return;
    };
    let repo = ScratchRepo::new();
    let server = ModelServer::openai(vec![Turn::final_text("All done, no JSON here.")]);
    let (finished, result_file) = run_codex(&bin, &repo, &server);
    assert_eq!(finished.code(), Some(0), "stderr: {}", finished.stderr);
    assert_eq!(result_file.as_deref(), Some("All done, no JSON here."), "the schema is not enforced");
    assert_eq!(finished.event_types(), vec!["thread.started", "turn.started", "item.completed", "turn.completed"]);
    assert_eq!(completed_items(&finished)[0]["text"], "All done, no JSON here.");
}

#[test]
fn an_unreachable_server_keeps_codex_running_until_it_is_killed() {
    let Some(bin) = real_cli::find(Cli::Codex) else {
        return;
    };
    let repo = ScratchRepo::new();
    let url = format!("http://127.0.0.1:{}/v1", model_server::unused_port());
    let (command, result_file) = codex_command(&bin, &repo, &url);
    let mut running = Running::start(command);
    // Once it has failed to connect twice, it is retrying: still running, not giving up.
    let retrying = running.wait_for_stdout(LIMIT, |text| text.matches("Reconnecting...").count() >= 2);
    assert!(retrying, "codex reports its reconnect attempts");
    assert!(running.is_running(), "codex does not give up on its own");
    running.kill_group();
    let finished = running.finish_within(Duration::from_secs(5));
    let events = finished.events();
    assert_eq!(&finished.event_types()[..2], ["thread.started", "turn.started"]);
    let reconnecting = events
        .iter()
        .filter(|event| event["type"] == "error")
        .all(|event| event["message"].as_str().is_some_and(|message| message.starts_with("Reconnecting...")));
    assert!(reconnecting, "only reconnect errors: {}", finished.stdout);
    assert!(!finished.event_types().contains(&"turn.failed".to_owned()));
    assert_eq!(std::fs::read_to_string(result_file).unwrap(), "");
}
