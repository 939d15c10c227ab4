//! The supervisor of one confined child tree (`git-dispatch __confine`, started by the process
//! module like any child): it stands between git-dispatch and the confined program so that the
//! program's whole tree ends with it, even when git-dispatch is SIGKILLed.
//!
//! - It is a child subreaper: whatever the program starts, even a daemon that left its process
//!   group and session (`setsid`, double fork), stays its descendant.
//! - Its parent-death signal is SIGTERM, set in itself and checked against the expected parent
//!   (so a parent that died before the `prctl` is noticed): when git-dispatch dies, it stops.
//! - SIGTERM, SIGINT or SIGHUP (the watchdog, the parent's death) are passed on as SIGTERM to the
//!   program's process group; after the grace period every descendant is SIGKILLed.
//! - When the program ends, every descendant left is SIGKILLed and reaped, and the supervisor
//!   exits as the program did (same code, or the same signal).
//!
//! The program is started through a second stage (`__confine-exec`, see `sandbox::confine`) that
//! sets its own parent-death signal (SIGKILL, so it dies with this supervisor), a new session,
//! and the confinement, then `exec`s: none of that can be set from outside without `pre_exec`.

use std::ffi::OsString;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::reaper;

/// Set for the supervised program to the supervisor's pid (its expected parent); the second stage
/// checks it and removes it before `exec`.
pub const SUPERVISOR_ENV: &str = "GIT_DISPATCH_SUPERVISOR_PID";

/// How often the supervisor looks at its children and the stop flag.
const POLL: Duration = Duration::from_millis(10);

/// The supervisor's command line after its subcommand: `--grace-ms N --parent PID -- ARGV...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeArgs {
    pub grace: Duration,
    /// The pid the supervisor's parent must have (git-dispatch).
    pub parent: u32,
    /// The program to start (the second stage) and its arguments.
    pub argv: Vec<OsString>,
}

impl TreeArgs {
    /// The arguments, as [`TreeArgs::parse`] reads them.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--grace-ms".into(),
            self.grace.as_millis().to_string().into(),
            "--parent".into(),
            self.parent.to_string().into(),
            "--".into(),
        ];
        args.extend(self.argv.iter().cloned());
        args
    }

    pub fn parse(args: &[OsString]) -> anyhow::Result<TreeArgs> {
        let mut grace = None;
        let mut parent = None;
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let mut value = || rest.next().and_then(|v| v.to_str()).context("a number after the option");
            match arg.to_str() {
                Some("--grace-ms") => grace = Some(Duration::from_millis(value()?.parse()?)),
                Some("--parent") => parent = Some(value()?.parse()?),
                Some("--") => break,
                _ => anyhow::bail!("unexpected argument {arg:?}"),
            }
        }
        let argv: Vec<OsString> = rest.cloned().collect();
        anyhow::ensure!(!argv.is_empty(), "no program to start");
        Ok(TreeArgs {
            grace: grace.context("--grace-ms is missing")?,
            parent: parent.context("--parent is missing")?,
            argv,
        })
    }
}

/// Runs the supervisor; returns the exit code to end with (the program's), after re-raising
/// the program's fatal signal on itself when it died of one.
pub fn supervise(args: &TreeArgs) -> anyhow::Result<i32> {
    // Into the child's cgroup first (where git-dispatch made one), before anything is started.
    if let Some(procs) = std::env::var_os(super::cgroup::CGROUP_PROCS_ENV) {
        super::cgroup::add_to(std::path::Path::new(&procs), std::process::id());
    }
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).context("prctl(PR_SET_PDEATHSIG)")?;
    anyhow::ensure!(nix::unistd::getppid().as_raw() as u32 == args.parent, "git-dispatch is gone");
    reaper::become_subreaper()?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the stop handler")?;
    }
    let mut command = Command::new(&args.argv[0]);
    command.args(&args.argv[1..]).env(SUPERVISOR_ENV, std::process::id().to_string());
    let child = command.spawn().with_context(|| format!("starting {:?}", args.argv[0]))?;
    let pid = Pid::from_raw(i32::try_from(child.id()).context("pid")?);
    let status = watch(pid, &stop, args.grace);
    reaper::kill_children_of_self(&[]);
    Ok(match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => {
            let _ = signal_hook::low_level::emulate_default_handler(signal as i32);
            128 + signal as i32
        }
        _ => 1,
    })
}

/// Reaps children (orphans included) until `pid` ends; passes a stop on to its group, and kills
/// every descendant once the grace period after the stop is over.
fn watch(pid: Pid, stop: &AtomicBool, grace: Duration) -> WaitStatus {
    let mut kill_at: Option<Instant> = None;
    let mut killed = false;
    // A short program ends within a millisecond or two: start polling fast, then every POLL.
    let mut poll = Duration::from_millis(1);
    loop {
        if stop.load(Ordering::SeqCst) && kill_at.is_none() {
            let _ = killpg(pid, Signal::SIGTERM);
            let _ = nix::sys::signal::kill(pid, Signal::SIGTERM); // before its setsid
            kill_at = Some(Instant::now() + grace);
        }
        if !killed && kill_at.is_some_and(|at| Instant::now() >= at) {
            killed = true;
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            // The program itself is reaped below, so that its signal is reported.
            reaper::kill_children_of_self(&[pid.as_raw() as u32]);
        }
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(status @ (WaitStatus::Exited(child, _) | WaitStatus::Signaled(child, _, _))) if child == pid => {
                return status;
            }
            Ok(WaitStatus::StillAlive) => {
                std::thread::sleep(poll);
                poll = (poll * 2).min(POLL);
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return WaitStatus::Exited(pid, 1), // no child left (cannot happen)
        }
    }
}

/// Runs `argv` as a child sharing this process's standard streams and waits for it; returns the
/// exit code to end with: the child's, or (after re-raising its fatal signal on this process) 128
/// plus the signal. For a stage that must stay alive beside the program (the network forwarder).
pub fn run_relayed(argv: &[OsString]) -> anyhow::Result<i32> {
    use std::os::unix::process::ExitStatusExt as _;
    let (program, args) = argv.split_first().context("no program to run")?;
    let status = Command::new(program).args(args).status().with_context(|| format!("starting {program:?}"))?;
    if let Some(code) = status.code() {
        return Ok(code);
    }
    let signal = status.signal().unwrap_or(nix::libc::SIGKILL);
    let _ = signal_hook::low_level::emulate_default_handler(signal);
    Ok(128 + signal)
}

/// Replaces this process with `argv` (the environment less `env_remove`, the working folder as
/// it is); returns only on failure.
pub fn exec(argv: &[OsString], env_remove: &[&str]) -> std::io::Error {
    use std::os::unix::process::CommandExt as _;
    let Some((program, args)) = argv.split_first() else {
        return std::io::Error::other("no program to run");
    };
    let mut command = Command::new(program);
    command.args(args);
    for name in env_remove {
        command.env_remove(name);
    }
    command.exec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_round_trip() {
        let args = TreeArgs {
            grace: Duration::from_millis(1500),
            parent: 42,
            argv: vec!["prog".into(), "--grace-ms".into(), "x".into()],
        };
        assert_eq!(TreeArgs::parse(&args.to_args()).expect("parse"), args);
        assert!(TreeArgs::parse(&["--".into()]).is_err());
        assert!(TreeArgs::parse(&["--bogus".into()]).is_err());
    }
}
