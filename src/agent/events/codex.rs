//! `codex exec --json` events: thread/turn lifecycle, items (commands, file changes, messages,
//! reasoning, errors), token usage and failures.

use serde::Deserialize;
use serde_json::Value;

use super::zero_if_null;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type")]
pub enum CodexEvent {
    #[serde(rename = "thread.started")]
    ThreadStarted { thread_id: String },
    #[serde(rename = "turn.started")]
    TurnStarted,
    #[serde(rename = "item.started")]
    ItemStarted { item: CodexItem },
    #[serde(rename = "item.updated")]
    ItemUpdated { item: CodexItem },
    #[serde(rename = "item.completed")]
    ItemCompleted { item: CodexItem },
    #[serde(rename = "turn.completed")]
    TurnCompleted { usage: CodexUsage },
    #[serde(rename = "turn.failed")]
    TurnFailed { error: CodexError },
    #[serde(rename = "error")]
    Error { message: String },
    /// An event type we do not know, or a known one in a shape we did not expect.
    #[serde(untagged)]
    Other(Value),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CodexItem {
    pub id: String,
    #[serde(flatten)]
    pub details: CodexItemDetails,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CodexItemDetails {
    CommandExecution {
        command: String,
        #[serde(default)]
        aggregated_output: String,
        exit_code: Option<i32>,
        status: Option<String>,
    },
    FileChange {
        changes: Vec<CodexFileChange>,
        status: Option<String>,
    },
    AgentMessage {
        text: String,
    },
    Reasoning {
        text: String,
    },
    Error {
        message: String,
    },
    /// An item type we do not know (the map without its `id`).
    #[serde(untagged)]
    Other(Value),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CodexFileChange {
    /// Absolute path.
    pub path: String,
    /// `add`, `update` or `delete`.
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CodexUsage {
    #[serde(default, deserialize_with = "zero_if_null")]
    pub input_tokens: u64,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub cached_input_tokens: u64,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub output_tokens: u64,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub reasoning_output_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CodexError {
    pub message: String,
}
