//! The one place that starts child processes.
//!
//! `std::process::Command` appears nowhere else in the crate: agent CLIs, `--version` probes,
//! SETUP and verification commands all start here, so that every child
//! - runs in its own process group, so that its whole tree can be signalled at once;
//! - reads `/dev/null` as its standard input;
//! - has stdout and stderr drained on their own threads (a chatty child cannot deadlock a pipe);
//! - is bounded by a hard timeout and an optional heartbeat (no stdout for that long);
//! - on expiry, or when git-dispatch is interrupted ([`install_interrupt_handler`]), gets SIGTERM
//!   sent to its group, then SIGKILL after a grace period;
//! - leaves nothing behind: whatever is left of its group when it ends is SIGKILLed (its exit is
//!   seen before it is reaped, so the group id is still its own); in a child subreaper
//!   ([`become_subreaper`], the binary does it) the orphans of its tree too, once no child is left;
//! - is confined by the argv prefix of its sandbox, if any (bwrap, or the git-dispatch binary's own
//!   trampoline for Landlock, whose supervisor is [`supervise_tree`]).
//!
//! A stdout line longer than [`MAX_LINE_BYTES`] is cut to that length (the rest is dropped and
//! counted in [`Outcome::truncated_lines`]), so that one endless line cannot exhaust memory.

pub mod cgroup;
mod group;
mod interrupt;
mod lines;
mod reaper;
mod supervise;
mod tree;

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

pub use interrupt::{clear_interrupt, install_interrupt_handler, interrupted, request_interrupt};
pub use reaper::{become_subreaper, children_of, is_subreaper};
pub use tree::{exec, run_relayed, supervise as supervise_tree, TreeArgs, SUPERVISOR_ENV};

/// The longest stdout line handed to `on_line` by [`run_streaming`]; longer lines are truncated.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// The most bytes [`run_captured`] keeps of each of stdout and stderr; the rest is counted.
pub const MAX_CAPTURED_BYTES: usize = 64 * 1024 * 1024;

/// The default time between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// What to run and under which limits.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// Variables removed from the inherited environment.
    pub env_remove: Vec<OsString>,
    /// Hard wall-clock limit; `Duration::ZERO` means none.
    pub timeout: Duration,
    /// Kill when stdout stays silent this long; `None` or zero means no heartbeat.
    pub heartbeat: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the child is stopped.
    pub grace: Duration,
    /// Stops the child (as `Cancelled`) once set: `git dispatch cancel` of one run.
    pub cancel: Option<Cancel>,
}

/// A request to stop one run's children, shared between whoever asks (a watcher of the run
/// folder) and the supervision loops of those children. Unlike an interrupt it reaches only the
/// children whose spec carries it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks every child carrying this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl ProcessSpec {
    /// A spec with no arguments, no timeout, no heartbeat and the default grace period.
    pub fn new(program: impl Into<OsString>, cwd: impl Into<PathBuf>) -> ProcessSpec {
        ProcessSpec {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Vec::new(),
            env_remove: Vec::new(),
            timeout: Duration::ZERO,
            heartbeat: None,
            grace: DEFAULT_GRACE,
            cancel: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> ProcessSpec {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, A>(mut self, args: I) -> ProcessSpec
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> ProcessSpec {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> ProcessSpec {
        self.timeout = timeout;
        self
    }

    pub fn heartbeat(mut self, heartbeat: Duration) -> ProcessSpec {
        self.heartbeat = Some(heartbeat);
        self
    }

    pub fn grace(mut self, grace: Duration) -> ProcessSpec {
        self.grace = grace;
        self
    }

    /// The command line as text, for messages and records.
    pub fn display_argv(&self) -> Vec<String> {
        std::iter::once(&self.program).chain(&self.args).map(|part| part.to_string_lossy().into_owned()).collect()
    }
}

/// Why the child was stopped by us rather than ending on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    /// The hard timeout (the limit) expired.
    Timeout(Duration),
    /// Stdout stayed silent for the heartbeat period.
    Heartbeat(Duration),
    /// git-dispatch received SIGINT or SIGTERM.
    Interrupted,
    /// The run was cancelled ([`Cancel`]).
    Cancelled,
}

/// The seed's `watchdog_reason` wording: "hard timeout (30s)", "heartbeat stall (300s without
/// stdout)", "interrupted".
impl fmt::Display for KillReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillReason::Timeout(limit) => write!(f, "hard timeout ({}s)", limit.as_secs()),
            KillReason::Heartbeat(limit) => {
                write!(f, "heartbeat stall ({}s without stdout)", limit.as_secs())
            }
            KillReason::Interrupted => f.write_str("interrupted"),
            KillReason::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code, when the child exited rather than died of a signal.
    pub exit_code: Option<i32>,
    /// The signal that ended the child, if one did.
    pub signal: Option<i32>,
    /// Set when we stopped the child.
    pub killed: Option<KillReason>,
    pub duration: Duration,
    /// How many stdout lines were longer than [`MAX_LINE_BYTES`] and cut.
    pub truncated_lines: usize,
}

impl Outcome {
    /// Exited by itself with code 0.
    pub fn success(&self) -> bool {
        self.killed.is_none() && self.exit_code == Some(0)
    }
}

/// A finished child with its whole output.
#[derive(Debug, Clone)]
pub struct Captured {
    pub outcome: Outcome,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes dropped beyond [`MAX_CAPTURED_BYTES`] (stdout and stderr together).
    pub dropped_bytes: u64,
}

/// Runs `spec` to its end. Stdout lines go to `on_line` as they arrive (the raw bytes of the line,
/// without the newline); stderr bytes go to `stderr_sink` as they arrive.
///
/// Errors are our own problems only (the program cannot be started, a sink fails); a child that
/// fails, times out or is interrupted is an `Ok` [`Outcome`]. On an error the child's group is
/// killed before returning.
pub fn run_streaming(
    spec: &ProcessSpec,
    on_line: &mut dyn FnMut(&[u8]),
    stderr_sink: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let mut splitter = lines::LineSplitter::new(MAX_LINE_BYTES);
    let mut on_stdout = |chunk: &[u8]| {
        splitter.feed(chunk, on_line);
        Ok(())
    };
    let mut on_stderr = |chunk: &[u8]| {
        stderr_sink.write_all(chunk).and_then(|()| stderr_sink.flush()).context("writing the child's stderr")
    };
    let mut outcome = supervise::run(spec, &mut on_stdout, &mut on_stderr)?;
    splitter.finish(on_line);
    outcome.truncated_lines = splitter.truncated_lines();
    Ok(outcome)
}

/// Runs `spec` to its end and keeps its output (up to [`MAX_CAPTURED_BYTES`] of each stream).
/// For verification and SETUP commands and `--version` probes.
pub fn run_captured(spec: &ProcessSpec) -> anyhow::Result<Captured> {
    let mut stdout = BoundedBuffer::default();
    let mut stderr = BoundedBuffer::default();
    let outcome = supervise::run(
        spec,
        &mut |chunk: &[u8]| {
            stdout.push(chunk);
            Ok(())
        },
        &mut |chunk: &[u8]| {
            stderr.push(chunk);
            Ok(())
        },
    )?;
    Ok(Captured { outcome, dropped_bytes: stdout.dropped + stderr.dropped, stdout: stdout.bytes, stderr: stderr.bytes })
}

/// A child started to outlive this process: a detached run's supervisor (git-dispatch itself).
/// It is not in a process group of its own, so that its first act can be `setsid` (a group
/// leader cannot start a session); dropping this handle neither kills nor waits for it.
#[derive(Debug)]
pub struct DetachedChild {
    child: std::process::Child,
}

impl DetachedChild {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit code if it has already ended (`Some(None)`: killed by a signal).
    pub fn ended(&mut self) -> Option<Option<i32>> {
        self.child.try_wait().ok().flatten().map(|status| status.code())
    }
}

/// Starts `spec` detached: standard input `/dev/null`, standard output and error appended to
/// `log`. No timeout: the supervisor bounds each of its own children.
pub fn spawn_detached(spec: &ProcessSpec, log: &std::path::Path) -> anyhow::Result<DetachedChild> {
    let open_log = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))
    };
    let mut command = std::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(open_log()?)
        .stderr(open_log()?);
    for key in &spec.env_remove {
        command.env_remove(key);
    }
    for (key, value) in &spec.env {
        command.env(key, value);
    }
    // Registered like every child, so that a subreaper's orphan kill never takes it for one.
    let child = reaper::spawn(&mut command, None)
        .with_context(|| format!("starting {} in {}", spec.program.to_string_lossy(), spec.cwd.display()))?;
    Ok(DetachedChild { child })
}

/// Keeps the first [`MAX_CAPTURED_BYTES`] pushed and counts the rest.
#[derive(Default)]
struct BoundedBuffer {
    bytes: Vec<u8>,
    dropped: u64,
}

impl BoundedBuffer {
    fn push(&mut self, chunk: &[u8]) {
        let room = MAX_CAPTURED_BYTES.saturating_sub(self.bytes.len());
        let kept = room.min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..kept]);
        self.dropped += (chunk.len() - kept) as u64;
    }
}
