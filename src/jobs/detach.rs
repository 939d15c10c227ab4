//! `run --detach`: the caller checks the packets, creates the run folders (state `queued`) and
//! starts one supervisor (git-dispatch itself, `__supervise`) for all of them, then returns; the
//! supervisor leaves the caller's session first (`setsid`: no controlling terminal, not in the
//! caller's process group, so killing that group or closing the terminal does not reach it), then
//! drives each run through the same pipeline as a foreground run, `-j` at a time.
//!
//! The supervisor reads exactly what the caller checked from `supervisor.json` in the first run's
//! folder: the run options and, per run, its folder and the packet's text (re-resolved as if it
//! were the packet file, so a relative WORKDIR means the same). Its output goes to
//! `supervisor.log` beside it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::artifacts::state::{self, RunState, State, SUPERVISOR_LOG};
use crate::artifacts::RunDir;
use crate::journal::ProcessIdentity;
use crate::pipeline::{self, Dispatch, RunOptions};
use crate::policy::exit;
use crate::process::{self, ProcessSpec};

/// The request file of a supervisor, in the run folder of its first run.
pub const REQUEST_FILE: &str = "supervisor.json";

/// The hidden subcommand that runs a supervisor.
pub const SUPERVISE_COMMAND: &str = "__supervise";

/// How long the caller waits for the supervisor to take its runs over.
const TAKEOVER_WAIT: Duration = Duration::from_secs(20);

/// What a supervisor is asked to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorRequest {
    pub options: RunOptions,
    pub runs: Vec<DetachedRun>,
}

/// One run of a supervisor: its folder (already created) and its packet as it was checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetachedRun {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub packet_path: PathBuf,
    pub packet_text: String,
    /// Best of N: which attempt of which group the run is (its agent included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<pipeline::Attempt>,
}

/// Creates the run folders of `dispatches` and starts their supervisor; returns once the
/// supervisor has taken them over (their `state.json` names it), each run's state in order.
/// `program` is the git-dispatch binary to run as the supervisor.
pub fn start(dispatches: &[Dispatch], options: &RunOptions, program: &Path) -> anyhow::Result<Vec<RunState>> {
    let mut runs = Vec::new();
    for dispatch in dispatches {
        let run_dir = pipeline::create_run_dir(dispatch, options)?;
        runs.push((dispatch.clone(), run_dir));
    }
    start_prepared(&runs, options, program)
}

/// [`start`] for runs whose folders exist already (the attempts of a group, created in order).
pub fn start_prepared(
    runs: &[(Dispatch, RunDir)],
    options: &RunOptions,
    program: &Path,
) -> anyhow::Result<Vec<RunState>> {
    let first = runs.first().map(|(_, run_dir)| run_dir.path.clone()).context("no packet to dispatch")?;
    let log = first.join(SUPERVISOR_LOG);
    for (dispatch, run_dir) in runs {
        let mut state = RunState::queued(&run_dir.id, &run_dir.path, true);
        state.log = Some(log.display().to_string());
        pipeline::tag_state(&mut state, dispatch.attempt.as_ref());
        state.save(&run_dir.path)?;
    }
    let request = SupervisorRequest {
        options: RunOptions { live_status: false, ..options.clone() },
        runs: runs.iter().map(|(dispatch, run_dir)| detached_run(run_dir, dispatch)).collect(),
    };
    let request_path = first.join(REQUEST_FILE);
    crate::artifacts::write_atomic(&request_path, &serde_json::to_vec_pretty(&request)?)?;
    let cwd = runs.first().map(|(d, _)| d.repo_root.clone()).unwrap_or_else(|| PathBuf::from("/"));
    let spec = ProcessSpec::new(program, cwd).args([OsString::from(SUPERVISE_COMMAND), request_path.into()]);
    let mut child = process::spawn_detached(&spec, &log)?;
    let dirs: Vec<&Path> = runs.iter().map(|(_, run_dir)| run_dir.path.as_path()).collect();
    wait_for_takeover(&mut child, &dirs, &log)
}

fn detached_run(run_dir: &RunDir, dispatch: &Dispatch) -> DetachedRun {
    DetachedRun {
        run_id: run_dir.id.clone(),
        run_dir: run_dir.path.clone(),
        packet_path: dispatch.packet_path.clone(),
        packet_text: dispatch.packet_text.clone(),
        attempt: dispatch.attempt.clone(),
    }
}

/// Waits until every run's state names the supervisor (it has left the caller's session then).
fn wait_for_takeover(child: &mut process::DetachedChild, dirs: &[&Path], log: &Path) -> anyhow::Result<Vec<RunState>> {
    let pid = child.id();
    let deadline = Instant::now() + TAKEOVER_WAIT;
    let mut pause = Duration::from_millis(1);
    loop {
        let states: Vec<Option<RunState>> = dirs.iter().map(|dir| RunState::load(dir)).collect();
        if states.iter().all(|state| state.as_ref().is_some_and(|state| state.pid == Some(pid))) {
            return Ok(states.into_iter().flatten().collect());
        }
        if let Some(code) = child.ended() {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let last = tail.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("no output");
            anyhow::bail!("the detached supervisor ended at once (exit {code:?}): {last} (log {})", log.display());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("the detached supervisor (pid {pid}) did not take its runs over; see {}", log.display());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// The supervisor's body (`git-dispatch __supervise REQUEST`): leave the caller's session, take
/// the runs over, run them; returns the highest exit code.
pub fn supervise(request_path: &Path) -> anyhow::Result<i32> {
    leave_session();
    let text = std::fs::read(request_path).with_context(|| format!("cannot read {}", request_path.display()))?;
    let request: SupervisorRequest = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a supervisor request", request_path.display()))?;
    let me = ProcessIdentity::current();
    for run in &request.runs {
        let mut state =
            RunState::load(&run.run_dir).unwrap_or_else(|| RunState::queued(&run.run_id, &run.run_dir, true));
        state.pid = Some(me.pid);
        state.pid_start = me.start;
        state.save(&run.run_dir)?;
    }
    process::install_interrupt_handler()?;
    let mut worst = exit::OK;
    for (run, outcome) in request.runs.iter().zip(run_all(&request)) {
        match outcome {
            Ok(code) => worst = worst.max(code),
            Err(err) => {
                eprintln!("error: {}", crate::escape::line(&format!("run {}: {err:#}", run.run_id)));
                record_failure(run, &err);
                worst = worst.max(exit::CANNOT_START);
            }
        }
    }
    Ok(worst)
}

fn run_all(request: &SupervisorRequest) -> Vec<anyhow::Result<i32>> {
    // A run whose packet no longer resolves (its repository is gone) fails alone.
    let run_one = |_, run: &DetachedRun| run_one(run, &request.options);
    pipeline::run_all(&request.runs, request.options.jobs, run_one, pipeline::panicked)
}

fn run_one(run: &DetachedRun, options: &RunOptions) -> anyhow::Result<i32> {
    if !state::claim(&run.run_dir)? {
        // `cancel` ended it while it was queued.
        return Ok(RunState::load(&run.run_dir).and_then(|state| state.exit_code).unwrap_or(exit::VIOLATION));
    }
    drive(run, options)
}

/// The pipeline for one run of a request, in its folder made beforehand.
pub(super) fn drive(run: &DetachedRun, options: &RunOptions) -> anyhow::Result<i32> {
    let mut dispatch = pipeline::resolve_text(run.packet_text.clone(), &run.packet_path, options)?;
    if let Some(attempt) = &run.attempt {
        dispatch.agent = attempt.agent;
        dispatch.attempt = Some(attempt.clone());
    }
    let run_dir = RunDir { id: run.run_id.clone(), path: run.run_dir.clone() };
    let (_, verdict) = pipeline::dispatch_in(&dispatch, options, run_dir)?;
    Ok(verdict.exit_code)
}

/// The request and the entry of the queued run in `run_dir`, from the request file its state names.
pub(super) fn request_of(run_dir: &Path) -> anyhow::Result<(SupervisorRequest, DetachedRun)> {
    let state = RunState::load(run_dir).context("the run has no state.json")?;
    let log = state.log.context("the run names no supervisor")?;
    let request_path = Path::new(&log).with_file_name(REQUEST_FILE);
    let text = std::fs::read(&request_path).with_context(|| format!("cannot read {}", request_path.display()))?;
    let request: SupervisorRequest = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a supervisor request", request_path.display()))?;
    let run = request.runs.iter().find(|run| run.run_id == state.run_id).cloned();
    let run = run.with_context(|| format!("{} does not name run {}", request_path.display(), state.run_id))?;
    Ok((request, run))
}

/// A run that could not even start: its state says so (exit 1), with the reason.
fn record_failure(run: &DetachedRun, err: &anyhow::Error) {
    let mut state = RunState::load(&run.run_dir).unwrap_or_else(|| RunState::queued(&run.run_id, &run.run_dir, true));
    if state.state.is_over() {
        return;
    }
    state.state = State::Finished;
    state.stage = "failed".to_string();
    state.exit_code = Some(exit::CANNOT_START);
    state.offered = Some(false);
    state.verdict = Some("could not start".to_string());
    state.error = Some(format!("{err:#}"));
    state.ended_at = Some(chrono::Local::now().to_rfc3339());
    let _ = state.save(&run.run_dir);
}

/// A session of its own: no controlling terminal, out of the caller's process group.
fn leave_session() {
    if let Err(err) = nix::unistd::setsid() {
        eprintln!("warning: the supervisor could not start a session of its own: {err}");
    }
}
