//! One file per subcommand; each only orchestrates the library modules below it.

pub mod apply;
pub mod cancel;
pub mod clean;
pub mod completions;
pub mod demo;
pub mod doctor;
pub mod list;
pub mod man;
pub mod mcp;
pub mod review;
pub mod run;
pub mod runs;
pub mod stats;
pub mod status;
pub mod wait;

use std::io::Write;

use crate::cli::{Cli, Command};

/// Run the parsed command line; returns the process exit code (SPEC §1).
pub fn execute(cli: Cli, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    match (cli.command, cli.run) {
        (Some(Command::Run(args)), _) | (None, Some(args)) => run::cmd_run(&args, stdout),
        (Some(Command::Review(args)), _) => review::cmd_review(&args, stdout),
        (Some(Command::Show(args)), _) => review::cmd_show(&args, stdout),
        (Some(Command::Apply(args)), _) => apply::cmd_apply(&args, stdout),
        (Some(Command::List(args)), _) => list::cmd_list(&args, stdout),
        (Some(Command::Stats(args)), _) => stats::cmd_stats(&args, stdout),
        (Some(Command::Demo(args)), _) => demo::cmd_demo(&args, stdout),
        (Some(Command::Clean(args)), _) => clean::cmd_clean(&args, stdout),
        (Some(Command::Mcp(args)), _) => mcp::cmd_mcp(&args, stdout),
        (Some(Command::Doctor(args)), _) => doctor::cmd_doctor(&args, stdout),
        (Some(Command::Status(args)), _) => status::cmd_status(&args, stdout),
        (Some(Command::Wait(args)), _) => wait::cmd_wait(&args, stdout),
        (Some(Command::Cancel(args)), _) => cancel::cmd_cancel(&args, stdout),
        (Some(Command::Supervise(args)), _) => crate::jobs::supervise(&args.request),
        (Some(Command::Completions(args)), _) => completions::cmd_completions(&args, stdout),
        (Some(Command::Man), _) => man::cmd_man(stdout),
        (None, None) => anyhow::bail!("nothing to do: give --task PACKET, or a command (see --help)"),
    }
}
