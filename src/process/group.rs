//! Process groups, signals and exits observed without reaping (Linux).

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
pub(super) fn own_group(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    command.process_group(0);
}

/// Sends `signal` to the child's whole group. Errors (the group is already gone) are ignored.
///
/// Only call this while the child is not reaped (running, or a zombie seen by [`exited`]): its
/// pid, and so the group id, cannot be reused by another process until it is reaped. After the
/// reap, an unrelated process could have taken the pid and made itself a group leader.
pub(super) fn signal(child: &Child, signal: GroupSignal) {
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

/// True once the child has ended, without reaping it (`waitid(WNOWAIT)`): it stays a zombie, so
/// its pid and group id stay reserved until [`super::reaper::reap`]. `block` waits for the end.
pub(super) fn exited(child: &Child, block: bool) -> std::io::Result<bool> {
    use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).map_err(std::io::Error::other)?);
    let mut flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    if !block {
        flags |= WaitPidFlag::WNOHANG;
    }
    loop {
        return match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) => Ok(false),
            Ok(_) => Ok(true),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => Err(std::io::Error::from(errno)),
        };
    }
}

/// The signal that ended the child, if a signal did.
pub(super) fn exit_signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt as _;
    status.signal()
}
