//! `git dispatch list`: the runs of this repository, newest first, one line each (ids and modes
//! escaped: a run folder's name or its policy.json may have been written by an agent). The
//! attempts of a group (best of N) are shown together: a line for the group (how many attempts,
//! how many offered, which was applied), then its attempts, indented, by attempt number.

use std::io::Write;

use crate::artifacts::state::State;
use crate::cli::ListArgs;
use crate::handback::{self, Group, RunRecord};

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
    let rows = rows(&runs, &states);
    let width = rows.iter().map(|row| row.id.chars().count()).max().unwrap_or(2).max(2);
    let offered_width = rows.iter().map(|row| row.offered.len()).max().unwrap_or(7).max(7);
    writeln!(
        stdout,
        "{:<width$}  {:<11}  {:<22}  {:<offered_width$}  {:<9}  AGE",
        "ID", "MODE", "VERDICT", "OFFERED", "STATE"
    )?;
    for row in rows {
        writeln!(
            stdout,
            "{:<width$}  {:<11}  {:<22}  {:<offered_width$}  {:<9}  {}",
            row.id, row.mode, row.verdict, row.offered, row.state, row.age
        )?;
    }
    Ok(0)
}

/// One line of the table, escaped.
struct Row {
    id: String,
    mode: String,
    verdict: String,
    offered: String,
    state: &'static str,
    age: String,
}

/// The table's lines: each run, and each group once (where its newest attempt would be) followed
/// by its attempts.
fn rows(runs: &[RunRecord], states: &[State]) -> Vec<Row> {
    let groups = handback::groups_of(runs);
    let state_of =
        |run: &RunRecord| runs.iter().position(|r| r.path == run.path).map_or(State::Finished, |i| states[i]);
    let mut shown: Vec<&str> = Vec::new();
    let mut rows = Vec::new();
    for (run, state) in runs.iter().zip(states) {
        let Some(group) = run.group.as_ref().and_then(|tag| groups.iter().find(|group| group.id == tag.id)) else {
            rows.push(run_row(run, *state, ""));
            continue;
        };
        if shown.contains(&group.id.as_str()) {
            continue;
        }
        shown.push(&group.id);
        let member_states: Vec<State> = group.runs.iter().map(state_of).collect();
        rows.push(group_row(group, &member_states));
        for (member, state) in group.runs.iter().zip(&member_states) {
            rows.push(run_row(member, *state, "  "));
        }
    }
    rows
}

fn run_row(run: &RunRecord, state: State, indent: &str) -> Row {
    let offered = match (run.policy.offered, &run.applied, &run.superseded) {
        (true, Some(_), _) => "applied",
        (true, None, Some(_)) => "superseded",
        (true, None, None) => "yes",
        _ => "no",
    };
    Row {
        id: format!("{indent}{}", crate::escape::line(&run.id)),
        mode: crate::escape::line(&run.policy.mode).into_owned(),
        verdict: crate::jobs::list_verdict(run, state),
        offered: offered.to_string(),
        state: state.name(),
        age: age(run.modified),
    }
}

/// A group's line: `N attempts, M offered` (or which attempt was applied), its state (running
/// while any attempt is going).
fn group_row(group: &Group, states: &[State]) -> Row {
    let offered = group.runs.iter().filter(|run| run.policy.offered).count();
    let going = states.iter().any(|state| !state.is_over());
    let verdict = match group.applied() {
        Some(applied) => {
            format!("{} attempts, #{} applied", group.runs.len(), applied.group.as_ref().map_or(0, |t| t.attempt))
        }
        None => format!("{} attempts, {offered} offered", group.runs.len()),
    };
    let newest = group.runs.iter().map(|run| run.modified).max().unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    Row {
        id: crate::escape::line(&group.id).into_owned(),
        mode: "group".to_string(),
        verdict: crate::escape::line(&verdict).into_owned(),
        offered: if group.applied().is_some() {
            "applied"
        } else if offered > 0 {
            "yes"
        } else {
            "no"
        }
        .to_string(),
        state: if going { "running" } else { "finished" },
        age: age(newest),
    }
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
