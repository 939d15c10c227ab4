//! Agents: the runner (watchdog, event streaming) and one adapter per agent CLI.

use serde::{Deserialize, Serialize};

/// Which agent CLI a dispatch drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    #[default]
    Codex,
    Claude,
}

impl AgentKind {
    /// The program name looked up on PATH.
    pub fn program_name(self) -> &'static str {
        match self {
            AgentKind::Codex => "codex",
            AgentKind::Claude => "claude",
        }
    }

    /// The environment variable that overrides the program.
    pub fn override_env(self) -> &'static str {
        match self {
            AgentKind::Codex => "GIT_DISPATCH_CODEX_BIN",
            AgentKind::Claude => "GIT_DISPATCH_CLAUDE_BIN",
        }
    }

    pub fn parse(text: &str) -> Option<AgentKind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "codex" => Some(AgentKind::Codex),
            "claude" | "claude-code" => Some(AgentKind::Claude),
            _ => None,
        }
    }
}
