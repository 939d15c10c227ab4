//! The verdict of a run (`policy.json`): pure logic, no I/O.
//!
//! Every field the seed wrote is kept with its name; the new fields follow. A violation is data
//! recorded here, never an `Err`.

use serde::{Deserialize, Serialize};

mod network;
use network::judge_network;
pub use network::{NetworkFacts, NetworkRecord};

/// `policy.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Verdict {
    // The seed's fields.
    pub mode: String,
    pub workdir: String,
    pub write_scope: Vec<String>,
    pub policy_violation: bool,
    pub messages: Vec<String>,
    pub run_dir: String,
    pub dirty_file_count_before: usize,
    pub fingerprint_enabled: bool,
    pub ignored_status_prefixes: Vec<String>,
    pub codex_exit_code: Option<i32>,
    pub watchdog_killed: bool,
    pub watchdog_reason: Option<String>,
    pub out_of_scope_changes: Vec<String>,
    pub dirty_overlap: Vec<String>,
    pub pre_existing_dirty_outside_scope: Vec<String>,
    pub changed_after: Vec<String>,
    pub removed_dirty: Vec<String>,
    pub modified_all: Vec<String>,
    pub out_of_scope_removed: Vec<String>,
    // New fields.
    pub dry_run: bool,
    pub agent: String,
    pub agent_exit_code: Option<i32>,
    pub scope_ok: bool,
    pub exit_code: i32,
    pub offered: bool,
    pub blocked: bool,
    pub base_commit: Option<String>,
    pub result_commit: Option<String>,
    pub branch: Option<String>,
    pub patch_sha256: Option<String>,
    pub changed_paths: Vec<String>,
    pub ignored_written: Vec<String>,
    pub git_dir_tampered: Vec<String>,
    pub main_checkout_changed: Vec<String>,
    pub claims_mismatch: Option<ClaimsMismatch>,
    pub sensitive_changes: Vec<SensitiveChange>,
    pub structured_result_ok: bool,
    pub verification_failed: bool,
    pub interrupted: bool,
    /// `git dispatch cancel` stopped the run; nothing is offered.
    pub cancelled: bool,
    /// `"cancelled"` for a cancelled run (`null` otherwise): the run's result as the orchestrator
    /// asked for it.
    #[serde(default)]
    pub result: Option<String>,
    pub sandbox: Option<SandboxRecord>,
    /// What the agent could reach (`--network`); `null` before the sandbox stage.
    #[serde(default)]
    pub network: Option<NetworkRecord>,
    pub stage: String,
}

/// The agent's `changed_files` against the computed set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsMismatch {
    pub claimed_not_changed: Vec<String>,
    pub changed_not_claimed: Vec<String>,
}

/// A change that is a violation whatever WRITE SCOPE says, unless allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensitiveChange {
    pub path: String,
    pub kind: String,
    pub reason: String,
    pub allowed: bool,
}

/// `sandbox` in policy.json and run.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxRecord {
    pub kind: String,
    pub writable: Vec<String>,
    /// The secrets hidden from the agent (bwrap, Landlock).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
    /// The Landlock ABI the kernel enforced (kind `landlock` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abi: Option<u32>,
}

/// The message of a cancelled run.
pub const CANCELLED_MESSAGE: &str = "CANCELLED: the run was cancelled (git dispatch cancel); nothing is offered.";

/// Marks the verdict cancelled: nothing offered, exit 3.
pub fn mark_cancelled(verdict: &mut Verdict) {
    verdict.cancelled = true;
    verdict.result = Some("cancelled".to_string());
    verdict.offered = false;
    verdict.policy_violation = true;
    verdict.exit_code = verdict.exit_code.max(exit::VIOLATION);
}

/// Exit codes of SPEC §1.
pub mod exit {
    pub const OK: i32 = 0;
    pub const CANNOT_START: i32 = 1;
    pub const BLOCKED: i32 = 2;
    pub const VIOLATION: i32 = 3;
}

/// What the agent run produced, as far as the verdict cares.
#[derive(Debug, Clone, Default)]
pub struct AgentFacts {
    pub exit_code: Option<i32>,
    pub watchdog_killed: bool,
    pub watchdog_reason: Option<String>,
    pub interrupted: bool,
    /// `git dispatch cancel` stopped the agent.
    pub cancelled: bool,
    /// `None` when the structured result was usable, else why not.
    pub result_problem: Option<String>,
    /// The agent's `changed_files`, when it gave a usable result.
    pub claimed: Option<Vec<String>>,
    pub errors: Vec<String>,
}

/// Everything the verdict is decided from.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub mode: crate::packet::Mode,
    pub scope: &'a crate::scope::Scope,
    /// WORKDIR relative to the repository root (`""` at the root), to read the agent's claims.
    pub workdir_in_repo: &'a str,
    pub changes: &'a [crate::changes::Change],
    pub agent: AgentFacts,
    pub git_dir_tampered: Vec<String>,
    /// Loose objects that existed before the run and no longer hold their object (unconfined
    /// runs only); listed in `git_dir_tampered` too, but they cannot be restored.
    pub objects_overwritten: Vec<String>,
    pub main_checkout_changed: Vec<String>,
    pub sensitive: Vec<SensitiveChange>,
    pub verification_failed: Option<bool>,
    /// `None` without a proxy (no refusal can be seen).
    pub network: Option<NetworkFacts>,
}

/// Is a change in scope? A rename needs both of its paths in scope.
pub fn change_in_scope(scope: &crate::scope::Scope, change: &crate::changes::Change) -> bool {
    scope.contains(&change.path) && change.old_path.as_deref().is_none_or(|old| scope.contains(old))
}

/// Decide the verdict: fill `verdict` from `facts`, add one message per violation, set
/// `policy_violation`, `scope_ok`, `offered` and `exit_code`.
pub fn judge(verdict: &mut Verdict, facts: &Facts) {
    let paths: Vec<String> = facts.changes.iter().map(|change| change.path.clone()).collect();
    verdict.changed_paths = paths.clone();
    verdict.changed_after = paths.clone();
    verdict.modified_all = paths;
    verdict.removed_dirty = Vec::new();
    let mut violations = Vec::new();

    judge_agent(verdict, &facts.agent, &mut violations);
    if facts.mode.is_read_only() {
        verdict.scope_ok = facts.changes.is_empty();
        if !verdict.scope_ok {
            verdict.out_of_scope_changes = verdict.changed_paths.clone();
            violations.push(format!("POLICY VIOLATION: {} mode changed working tree.", facts.mode));
        }
    } else {
        let out: Vec<String> = facts
            .changes
            .iter()
            .filter(|change| !change_in_scope(facts.scope, change))
            .map(describe_out_of_scope)
            .collect();
        verdict.scope_ok = out.is_empty();
        if !out.is_empty() {
            violations.push("POLICY VIOLATION: worker changed files outside WRITE SCOPE.".to_string());
        }
        verdict.out_of_scope_removed = facts
            .changes
            .iter()
            .filter(|change| {
                change.status == crate::changes::ChangeStatus::Deleted && !facts.scope.contains(&change.path)
            })
            .map(|change| change.path.clone())
            .collect();
        verdict.out_of_scope_changes = out;
    }
    judge_repository(verdict, facts, &mut violations);
    verdict.claims_mismatch = claims_mismatch(facts);
    if let Some(mismatch) = &verdict.claims_mismatch {
        verdict.messages.push(format!(
            "WARNING: the agent's changed_files do not match the computed change set (claimed, not changed: {}; changed, not claimed: {}).",
            list_or_none(&mismatch.claimed_not_changed),
            list_or_none(&mismatch.changed_not_claimed)
        ));
    }
    verdict.policy_violation = !violations.is_empty();
    verdict.messages.extend(violations);
    verdict.exit_code = if verdict.policy_violation { exit::VIOLATION } else { exit::OK };
    verdict.offered =
        !verdict.policy_violation && facts.mode == crate::packet::Mode::Worker && !facts.changes.is_empty();
    if !verdict.policy_violation && facts.mode == crate::packet::Mode::Worker && facts.changes.is_empty() {
        verdict.messages.push(NOTHING_CHANGED_MESSAGE.to_string());
    }
}

/// The message of a worker run that changed nothing (exit 0, nothing to offer).
pub const NOTHING_CHANGED_MESSAGE: &str = "NOTHING OFFERED: the worker changed nothing.";

/// The message of a run stopped by SIGINT/SIGTERM to git-dispatch.
pub const INTERRUPTED_MESSAGE: &str =
    "FAILED: interrupted: git-dispatch was stopped (SIGINT/SIGTERM) and stopped the agent; nothing is offered.";

/// `timeout` or `heartbeat stall`, from the watchdog's reason.
fn watchdog_kind(reason: &str) -> &'static str {
    if reason.starts_with("heartbeat") {
        "heartbeat stall"
    } else {
        "timeout"
    }
}

/// Whether a policy message says why a run was not offered (rather than being a note or warning).
pub fn is_reason(message: &str) -> bool {
    ["POLICY VIOLATION", "FAILED", "BLOCKED", "ERROR", "CANCELLED", "NOTHING OFFERED"]
        .iter()
        .any(|prefix| message.starts_with(prefix))
}

/// What became of a run, in a few words: `offered`, `violation`, `blocked`, `cancelled`,
/// `failed: timeout`, `failed: heartbeat stall`, `interrupted`, `failed: agent exited N`,
/// `failed: no usable result`, `failed: verification`, `failed: error`, `nothing changed`,
/// `ok, read-only`, `dry run`. A failure is not called a policy violation.
pub fn outcome_label(verdict: &Verdict) -> String {
    let label = if verdict.dry_run {
        "dry run"
    } else if verdict.cancelled {
        "cancelled"
    } else if verdict.blocked {
        "blocked"
    } else if verdict.offered {
        "offered"
    } else if verdict.interrupted {
        "interrupted"
    } else if verdict.watchdog_killed {
        return format!("failed: {}", watchdog_kind(verdict.watchdog_reason.as_deref().unwrap_or_default()));
    } else if verdict.stage.starts_with("failed") || verdict.exit_code == exit::CANNOT_START {
        "failed: error"
    } else if verdict.agent_exit_code.is_some_and(|code| code != 0) {
        return format!("failed: agent exited {}", verdict.agent_exit_code.unwrap_or_default());
    } else if !verdict.structured_result_ok && verdict.agent_exit_code.is_some() {
        "failed: no usable result"
    } else if verdict.verification_failed {
        "failed: verification"
    } else if verdict.policy_violation {
        "violation"
    } else if verdict.mode == "worker" {
        "nothing changed"
    } else {
        "ok, read-only"
    };
    label.to_string()
}

fn describe_out_of_scope(change: &crate::changes::Change) -> String {
    match &change.old_path {
        Some(old) => format!("{old} -> {}", change.path),
        None => change.path.clone(),
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

fn judge_agent(verdict: &mut Verdict, agent: &AgentFacts, violations: &mut Vec<String>) {
    verdict.codex_exit_code = agent.exit_code;
    verdict.agent_exit_code = agent.exit_code;
    verdict.watchdog_killed = agent.watchdog_killed;
    verdict.watchdog_reason = agent.watchdog_reason.clone();
    verdict.interrupted = agent.interrupted;
    verdict.structured_result_ok = agent.result_problem.is_none();
    if agent.cancelled {
        mark_cancelled(verdict);
        violations.push(CANCELLED_MESSAGE.to_string());
    } else if agent.interrupted {
        violations.push(INTERRUPTED_MESSAGE.to_string());
    } else if agent.watchdog_killed {
        let reason = agent.watchdog_reason.as_deref().unwrap_or("watchdog");
        violations.push(format!(
            "FAILED: {}: the watchdog stopped the agent ({reason}); nothing is offered.",
            watchdog_kind(reason)
        ));
    } else if agent.exit_code != Some(0) {
        let code = agent.exit_code.map_or("a signal".to_string(), |code| code.to_string());
        violations.push(format!("FAILED: the agent exited non-zero: {code}"));
    }
    for error in &agent.errors {
        verdict.messages.push(format!("Agent error: {error}"));
    }
    if let Some(problem) = &agent.result_problem {
        violations.push(format!("FAILED: no usable structured result: {problem}"));
    }
}

fn judge_repository(verdict: &mut Verdict, facts: &Facts, violations: &mut Vec<String>) {
    verdict.git_dir_tampered = facts.git_dir_tampered.clone();
    verdict.git_dir_tampered.extend(facts.objects_overwritten.iter().cloned());
    verdict.main_checkout_changed = facts.main_checkout_changed.clone();
    verdict.sensitive_changes = facts.sensitive.clone();
    if !facts.git_dir_tampered.is_empty() {
        violations.push(format!(
            "POLICY VIOLATION: the shared git directory was changed during the run ({}); restored, tampered copies kept in tampered/.",
            facts.git_dir_tampered.join(", ")
        ));
    }
    if !facts.objects_overwritten.is_empty() {
        violations.push(format!(
            "POLICY VIOLATION: loose objects that existed before the run were overwritten ({}); they cannot be restored: remove them and fetch them again, or restore the repository from a backup.",
            facts.objects_overwritten.join(", ")
        ));
    }
    if !facts.main_checkout_changed.is_empty() {
        violations.push(format!(
            "POLICY VIOLATION: your checkout changed during the run ({}).",
            facts.main_checkout_changed.join(", ")
        ));
    }
    let forbidden: Vec<&SensitiveChange> = facts.sensitive.iter().filter(|change| !change.allowed).collect();
    if !forbidden.is_empty() {
        let list: Vec<String> = forbidden.iter().map(|change| format!("{} ({})", change.path, change.kind)).collect();
        violations.push(format!("POLICY VIOLATION: sensitive changes: {}.", list.join(", ")));
    }
    if facts.verification_failed == Some(true) {
        verdict.verification_failed = true;
        violations.push("POLICY VIOLATION: verification failed (see verification.json).".to_string());
    }
    judge_network(verdict, facts.network.as_ref(), violations);
}

/// Compare the agent's claimed `changed_files` with the computed set (claims may be relative to
/// WORKDIR or to the repository, with or without `./`).
fn claims_mismatch(facts: &Facts) -> Option<ClaimsMismatch> {
    let claimed = facts.agent.claimed.as_ref()?;
    let prefix = if facts.workdir_in_repo.is_empty() { String::new() } else { format!("{}/", facts.workdir_in_repo) };
    let changed: std::collections::BTreeSet<&str> = facts
        .changes
        .iter()
        .flat_map(|change| std::iter::once(change.path.as_str()).chain(change.old_path.as_deref()))
        .collect();
    let normalize = |claim: &str| {
        let mut claim = claim.trim();
        while let Some(rest) = claim.strip_prefix("./") {
            claim = rest;
        }
        claim.trim_end_matches('/').to_string()
    };
    let matches = |claim: &str, path: &str| {
        path == claim || path == format!("{prefix}{claim}") || claim.ends_with(&format!("/{path}"))
    };
    let claimed: Vec<String> = claimed.iter().map(|claim| normalize(claim)).filter(|claim| !claim.is_empty()).collect();
    let mut claimed_not_changed: Vec<String> =
        claimed.iter().filter(|claim| !changed.iter().any(|path| matches(claim, path))).cloned().collect();
    let mut changed_not_claimed: Vec<String> = facts
        .changes
        .iter()
        .map(|change| change.path.clone())
        .filter(|path| !claimed.iter().any(|claim| matches(claim, path)))
        .collect();
    claimed_not_changed.sort();
    claimed_not_changed.dedup();
    changed_not_claimed.sort();
    if claimed_not_changed.is_empty() && changed_not_claimed.is_empty() {
        None
    } else {
        Some(ClaimsMismatch { claimed_not_changed, changed_not_claimed })
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
