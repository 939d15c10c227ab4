//! Whether the process that wrote a journal entry still runs, and stopping what a dead run left
//! running. On Linux a process is named by its pid AND its start time (`/proc/<pid>/stat`), so a
//! pid reused by an unrelated process does not keep a dead run "alive"; without a recorded start time,
//! `kill(pid, 0)`.

use std::path::Path;
use std::time::Duration;

use super::Entry;

/// How many times the processes carrying a dead run's marker are looked for and killed (a
/// process may fork while the previous round kills).
const KILL_ROUNDS: usize = 20;

/// One process, named so that a reused pid is told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    pub pid: u32,
    /// Clock ticks after boot when it started (`None` where `/proc` is not available).
    pub start: Option<u64>,
    /// Its pid namespace, as `/proc/<pid>/ns/pid` reads (`pid:[4026531836]`).
    pub namespace: Option<String>,
}

impl ProcessIdentity {
    /// This process.
    pub fn current() -> ProcessIdentity {
        let pid = std::process::id();
        ProcessIdentity {
            pid,
            start: proc_stat(pid).map(|stat| stat.start),
            namespace: pid_namespace(Path::new("/proc/self/ns/pid")),
        }
    }
}

/// What a journal entry says about its writer, seen from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Dead,
    /// Written in another pid namespace: its pid means nothing here, so it is left alone.
    Unknown,
}

/// Whether the process that wrote `entry` still runs.
pub fn liveness(entry: &Entry) -> Liveness {
    process_liveness(&ProcessIdentity {
        pid: entry.pid,
        start: entry.process_start,
        namespace: entry.pid_namespace.clone(),
    })
}

/// Whether the process `identity` names still runs (same pid and, where known, same start time;
/// a zombie is dead). One recorded in another pid namespace is `Unknown`.
pub fn process_liveness(identity: &ProcessIdentity) -> Liveness {
    let here = pid_namespace(Path::new("/proc/self/ns/pid"));
    if identity.namespace.is_some() && identity.namespace != here {
        return Liveness::Unknown;
    }
    match identity.start {
        Some(start) => match proc_stat(identity.pid) {
            Some(stat) if stat.start == start && stat.state != 'Z' && stat.state != 'X' => Liveness::Alive,
            _ => Liveness::Dead,
        },
        None if signal_zero(identity.pid) => Liveness::Alive,
        None => Liveness::Dead,
    }
}

/// SIGKILLs every process whose environment carries `RUN_MARKER_ENV=marker`, round after round
/// until none is left; returns the pids killed, sorted. Never this process.
pub fn kill_marked(marker: &str) -> Vec<i32> {
    let wanted = format!("{}={marker}", super::RUN_MARKER_ENV).into_bytes();
    let me = std::process::id();
    let mut killed = Vec::new();
    for _ in 0..KILL_ROUNDS {
        let found: Vec<u32> = marked_pids(&wanted).into_iter().filter(|pid| *pid != me).collect();
        if found.is_empty() {
            break;
        }
        for pid in found {
            if let Ok(raw) = i32::try_from(pid) {
                if kill(raw) && !killed.contains(&raw) {
                    killed.push(raw);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.sort_unstable();
    killed
}

/// Pids of living (not zombie) processes whose environment holds the entry `wanted`.
fn marked_pids(wanted: &[u8]) -> Vec<u32> {
    let Ok(listing) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for item in listing.flatten() {
        let Some(pid) = item.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(item.path().join("environ")) else {
            continue;
        };
        let zombie = proc_stat(pid).is_none_or(|stat| stat.state == 'Z' || stat.state == 'X');
        if !zombie && environ.split(|byte| *byte == 0).any(|pair| pair == wanted) {
            pids.push(pid);
        }
    }
    pids
}

/// The fields of `/proc/<pid>/stat` used here.
struct ProcStat {
    state: char,
    start: u64,
}

/// `/proc/<pid>/stat`: fields after the command name (which may hold spaces and parentheses)
/// start with field 3 (state); field 22 is the start time.
fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(22 - 3)?.parse().ok()?;
    Some(ProcStat { state, start })
}

fn pid_namespace(link: &Path) -> Option<String> {
    std::fs::read_link(link).ok().map(|target| target.to_string_lossy().into_owned())
}

fn signal_zero(pid: u32) -> bool {
    use nix::errno::Errno;
    let Ok(raw) = i32::try_from(pid) else { return false };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        Err(errno) => errno == Errno::EPERM,
    }
}

fn kill(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_start_time_on_linux() {
        let me = ProcessIdentity::current();
        assert_eq!(me.pid, std::process::id());
        if Path::new("/proc/self/stat").exists() {
            let start = me.start.expect("a start time on Linux");
            assert_eq!(proc_stat(me.pid).map(|s| s.start), Some(start));
        }
    }
}
