//! The arguments of the MCP tools: what each tool accepts (serde, with the JSON Schema a client is
//! shown) and the checks that types cannot say (one packet source, the bound of a wait). A wrong
//! type or an unknown field is refused before a tool runs (a JSON-RPC "invalid params" error).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::schemars::JsonSchema;
use serde::Deserialize;

use crate::agent::AgentKind;
use crate::sandbox;

/// `wait`'s bound when the call gives none, in seconds.
pub const DEFAULT_WAIT_SEC: f64 = 50.0;
/// The longest one `wait` (or `cancel`) call blocks, in seconds: under the 60 s request timeout
/// of the common MCP clients (the TypeScript SDK's default, Codex's `tool_timeout_sec`).
pub const MAX_WAIT_SEC: f64 = 55.0;
/// `cancel`'s wait for each run to stop when the call gives none, in seconds.
pub const DEFAULT_CANCEL_WAIT_SEC: f64 = 30.0;

/// The agent CLI (`--agent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(crate = "rmcp::schemars", inline)]
pub enum AgentArg {
    Codex,
    Claude,
}

impl From<AgentArg> for AgentKind {
    fn from(agent: AgentArg) -> AgentKind {
        match agent {
            AgentArg::Codex => AgentKind::Codex,
            AgentArg::Claude => AgentKind::Claude,
        }
    }
}

/// The agent's confinement (`--sandbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(crate = "rmcp::schemars", inline)]
pub enum SandboxArg {
    Auto,
    Bwrap,
    Landlock,
    None,
}

impl From<SandboxArg> for sandbox::Choice {
    fn from(choice: SandboxArg) -> sandbox::Choice {
        match choice {
            SandboxArg::Auto => sandbox::Choice::Auto,
            SandboxArg::Bwrap => sandbox::Choice::Bwrap,
            SandboxArg::Landlock => sandbox::Choice::Landlock,
            SandboxArg::None => sandbox::Choice::None,
        }
    }
}

/// `dispatch`: one task packet, from a file or as text, and the options of `git dispatch run`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct DispatchArgs {
    /// Path of a task packet file (Markdown); a relative path is taken from `workdir`.
    pub packet_path: Option<String>,
    #[doc = "The task packet as Markdown text (instead of `packet_path`); a relative WORKDIR is taken from `workdir`."]
    pub packet: Option<String>,
    /// The repository (or a folder in it) to work in [default: the server's working directory].
    pub workdir: Option<String>,
    /// The agent CLI to run [default: the packet's AGENT, else codex].
    pub agent: Option<AgentArg>,
    #[doc = "Base revision of the run's worktree, used as it is [default: HEAD plus the user's uncommitted changes]."]
    pub base: Option<String>,
    /// Hard timeout of the agent in seconds [default: the packet's TIMEOUT SEC, else 1800].
    pub timeout_sec: Option<u64>,
    /// Run the packet's VERIFICATION commands in the result; a failure means nothing is offered.
    #[serde(default)]
    pub verify: bool,
    /// Confinement of the agent process (Linux) [default: the server's, normally auto].
    pub sandbox: Option<SandboxArg>,
    /// Kinds of sensitive change to allow: symlink, submodule, gitattributes, exec-bit.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// Where a `dispatch` call's packet comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketSource {
    /// A file, absolute.
    File(PathBuf),
    /// Text given in the call.
    Text(String),
}

impl DispatchArgs {
    /// The packet's source: exactly one of `packet_path` and `packet`; a path is taken from
    /// `workdir`.
    pub fn source(&self, workdir: &Path) -> anyhow::Result<PacketSource> {
        match (&self.packet_path, &self.packet) {
            (Some(path), None) => Ok(PacketSource::File(workdir.join(path))),
            (None, Some(text)) => Ok(PacketSource::Text(text.clone())),
            (Some(_), Some(_)) => anyhow::bail!("give either `packet_path` or `packet`, not both"),
            (None, None) => {
                anyhow::bail!("give the task packet: `packet_path` (a file) or `packet` (its Markdown text)")
            }
        }
    }
}

/// `status`: one run, or the runs still going (else the newest).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct StatusArgs {
    #[doc = "Run id, a unique prefix of one, or a run folder [default: the runs still going, else the newest]."]
    pub run_id: Option<String>,
    /// The repository whose runs to look at [default: the server's working directory].
    pub workdir: Option<String>,
}

/// `wait`: runs and the bound of this call.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct WaitArgs {
    #[doc = "Run ids, unique prefixes or run folders [default: the runs still going, else the newest]."]
    #[serde(default)]
    pub run_ids: Vec<String>,
    /// Seconds this call may block [default: 50; at most 55].
    pub timeout_sec: Option<f64>,
    /// Return when the first of the runs is over.
    #[serde(default)]
    pub any: bool,
    /// The repository whose runs to look at [default: the server's working directory].
    pub workdir: Option<String>,
}

impl WaitArgs {
    /// This call's bound: the default when none is given, at most [`MAX_WAIT_SEC`].
    pub fn timeout(&self) -> anyhow::Result<Duration> {
        bounded_seconds("timeout_sec", self.timeout_sec, DEFAULT_WAIT_SEC)
    }
}

/// `review`: one run.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ReviewArgs {
    /// Run id (or a unique prefix of one) [default: the newest run].
    pub run_id: Option<String>,
    /// The repository whose runs to look at [default: the server's working directory].
    pub workdir: Option<String>,
}

/// `apply`: one run, named (never "the newest": applying is the one step that writes).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ApplyArgs {
    /// Run id (or a unique prefix of one) of an offered run.
    pub run_id: String,
    /// Merge the run's scratch branch into the current branch instead of applying the patch.
    #[serde(default)]
    pub merge: bool,
    /// The repository whose runs to look at [default: the server's working directory].
    pub workdir: Option<String>,
}

/// `cancel`: runs named, or all that are going.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct CancelArgs {
    /// Run ids (or unique prefixes, or run folder paths) to cancel.
    #[serde(default)]
    pub run_ids: Vec<String>,
    /// Cancel every queued or running run of the repository (instead of run_ids).
    #[serde(default)]
    pub all: bool,
    /// Seconds to wait for each run to stop [default: 30; at most 55].
    pub wait_sec: Option<f64>,
    /// The repository whose runs to look at [default: the server's working directory].
    pub workdir: Option<String>,
}

impl CancelArgs {
    /// Which runs: the named ones, or (`all`) every one still going; one of the two.
    pub fn check(&self) -> anyhow::Result<()> {
        match (self.run_ids.is_empty(), self.all) {
            (true, false) => anyhow::bail!("name the runs to cancel in `run_ids`, or give `all: true`"),
            (false, true) => anyhow::bail!("give either `run_ids` or `all: true`, not both"),
            _ => Ok(()),
        }
    }

    /// How long to wait for each run to stop.
    pub fn wait_for(&self) -> anyhow::Result<Duration> {
        bounded_seconds("wait_sec", self.wait_sec, DEFAULT_CANCEL_WAIT_SEC)
    }
}

/// `list`: the runs of a repository.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(crate = "rmcp::schemars")]
pub struct ListArgs {
    /// At most this many runs, newest first [default: 20].
    pub limit: Option<usize>,
    /// The repository whose runs to list [default: the server's working directory].
    pub workdir: Option<String>,
}

/// Seconds given as `name` (0 or more), `default` when absent, at most [`MAX_WAIT_SEC`].
fn bounded_seconds(name: &str, given: Option<f64>, default: f64) -> anyhow::Result<Duration> {
    let seconds = given.unwrap_or(default);
    if !(seconds.is_finite() && seconds >= 0.0) {
        anyhow::bail!("{name}: expected a number of seconds (0 or more), not {seconds}");
    }
    Ok(Duration::from_secs_f64(seconds.min(MAX_WAIT_SEC)))
}

/// The working folder of a call: its `workdir` (taken from the server's when relative), else the
/// server's.
pub fn workdir_of(given: Option<&str>, server_workdir: &Path) -> PathBuf {
    match given {
        Some(dir) if !dir.is_empty() => server_workdir.join(dir),
        _ => server_workdir.to_path_buf(),
    }
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;

/// Whether `arguments` fit the tool `name`'s arguments (wrong types, unknown fields): checked on
/// the wire, before the call reaches rmcp, so that they are a JSON-RPC error ("Invalid params"), as
/// unknown tools are. `Ok` for a tool this server does not have (rmcp refuses it).
pub fn check_arguments(name: &str, arguments: &serde_json::Value) -> Result<(), String> {
    fn fits<T: serde::de::DeserializeOwned>(arguments: &serde_json::Value) -> Result<(), String> {
        serde_json::from_value::<T>(arguments.clone()).map(|_| ()).map_err(|err| err.to_string())
    }
    let arguments = if arguments.is_null() { &serde_json::Value::Object(Default::default()) } else { arguments };
    match name {
        "dispatch" => fits::<DispatchArgs>(arguments),
        "status" => fits::<StatusArgs>(arguments),
        "wait" => fits::<WaitArgs>(arguments),
        "review" => fits::<ReviewArgs>(arguments),
        "apply" => fits::<ApplyArgs>(arguments),
        "cancel" => fits::<CancelArgs>(arguments),
        "list" => fits::<ListArgs>(arguments),
        _ => Ok(()),
    }
}
