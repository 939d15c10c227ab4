//! The Landlock sandbox's process side: the git-dispatch binary re-executed as a small trampoline
//! in two hidden stages (no `pre_exec`, so `unsafe` stays forbidden), prepended to every program
//! a Landlock run starts (SETUP, the `--version` probe, the agent, `--verify` commands).
//!
//! 1. `git-dispatch __confine --grace-ms N --parent PID -- <stage 2...>`: the supervisor
//!    (`process::supervise_tree`): a child subreaper whose parent-death signal stops it, that
//!    kills every descendant when the program ends, when it is stopped, or when git-dispatch dies.
//! 2. `git-dispatch __confine-exec [--tree|--device|--terminal PATH]... -- PROGRAM ARGS...`, in
//!    the program's own process, in this order: parent-death signal SIGKILL (checked against the
//!    supervisor's pid, so a supervisor that died first is noticed), a new session (no
//!    controlling terminal), no_new_privs, the Landlock rules, every capability dropped (bounding,
//!    ambient, inheritable, effective, permitted: an agent started by root keeps none), a seccomp
//!    filter that refuses `ioctl(TIOCSTI)` and `ioctl(TIOCLINUX)` (the low 32 bits of the request
//!    are compared, as the kernel does), then `exec`.
//!
//! A stage that cannot do all of this refuses to start the program (exit 126, one line on
//! stderr): a run never gets less than it records.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context as _;

use super::landlock::{self, Grant};
use crate::process::{self, TreeArgs};

/// The hidden subcommand of the supervisor (stage 1).
pub const SUPERVISE: &str = "__confine";

/// The hidden subcommand of the confining exec (stage 2).
pub const EXEC: &str = "__confine-exec";

/// The exit code of a stage that could not confine or start the program.
const CANNOT_CONFINE: i32 = 126;

/// The argv prefix that starts a program confined by `grants`: the caller appends the program and
/// its arguments.
pub(super) fn wrapper(grants_args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let exe = std::env::current_exe().context("finding the git-dispatch binary (the sandbox's trampoline)")?;
    let mut stage2: Vec<OsString> = vec![exe.clone().into_os_string(), EXEC.into()];
    stage2.extend(grants_args);
    stage2.push("--".into());
    let tree = TreeArgs { grace: process::DEFAULT_GRACE, parent: std::process::id(), argv: stage2 };
    let mut argv: Vec<OsString> = vec![exe.into_os_string(), SUPERVISE.into()];
    argv.extend(tree.to_args());
    Ok(argv)
}

/// Runs stage 1 or 2 when `args` (the binary's arguments after its name) name one; `None`
/// otherwise. The exit code to end with.
pub fn run_hidden_stage(args: &[OsString]) -> Option<i32> {
    let (first, rest) = args.split_first()?;
    let outcome = match first.to_str()? {
        SUPERVISE => TreeArgs::parse(rest).and_then(|tree| process::supervise_tree(&tree)),
        EXEC => exec_confined(rest).map(|()| 0),
        _ => return None,
    };
    Some(outcome.unwrap_or_else(|error| {
        eprintln!("git-dispatch: cannot start the program confined: {error:#}");
        CANNOT_CONFINE
    }))
}

/// Stage 2: confines this process as the module says, then becomes the program. Returns only on
/// failure.
fn exec_confined(args: &[OsString]) -> anyhow::Result<()> {
    let (grants, argv) = parse_exec_args(args)?;
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).context("prctl(PR_SET_PDEATHSIG)")?;
    let supervisor = std::env::var(process::SUPERVISOR_ENV).context("no supervisor")?;
    anyhow::ensure!(nix::unistd::getppid().as_raw().to_string() == supervisor, "the supervisor is gone");
    nix::unistd::setsid().context("setsid")?;
    nix::sys::prctl::set_no_new_privs().context("prctl(PR_SET_NO_NEW_PRIVS)")?;
    landlock::enforce(&grants)?;
    drop_capabilities()?;
    refuse_terminal_injection()?;
    Err(process::exec(&argv, &[process::SUPERVISOR_ENV])).with_context(|| format!("starting {:?}", argv[0]))
}

/// The Landlock grants of stage 2.
type Grants = Vec<(PathBuf, Grant)>;

/// `[--tree|--device|--terminal PATH]... -- PROGRAM ARGS...`
fn parse_exec_args(args: &[OsString]) -> anyhow::Result<(Grants, Vec<OsString>)> {
    let mut grants = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            let argv: Vec<OsString> = rest.cloned().collect();
            anyhow::ensure!(!argv.is_empty(), "no program to start");
            return Ok((grants, argv));
        }
        let grant = arg.to_str().and_then(landlock::grant_flag).with_context(|| format!("unexpected {arg:?}"))?;
        let path = rest.next().with_context(|| format!("a path after {arg:?}"))?;
        grants.push((PathBuf::from(path), grant));
    }
    anyhow::bail!("no `--` before the program")
}

/// Drops every capability of this process for good (a no-op for a user who has none).
fn drop_capabilities() -> anyhow::Result<()> {
    use caps::{CapSet, Capability};
    if caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).context("reading the capabilities")? {
        caps::clear(None, CapSet::Bounding).context("dropping the bounding capabilities")?;
    }
    for set in [CapSet::Ambient, CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        caps::clear(None, set).with_context(|| format!("dropping the {set:?} capabilities"))?;
    }
    let left = caps::read(None, CapSet::Permitted).context("reading the capabilities")?;
    anyhow::ensure!(left.is_empty(), "capabilities left after dropping them: {left:?}");
    Ok(())
}

/// A seccomp filter: `ioctl` with TIOCSTI (push input into a terminal) or TIOCLINUX fails with
/// EPERM; every other system call is allowed.
fn refuse_terminal_injection() -> anyhow::Result<()> {
    use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule};
    let request = |value: u64| -> anyhow::Result<SeccompRule> {
        let condition = SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)?;
        Ok(SeccompRule::new(vec![condition])?)
    };
    // The request's C type differs between C libraries (unsigned long, int).
    #[allow(clippy::unnecessary_cast)]
    let rules = vec![request(nix::libc::TIOCSTI as u64)?, request(nix::libc::TIOCLINUX as u64)?];
    let arch = std::env::consts::ARCH.try_into().map_err(|error| anyhow::anyhow!("seccomp: {error:?}"))?;
    let filter = SeccompFilter::new(
        [(nix::libc::SYS_ioctl, rules)].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(nix::libc::EPERM as u32),
        arch,
    )
    .context("seccomp: the filter")?;
    let program: seccompiler::BpfProgram = filter.try_into().context("seccomp: compiling the filter")?;
    seccompiler::apply_filter(&program).context("seccomp: installing the filter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_two_arguments_are_grants_then_the_program() {
        let args: Vec<OsString> =
            ["--tree", "/w", "--device", "/dev/null", "--", "prog", "--tree"].iter().map(OsString::from).collect();
        let (grants, argv) = parse_exec_args(&args).expect("parse");
        assert_eq!(grants, vec![(PathBuf::from("/w"), Grant::Tree), (PathBuf::from("/dev/null"), Grant::Device)]);
        assert_eq!(argv, vec![OsString::from("prog"), OsString::from("--tree")]);
        assert!(parse_exec_args(&[OsString::from("--tree")]).is_err());
        assert!(parse_exec_args(&[OsString::from("--")]).is_err());
        assert!(parse_exec_args(&[OsString::from("--bogus"), OsString::from("x")]).is_err());
    }

    #[test]
    fn other_arguments_are_no_hidden_stage() {
        assert_eq!(run_hidden_stage(&[OsString::from("run")]), None);
        assert_eq!(run_hidden_stage(&[]), None);
    }
}
