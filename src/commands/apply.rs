//! `git dispatch apply [RUN] [--merge]`: hand an offered result back; every refusal exits 1.

use std::io::Write;

use crate::cli::ApplyArgs;
use crate::escape::line;
use crate::handback::{self, ApplyHow};

pub fn cmd_apply(args: &ApplyArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let root = super::runs::runs_root(args.selector.repo.as_deref(), args.selector.output_dir.as_deref())?;
    let how = if args.merge { ApplyHow::Merge } else { ApplyHow::Patch };
    let handed = handback::apply_run(&root, args.selector.run.as_deref(), how)?;
    let id = line(&handed.run.id);
    match handed.outcome.commit {
        Some(commit) => writeln!(stdout, "merged run {id} into the current branch: {commit}")?,
        None => writeln!(stdout, "applied run {id} to {}", line(&handed.repo_root.display().to_string()))?,
    }
    for path in &handed.outcome.paths {
        writeln!(stdout, "  {}", line(path))?;
    }
    Ok(0)
}
