//! From a packet file and the run options to a [`Dispatch`]: the packet parsed and checked, its
//! repository found, WRITE SCOPE compiled, and every setting settled (options > packet > default).
//! Nothing is created here: a bad packet stops before any run folder exists.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::options::{
    RunOptions, DEFAULT_HEARTBEAT_SEC, DEFAULT_MAX_CHANGE_SIZE, DEFAULT_MAX_FILE_SIZE, DEFAULT_TIMEOUT_SEC,
};
use crate::agent::AgentKind;
use crate::packet::{self, Packet};
use crate::scope::Scope;

/// Everything one dispatch needs, resolved from the options, the packet and the defaults.
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub packet_path: PathBuf,
    pub packet_text: String,
    pub packet: Packet,
    pub scope: Scope,
    /// The user's repository: its worktree root and common git dir.
    pub repo_root: PathBuf,
    pub common_dir: PathBuf,
    /// WORKDIR relative to `repo_root` (`""` at the root), `/`-separated.
    pub workdir_in_repo: String,
    pub agent: AgentKind,
    pub base: Option<String>,
    pub timeout_sec: u64,
    pub heartbeat_sec: u64,
    pub allow_dirty_overlap: bool,
    pub allow: Vec<String>,
    /// The largest file a result may hold, in bytes (larger ones are not read: `oversized`).
    pub max_file_size: u64,
    /// The most new content a result may bring, in bytes.
    pub max_change_size: u64,
    /// `--network`, else `NETWORK:`; `None` is the default (`api` where enforced).
    pub network: Option<crate::egress::NetworkChoice>,
    /// `ALLOW HOSTS:` and `--allow-host`.
    pub allow_hosts: Vec<crate::egress::HostRule>,
    /// The agent program when not located by name (the demo's built-in replay agent).
    pub agent_program: Option<PathBuf>,
    /// Skip the quota gate (the demo never contacts a network endpoint).
    pub skip_quota: bool,
    /// Where worktrees go, over `GIT_DISPATCH_WORKTREES` (the demo keeps them in its own folder).
    pub worktrees_root: Option<PathBuf>,
    /// Best of N: which attempt of which group this dispatch is (None: a plain dispatch).
    pub attempt: Option<super::attempts::Attempt>,
}

/// Load and check one packet, and settle every setting of its dispatch.
pub fn resolve(packet_path: &Path, options: &RunOptions) -> anyhow::Result<Dispatch> {
    resolve_text(packet::read_text(packet_path)?, packet_path, options)
}

/// [`resolve`] for packet text that stands for the file `packet_path` (named in errors, its folder
/// the base of a relative WORKDIR): a detached supervisor re-reads exactly the text its caller
/// checked, the MCP server gets the text in the call.
pub fn resolve_text(packet_text: String, packet_path: &Path, options: &RunOptions) -> anyhow::Result<Dispatch> {
    let packet = packet::from_text(&packet_text, packet_path)?;
    let (repo_root, common_dir) = repository_of(&packet.workdir)?;
    let workdir_in_repo = packet
        .workdir
        .strip_prefix(&repo_root)
        .map(|rel| rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"))
        .unwrap_or_default();
    let scope = Scope::compile(&packet.write_scope)
        .map_err(|err| anyhow::anyhow!("task packet {}: WRITE SCOPE: {err}", packet_path.display()))?
        .within(&workdir_in_repo);
    let mut allow = packet.allow.clone();
    allow.extend(checked_allow_kinds(&options.allow)?);
    let mut allow_hosts = checked_allow_hosts(&packet.allow_hosts)?;
    allow_hosts.extend(checked_allow_hosts(&options.allow_hosts)?);
    Ok(Dispatch {
        packet_path: std::path::absolute(packet_path).unwrap_or_else(|_| packet_path.to_path_buf()),
        agent: options.agent.or(packet.agent).unwrap_or_default(),
        base: options.base.clone().or_else(|| packet.base.clone()),
        timeout_sec: options.timeout_sec.or(packet.timeout_sec).unwrap_or(DEFAULT_TIMEOUT_SEC),
        heartbeat_sec: options.heartbeat_sec.or(packet.heartbeat_sec).unwrap_or(DEFAULT_HEARTBEAT_SEC),
        allow_dirty_overlap: options.allow_dirty_overlap || packet.allow_dirty_overlap,
        allow,
        max_file_size: options.max_file_size.or(packet.max_file_size).unwrap_or(DEFAULT_MAX_FILE_SIZE),
        max_change_size: options.max_change_size.unwrap_or(DEFAULT_MAX_CHANGE_SIZE),
        network: options.network.or(packet.network),
        allow_hosts,
        agent_program: None,
        skip_quota: false,
        worktrees_root: None,
        attempt: None,
        packet_text,
        scope,
        repo_root,
        common_dir,
        workdir_in_repo,
        packet,
    })
}

/// The checkout root and the common git dir of the repository holding `workdir`, canonical.
fn repository_of(workdir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let repo = gix::discover(workdir)
        .with_context(|| format!("WORKDIR {} is not inside a git repository", workdir.display()))?;
    let repo_root = repo
        .workdir()
        .map(Path::to_path_buf)
        .with_context(|| format!("WORKDIR {} is inside a bare repository; expected a checkout", workdir.display()))?;
    let repo_root =
        std::fs::canonicalize(&repo_root).with_context(|| format!("cannot resolve {}", repo_root.display()))?;
    let common_dir = std::fs::canonicalize(repo.common_dir())
        .with_context(|| format!("cannot resolve {}", repo.common_dir().display()))?;
    Ok((repo_root, common_dir))
}

/// `--allow` kinds lower-cased; an unknown kind is an error naming it and the known ones.
pub fn checked_allow_kinds(kinds: &[String]) -> anyhow::Result<Vec<String>> {
    kinds
        .iter()
        .map(|kind| {
            let kind = kind.to_ascii_lowercase();
            if packet::ALLOW_KINDS.contains(&kind.as_str()) {
                Ok(kind)
            } else {
                anyhow::bail!("--allow: unknown kind `{kind}`; expected one of {}", packet::ALLOW_KINDS.join(", "))
            }
        })
        .collect()
}

/// `--allow-host` entries (`HOST[:PORT]`) as rules; a bad one is an error naming it.
pub fn checked_allow_hosts(hosts: &[String]) -> anyhow::Result<Vec<crate::egress::HostRule>> {
    hosts
        .iter()
        .map(|host| crate::egress::HostRule::parse(host).map_err(|message| anyhow::anyhow!("--allow-host: {message}")))
        .collect()
}
