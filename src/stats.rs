//! `git dispatch stats`: the run folders of a repository added up: runs, offered, applied,
//! violations by kind, the agent's and git-dispatch's own time (median, p90) and the tokens used,
//! in total, per agent and per mode.
//!
//! Everything comes from the run folders (`policy.json`, `run.json`, `applied.json`); nothing is
//! recomputed. A folder that cannot be read is named in `unreadable`, never an error; dry runs and
//! runs that have not finished are counted apart and left out of the rest. Submodules: `facts` (one
//! run folder read), `since` (the `--since` argument), `render` (the table, JSON and CSV).

mod facts;
mod render;
mod since;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::agent::TokenUsage;
pub use facts::{violation_kinds, Read, RunFacts};
pub use render::{write_csv, write_json, write_table};
pub use since::parse_since;

/// Which runs to count.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only runs started at or after this time.
    pub since: Option<DateTime<FixedOffset>>,
    /// Only runs of this agent (`codex`, `claude`).
    pub agent: Option<String>,
    /// Only runs of this mode (`worker`, ...).
    pub mode: Option<String>,
}

impl Filter {
    fn admits(&self, run: &RunFacts) -> bool {
        let recent = match (self.since, run.started_at) {
            (Some(since), Some(started)) => started >= since,
            (Some(_), None) => false,
            (None, _) => true,
        };
        recent
            && self.agent.as_ref().is_none_or(|agent| *agent == run.agent)
            && self.mode.as_ref().is_none_or(|mode| *mode == run.mode)
    }
}

/// Median and 90th percentile of a set of durations, in seconds; `null` without values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    /// How many runs have a value.
    pub runs: usize,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub total: f64,
}

impl Spread {
    /// Median (the mean of the two middle values for an even count) and p90 (nearest rank).
    pub fn of(milliseconds: &[u64]) -> Spread {
        let mut sorted = milliseconds.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let total = seconds(sorted.iter().sum::<u64>() as f64);
        if n == 0 {
            return Spread { runs: 0, median: None, p90: None, total };
        }
        let median = if n % 2 == 1 { sorted[n / 2] as f64 } else { (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0 };
        let rank = (0.9 * n as f64).ceil() as usize;
        let p90 = sorted[rank.clamp(1, n) - 1] as f64;
        Spread { runs: n, median: Some(seconds(median)), p90: Some(seconds(p90)), total }
    }
}

/// Milliseconds as seconds, to the millisecond.
fn seconds(milliseconds: f64) -> f64 {
    milliseconds.round() / 1000.0
}

/// The durations of a group of runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Durations {
    /// The agent stage (only runs whose agent ran).
    pub agent: Spread,
    /// git-dispatch's own stages (everything but the agent, SETUP and `--verify`).
    pub overhead: Spread,
}

/// Tokens of a group of runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tokens {
    /// Input tokens, cached ones included.
    pub input: u64,
    pub output: u64,
    /// The part of `input` read from the provider's cache.
    pub cached: u64,
    /// The part of `output` spent on reasoning (as the agent reports it).
    pub reasoning: u64,
}

impl Tokens {
    fn add(&mut self, usage: &TokenUsage) {
        self.input += usage.input_tokens;
        self.output += usage.output_tokens;
        self.cached += usage.cached_input_tokens;
        self.reasoning += usage.reasoning_output_tokens;
    }
}

/// The numbers of one group of runs (all, one agent, one mode).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub runs: usize,
    pub offered: usize,
    pub applied: usize,
    /// Runs by exit code (`"0"`, `"1"`, `"2"`, `"3"`).
    pub exit_codes: BTreeMap<String, usize>,
    /// Runs by violation kind; a run with two kinds counts in both.
    pub violations: BTreeMap<String, usize>,
    pub duration_s: Durations,
    pub tokens: Tokens,
}

impl Totals {
    fn of<'a>(runs: impl IntoIterator<Item = &'a RunFacts>) -> Totals {
        let mut totals = Totals::default();
        let (mut agent, mut overhead) = (Vec::new(), Vec::new());
        for run in runs {
            totals.runs += 1;
            totals.offered += usize::from(run.offered);
            totals.applied += usize::from(run.applied);
            *totals.exit_codes.entry(run.exit_code.to_string()).or_default() += 1;
            for kind in &run.violations {
                *totals.violations.entry(kind.clone()).or_default() += 1;
            }
            agent.extend(run.agent_ms);
            overhead.extend(run.overhead_ms);
            totals.tokens.add(&run.tokens);
        }
        totals.duration_s = Durations { agent: Spread::of(&agent), overhead: Spread::of(&overhead) };
        totals
    }
}

/// A run folder that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unreadable {
    pub run_id: String,
    pub path: String,
    pub problem: String,
}

/// The statistics of a runs folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub runs_root: String,
    #[serde(flatten)]
    pub totals: Totals,
    pub by_agent: BTreeMap<String, Totals>,
    pub by_mode: BTreeMap<String, Totals>,
    /// Dry runs (`--dry-run`) that pass the filter's time; not counted in `runs`.
    pub dry_runs: usize,
    /// Runs not finished (still running, or their process died): their ids.
    pub unfinished: Vec<String>,
    /// Run folders that could not be read, with the reason.
    pub unreadable: Vec<Unreadable>,
    /// The runs counted, oldest first (for `--csv`; not in the JSON object).
    #[serde(skip)]
    pub counted: Vec<RunFacts>,
}

/// Reads every run folder under `runs_root` (a missing root is no runs) and adds up those that
/// pass `filter`.
pub fn collect(runs_root: &Path, filter: &Filter) -> anyhow::Result<Stats> {
    let mut stats = Stats { runs_root: runs_root.display().to_string(), ..Stats::default() };
    let mut runs = crate::handback::list_runs(runs_root)?;
    runs.reverse();
    for run in &runs {
        match facts::read(run) {
            Read::Finished(facts) if filter.admits(&facts) => stats.counted.push(*facts),
            Read::Finished(_) => {}
            Read::DryRun if started_since(run, filter) => stats.dry_runs += 1,
            Read::DryRun => {}
            Read::Unfinished { .. } if started_since(run, filter) => stats.unfinished.push(run.id.clone()),
            Read::Unfinished { .. } => {}
            // A damaged folder may be any agent's or mode's: only an id older than --since hides it.
            Read::Unreadable { problem } if started_since(run, filter) => stats.unreadable.push(Unreadable {
                run_id: run.id.clone(),
                path: run.path.display().to_string(),
                problem,
            }),
            Read::Unreadable { .. } => {}
        }
    }
    stats.totals = Totals::of(&stats.counted);
    stats.by_agent = grouped(&stats.counted, |run| &run.agent);
    stats.by_mode = grouped(&stats.counted, |run| &run.mode);
    Ok(stats)
}

/// The run's id time is at or after `--since` (or cannot be told).
fn started_since(run: &crate::handback::RunRecord, filter: &Filter) -> bool {
    let Some(since) = filter.since else { return true };
    let started = run.started.and_then(|naive| naive.and_local_timezone(chrono::Local).earliest());
    started.is_none_or(|started| started.fixed_offset() >= since)
}

fn grouped(runs: &[RunFacts], key: impl Fn(&RunFacts) -> &String) -> BTreeMap<String, Totals> {
    let mut groups: BTreeMap<String, Vec<&RunFacts>> = BTreeMap::new();
    for run in runs {
        groups.entry(key(run).clone()).or_default().push(run);
    }
    groups.into_iter().map(|(name, runs)| (name, Totals::of(runs))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90() {
        assert_eq!(Spread::of(&[]), Spread { runs: 0, median: None, p90: None, total: 0.0 });
        let one = Spread::of(&[1500]);
        assert_eq!((one.median, one.p90, one.total), (Some(1.5), Some(1.5), 1.5));
        let even = Spread::of(&[4000, 1000, 3000, 2000]);
        assert_eq!((even.median, even.p90), (Some(2.5), Some(4.0)));
        let ten: Vec<u64> = (1..=10).map(|s| s * 1000).collect();
        let spread = Spread::of(&ten);
        assert_eq!((spread.runs, spread.median, spread.p90, spread.total), (10, Some(5.5), Some(9.0), 55.0));
    }
}
