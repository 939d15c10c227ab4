//! Groups of attempts (best of N, see `pipeline::attempts`) seen from the hand-back: the group a
//! run belongs to (its `state.json`, else its `run.json`), the attempts of a group, and the mark
//! [`SUPERSEDED_FILE`] that handing one attempt back leaves in the folders of the others.
//!
//! An attempt is applied only while no other attempt of its group is: `apply` refuses one marked
//! superseded and, should the mark be missing (a hand-back killed between its `applied.json` and
//! the marks), one whose sibling has an `applied.json`. Both are read again once the repository's
//! hand-back lock is held, so of two concurrent applies of two attempts exactly one goes on.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::apply::ApplyError;
use super::runs::{self, RunRecord};

/// The mark, in an attempt's run folder, that another attempt of its group was handed back.
pub const SUPERSEDED_FILE: &str = "superseded.json";

/// Which group a run belongs to, and which attempt of it it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTag {
    /// The group id.
    pub id: String,
    /// The attempt's number, from 1.
    pub attempt: u32,
    /// How many attempts the group has.
    pub attempts: u32,
}

/// `superseded.json`: the attempt of the same group that was handed back instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Superseded {
    /// RFC 3339 time of the hand-back.
    pub superseded_at: String,
    /// The run id of the attempt handed back.
    pub by: String,
    pub group: String,
}

/// A group of attempts, its runs ordered by attempt number.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub runs: Vec<RunRecord>,
}

impl Group {
    /// The attempt that was handed back, if one was.
    pub fn applied(&self) -> Option<&RunRecord> {
        self.runs.iter().find(|run| run.applied.is_some())
    }

    /// The attempt `selector` names: its run id or a unique prefix of one of the group's ids.
    pub fn member(&self, selector: &str) -> anyhow::Result<&RunRecord> {
        if let Some(exact) = self.runs.iter().find(|run| run.id == selector) {
            return Ok(exact);
        }
        let matches: Vec<&RunRecord> = self.runs.iter().filter(|run| run.id.starts_with(selector)).collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => anyhow::bail!(
                "`{selector}` is no attempt of group {}; its attempts: {}",
                self.id,
                self.runs.iter().map(|run| run.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
            _ => anyhow::bail!(
                "`{selector}` matches several attempts of group {}: {}",
                self.id,
                matches.iter().map(|run| run.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// The group fields of a run folder: from `state.json`, else from `run.json`.
pub fn load_tag(run_dir: &Path) -> Option<GroupTag> {
    if let Some(state) = crate::artifacts::state::RunState::load(run_dir) {
        if let (Some(id), Some(attempt), Some(attempts)) = (state.group, state.attempt, state.attempts) {
            return Some(GroupTag { id, attempt, attempts });
        }
    }
    let bytes = std::fs::read(run_dir.join("run.json")).ok()?;
    let record: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let number = |field: &str| record[field].as_u64().and_then(|value| u32::try_from(value).ok());
    Some(GroupTag {
        id: record["group"].as_str()?.to_string(),
        attempt: number("attempt")?,
        attempts: number("attempts")?,
    })
}

/// `superseded.json` of a run folder, if there is one (an unreadable one counts as a mark too).
pub fn load_superseded(run_dir: &Path) -> Option<Superseded> {
    let bytes = match std::fs::read(run_dir.join(SUPERSEDED_FILE)) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(_) => Vec::new(),
    };
    Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| Superseded {
        superseded_at: String::new(),
        by: "(unreadable superseded.json)".to_string(),
        group: String::new(),
    }))
}

/// The groups among `runs`, in the order their first attempt appears; each group's runs by
/// attempt number.
pub fn groups_of(runs: &[RunRecord]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for run in runs {
        let Some(tag) = &run.group else { continue };
        match groups.iter_mut().find(|group| group.id == tag.id) {
            Some(group) => group.runs.push(run.clone()),
            None => groups.push(Group { id: tag.id.clone(), runs: vec![run.clone()] }),
        }
    }
    for group in &mut groups {
        group.runs.sort_by_key(|run| (run.group.as_ref().map(|tag| tag.attempt), run.id.clone()));
    }
    groups
}

/// The group `id` among the runs of `runs_root`, if it has any attempt there.
pub fn find_group(runs_root: &Path, id: &str) -> anyhow::Result<Option<Group>> {
    let runs = runs::list_runs(runs_root)?;
    Ok(groups_of(&runs).into_iter().find(|group| group.id == id))
}

/// The other attempts of `run`'s group (none for a run of no group), read from disk now.
pub fn siblings(run: &RunRecord) -> Vec<RunRecord> {
    let (Some(tag), Some(root)) = (&run.group, run.path.parent()) else { return Vec::new() };
    let runs = runs::list_runs(root).unwrap_or_default();
    groups_of(&runs)
        .into_iter()
        .find(|group| group.id == tag.id)
        .map(|group| group.runs.into_iter().filter(|other| other.path != run.path).collect())
        .unwrap_or_default()
}

/// Refuses an attempt whose group already had another attempt handed back.
pub fn require_not_superseded(run: &RunRecord) -> Result<(), ApplyError> {
    let Some(tag) = &run.group else { return Ok(()) };
    let superseded = |by: String| ApplyError::Superseded { run: run.id.clone(), by, group: tag.id.clone() };
    if let Some(mark) = load_superseded(&run.path) {
        return Err(superseded(mark.by));
    }
    match siblings(run).into_iter().find(|other| runs::load_applied(&other.path).ok().flatten().is_some()) {
        Some(applied) => Err(superseded(applied.id)),
        None => Ok(()),
    }
}

/// After `run` was handed back: marks the other attempts of its group superseded (those not
/// applied and not marked yet); returns their ids. A mark that cannot be written is no failure:
/// the sibling's `applied.json` refuses them as well.
pub fn mark_superseded(run: &RunRecord) -> Vec<String> {
    let Some(tag) = &run.group else { return Vec::new() };
    let mark = Superseded {
        superseded_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        by: run.id.clone(),
        group: tag.id.clone(),
    };
    let mut marked = Vec::new();
    for other in siblings(run) {
        if other.applied.is_some() || load_superseded(&other.path).is_some() {
            continue;
        }
        if write_mark(&other.path, &mark).is_ok() {
            marked.push(other.id);
        }
    }
    marked
}

fn write_mark(run_dir: &Path, mark: &Superseded) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(mark).context("cannot serialize superseded.json")?;
    bytes.push(b'\n');
    crate::artifacts::write_atomic(&run_dir.join(SUPERSEDED_FILE), &bytes)
}
