//! The fake agent's stdout: events in codex `exec --json` style (JSONL items, as in
//! `captured/codex-events.jsonl`) or claude `stream-json` style (as in `captured/claude-stream.jsonl`).
//! Ids are counters, so a plan always produces the same stream.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::invocation::Style;

/// The fixed codex thread id and claude session id of every run.
pub const THREAD_ID: &str = "00000000-0000-4000-8000-fa4e00000001";
const CLAUDE_MODEL: &str = "claude-fake-1";

/// How one file changed, in codex's words.
#[derive(Debug, Clone, Copy)]
pub enum ChangeKind {
    Add,
    Update,
    Delete,
}

impl ChangeKind {
    fn name(self) -> &'static str {
        match self {
            ChangeKind::Add => "add",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        }
    }
}

/// Something a step did that shows in the event stream.
#[derive(Debug, Clone)]
pub enum Activity {
    /// A command ran (codex `command_execution`, claude `Bash`).
    Command { command: String, output: String, exit_code: i32 },
    /// Files changed (codex `file_change`; claude `Write` when `written` is set, else `Bash`).
    FileChange {
        changes: Vec<(PathBuf, ChangeKind)>,
        /// The shell equivalent of the step, for claude's `Bash` tool.
        command: String,
        /// A whole-file write: the absolute path and a preview of the content.
        written: Option<(PathBuf, String)>,
        error: Option<String>,
    },
    /// An assistant message.
    Message(String),
}

/// Writes events on stdout in one style.
pub struct Emitter {
    style: Style,
    cwd: PathBuf,
    schema_offered: bool,
    counter: u64,
    turns: u64,
    out: io::Stdout,
}

impl Emitter {
    pub fn new(style: Style, cwd: &Path, schema_offered: bool) -> Self {
        Emitter { style, cwd: cwd.to_path_buf(), schema_offered, counter: 0, turns: 0, out: io::stdout() }
    }

    /// Writes one line and flushes it, so a reader sees it at once.
    pub fn line(&mut self, line: &str) -> io::Result<()> {
        let mut out = self.out.lock();
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// Writes raw bytes (no newline added).
    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut out = self.out.lock();
        out.write_all(bytes)?;
        out.flush()
    }

    fn event(&mut self, value: Value) -> io::Result<()> {
        self.line(&value.to_string())
    }

    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn uuid(&mut self) -> String {
        format!("00000000-0000-4000-8000-{:012}", self.next_id())
    }

    /// The opening events: codex `thread.started` + `turn.started`, claude `system/init`.
    pub fn start(&mut self) -> io::Result<()> {
        match self.style {
            Style::Codex => {
                self.event(json!({"type": "thread.started", "thread_id": THREAD_ID}))?;
                self.event(json!({"type": "turn.started"}))
            }
            Style::Claude => {
                let mut tools = vec!["Bash", "Edit", "Read", "Write"];
                if self.schema_offered {
                    tools.push("StructuredOutput");
                }
                let uuid = self.uuid();
                self.event(json!({
                    "type": "system", "subtype": "init", "cwd": self.cwd.to_string_lossy(), "session_id": THREAD_ID,
                    "tools": tools, "mcp_servers": [], "model": CLAUDE_MODEL,
                    "permissionMode": "bypassPermissions", "apiKeySource": "none",
                    "claude_code_version": "2.1.332", "uuid": uuid,
                }))
            }
        }
    }

    /// The events of one step's activity.
    pub fn activity(&mut self, activity: &Activity) -> io::Result<()> {
        match self.style {
            Style::Codex => self.codex_activity(activity),
            Style::Claude => self.claude_activity(activity),
        }
    }

    fn codex_activity(&mut self, activity: &Activity) -> io::Result<()> {
        let id = format!("item_{}", self.next_id());
        match activity {
            Activity::Command { command, output, exit_code } => {
                let item = |output: &str, exit: Value, status: &str| {
                    json!({"id": id, "type": "command_execution", "command": command,
                           "aggregated_output": output, "exit_code": exit, "status": status})
                };
                self.event(json!({"type": "item.started", "item": item("", Value::Null, "in_progress")}))?;
                let status = if *exit_code == 0 { "completed" } else { "failed" };
                self.event(json!({"type": "item.completed", "item": item(output, json!(exit_code), status)}))
            }
            Activity::FileChange { changes, error, .. } => {
                let changes: Vec<Value> = changes
                    .iter()
                    .map(|(path, kind)| json!({"path": path.to_string_lossy(), "kind": kind.name()}))
                    .collect();
                let item =
                    |status: &str| json!({"id": id, "type": "file_change", "changes": changes, "status": status});
                self.event(json!({"type": "item.started", "item": item("in_progress")}))?;
                let status = if error.is_none() { "completed" } else { "failed" };
                self.event(json!({"type": "item.completed", "item": item(status)}))
            }
            Activity::Message(text) => self.event(json!({"type": "item.completed",
                "item": {"id": id, "type": "agent_message", "text": text}})),
        }
    }

    fn claude_activity(&mut self, activity: &Activity) -> io::Result<()> {
        match activity {
            Activity::Command { command, output, exit_code } => {
                let input = json!({"command": command, "description": "fake agent step"});
                self.claude_tool("Bash", input, output, *exit_code != 0)
            }
            Activity::FileChange { command, written, error, .. } => {
                let (name, input) = match written {
                    Some((path, preview)) => {
                        ("Write", json!({"file_path": path.to_string_lossy(), "content": preview}))
                    }
                    None => ("Bash", json!({"command": command, "description": "fake agent step"})),
                };
                let output = match error {
                    Some(error) => error.clone(),
                    None => format!("ok: {command}"),
                };
                self.claude_tool(name, input, &output, error.is_some())
            }
            Activity::Message(text) => self.claude_assistant(json!([{"type": "text", "text": text}])),
        }
    }

    fn claude_assistant(&mut self, content: Value) -> io::Result<()> {
        self.turns += 1;
        let message_id = format!("msg_{:04}", self.next_id());
        let uuid = self.uuid();
        self.event(json!({
            "type": "assistant",
            "message": {"id": message_id, "type": "message", "role": "assistant", "model": CLAUDE_MODEL,
                        "content": content, "stop_reason": null, "stop_sequence": null,
                        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 0,
                                  "cache_read_input_tokens": 0, "output_tokens": 1}},
            "parent_tool_use_id": null, "session_id": THREAD_ID, "uuid": uuid,
        }))
    }

    fn claude_tool(&mut self, name: &str, input: Value, output: &str, is_error: bool) -> io::Result<()> {
        let tool_id = format!("toolu_{:04}", self.next_id());
        self.claude_assistant(json!([{"type": "tool_use", "id": tool_id, "name": name, "input": input}]))?;
        let uuid = self.uuid();
        self.event(json!({
            "type": "user",
            "message": {"role": "user", "content": [{"tool_use_id": tool_id, "type": "tool_result",
                                                     "content": output, "is_error": is_error}]},
            "parent_tool_use_id": null, "session_id": THREAD_ID, "uuid": uuid,
            "tool_use_result": {"stdout": output, "stderr": "", "interrupted": false},
        }))
    }

    /// The closing events of a successful turn. `final_text` is the last assistant message
    /// (codex: the text that goes to `-o`); `structured` is claude's `structured_output`.
    pub fn finish(&mut self, final_text: Option<&str>, structured: Option<&Value>) -> io::Result<()> {
        match self.style {
            Style::Codex => {
                if let Some(text) = final_text {
                    self.codex_activity(&Activity::Message(text.to_owned()))?;
                }
                self.event(json!({"type": "turn.completed", "usage": {
                    "input_tokens": 100, "cached_input_tokens": 0, "cache_write_input_tokens": 0,
                    "output_tokens": 20, "reasoning_output_tokens": 0}}))
            }
            Style::Claude => self.claude_finish(final_text, structured),
        }
    }

    fn claude_finish(&mut self, final_text: Option<&str>, structured: Option<&Value>) -> io::Result<()> {
        let tool_input = structured.filter(|value| !value.is_null());
        if let (true, Some(value)) = (self.schema_offered, tool_input) {
            self.claude_tool("StructuredOutput", value.clone(), "Structured output provided successfully", false)?;
        } else if let Some(text) = final_text {
            self.claude_assistant(json!([{"type": "text", "text": text}]))?;
        }
        let uuid = self.uuid();
        let mut result = json!({
            "type": "result", "subtype": "success", "is_error": false, "duration_ms": 10,
            "duration_api_ms": 5, "num_turns": self.turns, "result": final_text.unwrap_or(""),
            "stop_reason": "end_turn", "session_id": THREAD_ID, "total_cost_usd": 0.0,
            "usage": {"input_tokens": 100, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 20},
            "permission_denials": [], "terminal_reason": "completed", "uuid": uuid,
        });
        // Like the real CLI: the field exists only when a schema was offered and a value came back.
        if let (true, Some(value)) = (self.schema_offered, structured) {
            result["structured_output"] = value.clone();
        }
        self.event(result)
    }

    /// The closing events of a failed turn (codex `error` + `turn.failed`; claude an API error
    /// message and a `result` with `is_error: true`).
    pub fn fail(&mut self, message: &str) -> io::Result<()> {
        match self.style {
            Style::Codex => {
                self.event(json!({"type": "error", "message": message}))?;
                self.event(json!({"type": "turn.failed", "error": {"message": message}}))
            }
            Style::Claude => {
                let uuid = self.uuid();
                self.event(json!({
                    "type": "assistant",
                    "message": {"id": uuid, "model": "<synthetic>", "role": "assistant", "type": "message",
                                "stop_reason": "stop_sequence", "content": [{"type": "text", "text": message}]},
                    "parent_tool_use_id": null, "session_id": THREAD_ID, "uuid": uuid,
                    "error": "server_error", "is_api_error_message": true, "api_error_status": 500,
                }))?;
                let uuid = self.uuid();
                self.event(json!({
                    "type": "result", "subtype": "success", "is_error": true, "duration_ms": 10,
                    "duration_api_ms": 0, "num_turns": self.turns + 1, "result": message,
                    "stop_reason": "stop_sequence", "session_id": THREAD_ID, "total_cost_usd": 0.0,
                    "usage": {"input_tokens": 0, "output_tokens": 0}, "permission_denials": [],
                    "terminal_reason": "api_error", "api_error_status": 500, "uuid": uuid,
                }))
            }
        }
    }
}
