//! Hand-back: listing and selecting runs, the review text, and applying an offered result to the
//! user's checkout (as a patch, 3-way) or merging its scratch branch into the current branch.
//!
//! Submodules: `runs` (run folders, `applied.json`), `review` (the review text and patch colours).

mod review;
mod runs;

pub use review::{review, verdict_label, write_colored_patch, ChangeEntry};
pub use runs::{list_runs, load_applied, load_policy, select_run, Applied, RunRecord, SelectError, APPLIED_FILE};
