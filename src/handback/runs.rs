//! Finding runs: the run folders under a runs root, loaded as [`RunRecord`]s, listed newest first,
//! and selected by id, unique prefix, or "the newest".
//!
//! A folder whose `policy.json` is missing or unreadable (a run still starting, or a crash) is still
//! listed: its record carries the problem and a default verdict, which is never offered.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::group::{self, Group, GroupTag, Superseded};
use crate::artifacts::RUNS_SUBDIR;
use crate::policy::Verdict;

/// The file, in a run folder, that records a hand-back.
pub const APPLIED_FILE: &str = "applied.json";

/// `applied.json`: when and how a run was handed back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// RFC 3339 time of the hand-back.
    pub applied_at: String,
    /// `"patch"` or `"merge"`.
    pub how: String,
    /// The commit made on the user's branch by `apply --merge` (absent for a patch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// What `apply --merge` made: `fast-forward`, `merge-commit` or `single-commit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<String>,
    /// A hand-back of several runs: all of them, in the order they were applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<String>,
}

/// One run folder, loaded.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// The run id: the folder's name.
    pub id: String,
    /// The run folder.
    pub path: PathBuf,
    /// `policy.json`, or a default (not offered) verdict when it could not be read.
    pub policy: Verdict,
    /// `applied.json`, when the run was handed back.
    pub applied: Option<Applied>,
    /// Why `policy.json` (or `applied.json`) could not be read, if it could not.
    pub problem: Option<String>,
    /// When the run was created, local time: `created_at` of its `state.json` (below the second),
    /// else the time written in the run id (`YYYYMMDD-HHMMSS-...`).
    pub started: Option<NaiveDateTime>,
    /// The folder's modification time.
    pub modified: SystemTime,
    /// The group of attempts the run belongs to (best of N), if any.
    pub group: Option<GroupTag>,
    /// `superseded.json`: another attempt of its group was handed back.
    pub superseded: Option<Superseded>,
}

impl RunRecord {
    /// Load the run folder at `path`; never fails on a broken folder (see `problem`).
    pub fn load(path: &Path) -> RunRecord {
        let id = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let modified = std::fs::metadata(path).and_then(|md| md.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut problem = None;
        let policy = load_policy(&path.join("policy.json")).unwrap_or_else(|err| {
            problem = Some(format!("{err:#}"));
            Verdict::default()
        });
        let applied = load_applied(path).unwrap_or_else(|err| {
            problem.get_or_insert_with(|| format!("{err:#}"));
            None
        });
        let started = created_at(path).or_else(|| started_from_id(&id));
        let (group, superseded) = (group::load_tag(path), group::load_superseded(path));
        RunRecord { started, id, path: path.to_path_buf(), policy, applied, problem, modified, group, superseded }
    }

    /// A file of the run folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// Read `policy.json`; fields it lacks take their default value (older or partial files still load).
pub fn load_policy(path: &Path) -> anyhow::Result<Verdict> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let given: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let mut merged = serde_json::to_value(Verdict::default()).context("cannot serialize the default verdict")?;
    match (merged.as_object_mut(), given) {
        (Some(fields), serde_json::Value::Object(given)) => fields.extend(given),
        _ => anyhow::bail!("{} is not a JSON object", path.display()),
    }
    serde_json::from_value(merged).with_context(|| format!("{} does not hold a verdict", path.display()))
}

/// Read `applied.json` of the run folder `dir`, `None` when the run was not handed back.
pub fn load_applied(dir: &Path) -> anyhow::Result<Option<Applied>> {
    let path = dir.join(APPLIED_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not a valid hand-back record", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// `created_at` of the run folder's `state.json`, as local time.
fn created_at(run_dir: &Path) -> Option<NaiveDateTime> {
    let state = crate::artifacts::state::RunState::load(run_dir)?;
    let created = chrono::DateTime::parse_from_rfc3339(&state.created_at).ok()?;
    Some(created.with_timezone(&chrono::Local).naive_local())
}

/// The `YYYYMMDD-HHMMSS` prefix of a run id as a time.
fn started_from_id(id: &str) -> Option<NaiveDateTime> {
    let stamp = id.get(..15)?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d-%H%M%S").ok()
}

/// All run folders under `runs_root`, newest first: by the time in the run id, then by the folder's
/// modification time, then by id (so `-2` comes before the run it follows). A missing root is no runs.
pub fn list_runs(runs_root: &Path) -> anyhow::Result<Vec<RunRecord>> {
    let entries = match std::fs::read_dir(runs_root) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot list {}", runs_root.display())),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", runs_root.display()))?;
        let is_dir = entry.file_type().map(|kind| kind.is_dir()).unwrap_or(false);
        if is_dir && !entry.file_name().to_string_lossy().starts_with('.') {
            runs.push(RunRecord::load(&entry.path()));
        }
    }
    runs.sort_by(|a, b| newest_first_key(b).cmp(&newest_first_key(a)));
    Ok(runs)
}

fn newest_first_key(run: &RunRecord) -> (Option<NaiveDateTime>, SystemTime, &str) {
    let started = run.started.or_else(|| {
        let local: chrono::DateTime<chrono::Local> = run.modified.into();
        Some(local.naive_local())
    });
    (started, run.modified, run.id.as_str())
}

/// Why no single run could be selected.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("no runs in {root}")]
    NoRuns { root: String },
    #[error("no run matches `{selector}` in {root}")]
    NotFound { selector: String, root: String },
    #[error("`{selector}` matches several runs: {}", matches.join(", "))]
    Ambiguous { selector: String, matches: Vec<String> },
}

/// The run named by `selector`: an exact id, a unique prefix of one, or (None) the newest run.
pub fn select_run(runs_root: &Path, selector: Option<&str>) -> anyhow::Result<RunRecord> {
    let runs = list_runs(runs_root)?;
    let root = runs_root.display().to_string();
    let Some(selector) = selector else {
        return runs.into_iter().next().ok_or_else(|| SelectError::NoRuns { root }.into());
    };
    if let Some(exact) = runs.iter().position(|run| run.id == selector) {
        return Ok(runs.into_iter().nth(exact).expect("the position was just found"));
    }
    let mut matches: Vec<RunRecord> = runs.into_iter().filter(|run| run.id.starts_with(selector)).collect();
    match matches.len() {
        0 => Err(SelectError::NotFound { selector: selector.to_string(), root }.into()),
        1 => Ok(matches.remove(0)),
        _ => {
            let matches = matches.into_iter().map(|run| run.id).collect();
            Err(SelectError::Ambiguous { selector: selector.to_string(), matches }.into())
        }
    }
}

/// What a selector names: one run, or a group of attempts. (Made once per command: the size of
/// a run's record inline costs nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Selected {
    Run(RunRecord),
    Group(Group),
}

/// The run or group `selector` names: a group id (`<first attempt's run id>-g`) exactly, else as
/// [`select_run`] (an exact run id, a unique prefix of one, or (None) the newest run).
pub fn select(runs_root: &Path, selector: Option<&str>) -> anyhow::Result<Selected> {
    if let Some(id) = selector.filter(|id| crate::pipeline::is_group_id(id)) {
        if let Some(group) = group::find_group(runs_root, id)? {
            return Ok(Selected::Group(group));
        }
    }
    select_run(runs_root, selector).map(Selected::Run)
}

/// The runs root of a repository: `output_dir` (`--output-dir`) when given, else the nearest
/// `.codex-dispatch/runs` from `repo` (`-C`, or the current directory) up to its repository root.
/// A `.codex-dispatch` (or `runs`) that is a symlink is refused, never followed.
pub fn runs_root(repo: Option<&Path>, output_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = output_dir {
        return Ok(dir.to_path_buf());
    }
    let start = match repo {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let start = std::fs::canonicalize(&start).with_context(|| format!("{} does not exist", start.display()))?;
    let top =
        gix::discover(&start).ok().and_then(|repo| repo.workdir().and_then(|dir| std::fs::canonicalize(dir).ok()));
    let mut dir = Some(start.as_path());
    while let Some(current) = dir {
        let candidate = current.join(RUNS_SUBDIR);
        crate::artifacts::check_runs_path(current)?;
        if candidate.is_dir() {
            return Ok(candidate);
        }
        if top.as_deref() == Some(current) {
            break;
        }
        dir = current.parent();
    }
    anyhow::bail!("no runs found: {} has no {RUNS_SUBDIR} folder (give -C DIR or --output-dir DIR)", start.display())
}

/// The repository whose checkout a run belongs to (from its WORKDIR).
pub fn repo_root_of(run: &RunRecord) -> anyhow::Result<PathBuf> {
    let workdir = PathBuf::from(&run.policy.workdir);
    let repo = gix::discover(&workdir)
        .with_context(|| format!("run {}: WORKDIR {} is not in a git repository", run.id, workdir.display()))?;
    repo.workdir()
        .map(Path::to_path_buf)
        .with_context(|| format!("run {}: {} has no checkout", run.id, workdir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_from_id() {
        let started = started_from_id("20260102-030405-worker-add-tests").expect("parses");
        assert_eq!(started.to_string(), "2026-01-02 03:04:05");
        assert_eq!(started_from_id("not-a-run"), None);
        assert_eq!(started_from_id("2026"), None);
    }

    #[test]
    fn partial_policy_loads_with_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("policy.json");
        std::fs::write(&path, r#"{"offered": true, "mode": "worker", "unknown_field": 1}"#).expect("write");
        let policy = load_policy(&path).expect("loads");
        assert!(policy.offered);
        assert_eq!(policy.mode, "worker");
        assert_eq!(policy.base_commit, None);
        std::fs::write(&path, "[1]").expect("write");
        assert!(load_policy(&path).is_err());
    }
}
