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

/// The repository whose checkout a run belongs to (from its WORKDIR).
pub fn repo_root_of(run: &crate::handback::RunRecord) -> anyhow::Result<PathBuf> {
    let workdir = PathBuf::from(&run.policy.workdir);
    let repo = gix::discover(&workdir)
        .with_context(|| format!("run {}: WORKDIR {} is not in a git repository", run.id, workdir.display()))?;
    repo.workdir()
        .map(Path::to_path_buf)
        .with_context(|| format!("run {}: {} has no checkout", run.id, workdir.display()))
}
