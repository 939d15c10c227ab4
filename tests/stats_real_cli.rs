//! `git dispatch stats` over runs of the real agent CLIs (codex 0.171.0, Claude Code 2.1.332), each
//! talking to its scripted model server on 127.0.0.1, which reports usage on every response: the
//! tokens `stats --json` gives are those the server reported, read from each agent's own events
//! (codex `turn.completed`, claude's `result`). Skipped with a message when a CLI is not installed,
//! a failure under `CI=true`.

mod support;

#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/real_cli.rs"]
mod real_cli;
#[path = "support/real_dispatch.rs"]
mod real_dispatch;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use model_server::{ModelServer, Turn};
use real_cli::Cli;
use support::cli;
use support::fixtures::{fixture, Fixture};

fn final_result() -> Value {
    json!({
        "result": "done", "summary": "added tests/hello.txt", "changed_files": ["tests/hello.txt"],
        "verification_run": [], "evidence": [], "findings": [], "risks": [], "next": "",
    })
}

/// One offered worker run of `agent`: a shell command, then the final answer (two responses).
fn offered_run(agent: Cli, server: &ModelServer, bin: &std::path::Path, fx: &Fixture) {
    let state = real_dispatch::agent_state_dir();
    let packet = real_dispatch::worker_packet(fx);
    let run = real_dispatch::dispatch(fx, agent, bin, &server.url(), state.path(), &packet, &[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(server.model_requests().len(), 2);
}

fn turns() -> Vec<Turn> {
    vec![Turn::shell("printf 'hello\\n' > tests/hello.txt"), Turn::final_json(&final_result())]
}

fn stats(fx: &Fixture, agent: &str) -> Value {
    let output = cli::run(fx, &["stats", "--json", "--agent", agent]);
    assert_eq!(output.status.code(), Some(0), "{}", cli::stderr(&output));
    serde_json::from_slice(&output.stdout).expect("stats --json is JSON")
}

fn assert_one_offered_run(stats: &Value, agent: &str) {
    assert_eq!((stats["runs"].clone(), stats["offered"].clone()), (json!(1), json!(1)), "{stats:#}");
    assert_eq!(stats["violations"], json!({}));
    assert_eq!(stats["duration_s"]["agent"]["runs"], 1);
    assert!(stats["duration_s"]["agent"]["median"].as_f64().expect("median") > 0.0);
    assert_eq!(stats["by_agent"][agent]["tokens"], stats["tokens"]);
}

#[test]
fn codex_tokens_are_the_servers_usage() {
    let Some(bin) = real_cli::find(Cli::Codex) else {
        return;
    };
    let fx = fixture("python-project");
    let server = ModelServer::openai(turns());
    offered_run(Cli::Codex, &server, &bin, &fx);
    let stats = stats(&fx, "codex");
    assert_one_offered_run(&stats, "codex");
    // Each response: 100 input (10 of them cached), 20 output (5 of them reasoning).
    assert_eq!(stats["tokens"], json!({"input": 200, "output": 40, "cached": 20, "reasoning": 10}), "{stats:#}");
}

#[test]
fn claude_tokens_are_the_servers_usage() {
    let Some(bin) = real_cli::find(Cli::Claude) else {
        return;
    };
    let fx = fixture("python-project");
    let server = ModelServer::anthropic(turns());
    offered_run(Cli::Claude, &server, &bin, &fx);
    let stats = stats(&fx, "claude");
    assert_one_offered_run(&stats, "claude");
    // Each message: 100 input tokens (no cache reads), 20 output tokens.
    assert_eq!(stats["tokens"], json!({"input": 200, "output": 40, "cached": 0, "reasoning": 0}), "{stats:#}");
}
