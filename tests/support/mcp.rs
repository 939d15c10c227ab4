//! Driving `git dispatch mcp` in tests: a raw JSON-RPC client over its stdin and stdout (lines
//! written as they are, answers read by a thread with a deadline, so a server that does not
//! answer fails the test instead of hanging it), and the official MCP inspector's CLI
//! (`@modelcontextprotocol/inspector --cli`, installed by scripts/install-agent-clis.sh).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The longest a test waits for one answer.
pub const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// A `git dispatch mcp` process spoken to line by line.
pub struct McpClient {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    next_id: i64,
    /// Notifications received while waiting for answers, in order.
    pub notifications: Vec<Value>,
}

impl McpClient {
    /// Starts `command` (a `git-dispatch` command with `mcp` and its environment) with pipes.
    pub fn start(mut command: Command) -> McpClient {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = command.spawn().expect("git-dispatch mcp starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value =
                    serde_json::from_str(&line).unwrap_or_else(|err| panic!("not JSON on stdout ({err}): {line}"));
                if sender.send(value).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        McpClient { child, stdin, lines, next_id: 100, notifications: Vec::new() }
    }

    /// Starts it and completes the initialization handshake.
    pub fn initialized(command: Command) -> McpClient {
        let mut client = McpClient::start(command);
        let client_info = json!({"name": "test", "version": "1"});
        let params = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client_info});
        let answer = client.request("initialize", params);
        assert_eq!(answer["result"]["serverInfo"]["name"], "git-dispatch", "{answer}");
        client.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        client
    }

    /// Writes `bytes` and a newline as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(bytes).and_then(|()| stdin.write_all(b"\n")).and_then(|()| stdin.flush()).expect("write stdin");
    }

    pub fn send(&mut self, message: &Value) {
        self.send_raw(message.to_string().as_bytes());
    }

    /// The next line the server writes, within `limit`.
    pub fn recv(&mut self, limit: Duration) -> Option<Value> {
        self.lines.recv_timeout(limit).ok()
    }

    /// The answer (result or error) with this `id`, keeping notifications met on the way.
    pub fn answer_to(&mut self, id: &Value) -> Value {
        let deadline = Instant::now() + ANSWER_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = self.recv(left) else { panic!("no answer to id {id} within {ANSWER_LIMIT:?}") };
            if &line["id"] == id && line.get("method").is_none() {
                return line;
            }
            self.notifications.push(line);
        }
    }

    /// Sends a request and returns its answer.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = json!(self.next_id);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.answer_to(&id)
    }

    /// `tools/call` of `name` with `arguments` (and `_meta` when given); the JSON-RPC answer.
    pub fn call(&mut self, name: &str, arguments: Value, meta: Option<Value>) -> Value {
        let mut params = json!({"name": name, "arguments": arguments});
        if let Some(meta) = meta {
            params["_meta"] = meta;
        }
        self.request("tools/call", params)
    }

    /// A tool's structured result, asserting it is no error.
    pub fn call_ok(&mut self, name: &str, arguments: Value) -> Value {
        let answer = self.call(name, arguments, None);
        assert_eq!(answer["result"]["isError"], false, "{name}: {answer}");
        answer["result"]["structuredContent"].clone()
    }

    /// Closes stdin (EOF for the server).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits up to `limit` for the server to exit.
    pub fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        use wait_timeout::ChildExt;
        self.child.wait_timeout(limit).expect("wait for git-dispatch mcp")
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a tool result's first content block.
pub fn result_text(answer: &Value) -> String {
    answer["result"]["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

/// The MCP inspector CLI (`mcp-inspector`): `GIT_DISPATCH_MCP_INSPECTOR`, else on PATH, else in
/// the install script's cache. Missing: a skip (`support::skip`, a failure under `CI=true`) and
/// `None`.
pub fn find_inspector() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> =
        std::env::var_os("GIT_DISPATCH_MCP_INSPECTOR").map(PathBuf::from).into_iter().collect();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("mcp-inspector")));
    }
    let cache = match std::env::var_os("GIT_DISPATCH_NPM_CACHE") {
        Some(cache) => Some(PathBuf::from(cache)),
        None => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/git-dispatch-ci/npm")),
    };
    candidates.extend(cache.map(|cache| cache.join("node_modules/.bin/mcp-inspector")));
    if let Some(found) = candidates.into_iter().find(|path| path.is_file()) {
        return Some(found);
    }
    crate::support::skip::skip("mcp-inspector", "mcp-inspector not installed (run scripts/install-agent-clis.sh)");
    None
}
