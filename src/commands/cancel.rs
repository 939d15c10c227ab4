//! `git dispatch cancel RUN... | --all`: stops queued or running runs and waits until each is over
//! (its agent's whole tree stopped, its verdict `cancelled`, exit 3 in policy.json). A run already
//! over is left alone (cancelling twice is fine); a run whose process died is recovered. Exit 0,
//! 1 for an unknown run, 4 if a run did not stop within `--timeout`.

use std::io::Write;
use std::time::Duration;

use super::runs::{selected_runs, WhenNone};
use crate::cli::CancelArgs;
use crate::jobs::{self, CancelOutcome};

pub fn cmd_cancel(args: &CancelArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    // Run ids, folders and messages come from run folders an agent may have written.
    let mut escaped = crate::escape::Writer::new(stdout);
    let stdout: &mut dyn Write = &mut escaped;
    if args.selector.runs.is_empty() && !args.all {
        anyhow::bail!("cancel: name the run(s) to cancel, or give --all");
    }
    if !(args.timeout.is_finite() && args.timeout >= 0.0) {
        anyhow::bail!("--timeout: expected a number of seconds (0 or more), not {}", args.timeout);
    }
    let dirs = selected_runs(&args.selector, WhenNone::Going)?;
    if dirs.is_empty() {
        writeln!(stdout, "nothing to cancel: no run is queued or running")?;
        return Ok(0);
    }
    let mut code = 0;
    for dir in &dirs {
        match jobs::cancel(dir, Duration::from_secs_f64(args.timeout))? {
            CancelOutcome::AlreadyOver(state) => writeln!(
                stdout,
                "{}: already {} (exit {})",
                state.run_id,
                state.state.name(),
                state.exit_code.map_or("-".to_string(), |code| code.to_string())
            )?,
            CancelOutcome::Stopped(state) => writeln!(
                stdout,
                "{}: {} (exit {})",
                state.run_id,
                state.state.name(),
                state.exit_code.map_or("-".to_string(), |code| code.to_string())
            )?,
            CancelOutcome::Recovered(state, messages) => {
                writeln!(stdout, "{}: its process had died; recovered what it left", state.run_id)?;
                for message in messages {
                    writeln!(stdout, "  {message}")?;
                }
            }
            CancelOutcome::StillGoing(state) => {
                let id = crate::escape::line(&state.run_id);
                eprintln!("{id}: asked to stop, still {} after {} s", state.state.name(), args.timeout);
                code = jobs::STILL_RUNNING;
            }
        }
    }
    Ok(code)
}
