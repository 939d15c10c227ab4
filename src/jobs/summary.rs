//! The JSON a job command prints about a run, shared by the command line and the MCP tools:
//! `wait --json`'s summary of a run (as `run --json` has it, with the run's state) and one line
//! of `list --json`.

use std::path::Path;

use crate::artifacts::state::{RunState, State};
use crate::handback::{self, RunRecord};

use super::observe::StatusView;

/// `run --json`'s summary of a run (`run_id`, `run_dir`, `mode`, `exit_code`, `policy_violation`,
/// `offered`, `messages`) with its state's fields (those of `status --json`).
pub fn summary_json(state: &RunState) -> serde_json::Value {
    let mut value = serde_json::to_value(StatusView::of(state.clone())).unwrap_or_default();
    if state.state.is_over() {
        let record = RunRecord::load(Path::new(&state.run_dir));
        let policy = &record.policy;
        if let Some(fields) = value.as_object_mut() {
            fields.insert("mode".into(), policy.mode.clone().into());
            fields.insert("policy_violation".into(), policy.policy_violation.into());
            fields.insert("messages".into(), serde_json::to_value(&policy.messages).unwrap_or_default());
            if state.exit_code.is_none() {
                fields.insert("exit_code".into(), policy.exit_code.into());
            }
            fields.insert("offered".into(), policy.offered.into());
        }
    }
    value
}

/// One run of `list --json`: id, mode, state, verdict, offered, applied, exit code, folder; for
/// an attempt of a group also `group`, `attempt` and `superseded`.
pub fn list_entry(run: &RunRecord, state: State) -> serde_json::Value {
    let mut entry = serde_json::json!({
        "run_id": run.id,
        "mode": run.policy.mode,
        "state": state,
        "verdict": list_verdict(run, state),
        "offered": run.policy.offered,
        "applied": run.applied.is_some(),
        "exit_code": run.policy.exit_code,
        "run_dir": run.path.display().to_string(),
    });
    if let (Some(tag), Some(fields)) = (&run.group, entry.as_object_mut()) {
        fields.insert("group".into(), tag.id.clone().into());
        fields.insert("attempt".into(), tag.attempt.into());
        fields.insert("superseded".into(), run.superseded.is_some().into());
    }
    entry
}

/// The verdict of a run that is over; `(running)` / `(queued)` while it is not.
pub fn list_verdict(run: &RunRecord, state: State) -> String {
    match state {
        State::Queued => "(queued)".to_string(),
        State::Running => "(running)".to_string(),
        _ => handback::verdict_label(run),
    }
}
