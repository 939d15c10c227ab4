//! Best of N: one packet dispatched several times (`--attempts N`, `ATTEMPTS:`) and/or once per
//! agent (`--agent codex,claude`), each attempt a run of its own (its worktree, its branch, its run
//! folder) through the same pipeline, all of them under one group id.
//!
//! The run folders of a group are created one after the other before any attempt starts, so the
//! attempts' ids follow their numbers; the group id is the first attempt's run id with
//! [`GROUP_SUFFIX`] (`20261130-101500-worker-add-tests-g`), a name no run folder gets (a run id is
//! `<stamp>-<mode>-<slug>[-N]` with N a number). Each attempt's `state.json` and `run.json` carry
//! `group`, `attempt` (its number, from 1) and `attempts` (the group's size); its agent and SETUP
//! commands get [`ATTEMPT_ENV`] and [`GROUP_ENV`].

use serde::{Deserialize, Serialize};

use super::options::RunOptions;
use super::resolve::Dispatch;
use super::run_dir::create_run_dir;
use crate::agent::AgentKind;
use crate::artifacts::state::RunState;
use crate::artifacts::RunDir;
use crate::journal::ProcessIdentity;

/// The attempt number (1, 2, ...) in the environment of an attempt's agent and SETUP commands.
pub const ATTEMPT_ENV: &str = "GIT_DISPATCH_ATTEMPT";
/// The group id in the environment of an attempt's agent and SETUP commands.
pub const GROUP_ENV: &str = "GIT_DISPATCH_GROUP";
/// What makes a group id of its first attempt's run id.
pub const GROUP_SUFFIX: &str = "-g";

/// One attempt of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The group id (empty until the group's run folders exist).
    pub group: String,
    /// This attempt's number, from 1.
    pub number: u32,
    /// How many attempts the group has.
    pub count: u32,
    /// The agent of this attempt.
    pub agent: AgentKind,
}

/// The dispatches one packet stands for: `count` attempts per agent of `agents` (its own agent
/// when `agents` is empty), in that order. One in all is a plain dispatch, not a group.
pub fn plan(dispatch: &Dispatch, agents: &[AgentKind], count: u32) -> Vec<Dispatch> {
    let agents = if agents.is_empty() { vec![dispatch.agent] } else { agents.to_vec() };
    let total = agents.len() as u32 * count.max(1);
    if total <= 1 {
        let mut single = dispatch.clone();
        single.agent = agents[0];
        return vec![single];
    }
    let mut planned = Vec::new();
    for agent in agents {
        for _ in 0..count.max(1) {
            let mut attempt = dispatch.clone();
            attempt.agent = agent;
            let number = planned.len() as u32 + 1;
            attempt.attempt = Some(Attempt { group: String::new(), number, count: total, agent });
            planned.push(attempt);
        }
    }
    planned
}

/// Creates the run folders of the attempts of one group, in order, names the group after the
/// first, and writes each folder's `state.json` (`queued`, this process as its writer, the
/// group's fields). Returns the attempts with their group id set, each with its folder.
pub fn create_group(attempts: &[Dispatch], options: &RunOptions) -> anyhow::Result<Vec<(Dispatch, RunDir)>> {
    let mut created: Vec<(Dispatch, RunDir)> = Vec::new();
    for attempt in attempts {
        created.push((attempt.clone(), create_run_dir(attempt, options)?));
    }
    let group = match created.first() {
        Some((_, first)) => format!("{}{GROUP_SUFFIX}", first.id),
        None => return Ok(created),
    };
    for (dispatch, run_dir) in &mut created {
        if let Some(attempt) = &mut dispatch.attempt {
            attempt.group = group.clone();
        }
        save_queued(run_dir, dispatch.attempt.as_ref())?;
    }
    Ok(created)
}

/// Creates the run folder of a plain dispatch that waits its turn in this process (several
/// packets, `-j`): made now, before any run starts (no run's guard sees another's folder or
/// exclude line being made), `queued` with this process as its writer.
pub fn create_queued(dispatch: &Dispatch, options: &RunOptions) -> anyhow::Result<RunDir> {
    let run_dir = create_run_dir(dispatch, options)?;
    save_queued(&run_dir, dispatch.attempt.as_ref())?;
    Ok(run_dir)
}

/// `state.json` of a run waiting in this process: `queued`, this process as its writer (so that it
/// reads as died should the process be killed first), with the group's fields of an attempt.
fn save_queued(run_dir: &RunDir, attempt: Option<&Attempt>) -> anyhow::Result<()> {
    let me = ProcessIdentity::current();
    let mut state = RunState::queued(&run_dir.id, &run_dir.path, false);
    state.pid = Some(me.pid);
    state.pid_start = me.start;
    tag_state(&mut state, attempt);
    state.save(&run_dir.path)
}

/// Writes the group's fields of `attempt` into a run's state.
pub fn tag_state(state: &mut RunState, attempt: Option<&Attempt>) {
    if let Some(attempt) = attempt.filter(|attempt| !attempt.group.is_empty()) {
        state.group = Some(attempt.group.clone());
        state.attempt = Some(attempt.number);
        state.attempts = Some(attempt.count);
    }
}

/// Whether `id` has the form of a group id.
pub fn is_group_id(id: &str) -> bool {
    id.ends_with(GROUP_SUFFIX)
}

/// Whether the run id `id` could be mistaken for a group id, or have one mistaken for it: `id` is
/// `<existing run id>-g`, or `<id>-g` exists. `create_run_dir` passes such ids over.
pub fn clashes_with_a_group(root: &std::path::Path, id: &str) -> bool {
    id.strip_suffix(GROUP_SUFFIX).is_some_and(|stem| root.join(stem).exists())
        || root.join(format!("{id}{GROUP_SUFFIX}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_and_group_ids_never_clash() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("20260101-000000-worker-a")).expect("a run");
        assert!(clashes_with_a_group(root.path(), "20260101-000000-worker-a-g"), "the group name of a run");
        assert!(!clashes_with_a_group(root.path(), "20260101-000000-worker-a-2"));
        std::fs::create_dir(root.path().join("20260101-000000-worker-b-g")).expect("a run named like a group");
        assert!(clashes_with_a_group(root.path(), "20260101-000000-worker-b"), "its group would clash");
    }
}
