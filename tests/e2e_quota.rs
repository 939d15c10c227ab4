//! End to end: the quota gate through the binary, against a usage endpoint on 127.0.0.1.
//! Over the gate: exit 2, blocked before the agent ran; `--force` dispatches anyway.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use serde_json::json;
use support::cli::{command_with_plan, printed_run_dir, read_json, stderr, worker_packet, write_packet};
use support::fixtures::fixture;

/// Answers `count` requests with the given usage percentage; returns the endpoint URL.
fn usage_server(used_percent: f64, count: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("http://{}/backend-api/wham/usage", listener.local_addr().expect("addr"));
    let body = json!({"rate_limit": {"primary_window": {"used_percent": used_percent, "reset_after_seconds": 600}}})
        .to_string();
    std::thread::spawn(move || {
        for _ in 0..count {
            let Ok((stream, _)) = listener.accept() else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let mut stream = stream;
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    url
}

#[test]
fn over_the_quota_gate_blocks_and_force_overrides() {
    let fx = fixture("python-project");
    let codex_home = fx.root.join("codex-home");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    std::fs::write(codex_home.join("auth.json"), json!({"tokens": {"access_token": "t"}}).to_string()).expect("auth");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let marker = fx.root.join("agent-ran");
    let plan = json!([{"step": "record", "path": marker}, {"step": "write", "path": "tests/q.py", "content": "q\n"}]);
    let url = usage_server(91.5, 2);

    let blocked = command_with_plan(&fx, &plan)
        .env("CODEX_HOME", &codex_home)
        .env("GIT_DISPATCH_USAGE_URL", &url)
        .args(["run", "--task", packet.to_str().expect("utf-8")])
        .output()
        .expect("spawn");
    assert_eq!(blocked.status.code(), Some(2), "{}", stderr(&blocked));
    let policy = read_json(&printed_run_dir(&blocked).join("policy.json"));
    assert_eq!(policy["blocked"], true);
    let messages = policy["messages"].to_string();
    assert!(messages.contains("BLOCKED: Codex 5-hour usage is 91.5%, at or above the quota gate of 85%"), "{messages}");
    assert!(!marker.exists(), "the agent did not run");

    let forced = command_with_plan(&fx, &plan)
        .env("CODEX_HOME", &codex_home)
        .env("GIT_DISPATCH_USAGE_URL", &url)
        .args(["run", "--task", packet.to_str().expect("utf-8"), "--force"])
        .output()
        .expect("spawn");
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert!(marker.exists(), "--force dispatches");
    let policy = read_json(&printed_run_dir(&forced).join("policy.json"));
    assert!(policy["messages"].to_string().contains("Quota gate overridden with --force at 91.5% usage."));
}

#[test]
fn an_unreachable_usage_endpoint_is_said_once_on_stderr_and_in_the_verdict() {
    let fx = fixture("python-project");
    let codex_home = fx.root.join("codex-home");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    std::fs::write(codex_home.join("auth.json"), json!({"tokens": {"access_token": "t"}}).to_string()).expect("auth");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let plan = json!([{"step": "write", "path": "tests/q.py", "content": "q\n"}]);
    let refused = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/usage", listener.local_addr().expect("addr"))
    };
    let run = |extra: &[&str]| {
        command_with_plan(&fx, &plan)
            .env("CODEX_HOME", &codex_home)
            .env("GIT_DISPATCH_USAGE_URL", &refused)
            .args(["run", "--task", packet.to_str().expect("utf-8")])
            .args(extra)
            .output()
            .expect("spawn")
    };
    let loud = run(&[]);
    assert_eq!(loud.status.code(), Some(0), "{}", stderr(&loud));
    assert_eq!(stderr(&loud).matches("warning: quota gate skipped: ").count(), 1, "{}", stderr(&loud));
    let policy = read_json(&printed_run_dir(&loud).join("policy.json"));
    assert!(policy["messages"].to_string().contains("Quota gate skipped: "), "{policy}");
    let quiet = run(&["-q"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert!(!stderr(&quiet).contains("quota gate"), "-q says nothing: {}", stderr(&quiet));
    assert!(!stderr(&quiet).contains("git-dispatch: "), "no verdict line under -q: {}", stderr(&quiet));
    assert!(stderr(&loud).contains(": offered (exit 0, 1 changed path)"), "{}", stderr(&loud));
}
