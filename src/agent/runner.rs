//! Running an agent: its command line through [`crate::process`], events streamed to
//! `events.jsonl` line by line, stderr to `stderr.txt`, the live status line, and afterwards
//! `result.json` (the agent's result, or a `blocked` record saying why there is none).

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

use super::events::parse_line;
use super::outcome::{blocked_record, Judged};
use super::status::LiveStatus;
use super::transcript::Transcript;
use super::{claude, codex, AgentKind, AgentReport, AgentRequest, StructuredResult};
use crate::process::{self, KillReason, Outcome, ProcessSpec};

/// How much of the agent's stderr is kept in memory for diagnostics (the file has it all).
const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// Runs the agent of `request` to its end. Agent failures (exit codes, watchdog, no result) are
/// in the report; `Err` only for our own I/O problems (the run folder cannot be written, the
/// program cannot be started).
pub fn run(request: &AgentRequest<'_>) -> anyhow::Result<AgentReport> {
    let started_at = chrono::Utc::now();
    let result_path = request.run_dir.join("result.json");
    let raw_path = request.run_dir.join("result.raw.txt");
    remove_if_present(&result_path)?;
    remove_if_present(&raw_path)?;
    if request.kind == AgentKind::Codex {
        remove_if_present(&codex::output_file(request))?;
    }
    let spec = process_spec(request)?;
    let probe = super::probe::Probe { wrapper: &request.wrapper, env: &request.extra_env };
    let version = super::probe::version(request.kind.program_name(), &request.program, request.cwd, &probe);
    let status = LiveStatus::start(request.kind.program_name(), request.quiet);
    let streamed = stream(request, &spec, &status)?;
    if request.kind == AgentKind::Codex {
        codex::collect_output(request)?;
    }
    let judged = judge(request, &streamed)?;
    write_result(request.kind, &result_path, &raw_path, &judged)?;
    let report = report(request, &spec, version, streamed, judged.result, started_at);
    status.finish(&report.summary_line());
    Ok(report)
}

/// The agent's argv (after the wrapper, if any) as a process spec with the request's limits.
fn process_spec(request: &AgentRequest<'_>) -> anyhow::Result<ProcessSpec> {
    let agent_args = match request.kind {
        AgentKind::Codex => codex::args(request),
        AgentKind::Claude => claude::args(request)?,
    };
    let mut argv: Vec<OsString> = request.wrapper.clone();
    argv.push(request.program.clone().into());
    argv.extend(agent_args);
    let mut spec =
        ProcessSpec::new(argv.remove(0), request.cwd).args(argv).timeout(request.timeout).heartbeat(request.heartbeat);
    spec.env = request.extra_env.clone();
    spec.cancel = request.cancel.clone();
    Ok(spec)
}

/// What the streaming phase produced.
struct Streamed {
    outcome: Outcome,
    transcript: Transcript,
    stderr_tail: Vec<u8>,
}

fn stream(request: &AgentRequest<'_>, spec: &ProcessSpec, status: &LiveStatus) -> anyhow::Result<Streamed> {
    let events_path = request.run_dir.join("events.jsonl");
    let mut events = File::create(&events_path).with_context(|| format!("creating {}", events_path.display()))?;
    let stderr_path = request.run_dir.join("stderr.txt");
    let mut stderr = TailingFile {
        file: File::create(&stderr_path).with_context(|| format!("creating {}", stderr_path.display()))?,
        tail: Vec::new(),
    };
    let mut transcript = Transcript::new(request.worktree);
    let mut write_error: Option<std::io::Error> = None;
    let mut line_buffer = Vec::new();
    let outcome = process::run_streaming(
        spec,
        &mut |line| {
            if write_error.is_none() {
                write_error = write_line(&mut events, &mut line_buffer, line).err();
            }
            transcript.observe(&parse_line(request.kind, line));
            status.update(transcript.activity.as_deref(), transcript.tokens_so_far().total());
            if let (Some(on_activity), Some(activity)) = (request.on_activity, transcript.activity.as_deref()) {
                on_activity.activity(activity);
            }
        },
        &mut stderr,
    );
    let outcome = outcome?;
    if let Some(error) = write_error {
        return Err(error).with_context(|| format!("writing {}", events_path.display()));
    }
    Ok(Streamed { outcome, transcript, stderr_tail: stderr.tail })
}

/// Appends one event line with its newline in one write (unbuffered: a reader of the run folder
/// sees it at once, and never without its newline unless the disk is full).
fn write_line(file: &mut File, buffer: &mut Vec<u8>, line: &[u8]) -> std::io::Result<()> {
    buffer.clear();
    buffer.extend_from_slice(line);
    buffer.push(b'\n');
    file.write_all(buffer)
}

/// The agent's result, or the reason it has none.
fn judge(request: &AgentRequest<'_>, streamed: &Streamed) -> anyhow::Result<Judged> {
    let outcome = &streamed.outcome;
    let found = match request.kind {
        // Codex creates its `-o` file empty at start: after a failure, the failure is the reason.
        AgentKind::Codex => {
            codex::read_result(request.run_dir)?.filter(|judged| !(judged.is_empty() && failed(streamed)))
        }
        AgentKind::Claude => {
            let output = diagnostic_output(streamed);
            if claude::refused_as_root(outcome.exit_code, &output) {
                return Ok(Judged::blocked(claude::ROOT_REFUSAL, None));
            }
            claude::structured_result(&streamed.transcript)
        }
    };
    Ok(match found {
        Some(judged) => judged,
        None => Judged::blocked(missing_reason(outcome, &streamed.transcript), None),
    })
}

/// The agent was stopped, reported an error, or did not exit with 0.
fn failed(streamed: &Streamed) -> bool {
    let outcome = &streamed.outcome;
    outcome.killed.is_some() || outcome.exit_code != Some(0) || !streamed.transcript.errors.is_empty()
}

/// The agent's non-JSON stdout lines and the tail of its stderr, as one text.
fn diagnostic_output(streamed: &Streamed) -> String {
    let mut text = streamed.transcript.raw_lines.join("\n");
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&streamed.stderr_tail));
    text
}

/// Why there is no result at all: stopped, an error it reported, or its exit.
fn missing_reason(outcome: &Outcome, transcript: &Transcript) -> String {
    if let Some(reason) = outcome.killed {
        return format!("the agent was stopped before it gave a result: {reason}");
    }
    if let Some(error) = transcript.errors.last() {
        return format!("the agent gave no result: {error}");
    }
    match (outcome.exit_code, outcome.signal) {
        (Some(0), _) => "the agent gave no result".to_string(),
        (Some(code), _) => format!("the agent exited with code {code} and gave no result"),
        (None, Some(signal)) => format!("the agent died of signal {signal} and gave no result"),
        (None, None) => "the agent gave no result".to_string(),
    }
}

/// Writes `result.json` (Codex's valid `-o` file is kept as Codex wrote it) and, for an
/// unusable result, `result.raw.txt` with what the agent gave.
fn write_result(kind: AgentKind, result_path: &Path, raw_path: &Path, judged: &Judged) -> anyhow::Result<()> {
    match &judged.result {
        StructuredResult::Valid(_) if kind == AgentKind::Codex => {}
        StructuredResult::Valid(value) => write_json(result_path, value)?,
        StructuredResult::Blocked { reason } => {
            write_json(result_path, &blocked_record(reason))?;
        }
    }
    if let Some(raw) = &judged.raw {
        write_atomically(raw_path, raw)?;
    }
    Ok(())
}

fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value).context("serialising the result")?;
    text.push(b'\n');
    write_atomically(path, &text)
}

/// Writes a temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, bytes).with_context(|| format!("writing {}", Path::new(&temporary).display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing the old {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn report(
    request: &AgentRequest<'_>,
    spec: &ProcessSpec,
    version: Option<String>,
    streamed: Streamed,
    result: StructuredResult,
    started_at: chrono::DateTime<chrono::Utc>,
) -> AgentReport {
    let Streamed { outcome, mut transcript, .. } = streamed;
    if let StructuredResult::Blocked { reason } = &result {
        if reason == claude::ROOT_REFUSAL {
            transcript.push_error(claude::ROOT_REFUSAL);
        }
    }
    let watchdog = outcome.killed.filter(|reason| !matches!(reason, KillReason::Interrupted | KillReason::Cancelled));
    AgentReport {
        kind: request.kind,
        argv: spec.display_argv(),
        version,
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        watchdog_killed: watchdog.is_some(),
        watchdog_reason: watchdog.map(|reason| reason.to_string()),
        interrupted: outcome.killed == Some(KillReason::Interrupted),
        cancelled: outcome.killed == Some(KillReason::Cancelled),
        result,
        usage: transcript.tokens_so_far(),
        errors: transcript.errors,
        commands: transcript.commands,
        truncated_lines: outcome.truncated_lines,
        started_at,
        ended_at: chrono::Utc::now(),
        duration: outcome.duration,
    }
}

/// The stderr file, keeping the last [`STDERR_TAIL_BYTES`] in memory.
struct TailingFile {
    file: File,
    tail: Vec<u8>,
}

impl Write for TailingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf)?;
        self.tail.extend_from_slice(&buf[..written]);
        if self.tail.len() > STDERR_TAIL_BYTES {
            let excess = self.tail.len() - STDERR_TAIL_BYTES;
            self.tail.drain(..excess);
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
