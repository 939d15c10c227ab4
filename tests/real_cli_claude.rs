//! The real Claude Code CLI (2.1.332) run directly against the scripted Anthropic Messages server
//! in a scratch repository: a worker turn (Bash, Write, StructuredOutput), HTTP 500, a final
//! answer that is not JSON, and an unreachable server. Skipped with a message when claude is not
//! installed, a failure under `CI=true`.

#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/real_cli.rs"]
mod real_cli;
#[path = "support/scratch_repo.rs"]
mod scratch_repo;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use model_server::{ModelServer, Turn};
use real_cli::{Cli, Finished, Running};
use scratch_repo::ScratchRepo;

const LIMIT: Duration = Duration::from_secs(60);

/// `claude -p` as SPEC §6 runs it, in the repository, with [`real_cli::claude_env`].
fn claude_command(bin: &Path, repo: &ScratchRepo, base_url: &str) -> Command {
    let mut command = Command::new(bin);
    command
        .args(["-p", "Create hello.txt and notes.md", "--output-format", "stream-json", "--verbose"])
        .args(["--dangerously-skip-permissions", "--no-session-persistence", "--json-schema"])
        .arg(real_cli::result_schema().to_string())
        .current_dir(&repo.root)
        .env_clear()
        .envs(real_cli::claude_env(&repo.base(), base_url, bin));
    command
}

fn run_claude(bin: &Path, repo: &ScratchRepo, server: &ModelServer) -> Finished {
    Running::start(claude_command(bin, repo, &server.url())).finish_within(LIMIT)
}

fn final_result() -> Value {
    json!({
        "result": "done", "summary": "created hello.txt and notes.md",
        "changed_files": ["hello.txt", "notes.md"], "verification_run": [], "evidence": [],
        "findings": [], "risks": [], "next": [],
    })
}

/// The stream's last event, which must be the `result`.
fn result_event(finished: &Finished) -> Value {
    let result = finished.events().pop().expect("at least one event");
    assert_eq!(result["type"], "result", "stdout: {}", finished.stdout);
    result
}

/// The assistant events' content blocks, in order.
fn assistant_blocks(finished: &Finished) -> Vec<Value> {
    finished
        .events()
        .into_iter()
        .filter(|event| event["type"] == "assistant")
        .flat_map(|event| event["message"]["content"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The `tool_use_id`s of the tool results claude sent back in a request.
fn tool_result_ids(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .expect("messages is a list")
        .iter()
        .filter_map(|message| message["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_result")
        .map(|block| block["tool_use_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn worker_turn_runs_bash_and_write_and_returns_structured_output() {
    let Some(bin) = real_cli::find(Cli::Claude) else {
        return;
    };
    let repo = ScratchRepo::new();
    let server = ModelServer::anthropic(vec![
        Turn::shell("printf 'hello from Bash\\n' > hello.txt && cat hello.txt"),
        Turn::write("notes.md", "# Notes\nwritten by the Write tool\n"),
        Turn::final_json(&final_result()),
    ]);
    let finished = run_claude(&bin, &repo, &server);
    assert_eq!(finished.code(), Some(0), "stderr: {}", finished.stderr);
    assert_eq!(repo.read("hello.txt"), "hello from Bash\n");
    assert_eq!(repo.read("notes.md"), "# Notes\nwritten by the Write tool\n");

    let result = result_event(&finished);
    assert_eq!(result["is_error"], false);
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["structured_output"], final_result());
    assert_eq!(
        finished.event_types(),
        vec!["system", "assistant", "user", "assistant", "user", "assistant", "user", "result"]
    );
    assert_eq!(finished.events()[0]["cwd"], repo.root.display().to_string());
    let names: Vec<Value> = assistant_blocks(&finished).iter().map(|block| block["name"].clone()).collect();
    assert_eq!(names, vec![json!("Bash"), json!("Write"), json!("StructuredOutput")]);
    let write = &assistant_blocks(&finished)[1];
    assert_eq!(write["input"]["file_path"], repo.root.join("notes.md").display().to_string());

    let requests = server.model_requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|request| request.json()["stream"] == true));
    assert_eq!(tool_result_ids(&requests[0].json()), Vec::<String>::new());
    assert_eq!(tool_result_ids(&requests[2].json()), vec!["toolu_t0_0", "toolu_t1_0"]);
}

#[test]
fn http_500_ends_with_an_error_result_and_exit_1() {
    let Some(bin) = real_cli::find(Cli::Claude) else {
        return;
    };
    let repo = ScratchRepo::new();
    let server = ModelServer::anthropic(vec![Turn::Http500]);
    let finished = run_claude(&bin, &repo, &server);
    assert_eq!(finished.code(), Some(1), "stderr: {}", finished.stderr);
    assert_eq!(finished.event_types(), vec!["system", "assistant", "result"]);
    let error_message = &finished.events()[1];
    assert_eq!(error_message["is_api_error_message"], true);
    assert_eq!(error_message["api_error_status"], 500);
    let result = result_event(&finished);
    assert_eq!(result["is_error"], true);
    assert_eq!(result["subtype"], "success", "the subtype does not say it failed");
    assert_eq!(result["terminal_reason"], "api_error");
    assert_eq!(result["api_error_status"], 500);
    assert!(result["result"].as_str().unwrap().starts_with("API Error: 500 mock internal error."));
    assert_eq!(result.get("structured_output"), None);
    assert_eq!(server.model_requests().len(), 1, "no retries with CLAUDE_CODE_MAX_RETRIES=0");
}

#[test]
fn a_final_answer_that_is_not_json_leaves_no_structured_output_and_exits_0() {
    let Some(bin) = real_cli::find(Cli::Claude) else {
        return;
    };
    let repo = ScratchRepo::new();
    let server = ModelServer::anthropic(vec![Turn::final_text("All done, no JSON here.")]);
    let finished = run_claude(&bin, &repo, &server);
    assert_eq!(finished.code(), Some(0), "stderr: {}", finished.stderr);
    let result = result_event(&finished);
    assert_eq!(result["is_error"], false);
    assert_eq!(result["result"], "All done, no JSON here.");
    assert!(matches!(result.get("structured_output"), None | Some(Value::Null)), "no structured result: {result}");
    // claude asks once more for the StructuredOutput call; the script answers the same text.
    let requests = server.model_requests();
    assert_eq!(requests.len(), 2);
    assert!(String::from_utf8_lossy(&requests[1].body).contains("[structured-output-enforce]"));
}

#[test]
fn an_unreachable_server_ends_claude_with_exit_1_and_a_connection_error() {
    let Some(bin) = real_cli::find(Cli::Claude) else {
        return;
    };
    let repo = ScratchRepo::new();
    let url = format!("http://127.0.0.1:{}", model_server::unused_port());
    let finished = Running::start(claude_command(&bin, &repo, &url)).finish_within(Duration::from_secs(30));
    assert_eq!(finished.code(), Some(1), "claude gives up by itself (unlike codex)");
    let result = result_event(&finished);
    assert_eq!(result["is_error"], true);
    assert_eq!(result["terminal_reason"], "api_error");
    assert_eq!(result["api_error"], "connection_failed");
}
