//! `git dispatch run`: load every packet first (a bad one stops everything before anything is
//! created), then dispatch each through the library's pipeline, and print each run folder's path
//! (or a JSON summary).

use std::io::Write;

use anyhow::Context;
use serde::Serialize;

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
    if !args.dry_run {
        for dispatch in &dispatches {
            span("locate", || crate::agent::locate_for_run(dispatch.agent))?;
        }
        if args.detach {
            return detach(&dispatches, &options, args.json, stdout);
        }
        crate::process::install_interrupt_handler()?;
        probe_sandbox_early(args.sandbox);
    }
    let outcomes = span("dispatch-all", || run_all(&dispatches, &options, args.dry_run));
    let mut worst = exit::OK;
    let mut summaries = Vec::new();
    for outcome in outcomes {
        let (run_dir, verdict) = outcome?;
        if verdict.exit_code == exit::CANNOT_START {
            if let Some(message) = verdict.messages.iter().rev().find(|m| m.starts_with("ERROR")) {
                let text = format!("{message} (run folder {})", run_dir.path.display());
                eprintln!("error: {}", crate::escape::line(&text));
            }
        }
        worst = worst.max(verdict.exit_code);
        summaries.push(Summary {
            run_id: run_dir.id.clone(),
            run_dir: run_dir.path.display().to_string(),
            mode: verdict.mode.clone(),
            exit_code: verdict.exit_code,
            policy_violation: verdict.policy_violation,
            offered: verdict.offered,
            messages: verdict.messages.clone(),
            verdict: crate::policy::outcome_label(&verdict),
            changed_paths: verdict.changed_paths.len(),
        });
    }
    if !args.quiet {
        for summary in &summaries {
            eprintln!("{}", verdict_line(summary));
        }
    }
    if summaries.len() > 1 {
        eprint!("{}", summary_table(&summaries));
    }
    print_summaries(&summaries, args.json, stdout)?;
    Ok(worst)
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
/// `--json` a JSON object with `run_id`, `run_dir`, `state`, `pid`, `log`).
fn detach(dispatches: &[Dispatch], options: &RunOptions, json: bool, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let program = std::env::current_exe().context("cannot find the git-dispatch binary")?;
    let states = span("detach", || crate::jobs::start(dispatches, options, &program))?;
    for state in &states {
        if json {
            let line = serde_json::json!({
                "run_id": state.run_id,
                "run_dir": state.run_dir,
                "state": state.state,
                "pid": state.pid,
                "log": state.log,
            });
            writeln!(stdout, "{line}")?;
        } else {
            writeln!(stdout, "{}", state.run_dir)?;
        }
    }
    Ok(exit::OK)
}

/// Every dispatch (or its dry run), at most `-j` at once; results in packet order.
fn run_all(dispatches: &[Dispatch], options: &RunOptions, dry_run: bool) -> Vec<Finished> {
    let run_one = |_, dispatch: &Dispatch| {
        if dry_run {
            pipeline::dry_run(dispatch, options)
        } else {
            pipeline::dispatch(dispatch, options)
        }
    };
    pipeline::run_all(dispatches, options.jobs, run_one, pipeline::panicked)
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
        agent: args.agent,
        base: args.base.clone(),
        keep_worktree: args.keep_worktree,
        fresh: args.fresh,
        verify: args.verify,
        live_status: !(args.quiet || args.json || args.tasks.len() > 1),
        quiet: args.quiet,
        jobs: args.jobs,
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
