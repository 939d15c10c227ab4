//! `git dispatch run`: load every packet first (a bad one stops everything before anything is
//! created), plan its attempts (`--attempts`, `ATTEMPTS:`, several `--agent`s: a group, see
//! `pipeline::attempts`), then dispatch each through the library's pipeline, and print each run
//! folder's path (or a JSON summary).

use std::io::Write;

use anyhow::Context;
use serde::Serialize;

use crate::agent::AgentKind;
use crate::artifacts::RunDir;
use crate::cli::{RunArgs, SandboxChoice};
use crate::pipeline::{self, timing::span, Dispatch, Finished, RunOptions};
use crate::policy::exit;

/// The JSON summary printed with `--json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub run_id: String,
    pub run_dir: String,
    pub mode: String,
    pub exit_code: i32,
    pub policy_violation: bool,
    pub offered: bool,
    pub messages: Vec<String>,
    /// Best of N: the group and this run's attempt number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip)]
    pub verdict: String,
    #[serde(skip)]
    pub changed_paths: usize,
}

pub fn cmd_run(args: &RunArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let options = run_options(args)?;
    let resolved = span("resolve", || {
        args.tasks.iter().map(|path| pipeline::resolve(path, &options)).collect::<anyhow::Result<Vec<_>>>()
    });
    let dispatches = match resolved {
        Ok(dispatches) => dispatches,
        Err(err) if args.json => {
            // A caller parsing stdout gets the error there too (the line also goes to stderr).
            let value = serde_json::json!({"error": format!("{err:#}"), "exit_code": exit::CANNOT_START});
            writeln!(stdout, "{value}")?;
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    for dispatch in &dispatches {
        for warning in &dispatch.packet.warnings {
            let text = format!("task packet {}: {warning}", dispatch.packet_path.display());
            eprintln!("warning: {}", crate::escape::line(&text));
        }
    }
    let planned = plan(args, &dispatches);
    if args.dry_run && planned.iter().any(|group| group.len() > 1) {
        eprintln!("warning: --dry-run writes one run folder per packet; its attempts are not dispatched");
    }
    let several = planned.iter().flatten().count() > 1;
    let options =
        RunOptions { jobs: jobs_for(args, &planned), live_status: options.live_status && !several, ..options };
    if !args.dry_run {
        for dispatch in planned.iter().flatten() {
            span("locate", || crate::agent::locate_for_run(dispatch.agent))?;
        }
        if args.detach {
            let jobs = prepare(planned, &options, true)?;
            return detach(&jobs, &options, args.json, stdout);
        }
        crate::process::install_interrupt_handler()?;
        probe_sandbox_early(args.sandbox);
    }
    let jobs = if args.dry_run {
        dispatches.into_iter().map(Job::Fresh).collect()
    } else {
        prepare(planned, &options, false)?
    };
    let outcomes = span("dispatch-all", || run_all(&jobs, &options, args.dry_run));
    let summaries =
        jobs.iter().zip(outcomes).map(|(job, outcome)| summary_of(job, outcome)).collect::<anyhow::Result<Vec<_>>>()?;
    if !args.quiet {
        for summary in &summaries {
            eprintln!("{}", verdict_line(summary));
        }
    }
    if summaries.len() > 1 {
        eprint!("{}", summary_table(&summaries));
    }
    for group in group_ids(&summaries) {
        eprintln!("git-dispatch: group {group}: compare its attempts with `git dispatch review {group}`");
    }
    print_summaries(&summaries, args.json, stdout)?;
    Ok(exit_code(&summaries))
}

/// The summary of one finished job (a run that could not start says why on stderr).
fn summary_of(job: &Job, outcome: Finished) -> anyhow::Result<Summary> {
    let (run_dir, verdict) = outcome?;
    if verdict.exit_code == exit::CANNOT_START {
        if let Some(message) = verdict.messages.iter().rev().find(|m| m.starts_with("ERROR")) {
            let text = format!("{message} (run folder {})", run_dir.path.display());
            eprintln!("error: {}", crate::escape::line(&text));
        }
    }
    Ok(Summary {
        run_id: run_dir.id.clone(),
        run_dir: run_dir.path.display().to_string(),
        mode: verdict.mode.clone(),
        exit_code: verdict.exit_code,
        policy_violation: verdict.policy_violation,
        offered: verdict.offered,
        messages: verdict.messages.clone(),
        group: job.attempt().map(|attempt| attempt.group.clone()),
        attempt: job.attempt().map(|attempt| attempt.number),
        verdict: crate::policy::outcome_label(&verdict),
        changed_paths: verdict.changed_paths.len(),
    })
}

/// Per packet, the dispatches it stands for: one, or its attempts (`--attempts`, `ATTEMPTS:`,
/// several `--agent`s).
fn plan(args: &RunArgs, dispatches: &[Dispatch]) -> Vec<Vec<Dispatch>> {
    let agents: &[AgentKind] = if args.agent.len() > 1 { &args.agent } else { &[] };
    dispatches
        .iter()
        .map(|dispatch| {
            let count = args.attempts.or(dispatch.packet.attempts).unwrap_or(1);
            pipeline::plan(dispatch, agents, count)
        })
        .collect()
}

/// `-j`, else 1 for plain runs, else as many as the largest group has attempts (they run at once).
fn jobs_for(args: &RunArgs, planned: &[Vec<Dispatch>]) -> usize {
    args.jobs.unwrap_or_else(|| planned.iter().map(Vec::len).max().unwrap_or(1).max(1))
}

/// What one line of the run table is: a dry run (its folder made as it comes), or a run whose
/// folder exists already.
enum Job {
    Fresh(Dispatch),
    Prepared(Dispatch, RunDir),
}

impl Job {
    fn dispatch(&self) -> &Dispatch {
        match self {
            Job::Fresh(dispatch) | Job::Prepared(dispatch, _) => dispatch,
        }
    }

    fn attempt(&self) -> Option<&pipeline::Attempt> {
        self.dispatch().attempt.as_ref()
    }
}

/// The jobs of the planned dispatches, every run folder created now, in packet order, before any
/// run starts: a group's attempts one after the other (see `pipeline::create_group`), each run
/// `queued` until its turn (a detached run's supervisor writes its own state).
fn prepare(planned: Vec<Vec<Dispatch>>, options: &RunOptions, detached: bool) -> anyhow::Result<Vec<Job>> {
    let mut jobs = Vec::new();
    for group in planned {
        if group.len() > 1 {
            let created = pipeline::create_group(&group, options)?;
            jobs.extend(created.into_iter().map(|(dispatch, run_dir)| Job::Prepared(dispatch, run_dir)));
            continue;
        }
        for dispatch in group {
            let run_dir = match detached {
                true => pipeline::create_run_dir(&dispatch, options)?,
                false => pipeline::create_queued(&dispatch, options)?,
            };
            jobs.push(Job::Prepared(dispatch, run_dir));
        }
    }
    Ok(jobs)
}

/// The exit code of the whole command: the highest over the packets, where a group counts with
/// its best attempt's code (0 when one attempt was offered).
fn exit_code(summaries: &[Summary]) -> i32 {
    let mut worst = exit::OK;
    for summary in summaries.iter().filter(|summary| summary.group.is_none()) {
        worst = worst.max(summary.exit_code);
    }
    for group in group_ids(summaries) {
        let codes = summaries.iter().filter(|summary| summary.group.as_deref() == Some(group.as_str()));
        worst = worst.max(codes.map(|summary| summary.exit_code).min().unwrap_or(exit::OK));
    }
    worst
}

/// The group ids among the summaries, in order.
fn group_ids(summaries: &[Summary]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in summaries.iter().filter_map(|summary| summary.group.clone()) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// Starts the once-per-process bubblewrap probe on a thread of its own when the run may use
/// bubblewrap, so that its process runs while the dispatch audits the checkout and prepares the
/// worktree; the sandbox stage then finds the answer ready (or waits for it).
fn probe_sandbox_early(choice: SandboxChoice) {
    if matches!(choice, SandboxChoice::Auto | SandboxChoice::Bwrap) {
        std::thread::spawn(|| {
            let _probed = crate::sandbox::bwrap_usable();
        });
    }
}

/// `--detach`: the runs start in a supervisor of their own; one line per run (its folder, or with
/// `--json` a JSON object with `run_id`, `run_dir`, `state`, `pid`, `log`, and `group` for an attempt).
fn detach(jobs: &[Job], options: &RunOptions, json: bool, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let program = std::env::current_exe().context("cannot find the git-dispatch binary")?;
    let prepared: Vec<(Dispatch, RunDir)> = jobs
        .iter()
        .filter_map(|job| match job {
            Job::Prepared(dispatch, run_dir) => Some((dispatch.clone(), run_dir.clone())),
            Job::Fresh(_) => None,
        })
        .collect();
    let states = span("detach", || crate::jobs::start_prepared(&prepared, options, &program))?;
    for state in &states {
        if json {
            let mut line = serde_json::json!({
                "run_id": state.run_id,
                "run_dir": state.run_dir,
                "state": state.state,
                "pid": state.pid,
                "log": state.log,
            });
            if let (Some(group), Some(fields)) = (&state.group, line.as_object_mut()) {
                fields.insert("group".into(), group.clone().into());
                fields.insert("attempt".into(), state.attempt.into());
            }
            writeln!(stdout, "{line}")?;
        } else {
            writeln!(stdout, "{}", state.run_dir)?;
        }
    }
    let mut groups: Vec<&String> = Vec::new();
    for group in states.iter().filter_map(|state| state.group.as_ref()) {
        if !groups.contains(&group) {
            eprintln!("git-dispatch: group {group}: wait for it with `git dispatch wait {group}`");
            groups.push(group);
        }
    }
    Ok(exit::OK)
}

/// Every job (or its dry run), at most `-j` at once; results in packet order.
fn run_all(jobs: &[Job], options: &RunOptions, dry_run: bool) -> Vec<Finished> {
    let run_one = |_, job: &Job| match job {
        Job::Fresh(dispatch) if dry_run => pipeline::dry_run(dispatch, options),
        Job::Fresh(dispatch) => pipeline::dispatch(dispatch, options),
        Job::Prepared(dispatch, run_dir) => pipeline::dispatch_in(dispatch, options, run_dir.clone()),
    };
    pipeline::run_all(jobs, options.jobs, run_one, pipeline::panicked)
}

/// The library's run options from the command line (and the environment it reads).
pub fn run_options(args: &RunArgs) -> anyhow::Result<RunOptions> {
    let absolute = |flag: &str, paths: &[std::path::PathBuf]| {
        paths
            .iter()
            .map(|path| std::path::absolute(path).with_context(|| format!("{flag} {}", path.display())))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let writable = absolute("--writable", &args.writable)?;
    let readable = absolute("--readable", &args.readable)?;
    Ok(RunOptions {
        output_dir: args
            .output_dir
            .as_deref()
            .map(|dir| std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())),
        allow_dirty_overlap: args.allow_dirty_overlap,
        timeout_sec: args.timeout_sec,
        heartbeat_sec: args.heartbeat_sec,
        quota_gate: args.quota_gate,
        force: args.force,
        // Several agents are attempts of a group, each with its own (see `plan`).
        agent: match args.agent.as_slice() {
            [one] => Some(*one),
            _ => None,
        },
        base: args.base.clone(),
        keep_worktree: args.keep_worktree,
        fresh: args.fresh,
        verify: args.verify,
        live_status: !(args.quiet || args.json || args.tasks.len() > 1),
        quiet: args.quiet,
        jobs: args.jobs.unwrap_or(1),
        sandbox: args.sandbox,
        writable,
        readable,
        allow: pipeline::checked_allow_kinds(&args.allow)?,
        ignore_status_prefix: args.ignore_status_prefix.clone(),
        pool_size: pipeline::pool_size_from_env(std::env::var("GIT_DISPATCH_POOL_SIZE").ok().as_deref())?,
        max_file_size: args.max_file_size,
        max_change_size: args.max_change_size,
        network: args.network,
        allow_hosts: {
            pipeline::checked_allow_hosts(&args.allow_hosts)?;
            args.allow_hosts.clone()
        },
    })
}

/// The one-line verdict a foreground run prints on stderr before its run folder: verdict, exit
/// code, how many paths changed, and the first reason it was not offered.
fn verdict_line(summary: &Summary) -> String {
    let paths = match summary.changed_paths {
        1 => "1 changed path".to_string(),
        n => format!("{n} changed paths"),
    };
    let reason = summary.messages.iter().find(|m| crate::policy::is_reason(m));
    let mut line =
        format!("git-dispatch: {}: {} (exit {}, {paths})", summary.run_id, summary.verdict, summary.exit_code);
    if let Some(reason) = reason {
        line.push_str(": ");
        line.push_str(&crate::escape::line(reason));
    }
    line
}

/// One line per run: id, mode, exit code, verdict.
fn summary_table(summaries: &[Summary]) -> String {
    let width = summaries.iter().map(|s| s.run_id.len()).max().unwrap_or(6).max(6);
    let mut out = format!("{:<width$}  {:<11}  {:>4}  {}\n", "RUN", "MODE", "EXIT", "VERDICT");
    for summary in summaries {
        out.push_str(&format!(
            "{:<width$}  {:<11}  {:>4}  {}\n",
            summary.run_id, summary.mode, summary.exit_code, summary.verdict
        ));
    }
    out
}

fn print_summaries(summaries: &[Summary], json: bool, stdout: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        let value =
            if summaries.len() == 1 { serde_json::to_value(&summaries[0])? } else { serde_json::to_value(summaries)? };
        writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        for summary in summaries {
            writeln!(stdout, "{}", summary.run_dir)?;
        }
    }
    Ok(())
}
