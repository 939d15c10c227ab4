//! Waiting for runs to end without watching the disk every few milliseconds: the run folders are
//! watched with inotify (a state file is replaced by a rename), with a one-second look at the
//! living processes in between (a supervisor that was killed writes nothing), until every run (or,
//! with `any`, one) is over or the timeout passes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::artifacts::state::{RunState, State};
use crate::policy::exit;

use super::observe::observe;

/// The exit code of `wait` when the timeout passed with a run still going.
pub const STILL_RUNNING: i32 = 4;

/// The longest sleep between two looks when nothing is reported (a died supervisor is seen then).
const LOOK_AT_LEAST_EVERY: Duration = Duration::from_secs(1);

/// How a wait ended.
#[derive(Debug, Clone)]
pub struct Waited {
    /// Every waited run's state at the end, in the order asked.
    pub states: Vec<RunState>,
    /// Everything asked for is over (all runs, or one with `any`).
    pub done: bool,
    /// With `any`: the index of the run that ended first.
    pub first: Option<usize>,
}

impl Waited {
    /// `wait`'s exit code: 4 while something asked for is going; else the highest exit code of
    /// the runs (the first one's with `any`), a died run counting as 3, the attempts of one group
    /// counting as one with their best (lowest) code, as `run --attempts` does.
    pub fn exit_code(&self) -> i32 {
        if !self.done {
            return STILL_RUNNING;
        }
        let code = |state: &RunState| match state.state {
            State::Died => exit::VIOLATION,
            _ => state.exit_code.unwrap_or(exit::VIOLATION),
        };
        if let Some(index) = self.first {
            return code(&self.states[index]);
        }
        let mut worst = exit::OK;
        let mut groups: Vec<(&str, i32)> = Vec::new();
        for state in &self.states {
            match state.group.as_deref() {
                None => worst = worst.max(code(state)),
                Some(group) => match groups.iter_mut().find(|(id, _)| *id == group) {
                    Some((_, best)) => *best = (*best).min(code(state)),
                    None => groups.push((group, code(state))),
                },
            }
        }
        groups.into_iter().map(|(_, best)| best).fold(worst, i32::max)
    }
}

/// Waits until the runs in `run_dirs` are over (or one is, with `any`), at most `timeout`
/// (`None`: as long as it takes). `on_tick` is called about once a second while waiting, with the
/// states (for progress reports).
pub fn wait(
    run_dirs: &[PathBuf],
    timeout: Option<Duration>,
    any: bool,
    on_tick: &mut dyn FnMut(&[RunState]),
) -> Waited {
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    let watcher = Watcher::new(run_dirs);
    let mut last_tick = Instant::now();
    loop {
        let states: Vec<RunState> = run_dirs.iter().map(|dir| observe(dir)).collect();
        if let Some(waited) = settled(&states, any) {
            return waited;
        }
        let now = Instant::now();
        if deadline.is_some_and(|deadline| now >= deadline) {
            return Waited { states, done: false, first: None };
        }
        if now.duration_since(last_tick) >= LOOK_AT_LEAST_EVERY {
            on_tick(&states);
            last_tick = now;
        }
        let left = deadline.map_or(LOOK_AT_LEAST_EVERY, |deadline| deadline.saturating_duration_since(now));
        watcher.wait(left.min(LOOK_AT_LEAST_EVERY));
    }
}

/// The end of the wait, if the states are it.
fn settled(states: &[RunState], any: bool) -> Option<Waited> {
    if any {
        let first = states
            .iter()
            .enumerate()
            .filter(|(_, state)| state.state.is_over())
            .min_by(|(_, a), (_, b)| a.ended_at.cmp(&b.ended_at))
            .map(|(index, _)| index)?;
        return Some(Waited { states: states.to_vec(), done: true, first: Some(first) });
    }
    states.iter().all(|state| state.state.is_over()).then(|| Waited {
        states: states.to_vec(),
        done: true,
        first: None,
    })
}

/// inotify on the run folders; when it cannot be had, a short sleep.
struct Watcher {
    inotify: Option<nix::sys::inotify::Inotify>,
}

impl Watcher {
    fn new(run_dirs: &[PathBuf]) -> Watcher {
        use nix::sys::inotify::{AddWatchFlags as F, InitFlags, Inotify};
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok().filter(|inotify| {
            run_dirs
                .iter()
                .all(|dir| inotify.add_watch(dir.as_path(), F::IN_MOVED_TO | F::IN_CLOSE_WRITE | F::IN_CREATE).is_ok())
        });
        Watcher { inotify }
    }

    /// Returns when something changed in a run folder, or after `at_most`.
    fn wait(&self, at_most: Duration) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd as _;
        let Some(inotify) = &self.inotify else {
            std::thread::sleep(at_most.min(Duration::from_millis(100)));
            return;
        };
        let timeout = PollTimeout::try_from(at_most).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        if matches!(poll(&mut fds, timeout), Ok(ready) if ready > 0) {
            let _ = inotify.read_events();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(code: i32, group: Option<&str>) -> RunState {
        let mut state = RunState::queued("r", std::path::Path::new("/nowhere"), false);
        state.state = State::Finished;
        state.exit_code = Some(code);
        state.group = group.map(str::to_string);
        state
    }

    #[test]
    fn a_group_counts_with_its_best_attempt() {
        let waited = |states| Waited { states, done: true, first: None };
        let group = |codes: &[i32]| codes.iter().map(|code| finished(*code, Some("g"))).collect::<Vec<_>>();
        assert_eq!(waited(group(&[3, 0, 3])).exit_code(), 0, "one attempt offered");
        assert_eq!(waited(group(&[3, 2])).exit_code(), 2);
        let mut mixed = group(&[3, 0]);
        mixed.push(finished(3, None));
        assert_eq!(waited(mixed).exit_code(), 3, "a plain run's code still counts");
    }
}
