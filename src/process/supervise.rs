//! Starting one child and watching it to its end: pipes, watchdog, TERM then KILL, cleanup.
//!
//! The child's exit is observed without reaping it (`waitid(WNOWAIT)`, see `group::exited`);
//! only then is what is left of its group killed, and the child reaped after that, so that the
//! group id signalled is always still the child's (no pid reuse). There is no SIGCHLD handler
//! (the `wait-timeout` crate installed one for the whole process): the watchdog polls every
//! [`TICK`].

use std::io::Read;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::cgroup::{Cgroup, CGROUP_PROCS_ENV};
use super::group::{self, GroupSignal};
use super::{interrupted, reaper, KillReason, Outcome, ProcessSpec};

/// How often the watchdog looks at the clock, the child and the interrupt flag.
const TICK: Duration = Duration::from_millis(50);

/// The first wait for the child's exit once its pipes closed (doubled up to [`TICK`]): a child
/// closes its pipes a moment before it can be waited for, and a whole tick there was most of
/// the time of a short command (a `bwrap` probe: 34 ms instead of 5).
const FIRST_EXIT_POLL: Duration = Duration::from_millis(1);

/// After the child exited and its group was killed, how long to wait for the pipes to close
/// (a process that left the group may hold them open forever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Bytes read from a pipe at once.
const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks in flight between the reader threads and the supervisor (bounds memory).
const CHANNEL_CHUNKS: usize = 16;

type Sink<'a> = dyn FnMut(&[u8]) -> anyhow::Result<()> + 'a;

enum Piped {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// The stage of stopping a child that we decided to stop.
enum Stopping {
    No,
    Terminated { kill_at: Instant },
    Killed,
}

/// The child and its group; dropping it while the child is unreaped kills the group and reaps
/// the child (once reaped, the group is never signalled again: its id may belong to another).
struct Guarded {
    child: Child,
    status: Option<ExitStatus>,
    /// The child's own cgroup, where one could be made: emptied with the group, removed on drop.
    cgroup: Option<Cgroup>,
}

impl Guarded {
    /// When the child has ended (`block`: wait for it): kill what is left of its group while the
    /// child is a zombie, then reap it. True once reaped.
    fn settle(&mut self, block: bool) -> anyhow::Result<bool> {
        if self.status.is_some() {
            return Ok(true);
        }
        if !group::exited(&self.child, block).context("waiting for the child")? {
            return Ok(false);
        }
        // Whatever is left of the group (background grandchildren) goes now, and whatever left
        // the group but not the cgroup.
        group::signal(&self.child, GroupSignal::Kill);
        if let Some(cgroup) = &self.cgroup {
            cgroup.kill_all();
        }
        self.status = Some(reaper::reap(&mut self.child).context("reaping the child")?);
        Ok(true)
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if self.status.is_none() {
            group::signal(&self.child, GroupSignal::Kill);
            let _ = self.settle(true);
        }
    }
}

/// Runs `spec`, handing stdout and stderr chunks to the sinks as they arrive.
pub(super) fn run(spec: &ProcessSpec, on_stdout: &mut Sink<'_>, on_stderr: &mut Sink<'_>) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let cgroup = Cgroup::create();
    let child = spawn(spec, cgroup.as_ref())?;
    let mut guarded = Guarded { child, status: None, cgroup };
    let receiver = start_readers(&mut guarded.child)?;
    let killed = watch(spec, &mut guarded, &receiver, on_stdout, on_stderr, started)?;
    let status = guarded.status.expect("watch returns only after the child was reaped");
    Ok(Outcome {
        exit_code: status.code(),
        signal: group::exit_signal(&status),
        killed,
        duration: started.elapsed(),
        truncated_lines: 0,
    })
}

fn spawn(spec: &ProcessSpec, cgroup: Option<&Cgroup>) -> anyhow::Result<Child> {
    let mut command = Command::new(&spec.program);
    command.args(&spec.args).current_dir(&spec.cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for key in &spec.env_remove {
        command.env_remove(key);
    }
    for (key, value) in &spec.env {
        command.env(key, value);
    }
    if let Some(cgroup) = cgroup {
        command.env(CGROUP_PROCS_ENV, cgroup.procs_file());
    }
    group::own_group(&mut command);
    reaper::spawn(&mut command, cgroup)
        .with_context(|| format!("starting {} in {}", spec.program.to_string_lossy(), spec.cwd.display()))
}

fn start_readers(child: &mut Child) -> anyhow::Result<Receiver<Piped>> {
    let (sender, receiver) = mpsc::sync_channel(CHANNEL_CHUNKS);
    let stdout: ChildStdout = child.stdout.take().context("the child's stdout pipe")?;
    let stderr: ChildStderr = child.stderr.take().context("the child's stderr pipe")?;
    spawn_reader("stdout", stdout, sender.clone(), Piped::Stdout)?;
    spawn_reader("stderr", stderr, sender, Piped::Stderr)?;
    Ok(receiver)
}

/// Reads `pipe` to its end on a thread of its own. The thread is not joined: if a process that
/// left the group keeps the pipe open, it simply ends when that process does.
fn spawn_reader(
    name: &str,
    mut pipe: impl Read + Send + 'static,
    sender: SyncSender<Piped>,
    wrap: fn(Vec<u8>) -> Piped,
) -> anyhow::Result<()> {
    thread::Builder::new()
        .name(format!("child-{name}"))
        .spawn(move || {
            let mut buffer = vec![0u8; CHUNK_BYTES];
            loop {
                match pipe.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => {
                        if sender.send(wrap(buffer[..read].to_vec())).is_err() {
                            break;
                        }
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        })
        .with_context(|| format!("starting the {name} reader thread"))?;
    Ok(())
}

/// The supervision loop: delivers output, enforces the limits, and returns once the child was
/// reaped and its pipes are closed (or [`DRAIN_AFTER_EXIT`] passed).
fn watch(
    spec: &ProcessSpec,
    guarded: &mut Guarded,
    receiver: &Receiver<Piped>,
    on_stdout: &mut Sink<'_>,
    on_stderr: &mut Sink<'_>,
    started: Instant,
) -> anyhow::Result<Option<KillReason>> {
    let mut killed = None;
    let mut stopping = Stopping::No;
    let mut last_stdout = started;
    let mut pipes_open = true;
    let mut exited_at: Option<Instant> = None;
    let mut last_check = started;
    let mut exit_poll = FIRST_EXIT_POLL;
    loop {
        if pipes_open {
            match receiver.recv_timeout(TICK) {
                Ok(Piped::Stdout(chunk)) => {
                    last_stdout = Instant::now();
                    on_stdout(&chunk)?;
                }
                Ok(Piped::Stderr(chunk)) => on_stderr(&chunk)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => pipes_open = false,
            }
        } else if guarded.status.is_none() {
            thread::sleep(exit_poll);
            exit_poll = (exit_poll * 2).min(TICK);
        }
        let now = Instant::now();
        if now.duration_since(last_check) < TICK && pipes_open {
            continue;
        }
        last_check = now;
        if guarded.settle(false)? {
            let exited = *exited_at.get_or_insert(now);
            if !pipes_open || now.duration_since(exited) >= DRAIN_AFTER_EXIT {
                return Ok(killed);
            }
            continue;
        }
        stopping = match stopping {
            Stopping::No => match expired(spec, started, last_stdout, now) {
                Some(reason) => {
                    killed = Some(reason);
                    group::signal(&guarded.child, GroupSignal::Terminate);
                    Stopping::Terminated { kill_at: now + spec.grace }
                }
                None => Stopping::No,
            },
            Stopping::Terminated { kill_at } if now >= kill_at => {
                group::signal(&guarded.child, GroupSignal::Kill);
                Stopping::Killed
            }
            other => other,
        };
    }
}

/// The reason to stop the child now, if any: interrupt first, then cancel, timeout, heartbeat.
fn expired(spec: &ProcessSpec, started: Instant, last_stdout: Instant, now: Instant) -> Option<KillReason> {
    if interrupted() {
        return Some(KillReason::Interrupted);
    }
    if spec.cancel.as_ref().is_some_and(super::Cancel::is_cancelled) {
        return Some(KillReason::Cancelled);
    }
    if !spec.timeout.is_zero() && now.duration_since(started) >= spec.timeout {
        return Some(KillReason::Timeout(spec.timeout));
    }
    match spec.heartbeat {
        Some(limit) if !limit.is_zero() && now.duration_since(last_stdout) >= limit => {
            Some(KillReason::Heartbeat(limit))
        }
        _ => None,
    }
}
