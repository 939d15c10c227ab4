//! Test-only pause points, so that crash tests can SIGKILL a dispatch at an exact place.
//!
//! `GIT_DISPATCH_TEST_PAUSE_AT=<point>` makes the process stop at that point: it writes the
//! point's name to the file named by `GIT_DISPATCH_TEST_PAUSE_FILE` (when set), then sleeps
//! for [`PAUSE_LIMIT`] and goes on. Points are the dispatch stages (`worktree`, `agent`,
//! `snapshot`, ...; the stage is recorded before the pause) and a few points inside a stage:
//! `worktree-add` (branch and ownership marker exist, no worktree yet), `worktree-added` (the
//! worktree is checked out, includes not copied yet), `snapshot-commit` (the result commit is
//! written, the branch not moved yet), and `apply-locked` in `apply` (its locks are held, nothing
//! is checked or written yet). Without the variable nothing happens. Not for users.

use std::path::Path;
use std::time::Duration;

/// Names the point to pause at.
pub const PAUSE_AT_ENV: &str = "GIT_DISPATCH_TEST_PAUSE_AT";

/// Names a file that receives the point's name once the pause begins.
pub const PAUSE_FILE_ENV: &str = "GIT_DISPATCH_TEST_PAUSE_FILE";

/// How long a pause lasts at most (a test kills the process long before).
pub const PAUSE_LIMIT: Duration = Duration::from_secs(600);

/// Pauses when `GIT_DISPATCH_TEST_PAUSE_AT` names `point`; see the module documentation.
pub fn pause_point(point: &str) {
    if std::env::var_os(PAUSE_AT_ENV).is_none_or(|wanted| wanted != point) {
        return;
    }
    if let Some(file) = std::env::var_os(PAUSE_FILE_ENV).filter(|f| !f.is_empty()) {
        // Best effort: a test that cannot see the file times out and says so.
        let file = Path::new(&file);
        let temporary = file.with_extension("pausing");
        if std::fs::write(&temporary, point).is_ok() {
            let _ = std::fs::rename(&temporary, file);
        }
    }
    std::thread::sleep(PAUSE_LIMIT);
}
