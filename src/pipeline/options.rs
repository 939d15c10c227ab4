//! The settings of a dispatch that do not come from the packet: what the command line (or an MCP
//! call, or a detached supervisor reading them back) asks for. Serializable, so that a detached run
//! is driven by exactly the options its caller checked.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::agent::AgentKind;
use crate::sandbox;

/// Default hard timeout of an agent run, in seconds (the seed's).
pub const DEFAULT_TIMEOUT_SEC: u64 = 1800;
/// Default heartbeat (longest silence on the agent's stdout), in seconds (the seed's).
pub const DEFAULT_HEARTBEAT_SEC: u64 = 300;
/// Default quota gate, in percent of the 5-hour window (the seed's).
pub const DEFAULT_QUOTA_GATE: f64 = 85.0;
/// Default number of idle worktrees kept per repository.
pub const DEFAULT_POOL_SIZE: usize = 2;
/// Default limit of one file of a result, in bytes (50 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = crate::workspace::DEFAULT_MAX_FILE_SIZE;
/// Default limit of the new content of a result, in bytes (500 MiB).
pub const DEFAULT_MAX_CHANGE_SIZE: u64 = 500 * 1024 * 1024;

/// Everything a dispatch takes besides its packet. Values here win over the packet's own fields
/// (`AGENT`, `BASE`, `TIMEOUT SEC`, ...), which win over the built-in defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunOptions {
    /// Root folder for run folders (`--output-dir`), else `<WORKDIR>/.codex-dispatch/runs`.
    pub output_dir: Option<PathBuf>,
    pub allow_dirty_overlap: bool,
    pub timeout_sec: Option<u64>,
    pub heartbeat_sec: Option<u64>,
    pub quota_gate: f64,
    /// Dispatch even when over the quota gate.
    pub force: bool,
    pub agent: Option<AgentKind>,
    pub base: Option<String>,
    pub keep_worktree: bool,
    /// A new worktree instead of one from the warm pool.
    pub fresh: bool,
    pub verify: bool,
    /// Draw the live status line on stderr (when it is a terminal).
    pub live_status: bool,
    /// No notes on stderr (`-q`): the verdict line, a skipped quota gate.
    pub quiet: bool,
    /// How many dispatches run at once.
    pub jobs: usize,
    pub sandbox: sandbox::Choice,
    /// `--writable` paths, absolute.
    pub writable: Vec<PathBuf>,
    /// `--readable` paths (secrets given back), absolute.
    pub readable: Vec<PathBuf>,
    /// `--allow` kinds, lower-case, checked.
    pub allow: Vec<String>,
    /// Status lines under these prefixes are left out of the status snapshots.
    pub ignore_status_prefix: Vec<String>,
    /// Idle worktrees kept per repository (`GIT_DISPATCH_POOL_SIZE`).
    pub pool_size: usize,
    /// `--max-file-size` in bytes (over the packet's `MAX FILE SIZE`).
    pub max_file_size: Option<u64>,
    /// `--max-change-size` in bytes.
    pub max_change_size: Option<u64>,
    /// `--network` (over the packet's `NETWORK:`); `None`: the packet's, else the default.
    pub network: Option<crate::egress::NetworkChoice>,
    /// `--allow-host` entries, checked (added to the packet's `ALLOW HOSTS:`).
    pub allow_hosts: Vec<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            output_dir: None,
            allow_dirty_overlap: false,
            timeout_sec: None,
            heartbeat_sec: None,
            quota_gate: DEFAULT_QUOTA_GATE,
            force: false,
            agent: None,
            base: None,
            keep_worktree: false,
            fresh: false,
            verify: false,
            live_status: true,
            quiet: false,
            jobs: 1,
            sandbox: sandbox::Choice::Auto,
            writable: Vec::new(),
            readable: Vec::new(),
            allow: Vec::new(),
            ignore_status_prefix: Vec::new(),
            pool_size: DEFAULT_POOL_SIZE,
            max_file_size: None,
            max_change_size: None,
            network: None,
            allow_hosts: Vec::new(),
        }
    }
}

/// `GIT_DISPATCH_POOL_SIZE` as a pool size: unset or empty is the default; anything but a
/// non-negative integer is an error naming the variable.
pub fn pool_size_from_env(value: Option<&str>) -> anyhow::Result<usize> {
    match value.map(str::trim) {
        None | Some("") => Ok(DEFAULT_POOL_SIZE),
        Some(text) => text.parse().map_err(|_| {
            anyhow::anyhow!("GIT_DISPATCH_POOL_SIZE: `{text}` is not a number of worktrees (expected 0, 1, 2, ...)")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_size_is_checked() {
        assert_eq!(pool_size_from_env(None).expect("unset"), DEFAULT_POOL_SIZE);
        assert_eq!(pool_size_from_env(Some("0")).expect("zero"), 0);
        assert_eq!(pool_size_from_env(Some(" 5 ")).expect("five"), 5);
        let err = pool_size_from_env(Some("-1")).expect_err("negative").to_string();
        assert!(err.contains("GIT_DISPATCH_POOL_SIZE"), "{err}");
    }

    #[test]
    fn options_round_trip_through_json() {
        let options = RunOptions { timeout_sec: Some(9), sandbox: sandbox::Choice::None, ..RunOptions::default() };
        let text = serde_json::to_string(&options).expect("serialize");
        let back: RunOptions = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, options);
    }
}
