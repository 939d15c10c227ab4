//! `git dispatch list`: the runs of this repository, newest first, one line each (ids and modes
//! escaped: a run folder's name or its policy.json may have been written by an agent).

use std::io::Write;

use crate::artifacts::state::State;
use crate::cli::ListArgs;
use crate::handback;

pub fn cmd_list(args: &ListArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let root = match super::runs::runs_root(args.repo.as_deref(), args.output_dir.as_deref()) {
        Ok(root) => root,
        Err(err) if !args.json && err.to_string().starts_with("no runs found") => {
            writeln!(stdout, "no runs")?;
            return Ok(0);
        }
        Err(err) => return Err(err),
    };
    let runs = handback::list_runs(&root)?;
    let states: Vec<State> = runs.iter().map(|run| crate::jobs::observe(&run.path).state).collect();
    if args.json {
        for (run, state) in runs.iter().zip(&states) {
            let line = crate::jobs::list_entry(run, *state);
            writeln!(stdout, "{line}")?;
        }
        return Ok(0);
    }
    let shown: Vec<(String, String)> = runs
        .iter()
        .map(|run| (crate::escape::line(&run.id).into_owned(), crate::escape::line(&run.policy.mode).into_owned()))
        .collect();
    let width = shown.iter().map(|(id, _)| id.chars().count()).max().unwrap_or(2).max(2);
    writeln!(stdout, "{:<width$}  {:<11}  {:<22}  {:<7}  {:<9}  AGE", "ID", "MODE", "VERDICT", "OFFERED", "STATE")?;
    for ((run, state), (id, mode)) in runs.iter().zip(&states).zip(&shown) {
        let offered = match (run.policy.offered, &run.applied) {
            (true, Some(_)) => "applied",
            (true, None) => "yes",
            _ => "no",
        };
        writeln!(
            stdout,
            "{:<width$}  {:<11}  {:<22}  {:<7}  {:<9}  {}",
            id,
            mode,
            crate::jobs::list_verdict(run, *state),
            offered,
            state.name(),
            age(run.modified)
        )?;
    }
    Ok(0)
}

/// "5s", "3m", "2h", "4d" since `time`.
pub fn age(time: std::time::SystemTime) -> String {
    let seconds = time.elapsed().map(|d| d.as_secs()).unwrap_or(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}
