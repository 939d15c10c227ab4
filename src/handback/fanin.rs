//! Several offered runs handed back as one operation (`apply A B C`, with or without `--merge`).
//!
//! Every run is checked as a single `apply` checks it (its lock, offered, not applied, not
//! superseded, its branch at the recorded result, its patch equal to the object store's), and no
//! two may be attempts of one group. Then a chain of 3-way merges in memory, in the order given:
//! run i is merged onto what runs 1..i-1 made, with its own base as the ancestor, starting from
//! the user's working tree (a patch) or HEAD's tree (`--merge`). Only when every step is clean is
//! anything written: the working tree once (from where the chain started to where it ended), and
//! with `--merge` one commit per run (a fast-forward, a merge commit or a single commit, as for one
//! run) and the branch moved once, with one reflog entry. Git would make an octopus merge of
//! `git merge A B`; one merge per run is chosen instead: every run keeps a commit of its own
//! (recorded in its `run.json`), a run whose base held uncommitted state still gets its single
//! commit, and a later bisect can tell the runs apart.
//!
//! A step that conflicts is set aside and the chain goes on without it, so that one refusal names
//! every conflicting run, each conflicting path, and what else changed that path: an earlier run,
//! or the starting point (your checkout, or HEAD). Nothing is written then, not even an object.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use gix::bstr::BString;
use gix::ObjectId;
use serde::Serialize;

use super::apply::{merge_or_conflicts, tree_of, ApplyError, ApplyHow, ApplyOutcome, PatchRenderer, RunCommits};
use super::runs::RunRecord;
use super::{apply, checkout, files, group, lock, merge};

/// One conflict of a chain: a run, a path it conflicts in, and what else changed that path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub run: String,
    pub path: String,
    /// Earlier runs of the chain (`run ID`) and the starting point (`your checkout`, `HEAD`).
    pub with: Vec<String>,
}

/// One line for a list of conflicts: `run B conflicts in a.txt (with run A)`, joined by `; `.
pub fn describe_conflicts(conflicts: &[Conflict]) -> String {
    let mut runs: Vec<&str> = conflicts.iter().map(|conflict| conflict.run.as_str()).collect();
    runs.dedup();
    let parts: Vec<String> = runs
        .iter()
        .map(|run| {
            let paths: Vec<String> = conflicts
                .iter()
                .filter(|conflict| conflict.run == *run)
                .map(|conflict| match conflict.with.as_slice() {
                    [] => conflict.path.clone(),
                    with => format!("{} (with {})", conflict.path, with.join(", ")),
                })
                .collect();
            format!("run {run} conflicts in {}", paths.join(", "))
        })
        .collect();
    parts.join("; ")
}

/// Several runs handed back: what became of each, and every path written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanInOutcome {
    pub how: ApplyHow,
    /// Per run, in order: its own outcome (its paths: those its result changed; with `--merge`
    /// its commit and merge kind).
    pub runs: Vec<(String, ApplyOutcome)>,
    /// Every path written or deleted in the working tree, sorted.
    pub paths: Vec<String>,
}

/// One run of a chain, its commits verified.
pub(super) struct Step<'a> {
    run: &'a RunRecord,
    commits: RunCommits,
    base_tree: ObjectId,
    result_tree: ObjectId,
    /// The paths its result changes from its base.
    changed: BTreeSet<BString>,
}

impl<'a> Step<'a> {
    pub(super) fn new(repo: &gix::Repository, run: &'a RunRecord, commits: RunCommits) -> anyhow::Result<Step<'a>> {
        let (base_tree, result_tree) = (tree_of(repo, commits.base)?, tree_of(repo, commits.result)?);
        let changed = files::path_edits(repo, base_tree, result_tree)?.into_iter().map(|edit| edit.path).collect();
        Ok(Step { run, commits, base_tree, result_tree, changed })
    }
}

/// The chain of merges from `start` (labelled `start_label` in conflicts): the tree after each
/// step (a conflicting step leaves it as it was), and the conflicts.
pub(super) fn chain(
    repo: &gix::Repository,
    start: ObjectId,
    start_label: &str,
    steps: &[Step<'_>],
) -> anyhow::Result<(Vec<ObjectId>, Vec<Conflict>)> {
    let mut current = start;
    let (mut trees, mut conflicts) = (Vec::new(), Vec::new());
    for (index, step) in steps.iter().enumerate() {
        match merge_or_conflicts(repo, step.base_tree, current, step.result_tree)? {
            Ok(merged) => current = merged,
            Err(paths) => {
                let start_changed: BTreeSet<BString> =
                    files::path_edits(repo, step.base_tree, start)?.into_iter().map(|edit| edit.path).collect();
                for path in paths {
                    let key = BString::from(path.as_str());
                    let mut with: Vec<String> = steps[..index]
                        .iter()
                        .filter(|earlier| earlier.changed.contains(&key))
                        .map(|earlier| format!("run {}", earlier.run.id))
                        .collect();
                    if start_changed.contains(&key) {
                        with.push(start_label.to_string());
                    }
                    conflicts.push(Conflict { run: step.run.id.clone(), path, with });
                }
            }
        }
        trees.push(current);
    }
    Ok((trees, conflicts))
}

/// Apply `runs`, in order, as one operation (see the module documentation).
pub fn apply_many(runs: &[RunRecord], repo_root: &Path, how: ApplyHow) -> Result<FanInOutcome, ApplyError> {
    apply_many_with(runs, repo_root, how, &crate::patch::render)
}

/// [`apply_many`] with the patch renderer given (tests substitute their own).
pub fn apply_many_with(
    runs: &[RunRecord],
    repo_root: &Path,
    how: ApplyHow,
    render: PatchRenderer<'_>,
) -> Result<FanInOutcome, ApplyError> {
    require_distinct(runs)?;
    let mut _run_locks = Vec::new();
    for run in runs {
        _run_locks
            .push(lock::try_lock_run(&run.path)?.ok_or_else(|| ApplyError::BeingApplied { run: run.id.clone() })?);
        apply::require_offered(run)?;
    }
    let mut repo = gix::discover(repo_root)
        .with_context(|| format!("{} is not in a git repository", repo_root.display()))?
        .with_object_memory();
    let _repo_lock = lock::lock_repository(repo.common_dir())?;
    crate::workspace::pause_point("apply-locked");
    for run in runs {
        group::require_not_superseded(run)?;
    }
    let mut steps = Vec::new();
    for run in runs {
        let commits = apply::verified_commits(run, &repo, render)?;
        steps.push(Step::new(&repo, run, commits)?);
    }
    let outcome = match how {
        ApplyHow::Patch => patch_chain(&repo, &steps)?,
        ApplyHow::Merge => merge_chain(&mut repo, &steps)?,
    };
    let ids: Vec<String> = runs.iter().map(|run| run.id.clone()).collect();
    for (run, (_, own)) in runs.iter().zip(&outcome.runs) {
        apply::record_applied(run, own, &ids)?;
    }
    for run in runs {
        group::mark_superseded(run);
    }
    Ok(outcome)
}

/// The same run twice, or two attempts of one group, cannot go together.
fn require_distinct(runs: &[RunRecord]) -> Result<(), ApplyError> {
    for (index, run) in runs.iter().enumerate() {
        for other in &runs[..index] {
            let same_group = match (&other.group, &run.group) {
                (Some(a), Some(b)) if a.id == b.id => Some(&a.id),
                _ => None,
            };
            let reason = if other.path == run.path {
                format!("run {} is named twice", run.id)
            } else if let Some(group) = same_group {
                format!("{} and {} are attempts of one group, {group}: pick one", other.id, run.id)
            } else {
                continue;
            };
            return Err(ApplyError::NotTogether { reason });
        }
    }
    Ok(())
}

/// Each run's own paths (those its result changed), as its outcome.
fn own_outcome(step: &Step<'_>, how: ApplyHow) -> ApplyOutcome {
    let paths = step.changed.iter().map(|path| gix::bstr::ByteSlice::to_str_lossy(path.as_slice()).into_owned());
    ApplyOutcome { how, paths: paths.collect(), commit: None, merge: None }
}

fn patch_chain(repo: &gix::Repository, steps: &[Step<'_>]) -> Result<FanInOutcome, ApplyError> {
    let workdir = repo.workdir().context("the repository has no working tree")?.to_path_buf();
    let head_tree = repo.head_tree_id_or_empty().context("cannot read HEAD")?.detach();
    let ours = checkout::worktree_tree(repo, head_tree, &checkout::dirty_paths(repo)?)?;
    let (trees, conflicts) = chain(repo, ours, "your checkout", steps)?;
    if !conflicts.is_empty() {
        return Err(ApplyError::FanInConflict { conflicts, merge: false });
    }
    let last = trees.last().copied().unwrap_or(ours);
    let edits = files::path_edits(repo, ours, last)?;
    let blocked = files::blocked_paths(&workdir, &edits);
    if !blocked.is_empty() {
        return Err(ApplyError::InTheWay { paths: blocked });
    }
    files::write_edits(repo, &workdir, &edits)?;
    let runs = steps.iter().map(|step| (step.run.id.clone(), own_outcome(step, ApplyHow::Patch))).collect();
    Ok(FanInOutcome { how: ApplyHow::Patch, runs, paths: edits.iter().map(files::PathEdit::path_lossy).collect() })
}

fn merge_chain(repo: &mut gix::Repository, steps: &[Step<'_>]) -> Result<FanInOutcome, ApplyError> {
    let head_id = merge::current_branch_tip(repo)?;
    for step in steps {
        merge::require_not_in_head(repo, step.run, &step.commits, head_id)?;
    }
    let head_tree = tree_of(repo, head_id)?;
    let (trees, conflicts) = chain(repo, head_tree, "HEAD", steps)?;
    if !conflicts.is_empty() {
        return Err(ApplyError::FanInConflict { conflicts, merge: true });
    }
    let last = trees.last().copied().unwrap_or(head_tree);
    let edits = merge::landing_edits(repo, head_tree, last)?;
    let (author, committer) = merge::identity(repo)?;
    let (mut tip, mut runs) = (head_id, Vec::new());
    for (step, tree) in steps.iter().zip(&trees) {
        let (commit, kind) = merge::merge_commit(repo, step.run, &step.commits, tip, *tree, (&author, &committer))?;
        tip = commit;
        let own = ApplyOutcome { commit: Some(commit), merge: Some(kind), ..own_outcome(step, ApplyHow::Merge) };
        runs.push((step.run.id.clone(), own));
    }
    let ids: Vec<&str> = steps.iter().map(|step| step.run.id.as_str()).collect();
    let reflog = format!("git-dispatch: merge runs {}", ids.join(", "));
    let paths = merge::land(repo, &edits, (head_id, tip), &reflog, &committer)?;
    Ok(FanInOutcome { how: ApplyHow::Merge, runs, paths })
}

/// `review A B ...`: what applying `runs` in this order onto the user's working tree would do,
/// computed in memory without checking the runs' patches (`apply` does): the conflicts, none
/// when it would merge cleanly.
pub fn simulate(runs: &[RunRecord], repo_root: &Path) -> anyhow::Result<Vec<Conflict>> {
    let repo = gix::discover(repo_root)
        .with_context(|| format!("{} is not in a git repository", repo_root.display()))?
        .with_object_memory();
    let mut steps = Vec::new();
    for run in runs {
        steps.push(Step::new(&repo, run, recorded_commits(run)?)?);
    }
    let head_tree = repo.head_tree_id_or_empty().context("cannot read HEAD")?.detach();
    let ours = checkout::worktree_tree(&repo, head_tree, &checkout::dirty_paths(&repo)?)?;
    Ok(chain(&repo, ours, "your checkout", &steps)?.1)
}

/// The base and result commits `policy.json` records (not verified).
pub(super) fn recorded_commits(run: &RunRecord) -> anyhow::Result<RunCommits> {
    let parse = |value: &Option<String>, field: &str| -> anyhow::Result<ObjectId> {
        let text = value.as_deref().with_context(|| format!("run {}: policy.json has no {field}", run.id))?;
        ObjectId::from_hex(text.as_bytes()).with_context(|| format!("run {}: {field} `{text}` is no commit id", run.id))
    };
    Ok(RunCommits {
        base: parse(&run.policy.base_commit, "base_commit")?,
        result: parse(&run.policy.result_commit, "result_commit")?,
    })
}
