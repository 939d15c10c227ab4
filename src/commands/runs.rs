//! Finding the run folders a hand-back command works on: `--output-dir`, else the nearest
//! `.codex-dispatch/runs` from the given directory (or the current one) up to the repository root.
//! A `.codex-dispatch` (or `runs`) that is a symlink is refused, never followed.

use std::path::PathBuf;

pub use crate::handback::{repo_root_of, runs_root};

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
