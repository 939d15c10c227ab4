//! `git dispatch review [RUN | RUN... | --all-offered | GROUP] [--json]` and `git dispatch show [RUN]
//! [--json]`. One run: its review as before; several: the fan-in report (changed paths, overlaps,
//! whether they apply together); a group: its attempts ranked. What the run folders say is shown
//! escaped ([`crate::escape`]); `--json` is escaped by JSON itself.

use std::io::{IsTerminal, Write};

use crate::cli::{ReviewArgs, ShowArgs};
use crate::escape::line;
use crate::handback::{self, RunRecord, Selected};

pub fn cmd_review(args: &ReviewArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let root = super::runs::runs_root(args.repo.as_deref(), args.output_dir.as_deref())?;
    if args.all_offered {
        let mut runs: Vec<RunRecord> =
            handback::list_runs(&root)?.into_iter().filter(|run| handback::status_word(run) == "offered").collect();
        runs.reverse();
        if runs.is_empty() {
            writeln!(stdout, "no offered runs waiting to be applied")?;
            return Ok(0);
        }
        return fan_in(&runs, args.json, stdout);
    }
    if args.runs.len() > 1 {
        let mut runs = Vec::new();
        for selector in &args.runs {
            match handback::select(&root, Some(selector))? {
                Selected::Run(run) => runs.push(run),
                Selected::Group(group) => anyhow::bail!(
                    "{} is a group: review it alone (`git dispatch review {}`), or name its attempts",
                    group.id,
                    group.id
                ),
            }
        }
        return fan_in(&runs, args.json, stdout);
    }
    let run = match handback::select(&root, args.runs.first().map(String::as_str))? {
        Selected::Group(group) => return group_review(&group, args.json, stdout),
        Selected::Run(run) => run,
    };
    if args.json {
        anyhow::bail!(
            "--json goes with several runs or a group; for one run use `git dispatch show {} --json`",
            run.id
        );
    }
    if still_going(&run, stdout)? {
        return Ok(0);
    }
    let color = match args.color.as_str() {
        "always" => true,
        "never" => false,
        "auto" => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        other => anyhow::bail!("--color: expected auto, always or never, not `{other}`"),
    };
    handback::review(&run, color, stdout)?;
    Ok(0)
}

/// `review A B ...`: the fan-in report (runs still going are named first).
fn fan_in(runs: &[RunRecord], json: bool, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let report = handback::fan_in_report(runs)?;
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(0);
    }
    note_going(runs, stdout)?;
    handback::write_fan_in(&report, stdout)?;
    Ok(0)
}

/// `review GROUP`: the attempts ranked (those still going are named first).
fn group_review(group: &handback::Group, json: bool, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let report = handback::group_report(group)?;
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(0);
    }
    note_going(&group.runs, stdout)?;
    handback::write_group(&report, stdout)?;
    Ok(0)
}

/// One line naming the runs still queued or running (their verdict is not in yet).
fn note_going(runs: &[RunRecord], stdout: &mut dyn Write) -> anyhow::Result<()> {
    let going: Vec<String> = runs
        .iter()
        .filter(|run| !crate::jobs::observe(&run.path).state.is_over())
        .map(|run| line(&run.id).into_owned())
        .collect();
    if !going.is_empty() {
        writeln!(stdout, "still going (no verdict yet; `git dispatch wait` for them): {}", going.join(", "))?;
    }
    Ok(())
}

pub fn cmd_show(args: &ShowArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let root = super::runs::runs_root(args.selector.repo.as_deref(), args.selector.output_dir.as_deref())?;
    let run = handback::select_run(&root, args.selector.run.as_deref())?;
    let record: serde_json::Value = std::fs::read(run.file("run.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(serde_json::Value::Null);
    if args.json {
        let value = serde_json::json!({
            "run_id": run.id,
            "run_dir": run.path.display().to_string(),
            "state": crate::jobs::observe(&run.path).state,
            "verdict": handback::verdict_label(&run),
            "applied": run.applied,
            "policy": run.policy,
            "run": record,
        });
        writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(0);
    }
    if still_going(&run, stdout)? {
        return Ok(0);
    }
    let policy = &run.policy;
    writeln!(stdout, "run:      {}", line(&run.id))?;
    writeln!(stdout, "folder:   {}", line(&run.path.display().to_string()))?;
    writeln!(stdout, "mode:     {}", line(&policy.mode))?;
    writeln!(stdout, "verdict:  {}", handback::verdict_label(&run))?;
    writeln!(stdout, "exit:     {}", policy.exit_code)?;
    if let Some(branch) = &policy.branch {
        writeln!(stdout, "branch:   {}", line(branch))?;
    }
    if let Some(applied) = &run.applied {
        writeln!(stdout, "applied:  {}", line(&format!("{} ({})", applied.applied_at, applied.how)))?;
    }
    writeln!(stdout, "changed:  {}", policy.changed_paths.len())?;
    for path in &policy.changed_paths {
        writeln!(stdout, "  {}", line(path))?;
    }
    for message in &policy.messages {
        writeln!(stdout, "message:  {}", line(message))?;
    }
    Ok(0)
}

/// A run still queued or running has no verdict yet: says so (stage, time, how to wait) and
/// returns true.
fn still_going(run: &RunRecord, stdout: &mut dyn Write) -> anyhow::Result<bool> {
    let state = crate::jobs::observe(&run.path);
    if state.state.is_over() {
        return Ok(false);
    }
    let view = crate::jobs::StatusView::of(state);
    writeln!(
        stdout,
        "run {} is {} (stage {}, {:.0} s): no verdict yet; wait for it with `git dispatch wait {}`",
        run.id,
        view.state.state.name(),
        view.state.stage,
        view.elapsed_s,
        run.id
    )?;
    Ok(true)
}
