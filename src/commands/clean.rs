//! `git dispatch clean [RUN | --all | --older-than D] [--pool] [--recover] [--artifacts] [--force]`:
//! removes what runs leave behind, one printed line per action.
//!
//! For each selected run (a run, a group's attempts, no selector = every run): its kept worktree (only when it lies in this
//! repository's worktrees folder: run.json could have been rewritten by an agent), its scratch branch
//! `dispatch/<id>`, and with `--artifacts` its run folder. An offered run that was not applied is
//! kept and named (while its branch exists) unless `--force`; a run still in progress is never touched. `--pool` empties the
//! warm pool; `--recover` prunes what killed runs left (worktrees, admin dirs, branches). All git work
//! is in-process gix.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use gix::refs::transaction::{Change, PreviousValue, RefEdit, RefLog};

use crate::artifacts::RunRecord as RunJson;
use crate::cli::CleanArgs;
use crate::handback::{self, RunRecord};
use crate::workspace::{self, WorkspaceOptions};

pub fn cmd_clean(args: &CleanArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    // Run ids, paths and recovery messages come from folders an agent may have written.
    let mut escaped = crate::escape::Writer::new(stdout);
    let stdout: &mut dyn Write = &mut escaped;
    let max_age = args.older_than.as_deref().map(parse_age).transpose()?;
    let runs_root = super::runs::runs_root(args.repo.as_deref(), args.output_dir.as_deref());
    let runs = match (&runs_root, &args.run) {
        (Ok(root), Some(selector)) => match handback::select(root, Some(selector))? {
            handback::Selected::Run(run) => vec![run],
            handback::Selected::Group(group) => group.runs,
        },
        (Ok(root), None) => handback::list_runs(root)?,
        (Err(err), Some(_)) => return Err(anyhow::anyhow!("{err:#}")),
        (Err(_), None) => Vec::new(),
    };
    let options = WorkspaceOptions::from_env();
    let mut actions = 0;
    for run in runs.iter().filter(|run| max_age.is_none_or(|age| older_than(run, age))) {
        actions += clean_run(run, args, &options, stdout)?;
    }
    if args.pool || args.recover {
        let repo_root = user_repo_root(args.repo.as_deref())?;
        if args.pool {
            let removed = workspace::clear_pool(&repo_root, &options)?;
            writeln!(stdout, "emptied the pool: {removed} idle worktree(s) removed")?;
            actions += 1;
        }
        if args.recover {
            actions += recover(&repo_root, runs_root.ok().as_deref(), &options, stdout)?;
        }
        if args.pool {
            remove_empty_layout(&repo_root, &options);
        }
    }
    if actions == 0 {
        writeln!(stdout, "nothing to clean")?;
    }
    Ok(0)
}

/// "45s", "30m", "12h", "7d", "2w"; a bare number is seconds.
pub fn parse_age(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("--older-than: expected a number and a unit (30m, 12h, 7d), not `{text}`"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        other => anyhow::bail!("--older-than: unknown unit `{other}` in `{text}`; use s, m, h, d or w"),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

fn older_than(run: &RunRecord, age: Duration) -> bool {
    let started = run.started.and_then(|naive| naive.and_local_timezone(chrono::Local).earliest());
    let elapsed = match started {
        Some(time) => (chrono::Local::now() - time).to_std().unwrap_or_default(),
        None => run.modified.elapsed().unwrap_or_default(),
    };
    elapsed >= age
}

/// The repository to clean the pool of: `-C DIR` or the current directory.
fn user_repo_root(repo: Option<&Path>) -> anyhow::Result<PathBuf> {
    let start = match repo {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let repo = gix::discover(&start).with_context(|| format!("{} is not in a git repository", start.display()))?;
    repo.workdir().map(Path::to_path_buf).with_context(|| format!("{} has no checkout", start.display()))
}

fn read_run_json(run: &RunRecord) -> Option<RunJson> {
    let bytes = std::fs::read(run.file("run.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// True while the run is queued or running (its state, checked against the living processes).
fn in_progress(run: &RunRecord) -> bool {
    !crate::jobs::observe(&run.path).state.is_over()
}

/// An offered result nobody applied yet (worth keeping while its branch exists); an attempt
/// superseded by its group's applied pick is not.
fn offered_not_applied(run: &RunRecord) -> bool {
    run.policy.offered && run.applied.is_none() && run.superseded.is_none()
}

/// Clean one run; returns how many lines were printed.
fn clean_run(
    run: &RunRecord,
    args: &CleanArgs,
    options: &WorkspaceOptions,
    stdout: &mut dyn Write,
) -> anyhow::Result<usize> {
    if in_progress(run) {
        let pid = crate::jobs::observe(&run.path).pid.unwrap_or_default();
        writeln!(stdout, "skipped {}: still running (pid {pid})", run.id)?;
        return Ok(1);
    }
    let record = read_run_json(run);
    let repo = super::runs::repo_root_of(run).and_then(|root| gix::open(&root).context("cannot open the repository"));
    let branch_left = repo.as_ref().is_ok_and(|repo| branch_exists(repo, &run.id));
    if offered_not_applied(run) && branch_left && !args.force {
        writeln!(stdout, "kept {}: offered and not applied; use --force", run.id)?;
        return Ok(1);
    }
    let mut actions = 0;
    match repo {
        Ok(repo) => {
            if let Some(path) = kept_worktree(record.as_ref()) {
                if remove_kept_worktree(&repo, &path, options)? {
                    writeln!(stdout, "removed worktree {} (run {})", path.display(), run.id)?;
                    actions += 1;
                }
            }
            if workspace::validate_run_id(&run.id).is_ok() && delete_branch(&repo, &run.id)? {
                writeln!(stdout, "deleted branch dispatch/{}", run.id)?;
                actions += 1;
            }
        }
        Err(err) if !args.artifacts => {
            writeln!(stdout, "skipped {}: {err:#}", run.id)?;
            return Ok(1);
        }
        Err(_) => {}
    }
    if args.artifacts {
        std::fs::remove_dir_all(&run.path).with_context(|| format!("cannot delete {}", run.path.display()))?;
        writeln!(stdout, "deleted run folder {}", run.path.display())?;
        actions += 1;
    }
    Ok(actions)
}

fn kept_worktree(record: Option<&RunJson>) -> Option<PathBuf> {
    let record = record?;
    record.worktree.as_ref().filter(|_| record.worktree_kept).map(PathBuf::from)
}

/// Remove a kept worktree, but only one inside this repository's worktrees folder.
fn remove_kept_worktree(repo: &gix::Repository, path: &Path, options: &WorkspaceOptions) -> anyhow::Result<bool> {
    let Some(root) = repo.workdir() else { return Ok(false) };
    let path = &path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let layout = workspace::layout_for(root, options)?;
    let ours = layout.worktrees_dir();
    let ours = ours.canonicalize().unwrap_or(ours);
    let Some(name) = path.strip_prefix(&ours).ok().and_then(|rest| rest.to_str()) else { return Ok(false) };
    if name.is_empty() || name.contains('/') {
        return Ok(false);
    }
    let registered = repo
        .worktrees()
        .context("cannot list worktrees")?
        .into_iter()
        .any(|proxy| proxy.base().ok().and_then(|base| base.canonicalize().ok()).is_some_and(|base| &base == path));
    let exists = path.symlink_metadata().is_ok();
    if registered {
        repo.remove_worktree(path, gix::worktree::remove::Force::OverrideLock, gix::progress::Discard)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot remove the worktree {}", path.display()))?;
    }
    if path.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    layout.forget(name)?;
    Ok(registered || exists)
}

fn branch_exists(repo: &gix::Repository, run_id: &str) -> bool {
    let name = format!("refs/heads/dispatch/{run_id}");
    repo.try_find_reference(name.as_str()).ok().flatten().is_some()
}

/// Delete `refs/heads/dispatch/<id>` with its reflog; false when there is none.
fn delete_branch(repo: &gix::Repository, run_id: &str) -> anyhow::Result<bool> {
    let name = format!("refs/heads/dispatch/{run_id}");
    if repo.try_find_reference(name.as_str()).context("cannot read references")?.is_none() {
        return Ok(false);
    }
    let edit = RefEdit {
        change: Change::Delete { expected: PreviousValue::Any, log: RefLog::AndReference },
        name: name.as_str().try_into().with_context(|| format!("invalid branch name {name}"))?,
        deref: false,
    };
    repo.edit_reference(edit).with_context(|| format!("cannot delete {name}"))?;
    Ok(true)
}

/// `--recover`: prune worktrees and branches of runs that are neither in progress nor worth keeping.
fn recover(
    repo_root: &Path,
    runs_root: Option<&Path>,
    options: &WorkspaceOptions,
    stdout: &mut dyn Write,
) -> anyhow::Result<usize> {
    let keep = |run_id: &str| {
        let Some(root) = runs_root else { return false };
        let folder = root.join(run_id);
        if workspace::validate_run_id(run_id).is_err() || !folder.is_dir() {
            return false;
        }
        let run = RunRecord::load(&folder);
        let record = read_run_json(&run);
        in_progress(&run) || offered_not_applied(&run) || kept_worktree(record.as_ref()).is_some()
    };
    let journal = crate::journal::recover(repo_root, &crate::journal::RecoverOptions { workspace: options.clone() })?;
    for line in journal.messages() {
        writeln!(stdout, "recovered: {line}")?;
    }
    // Shared git locks are never removed; named here even when no dead run was recovered.
    let shared = if journal.recovered.is_empty() { crate::journal::shared_locks_of(repo_root)? } else { Vec::new() };
    for lock in &shared {
        writeln!(stdout, "recover: {}", crate::journal::describe_shared_lock(lock))?;
    }
    let report = workspace::prune(repo_root, options, &keep)?;
    for path in &report.removed_worktrees {
        writeln!(stdout, "recovered: removed worktree {}", path.display())?;
    }
    for path in &report.pruned_admin_dirs {
        writeln!(stdout, "recovered: pruned the admin folder {}", path.display())?;
    }
    for branch in &report.deleted_branches {
        writeln!(stdout, "recovered: deleted branch {branch}")?;
    }
    let actions = journal.messages().len()
        + shared.len()
        + report.removed_worktrees.len()
        + report.pruned_admin_dirs.len()
        + report.deleted_branches.len();
    if actions == 0 {
        writeln!(stdout, "recover: nothing left behind")?;
    }
    Ok(actions + 1)
}

/// After the pool is emptied, remove the repository's worktrees folder if nothing is left in it
/// (only empty sub-folders, once the journal's records of finished runs are gone; `remove_dir`
/// never deletes anything that still holds a file).
fn remove_empty_layout(repo_root: &std::path::Path, options: &WorkspaceOptions) {
    let Ok(layout) = workspace::layout_for(repo_root, options) else { return };
    crate::journal::forget_finished(&crate::journal::journal_dir(&layout));
    let _ = std::fs::remove_file(layout.dir.join("admin.lock"));
    if let Ok(entries) = std::fs::read_dir(&layout.dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
    let _ = std::fs::remove_dir(&layout.dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("45").expect("bare"), Duration::from_secs(45));
        assert_eq!(parse_age("30m").expect("minutes"), Duration::from_secs(1800));
        assert_eq!(parse_age("12h").expect("hours"), Duration::from_secs(43_200));
        assert_eq!(parse_age("7d").expect("days"), Duration::from_secs(604_800));
        assert!(parse_age("7y").is_err());
        assert!(parse_age("h").is_err());
    }
}
