//! The agents' stdout event streams, decoded into typed events.
//!
//! Every stdout line of an agent becomes one [`AgentEvent`]: a typed Codex or Claude event, or
//! the raw text of a line that is not JSON. Event types we do not know, and known types whose
//! shape surprised us, are kept as `Other(Value)`: decoding never fails.

pub mod claude;
pub mod codex;

use serde::{Deserialize, Deserializer};

use super::AgentKind;
pub use claude::{ClaudeEvent, ClaudeResult, ClaudeUsage, ContentBlock};
pub use codex::{CodexEvent, CodexItem, CodexItemDetails, CodexUsage};

/// One stdout line of an agent.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentEvent {
    Codex(CodexEvent),
    Claude(ClaudeEvent),
    /// A line that is not JSON (kept as text, invalid UTF-8 replaced).
    Raw(String),
}

/// Decodes one stdout line of an agent of `kind`.
pub fn parse_line(kind: AgentKind, line: &[u8]) -> AgentEvent {
    let parsed = match kind {
        AgentKind::Codex => serde_json::from_slice(line).map(AgentEvent::Codex),
        AgentKind::Claude => serde_json::from_slice(line).map(AgentEvent::Claude),
    };
    parsed.unwrap_or_else(|_| AgentEvent::Raw(String::from_utf8_lossy(line).into_owned()))
}

/// Decodes a whole JSONL text (for reading a finished `events.jsonl`); blank lines are skipped.
pub fn parse_stream(kind: AgentKind, text: &[u8]) -> Vec<AgentEvent> {
    text.split(|&byte| byte == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| parse_line(kind, line))
        .collect()
}

/// A token counter that may be absent or `null` in the stream: both count as 0.
pub(crate) fn zero_if_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(deserializer)?.unwrap_or(0))
}
