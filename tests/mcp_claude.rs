//! The real Claude Code (2.1.332) as an MCP client of `git dispatch mcp`: `claude -p
//! --mcp-config FILE` against a scripted Anthropic Messages server on 127.0.0.1 whose model calls
//! `mcp__git-dispatch__dispatch` (the packet as text), then `mcp__git-dispatch__wait` while it
//! answers `still_running`, then `mcp__git-dispatch__review`. The dispatched agent is the fake
//! codex and takes longer than one wait. Asserts the run happened through MCP (a detached run
//! whose task.md is the packet text) and that the tool results Claude got carry the verdict
//! (Claude Code hands the model a tool's structured result, so those are JSON).
//! Skipped with a message when claude is not installed, a failure under `CI=true`.

mod support;

#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/real_cli.rs"]
mod real_cli;

use std::process::Command;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use model_server::{ModelServer, ToolOutput, Turn};
use real_cli::{Cli, Running};
use support::cli::{self, read_json, user_visible};
use support::fixtures::fixture;
use support::git::tree_fingerprint;

/// The packet the model writes: WORKDIR `.` is the server's working directory, the repository.
const PACKET: &str = "MODE: worker\nWORKDIR: .\nOBJECTIVE: Add a test.\n\nWRITE SCOPE:\n- tests/\n\n\
NON-GOALS:\n- None.\n\nVERIFICATION:\n- true\n\nDELIVERABLE:\n- A test.\n";

fn tool(name: &str, input: Value) -> Turn {
    Turn::tool(&format!("mcp__git-dispatch__{name}"), input)
}

/// The orchestrating model: dispatch, wait while `still_running`, review, done.
fn orchestrate(outputs: &[ToolOutput]) -> Turn {
    let Some(started) = outputs.first() else {
        return tool("dispatch", json!({"packet": PACKET}));
    };
    let Some(run_id) = run_id_in(&started.text) else {
        return Turn::final_text(&format!("no run id in: {}", started.text));
    };
    let last = outputs.last().expect("at least the dispatch output");
    if last.text.contains("patch_path") {
        Turn::final_text("Reviewed: the run is offered.")
    } else if outputs.len() == 1 || still_running(last) {
        tool("wait", json!({"run_ids": [run_id], "timeout_sec": 1}))
    } else {
        tool("review", json!({"run_id": run_id}))
    }
}

/// A `wait` result saying `still_running` (Claude Code hands the model the structured result).
fn still_running(output: &ToolOutput) -> bool {
    serde_json::from_str::<Value>(&output.text).is_ok_and(|value| value["state"] == "still_running")
}

fn run_id_in(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(value["run_id"].as_str()?.to_string())
}

#[test]
fn claude_dispatches_waits_and_reviews_through_mcp() {
    let Some(claude) = real_cli::find(Cli::Claude) else {
        return;
    };
    let fx = fixture("python-project");
    let before = user_visible(&tree_fingerprint(&fx.repo));
    let plan = json!([
        {"step": "sleep", "ms": 3000},
        {"step": "write", "path": "tests/test_through_mcp.py", "content": "def test_it():\n    assert True\n"},
    ]);
    // The server's environment: the fixture's hermetic one with the fake agent as codex.
    let server_env: serde_json::Map<String, Value> = cli::command_with_plan(&fx, &plan)
        .get_envs()
        .filter_map(|(key, value)| Some((key.to_string_lossy().into_owned(), json!(value?.to_string_lossy()))))
        .collect();
    let config = json!({"mcpServers": {"git-dispatch": {
        "command": cli::binary().display().to_string(), "args": ["mcp"], "env": server_env,
    }}});
    let config_path = fx.root.join("mcp.json");
    std::fs::write(&config_path, config.to_string()).expect("MCP config");

    let server = ModelServer::anthropic(vec![Turn::Program(orchestrate)]);
    let env = real_cli::claude_env(&fx.root, &server.url(), &claude);
    let mut command = Command::new(&claude);
    command.env_clear().envs(env).current_dir(&fx.repo).args([
        "-p",
        "Dispatch the task with the git-dispatch MCP tools, wait for it, and review it.",
        "--mcp-config",
        &config_path.display().to_string(),
        "--strict-mcp-config",
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
    ]);
    let finished = Running::start(command).finish_within(Duration::from_secs(180));
    assert_eq!(finished.code(), Some(0), "claude: {}\n{}", finished.stderr, finished.stdout);

    // The MCP tools were offered to the model under Claude Code's names (as deferred tools: the
    // model may call them by name).
    let first = server.model_requests().first().expect("a model request").json().to_string();
    for name in ["dispatch", "status", "wait", "review", "apply", "cancel", "list"] {
        assert!(first.contains(&format!("mcp__git-dispatch__{name}")), "{name} offered: {first}");
    }

    // What Claude got back from its MCP calls, as the last model request carries them.
    let last_request = server.model_requests().last().expect("model requests").json();
    let outputs = model_server::tool_outputs(&last_request);
    assert!(outputs.iter().all(|output| !output.is_error), "no tool failed: {outputs:#?}");
    let run_id = run_id_in(&outputs[0].text).expect("dispatch answered a run id");
    let waits = &outputs[1..outputs.len() - 1];
    assert!(waits.len() >= 2, "the wait loop ran more than once: {outputs:#?}");
    assert!(waits[..waits.len() - 1].iter().all(still_running), "{waits:#?}");
    let last_wait: Value = serde_json::from_str(&waits[waits.len() - 1].text).expect("wait JSON");
    assert_eq!((last_wait["state"].clone(), last_wait["exit_code"].clone()), (json!("finished"), json!(0)));
    assert_eq!(last_wait["runs"][0]["verdict"], json!("offered"), "the verdict reached Claude: {last_wait}");
    let review: Value = serde_json::from_str(&outputs.last().expect("review output").text).expect("review JSON");
    assert_eq!((review["verdict"].clone(), review["offered"].clone()), (json!("offered"), json!(true)), "{review}");
    assert_eq!(review["changes"][0]["path"], json!("tests/test_through_mcp.py"));
    assert_eq!(review["changes"][0]["in_scope"], json!(true));
    assert!(review["patch"].as_str().unwrap_or_default().contains("+def test_it():"), "{review}");

    // The run is a detached run of the packet text, started by the MCP server.
    let run_dir = fx.repo.join(".codex-dispatch/runs").join(&run_id);
    assert_eq!(read_json(&run_dir.join("state.json"))["detached"], json!(true));
    assert_eq!(std::fs::read_to_string(run_dir.join("task.md")).expect("task.md"), PACKET);
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(
        (policy["offered"].clone(), policy["changed_paths"].clone()),
        (json!(true), json!(["tests/test_through_mcp.py"]))
    );
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), before, "nothing was applied");
}
