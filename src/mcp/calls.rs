//! The tools' bodies: blocking, thin calls into the same library functions the command line uses
//! (`pipeline::resolve*` and `agent::locate` then `jobs::start` for `dispatch`, `jobs::observe`,
//! `jobs::wait`, `jobs::cancel`, `handback::list_runs`), each returning the JSON the tool answers.
//! An `Err` is a tool error: its one line is what the command line would print after `error:`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use super::args::{self, CancelArgs, DispatchArgs, ListArgs, PacketSource, StatusArgs, WaitArgs};
use crate::artifacts::state::RunState;
use crate::handback;
use crate::jobs::{self, CancelOutcome, StatusView};
use crate::pipeline::{self, RunOptions};

/// The name an inline packet stands for, in the call's working folder: errors name it, and a
/// relative WORKDIR in the text is taken from that folder (task.md records the text).
pub const INLINE_PACKET: &str = "(inline packet)";

/// How many runs `list` shows when the call does not say.
const DEFAULT_LIST_LIMIT: usize = 20;

/// What every call of one server shares.
#[derive(Debug, Clone)]
pub struct Config {
    /// The working repository (or folder in it): the server's cwd, or `-C DIR`.
    pub workdir: PathBuf,
    /// The run options of `git dispatch run` as the server was started (its flags and
    /// environment); a `dispatch` call overrides some.
    pub options: RunOptions,
    /// The git-dispatch binary a detached run's supervisor runs.
    pub program: PathBuf,
}

impl Config {
    fn workdir(&self, given: Option<&str>) -> PathBuf {
        args::workdir_of(given, &self.workdir)
    }
}

/// `dispatch`: the packet checked as `run` checks it, then started detached.
pub fn dispatch(config: &Config, args: DispatchArgs) -> anyhow::Result<Value> {
    let workdir = config.workdir(args.workdir.as_deref());
    let options = dispatch_options(&config.options, &args)?;
    let dispatch = match args.source(&workdir)? {
        PacketSource::File(path) => pipeline::resolve(&path, &options)?,
        PacketSource::Text(text) => pipeline::resolve_text(text, &workdir.join(INLINE_PACKET), &options)?,
    };
    crate::agent::locate(dispatch.agent)?;
    let states = jobs::start(std::slice::from_ref(&dispatch), &options, &config.program)?;
    let state = states.into_iter().next().context("the supervisor took no run over")?;
    Ok(json!({
        "run_id": state.run_id,
        "run_dir": state.run_dir,
        "state": state.state,
        "pid": state.pid,
        "log": state.log,
        "next": format!(
            "call `wait` with run_ids [\"{}\"] until its state is not still_running, then `review`",
            state.run_id
        ),
    }))
}

/// The server's run options with the call's own (as `run`'s flags would set them).
fn dispatch_options(base: &RunOptions, args: &DispatchArgs) -> anyhow::Result<RunOptions> {
    let mut options = RunOptions { live_status: false, jobs: 1, ..base.clone() };
    if let Some(agent) = args.agent {
        options.agent = Some(agent.into());
    }
    if let Some(base_rev) = &args.base {
        options.base = Some(base_rev.clone());
    }
    if let Some(seconds) = args.timeout_sec {
        options.timeout_sec = Some(seconds);
    }
    if let Some(choice) = args.sandbox {
        options.sandbox = choice.into();
    }
    options.verify |= args.verify;
    options.allow.extend(pipeline::checked_allow_kinds(&args.allow)?);
    Ok(options)
}

/// `status`: `status --json`'s objects for the run named, or the runs going (else the newest).
pub fn status(config: &Config, args: StatusArgs) -> anyhow::Result<Value> {
    let workdir = config.workdir(args.workdir.as_deref());
    let selectors: Vec<String> = args.run_id.into_iter().collect();
    let dirs = selected_runs(&workdir, &selectors, false)?;
    let views: Vec<StatusView> = dirs.iter().map(|dir| StatusView::of(jobs::observe(dir))).collect();
    Ok(json!({ "runs": views }))
}

/// How often a `wait` looks whether its caller is gone, and reports progress.
const WAIT_SLICE: Duration = Duration::from_secs(1);

/// `wait`: at most the call's bound, in slices of a second: after each, `on_tick(states, elapsed,
/// timeout)` (progress), and an early answer (`still_running`) once `gone()` says the client
/// closed the session.
pub fn wait(
    config: &Config,
    args: WaitArgs,
    on_tick: &mut dyn FnMut(&[RunState], Duration, Duration),
    gone: &dyn Fn() -> bool,
) -> anyhow::Result<Value> {
    let timeout = args.timeout()?;
    let workdir = config.workdir(args.workdir.as_deref());
    let dirs = selected_runs(&workdir, &args.run_ids, false)?;
    if dirs.is_empty() {
        anyhow::bail!("no runs to wait for");
    }
    let started = Instant::now();
    let waited = loop {
        let left = timeout.saturating_sub(started.elapsed());
        let waited = jobs::wait(&dirs, Some(left.min(WAIT_SLICE)), args.any, &mut |_| {});
        if waited.done || left <= WAIT_SLICE || gone() {
            break waited;
        }
        on_tick(&waited.states, started.elapsed(), timeout);
    };
    let shown: Vec<&RunState> = match waited.first {
        Some(first) => vec![&waited.states[first]],
        None => waited.states.iter().collect(),
    };
    let runs: Vec<Value> = shown.iter().map(|state| jobs::summary_json(state)).collect();
    let ids: Vec<&str> = waited.states.iter().map(|state| state.run_id.as_str()).collect();
    let next = if waited.done {
        "call `review` with each run_id".to_string()
    } else {
        format!("still going: call `wait` again with run_ids {ids:?}")
    };
    Ok(json!({
        "state": if waited.done { "finished" } else { "still_running" },
        "exit_code": waited.exit_code(),
        "waited_sec": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "runs": runs,
        "next": next,
    }))
}

/// `cancel`: each run asked to stop and waited for (at most the call's bound each).
pub fn cancel(config: &Config, args: CancelArgs) -> anyhow::Result<Value> {
    args.check()?;
    let wait_for = args.wait_for()?;
    let workdir = config.workdir(args.workdir.as_deref());
    let dirs = selected_runs(&workdir, &args.run_ids, true)?;
    let mut runs = Vec::new();
    for dir in &dirs {
        let (outcome, state, messages) = match jobs::cancel(dir, wait_for)? {
            CancelOutcome::AlreadyOver(state) => ("already_over", state, Vec::new()),
            CancelOutcome::Stopped(state) => ("stopped", state, Vec::new()),
            CancelOutcome::Recovered(state, messages) => ("recovered", state, messages),
            CancelOutcome::StillGoing(state) => ("still_going", state, Vec::new()),
        };
        runs.push(json!({
            "run_id": state.run_id,
            "outcome": outcome,
            "state": state.state,
            "exit_code": state.exit_code,
            "messages": messages,
        }));
    }
    Ok(json!({ "runs": runs }))
}

/// `list`: `list --json`'s objects, newest first (none when the repository has no runs).
pub fn list(config: &Config, args: ListArgs) -> anyhow::Result<Value> {
    let workdir = config.workdir(args.workdir.as_deref());
    let Ok(root) = handback::runs_root(Some(&workdir), None) else {
        return Ok(json!({ "runs": [], "total": 0 }));
    };
    let runs = handback::list_runs(&root)?;
    let limit = args.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    let shown: Vec<Value> =
        runs.iter().take(limit).map(|run| jobs::list_entry(run, jobs::observe(&run.path).state)).collect();
    Ok(json!({ "runs": shown, "total": runs.len() }))
}

/// The run folders `selectors` name (ids, prefixes, folder paths) in the runs of `workdir`; none
/// named: the runs going (`going_only`), else those or the newest. An unknown run is an error.
pub fn selected_runs(workdir: &Path, selectors: &[String], going_only: bool) -> anyhow::Result<Vec<PathBuf>> {
    let root = handback::runs_root(Some(workdir), None);
    if !selectors.is_empty() {
        return jobs::find(root.as_ref().ok().map(PathBuf::as_path), selectors);
    }
    let root = root?;
    if going_only {
        jobs::going(&root)
    } else {
        jobs::going_or_newest(&root)
    }
}
