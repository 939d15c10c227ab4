//! The filesystem's "now": the stamp after which a file counts as written by the run.

use anyhow::Context as _;
use std::path::Path;
use std::time::SystemTime;

/// "Now" as the filesystem clock sees it, taken so that a file changed at this stamp or later
/// (ctime `>=` it, the comparison [`snapshot`] makes for ignored files) was changed after this
/// call, and a file changed before the call has an earlier ctime. File timestamps come from a
/// coarse clock (one tick is a few milliseconds, a second or two on some filesystems), so a file
/// written in the tick of a stamp carries the stamp's time exactly: the stamp is the first tick
/// that begins after the call, found by making stamp files until their time moves (at most one
/// tick; if it never moves within [`STAMP_WAIT`], the first stamp is used and files written just
/// before it count as written, which fails safe).
pub fn fs_now(dir: &Path) -> anyhow::Result<SystemTime> {
    let first = stamp(dir)?;
    let start = std::time::Instant::now();
    while start.elapsed() < STAMP_WAIT {
        let next = stamp(dir)?;
        if next > first {
            return Ok(next);
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    Ok(first)
}

/// How long [`fs_now`] waits for the filesystem clock to tick.
const STAMP_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The mtime of a new file in `dir` (removed again).
fn stamp(dir: &Path) -> anyhow::Result<SystemTime> {
    let stamp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("creating a stamp file in {}", dir.display()))?;
    let md = stamp.as_file().metadata().context("reading the stamp file")?;
    md.modified().context("reading the stamp file's mtime")
}
