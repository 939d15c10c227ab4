//! Agents: the runner (watchdog, event streaming) and one adapter per agent CLI.
//!
//! [`locate`] finds the agent program, [`run`] runs it in a worktree (through
//! [`crate::process`]) and returns an [`AgentReport`]; [`check_quota`] is the Codex quota gate.
//! The adapters (`codex`, `claude`) know each CLI's command line and where its result is; the
//! typed event streams are in [`events`].

mod claude;
mod codex;
pub mod events;
mod locate;
mod outcome;
mod probe;
pub mod quota;
pub mod replay;
mod runner;
pub mod status;
mod transcript;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use locate::{find_on_path, locate, locate_with, AgentNotFound};

/// The agent's program for a run: [`locate`], then what would stop it at once (Claude Code as
/// root without `IS_SANDBOX=1`), as the one-line error of a run that cannot start.
pub fn locate_for_run(kind: AgentKind) -> anyhow::Result<std::path::PathBuf> {
    let program = locate(kind)?;
    if kind == AgentKind::Claude {
        if let Some(refusal) = claude::refuses_to_start() {
            anyhow::bail!("cannot start claude: {refusal}");
        }
    }
    Ok(program)
}
pub use outcome::blocked_record;
pub use probe::{default_cache_dir as default_version_cache_dir, remember_versions_in};
pub use quota::{check_quota, QuotaVerdict};
pub use runner::run;

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

impl AgentKind {
    /// The npm package that provides the program.
    pub fn npm_package(self) -> &'static str {
        match self {
            AgentKind::Codex => "@openai/codex",
            AgentKind::Claude => "@anthropic-ai/claude-code",
        }
    }
}

/// What to run: which agent, where, with which prompt and limits.
#[derive(Debug, Clone)]
pub struct AgentRequest<'a> {
    pub kind: AgentKind,
    /// The agent program (from [`locate`]).
    pub program: PathBuf,
    /// Where the agent works: the worktree or a folder inside it.
    pub cwd: &'a Path,
    /// The worktree's root (agent paths are shown relative to it).
    pub worktree: &'a Path,
    pub prompt: &'a str,
    /// The run folder; `result.schema.json` is already there.
    pub run_dir: &'a Path,
    /// Hard limit; zero means none.
    pub timeout: Duration,
    /// Kill after this long without stdout; zero means no heartbeat.
    pub heartbeat: Duration,
    /// No live status line.
    pub quiet: bool,
    /// A sandbox's argv prefix (the agent's argv is appended); empty for none. The `--version`
    /// probe runs with it too.
    pub wrapper: Vec<OsString>,
    /// Variables set for the agent on top of the inherited environment.
    pub extra_env: Vec<(OsString, OsString)>,
    /// A folder the agent may write (a sandbox's private temp folder) where Codex puts its `-o`
    /// result file, copied into the run folder afterwards; `None`: straight into the run folder.
    pub output_dir: Option<&'a Path>,
    /// Stops the agent (its whole group) as `cancelled` once set.
    pub cancel: Option<crate::process::Cancel>,
    /// Told what the agent does now (the status line's activity), as the events arrive.
    pub on_activity: Option<&'a dyn ActivitySink>,
}

/// Whoever follows a running agent from outside the terminal (the run folder's state file).
pub trait ActivitySink: std::fmt::Debug + Sync {
    /// What the agent does now, in the status line's words.
    fn activity(&self, what: &str);
}

/// The agent's structured result, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum StructuredResult {
    /// A JSON object, as written to `result.json`.
    Valid(serde_json::Value),
    /// Missing, empty, not JSON, not an object, `is_error`, or `null`; `result.json` holds a
    /// `"result": "blocked"` record with this reason as its summary.
    Blocked { reason: String },
}

/// Tokens used by a run. `input_tokens` includes the cached ones (Codex's convention; for Claude
/// the cache reads and writes are added to it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
}

impl TokenUsage {
    /// Input plus output tokens.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    pub fn add(&mut self, other: &TokenUsage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.output_tokens += other.output_tokens;
        self.reasoning_output_tokens += other.reasoning_output_tokens;
    }
}

/// What happened when the agent ran.
#[derive(Debug, Clone)]
pub struct AgentReport {
    pub kind: AgentKind,
    /// The full command line, wrapper included.
    pub argv: Vec<String>,
    /// The first line of `<program> --version`, if that worked.
    pub version: Option<String>,
    pub exit_code: Option<i32>,
    /// The signal that ended the agent, if one did.
    pub signal: Option<i32>,
    /// The hard timeout or the heartbeat stopped the agent.
    pub watchdog_killed: bool,
    /// The seed's wording: "hard timeout (1800s)" or "heartbeat stall (300s without stdout)".
    pub watchdog_reason: Option<String>,
    /// git-dispatch was interrupted (SIGINT/SIGTERM) and stopped the agent.
    pub interrupted: bool,
    /// The run was cancelled (`git dispatch cancel`) and the agent stopped.
    pub cancelled: bool,
    pub result: StructuredResult,
    pub usage: TokenUsage,
    /// Error messages from the stream (`error`, `turn.failed`, `is_error`) and our explanations.
    pub errors: Vec<String>,
    /// The shell commands the agent ran, in order.
    pub commands: Vec<String>,
    /// Stdout lines longer than [`crate::process::MAX_LINE_BYTES`], cut in events.jsonl.
    pub truncated_lines: usize,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub ended_at: chrono::DateTime<chrono::Utc>,
    pub duration: Duration,
}

impl AgentReport {
    /// The agent ended by itself with exit code 0.
    pub fn exited_cleanly(&self) -> bool {
        !self.watchdog_killed && !self.interrupted && self.exit_code == Some(0)
    }

    /// One line for humans: how the agent ended, how long, tokens, commands.
    pub fn summary_line(&self) -> String {
        status::summary_line(self)
    }
}
