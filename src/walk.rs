//! The one tree walker: every recursive walk of a folder (the user's checkout for the guard, a
//! worktree for the sensitive checks and the snapshot, the shared git dir, state folders being
//! copied, the pool's disk use) goes through here, over the `ignore` crate's walker (ripgrep's)
//! with every filter off: hidden files, `.gitignore`d files and global excludes are all walked
//! (what to skip is the caller's decision), symlinks are not followed unless asked, and the
//! visitor decides for each directory whether to go in ([`Step::Prune`]).
//!
//! A walk runs on one thread unless [`Walk::parallel`] is asked for; entries then come in no
//! particular order (callers that need one sort what they collected). The root itself is not
//! reported, only what is below it; a root that cannot be listed is reported as an error.
//! [`Entry::lstat`] looks an entry up in its folder, kept open by the thread walking it (one
//! name to resolve instead of every component of the path: half the cost of a file's `lstat`).

use std::cell::RefCell;
use std::ffi::OsStr;
use std::fs::{FileType, Metadata};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What the visitor wants after an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Go on (into the entry when it is a directory).
    Continue,
    /// Do not go into this directory (for other entries: the same as `Continue`).
    Prune,
    /// End the walk (every thread stops soon).
    Stop,
}

/// One entry below the root.
pub struct Entry<'a> {
    inner: &'a ignore::DirEntry,
    rela: &'a Path,
    folders: &'a RefCell<Folders>,
}

impl Entry<'_> {
    /// The entry's path (the root joined with [`Entry::rela`]).
    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// The path relative to the root.
    pub fn rela(&self) -> &Path {
        self.rela
    }

    /// The entry's name in its directory.
    pub fn name(&self) -> &OsStr {
        use std::os::unix::ffi::OsStrExt as _;
        // By bytes: `Path::file_name` parses the whole path from its end.
        let path = self.inner.path().as_os_str().as_bytes();
        match path.iter().rposition(|byte| *byte == b'/') {
            Some(slash) if slash + 1 < path.len() => OsStr::from_bytes(&path[slash + 1..]),
            _ => self.inner.file_name(),
        }
    }

    /// 1 for the root's entries, 2 below them, ...
    pub fn depth(&self) -> usize {
        self.inner.depth()
    }

    /// The type as the directory listing gives it (of the link itself, unless links are followed).
    pub fn file_type(&self) -> Option<FileType> {
        self.inner.file_type()
    }

    /// A directory that the walk would go into.
    pub fn is_dir(&self) -> bool {
        self.file_type().is_some_and(|kind| kind.is_dir())
    }

    /// `lstat` of the entry (`stat` when links are followed).
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.inner.metadata().map_err(into_io)
    }

    /// `lstat` of the entry (never following a link), looked up by name in its folder.
    pub fn lstat(&self) -> io::Result<nix::sys::stat::FileStat> {
        use nix::fcntl::AtFlags;
        use std::os::unix::ffi::OsStrExt as _;
        // The folder and name by bytes (`Path::parent` parses every component, as costly as the call).
        let path = self.inner.path().as_os_str().as_bytes();
        let Some(slash) = path.iter().rposition(|byte| *byte == b'/').filter(|at| *at > 0) else {
            return nix::sys::stat::lstat(self.inner.path()).map_err(io::Error::from);
        };
        let (folder, name) = (Path::new(OsStr::from_bytes(&path[..slash])), OsStr::from_bytes(&path[slash + 1..]));
        let mut folders = self.folders.borrow_mut();
        let fd = folders.open(folder)?;
        nix::sys::stat::fstatat(fd, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(io::Error::from)
    }
}

/// The folders a walk's thread looked into last, open (`O_PATH`), most recent last.
#[derive(Default)]
struct Folders(Vec<(PathBuf, OwnedFd)>);

impl Folders {
    /// A walk thread mostly goes through one folder's entries at a time, now and then coming back
    /// to a parent's: a few kept open cover nearly every entry.
    const KEPT: usize = 4;

    fn open(&mut self, folder: &Path) -> io::Result<&OwnedFd> {
        use nix::fcntl::OFlag;
        match self.0.iter().position(|(open, _)| open == folder) {
            Some(at) if at + 1 == self.0.len() => {}
            Some(at) => {
                let hit = self.0.remove(at);
                self.0.push(hit);
            }
            None => {
                let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
                let fd = nix::fcntl::open(folder, flags, nix::sys::stat::Mode::empty()).map_err(io::Error::from)?;
                if self.0.len() == Self::KEPT {
                    self.0.remove(0);
                }
                self.0.push((folder.to_path_buf(), fd));
            }
        }
        Ok(&self.0.last().expect("just kept").1)
    }
}

/// Something the walk could not read: a folder that cannot be listed (vanished, no permission, a
/// symlink loop when links are followed), with its path when known.
#[derive(Debug)]
pub struct WalkError {
    pub path: Option<PathBuf>,
    pub error: io::Error,
}

impl WalkError {
    fn new(error: ignore::Error) -> Self {
        let path = error_path(&error).map(Path::to_path_buf);
        WalkError { path, error: into_io(error) }
    }

    /// The error is only that the path is gone, or not ours to read.
    pub fn is_gone_or_denied(&self) -> bool {
        matches!(self.error.kind(), io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied)
            || self.error.raw_os_error() == Some(nix::libc::ENOTDIR)
    }
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{}: {}", path.display(), self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl std::error::Error for WalkError {}

fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => error_path(err),
        ignore::Error::Loop { child, .. } => Some(child),
        _ => None,
    }
}

fn into_io(error: ignore::Error) -> io::Error {
    if let ignore::Error::Loop { ancestor, child } = &error {
        let message = format!("{} loops back to {}", child.display(), ancestor.display());
        return io::Error::new(io::ErrorKind::InvalidData, message);
    }
    let text = error.to_string();
    error.into_io_error().unwrap_or_else(|| io::Error::other(text))
}

/// A walk of the tree below one root.
#[derive(Clone, Debug)]
pub struct Walk {
    root: PathBuf,
    threads: usize,
    follow_links: bool,
    max_depth: Option<usize>,
}

impl Walk {
    /// A walk of everything below `root`, on one thread, symlinks not followed.
    pub fn new(root: &Path) -> Walk {
        Walk { root: root.to_path_buf(), threads: 1, follow_links: false, max_depth: None }
    }

    /// On as many threads as the machine has cores (2 to 8).
    pub fn parallel(mut self) -> Walk {
        self.threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8);
        self
    }

    /// Follow symlinks (a loop is reported as an error, not walked).
    pub fn follow_links(mut self) -> Walk {
        self.follow_links = true;
        self
    }

    /// Go no deeper than `depth` (1: the root's own entries).
    pub fn max_depth(mut self, depth: usize) -> Walk {
        self.max_depth = Some(depth);
        self
    }

    /// Calls `visit` for every entry (and every error) on the walk's threads: `make` gives each
    /// thread its own visitor.
    pub fn run<'s, M, V>(self, mut make: M)
    where
        M: FnMut() -> V,
        V: FnMut(Result<Entry<'_>, WalkError>) -> Step + Send + 's,
    {
        let root = self.root.clone();
        self.builder().build_parallel().run(|| {
            let mut visit = make();
            let root = root.clone();
            let folders = RefCell::new(Folders::default());
            Box::new(move |found| dispatch(&root, &folders, found, &mut visit))
        });
    }

    /// [`Walk::run`] with one visitor shared by the threads (sequential walks, or visitors that
    /// only read shared state).
    pub fn each<F>(self, visit: F)
    where
        F: FnMut(Result<Entry<'_>, WalkError>) -> Step + Send,
    {
        let shared = Mutex::new(visit);
        self.run(|| {
            let shared = &shared;
            move |found: Result<Entry<'_>, WalkError>| {
                let mut visit = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                visit(found)
            }
        });
    }

    /// Collects what `visit` pushes, each thread into its own list, merged at the end; the first
    /// error `visit` returns ends the walk and is returned.
    pub fn try_collect<T, F>(self, visit: F) -> anyhow::Result<Vec<T>>
    where
        T: Send,
        F: Fn(Result<Entry<'_>, WalkError>, &mut Vec<T>) -> anyhow::Result<Step> + Sync,
    {
        let lists: Mutex<Vec<Vec<T>>> = Mutex::new(Vec::new());
        let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        self.run(|| {
            let mut sink = Sink { found: Vec::new(), lists: &lists };
            let (visit, failure) = (&visit, &failure);
            move |found: Result<Entry<'_>, WalkError>| match visit(found, &mut sink.found) {
                Ok(step) => step,
                Err(err) => {
                    failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(err);
                    Step::Stop
                }
            }
        });
        if let Some(err) = failure.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
            return Err(err);
        }
        Ok(lists.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).into_iter().flatten().collect())
    }

    fn builder(&self) -> ignore::WalkBuilder {
        let mut builder = ignore::WalkBuilder::new(&self.root);
        builder
            .standard_filters(false)
            .require_git(false)
            .same_file_system(false)
            .follow_links(self.follow_links)
            .max_depth(self.max_depth)
            .threads(self.threads);
        builder
    }
}

/// A thread's findings, handed over when its visitor is dropped (at the end of the walk).
struct Sink<'a, T> {
    found: Vec<T>,
    lists: &'a Mutex<Vec<Vec<T>>>,
}

impl<T> Drop for Sink<'_, T> {
    fn drop(&mut self) {
        let found = std::mem::take(&mut self.found);
        self.lists.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(found);
    }
}

/// `path` below `root` (the walker joins names to the root as given): a slice of its bytes, not
/// the component-wise `strip_prefix` (which costs as much as the `lstat` of a file).
fn relative<'a>(root: &Path, path: &'a Path) -> &'a Path {
    use std::os::unix::ffi::OsStrExt as _;
    let (prefix, whole) = (root.as_os_str().as_bytes(), path.as_os_str().as_bytes());
    match whole.strip_prefix(prefix) {
        Some(rest) => Path::new(OsStr::from_bytes(rest.strip_prefix(b"/").unwrap_or(rest))),
        None => path.strip_prefix(root).unwrap_or(path),
    }
}

fn dispatch<V>(
    root: &Path,
    folders: &RefCell<Folders>,
    found: Result<ignore::DirEntry, ignore::Error>,
    visit: &mut V,
) -> ignore::WalkState
where
    V: FnMut(Result<Entry<'_>, WalkError>) -> Step,
{
    let step = match found {
        Ok(entry) if entry.depth() == 0 => Step::Continue,
        Ok(entry) => {
            let rela = relative(root, entry.path());
            visit(Ok(Entry { inner: &entry, rela, folders }))
        }
        Err(error) => visit(Err(WalkError::new(error))),
    };
    match step {
        Step::Continue => ignore::WalkState::Continue,
        Step::Prune => ignore::WalkState::Skip,
        Step::Stop => ignore::WalkState::Quit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for folder in ["a/b", "a/skip/deep", ".hidden"] {
            std::fs::create_dir_all(dir.path().join(folder)).expect("mkdir");
        }
        for file in ["top", "a/b/f", "a/skip/deep/g", ".hidden/h", ".gitignore"] {
            std::fs::write(dir.path().join(file), "*\n").expect("write");
        }
        std::os::unix::fs::symlink("a", dir.path().join("link")).expect("symlink");
        dir
    }

    fn paths(walk: Walk, prune: &str) -> Vec<String> {
        let mut found = walk
            .try_collect(|entry, out| {
                let entry = entry?;
                out.push(entry.rela().display().to_string());
                Ok(if entry.rela() == Path::new(prune) { Step::Prune } else { Step::Continue })
            })
            .expect("walk");
        found.sort();
        found
    }

    #[test]
    fn walks_everything_below_the_root_without_filters_or_links() {
        let dir = tree();
        let all = [".gitignore", ".hidden", ".hidden/h", "a", "a/b", "a/b/f", "a/skip", "link", "top"];
        assert_eq!(paths(Walk::new(dir.path()), "a/skip"), all);
        assert_eq!(paths(Walk::new(dir.path()).parallel(), "a/skip"), all);
        assert_eq!(paths(Walk::new(dir.path()).max_depth(1), ""), [".gitignore", ".hidden", "a", "link", "top"]);
        let followed = paths(Walk::new(dir.path()).follow_links(), "a/skip");
        assert!(followed.contains(&"link/b/f".to_string()), "{followed:?}");
    }

    #[test]
    fn lstat_in_the_folder_is_the_lstat_of_the_path() {
        let dir = tree();
        let found = Walk::new(dir.path())
            .parallel()
            .try_collect(|entry, out| {
                let entry = entry?;
                let (at, meta) = (entry.lstat()?, std::fs::symlink_metadata(entry.path())?);
                out.push((entry.rela().to_path_buf(), at.st_ino, at.st_size as u64, at.st_mode, meta));
                Ok(Step::Continue)
            })
            .expect("walk");
        assert_eq!(found.len(), 11, "{:?}", found.iter().map(|f| &f.0).collect::<Vec<_>>());
        for (rela, ino, size, mode, meta) in found {
            use std::os::unix::fs::MetadataExt as _;
            assert_eq!((ino, size, mode), (meta.ino(), meta.size(), meta.mode()), "{}", rela.display());
        }
    }

    #[test]
    fn errors_reach_the_visitor_and_stop_the_walk() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing");
        let result = Walk::new(&missing).try_collect(|entry, out: &mut Vec<()>| {
            let err = entry.err().expect("only an error");
            assert!(err.is_gone_or_denied(), "{err}");
            out.push(());
            anyhow::bail!("stop: {err}")
        });
        assert!(result.expect_err("the visitor's error").to_string().starts_with("stop: "));
    }
}
