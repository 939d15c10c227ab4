//! The arguments of the hand-back commands: `review`, `apply`, `list`, `show`, `clean`.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct RunSelector {
    /// Run id, a unique prefix of one, or nothing for the newest run.
    pub run: Option<String>,

    /// The repository (or WORKDIR) whose runs to look at [default: the current directory].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Root folder of the run folders, if runs were written with --output-dir.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// `review`: one run, several runs (the fan-in table), or a group of attempts.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Run ids, unique prefixes of them, or a group id [default: the newest run]. One run: its
    /// verdict, changed paths and patch; several: their changed paths and overlaps, each overlap
    /// checked by an in-memory 3-way merge; a group: its attempts side by side, ranked.
    pub runs: Vec<String>,

    /// Every offered run not applied yet (oldest first), as with several runs.
    #[arg(long, conflicts_with = "runs")]
    pub all_offered: bool,

    /// The repository (or WORKDIR) whose runs to look at [default: the current directory].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Root folder of the run folders, if runs were written with --output-dir.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Colour the patch: auto (on a terminal), always, never.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: String,

    /// Several runs or a group: the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `apply`: one run, several runs as one operation, or the pick of a group.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Run ids or unique prefixes of them [default: the newest run]; several are applied in this
    /// order as one operation (all or nothing), a group id needs --pick.
    pub runs: Vec<String>,

    /// The repository (or WORKDIR) whose runs to look at [default: the current directory].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Root folder of the run folders, if runs were written with --output-dir.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Merge the scratch branch into the current branch instead of applying the patch (several
    /// runs: one merge commit per run, in order).
    #[arg(long)]
    pub merge: bool,

    /// With a group id: the attempt to apply (its run id or a unique prefix); the group's other
    /// attempts are marked superseded and can no longer be applied.
    #[arg(long, value_name = "RUN")]
    pub pick: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The repository (or WORKDIR) whose runs to list [default: the current directory].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Root folder of the run folders, if runs were written with --output-dir.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// One JSON object per run.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub selector: RunSelector,
    /// Print policy.json and run.json as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "What `clean` removes, run by run (RUN, --all, or with no RUN every run of the repository):\n\
  - the worktree of a run kept with --keep-worktree;\n\
  - the run's scratch branch dispatch/<run-id>;\n\
  - with --artifacts, the run folder itself.\n\
It never touches a run that is queued or running, and keeps an offered result that was not applied\n\
(it names it) unless --force; an attempt superseded by its group's applied pick is not kept. --pool also empties the warm pool of idle worktrees; --recover also\n\
removes what killed runs left (worktrees, admin folders, branches, processes) and names stale locks.\n\
Your checkout, index and other branches are never changed."
)]
pub struct CleanArgs {
    /// Run id or unique prefix to clean, or a group id (all its attempts).
    pub run: Option<String>,
    /// Clean every run.
    #[arg(long, conflicts_with = "run")]
    pub all: bool,
    /// Clean runs older than this (e.g. 30m, 12h, 7d).
    #[arg(long, value_name = "AGE", conflicts_with = "run")]
    pub older_than: Option<String>,
    /// Also empty the warm pool of idle worktrees.
    #[arg(long)]
    pub pool: bool,
    /// Find and remove what killed runs left behind (worktrees, branches, stale locks).
    #[arg(long)]
    pub recover: bool,
    /// Also delete the run folders.
    #[arg(long)]
    pub artifacts: bool,
    /// Also clean offered results that were not applied.
    #[arg(long)]
    pub force: bool,
    /// The repository (or WORKDIR) whose runs to clean [default: the current directory].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Root folder of the run folders, if runs were written with --output-dir.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}
