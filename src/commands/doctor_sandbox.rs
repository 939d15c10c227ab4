//! `doctor`'s sandbox lines: bubblewrap and Landlock probed as a run probes them, what `auto`
//! picks, how the processes of a run are held (child subreaper, the Landlock trampoline, no
//! cgroup), which `--network` modes work, and, as root, what keeps an agent from root's
//! capabilities.

use super::{Check, Status};
use crate::sandbox::{self, Kind};

/// bubblewrap, probed exactly as `--sandbox bwrap|auto` probes it.
pub(super) fn check_bwrap() -> Check {
    let probe = format!("bwrap {}", sandbox::bwrap_probe_args().join(" "));
    let Some(program) = sandbox::bwrap_program() else {
        return Check::new("bwrap", Status::Missing, "bwrap not found on PATH (install bubblewrap)");
    };
    match sandbox::bwrap_usable() {
        Ok(_) => Check::new("bwrap", Status::Ok, format!("{} works ({probe})", program.display())),
        Err(reason) => Check::new("bwrap", Status::Warn, format!("cannot make a sandbox here: {reason}")),
    }
}

/// Landlock, probed as `--sandbox landlock|auto` probes it (a throw-away thread confined).
pub(super) fn check_landlock() -> Check {
    match sandbox::landlock_support() {
        Ok(abi) => Check::new("landlock", Status::Ok, format!("ABI {abi} enforced by this kernel")),
        Err(reason) => Check::new("landlock", Status::Warn, format!("cannot confine an agent here: {reason}")),
    }
}

/// The kind `--sandbox auto` picks from the two probes above (their lines say why).
pub(super) fn check_sandbox() -> Check {
    match sandbox::auto_kind().0 {
        Kind::Bwrap => Check::new("sandbox", Status::Ok, "--sandbox auto picks bwrap"),
        Kind::Landlock => Check::new(
            "sandbox",
            Status::Ok,
            "--sandbox auto picks landlock (bwrap is not usable): writes and the agent's process tree are \
             confined, reads are not, the network through TCP port rules (ABI 4+; see SECURITY.md)",
        ),
        Kind::None => Check::new(
            "sandbox",
            Status::Warn,
            "--sandbox auto picks none (neither bwrap nor Landlock is usable): agents run unconfined",
        ),
    }
}

/// How a run's processes are held: git-dispatch a child subreaper (orphans killed at the end of
/// the run); Landlock programs through the supervisor (new session, parent-death signal, no
/// capabilities, the TIOCSTI filter), which needs seccomp; each child in a cgroup of its own where
/// one can be made.
pub(super) fn check_processes() -> Check {
    let seccomp = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|status| status.lines().any(|line| line.starts_with("Seccomp:")));
    if !crate::process::is_subreaper() {
        return Check::new(
            "processes",
            Status::Warn,
            "cannot become a child subreaper: a daemon that leaves the agent's process group may outlive the run",
        );
    }
    if !seccomp {
        return Check::new(
            "processes",
            Status::Warn,
            "this kernel has no seccomp: --sandbox landlock cannot start agents (their TIOCSTI filter is missing)",
        );
    }
    let cgroups = match crate::process::cgroup::parent() {
        Ok(dir) => format!("each child in a cgroup of its own below {} (cgroup.kill at its end)", dir.display()),
        Err(reason) => format!("no cgroups ({reason})"),
    };
    Check::new(
        "processes",
        Status::Ok,
        format!(
            "child subreaper; Landlock agents get a supervisor that kills their whole tree, a new session, no \
             capabilities and a TIOCSTI filter (seccomp); {cgroups}"
        ),
    )
}

/// As root only: whether the sandbox `auto` picks leaves the agent without root's capabilities.
pub(super) fn check_root() -> Option<Check> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    Some(match sandbox::auto_kind().0 {
        Kind::Bwrap => Check::new(
            "root",
            Status::Ok,
            "running as root: bwrap maps root to root in a user namespace with --cap-drop ALL, so agents have \
             no capability",
        ),
        Kind::Landlock => {
            Check::new("root", Status::Ok, "running as root: Landlock agents drop every capability before they start")
        }
        Kind::None => Check::new(
            "root",
            Status::Warn,
            "running as root without a sandbox: agents run with every capability of root (install bubblewrap)",
        ),
    })
}

/// Which `--network` modes work here: `api`, `strict` and `none` where the sandbox `auto` picks
/// can keep the agent off the network (bubblewrap with a network namespace of its own, probed as
/// a run probes it; Landlock ABI 4+), and always `allow`; and what the default is.
pub(super) fn check_network() -> Check {
    let (kind, _) = sandbox::auto_kind();
    let abi = sandbox::landlock_support().ok();
    let how = match kind {
        Kind::Bwrap => {
            "bwrap gives the agent a network namespace of its own, the proxy reaches it through a unix socket"
                .to_string()
        }
        Kind::Landlock => format!(
            "Landlock ABI {} lets the agent's TCP connections go to the proxy's port only, seccomp refuses UDP",
            abi.unwrap_or(0)
        ),
        Kind::None => String::new(),
    };
    match sandbox::network_enforceable(kind, abi) {
        Ok(()) => Check::new(
            "network",
            Status::Ok,
            format!("--network api (the default), strict, none and allow work with --sandbox auto ({how})"),
        ),
        Err(reason) => Check::new(
            "network",
            Status::Warn,
            format!(
                "only --network allow works with --sandbox auto ({reason}): agents can reach any host, and runs \
                 record a warning"
            ),
        ),
    }
}
