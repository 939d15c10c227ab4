//! `cancel`: asks a queued or running run to stop (a cancel request in its run folder, which the
//! run watches), then waits until it is over: the agent's whole process tree stopped the way the
//! watchdog stops it, what it left snapshotted, the verdict `cancelled` (exit 3), the worktree
//! released like any failed run's. A run already over is left as it is; a run whose process died
//! is recovered (what it left running killed, its worktree and branch removed) as the next
//! dispatch would.

use std::path::Path;
use std::time::Duration;

use crate::artifacts::state::{self, RunState, State};

/// What `cancel` did to one run.
#[derive(Debug, Clone)]
pub enum CancelOutcome {
    /// It was already finished or cancelled: nothing to do.
    AlreadyOver(RunState),
    /// It was stopped: its final state.
    Stopped(RunState),
    /// Its process was gone: what it left was recovered (the recovery's messages).
    Recovered(RunState, Vec<String>),
    /// Asked to stop, but still going after the time allowed.
    StillGoing(RunState),
}

/// Cancels the run in `run_dir`, waiting at most `wait_for` for it to stop.
pub fn cancel(run_dir: &Path, wait_for: Duration) -> anyhow::Result<CancelOutcome> {
    let current = super::observe(run_dir);
    match current.state {
        State::Finished | State::Cancelled => return Ok(CancelOutcome::AlreadyOver(current)),
        State::Died => return recover(run_dir, current),
        State::Queued | State::Running => {}
    }
    state::request_cancel(run_dir)?;
    if current.state == State::Queued && current.detached && state::claim(run_dir)? {
        // Still queued behind other runs of its supervisor: this process ends it now, through the
        // same pipeline (which sees the cancel request before its first stage).
        let (request, run) = super::detach::request_of(run_dir)?;
        super::detach::drive(&run, &request.options)?;
        return Ok(CancelOutcome::Stopped(super::observe(run_dir)));
    }
    let waited = super::wait(&[run_dir.to_path_buf()], Some(wait_for), false, &mut |_| {});
    let last = waited.states.into_iter().next().unwrap_or(current);
    Ok(match last.state {
        State::Died => return recover(run_dir, last),
        over if over.is_over() => CancelOutcome::Stopped(last),
        _ => CancelOutcome::StillGoing(last),
    })
}

/// Recovers what the dead run of `run_dir` left (through the journal, as the next dispatch would).
fn recover(run_dir: &Path, state: RunState) -> anyhow::Result<CancelOutcome> {
    let record = crate::handback::RunRecord::load(run_dir);
    let repo_root = crate::handback::repo_root_of(&record)?;
    let options = crate::journal::RecoverOptions { workspace: crate::workspace::WorkspaceOptions::from_env() };
    let report = crate::journal::recover(&repo_root, &options)?;
    Ok(CancelOutcome::Recovered(state, report.messages()))
}
