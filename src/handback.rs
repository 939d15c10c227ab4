//! Hand-back: listing and selecting runs, the review text, and applying an offered result to the
//! user's checkout (as a patch, 3-way) or merging its scratch branch into the current branch.
//!
//! Submodules: `runs` (run folders, `applied.json`, selecting a run or a group), `review` (the review
//! text and patch colours), `apply` (checks and the patch hand-back), `merge` (`apply --merge`),
//! `fanin` (several runs as one hand-back), `overlap` (`review A B ...`: paths and overlaps),
//! `group` (attempts of a group, `superseded.json`), `compare` (`review GROUP`: attempts ranked),
//! `lock` (one apply of a run at a time), `checkout` (the user's working tree read as a tree),
//! `files` (writing tree differences into the working tree).

mod apply;
mod checkout;
mod compare;
mod fanin;
mod files;
mod group;
mod lock;
mod merge;
mod overlap;
mod review;
mod runs;

pub use apply::{
    apply, apply_run, apply_with, hand_back, ApplyError, ApplyHow, ApplyOutcome, HandedBack, MergeKind, PatchRenderer,
};
pub use compare::{group_report, write_group, AttemptLine, GroupReport};
pub use fanin::{apply_many, apply_many_with, describe_conflicts, simulate, Conflict, FanInOutcome};
pub use group::{find_group, groups_of, load_superseded, load_tag, Group, GroupTag, Superseded, SUPERSEDED_FILE};
pub use overlap::{fan_in_report, status_word, write_fan_in, FanInReport, Overlap, RunLine, Together};
pub use review::{load_changes, review, verdict_label, write_colored_patch, ChangeEntry};
pub use runs::{
    list_runs, load_applied, load_policy, repo_root_of, runs_root, select, select_run, Applied, RunRecord, SelectError,
    Selected, APPLIED_FILE,
};
