//! The Claude Code adapter: its command line, what its stream-json events tell, and the result
//! taken from the last `result` event.

use std::ffi::OsString;

use anyhow::Context as _;

use super::events::{ClaudeEvent, ClaudeUsage, ContentBlock};
use super::outcome::{judge_value, Judged};
use super::transcript::Transcript;
use super::{AgentRequest, TokenUsage};

/// Why Claude Code exited at once when run as root.
pub(crate) const ROOT_REFUSAL: &str = "Claude Code refuses --dangerously-skip-permissions when \
    run as root (it accepts it only with IS_SANDBOX=1, for a machine that is itself a sandbox). \
    Run git-dispatch as a non-root user, or, if this machine is a disposable sandbox, set \
    IS_SANDBOX=1 yourself; git-dispatch does not set it for you.";

/// Claude Code's refusal, known before it is started: this process runs as root and
/// `IS_SANDBOX` is not `1` (the agent inherits both).
pub fn refuses_to_start() -> Option<&'static str> {
    let root = nix::unistd::geteuid().is_root();
    let sandbox_said = std::env::var_os("IS_SANDBOX").is_some_and(|value| value == "1");
    (root && !sandbox_said).then_some(ROOT_REFUSAL)
}

/// `-p <prompt> --output-format stream-json --verbose --dangerously-skip-permissions
/// --json-schema <schema> --no-session-persistence` (the program itself not included).
pub(super) fn args(request: &AgentRequest<'_>) -> anyhow::Result<Vec<OsString>> {
    let schema = compact_schema(&request.run_dir.join("result.schema.json"))?;
    let mut args: Vec<OsString> = vec!["-p".into(), request.prompt.into()];
    args.extend(
        ["--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions", "--json-schema"]
            .map(OsString::from),
    );
    args.push(schema.into());
    args.push("--no-session-persistence".into());
    Ok(args)
}

/// The schema file as one line of JSON, without its `$schema` key: Claude Code's validator knows
/// only draft-07 and rejects the whole schema when `$schema` names draft 2020-12 ("--json-schema is
/// not a valid JSON Schema: no schema with key or ref ...").
fn compact_schema(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut schema: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("parsing the result schema {}", path.display()))?;
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
    }
    Ok(schema.to_string())
}

pub(super) fn observe(transcript: &mut Transcript, event: &ClaudeEvent) {
    match event {
        ClaudeEvent::System { subtype, error_status, .. } => match subtype.as_deref() {
            Some("init") => transcript.set_activity("starting"),
            Some("api_retry") => transcript.set_activity(match error_status {
                Some(status) => format!("retrying after HTTP {status}"),
                None => "retrying".to_string(),
            }),
            _ => {}
        },
        ClaudeEvent::Assistant { message, error } => {
            if let (Some(id), Some(usage)) = (&message.id, &message.usage) {
                transcript.message_usage.insert(id.clone(), token_usage(usage));
            }
            for block in &message.content {
                observe_block(transcript, block, error.is_some());
            }
        }
        ClaudeEvent::User { .. } | ClaudeEvent::StreamEvent { .. } | ClaudeEvent::Other(_) => {}
        ClaudeEvent::Result(result) => {
            transcript.usage = token_usage(&result.usage);
            if result.is_error == Some(true) {
                transcript.push_error(result.result.as_deref().unwrap_or("is_error: true"));
            }
            transcript.set_activity("finished");
            transcript.last_result = Some((**result).clone());
        }
    }
}

fn observe_block(transcript: &mut Transcript, block: &ContentBlock, is_api_error: bool) {
    match block {
        ContentBlock::Text { text } if is_api_error => {
            transcript.push_error(text);
            transcript.set_activity(text.as_str());
        }
        ContentBlock::Text { text } => transcript.set_activity(text.as_str()),
        ContentBlock::ToolUse { id, name, input } => {
            let field = |key: &str| input.get(key).and_then(|value| value.as_str());
            match (name.as_str(), field("command"), field("file_path")) {
                ("Bash", Some(command), _) => {
                    transcript.push_command(id, command);
                    transcript.set_activity(format!("$ {command}"));
                }
                (_, _, Some(path)) => {
                    let shown = transcript.relative(path);
                    transcript.set_activity(format!("{name} {shown}"));
                }
                _ => transcript.set_activity(name.as_str()),
            }
        }
        ContentBlock::ToolResult { .. } | ContentBlock::Thinking { .. } => {}
        ContentBlock::Other(_) => {}
    }
}

/// Claude's usage in Codex's convention: cache reads and writes count as input.
fn token_usage(usage: &ClaudeUsage) -> TokenUsage {
    TokenUsage {
        input_tokens: usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens,
        cached_input_tokens: usage.cache_read_input_tokens,
        output_tokens: usage.output_tokens,
        reasoning_output_tokens: usage.output_tokens_details.as_ref().map_or(0, |details| details.thinking_tokens),
    }
}

/// The result of the last `result` event, or `None` when there was none.
pub(super) fn structured_result(transcript: &Transcript) -> Option<Judged> {
    let result = transcript.last_result.as_ref()?;
    let text = result.result.clone().map(String::into_bytes);
    if result.is_error == Some(true) {
        let message = result.result.as_deref().unwrap_or("no message");
        return Some(Judged::blocked(format!("the agent reported an error: {message}"), text));
    }
    Some(match &result.structured_output {
        None => Judged::blocked("the agent gave no structured result (structured_output is null)", text),
        Some(value) => judge_value(value.clone()),
    })
}

/// True when the output looks like Claude Code's refusal to skip permissions as root.
pub(super) fn refused_as_root(exit_code: Option<i32>, output: &str) -> bool {
    exit_code == Some(1)
        && output.contains("dangerously-skip-permissions")
        && (output.contains("root") || output.contains("sudo"))
}

#[cfg(test)]
mod tests {
    use super::compact_schema;

    #[test]
    fn the_schema_is_compacted_without_its_dollar_schema_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("result.schema.json");
        std::fs::write(&path, crate::prompt::RESULT_SCHEMA).expect("schema written");
        let compact: serde_json::Value =
            serde_json::from_str(&compact_schema(&path).expect("compacted")).expect("JSON");
        let mut expected: serde_json::Value = serde_json::from_str(crate::prompt::RESULT_SCHEMA).expect("JSON");
        expected.as_object_mut().expect("an object").remove("$schema");
        assert_eq!(compact, expected);
        assert_eq!(compact.get("$schema"), None);
        assert_eq!(compact["required"][0], "result");
    }
}
