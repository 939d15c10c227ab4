//! Process groups and signals, behind `cfg(unix)`; elsewhere the child alone is killed.

use std::process::{Child, Command, ExitStatus};

/// What to send to a child's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GroupSignal {
    /// SIGTERM: ask the group to stop.
    Terminate,
    /// SIGKILL: stop the group now.
    Kill,
}

/// Makes the child the leader of a new process group (its pid is the group id).
#[cfg(unix)]
pub(super) fn own_group(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    command.process_group(0);
}

#[cfg(not(unix))]
pub(super) fn own_group(_command: &mut Command) {}

/// Sends `signal` to the child's whole group. Errors (the group is already gone) are ignored.
///
/// The group id is the child's pid; it stays reserved while any member of the group lives, so
/// signalling it after the leader was reaped reaches only what is left of that same group.
#[cfg(unix)]
pub(super) fn signal(child: &mut Child, signal: GroupSignal) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    let Ok(raw_pid) = i32::try_from(child.id()) else {
        return;
    };
    let signal = match signal {
        GroupSignal::Terminate => Signal::SIGTERM,
        GroupSignal::Kill => Signal::SIGKILL,
    };
    let _ = killpg(Pid::from_raw(raw_pid), signal);
}

#[cfg(not(unix))]
pub(super) fn signal(child: &mut Child, _signal: GroupSignal) {
    let _ = child.kill();
}

/// The signal that ended the child, if a signal did.
#[cfg(unix)]
pub(super) fn exit_signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt as _;
    status.signal()
}

#[cfg(not(unix))]
pub(super) fn exit_signal(_status: &ExitStatus) -> Option<i32> {
    None
}
