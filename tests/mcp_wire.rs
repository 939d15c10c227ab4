//! `git dispatch mcp` on the wire, driven line by line: bad input (not JSON, JSON that is no
//! message, an unknown method, an unknown tool, wrong argument types, a 50 MB argument) gets a
//! JSON-RPC error saying what is wrong, and the server goes on answering; a `wait`
//! that times out says `still_running` and sends progress notifications when asked; at EOF the server exits 0 at
//! once, even in the middle of a `wait`, and the detached run it started goes on to its end;
//! `cancel` stops a running run of the repository `mcp -C DIR` names, and `apply` then refuses it.

mod support;

#[path = "support/mcp.rs"]
mod mcp;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use mcp::{result_text, McpClient};
use support::cli::{self, read_json, tests_scope_packet};
use support::fixtures::{fixture, Fixture};
use support::procs;

fn server(fx: &Fixture, plan: &Value) -> Command {
    let mut command = cli::command_with_plan(fx, plan);
    command.arg("mcp");
    command
}

fn quick_plan() -> Value {
    json!([{"step": "write", "path": "tests/test_wire.py", "content": "def test_it():\n    pass\n"}])
}

/// A plan whose agent first waits (at most a minute) for `gate` to exist, so the test decides
/// when the run ends.
fn gated_plan(gate: &Path) -> Value {
    let cmd = format!("for i in $(seq 1200); do [ -e '{}' ] && break; sleep 0.05; done", gate.display());
    json!([
        {"step": "shell", "cmd": cmd},
        {"step": "write", "path": "tests/test_wire.py", "content": "def test_it():\n    pass\n"},
    ])
}

fn dispatched(client: &mut McpClient, packet: &Path) -> (String, PathBuf) {
    let started = client.call_ok("dispatch", json!({"packet_path": packet.display().to_string()}));
    let run_id = started["run_id"].as_str().expect("run_id").to_string();
    (run_id, PathBuf::from(started["run_dir"].as_str().expect("run_dir")))
}

#[test]
fn bad_input_gets_a_json_rpc_error_and_the_server_goes_on() {
    let fx = fixture("python-project");
    let mut client = McpClient::initialized(server(&fx, &quick_plan()));

    client.send_raw(b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    let parse_error = client.recv(mcp::ANSWER_LIMIT).expect("an answer to broken JSON");
    assert_eq!((parse_error["id"].clone(), parse_error["error"]["code"].clone()), (Value::Null, json!(-32700)));

    client.send_raw(br#"{"jsonrpc":"2.0","id":2}"#);
    let invalid = client.answer_to(&json!(2));
    assert_eq!(invalid["error"]["code"], json!(-32600), "{invalid}");

    let unknown_method = client.request("tools/destroy", json!({}));
    assert_eq!(unknown_method["error"]["code"], json!(-32601), "{unknown_method}");

    let unknown_tool = client.call("format_disk", json!({}), None);
    assert_eq!(unknown_tool["error"]["code"], json!(-32602), "{unknown_tool}");
    assert!(unknown_tool["error"]["message"].as_str().unwrap_or_default().contains("tool not found"));

    // Arguments of the wrong type or shape: refused before the tool runs, with a JSON-RPC error
    // ("Invalid params") naming the problem.
    for (tool, arguments, says) in [
        ("dispatch", json!({"packet": 5}), "invalid type: integer `5`, expected a string"),
        ("wait", json!({"run_ids": "one", "timeout_sec": 1}), "invalid type"),
        ("apply", json!({"merge": true}), "missing field `run_id`"),
        ("review", json!({"run_id": ["a"]}), "invalid type"),
        ("list", json!({"limit": "all"}), "invalid type"),
        ("status", json!({"runid": "x"}), "unknown field `runid`"),
    ] {
        let answer = client.call(tool, arguments.clone(), None);
        assert_eq!(answer["error"]["code"], json!(-32602), "{tool} {arguments}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("tool `{tool}`")) && message.contains(says), "{tool} {arguments}: {answer}");
    }

    // 50 MB in one argument: refused with the request's id, without reading it into memory.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{{"name":"dispatch","arguments":{{"packet":"{}"}}}}}}"#,
        "x".repeat(50 * 1024 * 1024)
    );
    client.send_raw(huge.as_bytes());
    let too_big = client.answer_to(&json!("big"));
    assert_eq!(too_big["error"]["code"], json!(-32600), "{}", too_big["error"]);
    assert!(too_big["error"]["message"].as_str().unwrap_or_default().contains("more than the limit"));

    // Still serving, and nothing was dispatched by any of it.
    let tools = client.request("tools/list", json!({}));
    assert_eq!(tools["result"]["tools"].as_array().map(Vec::len), Some(7), "{tools}");
    assert!(cli::run_dirs(&fx.repo).is_empty(), "no run was started");
    client.close_stdin();
    assert_eq!(client.exit_within(Duration::from_secs(10)).and_then(|status| status.code()), Some(0));
}

#[test]
fn a_bounded_wait_says_still_running_with_progress_and_eof_leaves_the_run_going() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let gate = fx.root.join("gate");
    let mut client = McpClient::initialized(server(&fx, &gated_plan(&gate)));
    let (run_id, run_dir) = dispatched(&mut client, &packet);

    let meta = json!({"progressToken": "tok-1"});
    let answer = client.call("wait", json!({"run_ids": [run_id], "timeout_sec": 2.5}), Some(meta));
    let waited = &answer["result"]["structuredContent"];
    assert_eq!((waited["state"].clone(), waited["exit_code"].clone()), (json!("still_running"), json!(4)), "{answer}");
    assert_eq!(waited["runs"][0]["run_id"], json!(run_id));
    let progress: Vec<&Value> =
        client.notifications.iter().filter(|note| note["method"] == "notifications/progress").collect();
    assert!(!progress.is_empty(), "progress notifications while waiting: {:?}", client.notifications);
    assert_eq!(progress[0]["params"]["progressToken"], json!("tok-1"));
    assert_eq!(progress[0]["params"]["total"], json!(2.5));
    assert!(progress[0]["params"]["message"].as_str().unwrap_or_default().contains(&run_id));

    // A long wait in flight, then EOF: the server exits at once and the run goes on.
    client.send(&json!({"jsonrpc": "2.0", "id": "long", "method": "tools/call",
        "params": {"name": "wait", "arguments": {"run_ids": [run_id], "timeout_sec": 50}}}));
    client.close_stdin();
    assert_eq!(client.exit_within(Duration::from_secs(5)).and_then(|status| status.code()), Some(0));
    let supervisor = read_json(&run_dir.join("state.json"))["pid"].as_i64().expect("a supervisor pid") as i32;
    assert!(procs::alive(supervisor), "the detached run outlived the server");
    std::fs::write(&gate, "go").expect("open the gate");

    let mut next = McpClient::initialized(server(&fx, &gated_plan(&gate)));
    let finished = next.call_ok("wait", json!({"run_ids": [run_id], "timeout_sec": 50}));
    assert_eq!((finished["state"].clone(), finished["exit_code"].clone()), (json!("finished"), json!(0)), "{finished}");
    assert_eq!(finished["runs"][0]["offered"], json!(true));
    let status = next.call_ok("status", json!({"run_id": run_id}));
    assert_eq!(status["runs"][0]["state"], json!("finished"));
    let answer = next.call("cancel", json!({"run_ids": [run_id]}), None);
    assert_eq!(answer["result"]["structuredContent"]["runs"][0]["outcome"], json!("already_over"), "{answer}");
    assert!(result_text(&answer).contains("already_over"));
}

#[test]
fn cancel_stops_a_running_run_of_the_repository_given_with_dash_c() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let gate = fx.root.join("never-opened");
    let mut command = cli::command_with_plan(&fx, &gated_plan(&gate));
    command.current_dir(&fx.root).args(["mcp", "-C"]).arg(&fx.repo);
    let mut client = McpClient::initialized(command);
    let (run_id, run_dir) = dispatched(&mut client, &packet);
    assert!(run_dir.starts_with(fx.repo.join(".codex-dispatch/runs")), "{}", run_dir.display());
    let listed = client.call_ok("list", json!({}));
    assert_eq!(listed["runs"][0]["run_id"], json!(run_id), "-C names the working repository: {listed}");

    let cancelled = client.call_ok("cancel", json!({"all": true, "wait_sec": 30}));
    let run = &cancelled["runs"][0];
    assert_eq!((run["run_id"].clone(), run["outcome"].clone()), (json!(run_id), json!("stopped")), "{cancelled}");
    assert_eq!((run["state"].clone(), run["exit_code"].clone()), (json!("cancelled"), json!(3)));
    let review = client.call_ok("review", json!({"run_id": run_id}));
    assert_eq!((review["verdict"].clone(), review["offered"].clone()), (json!("cancelled"), json!(false)));
    let refused = client.call("apply", json!({"run_id": run_id}), None);
    assert_eq!(refused["result"]["isError"], json!(true), "{refused}");
    assert!(result_text(&refused).starts_with(&format!("cannot apply: run {run_id} was not offered")));
}
