//! `git dispatch stats`: the runs of this repository added up (see [`crate::stats`]).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::agent::AgentKind;
use crate::packet::Mode;
use crate::stats::{self, Filter};

/// The arguments of `git dispatch stats` (each `///` is its help text).
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The repository (or WORKDIR) whose runs to count [default: the current directory].
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Root folder of the run folders, if runs were written with --output-dir.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Only runs started since: a duration back from now (30m, 12h, 7d, 2w) or a date or time
    /// (2026-01-02, "2026-01-02 15:04", RFC 3339).
    #[arg(long, value_name = "DATE|DURATION")]
    pub since: Option<String>,
    /// Only runs of this agent.
    #[arg(long, value_enum)]
    pub agent: Option<AgentKind>,
    /// Only runs of this mode: worker, verifier, reviewer or synthesizer.
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// One JSON object: runs, offered, applied, violations, duration_s, tokens, by_agent, by_mode,
    /// unreadable.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// One CSV row per run (a header line first).
    #[arg(long)]
    pub csv: bool,
}

pub fn cmd_stats(args: &StatsArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let filter = filter(args)?;
    if let Some(dir) = &args.repo {
        anyhow::ensure!(dir.is_dir(), "-C {}: no such directory", dir.display());
    }
    // A repository that never dispatched has no runs folder yet: that is zero runs.
    let root = match super::runs::runs_root(args.repo.as_deref(), args.output_dir.as_deref()) {
        Ok(root) => root,
        Err(_) => {
            let start = args.repo.clone().map_or_else(std::env::current_dir, Ok).context("the current directory")?;
            start.join(crate::artifacts::RUNS_SUBDIR)
        }
    };
    let stats = stats::collect(&root, &filter)?;
    for run in &stats.unreadable {
        eprintln!(
            "warning: run {} cannot be read: {}",
            crate::escape::line(&run.run_id),
            crate::escape::line(&run.problem)
        );
    }
    if args.json {
        stats::write_json(&stats, stdout)?;
    } else if args.csv {
        stats::write_csv(&stats, stdout)?;
    } else {
        stats::write_table(&stats, stdout)?;
    }
    Ok(0)
}

fn filter(args: &StatsArgs) -> anyhow::Result<Filter> {
    let mode = match &args.mode {
        Some(text) => Some(
            Mode::parse(text)
                .with_context(|| format!("--mode: `{text}` is not a mode (worker, verifier, reviewer, synthesizer)"))?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    Ok(Filter {
        since: args.since.as_deref().map(|text| stats::parse_since(text, chrono::Local::now())).transpose()?,
        agent: args.agent.map(|agent| agent.program_name().to_string()),
        mode,
    })
}
