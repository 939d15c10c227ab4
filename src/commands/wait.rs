//! `git dispatch wait [RUN...] [--timeout SEC] [--any] [--json]`: blocks until the runs are over
//! (all of them, or the first with `--any`) or the timeout passes. Exit code: the highest of the
//! runs' own codes (0, 2, 3, as their foreground runs would have returned; a run whose process
//! died counts as 3), the first one's with `--any`, 4 when the timeout passed with a run still
//! going, 1 for an unknown run. Prints what a foreground run prints: each finished run's folder on
//! stdout (with several runs, the table on stderr), or with `--json` the same summary objects,
//! each with the run's state.

use std::io::Write;
use std::time::Duration;

use super::runs::{selected_runs, WhenNone};
use super::status::status_line;
use crate::artifacts::state::RunState;
use crate::cli::WaitArgs;
use crate::jobs::{self, summary_json, StatusView};

pub fn cmd_wait(args: &WaitArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    // Run ids, folders and messages come from run folders an agent may have written.
    let mut escaped = crate::escape::Writer::new(stdout);
    let stdout: &mut dyn Write = &mut escaped;
    let timeout = match args.timeout {
        Some(seconds) if !(seconds.is_finite() && seconds >= 0.0) => {
            anyhow::bail!("--timeout: expected a number of seconds (0 or more), not {seconds}")
        }
        Some(seconds) => Some(Duration::from_secs_f64(seconds)),
        None => None,
    };
    let dirs = selected_runs(&args.selector, WhenNone::GoingOrNewest)?;
    if dirs.is_empty() {
        anyhow::bail!("no runs to wait for");
    }
    let waited = jobs::wait(&dirs, timeout, args.any, &mut |_| {});
    let shown: Vec<&RunState> = match waited.first {
        Some(first) => vec![&waited.states[first]],
        None => waited.states.iter().collect(),
    };
    if args.json {
        let values: Vec<serde_json::Value> = shown.iter().map(|state| summary_json(state)).collect();
        let value = if values.len() == 1 { values[0].clone() } else { serde_json::Value::Array(values) };
        writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        print_human(&shown, stdout)?;
    }
    Ok(waited.exit_code())
}

/// Finished runs: their folder on stdout; runs still going: a status line on stderr.
fn print_human(states: &[&RunState], stdout: &mut dyn Write) -> anyhow::Result<()> {
    let width = states.iter().map(|state| state.run_id.len()).max().unwrap_or(3).max(3);
    for state in states {
        let view = StatusView::of((*state).clone());
        if state.state.is_over() {
            writeln!(stdout, "{}", state.run_dir)?;
        } else {
            eprintln!("still going: {}", status_line(&view, width));
        }
    }
    if states.len() > 1 {
        for state in states.iter().filter(|state| state.state.is_over()) {
            eprintln!("{}", status_line(&StatusView::of((*state).clone()), width));
        }
    }
    Ok(())
}
