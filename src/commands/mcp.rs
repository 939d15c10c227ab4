//! `git dispatch mcp`: the MCP server on stdio (see `crate::mcp`); this only turns the command
//! line into the server's configuration.

use anyhow::Context;

use crate::cli::McpArgs;
use crate::mcp::{self, Config};
use crate::pipeline::{self, RunOptions};

pub fn cmd_mcp(args: &McpArgs, stdout: &mut dyn std::io::Write) -> anyhow::Result<i32> {
    let workdir = match &args.repo {
        Some(dir) => std::fs::canonicalize(dir).with_context(|| format!("-C {}: no such folder", dir.display()))?,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let program = std::env::current_exe().context("cannot find the git-dispatch binary")?;
    let options = RunOptions {
        agent: args.agent,
        timeout_sec: args.timeout_sec,
        heartbeat_sec: args.heartbeat_sec,
        quota_gate: args.quota_gate,
        sandbox: args.sandbox,
        live_status: false,
        pool_size: pipeline::pool_size_from_env(std::env::var("GIT_DISPATCH_POOL_SIZE").ok().as_deref())?,
        ..RunOptions::default()
    };
    mcp::serve_stdio(Config { workdir, options, program }, stdout)
}
