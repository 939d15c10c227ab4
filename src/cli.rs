//! The command line (clap derive): `git dispatch <command>` and the seed's own `git dispatch --task F`.
//!
//! Each `///` comment is the help text. Values given on the command line or in their environment
//! variable win over the packet's own fields (`AGENT`, `BASE`, `TIMEOUT SEC`, ...), which win over
//! the built-in defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::agent::AgentKind;

mod handback;
pub use handback::{ApplyArgs, CleanArgs, ListArgs, ReviewArgs, RunSelector, ShowArgs};

pub use crate::pipeline::{DEFAULT_HEARTBEAT_SEC, DEFAULT_QUOTA_GATE, DEFAULT_TIMEOUT_SEC};

/// Hand a bounded task to a coding-agent CLI (Codex, Claude Code) in an isolated git worktree,
/// check what it changed against the task's WRITE SCOPE, and offer the result back for review.
#[derive(Debug, Parser)]
#[command(name = "git-dispatch", bin_name = "git dispatch", version, args_conflicts_with_subcommands = true)]
#[command(after_help = "Run `git dispatch demo` for a complete dispatch with a built-in replay agent (no API key).\n\
Exit codes: 0 no violation (a worker's result is offered only if it changed something); 1 could not start;\n\
2 blocked before the agent ran; 3 the run failed, was cancelled or violated policy; 4 (wait) still running.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The seed's form: `git dispatch --task PACKET` is `git dispatch run --task PACKET`.
    #[command(flatten)]
    pub run: Option<RunArgs>,
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dispatch one task packet (or several, in parallel with -j).
    Run(RunArgs),
    /// Show a run: verdict, changed paths with their scope verdict, and the patch.
    Review(ReviewArgs),
    /// Hand an offered result back: apply its patch to your checkout (3-way), or merge its branch.
    Apply(ApplyArgs),
    /// List the runs of this repository, newest first.
    List(ListArgs),
    /// Show one run's summary.
    Show(ShowArgs),
    /// Add up the runs: outcomes, violations by kind, durations and tokens.
    Stats(crate::commands::stats::StatsArgs),
    /// Where runs are: queued, running, finished, cancelled or died (default: the runs still going, else the newest).
    Status(StatusArgs),
    /// Wait for runs to finish; exit code: the runs' own (highest), 4 if the timeout passed first.
    Wait(WaitArgs),
    /// Stop queued or running runs: the agent's whole process tree, then the verdict `cancelled` (exit 3).
    Cancel(CancelArgs),
    /// Remove worktrees, scratch branches and (with --artifacts) run folders.
    Clean(CleanArgs),
    /// Serve the MCP tools (dispatch, wait, review, apply, ...) on stdin/stdout.
    Mcp(McpArgs),
    /// Run a complete dispatch on a throw-away repository with the built-in replay agent.
    Demo(DemoArgs),
    /// Show what is installed and usable: git, agent CLIs, sandbox, pool.
    Doctor(DoctorArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    Man,
    /// Internal: the supervisor of detached runs (`run --detach`).
    #[command(hide = true, name = "__supervise")]
    Supervise(SuperviseArgs),
}

/// Which confinement the agent runs in (the library's own choice, named for the command line).
pub use crate::sandbox::Choice as SandboxChoice;

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Task packet(s) to dispatch (Markdown with MODE, WORKDIR, OBJECTIVE, WRITE SCOPE, ...).
    #[arg(long = "task", value_name = "PACKET", num_args = 1.., required = true)]
    pub tasks: Vec<PathBuf>,

    /// Root folder for run folders [default: <WORKDIR>/.codex-dispatch/runs].
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Let a worker run even when its WRITE SCOPE covers files you have uncommitted changes in.
    #[arg(long)]
    pub allow_dirty_overlap: bool,

    /// Build the prompt and the run folder without calling the agent or creating a worktree.
    #[arg(long)]
    pub dry_run: bool,

    /// Hard wall-clock timeout of the agent, in seconds [default: 1800].
    #[arg(long, value_name = "N", env = "CODEX_DISPATCH_TIMEOUT_SEC", value_parser = positive_seconds)]
    pub timeout_sec: Option<u64>,

    /// Kill the agent when its stdout has been silent this long, in seconds [default: 300].
    #[arg(long, value_name = "N", env = "CODEX_DISPATCH_HEARTBEAT_SEC")]
    pub heartbeat_sec: Option<u64>,

    /// Refuse to dispatch when the Codex 5-hour usage is at or above this percent.
    #[arg(long, value_name = "PCT", env = "CODEX_DISPATCH_QUOTA_GATE", default_value_t = DEFAULT_QUOTA_GATE)]
    pub quota_gate: f64,

    /// Dispatch even when over the quota gate.
    #[arg(long)]
    pub force: bool,

    /// The agent CLI to drive [default: the packet's AGENT, else codex]. Several, comma-separated
    /// (`codex,claude`), dispatch the packet once per agent as attempts of one group.
    #[arg(long, value_enum, env = "GIT_DISPATCH_AGENT", value_delimiter = ',')]
    pub agent: Vec<AgentKind>,

    /// Dispatch the packet N times (per agent), each attempt in its own worktree, as one group
    /// to compare with `review GROUP` [default: the packet's ATTEMPTS, else 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=crate::packet::MAX_ATTEMPTS as i64))]
    pub attempts: Option<u32>,

    /// Base revision for the worktree, used as it is [default: HEAD plus your uncommitted changes].
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,

    /// Keep the worktree after the run (it is listed by `git dispatch list` and removed by `clean`).
    #[arg(long)]
    pub keep_worktree: bool,

    /// Create a new worktree instead of taking one from the warm pool.
    #[arg(long)]
    pub fresh: bool,

    /// Run the packet's VERIFICATION commands in the result worktree; a failure means nothing is offered.
    #[arg(long)]
    pub verify: bool,

    /// Print a machine-readable summary on stdout instead of the run folder path.
    #[arg(long)]
    pub json: bool,

    /// Start the run(s) in a supervisor detached from this terminal and return at once (see
    /// `status`, `wait`, `cancel`).
    #[arg(long, conflicts_with = "dry_run")]
    pub detach: bool,

    /// How many runs go at once [default: 1; the attempts of a group all at once].
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = at_least_one)]
    pub jobs: Option<usize>,

    /// No live status line on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Confinement of the agent process (Linux).
    #[arg(long, value_enum, env = "GIT_DISPATCH_SANDBOX", default_value_t = SandboxChoice::Auto)]
    pub sandbox: SandboxChoice,

    /// What the confined agent may reach: allow (anything), api (only its model API and the
    /// allow-list, through git-dispatch's proxy), strict (api, and a refused connection is a
    /// violation), none [default: the packet's NETWORK, else api where the sandbox enforces it]
    #[arg(long, value_enum, env = "GIT_DISPATCH_NETWORK")]
    pub network: Option<crate::egress::NetworkChoice>,

    /// A host the agent may reach under --network api/strict: HOST, HOST:PORT or *.DOMAIN (port
    /// 443 unless given; repeatable).
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub allow_hosts: Vec<String>,

    /// Extra path the confined agent may write (repeatable).
    #[arg(long, value_name = "PATH")]
    pub writable: Vec<PathBuf>,

    /// A secret hidden from the confined agent by default (~/.ssh, ~/.aws, ...) that it may read
    /// (repeatable).
    #[arg(long, value_name = "PATH")]
    pub readable: Vec<PathBuf>,

    /// Allow a kind of sensitive change: symlink, submodule, gitattributes, exec-bit, automation
    /// (repeatable).
    #[arg(long, value_name = "KIND")]
    pub allow: Vec<String>,

    /// A file larger than this is not read and is a violation (`oversized`) [default: the packet's
    /// MAX FILE SIZE, else 50M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: Option<u64>,

    /// A change whose new content is larger than this is a violation (`oversized`) [default: 500M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_change_size: Option<u64>,

    /// Accepted for compatibility with the seed; the changed set is exact, so nothing is fingerprinted.
    #[arg(long, value_name = "N", hide = true)]
    pub fingerprint_limit: Option<usize>,

    /// Accepted for compatibility with the seed: status lines under this prefix are left out of the
    /// status snapshots (repeatable).
    #[arg(long, value_name = "PREFIX", hide = true)]
    pub ignore_status_prefix: Vec<String>,
}

/// `50M`, `1G`, `1048576` (units are powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    crate::sensitive::size::parse(text)
}

/// Which runs a job command looks at: ids, unique prefixes, or paths of run folders.
#[derive(Debug, Args)]
pub struct RunsSelector {
    /// Run ids, unique prefixes of them, or paths of run folders (of any repository).
    pub runs: Vec<String>,

    /// The repository (or WORKDIR) whose runs to look at [default: the current directory].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Root folder of the run folders, if runs were written with --output-dir.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub selector: RunsSelector,
    /// A JSON array, one object per run (the fields of state.json and `elapsed_s`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub selector: RunsSelector,
    /// Give up after this many seconds (exit 4 if a run is still going) [default: wait as long as it takes].
    #[arg(long, value_name = "SEC")]
    pub timeout: Option<f64>,
    /// Return when the first of the runs finishes (its exit code).
    #[arg(long)]
    pub any: bool,
    /// Print the summary as `run --json` does (with each run's state).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub selector: RunsSelector,
    /// Cancel every queued or running run of the repository.
    #[arg(long, conflicts_with = "runs")]
    pub all: bool,
    /// How long to wait for each run to stop, in seconds.
    #[arg(long, value_name = "SEC", default_value_t = 60.0)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The supervisor request (`supervisor.json` in the first run's folder).
    pub request: PathBuf,
}

/// `git dispatch mcp`: the server's working repository and the defaults of its dispatches (the
/// same flags and variables as `run`; a `dispatch` call can override agent, base, timeout, verify,
/// sandbox and allow).
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The working repository (or a folder in it) of calls without `workdir` [default: the
    /// current directory].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// The agent CLI to drive [default: the packet's AGENT, else codex].
    #[arg(long, value_enum, env = "GIT_DISPATCH_AGENT")]
    pub agent: Option<AgentKind>,

    /// Hard wall-clock timeout of the agent, in seconds [default: 1800].
    #[arg(long, value_name = "N", env = "CODEX_DISPATCH_TIMEOUT_SEC")]
    pub timeout_sec: Option<u64>,

    /// Kill the agent when its stdout has been silent this long, in seconds [default: 300].
    #[arg(long, value_name = "N", env = "CODEX_DISPATCH_HEARTBEAT_SEC")]
    pub heartbeat_sec: Option<u64>,

    /// Refuse to dispatch when the Codex 5-hour usage is at or above this percent.
    #[arg(long, value_name = "PCT", env = "CODEX_DISPATCH_QUOTA_GATE", default_value_t = DEFAULT_QUOTA_GATE)]
    pub quota_gate: f64,

    /// Confinement of the agent process (Linux).
    #[arg(long, value_enum, env = "GIT_DISPATCH_SANDBOX", default_value_t = SandboxChoice::Auto)]
    pub sandbox: SandboxChoice,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the throw-away repository and print where it is.
    #[arg(long)]
    pub keep: bool,
    /// No live status line.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Do not contact the quota endpoint.
    #[arg(long)]
    pub offline: bool,
    /// The repository to check [default: the current directory].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell
    pub shell: clap_complete::Shell,
}

/// A number of seconds above 0 (`--timeout-sec`).
fn positive_seconds(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("0 would stop the agent at once; give a number of seconds above 0".to_string()),
        Ok(seconds) => Ok(seconds),
        Err(_) => Err(format!("`{text}` is not a number of seconds")),
    }
}

/// A count of 1 or more (`-j`).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("0 runs nothing; give 1 or more".to_string()),
        Ok(count) => Ok(count),
        Err(_) => Err(format!("`{text}` is not a number (1 or more)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seed_form_and_run_form_parse_alike() {
        let seed = Cli::try_parse_from(["git-dispatch", "--task", "a.md", "--dry-run"]).expect("seed form");
        assert!(seed.command.is_none());
        let run = seed.run.expect("flattened run args");
        assert_eq!(run.tasks, vec![PathBuf::from("a.md")]);
        assert!(run.dry_run);
        let sub = Cli::try_parse_from(["git-dispatch", "run", "--task", "a.md", "b.md", "-j", "2"]).expect("run");
        match sub.command {
            Some(Command::Run(args)) => {
                assert_eq!(args.tasks.len(), 2);
                assert_eq!(args.jobs, Some(2));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
