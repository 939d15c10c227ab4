//! `git dispatch apply [RUN | RUN... | GROUP --pick RUN] [--merge]`: hand offered results back.
//! One run as before; several in the given order as one operation (all or nothing); the pick of a
//! group (the other attempts become superseded). Every refusal exits 1 and changes nothing.

use std::io::Write;

use crate::cli::ApplyArgs;
use crate::escape::line;
use crate::handback::{self, ApplyHow, ApplyOutcome, RunRecord, Selected};

pub fn cmd_apply(args: &ApplyArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let root = super::runs::runs_root(args.repo.as_deref(), args.output_dir.as_deref())?;
    let how = if args.merge { ApplyHow::Merge } else { ApplyHow::Patch };
    if args.runs.len() > 1 {
        anyhow::ensure!(args.pick.is_none(), "--pick goes with one group id: git dispatch apply GROUP --pick RUN");
        return apply_several(&root, &args.runs, how, stdout);
    }
    let selector = args.runs.first().map(String::as_str);
    let handed = match &args.pick {
        None => handback::apply_run(&root, selector, how)?,
        Some(pick) => match handback::select(&root, selector)? {
            Selected::Group(group) => handback::hand_back(group.member(pick)?.clone(), how)?,
            Selected::Run(run) => anyhow::bail!(
                "--pick goes with a group id, and {} is a run: git dispatch apply GROUP --pick RUN",
                run.id
            ),
        },
    };
    let id = line(&handed.run.id);
    match handed.outcome.commit {
        Some(commit) => writeln!(stdout, "merged run {id} into the current branch: {commit}")?,
        None => writeln!(stdout, "applied run {id} to {}", line(&handed.repo_root.display().to_string()))?,
    }
    for path in &handed.outcome.paths {
        writeln!(stdout, "  {}", line(path))?;
    }
    superseded_note(&handed.run, stdout)?;
    Ok(0)
}

/// `apply A B ...`: the runs selected (no group among them), then handed back together.
fn apply_several(
    root: &std::path::Path,
    selectors: &[String],
    how: ApplyHow,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    let mut runs: Vec<RunRecord> = Vec::new();
    for selector in selectors {
        match handback::select(root, Some(selector))? {
            Selected::Run(run) => runs.push(run),
            Selected::Group(group) => {
                anyhow::bail!(
                    "{} is a group: apply one of its attempts (`git dispatch apply {} --pick RUN`)",
                    group.id,
                    group.id
                )
            }
        }
    }
    let ids: Vec<String> = runs.iter().map(|run| run.id.clone()).collect();
    let repo_root = super::runs::repo_root_of(&runs[0])?;
    for run in &runs[1..] {
        let other = super::runs::repo_root_of(run)?;
        anyhow::ensure!(
            other == repo_root,
            "cannot apply runs {}: run {} belongs to {}, not {}",
            ids.join(", "),
            run.id,
            other.display(),
            repo_root.display()
        );
    }
    let outcome = handback::apply_many(&runs, &repo_root, how)
        .map_err(|err| anyhow::anyhow!("cannot apply runs {}: {err:#}", ids.join(", ")))?;
    for (id, own) in &outcome.runs {
        writeln!(out, "{}", run_line(id, own, &repo_root))?;
    }
    writeln!(out, "paths written ({}):", outcome.paths.len())?;
    for path in &outcome.paths {
        writeln!(out, "  {}", line(path))?;
    }
    for run in &runs {
        superseded_note(run, out)?;
    }
    Ok(0)
}

fn run_line(id: &str, own: &ApplyOutcome, repo_root: &std::path::Path) -> String {
    let id = line(id);
    match (own.commit, own.merge) {
        (Some(commit), Some(kind)) => format!("merged run {id} into the current branch: {commit} ({})", kind.as_str()),
        _ => format!("applied run {id} to {}", line(&repo_root.display().to_string())),
    }
}

/// After an attempt of a group was applied: its other attempts, now superseded.
fn superseded_note(run: &RunRecord, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(tag) = &run.group else { return Ok(()) };
    let Some(root) = run.path.parent() else { return Ok(()) };
    let Some(group) = handback::find_group(root, &tag.id)? else { return Ok(()) };
    let others: Vec<String> = group
        .runs
        .iter()
        .filter(|other| other.superseded.is_some())
        .map(|other| line(&other.id).into_owned())
        .collect();
    if !others.is_empty() {
        writeln!(out, "superseded (group {}): {}", line(&tag.id), others.join(", "))?;
    }
    Ok(())
}
