//! `git dispatch stats`: the runs of this repository added up (see [`crate::stats`]).

use std::io::Write;

use anyhow::Context;

use crate::cli::StatsArgs;
use crate::packet::Mode;
use crate::stats::{self, Filter};

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
        eprintln!("warning: run {} cannot be read: {}", run.run_id, run.problem);
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
