//! End to end with the real Claude Code CLI (2.1.332): `git dispatch run --task P --agent claude` in
//! the python-project fixture, claude talking to the scripted Anthropic Messages server on
//! 127.0.0.1. A worker turn that is offered, HTTP 500, a final answer that is not JSON, and an
//! unreachable server (claude gives up by itself, before the watchdog). Skipped with a message when claude is not
//! installed, a failure under `CI=true`.

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
use support::fixtures::{fixture, Fixture};
use support::git::{git, tree_fingerprint};

fn final_result() -> Value {
    json!({
        "result": "done", "summary": "added tests/hello.txt and tests/notes.md",
        "changed_files": ["tests/hello.txt", "tests/notes.md"], "verification_run": [], "evidence": [],
        "findings": [], "risks": [], "next": "",
    })
}

/// Dispatches the worker packet with claude against `base_url`; `extra` flags are appended.
fn run_claude(bin: &std::path::Path, fx: &Fixture, base_url: &str, extra: &[&str]) -> Dispatched {
    let state = real_dispatch::agent_state_dir();
    let packet = worker_packet(fx);
    dispatch(fx, Cli::Claude, bin, base_url, state.path(), &packet, extra)
}

#[test]
fn a_worker_turn_with_bash_and_write_is_offered() {
    let Some(bin) = real_cli::find(Cli::Claude) else {
        return;
    };
    let fx = fixture("python-project");
    let before = tree_fingerprint(&fx.repo);
    let server = ModelServer::anthropic(vec![
        Turn::shell("printf 'hello from Bash\\n' > tests/hello.txt && cat tests/hello.txt"),
        Turn::write("tests/notes.md", "# Notes\nwritten by the Write tool\n"),
        Turn::final_json(&final_result()),
    ]);
    let run = run_claude(&bin, &fx, &server.url(), &[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());

    let policy = run.json("policy.json");
    assert_eq!(policy["offered"], true, "{policy:#}");
    assert_eq!(policy["policy_violation"], false);
    assert_eq!(policy["agent"], "claude");
    assert_eq!(policy["agent_exit_code"], 0);
    assert_eq!(policy["changed_paths"], json!(["tests/hello.txt", "tests/notes.md"]));
    let changes = run.json("changes.json");
    assert_eq!(changed_paths(&changes), vec!["tests/hello.txt", "tests/notes.md"]);
    assert!(changes["changes"].as_array().unwrap().iter().all(|c| c["status"] == "added" && c["in_scope"] == true));
    let branch = policy["branch"].as_str().expect("an offered run keeps its branch");
    assert_eq!(git(&fx.repo, &["show", &format!("{branch}:tests/hello.txt")]), "hello from Bash\n");
    assert_eq!(git(&fx.repo, &["show", &format!("{branch}:tests/notes.md")]), "# Notes\nwritten by the Write tool\n");
    assert_eq!(run.json("result.json"), final_result());

    assert_eq!(
        run.event_types(),
        vec!["system", "assistant", "user", "assistant", "user", "assistant", "user", "result"]
    );
    let record = run.json("run.json");
    assert_eq!(record["agent_version"], "2.1.332 (Claude Code)");
    let argv = record["agent_argv"].as_array().expect("argv is a list");
    assert_eq!(argv[0], bin.display().to_string());
    assert_eq!(argv[1], "-p");
    assert_eq!(argv[2], run.text("prompt.md"));
    assert_eq!(
        argv[3..7],
        [json!("--output-format"), json!("stream-json"), json!("--verbose"), json!("--dangerously-skip-permissions")]
    );
    assert_eq!(argv[7], "--json-schema");
    let schema: Value = serde_json::from_str(argv[8].as_str().expect("the schema is text")).expect("JSON schema");
    let mut expected_schema = run.json("result.schema.json");
    expected_schema.as_object_mut().expect("an object").remove("$schema");
    assert_eq!(schema, expected_schema, "the schema without `$schema` (claude knows only draft-07)");
    assert_eq!(record["token_usage"]["input_tokens"], 300, "three responses of 100 input tokens: {record:#}");
    assert_eq!(record["token_usage"]["output_tokens"], 60, "three responses of 20 output tokens");
    assert_eq!(record["stage"], "done");
    assert_eq!(server.model_requests().len(), 3);
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before), "the checkout is untouched");
    let left = support::procs::wait_none_working_below(&fx.root, std::time::Duration::from_secs(3));
    assert_eq!(left, vec![], "no agent process is left");
}

#[test]
fn http_500_is_a_failed_run_with_the_error_recorded() {
    let Some(bin) = real_cli::find(Cli::Claude) else {
        return;
    };
    let fx = fixture("python-project");
    let server = ModelServer::anthropic(vec![Turn::Http500]);
    let run = run_claude(&bin, &fx, &server.url(), &[]);
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    let policy = run.json("policy.json");
    assert_eq!(policy["offered"], false);
    assert_eq!(policy["agent_exit_code"], 1);
    assert_eq!(policy["watchdog_killed"], false);
    let messages = messages(&policy);
    assert!(messages.contains(&"FAILED: the agent exited non-zero: 1".to_owned()), "{messages:#?}");
    assert!(
        messages.iter().any(|m| m.starts_with("Agent error: API Error: 500 mock internal error.")),
        "{messages:#?}"
    );
    assert_eq!(run.event_types(), vec!["system", "assistant", "result"]);
    let result = run.json("result.json");
    assert_eq!(result["result"], "blocked");
    let summary = result["summary"].as_str().expect("summary");
    assert!(summary.starts_with("the agent reported an error: API Error: 500 mock internal error."), "{summary}");
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "");
}

#[test]
fn a_final_answer_that_is_not_json_is_blocked_and_the_text_kept() {
    let Some(bin) = real_cli::find(Cli::Claude) else {
        return;
    };
    let fx = fixture("python-project");
    let server = ModelServer::anthropic(vec![Turn::final_text("All done, no JSON here.")]);
    let run = run_claude(&bin, &fx, &server.url(), &[]);
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    let policy = run.json("policy.json");
    assert_eq!(policy["agent_exit_code"], 0);
    assert_eq!(policy["structured_result_ok"], false);
    assert_eq!(policy["offered"], false);
    let reason = "the agent gave no structured result (structured_output is null)";
    assert!(messages(&policy).contains(&format!("FAILED: no usable structured result: {reason}")));
    let result = run.json("result.json");
    assert_eq!(result["result"], "blocked");
    assert_eq!(result["summary"], reason);
    assert_eq!(run.text("result.raw.txt"), "All done, no JSON here.");
}

#[test]
fn an_unreachable_server_ends_claude_by_itself() {
    let Some(bin) = real_cli::find(Cli::Claude) else {
        return;
    };
    let fx = fixture("python-project");
    let url = format!("http://127.0.0.1:{}", model_server::unused_port());
    // Claude Code (node) can take more than 3 s to print its first line on a busy machine: a
    // 3 s heartbeat would kill it before it had a chance to give up.
    let run = run_claude(&bin, &fx, &url, &["--heartbeat-sec", "15", "--timeout-sec", "20"]);
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    assert!(run.elapsed.as_secs() < 15, "{:?}", run.elapsed);
    let policy = run.json("policy.json");
    assert_eq!(policy["watchdog_killed"], false, "{policy:#}");
    assert_eq!(policy["agent_exit_code"], 1);
    assert!(messages(&policy).contains(&"FAILED: the agent exited non-zero: 1".to_owned()));
    assert_eq!(run.event_types().last().map(String::as_str), Some("result"));
    let result = run.json("result.json");
    assert_eq!(result["result"], "blocked");
    let summary = result["summary"].as_str().expect("summary");
    assert!(summary.starts_with("the agent reported an error: "), "{summary}");
    let left = support::procs::wait_none_working_below(&fx.root, std::time::Duration::from_secs(3));
    assert_eq!(left, vec![], "no agent process is left");
}
