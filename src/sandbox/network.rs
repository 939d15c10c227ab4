//! The network side of a sandbox plan (see `egress`): which mode a run gets, and what makes it.
//!
//! The mode is the user's choice, else `api` where the sandbox can enforce it (bubblewrap with a
//! network namespace of its own; Landlock ABI 4+), else `allow` with a warning. An explicit
//! `api`, `strict` or `none` that the sandbox cannot enforce is an error. For `api`/`strict` the
//! run's proxy starts here: on a unix socket in a private folder for bubblewrap (the agent's
//! namespace reaches it through the forwarder on 127.0.0.1:[`INSIDE_PORT`]), on 127.0.0.1 for
//! Landlock (the only TCP port the agent may connect to). Every program the plan confines gets
//! the proxy variables, and the proxy runs until [`NetworkPlan::stop`] (or the plan's drop).

use std::ffi::OsString;
use std::path::Path;

use super::Kind;
use crate::egress::{self, AllowList, Counts, NetLog, NetworkChoice, NetworkRequest, Proxy, INSIDE_PORT};
use crate::policy::{NetworkFacts, NetworkRecord};

/// Can `kind` (Landlock with `abi`) keep the agent off the network? Else why not.
pub fn enforceable(kind: Kind, abi: Option<u32>) -> Result<(), String> {
    match (kind, abi) {
        (Kind::Bwrap, _) => super::bwrap::net_usable(),
        (Kind::Landlock, Some(abi)) if abi >= 4 => Ok(()),
        (Kind::Landlock, abi) => Err(format!(
            "Landlock ABI {} cannot restrict TCP connections (ABI 4, Linux 6.7, is needed)",
            abi.unwrap_or(0)
        )),
        (Kind::None, _) => Err("the agent runs without a sandbox".to_string()),
    }
}

/// The mode of one run (and the warning when the default could not be `api`), or why an
/// explicit choice cannot be had.
pub(super) fn decide(
    choice: Option<NetworkChoice>,
    kind: Kind,
    abi: Option<u32>,
) -> Result<(NetworkChoice, Option<String>), super::SandboxError> {
    match (choice, enforceable(kind, abi)) {
        (Some(NetworkChoice::Allow), _) => Ok((NetworkChoice::Allow, None)),
        (Some(choice), Ok(())) => Ok((choice, None)),
        (Some(choice), Err(reason)) => Err(super::SandboxError::NetworkUnenforceable(choice.name(), reason)),
        (None, Ok(())) => Ok((NetworkChoice::Api, None)),
        (None, Err(reason)) => Ok((
            NetworkChoice::Allow,
            Some(format!(
                "WARNING: the agent's network was not restricted (--network allow): {reason}; it could reach any host."
            )),
        )),
    }
}

/// One run's network: its mode and, for `api`/`strict`, its proxy.
#[derive(Default)]
pub struct NetworkPlan {
    pub mode: Option<NetworkChoice>,
    pub warning: Option<String>,
    allowed_hosts: Vec<String>,
    proxy: Option<Proxy>,
    /// The private folder of the proxy's unix socket (bubblewrap).
    socket_dir: Option<tempfile::TempDir>,
    counts: Option<Counts>,
}

impl std::fmt::Debug for NetworkPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkPlan").field("mode", &self.mode).field("allowed_hosts", &self.allowed_hosts).finish()
    }
}

impl NetworkPlan {
    /// Decides the mode for `kind` and starts the proxy it needs; `home` is the agent's private
    /// state folder (its configured base URLs are allowed).
    pub(super) fn start(
        req: &NetworkRequest,
        agent: crate::agent::AgentKind,
        (kind, abi): (Kind, Option<u32>),
        home: &Path,
    ) -> anyhow::Result<NetworkPlan> {
        let (mode, warning) = decide(req.choice, kind, abi)?;
        let mut plan = NetworkPlan { mode: Some(mode), warning, ..NetworkPlan::default() };
        if !mode.proxied() {
            return Ok(plan);
        }
        let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        let mut rules = egress::builtin(agent);
        rules.extend(egress::configured(agent, &var, Some(home)));
        rules.extend(req.allow_hosts.iter().cloned());
        let allow = AllowList::new(rules);
        plan.allowed_hosts = allow.hosts();
        let log = match &req.log {
            Some(path) => NetLog::create(path)?,
            None => NetLog::counting(),
        };
        plan.proxy = Some(if kind == Kind::Bwrap {
            let dir = tempfile::Builder::new()
                .prefix("git-dispatch-net-")
                .tempdir()
                .map_err(|error| anyhow::anyhow!("creating the proxy's folder: {error}"))?;
            let proxy = Proxy::on_unix_socket(&dir.path().join("proxy.sock"), allow, log)?;
            plan.socket_dir = Some(dir);
            proxy
        } else {
            Proxy::on_loopback(allow, log)?
        });
        Ok(plan)
    }

    fn proxy_port(&self) -> Option<u16> {
        match self.proxy.as_ref()?.address() {
            egress::Address::Tcp(address) => Some(address.port()),
            egress::Address::Unix(_) => Some(INSIDE_PORT),
        }
    }

    /// The proxy variables of every confined program (none unless proxied).
    pub(super) fn env(&self) -> Vec<(OsString, OsString)> {
        match self.proxy_port() {
            Some(port) => egress::proxy_env(&format!("http://127.0.0.1:{port}")),
            None => Vec::new(),
        }
    }

    /// bubblewrap: `--unshare-net` before the wrapper's closing `--` (api, strict, none) and the
    /// forwarder after it (api, strict).
    pub(super) fn wrap_bwrap(&self, wrapper: &mut Vec<OsString>) -> anyhow::Result<()> {
        if self.mode.is_none_or(|mode| mode == NetworkChoice::Allow) {
            return Ok(());
        }
        let end = wrapper.len().saturating_sub(1);
        wrapper.insert(end, "--unshare-net".into());
        if let Some(egress::Address::Unix(socket)) = self.proxy.as_ref().map(Proxy::address) {
            wrapper.extend(egress::forwarder_argv(socket, INSIDE_PORT)?);
        }
        Ok(())
    }

    /// Landlock: the options of the confining stage (`--net-restrict`, `--net-connect PORT`).
    pub(super) fn landlock_args(&self) -> Vec<OsString> {
        if self.mode.is_none_or(|mode| mode == NetworkChoice::Allow) {
            return Vec::new();
        }
        let mut args: Vec<OsString> = vec!["--net-restrict".into()];
        if let Some(port) = self.proxy_port() {
            args.extend(["--net-connect".into(), port.to_string().into()]);
        }
        args
    }

    /// `network` for policy.json (the counts once the proxy stopped).
    pub fn record(&self) -> Option<NetworkRecord> {
        let mode = self.mode?;
        let counts = self.counts.clone().unwrap_or_default();
        Some(NetworkRecord {
            mode: mode.name().to_string(),
            allowed_hosts: self.allowed_hosts.clone(),
            refused: counts.refused,
            allowed: counts.allowed,
        })
    }

    /// Stops the proxy (the run's programs are done) and returns what the verdict needs.
    pub fn stop(&mut self) -> Option<NetworkFacts> {
        let mode = self.mode?;
        if let Some(proxy) = &mut self.proxy {
            self.counts = Some(proxy.stop());
        }
        let counts = self.counts.clone().unwrap_or_default();
        Some(NetworkFacts {
            strict: mode == NetworkChoice::Strict,
            refused: counts.refused,
            refused_targets: counts.refused_targets.into_iter().collect(),
        })
    }
}
