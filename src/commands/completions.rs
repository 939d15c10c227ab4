//! `git dispatch completions <shell>` and `git dispatch man`: generated from the clap definition.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn cmd_completions(args: &CompletionsArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let mut command = Cli::command().bin_name("git-dispatch");
    clap_complete::generate(args.shell, &mut command, "git-dispatch", stdout);
    Ok(0)
}

pub fn cmd_man(stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let command = Cli::command().name("git-dispatch");
    clap_mangen::Man::new(command).render(stdout)?;
    Ok(0)
}
