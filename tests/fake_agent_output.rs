//! The fake agent's raw output steps: `emit`, `message`, `stdout` (up to a 100 MB single line) and
//! `stderr`.

#[path = "support/fake_agent.rs"]
mod fake_agent;
#[path = "support/scratch_repo.rs"]
mod scratch_repo;

use pretty_assertions::assert_eq;
use serde_json::json;

use fake_agent::{run_claude, run_codex};
use scratch_repo::ScratchRepo;

#[test]
fn emit_writes_raw_lines_and_message_writes_an_assistant_message() {
    let repo = ScratchRepo::new();
    let steps = json!([
        {"step": "emit", "line": "{\"type\":\"made.up\",\"n\":1}"},
        {"step": "emit", "json": {"type": "item.completed", "item": {"type": "mystery"}}},
        {"step": "message", "text": "thinking out loud"},
        {"step": "no_result"},
    ]);
    let codex = run_codex(&repo, &steps);
    let lines: Vec<String> = String::from_utf8(codex.stdout.clone()).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(lines[2], "{\"type\":\"made.up\",\"n\":1}");
    assert_eq!(lines[3], r#"{"item":{"type":"mystery"},"type":"item.completed"}"#);
    let message = &codex.events()[4];
    assert_eq!(message["item"]["type"], "agent_message");
    assert_eq!(message["item"]["text"], "thinking out loud");

    let claude = run_claude(&repo, &steps);
    let message = &claude.events()[3];
    assert_eq!(message["type"], "assistant");
    assert_eq!(message["message"]["content"], json!([{"type": "text", "text": "thinking out loud"}]));
}

#[test]
fn stdout_can_write_a_100_mb_single_line_and_bytes_that_are_not_utf8() {
    let repo = ScratchRepo::new();
    let run = run_codex(
        &repo,
        &json!([
            {"step": "stdout", "bytes": "x", "count": 100_000_000},
            {"step": "stdout", "base64": "gP8K"},
            {"step": "no_result"},
        ]),
    );
    assert_eq!(run.code(), Some(0));
    let start = run.stdout.iter().position(|&b| b == b'x').expect("the long line");
    let long = &run.stdout[start..start + 100_000_000];
    assert!(long.iter().all(|&b| b == b'x'));
    assert_eq!(&run.stdout[start + 100_000_000..start + 100_000_003], b"\x80\xff\n");
    assert!(!run.stdout[..start].contains(&b'x'), "nothing else wrote an x before");
}

#[test]
fn stderr_writes_raw_text_repeated() {
    let repo = ScratchRepo::new();
    let run = run_claude(&repo, &json!([{"step": "stderr", "text": "warn\n", "count": 3}]));
    assert_eq!(run.code(), Some(0));
    assert_eq!(run.stderr, "warn\nwarn\nwarn\n");
}
