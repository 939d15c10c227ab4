//! Finding the run folders a hand-back command works on: `--output-dir`, else the nearest
//! `.codex-dispatch/runs` from the given directory (or the current one) up to the repository root.
//! A `.codex-dispatch` (or `runs`) that is a symlink is refused, never followed.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::artifacts::RUNS_SUBDIR;

/// The runs root for `repo` (`-C`) and `output_dir` (`--output-dir`).
pub fn runs_root(repo: Option<&Path>, output_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = output_dir {
        return Ok(dir.to_path_buf());
    }
    let start = match repo {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let start = std::fs::canonicalize(&start).with_context(|| format!("{} does not exist", start.display()))?;
    let top =
        gix::discover(&start).ok().and_then(|repo| repo.workdir().and_then(|dir| std::fs::canonicalize(dir).ok()));
    let mut dir = Some(start.as_path());
    while let Some(current) = dir {
        let candidate = current.join(RUNS_SUBDIR);
        crate::artifacts::check_runs_path(current)?;
        if candidate.is_dir() {
            return Ok(candidate);
        }
        if top.as_deref() == Some(current) {
            break;
        }
        dir = current.parent();
    }
    anyhow::bail!("no runs found: {} has no {RUNS_SUBDIR} folder (give -C DIR or --output-dir DIR)", start.display())
}

pub use crate::handback::repo_root_of;

/// What a job command looks at when it is given no run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenNone {
    /// The runs still going, else the newest (`status`, `wait`).
    GoingOrNewest,
    /// The runs still going (`cancel --all`).
    Going,
}

/// The run folders of a job command: the ones named (ids, prefixes, paths), or by default those
/// `when_none` says. An unknown run is an error naming it.
pub fn selected_runs(selector: &crate::cli::RunsSelector, when_none: WhenNone) -> anyhow::Result<Vec<PathBuf>> {
    let root = runs_root(selector.repo.as_deref(), selector.output_dir.as_deref());
    if !selector.runs.is_empty() {
        return crate::jobs::find(root.as_ref().ok().map(PathBuf::as_path), &selector.runs);
    }
    let root = root?;
    match when_none {
        WhenNone::GoingOrNewest => crate::jobs::going_or_newest(&root),
        WhenNone::Going => crate::jobs::going(&root),
    }
}
