//! Hand-back: listing and selecting runs, the review text, and applying an offered result to the
//! user's checkout (as a patch, 3-way) or merging its scratch branch into the current branch.
//!
//! Submodules: `runs` (run folders, `applied.json`), `review` (the review text and patch colours),
//! `apply` (checks and the patch hand-back), `merge` (`apply --merge`), `lock` (one apply of a run at a time), `checkout` (the user's
//! working tree read as a tree), `files` (writing tree differences into the working tree).

mod apply;
mod checkout;
mod files;
mod lock;
mod merge;
mod review;
mod runs;

pub use apply::{
    apply, apply_run, apply_with, ApplyError, ApplyHow, ApplyOutcome, HandedBack, MergeKind, PatchRenderer,
};
pub use review::{load_changes, review, verdict_label, write_colored_patch, ChangeEntry};
pub use runs::{
    list_runs, load_applied, load_policy, repo_root_of, runs_root, select_run, Applied, RunRecord, SelectError,
    APPLIED_FILE,
};
