//! The Anthropic Messages API as Claude Code uses it: `HEAD /api/hello`, then
//! `POST /v1/messages?beta=true` answered with the Messages event stream (`message_start`,
//! `content_block_*`, `message_delta`, `message_stop`), or one JSON Message when `stream` is false.

use serde_json::{json, Value};

use super::http::RecordedRequest;
use super::{next_turn, Reply, ToolOutput, Turn};

const CWD_MARKER: &str = "Primary working directory: ";

/// The answer to one request.
pub fn reply(script: &[Turn], request: &RecordedRequest) -> Reply {
    if request.method == "HEAD" {
        return Reply::Json(200, Value::Null);
    }
    if request.method != "POST" || request.route() != "/v1/messages" {
        return Reply::Json(404, error_body("not_found_error", "not found"));
    }
    let body = request.json();
    let (blocks, stop_reason) = match answer(script, &body) {
        Answer::Blocks(blocks, stop_reason) => (blocks, stop_reason),
        Answer::Http500 => return Reply::Json(500, error_body("api_error", "mock internal error")),
        Answer::Hang => return Reply::Hang,
    };
    let model = body["model"].as_str().unwrap_or("claude-mock").to_owned();
    if body["stream"] == true {
        Reply::Stream(stream_events(&model, &blocks, stop_reason))
    } else {
        Reply::Json(200, message(&model, &blocks, stop_reason))
    }
}

/// What the model does this turn.
enum Answer {
    /// Content blocks and the stop reason (`tool_use` or `end_turn`).
    Blocks(Vec<Value>, &'static str),
    Http500,
    Hang,
}

fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// The next turn's answer.
fn answer(script: &[Turn], body: &Value) -> Answer {
    let tools = tool_names(body);
    if tools.is_empty() {
        return Answer::Blocks(vec![text_block("ok")], "end_turn");
    }
    let turn = next_turn(&tool_result_ids(body));
    let tool_use = |k: usize, name: &str, input: Value| json!({"type": "tool_use", "id": format!("toolu_t{turn}_{k}"), "name": name, "input": input});
    let decided = match script.first() {
        Some(Turn::Program(decide)) => Some(decide(&tool_outputs(body))),
        _ => None,
    };
    match decided.as_ref().or(script.get(turn)) {
        None => Answer::Blocks(vec![text_block("(script exhausted)")], "end_turn"),
        Some(Turn::Http500) => Answer::Http500,
        Some(Turn::Hang) => Answer::Hang,
        Some(Turn::Shell(command)) => {
            let input = json!({"command": command, "description": "scripted step"});
            Answer::Blocks(vec![tool_use(0, "Bash", input)], "tool_use")
        }
        Some(Turn::Bash { command, timeout_ms }) => {
            let input = json!({"command": command, "description": "scripted step", "timeout": timeout_ms});
            Answer::Blocks(vec![tool_use(0, "Bash", input)], "tool_use")
        }
        Some(Turn::Tool { name, input }) => Answer::Blocks(vec![tool_use(0, name, input.clone())], "tool_use"),
        Some(Turn::Program(_)) => Answer::Blocks(vec![text_block("(a program decides only as turn 0)")], "end_turn"),
        Some(Turn::WriteFiles(files)) => {
            let cwd = working_directory(body).unwrap_or_default();
            let blocks = files
                .iter()
                .enumerate()
                .map(|(k, (path, content))| {
                    let file_path = if cwd.is_empty() { path.clone() } else { format!("{cwd}/{path}") };
                    tool_use(k, "Write", json!({"file_path": file_path, "content": content}))
                })
                .collect();
            Answer::Blocks(blocks, "tool_use")
        }
        Some(Turn::Final(text)) => match serde_json::from_str::<Value>(text) {
            Ok(value) if value.is_object() && tools.iter().any(|name| name == "StructuredOutput") => {
                Answer::Blocks(vec![tool_use(0, "StructuredOutput", value)], "tool_use")
            }
            _ => Answer::Blocks(vec![text_block(text)], "end_turn"),
        },
    }
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

fn tool_names(body: &Value) -> Vec<String> {
    let tools = body["tools"].as_array().cloned().unwrap_or_default();
    tools.iter().filter_map(|tool| tool["name"].as_str().map(str::to_owned)).collect()
}

/// The `tool_use_id`s of the `tool_result` blocks in the conversation.
fn tool_result_ids(body: &Value) -> Vec<String> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    messages
        .iter()
        .filter_map(|message| message["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_result")
        .map(|block| block["tool_use_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The `tool_result` blocks of the conversation, in order: their text (a string, or the text
/// blocks of a list) and `is_error`.
pub fn tool_outputs(body: &Value) -> Vec<ToolOutput> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    messages
        .iter()
        .filter_map(|message| message["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_result")
        .map(|block| {
            let text = match &block["content"] {
                Value::String(text) => text.clone(),
                Value::Array(parts) => {
                    parts.iter().filter_map(|part| part["text"].as_str()).collect::<Vec<_>>().join("\n")
                }
                _ => String::new(),
            };
            ToolOutput { text, is_error: block["is_error"] == true }
        })
        .collect()
}

/// The agent's cwd, from "Primary working directory: X" anywhere in the request's strings.
pub fn working_directory(body: &Value) -> Option<String> {
    match body {
        Value::String(text) => {
            let start = text.find(CWD_MARKER)? + CWD_MARKER.len();
            let rest = &text[start..];
            Some(rest.lines().next().unwrap_or_default().trim().to_owned())
        }
        Value::Array(items) => items.iter().find_map(working_directory),
        Value::Object(map) => map.values().find_map(working_directory),
        _ => None,
    }
}

fn usage() -> Value {
    json!({"input_tokens": 100, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 20})
}

/// The non-streaming form: one Message.
fn message(model: &str, blocks: &[Value], stop_reason: &str) -> Value {
    json!({
        "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": blocks,
        "stop_reason": stop_reason, "stop_sequence": null, "usage": usage(),
    })
}

/// The streaming form: tool inputs are sent as one `input_json_delta` each.
fn stream_events(model: &str, blocks: &[Value], stop_reason: &str) -> Vec<(String, Value)> {
    let mut start = message(model, &[], stop_reason);
    start["stop_reason"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    let mut events = vec![event("message_start", json!({"message": start}))];
    for (index, block) in blocks.iter().enumerate() {
        let (opening, delta) = if block["type"] == "tool_use" {
            let mut opening = block.clone();
            opening["input"] = json!({});
            let partial = block["input"].to_string();
            (opening, json!({"type": "input_json_delta", "partial_json": partial}))
        } else {
            (json!({"type": "text", "text": ""}), json!({"type": "text_delta", "text": block["text"]}))
        };
        events.push(event("content_block_start", json!({"index": index, "content_block": opening})));
        events.push(event("content_block_delta", json!({"index": index, "delta": delta})));
        events.push(event("content_block_stop", json!({"index": index})));
    }
    let delta = json!({"delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 20}});
    events.push(event("message_delta", delta));
    events.push(event("message_stop", json!({})));
    events
}

fn event(kind: &str, mut data: Value) -> (String, Value) {
    data["type"] = json!(kind);
    (kind.to_owned(), data)
}
