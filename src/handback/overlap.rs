//! `review A B ...` and `review --all-offered`: the runs side by side with their changed paths,
//! then the overlaps, every path two of them change, each checked by a 3-way merge in memory of
//! the pair (the second run's result merged onto the first's, the second's base as the ancestor):
//! a conflict there, or a clean merge. Last, what `apply A B ...` would do with them, in this order,
//! on the checkout as it is now (the chain of `fanin`, computed and thrown away).
//!
//! Nothing is written, not even an object (the repository is opened with object memory). What
//! came from run folders is escaped when written as text.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Context;
use serde::Serialize;

use super::apply::{merge_or_conflicts, tree_of};
use super::fanin::{self, Conflict};
use super::review::{load_changes, patch_size, verdict_label};
use super::runs::{repo_root_of, RunRecord};

/// The fan-in report of several runs.
#[derive(Debug, Clone, Serialize)]
pub struct FanInReport {
    pub runs: Vec<RunLine>,
    pub overlaps: Vec<Overlap>,
    pub together: Together,
}

/// One run of the report.
#[derive(Debug, Clone, Serialize)]
pub struct RunLine {
    pub run_id: String,
    /// `offered`, `applied`, `superseded`, `violation`, ...
    pub verdict: String,
    pub group: Option<String>,
    /// Changed paths (a rename's old path too), sorted.
    pub paths: Vec<String>,
    /// Lines the patch adds and removes.
    pub added: u64,
    pub removed: u64,
}

/// A path two runs change.
#[derive(Debug, Clone, Serialize)]
pub struct Overlap {
    pub path: String,
    pub runs: [String; 2],
    /// `conflict`, `clean`, or `unknown` (the pair could not be merged; see `problem`).
    pub check: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What `apply` of all the runs, in this order, would do now.
#[derive(Debug, Clone, Serialize)]
pub struct Together {
    /// Every step merges cleanly onto the checkout.
    pub clean: bool,
    pub conflicts: Vec<Conflict>,
    /// Why it would be refused before any merge (a run not offered, applied, superseded...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The word for a run in tables: its verdict, or `applied` / `superseded` once it is either.
pub fn status_word(run: &RunRecord) -> String {
    if run.applied.is_some() {
        "applied".into()
    } else if run.superseded.is_some() {
        "superseded".into()
    } else {
        verdict_label(run)
    }
}

/// The report of `runs`, in the order given.
pub fn fan_in_report(runs: &[RunRecord]) -> anyhow::Result<FanInReport> {
    let lines = runs.iter().map(run_line).collect::<anyhow::Result<Vec<_>>>()?;
    let repo_root = same_repository(runs)?;
    let repo = gix::discover(&repo_root)
        .with_context(|| format!("{} is not in a git repository", repo_root.display()))?
        .with_object_memory();
    let mut overlaps = Vec::new();
    for (second, run) in runs.iter().enumerate() {
        for (first, earlier) in runs[..second].iter().enumerate() {
            overlaps.extend(pair_overlaps(&repo, (earlier, &lines[first]), (run, &lines[second])));
        }
    }
    overlaps.sort_by(|a, b| a.path.cmp(&b.path));
    let together = together(runs, &repo_root)?;
    Ok(FanInReport { runs: lines, overlaps, together })
}

fn run_line(run: &RunRecord) -> anyhow::Result<RunLine> {
    let mut paths = BTreeSet::new();
    for change in load_changes(run)? {
        paths.extend(change.old_path);
        paths.insert(change.path);
    }
    let patch = std::fs::read(run.file("result.patch")).unwrap_or_default();
    let (added, removed) = patch_size(&patch);
    Ok(RunLine {
        run_id: run.id.clone(),
        verdict: status_word(run),
        group: run.group.as_ref().map(|tag| tag.id.clone()),
        paths: paths.into_iter().collect(),
        added,
        removed,
    })
}

/// All runs must hand back to one checkout.
fn same_repository(runs: &[RunRecord]) -> anyhow::Result<std::path::PathBuf> {
    let mut roots = runs.iter().map(|run| repo_root_of(run).map(|root| (run, root)));
    let (first, root) = roots.next().context("no runs to review")??;
    for other in roots {
        let (run, other_root) = other?;
        anyhow::ensure!(
            other_root == root,
            "run {} belongs to {}, run {} to {}: review runs of one repository",
            first.id,
            root.display(),
            run.id,
            other_root.display()
        );
    }
    Ok(root)
}

/// The paths both runs change, each with the verdict of their merge.
fn pair_overlaps(
    repo: &gix::Repository,
    first: (&RunRecord, &RunLine),
    second: (&RunRecord, &RunLine),
) -> Vec<Overlap> {
    let shared: Vec<&String> = first.1.paths.iter().filter(|path| second.1.paths.contains(path)).collect();
    if shared.is_empty() {
        return Vec::new();
    }
    let conflicts = pair_conflicts(repo, first.0, second.0);
    let runs = [first.0.id.clone(), second.0.id.clone()];
    shared
        .into_iter()
        .map(|path| {
            let (check, problem) = match &conflicts {
                Ok(paths) if paths.contains(path) => ("conflict", None),
                Ok(_) => ("clean", None),
                Err(err) => ("unknown", Some(format!("{err:#}"))),
            };
            Overlap { path: path.clone(), runs: runs.clone(), check, problem }
        })
        .collect()
}

/// The conflicting paths of `second`'s result merged onto `first`'s (`second`'s base the ancestor).
fn pair_conflicts(repo: &gix::Repository, first: &RunRecord, second: &RunRecord) -> anyhow::Result<Vec<String>> {
    let (first, second) = (fanin::recorded_commits(first)?, fanin::recorded_commits(second)?);
    let merged = merge_or_conflicts(
        repo,
        tree_of(repo, second.base)?,
        tree_of(repo, first.result)?,
        tree_of(repo, second.result)?,
    )?;
    Ok(merged.err().unwrap_or_default())
}

fn together(runs: &[RunRecord], repo_root: &std::path::Path) -> anyhow::Result<Together> {
    let refused = runs.iter().find_map(|run| match status_word(run).as_str() {
        "offered" => None,
        word => Some(format!("run {} is {word}", run.id)),
    });
    if refused.is_some() {
        return Ok(Together { clean: false, conflicts: Vec::new(), refused });
    }
    let conflicts = fanin::simulate(runs, repo_root)?;
    Ok(Together { clean: conflicts.is_empty(), conflicts, refused: None })
}

/// The report as text.
pub fn write_fan_in(report: &FanInReport, out: &mut dyn Write) -> anyhow::Result<()> {
    use crate::escape::line;
    let width = report.runs.iter().map(|run| line(&run.run_id).chars().count()).max().unwrap_or(3);
    let verdicts = report.runs.iter().map(|run| line(&run.verdict).chars().count()).max().unwrap_or(7);
    writeln!(out, "runs ({}):", report.runs.len())?;
    for run in &report.runs {
        let paths = if run.paths.len() == 1 { "1 path".to_string() } else { format!("{} paths", run.paths.len()) };
        let id = line(&run.run_id);
        writeln!(out, "  {id:<width$}  {:<verdicts$}  {paths}, +{} -{}", line(&run.verdict), run.added, run.removed)?;
        for path in &run.paths {
            writeln!(out, "      {}", line(path))?;
        }
    }
    writeln!(out, "overlaps ({}):", report.overlaps.len())?;
    for overlap in &report.overlaps {
        let check = match (&overlap.problem, overlap.check) {
            (Some(problem), _) => format!("not checked: {problem}"),
            (None, "clean") => "clean merge".to_string(),
            (None, check) => check.to_string(),
        };
        let [a, b] = &overlap.runs;
        writeln!(out, "  {}  {} and {}: {}", line(&overlap.path), line(a), line(b), line(&check))?;
    }
    let ids: Vec<&str> = report.runs.iter().map(|run| run.run_id.as_str()).collect();
    let verdict = match (&report.together.refused, report.together.clean) {
        (Some(reason), _) => format!("would be refused: {reason}"),
        (None, true) => format!("clean (git dispatch apply {})", ids.join(" ")),
        (None, false) => format!("conflicts: {}", fanin::describe_conflicts(&report.together.conflicts)),
    };
    writeln!(out, "together, in this order, onto your checkout: {}", line(&verdict))?;
    Ok(())
}
