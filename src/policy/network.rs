//! The network part of the verdict: `network` in policy.json, and what the egress proxy's refusals
//! make of a run (a warning, or with `NETWORK: strict` a violation). Pure, like the rest of
//! `policy`.

use serde::{Deserialize, Serialize};

use super::Verdict;

/// `network` in policy.json: the mode, the allow-list of the proxy, and its counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// `allow`, `api`, `strict` or `none`.
    pub mode: String,
    /// `host:port` the agent could reach (`api`, `strict`).
    pub allowed_hosts: Vec<String>,
    /// Connections the proxy refused (see `network.jsonl`).
    pub refused: u64,
    /// Connections the proxy let through.
    #[serde(default)]
    pub allowed: u64,
}

/// What the proxy saw, for the verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkFacts {
    /// `NETWORK: strict`: a refused connection is a violation.
    pub strict: bool,
    pub refused: u64,
    /// The refused targets (`host:port`) and how often.
    pub refused_targets: Vec<(String, u64)>,
}

/// Refused connections: a warning, or with `NETWORK: strict` a violation.
pub(super) fn judge_network(verdict: &mut Verdict, network: Option<&NetworkFacts>, violations: &mut Vec<String>) {
    let Some(network) = network.filter(|network| network.refused > 0) else { return };
    const SHOWN: usize = 10;
    let mut targets: Vec<String> = network
        .refused_targets
        .iter()
        .take(SHOWN)
        .map(|(target, count)| if *count == 1 { target.clone() } else { format!("{target} ({count} times)") })
        .collect();
    if network.refused_targets.len() > SHOWN {
        targets.push(format!("and {} more", network.refused_targets.len() - SHOWN));
    }
    let what = format!(
        "the network policy refused {} connection attempt{} of the agent: {} (see network.jsonl)",
        network.refused,
        if network.refused == 1 { "" } else { "s" },
        targets.join(", ")
    );
    if network.strict {
        violations.push(format!("POLICY VIOLATION: {what}; NETWORK: strict makes that a violation."));
    } else {
        verdict.messages.push(format!("WARNING: {what}."));
    }
}
