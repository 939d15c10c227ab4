//! The runner with fake Claude Code agents (`sh` scripts printing captured stream-json): the
//! exact command line, the result taken from the last `result` event, `is_error`, a null
//! structured output, a missing result event, and the refusal to run as root.

mod agent_support;

use agent_support::{data, Fixture};
use git_dispatch::agent::{self, AgentKind, StructuredResult};
use pretty_assertions::assert_eq;
use serde_json::json;

fn blocked_reason(result: &StructuredResult) -> &str {
    match result {
        StructuredResult::Blocked { reason } => reason,
        StructuredResult::Valid(value) => panic!("unexpectedly valid: {value}"),
    }
}

fn claude(fixture: &Fixture, stream: &str, code: i32) -> std::path::PathBuf {
    fixture.agent("claude", "2.1.332 (Claude Code)", &format!("cat \"$DATA/{stream}\"\nexit {code}"))
}

#[test]
fn the_structured_output_of_the_result_event_is_the_result() {
    let fixture = Fixture::new();
    let program = claude(&fixture, "claude-stream-schema.jsonl", 0);
    let report = agent::run(&fixture.request(AgentKind::Claude, &program)).expect("run");

    let schema: serde_json::Value = serde_json::from_str(agent_support::SCHEMA).expect("schema is JSON");
    assert_eq!(
        fixture.recorded_argv(),
        [
            "-p",
            "Do the task.\nReturn JSON.",
            "--output-format",
            "stream-json",
            "--verbose",
            "--dangerously-skip-permissions",
            "--json-schema",
            &schema.to_string(),
            "--no-session-persistence",
        ]
    );
    assert_eq!(report.version.as_deref(), Some("2.1.332 (Claude Code)"));
    let expected = json!({"status": "done", "summary": "created hello.txt and notes.md",
                          "files_changed": ["hello.txt", "notes.md"]});
    assert_eq!(report.result, StructuredResult::Valid(expected.clone()));
    assert_eq!(fixture.result_json(), expected);
    assert_eq!((report.usage.input_tokens, report.usage.output_tokens), (300, 60));
    assert_eq!(report.commands, ["printf 'hello from Bash\\n' > hello.txt && cat hello.txt"]);
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(fixture.read_run_file("events.jsonl"), data("claude-stream-schema.jsonl"));
}

#[test]
fn a_null_structured_output_is_blocked_and_the_text_kept() {
    let fixture = Fixture::new();
    let program = claude(&fixture, "claude-stream.jsonl", 0);
    let report = agent::run(&fixture.request(AgentKind::Claude, &program)).expect("run");
    assert_eq!(report.exit_code, Some(0));
    assert_eq!(blocked_reason(&report.result), "the agent gave no structured result (structured_output is null)");
    assert_eq!(fixture.read_run_file("result.raw.txt"), "All done: created hello.txt and notes.md.");
    assert_eq!(fixture.result_json()["result"], "blocked");
}

#[test]
fn is_error_is_a_failed_result() {
    let fixture = Fixture::new();
    let program = claude(&fixture, "claude-stream-http400.jsonl", 1);
    let report = agent::run(&fixture.request(AgentKind::Claude, &program)).expect("run");
    assert_eq!(report.exit_code, Some(1));
    assert_eq!(blocked_reason(&report.result), "the agent reported an error: API Error: 400 mock bad request");
    assert_eq!(report.errors, ["API Error: 400 mock bad request"]);
    assert_eq!(report.usage.total(), 0);
}

#[test]
fn a_stream_without_a_result_event_is_blocked() {
    let fixture = Fixture::new();
    let program = fixture.agent("claude", "2.1.332 (Claude Code)", "head -n 1 \"$DATA/claude-stream.jsonl\"");
    let report = agent::run(&fixture.request(AgentKind::Claude, &program)).expect("run");
    assert_eq!(report.exit_code, Some(0));
    assert_eq!(blocked_reason(&report.result), "the agent gave no result");
}

#[test]
fn the_refusal_to_skip_permissions_as_root_is_explained() {
    let fixture = Fixture::new();
    let seen = fixture.dir.path().join("is_sandbox");
    let program = fixture.agent(
        "claude",
        "2.1.332 (Claude Code)",
        &format!(
            "echo \"${{IS_SANDBOX-unset}}\" > '{}'\n\
             echo '--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons' >&2\n\
             exit 1",
            seen.display()
        ),
    );
    let report = agent::run(&fixture.request(AgentKind::Claude, &program)).expect("run");
    let reason = blocked_reason(&report.result);
    assert!(reason.starts_with("Claude Code refuses --dangerously-skip-permissions when run as root"));
    assert!(reason.contains("set IS_SANDBOX=1 yourself; git-dispatch does not set it"));
    assert_eq!(report.errors, [reason]);
    let inherited = std::env::var("IS_SANDBOX").unwrap_or_else(|_| "unset".into());
    assert_eq!(std::fs::read_to_string(&seen).expect("seen").trim(), inherited);
}

#[test]
fn a_missing_schema_file_is_our_error() {
    let fixture = Fixture::new();
    std::fs::remove_file(fixture.run_dir.join("result.schema.json")).expect("remove schema");
    let program = claude(&fixture, "claude-stream-schema.jsonl", 0);
    let error = agent::run(&fixture.request(AgentKind::Claude, &program)).expect_err("no schema");
    assert!(format!("{error:#}").contains("result.schema.json"), "{error:#}");
}
