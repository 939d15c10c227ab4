//! Egress control: what a confined agent may reach on the network (`--network`, `NETWORK:`).
//!
//! - `allow`: anything (the agent shares the machine's network).
//! - `api` (the default where the sandbox can enforce it): the agent reaches only the hosts of an
//!   allow-list ([`hosts`]: its CLI's API, the base URLs the user configured, `ALLOW HOSTS:` /
//!   `--allow-host`), through an HTTP proxy git-dispatch runs outside the sandbox ([`Proxy`]: a
//!   CONNECT tunnel, or one plain-HTTP request forwarded), which logs every connection to the run
//!   folder's `network.jsonl` ([`log`]). Under bubblewrap the agent has a network namespace of its
//!   own with only loopback, and reaches the proxy through its unix socket and a forwarder on
//!   127.0.0.1 inside ([`forward`]); under Landlock (ABI 4+) its TCP connections may go to the
//!   proxy's port only, and a seccomp filter refuses UDP and other socket families.
//! - `strict`: `api`, and a refused connection is a policy violation (in `api` it is a warning).
//! - `none`: no network at all (bubblewrap's empty network namespace; Landlock with no TCP port).
//!
//! The proxy parses heads with `httparse` and pumps bytes on std threads; nothing here has an
//! async runtime.

mod forward;
mod hosts;
mod http;
mod log;
mod proxy;
mod pump;
mod session;

use serde::{Deserialize, Serialize};

pub use forward::{forwarder_argv, run_forwarder, FORWARD};
pub use hosts::{builtin, configured, AllowList, HostRule};
pub use log::{Attempt, Counts, NetLog, MAX_LINES};
pub use proxy::{Address, Proxy, MAX_CONNECTIONS};

/// The port the forwarder listens on inside a sandbox's own network namespace (nothing else
/// listens there).
pub const INSIDE_PORT: u16 = 3128;

/// What the user asked for (`--network`, `GIT_DISPATCH_NETWORK`, `NETWORK:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NetworkChoice {
    /// Any host (no restriction)
    Allow,
    /// Only the agent's API hosts and the allow-list, through git-dispatch's proxy
    Api,
    /// Like api, and a refused connection is a policy violation
    Strict,
    /// No network at all
    None,
}

impl NetworkChoice {
    pub const ALL: [NetworkChoice; 4] =
        [NetworkChoice::Allow, NetworkChoice::Api, NetworkChoice::Strict, NetworkChoice::None];

    /// The name recorded in `policy.json`.
    pub fn name(self) -> &'static str {
        match self {
            NetworkChoice::Allow => "allow",
            NetworkChoice::Api => "api",
            NetworkChoice::Strict => "strict",
            NetworkChoice::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<NetworkChoice> {
        NetworkChoice::ALL.into_iter().find(|choice| choice.name().eq_ignore_ascii_case(text.trim()))
    }

    /// Goes through the proxy (`api`, `strict`).
    pub fn proxied(self) -> bool {
        matches!(self, NetworkChoice::Api | NetworkChoice::Strict)
    }
}

/// What a run asks of the network, for the sandbox plan.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    /// `None`: the default (`api` where the sandbox enforces it, else `allow` with a warning).
    pub choice: Option<NetworkChoice>,
    /// `ALLOW HOSTS:` and `--allow-host`, checked.
    pub allow_hosts: Vec<HostRule>,
    /// Where the proxy writes `network.jsonl` (`None`: nowhere, it only counts).
    pub log: Option<std::path::PathBuf>,
}

/// The proxy variables a proxied program gets (`NO_PROXY` cleared), for a proxy at `url`.
pub fn proxy_env(url: &str) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let mut env = Vec::new();
    for name in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"] {
        env.push((name.into(), url.into()));
        env.push((name.to_ascii_lowercase().into(), url.into()));
    }
    env.push(("NO_PROXY".into(), "".into()));
    env.push(("no_proxy".into(), "".into()));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_have_names() {
        for choice in NetworkChoice::ALL {
            assert_eq!(NetworkChoice::parse(choice.name()), Some(choice));
        }
        assert_eq!(NetworkChoice::parse(" API "), Some(NetworkChoice::Api));
        assert_eq!(NetworkChoice::parse("open"), None);
        assert!(NetworkChoice::Strict.proxied() && !NetworkChoice::None.proxied());
    }
}
