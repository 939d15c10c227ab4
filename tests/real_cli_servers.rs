//! The scripted model servers on their own, driven by a raw HTTP client (no agent CLI needed):
//! turn choice from tool-output ids, side requests, the non-streaming fallback, chunked bodies,
//! HTTP 500, hanging turns, 404s, and that dropping a server stops it.

#[path = "support/model_server.rs"]
mod model_server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use model_server::{ModelServer, Turn};

/// Sends one request and reads the whole response (the server closes the connection).
fn send(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// The `data:` payloads of an event stream.
fn sse_data(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

fn openai_request(outputs: &[&str]) -> String {
    let mut input = vec![json!({"type": "message", "role": "user", "content": []})];
    for call_id in outputs {
        input.push(json!({"type": "function_call_output", "call_id": call_id, "output": "ok"}));
    }
    let tools = json!([{"type": "function", "name": "exec_command"}, {"type": "custom", "name": "apply_patch"}]);
    json!({"model": "gpt-5.5", "stream": true, "input": input, "tools": tools}).to_string()
}

#[test]
fn openai_picks_the_turn_after_the_highest_tool_output_id() {
    let server =
        ModelServer::openai(vec![Turn::shell("echo one"), Turn::write("a.txt", "A\nB\n"), Turn::final_text("done")]);
    let (status, body) = send(server.port(), "POST", "/v1/responses", &openai_request(&[]));
    assert_eq!(status, 200);
    let events = sse_data(&body);
    let types: Vec<&str> = events.iter().map(|event| event["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        vec!["response.created", "response.output_item.added", "response.output_item.done", "response.completed"]
    );
    assert_eq!(events[2]["item"]["name"], "exec_command");
    assert_eq!(events[2]["item"]["call_id"], "call_t0_0");
    assert_eq!(events[2]["item"]["arguments"], r#"{"cmd":"echo one"}"#);

    let (_, body) = send(server.port(), "POST", "/v1/responses", &openai_request(&["call_t0_0"]));
    let patch = &sse_data(&body)[2]["item"];
    assert_eq!(patch["type"], "custom_tool_call");
    assert_eq!(patch["input"], "*** Begin Patch\n*** Add File: a.txt\n+A\n+B\n*** End Patch\n");

    let (_, body) = send(server.port(), "POST", "/v1/responses", &openai_request(&["call_t0_0", "call_t1_0"]));
    let events = sse_data(&body);
    assert_eq!(events[2]["type"], "response.output_text.delta");
    assert_eq!(events[3]["item"]["content"][0]["text"], "done");

    let (_, body) = send(server.port(), "POST", "/v1/responses", &openai_request(&["call_t2_0"]));
    assert_eq!(sse_data(&body)[3]["item"]["content"][0]["text"], "(script exhausted)");
    assert_eq!(server.model_requests().len(), 4);
}

#[test]
fn openai_answers_500_404_and_side_requests() {
    let server = ModelServer::openai(vec![Turn::Http500]);
    let (status, body) = send(server.port(), "POST", "/v1/responses", &openai_request(&[]));
    assert_eq!(status, 500);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["type"], "server_error");
    let side = json!({"model": "m", "stream": true, "input": []}).to_string();
    let (status, body) = send(server.port(), "POST", "/v1/responses", &side);
    assert_eq!(status, 200);
    assert_eq!(sse_data(&body)[3]["item"]["content"][0]["text"], "ok");
    assert_eq!(send(server.port(), "GET", "/v1/models", "").0, 404);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.model_requests().len(), 2);
}

fn anthropic_request(results: &[&str], stream: bool, tools: &[&str]) -> String {
    let mut messages = vec![json!({"role": "user", "content": [
        {"type": "text", "text": "hi"},
    ]})];
    let blocks: Vec<Value> =
        results.iter().map(|id| json!({"type": "tool_result", "tool_use_id": id, "content": "ok"})).collect();
    if !blocks.is_empty() {
        messages.push(json!({"role": "user", "content": blocks}));
    }
    let tools: Vec<Value> = tools.iter().map(|name| json!({"name": name})).collect();
    json!({
        "model": "claude-test", "stream": stream, "messages": messages, "tools": tools,
        "system": [{"type": "text", "text": "Env\n - Primary working directory: /work/wt\n - more"}],
    })
    .to_string()
}

#[test]
fn anthropic_streams_tool_uses_with_absolute_write_paths() {
    let server = ModelServer::anthropic(vec![
        Turn::shell("ls"),
        Turn::WriteFiles(vec![("a.txt".into(), "A".into()), ("b/c.txt".into(), "C".into())]),
        Turn::final_json(&json!({"result": "done"})),
    ]);
    assert_eq!(send(server.port(), "HEAD", "/api/hello", ""), (200, String::new()));
    let tools = ["Bash", "Write", "StructuredOutput"];
    let (status, body) = send(server.port(), "POST", "/v1/messages?beta=true", &anthropic_request(&[], true, &tools));
    assert_eq!(status, 200);
    let events = sse_data(&body);
    let types: Vec<&str> = events.iter().map(|event| event["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        vec![
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(events[0]["message"]["model"], "claude-test");
    assert_eq!(
        events[1]["content_block"],
        json!({"type": "tool_use", "id": "toolu_t0_0", "name": "Bash", "input": {}})
    );
    let partial: Value = serde_json::from_str(events[2]["delta"]["partial_json"].as_str().unwrap()).unwrap();
    assert_eq!(partial, json!({"command": "ls", "description": "scripted step"}));
    assert_eq!(events[4]["delta"]["stop_reason"], "tool_use");

    let request = anthropic_request(&["toolu_t0_0"], true, &tools);
    let (_, body) = send(server.port(), "POST", "/v1/messages?beta=true", &request);
    let starts: Vec<Value> = sse_data(&body)
        .into_iter()
        .filter(|event| event["type"] == "content_block_delta")
        .map(|event| serde_json::from_str(event["delta"]["partial_json"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(
        starts,
        vec![
            json!({"file_path": "/work/wt/a.txt", "content": "A"}),
            json!({"file_path": "/work/wt/b/c.txt", "content": "C"}),
        ]
    );

    let request = anthropic_request(&["toolu_t0_0", "toolu_t1_0", "toolu_t1_1"], true, &tools);
    let (_, body) = send(server.port(), "POST", "/v1/messages?beta=true", &request);
    let events = sse_data(&body);
    assert_eq!(events[1]["content_block"]["name"], "StructuredOutput");
    assert_eq!(events[2]["delta"]["partial_json"], r#"{"result":"done"}"#);
}

#[test]
fn anthropic_non_streaming_fallback_text_finals_and_side_requests() {
    let server = ModelServer::anthropic(vec![Turn::final_text("not json"), Turn::Http500]);
    let (status, body) = send(server.port(), "POST", "/v1/messages", &anthropic_request(&[], false, &["Bash"]));
    assert_eq!(status, 200);
    let message: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["content"], json!([{"type": "text", "text": "not json"}]));
    assert_eq!(message["stop_reason"], "end_turn");

    let (_, body) = send(server.port(), "POST", "/v1/messages", &anthropic_request(&[], false, &[]));
    let side: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(side["content"][0]["text"], "ok");

    let (status, body) =
        send(server.port(), "POST", "/v1/messages", &anthropic_request(&["toolu_t0_0"], true, &["Bash"]));
    assert_eq!(status, 500);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["type"], "api_error");
}

#[test]
fn chunked_request_bodies_are_decoded_and_recorded() {
    let server = ModelServer::openai(vec![Turn::final_text("x")]);
    let body = openai_request(&[]);
    let (first, rest) = body.split_at(10);
    let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let request = format!(
        "POST /v1/responses HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{rest}\r\n0\r\n\r\n",
        first.len(),
        rest.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
    let recorded = &server.requests()[0];
    assert_eq!(recorded.body, body.as_bytes());
    assert_eq!(recorded.header("transfer-encoding"), Some("chunked"));
}

#[test]
fn a_hanging_turn_holds_the_connection_until_the_server_is_dropped() {
    let server = ModelServer::anthropic(vec![Turn::Hang]);
    let port = server.port();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = anthropic_request(&[], true, &["Bash"]);
    let request = format!("POST /v1/messages HTTP/1.1\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buffer = [0u8; 16];
    assert!(stream.read(&mut buffer).is_err(), "no answer while hanging");
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(2), "drop is bounded");
    stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(stream.read(&mut buffer).unwrap(), 0, "connection closed without a response");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens any more");
}
