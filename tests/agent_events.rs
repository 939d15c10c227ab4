//! Decoding the real CLIs' captured event streams (tests/data/agents/, copied from
//! ../shared/agents/captured/) into typed events: every line of every file gets the variant it
//! should, and the fields the runner relies on hold the values the CLIs printed.

use git_dispatch::agent::events::{
    parse_line, parse_stream, AgentEvent, ClaudeEvent, CodexEvent, CodexItemDetails, ContentBlock,
};
use git_dispatch::agent::AgentKind;
use serde_json::json;

fn data(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/agents").join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A short name for an event's variant, e.g. `item.completed/reasoning` or `system/init`.
fn shape(event: &AgentEvent) -> String {
    match event {
        AgentEvent::Codex(event) => match event {
            CodexEvent::ThreadStarted { .. } => "thread.started".into(),
            CodexEvent::TurnStarted => "turn.started".into(),
            CodexEvent::ItemStarted { item } => {
                format!("item.started/{}", item_kind(&item.details))
            }
            CodexEvent::ItemUpdated { item } => {
                format!("item.updated/{}", item_kind(&item.details))
            }
            CodexEvent::ItemCompleted { item } => {
                format!("item.completed/{}", item_kind(&item.details))
            }
            CodexEvent::TurnCompleted { .. } => "turn.completed".into(),
            CodexEvent::TurnFailed { .. } => "turn.failed".into(),
            CodexEvent::Error { .. } => "error".into(),
            CodexEvent::Other(_) => "OTHER".into(),
        },
        AgentEvent::Claude(event) => match event {
            ClaudeEvent::System { subtype, .. } => {
                format!("system/{}", subtype.as_deref().unwrap_or("-"))
            }
            ClaudeEvent::Assistant { .. } => "assistant".into(),
            ClaudeEvent::User { .. } => "user".into(),
            ClaudeEvent::Result(_) => "result".into(),
            ClaudeEvent::StreamEvent { .. } => "stream_event".into(),
            ClaudeEvent::Other(_) => "OTHER".into(),
        },
        AgentEvent::Raw(_) => "RAW".into(),
    }
}

fn item_kind(details: &CodexItemDetails) -> &'static str {
    match details {
        CodexItemDetails::CommandExecution { .. } => "command_execution",
        CodexItemDetails::FileChange { .. } => "file_change",
        CodexItemDetails::AgentMessage { .. } => "agent_message",
        CodexItemDetails::Reasoning { .. } => "reasoning",
        CodexItemDetails::Error { .. } => "error",
        CodexItemDetails::Other(_) => "OTHER",
    }
}

fn shapes(kind: AgentKind, file: &str) -> Vec<String> {
    parse_stream(kind, &data(file)).iter().map(shape).collect()
}

const CODEX_SUCCESS: [&str; 9] = [
    "thread.started",
    "turn.started",
    "item.completed/reasoning",
    "item.started/command_execution",
    "item.completed/command_execution",
    "item.started/file_change",
    "item.completed/file_change",
    "item.completed/agent_message",
    "turn.completed",
];

#[test]
fn codex_streams_decode_into_known_events() {
    assert_eq!(shapes(AgentKind::Codex, "codex-events.jsonl"), CODEX_SUCCESS);
    assert_eq!(shapes(AgentKind::Codex, "codex-events-schema.jsonl"), CODEX_SUCCESS);
    let failed = ["thread.started", "turn.started", "error", "turn.failed"];
    assert_eq!(shapes(AgentKind::Codex, "codex-events-failed.jsonl"), failed);
    assert_eq!(shapes(AgentKind::Codex, "codex-events-http500.jsonl"), failed);
}

#[test]
fn codex_fields_hold_the_printed_values() {
    let events = parse_stream(AgentKind::Codex, &data("codex-events-schema.jsonl"));
    let AgentEvent::Codex(CodexEvent::TurnCompleted { usage }) = &events[8] else {
        panic!("not turn.completed: {:?}", events[8]);
    };
    assert_eq!((usage.input_tokens, usage.cached_input_tokens, usage.output_tokens), (300, 30, 60));
    assert_eq!(usage.reasoning_output_tokens, 15);
    let AgentEvent::Codex(CodexEvent::ItemCompleted { item }) = &events[4] else {
        panic!("not item.completed: {:?}", events[4]);
    };
    assert_eq!(item.id, "item_1");
    assert_eq!(
        item.details,
        CodexItemDetails::CommandExecution {
            command: "/bin/bash -lc \"printf 'hello from exec_command\\\\n' > hello.txt && cat hello.txt\"".into(),
            aggregated_output: "hello from exec_command\n".into(),
            exit_code: Some(0),
            status: Some("completed".into()),
        }
    );
    let AgentEvent::Codex(CodexEvent::ItemCompleted { item }) = &events[6] else {
        panic!("not item.completed: {:?}", events[6]);
    };
    let CodexItemDetails::FileChange { changes, .. } = &item.details else {
        panic!("not a file change: {item:?}");
    };
    let paths: Vec<(&str, &str)> = changes.iter().map(|change| (change.path.as_str(), change.kind.as_str())).collect();
    assert_eq!(
        paths,
        [("/home/dev/project.dispatch/wt/hello.txt", "update"), ("/home/dev/project.dispatch/wt/notes.md", "add")]
    );
    let failed = parse_stream(AgentKind::Codex, &data("codex-events-failed.jsonl"));
    let AgentEvent::Codex(CodexEvent::TurnFailed { error }) = &failed[3] else {
        panic!("not turn.failed: {:?}", failed[3]);
    };
    assert_eq!(error.message, "stream disconnected before completion: mock model failure");
}

#[test]
fn claude_streams_decode_into_known_events() {
    let plain = ["system/init", "assistant", "assistant", "user", "assistant", "user", "assistant", "result"];
    assert_eq!(shapes(AgentKind::Claude, "claude-stream.jsonl"), plain);
    let schema = ["system/init", "assistant", "assistant", "user", "assistant", "user", "assistant", "user", "result"];
    assert_eq!(shapes(AgentKind::Claude, "claude-stream-schema.jsonl"), schema);
    assert_eq!(shapes(AgentKind::Claude, "claude-stream-http400.jsonl"), ["system/init", "assistant", "result"]);
    assert_eq!(
        shapes(AgentKind::Claude, "claude-stream-http500.jsonl"),
        ["system/init", "system/api_retry", "assistant", "result"]
    );
    let partial = shapes(AgentKind::Claude, "claude-stream-partial-messages.jsonl");
    assert_eq!(partial.len(), 32);
    assert_eq!(partial.iter().filter(|shape| *shape == "stream_event").count(), 21);
    assert_eq!(partial.iter().filter(|shape| *shape == "assistant").count(), 4);
    assert!(partial.iter().all(|shape| shape != "OTHER" && shape != "RAW"));
    assert_eq!(partial.last().map(String::as_str), Some("result"));
}

fn last_result(file: &str) -> git_dispatch::agent::events::ClaudeResult {
    let events = parse_stream(AgentKind::Claude, &data(file));
    match events.last() {
        Some(AgentEvent::Claude(ClaudeEvent::Result(result))) => (**result).clone(),
        other => panic!("{file} does not end with a result: {other:?}"),
    }
}

#[test]
fn claude_results_hold_the_printed_values() {
    let schema = last_result("claude-stream-schema.jsonl");
    assert_eq!(schema.is_error, Some(false));
    assert_eq!(
        schema.structured_output,
        Some(json!({"status": "done", "summary": "created hello.txt and notes.md",
                    "files_changed": ["hello.txt", "notes.md"]}))
    );
    assert_eq!((schema.usage.input_tokens, schema.usage.output_tokens), (300, 60));
    assert_eq!(schema.num_turns, Some(4));

    let plain = last_result("claude-stream.jsonl");
    assert_eq!(plain.structured_output, None);
    assert_eq!(plain.result.as_deref(), Some("All done: created hello.txt and notes.md."));

    let failed = last_result("claude-stream-http500.jsonl");
    assert_eq!(failed.is_error, Some(true));
    assert_eq!(failed.api_error_status, Some(500));
    assert_eq!(failed.terminal_reason.as_deref(), Some("api_error"));
    assert!(failed.result.as_deref().is_some_and(|text| text.starts_with("API Error: 500 mock internal error.")));

    let standalone = parse_line(AgentKind::Claude, data("claude-result.json").trim_ascii());
    assert_eq!(shape(&standalone), "result");
}

#[test]
fn claude_tool_use_blocks_are_typed() {
    let events = parse_stream(AgentKind::Claude, &data("claude-stream.jsonl"));
    let AgentEvent::Claude(ClaudeEvent::Assistant { message, error }) = &events[2] else {
        panic!("not assistant: {:?}", events[2]);
    };
    assert_eq!(error, &None);
    assert_eq!(message.id.as_deref(), Some("msg_0003"));
    assert_eq!(
        message.content,
        [ContentBlock::ToolUse {
            id: "toolu_0002".into(),
            name: "Bash".into(),
            input: json!({"command": "printf 'hello from Bash\\n' > hello.txt && cat hello.txt",
                          "description": "Create hello.txt"}),
        }]
    );
}

#[test]
fn unknown_events_and_non_json_lines_are_kept() {
    let unknown = parse_line(AgentKind::Codex, br#"{"type":"turn.paused","why":"x"}"#);
    assert_eq!(unknown, AgentEvent::Codex(CodexEvent::Other(json!({"type": "turn.paused", "why": "x"}))));
    let odd_item = parse_line(
        AgentKind::Codex,
        br#"{"type":"item.completed","item":{"id":"i9","type":"web_search","query":"q"}}"#,
    );
    assert_eq!(shape(&odd_item), "item.completed/OTHER");
    let unknown_claude = parse_line(AgentKind::Claude, br#"{"type":"rate_limit_event"}"#);
    assert_eq!(shape(&unknown_claude), "OTHER");
    assert_eq!(
        parse_line(AgentKind::Claude, b"Reading additional input from stdin..."),
        AgentEvent::Raw("Reading additional input from stdin...".into())
    );
    assert_eq!(shape(&parse_line(AgentKind::Codex, b"[1,2]")), "OTHER");
    assert_eq!(shape(&parse_line(AgentKind::Codex, b"\xff\xfe")), "RAW");
}
