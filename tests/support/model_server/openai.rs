//! The OpenAI Responses API as codex uses it: `POST /v1/responses` answered with the event stream
//! `response.created`, `response.output_item.added`, (`response.output_text.delta`),
//! `response.output_item.done`, `response.completed`.

use serde_json::{json, Value};

use super::http::RecordedRequest;
use super::{next_turn, Reply, Turn};

/// The answer to one request.
pub fn reply(script: &[Turn], request: &RecordedRequest) -> Reply {
    if request.method != "POST" || request.route() != "/v1/responses" {
        return Reply::Json(404, json!({"error": {"message": "not found", "type": "invalid_request_error"}}));
    }
    let body = request.json();
    if tools(&body).is_empty() {
        return Reply::Stream(response_events(0, &[message_item("ok")]));
    }
    let turn = next_turn(&output_call_ids(&body));
    match script.get(turn) {
        None => Reply::Stream(response_events(turn, &[message_item("(script exhausted)")])),
        Some(Turn::Http500) => {
            Reply::Json(500, json!({"error": {"message": "mock internal error", "type": "server_error"}}))
        }
        Some(Turn::Hang) => Reply::Hang,
        Some(Turn::Shell(command)) => Reply::Stream(response_events(turn, &[exec_command(turn, command)])),
        Some(Turn::WriteFiles(files)) => Reply::Stream(response_events(turn, &[apply_patch(turn, &body, files)])),
        Some(Turn::Final(text)) => Reply::Stream(response_events(turn, &[message_item(text)])),
        Some(Turn::Bash { command, .. }) => Reply::Stream(response_events(turn, &[exec_command(turn, command)])),
        Some(Turn::Program(_) | Turn::Tool { .. }) => Reply::Stream(response_events(
            turn,
            &[message_item("(programs and named tools are for the claude server)")],
        )),
    }
}

fn tools(body: &Value) -> Vec<Value> {
    body["tools"].as_array().cloned().unwrap_or_default()
}

/// The `call_id`s of the tool outputs in the request's `input` history.
fn output_call_ids(body: &Value) -> Vec<String> {
    let items = body["input"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter(|item| matches!(item["type"].as_str(), Some("function_call_output" | "custom_tool_call_output")))
        .map(|item| item["call_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn exec_command(turn: usize, command: &str) -> Value {
    json!({
        "type": "function_call", "id": format!("fc_t{turn}_0"), "call_id": format!("call_t{turn}_0"),
        "name": "exec_command", "arguments": json!({"cmd": command}).to_string(), "status": "completed",
    })
}

/// The patch that adds each file; the item is a custom `apply_patch` call when codex offers that
/// tool as custom, a function call when it offers a function, else an `exec_command` heredoc.
fn apply_patch(turn: usize, body: &Value, files: &[(String, String)]) -> Value {
    let mut patch = String::from("*** Begin Patch\n");
    for (path, content) in files {
        patch.push_str(&format!("*** Add File: {path}\n"));
        for line in content.lines() {
            patch.push_str(&format!("+{line}\n"));
        }
    }
    patch.push_str("*** End Patch\n");
    let call_id = format!("call_t{turn}_0");
    let offered = tools(body).into_iter().find(|tool| tool["name"] == "apply_patch");
    match offered.as_ref().and_then(|tool| tool["type"].as_str()) {
        Some("custom") => json!({
            "type": "custom_tool_call", "id": format!("ctc_t{turn}_0"), "call_id": call_id,
            "name": "apply_patch", "input": patch, "status": "completed",
        }),
        Some("function") => json!({
            "type": "function_call", "id": format!("fc_t{turn}_0"), "call_id": call_id,
            "name": "apply_patch", "arguments": json!({"input": patch}).to_string(), "status": "completed",
        }),
        _ => exec_command(turn, &format!("apply_patch <<'EOF'\n{patch}EOF\n")),
    }
}

fn message_item(text: &str) -> Value {
    json!({
        "type": "message", "id": "msg_mock", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

/// The whole event stream of one response carrying `items`.
fn response_events(turn: usize, items: &[Value]) -> Vec<(String, Value)> {
    let id = format!("resp_t{turn}");
    let mut events = vec![event("response.created", json!({"response": {"id": id}}))];
    for (index, item) in items.iter().enumerate() {
        events.push(event("response.output_item.added", json!({"output_index": index, "item": item})));
        if item["type"] == "message" {
            let delta = json!({"output_index": index, "content_index": 0, "item_id": item["id"],
                               "delta": item["content"][0]["text"]});
            events.push(event("response.output_text.delta", delta));
        }
        events.push(event("response.output_item.done", json!({"output_index": index, "item": item})));
    }
    let usage = json!({
        "input_tokens": 100, "input_tokens_details": {"cached_tokens": 10},
        "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 5}, "total_tokens": 120,
    });
    events.push(event("response.completed", json!({"response": {"id": id, "usage": usage}})));
    events
}

/// An SSE event whose data also carries its `type`.
fn event(kind: &str, mut data: Value) -> (String, Value) {
    data["type"] = json!(kind);
    (kind.to_owned(), data)
}
