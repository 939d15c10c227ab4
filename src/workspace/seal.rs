//! When a pooled worktree can be trusted without a rescan (SECURITY.md, "How a pooled worktree is
//! trusted"). A worktree goes back to the pool holding exactly its branch tip (files, index, a
//! detached HEAD); its pool marker then carries a *seal*: that commit, the stamp of its index file,
//! the ignored entries it keeps, and the filesystem time of the sealing. The next run takes it
//! without reading every file only when nothing can have written it since:
//!
//! - the run that returned it ran every program (SETUP, the agent, `--verify`) confined: under
//!   bubblewrap and Landlock nothing of a run outlives its agent, and neither can write another
//!   worktree (git-dispatch's own worktrees root is read-only to them), nor the pool markers;
//! - no program of any run ran unconfined under the same worktrees root since: a run whose sandbox
//!   is `none` makes a marker in `<root>/.unconfined/` before its first program starts and removes
//!   it at the end of a run once its process has no child left (a crash, or orphans still alive,
//!   leave it: then every take rescans);
//!   the folder must be empty, and its ctime (moved by every entry made or removed, and never
//!   backwards) older than the seal;
//! - its index file, HEAD, `.git` file and admin links are what the seal says.
//!
//! Anything else (no seal, an unreadable one, a marker, a newer ctime) means the full rescan.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use anyhow::Context as _;
use gix::bstr::{BString, ByteSlice};

use super::touched::FileStamp;

/// The folder of unconfined runs' markers, below the worktrees root.
const UNCONFINED_DIR: &str = ".unconfined";

/// What a pooled worktree held when it was returned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Seal {
    /// The commit its files and index equal (ignored files aside), HEAD detached there.
    pub commit: String,
    /// Its index file then.
    pub index: FileStamp,
    /// Ignored entries it keeps (`(path, is_dir)`), lossless bytes.
    pub ignored: Vec<(Vec<u8>, bool)>,
    /// The filesystem time of the sealing (nanoseconds since the epoch).
    pub sealed_at_ns: u128,
}

impl Seal {
    /// Seals the worktree `wt` (holding `commit` exactly) with `ignored` entries, now. Ignored
    /// entries below folders git does not track are kept as those folders (the next run's change
    /// journal watches tracked folders only: files written there are found by their change time).
    pub fn take(
        wt: &gix::Repository,
        commit: gix::ObjectId,
        ignored: &[(BString, bool)],
        dir: &Path,
    ) -> anyhow::Result<Seal> {
        let index = crate::checkout_status::read_index(wt).context("reading the worktree's index")?;
        let stamp = FileStamp::of(index.path())?;
        let tracked: BTreeSet<BString> = super::watch::index_dirs(&index).into_iter().collect();
        let mut roots: Vec<(Vec<u8>, bool)> =
            ignored.iter().map(|(path, is_dir)| untracked_root(path, *is_dir, &tracked)).collect();
        roots.sort();
        roots.dedup();
        let now = super::stamp::fs_now(dir)?;
        Ok(Seal { commit: commit.to_hex().to_string(), index: stamp, ignored: roots, sealed_at_ns: nanos(now) })
    }

    /// The seal written in a pool marker, if it holds one.
    pub fn parse(marker: &[u8]) -> Option<Seal> {
        serde_json::from_slice(marker).ok()
    }

    /// The commit, when the worktree `wt` still is as sealed and nothing unconfined ran under
    /// `worktrees_root` since the seal.
    pub fn trusted(&self, wt: &gix::Repository, worktrees_root: &Path) -> Option<gix::ObjectId> {
        let commit = gix::ObjectId::from_hex(self.commit.as_bytes()).ok()?;
        let index_intact = FileStamp::of(&wt.index_path()).ok() == Some(self.index);
        let head = wt.head_id().ok().map(|id| id.detach());
        let detached = wt.head_name().ok().flatten().is_none();
        // A seal from the future could outlast any unconfined run: never trusted.
        let past = self.sealed_at_ns <= nanos(SystemTime::now());
        let quiet = past && no_unconfined_since(worktrees_root, self.sealed_at_ns);
        (index_intact && detached && head == Some(commit) && quiet).then_some(commit)
    }

    /// The ignored entries, as the journal wants them.
    pub fn ignored(&self) -> Vec<(BString, bool)> {
        self.ignored.iter().map(|(path, is_dir)| (path.as_bstr().to_owned(), *is_dir)).collect()
    }
}

/// The top-most folder of `path` that git does not track (`(folder, true)`), or `path` itself when
/// its folder is tracked.
fn untracked_root(path: &BString, is_dir: bool, tracked: &BTreeSet<BString>) -> (Vec<u8>, bool) {
    let mut end = 0;
    while let Some(slash) = path[end..].find_byte(b'/') {
        let folder = &path[..end + slash];
        if !tracked.contains(folder.as_bstr()) {
            return (folder.to_vec(), true);
        }
        end += slash + 1;
    }
    (path.to_vec(), is_dir)
}

fn nanos(time: SystemTime) -> u128 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// The unconfined-runs folder is empty and unchanged since `sealed_at_ns`.
fn no_unconfined_since(worktrees_root: &Path, sealed_at_ns: u128) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let dir = worktrees_root.join(UNCONFINED_DIR);
    let Ok(meta) = std::fs::symlink_metadata(&dir) else { return false };
    let ctime = (meta.ctime().max(0) as u128) * 1_000_000_000 + meta.ctime_nsec().clamp(0, 999_999_999) as u128;
    let empty = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_none());
    meta.is_dir() && empty && ctime < sealed_at_ns
}

/// The markers this process made (removed when it has no child left, or at its end).
static MARKERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Says, before a program of run `run_id` starts unconfined, that pooled worktrees under
/// `worktrees_root` may be written from now on (see the module's documentation).
pub fn mark_unconfined(worktrees_root: &Path, run_id: &str) -> anyhow::Result<()> {
    let dir = worktrees_root.join(UNCONFINED_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let marker = dir.join(format!("{run_id}.{}", std::process::id()));
    std::fs::write(&marker, format!("{}\n", std::process::id()))
        .with_context(|| format!("writing {}", marker.display()))?;
    MARKERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(marker);
    Ok(())
}

/// Makes the unconfined-runs folder of `worktrees_root`, so that a seal can be trusted at all.
pub fn ensure_unconfined_dir(worktrees_root: &Path) -> anyhow::Result<()> {
    let dir = worktrees_root.join(UNCONFINED_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))
}

/// Removes this process's markers once nothing it started is alive: no child of it (registered or
/// orphaned) is left. Called at the end of every run; what is left then stays (fail-safe: pooled
/// worktrees are read in full while a marker is there).
pub fn release_unconfined() {
    if !crate::process::children_of(std::process::id()).is_empty() {
        return;
    }
    let mut markers = MARKERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for marker in markers.drain(..) {
        let _ = std::fs::remove_file(marker);
    }
}
