//! What a run is doing, seen from outside: its `state.json` read and checked against the living
//! processes (a gone writer is `died`), or, for a run folder without one (an older version, a
//! dry run), what its `policy.json` and `run.json` say. Also which runs a command means: ids,
//! unique prefixes or paths of run folders, or by default the runs still going.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::artifacts::state::{self, RunState, State};
use crate::handback::{self, RunRecord};
use crate::journal::alive::{self, Liveness, ProcessIdentity};

/// `status --json`: the state file's fields and the seconds since the run started.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    #[serde(flatten)]
    pub state: RunState,
    pub elapsed_s: f64,
}

impl StatusView {
    pub fn of(state: RunState) -> StatusView {
        let elapsed_s = (state.elapsed_seconds() * 10.0).round() / 10.0;
        StatusView { state, elapsed_s }
    }
}

/// The run in `run_dir` as it stands now.
pub fn observe(run_dir: &Path) -> RunState {
    match RunState::load(run_dir) {
        Some(state) => state.observe(),
        None => from_records(run_dir),
    }
}

/// A run folder without `state.json`: finished when its verdict is final, else running or died
/// as its `run.json`'s pid says.
fn from_records(run_dir: &Path) -> RunState {
    let record = RunRecord::load(run_dir);
    let mut state = RunState::queued(&record.id, run_dir, false);
    let policy = &record.policy;
    let done = policy.stage == "done" || policy.stage.starts_with("failed") || policy.dry_run;
    if done && record.problem.is_none() {
        state.finish(policy);
        return state;
    }
    let run_json: serde_json::Value = std::fs::read(run_dir.join("run.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    state.stage = if policy.stage.is_empty() { "unknown".to_string() } else { policy.stage.clone() };
    state.pid = run_json["pid"].as_u64().and_then(|pid| u32::try_from(pid).ok());
    let alive = state.pid.is_some_and(|pid| {
        alive::process_liveness(&ProcessIdentity { pid, start: None, namespace: None }) == Liveness::Alive
    });
    state.state = if alive { State::Running } else { State::Died };
    state
}

/// Why the runs a command names could not be found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("unknown run `{0}`: no run folder with that id or prefix, no group with that id, and no such folder")]
    Unknown(String),
}

/// The run folders `selectors` name: a path to a run folder (of any repository), else an id or
/// a unique id prefix in `runs_root`, or a group id there (all the group's attempts, in order).
pub fn find(runs_root: Option<&Path>, selectors: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for selector in selectors {
        found.extend(find_one(runs_root, selector)?);
    }
    Ok(found)
}

fn find_one(runs_root: Option<&Path>, selector: &str) -> anyhow::Result<Vec<PathBuf>> {
    let as_path = Path::new(selector);
    if is_run_folder(as_path) && (selector.contains('/') || runs_root.is_none()) {
        return Ok(vec![std::fs::canonicalize(as_path).unwrap_or_else(|_| as_path.to_path_buf())]);
    }
    let Some(root) = runs_root else { return Err(FindError::Unknown(selector.to_string()).into()) };
    match handback::select(root, Some(selector)) {
        Ok(handback::Selected::Run(run)) => Ok(vec![run.path]),
        Ok(handback::Selected::Group(group)) => Ok(group.runs.into_iter().map(|run| run.path).collect()),
        Err(err) => match err.downcast_ref::<handback::SelectError>() {
            Some(handback::SelectError::Ambiguous { .. }) => Err(err),
            _ => Err(FindError::Unknown(selector.to_string()).into()),
        },
    }
}

/// A folder that holds a run: its state file or its verdict.
fn is_run_folder(path: &Path) -> bool {
    path.join(state::STATE_FILE).is_file() || path.join("policy.json").is_file()
}

/// The runs of `runs_root` still queued or running, newest first; when there are none, the
/// newest run alone (none at all: empty).
pub fn going_or_newest(runs_root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let runs = handback::list_runs(runs_root)?;
    let going: Vec<PathBuf> =
        runs.iter().filter(|run| !observe(&run.path).state.is_over()).map(|run| run.path.clone()).collect();
    if !going.is_empty() {
        return Ok(going);
    }
    Ok(runs.into_iter().take(1).map(|run| run.path).collect())
}

/// The runs of `runs_root` still queued or running, newest first.
pub fn going(runs_root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let runs = handback::list_runs(runs_root)?;
    Ok(runs.into_iter().filter(|run| !observe(&run.path).state.is_over()).map(|run| run.path).collect())
}
