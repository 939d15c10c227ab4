//! What the runner learns from the event stream while the agent runs: token usage, errors,
//! commands, the current activity (for the status line) and Claude's final `result` event.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::events::{AgentEvent, ClaudeResult};
use super::{claude, codex, TokenUsage};

/// How many non-JSON stdout lines are kept for diagnostics.
const RAW_LINES_KEPT: usize = 50;

#[derive(Debug, Default)]
pub(crate) struct Transcript {
    worktree: PathBuf,
    /// Usage reported as final (Codex `turn.completed`, Claude `result`).
    pub(crate) usage: TokenUsage,
    /// Claude's per-message usage while it runs, by message id.
    pub(crate) message_usage: BTreeMap<String, TokenUsage>,
    pub(crate) errors: Vec<String>,
    pub(crate) commands: Vec<String>,
    seen_commands: HashSet<String>,
    pub(crate) activity: Option<String>,
    pub(crate) last_result: Option<ClaudeResult>,
    pub(crate) raw_lines: Vec<String>,
}

impl Transcript {
    pub(crate) fn new(worktree: &Path) -> Transcript {
        Transcript { worktree: worktree.to_path_buf(), ..Transcript::default() }
    }

    pub(crate) fn observe(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::Codex(event) => codex::observe(self, event),
            AgentEvent::Claude(event) => claude::observe(self, event),
            AgentEvent::Raw(line) => {
                if self.raw_lines.len() < RAW_LINES_KEPT && !line.trim().is_empty() {
                    self.raw_lines.push(line.clone());
                }
            }
        }
    }

    /// Tokens so far: the final usage once known, else the sum of the messages seen.
    pub(crate) fn tokens_so_far(&self) -> TokenUsage {
        if self.usage != TokenUsage::default() {
            return self.usage;
        }
        let mut sum = TokenUsage::default();
        for usage in self.message_usage.values() {
            sum.add(usage);
        }
        sum
    }

    pub(crate) fn push_error(&mut self, message: &str) {
        let message = message.trim();
        if !message.is_empty() && !self.errors.iter().any(|known| known == message) {
            self.errors.push(message.to_string());
        }
    }

    /// Records a command once per `id` (an item is reported when it starts and again when done).
    pub(crate) fn push_command(&mut self, id: &str, command: &str) {
        if self.seen_commands.insert(id.to_string()) {
            self.commands.push(command.to_string());
        }
    }

    pub(crate) fn set_activity(&mut self, activity: impl Into<String>) {
        let activity = activity.into();
        let first_line = activity.lines().find(|line| !line.trim().is_empty());
        if let Some(line) = first_line {
            self.activity = Some(line.trim().to_string());
        }
    }

    /// `path` relative to the worktree when it is inside it.
    pub(crate) fn relative(&self, path: &str) -> String {
        Path::new(path)
            .strip_prefix(&self.worktree)
            .map(|relative| relative.display().to_string())
            .unwrap_or_else(|_| path.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::events::parse_line;
    use crate::agent::AgentKind;

    const WORKTREE: &str = "/home/dev/project.dispatch/wt";

    /// Observes `stream` line by line, recording the activity after each line.
    fn replay(kind: AgentKind, stream: &[u8]) -> (Transcript, Vec<Option<String>>) {
        let mut transcript = Transcript::new(Path::new(WORKTREE));
        let mut activities = Vec::new();
        for line in stream.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()) {
            transcript.observe(&parse_line(kind, line));
            activities.push(transcript.activity.clone());
        }
        (transcript, activities)
    }

    #[test]
    fn codex_activity_follows_the_stream() {
        let stream = include_bytes!("../../tests/data/agents/codex-events.jsonl");
        let (transcript, activities) = replay(AgentKind::Codex, stream);
        let activities: Vec<&str> = activities.iter().flatten().map(String::as_str).collect();
        assert_eq!(
            activities,
            [
                "starting",
                "starting",
                "Planning create hello.txt first",
                "$ printf 'hello from exec_command\\\\n' > hello.txt && cat hello.txt",
                "$ printf 'hello from exec_command\\\\n' > hello.txt && cat hello.txt",
                "editing hello.txt, notes.md",
                "editing hello.txt, notes.md",
                "All done: created hello.txt and notes.md.",
                "turn completed",
            ]
        );
        assert_eq!(transcript.commands.len(), 1);
        assert_eq!(transcript.tokens_so_far().total(), 360);
    }

    #[test]
    fn claude_tokens_add_up_per_message_while_running() {
        let stream = include_bytes!("../../tests/data/agents/claude-stream.jsonl");
        let lines: Vec<&[u8]> = stream.split(|&byte| byte == b'\n').collect();
        let mut transcript = Transcript::new(Path::new(WORKTREE));
        for line in &lines[..5] {
            transcript.observe(&parse_line(AgentKind::Claude, line));
        }
        // msg_0003 (two events, counted once) and msg_0006: 100 in + 1 out each.
        assert_eq!(transcript.tokens_so_far().total(), 202);
        assert_eq!(transcript.activity.as_deref(), Some("Write notes.md"));
        for line in &lines[5..] {
            transcript.observe(&parse_line(AgentKind::Claude, line));
        }
        assert_eq!(transcript.tokens_so_far().total(), 360);
        assert_eq!(transcript.activity.as_deref(), Some("finished"));
        assert!(transcript.last_result.is_some());
    }

    #[test]
    fn errors_are_kept_once_and_raw_lines_for_diagnostics() {
        let stream = include_bytes!("../../tests/data/agents/codex-events-http500.jsonl");
        let (mut transcript, _) = replay(AgentKind::Codex, stream);
        assert_eq!(transcript.errors, ["We’re currently experiencing high demand, which may cause temporary errors."]);
        transcript.observe(&parse_line(AgentKind::Codex, b"not json"));
        assert_eq!(transcript.raw_lines, ["not json"]);
    }
}
