//! Watching a run folder for `git dispatch cancel`: a thread looks for the cancel request file a
//! few times a second and, once it is there, sets the run's [`Cancel`] token, which stops its
//! children (SETUP, the agent, verification) through the process module and the pipeline at its
//! next stage. The thread ends when the watch is dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::artifacts::state;
use crate::process::Cancel;

/// How often the run folder is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// `git dispatch cancel` reached the pipeline: it stops at the next stage.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub(super) struct Cancelled;

/// The watching thread of one run; stopped when dropped.
pub(super) struct CancelWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CancelWatch {
    /// Starts watching `run_dir`; `cancel` is set when a cancel request appears (at once when
    /// one is already there).
    pub(super) fn start(run_dir: &Path, cancel: Cancel) -> CancelWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let run_dir: PathBuf = run_dir.to_path_buf();
        if state::cancel_requested(&run_dir) {
            cancel.cancel();
            return CancelWatch { stop, thread: None };
        }
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("cancel-watch".to_string())
            .spawn(move || {
                while !stopping.load(Ordering::SeqCst) {
                    if state::cancel_requested(&run_dir) {
                        cancel.cancel();
                        break;
                    }
                    std::thread::park_timeout(LOOK_EVERY);
                }
            })
            .ok();
        CancelWatch { stop, thread }
    }
}

impl Drop for CancelWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
