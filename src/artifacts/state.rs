//! `state.json`: the small, atomically replaced file of a run folder that says where the run is,
//! for `status`, `wait`, `list` and `cancel` (and the MCP tools) to read without asking the
//! process that runs it. Written by the pipeline at every stage, by a detached run's caller
//! (`queued`) and by its supervisor (its pid), throttled for the agent's activity line.
//!
//! A run whose writer is gone while the file still says `queued` or `running` is `died` when read
//! ([`RunState::observe`]): a process is named by its pid and start time, so a reused pid does not
//! keep a dead run alive. A cancel request is a file of its own, [`CANCEL_FILE`], which the run
//! watches.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::journal::alive::{self, Liveness, ProcessIdentity};
use crate::policy::Verdict;

/// The state file of a run folder.
pub const STATE_FILE: &str = "state.json";
/// Written by `git dispatch cancel`: the run stops as soon as it sees it.
pub const CANCEL_FILE: &str = "cancel-requested";
/// The stdout and stderr of a detached run's supervisor (in the run folder of its first run).
pub const SUPERVISOR_LOG: &str = "supervisor.log";

/// The least time between two writes caused by the agent's activity alone.
const ACTIVITY_EVERY: Duration = Duration::from_millis(500);

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for its supervisor to start it (`-j` limits how many run at once).
    Queued,
    Running,
    Finished,
    Cancelled,
    /// The process running it is gone (killed, machine rebooted) before it finished.
    Died,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Finished => "finished",
            State::Cancelled => "cancelled",
            State::Died => "died",
        }
    }

    /// Finished, cancelled or died: nothing will change any more.
    pub fn is_over(self) -> bool {
        matches!(self, State::Finished | State::Cancelled | State::Died)
    }
}

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub run_id: String,
    pub run_dir: String,
    pub state: State,
    /// The pipeline stage (`inputs`, `base`, `worktree`, `agent`, `snapshot`, `verdict`, ...).
    pub stage: String,
    /// What the agent does now (the status line's words), while it runs.
    pub activity: Option<String>,
    /// RFC 3339 times.
    pub created_at: String,
    pub started_at: Option<String>,
    pub updated_at: String,
    pub ended_at: Option<String>,
    /// The process running the run (a detached run's supervisor), and its start time in clock
    /// ticks after boot (Linux), which tells a reused pid apart.
    pub pid: Option<u32>,
    pub pid_start: Option<u64>,
    /// Started with `run --detach`.
    pub detached: bool,
    /// The supervisor's log, for a detached run.
    pub log: Option<String>,
    /// Once finished: the exit code the foreground run would have returned, and its verdict.
    pub exit_code: Option<i32>,
    pub offered: Option<bool>,
    pub verdict: Option<String>,
    /// Why a run could not start at all (its supervisor could not resolve it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The group of attempts (best of N) the run belongs to: its id, this run's attempt number
    /// (from 1) and how many attempts the group has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

impl RunState {
    /// A run that exists but has not started: `queued`, no process yet.
    pub fn queued(run_id: &str, run_dir: &Path, detached: bool) -> RunState {
        let now = now();
        RunState {
            run_id: run_id.to_string(),
            run_dir: run_dir.display().to_string(),
            state: State::Queued,
            stage: "queued".to_string(),
            activity: None,
            created_at: now.clone(),
            started_at: None,
            updated_at: now,
            ended_at: None,
            pid: None,
            pid_start: None,
            detached,
            log: None,
            exit_code: None,
            offered: None,
            verdict: None,
            error: None,
            group: None,
            attempt: None,
            attempts: None,
        }
    }

    /// `state.json` of `run_dir`, `None` when there is none (a run of an older version) or it
    /// cannot be read.
    pub fn load(run_dir: &Path) -> Option<RunState> {
        let bytes = std::fs::read(run_dir.join(STATE_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes `state.json` atomically (`updated_at` set to now).
    pub fn save(&mut self, run_dir: &Path) -> anyhow::Result<()> {
        self.updated_at = now();
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        super::write_replace(&run_dir.join(STATE_FILE), &bytes)
    }

    /// The state as seen now: `died` when it says queued or running but its process is gone
    /// (a queued run whose caller never got a supervisor started has no process: it died too,
    /// once its caller is gone, which the missing pid cannot tell; it stays queued).
    pub fn observe(mut self) -> RunState {
        if !self.state.is_over() && self.writer_is_gone() {
            self.state = State::Died;
        }
        self
    }

    fn writer_is_gone(&self) -> bool {
        let Some(pid) = self.pid else { return false };
        let identity = ProcessIdentity { pid, start: self.pid_start, namespace: None };
        alive::process_liveness(&identity) == Liveness::Dead
    }

    /// Seconds since the run started (or was created, while queued), up to its end.
    pub fn elapsed_seconds(&self) -> f64 {
        let parse = |text: &str| chrono::DateTime::parse_from_rfc3339(text).ok();
        let Some(start) = self.started_at.as_deref().or(Some(self.created_at.as_str())).and_then(parse) else {
            return 0.0;
        };
        let end = self.ended_at.as_deref().and_then(parse).map(|end| end.with_timezone(&chrono::Local));
        let end = end.unwrap_or_else(chrono::Local::now);
        (end.signed_duration_since(start).num_milliseconds().max(0) as f64) / 1000.0
    }

    /// The end of a run: its exit code and verdict from `policy.json`'s verdict.
    pub fn finish(&mut self, verdict: &Verdict) {
        self.state = if verdict.cancelled { State::Cancelled } else { State::Finished };
        self.stage = "done".to_string();
        self.activity = None;
        self.ended_at = Some(now());
        self.exit_code = Some(verdict.exit_code);
        self.offered = Some(verdict.offered);
        self.verdict = Some(crate::policy::outcome_label(verdict));
    }
}

/// The state file of the run in progress in this process: every change is written through.
#[derive(Debug)]
pub struct StateFile {
    run_dir: std::path::PathBuf,
    inner: Mutex<(RunState, Instant)>,
}

impl StateFile {
    /// Takes over the run's state file (written `queued` by a detached run's caller, or new):
    /// `running`, this process as its writer.
    pub fn begin(run_id: &str, run_dir: &Path) -> anyhow::Result<StateFile> {
        let mut state = RunState::load(run_dir).unwrap_or_else(|| RunState::queued(run_id, run_dir, false));
        let me = ProcessIdentity::current();
        state.state = State::Running;
        state.started_at = Some(now());
        state.pid = Some(me.pid);
        state.pid_start = me.start;
        state.save(run_dir)?;
        Ok(StateFile { run_dir: run_dir.to_path_buf(), inner: Mutex::new((state, Instant::now())) })
    }

    /// A new stage has started.
    pub fn stage(&self, stage: &str) {
        self.update(true, |state| {
            state.stage = stage.to_string();
            if stage != "agent" {
                state.activity = None;
            }
        });
    }

    /// The run is over: its verdict.
    pub fn finish(&self, verdict: &Verdict) {
        self.update(true, |state| state.finish(verdict));
    }

    /// Applies `change` and writes the file (at most every [`ACTIVITY_EVERY`] unless `now`).
    fn update(&self, now: bool, change: impl FnOnce(&mut RunState)) {
        let Ok(mut guard) = self.inner.lock() else { return };
        let (state, written_at) = &mut *guard;
        change(state);
        if now || written_at.elapsed() >= ACTIVITY_EVERY {
            // A state file that cannot be written must not stop the run: its artifacts say it all.
            let _ = state.save(&self.run_dir);
            *written_at = Instant::now();
        }
    }
}

impl crate::agent::ActivitySink for StateFile {
    fn activity(&self, what: &str) {
        let changed = self.inner.lock().map(|guard| guard.0.activity.as_deref() != Some(what)).unwrap_or(false);
        if changed {
            self.update(false, |state| state.activity = Some(what.to_string()));
        }
    }
}

/// Marks who drives a detached run: its supervisor when it starts it, or `cancel` when it ends it
/// while still queued. Created exclusively, so exactly one of them does.
pub const CLAIM_FILE: &str = ".claimed";

/// Takes the run in `run_dir` over; false when another process already has.
pub fn claim(run_dir: &Path) -> anyhow::Result<bool> {
    let path = run_dir.join(CLAIM_FILE);
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(mut file) => {
            use std::io::Write as _;
            let _ = writeln!(file, "pid {}", std::process::id());
            Ok(true)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(anyhow::Error::from(err).context(format!("cannot create {}", path.display()))),
    }
}

/// Whether `git dispatch cancel` asked this run to stop.
pub fn cancel_requested(run_dir: &Path) -> bool {
    run_dir.join(CANCEL_FILE).exists()
}

/// Asks the run to stop (the file holds the time and the asking process).
pub fn request_cancel(run_dir: &Path) -> anyhow::Result<()> {
    let text = format!("{} pid {}\n", now(), std::process::id());
    super::write_replace(&run_dir.join(CANCEL_FILE), text.as_bytes())
}

fn now() -> String {
    chrono::Local::now().to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_written_by_a_gone_process_has_died() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut state = RunState::queued("r", dir.path(), true);
        assert_eq!(state.clone().observe().state, State::Queued, "no writer yet");
        let me = ProcessIdentity::current();
        state.state = State::Running;
        state.pid = Some(me.pid);
        state.pid_start = me.start;
        assert_eq!(state.clone().observe().state, State::Running);
        state.pid_start = me.start.map(|start| start + 1);
        if me.start.is_some() {
            assert_eq!(state.clone().observe().state, State::Died, "same pid, other start: a reused pid");
        }
        state.save(dir.path()).expect("save");
        assert_eq!(RunState::load(dir.path()).expect("load").run_id, "r");
    }

    #[test]
    fn finished_states_carry_the_verdict() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = StateFile::begin("r", dir.path()).expect("begin");
        file.stage("agent");
        crate::agent::ActivitySink::activity(&file, "running tests");
        let verdict = Verdict { exit_code: 0, offered: true, ..Verdict::default() };
        file.finish(&verdict);
        let state = RunState::load(dir.path()).expect("load");
        assert_eq!(
            (state.state, state.exit_code, state.verdict.as_deref()),
            (State::Finished, Some(0), Some("offered"))
        );
        assert!(state.activity.is_none());
        let cancelled = Verdict { exit_code: 3, cancelled: true, ..Verdict::default() };
        file.finish(&cancelled);
        assert_eq!(RunState::load(dir.path()).expect("load").state, State::Cancelled);
    }
}
