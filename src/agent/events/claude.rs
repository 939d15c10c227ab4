//! `claude -p --output-format stream-json --verbose` events: `system` (init, retries),
//! `assistant` and `user` messages, and the final `result`.

use serde::Deserialize;
use serde_json::Value;

use super::zero_if_null;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClaudeEvent {
    System {
        subtype: Option<String>,
        model: Option<String>,
        cwd: Option<String>,
        /// `api_retry` events carry the HTTP status of the failed attempt.
        error_status: Option<u16>,
    },
    Assistant {
        message: ClaudeMessage,
        /// Set on a synthetic message that reports an API error.
        error: Option<String>,
    },
    User {
        message: ClaudeMessage,
    },
    Result(Box<ClaudeResult>),
    /// With `--include-partial-messages`: the raw API stream events.
    StreamEvent {
        event: Value,
    },
    /// An event type we do not know, or a known one in a shape we did not expect.
    #[serde(untagged)]
    Other(Value),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClaudeMessage {
    pub id: Option<String>,
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    pub usage: Option<ClaudeUsage>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Value,
        is_error: Option<bool>,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
    },
    #[serde(untagged)]
    Other(Value),
}

/// The last event of a run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClaudeResult {
    pub subtype: Option<String>,
    pub is_error: Option<bool>,
    /// The final text (or the error message when `is_error`).
    pub result: Option<String>,
    /// The `StructuredOutput` tool's input when `--json-schema` was given; `None` when absent or
    /// `null`.
    pub structured_output: Option<Value>,
    pub num_turns: Option<u64>,
    #[serde(default)]
    pub usage: ClaudeUsage,
    pub total_cost_usd: Option<f64>,
    #[serde(default)]
    pub permission_denials: Vec<Value>,
    pub terminal_reason: Option<String>,
    pub api_error_status: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ClaudeUsage {
    #[serde(default, deserialize_with = "zero_if_null")]
    pub input_tokens: u64,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub cache_read_input_tokens: u64,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "zero_if_null")]
    pub output_tokens: u64,
    pub output_tokens_details: Option<OutputTokensDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct OutputTokensDetails {
    #[serde(default, deserialize_with = "zero_if_null")]
    pub thinking_tokens: u64,
}
