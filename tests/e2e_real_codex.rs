//! End to end with the real codex CLI (0.171.0): `git dispatch run --task P` in the python-project
//! fixture, codex talking to the scripted OpenAI Responses server on 127.0.0.1. A worker turn that
//! is offered, HTTP 500, a final answer that is not JSON, and an unreachable server ended by the
//! watchdog. Skipped with a message when codex is not installed, a failure under `CI=true`.

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
use real_dispatch::{changed_paths, dispatch, messages, worker_packet, Dispatched};
use support::cli::user_visible;
use support::fixtures::fixture;
use support::git::{git, tree_fingerprint};

fn final_result() -> Value {
    json!({
        "result": "done", "summary": "added tests/hello.txt and tests/notes.md",
        "changed_files": ["tests/hello.txt", "tests/notes.md"], "verification_run": [], "evidence": [],
        "findings": [], "risks": [], "next": "",
    })
}

/// Dispatches the worker packet with codex against `base_url`; `extra` flags are appended.
fn run_codex(bin: &std::path::Path, fx: &support::fixtures::Fixture, base_url: &str, extra: &[&str]) -> Dispatched {
    let state = real_dispatch::agent_state_dir();
    let packet = worker_packet(fx);
    dispatch(fx, Cli::Codex, bin, base_url, state.path(), &packet, extra)
}

#[test]
fn a_worker_turn_with_a_command_and_a_patch_is_offered() {
    let Some(bin) = real_cli::find(Cli::Codex) else {
        return;
    };
    let fx = fixture("python-project");
    let before = tree_fingerprint(&fx.repo);
    let server = ModelServer::openai(vec![
        Turn::shell("printf 'hello from exec_command\\n' > tests/hello.txt && cat tests/hello.txt"),
        Turn::write("tests/notes.md", "# Notes\nwritten by apply_patch\n"),
        Turn::final_json(&final_result()),
    ]);
    let run = run_codex(&bin, &fx, &server.url(), &[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());

    let policy = run.json("policy.json");
    assert_eq!(policy["offered"], true, "{policy:#}");
    assert_eq!(policy["policy_violation"], false);
    assert_eq!(policy["codex_exit_code"], 0);
    assert_eq!(policy["watchdog_killed"], false);
    assert_eq!(policy["changed_paths"], json!(["tests/hello.txt", "tests/notes.md"]));
    let changes = run.json("changes.json");
    assert_eq!(changed_paths(&changes), vec!["tests/hello.txt", "tests/notes.md"]);
    assert!(changes["changes"].as_array().unwrap().iter().all(|c| c["status"] == "added" && c["in_scope"] == true));
    let branch = policy["branch"].as_str().expect("an offered run keeps its branch");
    assert_eq!(git(&fx.repo, &["show", &format!("{branch}:tests/hello.txt")]), "hello from exec_command\n");
    assert_eq!(git(&fx.repo, &["show", &format!("{branch}:tests/notes.md")]), "# Notes\nwritten by apply_patch\n");
    assert_eq!(run.json("result.json"), final_result());

    assert_eq!(
        run.event_types(),
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
    let record = run.json("run.json");
    assert_eq!(record["agent_version"], "codex-cli 0.171.0");
    let run_dir = run.run_dir();
    let prompt = run.text("prompt.md");
    let expected_argv = json!([
        bin.display().to_string(),
        "exec",
        "--json",
        "--dangerously-bypass-approvals-and-sandbox",
        "-C",
        record["worktree"],
        "--output-schema",
        run_dir.join("result.schema.json").display().to_string(),
        "-o",
        run_dir.join("result.json").display().to_string(),
        prompt,
    ]);
    assert_eq!(record["agent_argv"], expected_argv);
    assert_eq!(record["token_usage"]["input_tokens"], 300, "three responses of 100 input tokens");
    assert_eq!(record["stage"], "done");
    assert_eq!(server.model_requests().len(), 3);
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before), "the checkout is untouched");
    let left = support::procs::wait_none_working_below(&fx.root, std::time::Duration::from_secs(3));
    assert_eq!(left, vec![], "no agent process is left");
}

#[test]
fn http_500_is_a_failed_run_with_the_error_recorded() {
    let Some(bin) = real_cli::find(Cli::Codex) else {
        return;
    };
    let fx = fixture("python-project");
    let server = ModelServer::openai(vec![Turn::Http500]);
    let run = run_codex(&bin, &fx, &server.url(), &[]);
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    let policy = run.json("policy.json");
    assert_eq!(policy["offered"], false);
    assert_eq!(policy["codex_exit_code"], 1);
    assert_eq!(policy["watchdog_killed"], false);
    let message = "We\u{2019}re currently experiencing high demand, which may cause temporary errors.";
    let messages = messages(&policy);
    assert!(messages.contains(&"FAILED: the agent exited non-zero: 1".to_owned()), "{messages:#?}");
    assert!(messages.contains(&format!("Agent error: {message}")), "{messages:#?}");
    assert_eq!(run.event_types(), vec!["thread.started", "turn.started", "error", "turn.failed"]);
    let result = run.json("result.json");
    assert_eq!(result["result"], "blocked");
    assert_eq!(result["summary"], format!("the agent gave no result: {message}"));
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "");
}

#[test]
fn a_final_answer_that_is_not_json_is_blocked_and_the_text_kept() {
    let Some(bin) = real_cli::find(Cli::Codex) else {
        return;
    };
    let fx = fixture("python-project");
    let server = ModelServer::openai(vec![Turn::final_text("All done, no JSON here.")]);
    let run = run_codex(&bin, &fx, &server.url(), &[]);
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    let policy = run.json("policy.json");
    assert_eq!(policy["codex_exit_code"], 0);
    assert_eq!(policy["structured_result_ok"], false);
    assert_eq!(policy["offered"], false);
    let reason = "the agent's result is not JSON (expected value at line 1 column 1)";
    assert!(messages(&policy).contains(&format!("FAILED: no usable structured result: {reason}")));
    let result = run.json("result.json");
    assert_eq!(result["result"], "blocked");
    assert_eq!(result["summary"], reason);
    assert_eq!(run.text("result.raw.txt"), "All done, no JSON here.");
}

#[test]
fn an_unreachable_server_is_ended_by_the_heartbeat_watchdog() {
    let Some(bin) = real_cli::find(Cli::Codex) else {
        return;
    };
    let fx = fixture("python-project");
    let url = format!("http://127.0.0.1:{}/v1", model_server::unused_port());
    let run = run_codex(&bin, &fx, &url, &["--heartbeat-sec", "3", "--timeout-sec", "20"]);
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    assert!(run.elapsed.as_secs() < 15, "ended by the heartbeat, not the timeout: {:?}", run.elapsed);
    let policy = run.json("policy.json");
    assert_eq!(policy["watchdog_killed"], true, "{policy:#}");
    assert_eq!(policy["watchdog_reason"], "heartbeat stall (3s without stdout)");
    assert_eq!(policy["interrupted"], false);
    assert!(messages(&policy).contains(
        &"FAILED: heartbeat stall: the watchdog stopped the agent (heartbeat stall (3s without stdout)); nothing is offered.".to_owned()
    ));
    assert_eq!(&run.event_types()[..2], ["thread.started", "turn.started"]);
    let result = run.json("result.json");
    assert_eq!(result["result"], "blocked");
    assert_eq!(result["summary"], "the agent was stopped before it gave a result: heartbeat stall (3s without stdout)");
    let left = support::procs::wait_none_working_below(&fx.root, std::time::Duration::from_secs(3));
    assert_eq!(left, vec![], "no agent process is left");
}
