//! The snapshot's fast path: the worktree's state read from only the paths the change journal
//! saw touched ([`super::watch`]), against the index the journal started from. It gives the same
//! [`Scan`] the full scan would, or says why it cannot (then the caller runs the full scan):
//! the journal was lost, the index or HEAD moved during the run (the agent staged or
//! committed), an ignore or attributes file changed (that can change any path's fate), a
//! repository appeared inside the worktree, or a touched path cannot be looked at (longer than
//! `PATH_MAX`, unreadable): the journal never drops a path it cannot handle, the full scan then
//! decides (and fails closed where it cannot read a path either).

use super::scan::{self, Edit, Hasher, Scan};
use super::watch::{ChangeWatch, Touched};
use crate::walk::{Step, Walk};
use anyhow::Context as _;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::ObjectId;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A worktree's change journal and the state it counts from.
#[derive(Debug)]
pub struct Journal {
    watch: ChangeWatch,
    baseline: Mutex<Option<Baseline>>,
    /// Ignored files and directories present when the journal started (`.worktreeinclude`
    /// copies, build outputs kept in a pooled worktree): not watched, searched by change time.
    ignored_roots: Vec<(BString, bool)>,
    /// The ignored entries the last scan from the journal found (with the roots).
    last_ignored: Mutex<Option<Vec<(BString, bool)>>>,
}

/// The result of [`Journal::scan`]: the scan, and the directories that appeared (to watch next).
pub struct TouchedScan {
    pub scan: Scan,
    /// The baseline's commit: the parent of the snapshot.
    pub parent: ObjectId,
    pub new_dirs: Vec<BString>,
    /// What the journal saw touched: files, and folders made or removed (`(path, is_dir)`).
    pub touched: Vec<(BString, bool)>,
}

/// The state the journal is relative to: a commit on the run's branch, its tree, and the index
/// written for it (kept in memory; its file's stamp shows whether someone rewrote it since).
#[derive(Debug)]
pub struct Baseline {
    pub commit: ObjectId,
    pub tree: ObjectId,
    pub index: gix::index::File,
    pub index_stamp: FileStamp,
}

/// What identifies one version of a file: inode, size, modification and change times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileStamp {
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    pub fn of(path: &Path) -> anyhow::Result<FileStamp> {
        use std::os::unix::fs::MetadataExt as _;
        let md = std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(FileStamp {
            ino: md.ino(),
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
        })
    }
}

impl Journal {
    /// Starts watching `workdir`, whose files equal `baseline.index` (which equals `baseline.tree`).
    /// `ignored_roots` are the ignored entries already there (`(path, is_dir)`).
    pub fn start(workdir: &Path, baseline: Baseline, ignored_roots: Vec<(BString, bool)>) -> anyhow::Result<Journal> {
        if has_gitlinks(&baseline.index) {
            anyhow::bail!("the worktree has submodules");
        }
        let watch = ChangeWatch::start(workdir, super::watch::index_dirs(&baseline.index))?;
        Ok(Journal { watch, baseline: Mutex::new(Some(baseline)), ignored_roots, last_ignored: Mutex::new(None) })
    }

    /// Reads the index of `wt` and starts the journal from it at `commit`.
    pub fn start_at(
        wt: &gix::Repository,
        commit: ObjectId,
        ignored_roots: Vec<(BString, bool)>,
    ) -> anyhow::Result<Journal> {
        let workdir = wt.workdir().context("the worktree has no working directory")?.to_owned();
        let index = crate::checkout_status::read_index(wt).context("reading the worktree's index")?;
        let index_stamp = FileStamp::of(index.path())?;
        let tree = super::repo::commit_tree(wt, commit)?;
        Journal::start(&workdir, Baseline { commit, tree, index, index_stamp }, ignored_roots)
    }

    /// Counts from a new state (after a snapshot wrote `baseline`), also watching `new_dirs`.
    /// When the new directories cannot be watched the journal stays without a baseline, so
    /// the next scan is a full one.
    pub fn rebase(&self, baseline: Baseline, new_dirs: Vec<BString>) {
        if self.watch.add_dirs(new_dirs).is_ok() {
            *self.baseline.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(baseline);
        }
    }

    /// True when nothing touched the worktree since the baseline at `commit` (which `branch`
    /// and HEAD still point at, with the baseline's index): its files then equal that commit's
    /// tree, ignored files aside. Ends the period like [`Journal::scan`].
    pub fn untouched_since(
        &self,
        wt: &gix::Repository,
        branch: &gix::refs::FullName,
        commit: ObjectId,
    ) -> anyhow::Result<bool> {
        let touched = self.watch.take();
        let guard = self.baseline.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(baseline) = guard.as_ref() else { return Ok(false) };
        let quiet = touched.lost.is_none() && touched.files.is_empty() && touched.trees.is_empty();
        Ok(quiet
            && baseline.commit == commit
            && FileStamp::of(baseline.index.path()).ok() == Some(baseline.index_stamp)
            && super::repo::head_branch(wt)?.as_ref() == Some(branch)
            && super::repo::ref_target(wt, branch)? == Some(commit))
    }

    /// The ignored entries of the worktree as of the last scan from the journal (`None` before one).
    pub fn last_ignored(&self) -> Option<Vec<(BString, bool)>> {
        self.last_ignored.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The scan of the touched paths, or why the full scan is needed. Either way the period
    /// ends: the journal counts from now, and its baseline is used up until [`Journal::rebase`].
    pub fn scan(
        &self,
        wt: &gix::Repository,
        branch: &gix::refs::FullName,
        max_file_size: Option<u64>,
    ) -> anyhow::Result<Result<TouchedScan, String>> {
        let touched = self.watch.take();
        let Some(baseline) = self.baseline.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() else {
            return Ok(Err("the change journal was not restarted after the previous full scan".into()));
        };
        if let Some(lost) = touched.lost {
            return Ok(Err(lost));
        }
        if FileStamp::of(baseline.index.path()).ok() != Some(baseline.index_stamp) {
            return Ok(Err("the worktree's index was written during the run".into()));
        }
        let head_on_branch = super::repo::head_branch(wt)?.as_ref() == Some(branch);
        if !head_on_branch || super::repo::ref_target(wt, branch)? != Some(baseline.commit) {
            return Ok(Err("HEAD or the run's branch moved during the run".into()));
        }
        let mut scanned = scan_touched(wt, baseline, touched, max_file_size)?;
        if let Ok(done) = &mut scanned {
            done.scan.ignored.extend(self.ignored_roots.iter().cloned());
            done.scan.ignored.sort();
            done.scan.ignored.dedup();
            *self.last_ignored.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(done.scan.ignored.clone());
        }
        Ok(scanned)
    }
}

fn has_gitlinks(index: &gix::index::State) -> bool {
    index.entries().iter().any(|e| e.mode == gix::index::entry::Mode::COMMIT)
}

fn scan_touched(
    wt: &gix::Repository,
    baseline: Baseline,
    touched: Touched,
    max_file_size: Option<u64>,
) -> anyhow::Result<Result<TouchedScan, String>> {
    let workdir = wt.workdir().context("the worktree has no working directory")?.to_owned();
    let parent = baseline.commit;
    let index = baseline.index;
    let mut seen: Vec<(BString, bool)> = touched.files.iter().map(|p| (p.clone(), false)).collect();
    seen.extend(touched.trees.iter().map(|p| (p.clone(), true)));
    let mut candidates: BTreeSet<BString> = touched.files.into_iter().filter(|p| p.as_slice() != b".git").collect();
    let mut new_dirs = Vec::new();
    for tree in &touched.trees {
        let mut below = tree.clone();
        below.push(b'/');
        if let Some(entries) = index.prefixed_entries(below.as_bstr()) {
            candidates.extend(entries.iter().map(|e| e.path(&index).to_owned()));
        }
        if let Err(why) = walk_new_tree(&workdir, tree.as_bstr(), &mut candidates, &mut new_dirs)? {
            return Ok(Err(why));
        }
    }
    if let Some(why) = candidates.iter().find_map(|p| needs_full_scan(&workdir, p.as_bstr())) {
        return Ok(Err(why));
    }
    let mut leading = LeadingDirs::new(&workdir);
    let mut kinds = Vec::with_capacity(candidates.len());
    for path in &candidates {
        match leading.kind_of(path.as_bstr()) {
            Ok(kind) => kinds.push(kind),
            Err(why) => return Ok(Err(why)),
        }
    }
    let mut hasher = Hasher::new(wt, max_file_size)?;
    let mut excludes = wt
        .excludes(&index, None, gix::worktree::stack::state::ignore::Source::WorktreeThenIdMappingIfNotSkipped)
        .context("reading ignore rules")?;
    let mut unstaged: BTreeMap<BString, Edit> = BTreeMap::new();
    let mut ignored = Vec::new();
    let mut special = Vec::new();
    for (path, on_disk) in candidates.iter().zip(kinds) {
        match (index.entry_by_path(path.as_bstr()), on_disk) {
            (Some(_), DiskKind::Absent | DiskKind::Dir) => {
                unstaged.insert(path.clone(), None);
            }
            (Some(entry), DiskKind::File) => {
                let Some(edit) = hasher.hash(path.as_bstr(), &index)? else { continue };
                let same = edit.as_ref().is_some_and(|h| h.id == entry.id && Some(h.kind) == entry_kind(entry));
                if !same {
                    unstaged.insert(path.clone(), edit);
                }
            }
            (None, kind @ (DiskKind::File | DiskKind::Other)) => {
                let mode = Some(gix::index::entry::Mode::FILE);
                if excludes.at_entry(path.as_bstr(), mode).context("matching ignore rules")?.is_excluded() {
                    ignored.push((path.clone(), false));
                } else if kind == DiskKind::Other {
                    special.push(path.to_str_lossy().into_owned());
                } else if let Some(Some(h)) = hasher.hash(path.as_bstr(), &index)? {
                    unstaged.insert(path.clone(), Some(h));
                }
            }
            (Some(_), DiskKind::Other) => {
                if let Some(edit) = hasher.hash(path.as_bstr(), &index)? {
                    unstaged.insert(path.clone(), edit);
                }
            }
            (None, DiskKind::Absent | DiskKind::Dir) => {}
        }
    }
    let mut left_out = hasher.left_out;
    left_out.special.extend(special);
    left_out.normalize();
    let scan = Scan { head_tree: baseline.tree, staged: BTreeMap::new(), unstaged, ignored, index, left_out };
    Ok(Ok(TouchedScan { scan, parent, new_dirs, touched: seen }))
}

fn entry_kind(entry: &gix::index::Entry) -> Option<gix::objs::tree::EntryKind> {
    entry.mode.to_tree_entry_mode().map(|m| m.kind())
}

/// Adds the files below the new directory `tree` (symlinks not followed) to `out` and the
/// directories found (`tree` included) to `dirs`; a nested repository makes the journal unusable.
fn walk_new_tree(
    workdir: &Path,
    tree: &BStr,
    out: &mut BTreeSet<BString>,
    dirs: &mut Vec<BString>,
) -> anyhow::Result<Result<(), String>> {
    let root = scan::join(workdir, tree);
    match std::fs::read_dir(&root) {
        Ok(_) => {}
        Err(err) if matches!(err.raw_os_error(), Some(nix::libc::ENOENT | nix::libc::ENOTDIR)) => return Ok(Ok(())),
        Err(err) => return Ok(Err(format!("the new folder {tree} cannot be listed: {err}"))),
    }
    if looks_bare(&root) {
        return Ok(Err(format!("a repository appeared at {tree}")));
    }
    dirs.push(tree.to_owned());
    let mut why = None;
    Walk::new(&root).each(|found| {
        let entry = match found {
            Ok(entry) => entry,
            Err(err) if matches!(err.error.raw_os_error(), Some(nix::libc::ENOENT | nix::libc::ENOTDIR)) => {
                return Step::Continue
            }
            Err(err) => {
                let dir = err.path.as_deref().and_then(|p| p.strip_prefix(workdir).ok()).unwrap_or(Path::new(""));
                why = Some(format!("the new folder {} cannot be listed: {}", dir.display(), err.error));
                return Step::Stop;
            }
        };
        let child = child_path(tree, entry.rela().as_os_str());
        if !entry.is_dir() {
            out.insert(child);
        } else if looks_bare(entry.path()) {
            why = Some(format!("a repository appeared at {child}"));
            return Step::Stop;
        } else {
            dirs.push(child);
        }
        Step::Continue
    });
    Ok(why.map_or(Ok(()), Err))
}

fn child_path(dir: &BStr, name: &std::ffi::OsStr) -> BString {
    use std::os::unix::ffi::OsStrExt as _;
    let mut path = dir.to_owned();
    path.push(b'/');
    path.extend_from_slice(name.as_bytes());
    path
}

/// Why a touched path needs the full scan: it changes ignore rules or attributes for other
/// paths, or belongs to a repository inside the worktree.
fn needs_full_scan(workdir: &Path, path: &BStr) -> Option<String> {
    let mut components = path.split(|b| *b == b'/');
    if components.any(|c| c.eq_ignore_ascii_case(b".git")) {
        return Some(format!("a `.git` entry appeared at {path}"));
    }
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or_default();
    if name == b".gitignore" || name == b".gitattributes" {
        return Some(format!("{path} changed"));
    }
    if name == b"HEAD" {
        let dir = scan::join(workdir, path).parent().map(Path::to_path_buf).unwrap_or_default();
        if looks_bare(&dir) {
            return Some(format!("a repository appeared around {path}"));
        }
    }
    None
}

/// A directory git would take for a bare repository: a `HEAD` file, `objects/` and `refs/`.
fn looks_bare(dir: &Path) -> bool {
    let is = |name: &str, dir_wanted: bool| {
        std::fs::symlink_metadata(dir.join(name)).is_ok_and(|md| md.is_dir() == dir_wanted)
    };
    is("HEAD", false) && is("objects", true) && is("refs", true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiskKind {
    /// Missing, or below something that is not a directory.
    Absent,
    /// A regular file or a symlink.
    File,
    Dir,
    /// A fifo, socket or device.
    Other,
}

/// What is on disk at a path, without following symlinks in any of its components.
struct LeadingDirs {
    workdir: PathBuf,
    dirs: HashMap<BString, bool>,
}

impl LeadingDirs {
    fn new(workdir: &Path) -> Self {
        LeadingDirs { workdir: workdir.to_path_buf(), dirs: HashMap::new() }
    }

    /// What is at `path`; `Err` (why) when it cannot be looked at (too long, unreadable):
    /// only "nothing there" counts as absent, never an error.
    fn kind_of(&mut self, path: &BStr) -> Result<DiskKind, String> {
        let mut end = 0;
        while let Some(slash) = path[end..].find_byte(b'/') {
            end += slash;
            if !self.is_real_dir(path[..end].as_bstr())? {
                return Ok(DiskKind::Absent);
            }
            end += 1;
        }
        match std::fs::symlink_metadata(scan::join(&self.workdir, path)) {
            Ok(md) if md.is_dir() => Ok(DiskKind::Dir),
            Ok(md) if md.is_file() || md.is_symlink() => Ok(DiskKind::File),
            Ok(_) => Ok(DiskKind::Other),
            Err(err) if is_absent(&err) => Ok(DiskKind::Absent),
            Err(err) => Err(format!("the touched path {path} cannot be looked at: {err}")),
        }
    }

    fn is_real_dir(&mut self, dir: &BStr) -> Result<bool, String> {
        if let Some(known) = self.dirs.get(dir) {
            return Ok(*known);
        }
        let real = match std::fs::symlink_metadata(scan::join(&self.workdir, dir)) {
            Ok(md) => md.is_dir(),
            Err(err) if is_absent(&err) => false,
            Err(err) => return Err(format!("the touched folder {dir} cannot be looked at: {err}")),
        };
        self.dirs.insert(dir.to_owned(), real);
        Ok(real)
    }
}

/// The error says nothing is there (not a failure to look).
fn is_absent(err: &std::io::Error) -> bool {
    matches!(err.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
}
