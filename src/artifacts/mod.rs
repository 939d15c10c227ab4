//! The run folder: its unique id, its place, and atomic writes of every artifact in it.
//!
//! Files are replaced, never truncated in place: each write goes to a temporary file in the same
//! folder and is renamed over the target, so a reader (or a crashed process) never sees half a file.
//!
//! Run-folder files are not flushed to disk one by one ([`write_replace`]): a dispatch writes some
//! forty of them, a flush costs about a millisecond each, and after a power loss the run is over
//! anyway (the git objects and refs it names are not flushed by gix either); every reader checks
//! what it relies on (`apply` refuses a run whose `policy.json` does not parse or whose patch hash
//! differs). Records that crash recovery relies on (the journal) use [`write_atomic`], which
//! flushes the new content before the rename, so after a power loss the file holds the old or the
//! new content, never an empty one.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::packet::Mode;

pub mod report;
pub mod state;
pub use report::{render_result_md, ChangeRecord, ChangesFile, RunRecord};

/// The folder, below WORKDIR, that holds the run folders (the seed's place).
pub const RUNS_SUBDIR: &str = ".codex-dispatch/runs";
/// The line added to `.git/info/exclude` so run folders never show up as untracked files.
pub const EXCLUDE_LINE: &str = ".codex-dispatch/";

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

/// Where run folders go: `--output-dir`, else `<WORKDIR>/.codex-dispatch/runs`.
pub fn runs_root(workdir: &Path, output_dir: Option<&Path>) -> PathBuf {
    match output_dir {
        Some(dir) => std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
        None => workdir.join(RUNS_SUBDIR),
    }
}

/// Refuses run folders below `dir` reached through something that is not a real folder: each of
/// `dir/.codex-dispatch` and `dir/.codex-dispatch/runs` must be missing or a directory, never a
/// symlink (a tracked `.codex-dispatch` symlink would put run folders, and what `list` and `apply`
/// read, wherever it points). One line naming the path, for exit 1.
pub fn check_runs_path(dir: &Path) -> anyhow::Result<()> {
    let mut path = dir.to_path_buf();
    for part in RUNS_SUBDIR.split('/') {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
                anyhow::bail!(
                    "{} is a symlink (to {target}): run folders are never created or read through a link; remove it, or pass --output-dir",
                    path.display()
                );
            }
            Ok(meta) if !meta.is_dir() => anyhow::bail!(
                "{} is not a directory: run folders cannot go there; remove it, or pass --output-dir",
                path.display()
            ),
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        }
    }
    Ok(())
}

/// The longest slug of a run id: ids stay short enough to type a prefix of and to list in 100
/// columns (the seed allowed 48).
pub const SLUG_MAX: usize = 24;

/// `text` lower-cased with runs of other characters turned into `-`, at most [`SLUG_MAX`]
/// characters, cut after a whole word where one fits.
pub fn slug(text: &str) -> String {
    let mut slug = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let whole = slug.trim_matches('-');
    let mut slug: String = whole.chars().take(SLUG_MAX).collect();
    let cut_inside_a_word = whole.len() > slug.len() && !whole[slug.len()..].starts_with('-');
    if let Some(last_dash) = slug.rfind('-').filter(|_| cut_inside_a_word) {
        slug.truncate(last_dash);
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "task".to_string()
    } else {
        slug.to_string()
    }
}

/// Create a new, unique run folder `<root>/<YYYYMMDD-HHMMSS>-<mode>-<slug>[-N]`. Uniqueness holds across
/// processes: the folder is created with `create_dir`, and a taken name moves on to the next suffix.
pub fn create_run_dir(
    root: &Path,
    mode: Mode,
    objective: &str,
    taken: &dyn Fn(&str) -> bool,
) -> anyhow::Result<RunDir> {
    std::fs::create_dir_all(root).with_context(|| format!("cannot create the runs folder {}", root.display()))?;
    let stem = format!("{}-{}-{}", chrono::Local::now().format("%Y%m%d-%H%M%S"), mode, slug(objective));
    for attempt in 1..10_000 {
        let id = if attempt == 1 { stem.clone() } else { format!("{stem}-{attempt}") };
        if taken(&id) {
            continue;
        }
        let path = root.join(&id);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(RunDir { id, path }),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err).with_context(|| format!("cannot create the run folder {}", path.display())),
        }
    }
    anyhow::bail!("cannot find a free run folder name for {stem} in {}", root.display())
}

impl RunDir {
    /// Open an existing run folder.
    pub fn open(path: &Path) -> RunDir {
        let id = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        RunDir { id, path: path.to_path_buf() }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Replace `name` atomically with `bytes` (not flushed: see the module documentation).
    pub fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        write_replace(&self.file(name), bytes)
    }

    /// Replace `name` atomically with pretty JSON and a final newline.
    pub fn write_json<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> anyhow::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(value).with_context(|| format!("cannot serialize {name}"))?;
        bytes.push(b'\n');
        self.write(name, &bytes)
    }

    pub fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> anyhow::Result<T> {
        let path = self.file(name);
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid JSON", path.display()))
    }
}

/// Write `bytes` to a temporary file beside `path`, fsync it, and rename it over `path`: durable
/// once the rename is (see [`sync_dir`] for a new file).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_via_temp(path, bytes, true)
}

/// Write `bytes` to a temporary file beside `path` and rename it over `path`, without flushing it
/// to disk: other processes and a killed writer see the old or the new content, never half a file.
pub fn write_replace(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_via_temp(path, bytes, false)
}

fn write_via_temp(path: &Path, bytes: &[u8], flush: bool) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    temp.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    if flush {
        temp.as_file().sync_data().with_context(|| format!("cannot flush {}", path.display()))?;
    }
    temp.persist(path).map_err(|err| err.error).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// Flushes the folder `dir` itself, so that files created or renamed in it survive a power loss.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|folder| folder.sync_all())
        .with_context(|| format!("cannot flush the folder {}", dir.display()))
}

/// Add `.codex-dispatch/` to `<common git dir>/info/exclude` unless a line already says so.
pub fn exclude_run_folders(common_dir: &Path) -> anyhow::Result<()> {
    let exclude = common_dir.join("info").join("exclude");
    let existing = match std::fs::read(&exclude) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", exclude.display())),
    };
    let already = existing.split(|b| *b == b'\n').any(|line| {
        let line = String::from_utf8_lossy(line);
        matches!(line.trim(), ".codex-dispatch/" | ".codex-dispatch" | "/.codex-dispatch/" | "/.codex-dispatch")
    });
    if already {
        return Ok(());
    }
    let mut updated = existing;
    if !updated.is_empty() && !updated.ends_with(b"\n") {
        updated.push(b'\n');
    }
    updated.extend_from_slice(EXCLUDE_LINE.as_bytes());
    updated.push(b'\n');
    std::fs::create_dir_all(common_dir.join("info"))
        .with_context(|| format!("cannot create {}/info", common_dir.display()))?;
    write_atomic(&exclude, &updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_as_the_seed() {
        assert_eq!(slug("Add a missing unit test for the slugify function in utils.py."), "add-a-missing-unit-test");
        assert_eq!(slug("Supercalifragilisticexpialidocious words"), "supercalifragilisticexpi");
        assert_eq!(slug("Add a test"), "add-a-test");
        assert_eq!(slug("!!!"), "task");
        assert_eq!(slug("Café: tests"), "caf-tests");
    }

    #[test]
    fn run_dirs_are_unique() {
        let root = tempfile::tempdir().expect("tempdir");
        let first = create_run_dir(root.path(), Mode::Worker, "same", &|_| false).expect("first");
        let second = create_run_dir(root.path(), Mode::Worker, "same", &|_| false).expect("second");
        assert_ne!(first.id, second.id);
        assert!(first.id.ends_with("-worker-same") || second.id.ends_with("-worker-same-2"));
        let third = create_run_dir(root.path(), Mode::Worker, "same", &|id| !id.ends_with("-9")).expect("third");
        assert!(third.id.ends_with("-9"), "{}", third.id);
    }

    #[test]
    fn exclude_line_added_once() {
        let git = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(git.path().join("info")).expect("info");
        std::fs::write(git.path().join("info/exclude"), "# comment\n*.log").expect("write");
        exclude_run_folders(git.path()).expect("first");
        exclude_run_folders(git.path()).expect("second");
        let text = std::fs::read_to_string(git.path().join("info/exclude")).expect("read");
        assert_eq!(text, "# comment\n*.log\n.codex-dispatch/\n");
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let run = RunDir::open(dir.path());
        run.write("a.txt", b"one").expect("write");
        run.write("a.txt", b"two").expect("rewrite");
        assert_eq!(std::fs::read(run.file("a.txt")).expect("read"), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1, "no temp files left");
    }
}
