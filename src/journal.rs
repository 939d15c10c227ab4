//! Crash safety: a journal of the runs in progress, and the recovery of what killed runs left.
//!
//! Every dispatch writes one small JSON file, `<worktrees-root>/<repo-folder>/journal/<run-id>.json`,
//! BEFORE it creates its branch or worktree: who runs it (pid, the process's start time from
//! `/proc/<pid>/stat` so that a reused pid is not mistaken for the run, its pid namespace), the
//! branch, the worktree once placed, the stage, the run folder, and the marker put in the
//! environment of every process it starts ([`RUN_MARKER_ENV`]). The file is replaced atomically
//! and flushed to disk (its creation too, before the branch exists) whenever something recovery
//! relies on changes (created, worktree placed, branch to be kept), so a power loss leaves the old
//! or the new entry, never an empty one. The stage, which recovery only reports, is not rewritten
//! as stages pass: the run folder's `run.json` records it anyway, and [`read_entries`] takes it
//! from there (falling back to the stage the entry recorded). The file is removed once the run has
//! released everything.
//!
//! [`recover`] (run by `git dispatch clean --recover` and at the start of every dispatch) looks at
//! every entry whose process is gone and undoes what that run left: it kills the processes that
//! still carry its marker (SIGKILL of git-dispatch leaves its agent running), removes its
//! worktree and admin dir, deletes its branch unless the run offered it, prunes our admin dirs
//! whose folder is gone, and removes the lock files its entry recorded as its own (its branch's
//! ref and reflog locks, its admin dir's locks). Shared locks (`index.lock`, `packed-refs.lock`,
//! `config.lock`, `HEAD.lock`, `refs/**/*.lock`) are never removed: git-dispatch cannot prove a
//! dead run took one, and a live git process (a `git commit` waiting on its editor) may hold it;
//! they are named with the command to remove them by hand. Entries of live runs, and everything
//! they own, are left alone.

pub mod alive;
mod locks;
mod recover;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::workspace::{self, RepoLayout, WorkspaceOptions};

pub use alive::ProcessIdentity;
pub use locks::describe_shared as describe_shared_lock;
pub use recover::{recover, shared_locks_of, RecoverOptions, RecoveredRun, RecoveryReport};

/// The environment variable set on every process a run starts (agent, SETUP); its value is the
/// run's [`Entry::marker`], unique to one run of one git-dispatch process.
pub const RUN_MARKER_ENV: &str = "GIT_DISPATCH_RUN_MARKER";

/// One run in progress, as written to its journal file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub run_id: String,
    /// The git-dispatch process running it.
    pub pid: u32,
    /// Its start time in clock ticks after boot (`/proc/<pid>/stat` field 22); `None` off Linux.
    pub process_start: Option<u64>,
    /// Its pid namespace (`/proc/self/ns/pid`), so that pids are only compared within one.
    pub pid_namespace: Option<String>,
    /// `dispatch/<run-id>`
    pub branch: String,
    /// The worktree folder and its name, once placed.
    pub worktree: Option<PathBuf>,
    pub worktree_name: Option<String>,
    /// The run folder (its `policy.json` says whether the result was offered).
    pub run_dir: PathBuf,
    pub stage: String,
    /// RFC 3339, when the entry was first written.
    pub created_at: String,
    pub updated_at: String,
    /// Set before release when the branch is to be kept (an offered result).
    pub keep_branch: bool,
    /// Set when the user asked to keep the worktree (`--keep-worktree`).
    pub keep_worktree: bool,
    /// The value of [`RUN_MARKER_ENV`] in the run's child processes.
    pub marker: String,
    /// The lock files of the shared git dir only this run takes (recorded before it can take
    /// them): the only locks recovery removes.
    #[serde(default)]
    pub locks: Vec<PathBuf>,
}

/// The journal folder of the repository laid out at `layout`.
pub fn journal_dir(layout: &RepoLayout) -> PathBuf {
    layout.dir.join("journal")
}

/// The open journal entry of a run of this process.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    entry: Entry,
    /// The shared git dir (canonical), where the run's own locks are.
    common_dir: PathBuf,
}

impl Journal {
    /// Writes the entry of run `run_id` (before anything of the run exists in git).
    pub fn begin(
        repo_root: &Path,
        opts: &WorkspaceOptions,
        run_id: &str,
        run_dir: &Path,
        keep_worktree: bool,
    ) -> anyhow::Result<Journal> {
        workspace::validate_run_id(run_id)?;
        let dir = journal_dir(&workspace::layout_for(repo_root, opts)?);
        let repo = gix::open(repo_root).with_context(|| format!("opening the repository {}", repo_root.display()))?;
        let common_dir = repo.common_dir().canonicalize().unwrap_or_else(|_| repo.common_dir().to_path_buf());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating the journal folder {}", dir.display()))?;
        let me = ProcessIdentity::current();
        let now = now();
        let entry = Entry {
            run_id: run_id.to_string(),
            pid: me.pid,
            process_start: me.start,
            pid_namespace: me.namespace,
            branch: format!("dispatch/{run_id}"),
            worktree: None,
            worktree_name: None,
            run_dir: run_dir.to_path_buf(),
            stage: "start".to_string(),
            created_at: now.clone(),
            updated_at: now,
            keep_branch: false,
            keep_worktree,
            marker: format!("{run_id}:{}:{}", me.pid, me.start.unwrap_or_default()),
            locks: locks::own_lock_paths(&common_dir, run_id, None),
        };
        let journal = Journal { path: dir.join(format!("{run_id}.json")), entry, common_dir };
        journal.write()?;
        crate::artifacts::sync_dir(&dir)?;
        Ok(journal)
    }

    /// The entry as last written.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value of [`RUN_MARKER_ENV`] for the run's child processes.
    pub fn marker(&self) -> &str {
        &self.entry.marker
    }

    /// Records the stage about to start, in memory: the run's `run.json` has it on disk, and the
    /// entry's next write carries it.
    pub fn stage(&mut self, stage: &str) {
        self.entry.stage = stage.to_string();
    }

    /// Records the worktree the run got.
    pub fn worktree(&mut self, path: &Path, name: &str) -> anyhow::Result<()> {
        self.entry.worktree = Some(path.to_path_buf());
        self.entry.worktree_name = Some(name.to_string());
        self.entry.locks = locks::own_lock_paths(&self.common_dir, &self.entry.run_id, Some(name));
        self.write()
    }

    /// Records, before release, whether the branch is to be kept.
    pub fn keep_branch(&mut self, keep: bool) -> anyhow::Result<()> {
        self.entry.keep_branch = keep;
        self.write()
    }

    /// Removes the entry: the run has released everything. Its id goes to the folder of finished
    /// runs ([`known_run`]), so that a run watching the run folders meanwhile can tell this run's
    /// folder from a forged one.
    pub fn close(self) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent() {
            record_done(dir, &self.entry.run_id);
        }
        remove_entry_file(&self.path)
    }

    fn write(&self) -> anyhow::Result<()> {
        let mut entry = self.entry.clone();
        entry.updated_at = now();
        let mut bytes = serde_json::to_vec_pretty(&entry).context("serialising the journal entry")?;
        bytes.push(b'\n');
        crate::artifacts::write_atomic(&self.path, &bytes)
            .with_context(|| format!("writing the journal entry {}", self.path.display()))
    }
}

/// The folder, in the journal, of the ids of runs that finished (kept a day).
const DONE_DIR: &str = "done";

/// Writes the finished-run record of `run_id` in the journal folder `dir` (best effort): at
/// [`Journal::close`], and again after the run's very last write to its folder (the final
/// `state.json`), so that a run watching the run folders since in between knows that write.
pub fn record_done(dir: &Path, run_id: &str) {
    let done = dir.join(DONE_DIR);
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let _ = std::fs::create_dir_all(&done).and_then(|()| std::fs::write(done.join(run_id), at.as_nanos().to_string()));
}

/// Records that `run_id` of the repository at `repo_root` finished although it never had an entry
/// (it was cancelled or interrupted before its first stage), so that runs watching the run folders
/// meanwhile know its folder's writes for git-dispatch's own.
pub fn finished_without_entry(repo_root: &Path, opts: &WorkspaceOptions, run_id: &str) {
    if workspace::validate_run_id(run_id).is_err() {
        return;
    }
    if let Ok(layout) = workspace::layout_for(repo_root, opts) {
        record_done(&journal_dir(&layout), run_id);
    }
}

/// Is `run_id` a run of git-dispatch that the journal folder `dir` knows to have been going on
/// at `since` or later: in progress now (an entry), or finished at `since` or later (the time its
/// record holds, from the system clock)?
pub fn known_run(dir: &Path, run_id: &str, since: std::time::SystemTime) -> bool {
    if workspace::validate_run_id(run_id).is_err() {
        return false;
    }
    let finished = std::fs::read_to_string(dir.join(DONE_DIR).join(run_id))
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(|nanos| std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos));
    dir.join(format!("{run_id}.json")).exists() || finished.is_some_and(|at| at >= since)
}

/// Removes every finished-run record (and their folder), e.g. when the repository's folder is
/// emptied.
pub fn forget_finished(dir: &Path) {
    let done = dir.join(DONE_DIR);
    if let Ok(listing) = std::fs::read_dir(&done) {
        for item in listing.flatten() {
            let _ = std::fs::remove_file(item.path());
        }
    }
    let _ = std::fs::remove_dir(&done);
}

/// Removes the finished-run records older than a day.
fn prune_done(dir: &Path) {
    let Ok(listing) = std::fs::read_dir(dir.join(DONE_DIR)) else { return };
    let day = std::time::Duration::from_secs(24 * 3600);
    for item in listing.flatten() {
        let old = item
            .metadata()
            .and_then(|md| md.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old {
            let _ = std::fs::remove_file(item.path());
        }
    }
}

/// Every journal file of the folder with its parsed entry (or why it cannot be read), by name.
pub fn read_entries(dir: &Path) -> anyhow::Result<Vec<(PathBuf, anyhow::Result<Entry>)>> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("listing the journal {}", dir.display())),
    };
    let mut paths = Vec::new();
    for item in listing {
        let path = item.with_context(|| format!("listing the journal {}", dir.display()))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.starts_with('.') && name.ends_with(".json") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths.into_iter().map(|path| (path.clone(), read_entry(&path))).collect())
}

fn read_entry(path: &Path) -> anyhow::Result<Entry> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut entry: Entry =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not a journal entry", path.display()))?;
    if let Some(stage) = recorded_stage(&entry) {
        entry.stage = stage;
    }
    Ok(entry)
}

/// The stage in the run folder's `run.json`, if it is that run's and reads as a plain stage name.
fn recorded_stage(entry: &Entry) -> Option<String> {
    let bytes = std::fs::read(entry.run_dir.join("run.json")).ok()?;
    let record: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    if record.get("run_id")?.as_str()? != entry.run_id {
        return None;
    }
    let stage = record.get("stage")?.as_str()?;
    let plain = !stage.is_empty()
        && stage.len() <= 64
        && stage.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ');
    plain.then(|| stage.to_string())
}

fn remove_entry_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing the journal entry {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(run_id: &str, run_dir: &Path) -> Entry {
        Entry {
            run_id: run_id.to_string(),
            pid: 1,
            process_start: None,
            pid_namespace: None,
            branch: format!("dispatch/{run_id}"),
            worktree: None,
            worktree_name: None,
            run_dir: run_dir.to_path_buf(),
            stage: "inputs".to_string(),
            created_at: now(),
            updated_at: now(),
            keep_branch: false,
            keep_worktree: false,
            marker: String::new(),
            locks: Vec::new(),
        }
    }

    /// A journal in `<tmp>/journal` whose run folder is `<tmp>/run`.
    fn journal_in(tmp: &Path, run_id: &str) -> Journal {
        std::fs::create_dir_all(tmp.join("journal")).expect("journal dir");
        std::fs::create_dir_all(tmp.join("run")).expect("run dir");
        let journal = Journal {
            path: tmp.join("journal").join(format!("{run_id}.json")),
            entry: entry(run_id, &tmp.join("run")),
            common_dir: tmp.join("git"),
        };
        journal.write().expect("entry written");
        journal
    }

    fn stages(tmp: &Path) -> Vec<String> {
        read_entries(&tmp.join("journal")).expect("journal").into_iter().map(|(_, e)| e.expect("entry").stage).collect()
    }

    fn write_run_json(tmp: &Path, text: &str) {
        std::fs::write(tmp.join("run/run.json"), text).expect("run.json");
    }

    #[test]
    fn the_stage_is_read_from_the_run_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut journal = journal_in(tmp.path(), "run-a");
        write_run_json(tmp.path(), r#"{"run_id": "run-a", "stage": "guard-after"}"#);
        assert_eq!(stages(tmp.path()), ["guard-after"]);
        journal.stage("guard-after");
        journal.keep_branch(true).expect("keep");
        let written: Entry = serde_json::from_slice(&std::fs::read(journal.path()).expect("read")).expect("json");
        assert_eq!((written.stage.as_str(), written.keep_branch), ("guard-after", true), "the next write carries it");
    }

    #[test]
    fn without_a_usable_run_json_the_stage_of_the_entry_stays() {
        let tmp = tempfile::tempdir().expect("tempdir");
        journal_in(tmp.path(), "run-a");
        assert_eq!(stages(tmp.path()), ["inputs"], "no run.json");
        for broken in [
            "",
            "{\"run_id\": \"run-a\"",
            r#"{"run_id": "run-b", "stage": "agent"}"#,
            r#"{"run_id": "run-a", "stage": 3}"#,
            r#"{"run_id": "run-a", "stage": "a/b"}"#,
        ] {
            write_run_json(tmp.path(), broken);
            assert_eq!(stages(tmp.path()), ["inputs"], "{broken:?}");
        }
    }

    #[test]
    fn closing_removes_the_entry_and_records_the_run_as_finished() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let journal = journal_in(tmp.path(), "run-a");
        let before = std::time::SystemTime::now();
        assert!(known_run(&tmp.path().join("journal"), "run-a", before), "in progress");
        journal.close().expect("close");
        assert_eq!(read_entries(&tmp.path().join("journal")).expect("list").len(), 0);
        assert!(known_run(&tmp.path().join("journal"), "run-a", before), "finished since");
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(1);
        assert!(!known_run(&tmp.path().join("journal"), "run-a", later), "finished before");
        assert!(!known_run(&tmp.path().join("journal"), "../x", before));
    }
}
