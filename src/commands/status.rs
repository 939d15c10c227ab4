//! `git dispatch status [RUN...] [--json]`: where runs are (queued, running, finished, cancelled,
//! died), their stage, what the agent does now, how long they have run, and once over their exit
//! code and verdict.

use std::io::Write;

use super::runs::{selected_runs, WhenNone};
use crate::cli::StatusArgs;
use crate::jobs::{self, StatusView};

pub fn cmd_status(args: &StatusArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let dirs = selected_runs(&args.selector, WhenNone::GoingOrNewest)?;
    let views: Vec<StatusView> = dirs.iter().map(|dir| StatusView::of(jobs::observe(dir))).collect();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&views)?)?;
        return Ok(0);
    }
    if views.is_empty() {
        writeln!(stdout, "no runs")?;
        return Ok(0);
    }
    let width = views.iter().map(|view| view.state.run_id.len()).max().unwrap_or(3).max(3);
    writeln!(stdout, "{:<width$}  {:<9}  {:<12}  {:>7}  WHAT", "RUN", "STATE", "STAGE", "ELAPSED")?;
    for view in &views {
        writeln!(stdout, "{}", status_line(view, width))?;
    }
    Ok(0)
}

/// One run's line of the status table.
pub fn status_line(view: &StatusView, width: usize) -> String {
    let state = &view.state;
    let what = match (&state.exit_code, &state.verdict, &state.activity) {
        (Some(code), Some(verdict), _) => format!("exit {code}, {verdict}"),
        (_, _, Some(activity)) => activity.clone(),
        _ => state.error.clone().unwrap_or_default(),
    };
    // The run id, the stage and the activity come from a run folder an agent may have written.
    let line = crate::escape::line;
    format!(
        "{:<width$}  {:<9}  {:<12}  {:>6.0}s  {}",
        line(&state.run_id),
        state.state.name(),
        line(&state.stage),
        view.elapsed_s,
        line(&what)
    )
}
