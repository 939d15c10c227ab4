//! The Codex CLI adapter: its command line, what its events tell, and its `-o` result file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::events::{CodexEvent, CodexItem, CodexItemDetails};
use super::outcome::{judge_result_text, Judged};
use super::transcript::Transcript;
use super::{AgentRequest, TokenUsage};

/// `exec --json --dangerously-bypass-approvals-and-sandbox -C <cwd> --output-schema <schema>
/// -o <result> <prompt>` (the program itself not included).
pub(super) fn args(request: &AgentRequest<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> =
        ["exec", "--json", "--dangerously-bypass-approvals-and-sandbox"].into_iter().map(OsString::from).collect();
    args.push("-C".into());
    args.push(request.cwd.into());
    args.push("--output-schema".into());
    args.push(request.run_dir.join("result.schema.json").into());
    args.push("-o".into());
    args.push(output_file(request).into());
    args.push(request.prompt.into());
    args
}

/// Where Codex writes its `-o` result: the output folder if there is one, else the run folder.
pub(super) fn output_file(request: &AgentRequest<'_>) -> PathBuf {
    request.output_dir.unwrap_or(request.run_dir).join("result.json")
}

/// Copies the `-o` file from the output folder into the run folder, if it is elsewhere and exists.
pub(super) fn collect_output(request: &AgentRequest<'_>) -> anyhow::Result<()> {
    let written = output_file(request);
    let target = request.run_dir.join("result.json");
    // Only a regular file: the agent owns that folder and could leave a FIFO or a symlink there.
    let is_file = std::fs::symlink_metadata(&written).is_ok_and(|meta| meta.file_type().is_file());
    if written == target || !is_file {
        return Ok(());
    }
    std::fs::copy(&written, &target)
        .with_context(|| format!("copying {} to {}", written.display(), target.display()))?;
    Ok(())
}

pub(super) fn observe(transcript: &mut Transcript, event: &CodexEvent) {
    match event {
        CodexEvent::ThreadStarted { .. } | CodexEvent::TurnStarted => {
            transcript.set_activity("starting");
        }
        CodexEvent::ItemStarted { item } | CodexEvent::ItemUpdated { item } | CodexEvent::ItemCompleted { item } => {
            observe_item(transcript, item)
        }
        CodexEvent::TurnCompleted { usage } => {
            transcript.usage.add(&TokenUsage {
                input_tokens: usage.input_tokens,
                cached_input_tokens: usage.cached_input_tokens,
                output_tokens: usage.output_tokens,
                reasoning_output_tokens: usage.reasoning_output_tokens,
            });
            transcript.set_activity("turn completed");
        }
        CodexEvent::TurnFailed { error } => {
            transcript.push_error(&error.message);
            transcript.set_activity(format!("failed: {}", error.message));
        }
        CodexEvent::Error { message } => {
            transcript.push_error(message);
            transcript.set_activity(format!("error: {message}"));
        }
        CodexEvent::Other(_) => {}
    }
}

fn observe_item(transcript: &mut Transcript, item: &CodexItem) {
    match &item.details {
        CodexItemDetails::CommandExecution { command, .. } => {
            let shown = shell_body(command);
            transcript.push_command(&item.id, shown);
            transcript.set_activity(format!("$ {shown}"));
        }
        CodexItemDetails::FileChange { changes, .. } => {
            let paths: Vec<String> = changes.iter().map(|change| transcript.relative(&change.path)).collect();
            transcript.set_activity(format!("editing {}", paths.join(", ")));
        }
        CodexItemDetails::AgentMessage { text } | CodexItemDetails::Reasoning { text } => {
            transcript.set_activity(text.replace("**", ""));
        }
        CodexItemDetails::Error { message } => transcript.push_error(message),
        CodexItemDetails::Other(_) => {}
    }
}

/// The script of `/bin/bash -lc "script"` (how Codex reports commands), else the command.
fn shell_body(command: &str) -> &str {
    ["/bin/bash -lc ", "bash -lc ", "/bin/sh -c ", "sh -c "]
        .iter()
        .find_map(|prefix| command.strip_prefix(prefix))
        .map(|rest| {
            rest.strip_prefix('"')
                .and_then(|inner| inner.strip_suffix('"'))
                .or_else(|| rest.strip_prefix('\'').and_then(|inner| inner.strip_suffix('\'')))
                .unwrap_or(rest)
        })
        .unwrap_or(command)
}

/// Judges the `-o` file Codex wrote; `None` when there is none. (The runner removes it before
/// the run: Codex leaves an old one in place when it fails.)
pub(super) fn read_result(run_dir: &Path) -> anyhow::Result<Option<Judged>> {
    let path = run_dir.join("result.json");
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(judge_result_text(&bytes))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::shell_body;

    #[test]
    fn shell_wrappers_are_peeled_for_display() {
        assert_eq!(shell_body("/bin/bash -lc \"printf 'x' > a && cat a\""), "printf 'x' > a && cat a");
        assert_eq!(shell_body("bash -lc 'ls -la'"), "ls -la");
        assert_eq!(shell_body("cargo test"), "cargo test");
    }
}
