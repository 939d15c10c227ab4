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
//!    are compared, as the kernel does), then `exec`. With `--net-restrict` (network `api`,
//!    `strict`, `none`), the Landlock rules also refuse every TCP connection but to the ports of
//!    `--net-connect PORT` (the run's proxy), and the seccomp filter refuses sockets TCP rules
//!    cannot see: UDP, raw and other IPv4/IPv6 kinds, families other than unix, IPv4, IPv6 and
//!    netlink, and `io_uring_setup` (its sockets bypass seccomp).
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
        crate::egress::FORWARD => crate::egress::run_forwarder(rest),
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
    let ExecArgs { grants, net, argv } = parse_exec_args(args)?;
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).context("prctl(PR_SET_PDEATHSIG)")?;
    let supervisor = std::env::var(process::SUPERVISOR_ENV).context("no supervisor")?;
    anyhow::ensure!(nix::unistd::getppid().as_raw().to_string() == supervisor, "the supervisor is gone");
    nix::unistd::setsid().context("setsid")?;
    nix::sys::prctl::set_no_new_privs().context("prctl(PR_SET_NO_NEW_PRIVS)")?;
    landlock::enforce(&grants, net.as_deref())?;
    drop_capabilities()?;
    install_filter(net.is_some())?;
    Err(process::exec(&argv, &[process::SUPERVISOR_ENV])).with_context(|| format!("starting {:?}", argv[0]))
}

/// The command line of stage 2.
#[derive(Debug, PartialEq, Eq)]
struct ExecArgs {
    grants: Vec<(PathBuf, Grant)>,
    /// `Some`: the network is restricted to TCP connections to these ports.
    net: Option<Vec<u16>>,
    argv: Vec<OsString>,
}

/// `[--tree|--device|--terminal PATH]... [--net-restrict] [--net-connect PORT]... -- PROGRAM ARGS...`
fn parse_exec_args(args: &[OsString]) -> anyhow::Result<ExecArgs> {
    let (mut grants, mut net) = (Vec::new(), None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.to_str() {
            Some("--") => {
                let argv: Vec<OsString> = rest.cloned().collect();
                anyhow::ensure!(!argv.is_empty(), "no program to start");
                return Ok(ExecArgs { grants, net, argv });
            }
            Some("--net-restrict") => {
                net.get_or_insert_with(Vec::new);
            }
            Some("--net-connect") => {
                let port = rest
                    .next()
                    .and_then(|port| port.to_str()?.parse::<u16>().ok())
                    .context("a port after --net-connect")?;
                net.get_or_insert_with(Vec::new).push(port);
            }
            _ => {
                let grant =
                    arg.to_str().and_then(landlock::grant_flag).with_context(|| format!("unexpected {arg:?}"))?;
                let path = rest.next().with_context(|| format!("a path after {arg:?}"))?;
                grants.push((PathBuf::from(path), grant));
            }
        }
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
/// EPERM; with `net`, so do the sockets of [`socket_rules`] and `io_uring_setup`; every other
/// system call is allowed.
fn install_filter(net: bool) -> anyhow::Result<()> {
    use seccompiler::{SeccompAction, SeccompFilter};
    // The request's C type differs between C libraries (unsigned long, int).
    #[allow(clippy::unnecessary_cast)]
    let ioctl =
        vec![rule(&[(1, Op::Eq, nix::libc::TIOCSTI as u64)])?, rule(&[(1, Op::Eq, nix::libc::TIOCLINUX as u64)])?];
    let mut rules: std::collections::BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        [(nix::libc::SYS_ioctl, ioctl)].into();
    if net {
        rules.insert(nix::libc::SYS_socket, socket_rules()?);
        rules.insert(nix::libc::SYS_io_uring_setup, Vec::new());
    }
    let arch = std::env::consts::ARCH.try_into().map_err(|error| anyhow::anyhow!("seccomp: {error:?}"))?;
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(nix::libc::EPERM as u32), arch)
        .context("seccomp: the filter")?;
    let program: seccompiler::BpfProgram = filter.try_into().context("seccomp: compiling the filter")?;
    seccompiler::apply_filter(&program).context("seccomp: installing the filter")
}

use seccompiler::SeccompCmpOp as Op;

/// A rule matching when every `(argument, op, value)` holds (32-bit compares, as the kernel's
/// `int` arguments are).
fn rule(conditions: &[(u8, Op, u64)]) -> anyhow::Result<seccompiler::SeccompRule> {
    use seccompiler::{SeccompCmpArgLen, SeccompCondition};
    let conditions = conditions
        .iter()
        .map(|(arg, op, value)| SeccompCondition::new(*arg, SeccompCmpArgLen::Dword, op.clone(), *value))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(seccompiler::SeccompRule::new(conditions)?)
}

/// The `socket(domain, type, protocol)` calls Landlock's TCP rules cannot see: a family other
/// than unix, IPv4, IPv6 and netlink; on IPv4/IPv6 any type but a stream, and a stream of another
/// protocol than TCP (SCTP, MPTCP).
fn socket_rules() -> anyhow::Result<Vec<seccompiler::SeccompRule>> {
    use nix::libc::{AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, IPPROTO_TCP, SOCK_STREAM};
    let families = [AF_UNIX, AF_INET, AF_INET6, AF_NETLINK].map(|family| (0, Op::Ne, family as u64));
    let mut rules = vec![rule(&families)?];
    let kinds = [nix::libc::SOCK_DGRAM, nix::libc::SOCK_RAW, nix::libc::SOCK_RDM, nix::libc::SOCK_SEQPACKET, 6, 10];
    for family in [AF_INET, AF_INET6] {
        for kind in kinds {
            rules.push(rule(&[(0, Op::Eq, family as u64), (1, Op::MaskedEq(0xf), kind as u64)])?);
        }
        let other_protocol =
            [(0, Op::Eq, family as u64), (1, Op::MaskedEq(0xf), SOCK_STREAM as u64), (2, Op::Gt, IPPROTO_TCP as u64)];
        rules.push(rule(&other_protocol)?);
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_two_arguments_are_grants_then_the_program() {
        let args: Vec<OsString> =
            ["--tree", "/w", "--device", "/dev/null", "--", "prog", "--tree"].iter().map(OsString::from).collect();
        let parsed = parse_exec_args(&args).expect("parse");
        assert_eq!(
            parsed.grants,
            vec![(PathBuf::from("/w"), Grant::Tree), (PathBuf::from("/dev/null"), Grant::Device)]
        );
        assert_eq!(parsed.argv, vec![OsString::from("prog"), OsString::from("--tree")]);
        assert_eq!(parsed.net, None);
        let net: Vec<OsString> =
            ["--net-restrict", "--net-connect", "3128", "--", "prog"].iter().map(OsString::from).collect();
        assert_eq!(parse_exec_args(&net).expect("parse").net, Some(vec![3128]));
        let none: Vec<OsString> = ["--net-restrict", "--", "prog"].iter().map(OsString::from).collect();
        assert_eq!(parse_exec_args(&none).expect("parse").net, Some(vec![]));
        assert!(parse_exec_args(&["--net-connect".into(), "x".into(), "--".into(), "p".into()]).is_err());
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
