//! Process steps of the fake agent: children that outlive steps, a setsid daemon, a bounded fork
//! bomb, signalling the parent, sleeping and hanging. Helper processes are the fake agent binary
//! itself, re-executed with `--fake-agent-internal <mode>` (no `fork` in safe Rust).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::getppid;

use crate::plan::ChildStdio;

/// The first argument that selects a helper mode.
pub const INTERNAL_FLAG: &str = "--fake-agent-internal";

/// How long a step waits for a helper to report its pid.
const PID_WAIT: Duration = Duration::from_secs(10);

fn helper(mode: &str, args: &[String], stdio: ChildStdio) -> Result<Command> {
    let exe = std::env::current_exe().context("finding the fake agent's own binary")?;
    let mut command = Command::new(exe);
    command.arg(INTERNAL_FLAG).arg(mode).args(args).stdin(Stdio::null());
    if stdio == ChildStdio::Null {
        command.stdout(Stdio::null()).stderr(Stdio::null());
    }
    Ok(command)
}

fn write_pidfile(path: &Path, pid: u32) -> Result<()> {
    let partial = path.with_extension("partial");
    fs::write(&partial, format!("{pid}\n")).with_context(|| format!("writing {}", partial.display()))?;
    fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}

fn append_pid(path: &Path, pid: u32) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(format!("{pid}\n").as_bytes()).with_context(|| format!("appending to {}", path.display()))
}

/// Waits (bounded) until `path` holds at least `lines` lines.
fn wait_for_lines(path: &Path, lines: usize) -> Result<()> {
    let deadline = Instant::now() + PID_WAIT;
    while Instant::now() < deadline {
        let count = fs::read_to_string(path).map(|text| text.lines().count()).unwrap_or(0);
        if count >= lines {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(10));
    }
    bail!("{} did not get {lines} pid line(s) within {PID_WAIT:?}", path.display())
}

/// A child (same process group) that sleeps; kept in `children` so it is never waited for.
pub fn spawn_child(
    sleep_secs: u64,
    pidfile: Option<&Path>,
    stdio: ChildStdio,
    children: &mut Vec<Child>,
) -> Result<u32> {
    let child = helper("sleep", &[sleep_secs.to_string()], stdio)?.spawn().context("spawning a child")?;
    let pid = child.id();
    children.push(child);
    if let Some(path) = pidfile {
        write_pidfile(path, pid)?;
    }
    Ok(pid)
}

/// How a daemon leaves the agent's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detach {
    /// `setsid`: a session (and group) of its own.
    Session,
    /// A process group of its own in the agent's session.
    Group,
}

/// A daemon: an intermediate helper detaches (`setsid`, or starts the daemon in a new process
/// group) and starts the daemon, which writes its pid; the helper exits, orphaning it.
pub fn daemon(pidfile: &Path, sleep_secs: u64, stdio: ChildStdio, detach: Detach) -> Result<u32> {
    let _ = fs::remove_file(pidfile);
    let args = [pidfile.display().to_string(), sleep_secs.to_string(), stdio_name(stdio).to_owned()];
    let mode = if detach == Detach::Session { "daemonize" } else { "daemonize-group" };
    let status = helper(mode, &args, stdio)?.status().context("running the daemonizing helper")?;
    if !status.success() {
        bail!("daemonizing helper failed: {status}");
    }
    wait_for_lines(pidfile, 1)?;
    let text = fs::read_to_string(pidfile).with_context(|| format!("reading {}", pidfile.display()))?;
    text.trim().parse().with_context(|| format!("pidfile {} holds {text:?}", pidfile.display()))
}

fn stdio_name(stdio: ChildStdio) -> &'static str {
    match stdio {
        ChildStdio::Inherit => "inherit",
        ChildStdio::Null => "null",
    }
}

/// A tree of exactly `max` processes, each sleeping; waits (bounded) until all appended their pid.
pub fn fork_bomb(max: u32, sleep_secs: u64, pidfile: Option<&Path>, children: &mut Vec<Child>) -> Result<()> {
    if max == 0 {
        return Ok(());
    }
    let pidfile_arg = pidfile.map(|path| path.display().to_string()).unwrap_or_default();
    let args = [max.to_string(), sleep_secs.to_string(), pidfile_arg];
    let child = helper("bomb", &args, ChildStdio::Null)?.spawn().context("spawning the fork bomb")?;
    children.push(child);
    match pidfile {
        Some(path) => wait_for_lines(path, max as usize),
        None => Ok(()),
    }
}

/// Sends `signal` (KILL by default) to the parent process.
pub fn kill_parent(signal: Option<&str>) -> Result<()> {
    let signal = match signal.unwrap_or("KILL") {
        "KILL" | "SIGKILL" => Signal::SIGKILL,
        "TERM" | "SIGTERM" => Signal::SIGTERM,
        "INT" | "SIGINT" => Signal::SIGINT,
        "HUP" | "SIGHUP" => Signal::SIGHUP,
        other => bail!("unknown signal {other:?}"),
    };
    kill(getppid(), signal).context("signalling the parent")
}

/// Sleeps forever without a sound (until killed).
pub fn hang() -> ! {
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

/// Runs a helper mode (`argv` after [`INTERNAL_FLAG`]).
pub fn internal(args: &[String]) -> ExitCode {
    match run_internal(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fake-agent helper: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run_internal(args: &[String]) -> Result<()> {
    let arg = |index: usize| args.get(index).map(String::as_str).unwrap_or_default();
    let secs =
        |index: usize| -> Result<u64> { arg(index).parse().with_context(|| format!("bad seconds {:?}", arg(index))) };
    match arg(0) {
        "sleep" => thread::sleep(Duration::from_secs(secs(1)?)),
        "daemonize" => {
            nix::unistd::setsid().context("setsid")?;
            let stdio = if arg(3) == "null" { ChildStdio::Null } else { ChildStdio::Inherit };
            helper("daemon", &args[1..3], stdio)?.spawn().context("spawning the daemon")?;
        }
        "daemonize-group" => {
            use std::os::unix::process::CommandExt as _;
            let stdio = if arg(3) == "null" { ChildStdio::Null } else { ChildStdio::Inherit };
            helper("daemon", &args[1..3], stdio)?.process_group(0).spawn().context("spawning the daemon")?;
        }
        "daemon" => {
            write_pidfile(&PathBuf::from(arg(1)), std::process::id())?;
            thread::sleep(Duration::from_secs(secs(2)?));
        }
        "bomb" => bomb(arg(1).parse().context("bad bomb size")?, secs(2)?, arg(3))?,
        other => bail!("unknown helper mode {other:?}"),
    }
    Ok(())
}

/// One node of the fork-bomb tree: records itself, starts the rest split in two subtrees, sleeps.
fn bomb(size: u32, sleep_secs: u64, pidfile: &str) -> Result<()> {
    if !pidfile.is_empty() {
        append_pid(Path::new(pidfile), std::process::id())?;
    }
    let rest = size.saturating_sub(1);
    let mut children = Vec::new();
    for subtree in [rest - rest / 2, rest / 2] {
        if subtree > 0 {
            let args = [subtree.to_string(), sleep_secs.to_string(), pidfile.to_owned()];
            children.push(helper("bomb", &args, ChildStdio::Null)?.spawn().context("spawning")?);
        }
    }
    thread::sleep(Duration::from_secs(sleep_secs));
    for mut child in children {
        let _ = child.wait();
    }
    Ok(())
}
