//! [`recover`]: undo what runs whose process is gone left behind (see the module above).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use super::alive::{self, Liveness};
use super::locks::{self, LockSweep};
use super::{journal_dir, read_entries, remove_entry_file, Entry};
use crate::workspace::{self, Release, WorkspaceOptions};

/// Where the workspaces of the repository live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoverOptions {
    pub workspace: WorkspaceOptions,
}

impl RecoverOptions {
    /// The worktrees root from `GIT_DISPATCH_WORKTREES` (else the default cache folder).
    pub fn from_env() -> Self {
        RecoverOptions { workspace: WorkspaceOptions::from_env() }
    }
}

/// What was undone for one dead run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecoveredRun {
    pub run_id: String,
    /// The stage its journal entry recorded last.
    pub stage: String,
    /// Pids of its leftover processes, SIGKILLed.
    pub killed_processes: Vec<i32>,
    pub removed_worktrees: Vec<PathBuf>,
    pub pruned_admin_dirs: Vec<PathBuf>,
    /// `dispatch/<run-id>`, deleted.
    pub deleted_branch: Option<String>,
    /// `dispatch/<run-id>`, kept because the run offered it.
    pub kept_branch: Option<String>,
    /// Its own lock files (branch, admin dir), removed.
    pub removed_locks: Vec<PathBuf>,
}

/// What [`recover`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    pub recovered: Vec<RecoveredRun>,
    /// Runs whose process still runs: nothing of theirs was touched.
    pub live_runs: Vec<String>,
    /// Runs written in another pid namespace: left alone.
    pub unknown_runs: Vec<String>,
    /// Shared lock files present (never removed: a live git process may hold them), looked up
    /// when a dead run was recovered.
    pub shared_locks: Vec<PathBuf>,
    /// Journal files that could not be read or name invalid ids (left in place).
    pub unreadable_entries: Vec<PathBuf>,
    /// Steps that failed; their run's entry stays for the next recovery.
    pub errors: Vec<String>,
}

impl RecoveryReport {
    /// True when nothing was found to recover and nothing failed.
    pub fn is_empty(&self) -> bool {
        self.recovered.is_empty() && self.errors.is_empty()
    }

    /// One line per thing done or found wrong, for `policy.json` messages and `clean`'s output.
    pub fn messages(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.recovered.iter().map(describe_run).collect();
        lines.extend(self.shared_locks.iter().map(|path| super::locks::describe_shared(path)));
        for path in &self.unreadable_entries {
            lines.push(format!("WARNING: unreadable journal entry {} left in place.", path.display()));
        }
        lines.extend(self.errors.iter().map(|error| format!("WARNING: recovery: {error}")));
        lines
    }
}

fn describe_run(run: &RecoveredRun) -> String {
    let mut done = Vec::new();
    if !run.killed_processes.is_empty() {
        done.push(format!("killed {} leftover process(es)", run.killed_processes.len()));
    }
    if !run.removed_worktrees.is_empty() {
        done.push(format!("removed worktree {}", paths(&run.removed_worktrees)));
    }
    if let Some(branch) = &run.deleted_branch {
        done.push(format!("deleted branch {branch}"));
    }
    if let Some(branch) = &run.kept_branch {
        done.push(format!("kept the offered branch {branch}"));
    }
    if !run.removed_locks.is_empty() {
        done.push(format!("removed its lock files {}", paths(&run.removed_locks)));
    }
    if done.is_empty() {
        done.push("nothing was left".to_string());
    }
    format!("Recovered run {} (its process is gone; last stage {}): {}.", run.run_id, run.stage, done.join(", "))
}

fn paths(list: &[PathBuf]) -> String {
    list.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// For every journal entry of the repository at `repo_root` whose process is gone: kill its
/// leftover processes, remove its worktree and admin dir, delete its branch unless offered,
/// remove the lock files its entry recorded as its own, then its entry; name the shared locks
/// present (never removed). Live runs are not touched. `Err` only when the repository or the journal cannot be read; failed steps
/// are in [`RecoveryReport::errors`].
pub fn recover(repo_root: &Path, opts: &RecoverOptions) -> anyhow::Result<RecoveryReport> {
    let repo = gix::open(repo_root).with_context(|| format!("opening git repository at {}", repo_root.display()))?;
    let common_dir = canonical(repo.common_dir());
    let user_git_dir = canonical(repo.git_dir());
    let layout = workspace::layout_for(repo_root, &opts.workspace)?;
    let mut report = RecoveryReport::default();
    super::prune_done(&journal_dir(&layout));
    for (path, entry) in read_entries(&journal_dir(&layout))? {
        let Some(entry) = entry.ok().filter(valid_ids) else {
            report.unreadable_entries.push(path);
            continue;
        };
        match alive::liveness(&entry) {
            Liveness::Alive => report.live_runs.push(entry.run_id),
            Liveness::Unknown => report.unknown_runs.push(entry.run_id),
            Liveness::Dead => {
                let errors_before = report.errors.len();
                let run = recover_run(repo_root, &common_dir, &entry, opts, &mut report.errors);
                // Its private agent state (a copy of the agent's login among it).
                let _ = std::fs::remove_dir_all(layout.dir.join(crate::sandbox::PRIVATE_STATE_DIR).join(&entry.run_id));
                if report.errors.len() == errors_before {
                    if let Err(err) = remove_entry_file(&path) {
                        report.errors.push(format!("{err:#}"));
                    }
                }
                report.recovered.push(run);
            }
        }
    }
    if !report.recovered.is_empty() {
        report.shared_locks = locks::shared_locks(&common_dir, &user_git_dir);
    }
    Ok(report)
}

/// The shared lock files of the repository at `repo_root` present now (for `doctor` and
/// `clean --recover`, which name them with the command to remove them by hand).
pub fn shared_locks_of(repo_root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let repo = gix::open(repo_root).with_context(|| format!("opening git repository at {}", repo_root.display()))?;
    Ok(locks::shared_locks(&canonical(repo.common_dir()), &canonical(repo.git_dir())))
}

fn recover_run(
    repo_root: &Path,
    common_dir: &Path,
    entry: &Entry,
    opts: &RecoverOptions,
    errors: &mut Vec<String>,
) -> RecoveredRun {
    let mut run = RecoveredRun { run_id: entry.run_id.clone(), stage: entry.stage.clone(), ..Default::default() };
    if !entry.marker.is_empty() {
        run.killed_processes = alive::kill_marked(&entry.marker);
    }
    let mut own = LockSweep::default();
    let mine = locks::own_locks(common_dir, &entry.run_id, entry.worktree_name.as_deref(), &entry.locks);
    locks::sweep(&mine, &mut own);
    run.removed_locks = own.removed;
    errors.extend(own.errors.into_iter().map(|e| format!("run {}: {e}", entry.run_id)));
    let keep_branch = entry.keep_branch || offered(&entry.run_dir);
    if keep_branch {
        run.kept_branch = Some(entry.branch.clone());
    }
    if entry.keep_worktree {
        return run;
    }
    let release = if keep_branch { Release::KeepBranch } else { Release::DeleteBranch };
    match workspace::remove_run(repo_root, &opts.workspace, &entry.run_id, entry.worktree_name.as_deref(), release) {
        Ok(pruned) => {
            run.removed_worktrees = pruned.removed_worktrees;
            run.pruned_admin_dirs = pruned.pruned_admin_dirs;
            run.deleted_branch = pruned.deleted_branches.into_iter().next();
        }
        Err(err) => errors.push(format!("run {}: {err:#}", entry.run_id)),
    }
    run
}

/// Ids used to build paths must be plain names (a tampered entry must not reach elsewhere).
fn valid_ids(entry: &Entry) -> bool {
    workspace::validate_run_id(&entry.run_id).is_ok()
        && entry.worktree_name.as_deref().is_none_or(|name| workspace::validate_run_id(name).is_ok())
        && entry.branch == format!("dispatch/{}", entry.run_id)
}

/// True when the run folder's `policy.json` says the result was offered.
fn offered(run_dir: &Path) -> bool {
    let Ok(bytes) = std::fs::read(run_dir.join("policy.json")) else { return false };
    let policy: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    policy.get("offered").and_then(serde_json::Value::as_bool) == Some(true)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
