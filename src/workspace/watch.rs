//! The change journal of a worktree: an inotify watch on every tracked directory, started when
//! the worktree is ready and read by a background thread while the agent runs, so that the
//! snapshot looks only at the paths something touched instead of `lstat`-ing every file.
//!
//! The journal is an accelerator, never the authority: whatever it cannot vouch for makes it
//! *lost*, and the snapshot then falls back to the full scan. Lost means: the event queue
//! overflowed, a directory was moved (watch paths would go stale), the worktree's root went
//! away, or more paths were touched than the journal keeps. Files created in a directory made
//! during the run are not watched individually: the whole new directory is listed in
//! [`Touched::trees`] and walked at snapshot time.
//!
//! What inotify does not see and why that is safe here: writes through a hard link made from
//! outside the worktree (the sandboxes put the worktree on its own mount, where `link(2)` from
//! elsewhere fails with `EXDEV`) and writes through a shared mapping of a file opened elsewhere
//! (a file opened for writing through the worktree reports `IN_CLOSE_WRITE` when the agent's
//! descriptors close, at the latest when it exits). See docs and SECURITY.md.

use anyhow::Context as _;
use gix::bstr::{BString, ByteSlice};
use nix::sys::inotify::{AddWatchFlags as F, InitFlags, Inotify, WatchDescriptor};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// More touched paths than this and the journal gives up (the full scan is as cheap then).
const MAX_TOUCHED: usize = 100_000;

/// What happened in the worktree since the journal started (or was last taken).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched {
    /// Paths (repository-relative) of files, symlinks or directories created, written,
    /// chmodded, deleted or renamed inside a watched directory.
    pub files: BTreeSet<BString>,
    /// Directories created or deleted inside a watched directory: everything below is suspect.
    pub trees: BTreeSet<BString>,
    /// Why the journal cannot be trusted for this period, if it cannot.
    pub lost: Option<String>,
}

impl Touched {
    fn lose(&mut self, why: String) {
        if self.lost.is_none() {
            self.lost = Some(why);
        }
        self.files.clear();
        self.trees.clear();
    }
}

struct State {
    dirs: HashMap<WatchDescriptor, BString>,
    root: Option<WatchDescriptor>,
    touched: Touched,
}

struct Shared {
    inotify: Inotify,
    workdir: PathBuf,
    state: Mutex<State>,
    stop: AtomicBool,
    /// The read end of a pipe whose write end the [`ChangeWatch`] holds: closing it wakes the
    /// reader at once (instead of at its next poll timeout).
    wake: std::os::fd::OwnedFd,
}

/// A running journal; dropping it stops the reader thread and closes the inotify instance.
pub struct ChangeWatch {
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    wake: Option<std::os::fd::OwnedFd>,
}

impl std::fmt::Debug for ChangeWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeWatch").field("workdir", &self.shared.workdir).finish_non_exhaustive()
    }
}

fn mask() -> F {
    F::IN_MODIFY
        | F::IN_ATTRIB
        | F::IN_CLOSE_WRITE
        | F::IN_CREATE
        | F::IN_DELETE
        | F::IN_MOVED_FROM
        | F::IN_MOVED_TO
        | F::IN_DELETE_SELF
        | F::IN_MOVE_SELF
        | F::IN_ONLYDIR
        | F::IN_DONT_FOLLOW
}

impl ChangeWatch {
    /// Watches `workdir` and its directories `dirs` (repository-relative, `""` is the root,
    /// always watched). Fails when inotify is unavailable or its limits are reached.
    pub fn start(workdir: &Path, dirs: impl IntoIterator<Item = BString>) -> anyhow::Result<ChangeWatch> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).context("starting inotify")?;
        let state = State { dirs: HashMap::new(), root: None, touched: Touched::default() };
        let (wake, wake_writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("making a pipe")?;
        let (dir, state, stop) = (workdir.to_path_buf(), Mutex::new(state), false.into());
        let shared = Arc::new(Shared { inotify, workdir: dir, state, stop, wake });
        {
            let mut state = shared.state.lock().expect("journal state lock is never poisoned");
            let root = shared.inotify.add_watch(workdir, mask()).context("watching the worktree")?;
            state.root = Some(root);
            state.dirs.insert(root, BString::default());
            shared.add_watches(&mut state, dirs)?;
        }
        let reader_shared = Arc::clone(&shared);
        let reader = std::thread::Builder::new()
            .name("change-journal".into())
            .spawn(move || reader_shared.read_until_stopped())
            .context("starting the change journal's reader")?;
        Ok(ChangeWatch { shared, reader: Some(reader), wake: Some(wake_writer) })
    }

    /// Also watches `dirs` (directories that became tracked), from now on.
    pub fn add_dirs(&self, dirs: impl IntoIterator<Item = BString>) -> anyhow::Result<()> {
        let mut state = self.shared.lock();
        self.shared.add_watches(&mut state, dirs)
    }

    /// Everything touched since the start or the previous call; the journal goes on from now.
    /// Events already queued (every write of a process that has exited) are included.
    pub fn take(&self) -> Touched {
        let mut state = self.shared.lock();
        self.shared.drain(&mut state);
        std::mem::take(&mut state.touched)
    }
}

impl Drop for ChangeWatch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        drop(self.wake.take());
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add_watches(&self, state: &mut State, dirs: impl IntoIterator<Item = BString>) -> anyhow::Result<()> {
        for dir in dirs {
            if dir.is_empty() {
                continue;
            }
            let path = super::scan::join(&self.workdir, dir.as_bstr());
            let wd = self.inotify.add_watch(&path, mask()).with_context(|| format!("watching {}", path.display()))?;
            state.dirs.insert(wd, dir);
        }
        Ok(())
    }

    fn read_until_stopped(&self) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd as _;
        while !self.stop.load(Ordering::Relaxed) {
            let mut fds = [
                PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.wake.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::from(50u8)) {
                Ok(0) => continue,
                Ok(_) => self.drain(&mut self.lock()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(err) => {
                    self.lock().touched.lose(format!("the change journal stopped reading: {err}"));
                    return;
                }
            }
        }
    }

    /// Reads every queued event into `state`.
    fn drain(&self, state: &mut State) {
        loop {
            match self.inotify.read_events() {
                Ok(events) if events.is_empty() => return,
                Ok(events) => {
                    for event in events {
                        record(state, event.wd, event.mask, event.name.as_deref());
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(err) => {
                    state.touched.lose(format!("reading the change journal failed: {err}"));
                    return;
                }
            }
        }
    }
}

/// Files one event of directory `wd` says were touched.
fn record(state: &mut State, wd: WatchDescriptor, mask: F, name: Option<&std::ffi::OsStr>) {
    if state.touched.lost.is_some() {
        return;
    }
    if mask.contains(F::IN_Q_OVERFLOW) {
        return state.touched.lose("the change journal's queue overflowed".into());
    }
    if mask.contains(F::IN_UNMOUNT) {
        return state.touched.lose("the worktree's filesystem was unmounted".into());
    }
    let Some(dir) = state.dirs.get(&wd) else { return };
    let Some(name) = name else {
        if Some(wd) == state.root && mask.intersects(F::IN_DELETE_SELF | F::IN_MOVE_SELF) {
            state.touched.lose("the worktree itself was moved or deleted".into());
        }
        return;
    };
    let path = child_path(dir, name);
    let touched = &mut state.touched;
    if mask.contains(F::IN_ISDIR) {
        if mask.intersects(F::IN_MOVED_FROM | F::IN_MOVED_TO) {
            return touched.lose(format!("directory {path} was moved"));
        }
        if mask.intersects(F::IN_CREATE | F::IN_DELETE) {
            touched.trees.insert(path);
        }
    } else {
        touched.files.insert(path);
    }
    if touched.files.len() + touched.trees.len() > MAX_TOUCHED {
        touched.lose(format!("more than {MAX_TOUCHED} paths were touched"));
    }
}

fn child_path(dir: &BString, name: &std::ffi::OsStr) -> BString {
    use std::os::unix::ffi::OsStrExt as _;
    let mut path = dir.clone();
    if !path.is_empty() {
        path.push(b'/');
    }
    path.extend_from_slice(name.as_bytes());
    path
}

/// The directories holding the entries of `index` (each once, parents before children, without `""`).
pub fn index_dirs(index: &gix::index::State) -> Vec<BString> {
    let mut dirs: BTreeSet<&[u8]> = BTreeSet::new();
    // Entries are sorted: most share the folder of the one before, already recorded.
    let mut last: &[u8] = b"";
    for entry in index.entries() {
        let mut path: &[u8] = entry.path(index);
        let folder = path.rfind_byte(b'/').map_or(&path[..0], |slash| &path[..slash]);
        if folder == last {
            continue;
        }
        last = folder;
        while let Some(slash) = path.rfind_byte(b'/') {
            path = &path[..slash];
            if !dirs.insert(path) {
                break;
            }
        }
    }
    dirs.into_iter().map(BString::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::write(path, b"x").expect("write");
    }

    #[test]
    fn reports_files_and_new_directories_relative_to_the_worktree() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
        touch(&dir.path().join("a/b/old.txt"));
        let watch = ChangeWatch::start(dir.path(), ["a".into(), "a/b".into()]).expect("start");
        touch(&dir.path().join("top.txt"));
        touch(&dir.path().join("a/b/old.txt"));
        std::fs::create_dir(dir.path().join("a/new")).expect("mkdir");
        touch(&dir.path().join("a/new/inner.txt"));
        std::fs::rename(dir.path().join("top.txt"), dir.path().join("a/moved.txt")).expect("rename");
        let touched = watch.take();
        assert_eq!(touched.lost, None);
        let files: Vec<&[u8]> = touched.files.iter().map(|p| p.as_slice()).collect();
        assert_eq!(files, [&b"a/b/old.txt"[..], b"a/moved.txt", b"top.txt"]);
        let trees: Vec<&[u8]> = touched.trees.iter().map(|p| p.as_slice()).collect();
        assert_eq!(trees, [&b"a/new"[..]]);
        assert_eq!(watch.take(), Touched::default(), "taking starts a new period");
    }

    #[test]
    fn a_moved_directory_loses_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a")).expect("mkdir");
        let watch = ChangeWatch::start(dir.path(), ["a".into()]).expect("start");
        std::fs::rename(dir.path().join("a"), dir.path().join("b")).expect("rename");
        let touched = watch.take();
        assert_eq!(touched.lost.as_deref(), Some("directory a was moved"));
        assert!(touched.files.is_empty() && touched.trees.is_empty());
    }

    #[test]
    fn the_reader_thread_keeps_the_queue_short() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let watch = ChangeWatch::start(dir.path(), []).expect("start");
        let mut files: Vec<std::fs::File> =
            (0..3).map(|i| std::fs::File::create(dir.path().join(format!("f{i}"))).expect("create")).collect();
        // Twice the default queue (16384 events); writes alternate between files so inotify
        // cannot merge them, and pause now and then so the reader can keep up.
        for round in 0..32_768 {
            files[round % 3].write_all(b"x").expect("write");
            if round % 4096 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        drop(files);
        let touched = watch.take();
        assert_eq!(touched.lost, None);
        assert_eq!(touched.files.len(), 3);
    }
}
