//! One run folder read for the statistics: who ran it, when, how it ended (the violation kinds
//! derived from `policy.json`), how long each part took and how many tokens it used (`run.json`).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use crate::agent::TokenUsage;
use crate::handback::RunRecord;
use crate::packet::Mode;
use crate::policy::Verdict;

/// Stages whose time is not git-dispatch's own: the agent, and the user's SETUP and `--verify`
/// commands. Every other stage of `durations_ms` counts as overhead.
const NOT_OVERHEAD: [&str; 3] = ["agent", "setup", "verify"];

/// What the statistics need of one finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFacts {
    pub run_id: String,
    pub started_at: Option<DateTime<FixedOffset>>,
    pub agent: String,
    pub mode: String,
    pub exit_code: i32,
    pub offered: bool,
    pub applied: bool,
    /// The violation kinds of the run, each once, sorted (see [`violation_kinds`]).
    pub violations: Vec<String>,
    /// The agent stage in milliseconds; `None` when the agent did not run.
    pub agent_ms: Option<u64>,
    /// git-dispatch's own stages in milliseconds (everything but the agent, SETUP and `--verify`).
    pub overhead_ms: Option<u64>,
    /// The agent's tokens; zero when the agent did not run or reported none.
    pub tokens: TokenUsage,
}

/// How a run folder was read.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    Finished(Box<RunFacts>),
    /// `--dry-run`: no agent, no worktree (not counted as a run).
    DryRun,
    /// Its stage is neither `done` nor `failed at ...`: still running, or its process died.
    Unfinished {
        stage: String,
    },
    /// A file the statistics need is missing or damaged.
    Unreadable {
        problem: String,
    },
}

/// The fields of `run.json` the statistics read; missing ones take their default.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RunJson {
    agent: String,
    mode: String,
    started_at: Option<String>,
    durations_ms: BTreeMap<String, u64>,
    token_usage: Option<TokenUsage>,
}

/// Reads the run folder of `run` (already loaded by [`crate::handback::list_runs`]).
pub fn read(run: &RunRecord) -> Read {
    if let Some(problem) = &run.problem {
        return Read::Unreadable { problem: problem.clone() };
    }
    let policy = &run.policy;
    if policy.dry_run {
        return Read::DryRun;
    }
    if policy.stage != "done" && !policy.stage.starts_with("failed") {
        return Read::Unfinished { stage: policy.stage.clone() };
    }
    let record = match read_run_json(run) {
        Ok(record) => record,
        Err(problem) => return Read::Unreadable { problem },
    };
    Read::Finished(Box::new(facts(run, record)))
}

fn read_run_json(run: &RunRecord) -> Result<RunJson, String> {
    let path = run.file("run.json");
    let bytes = std::fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|err| format!("{} is not a valid run record: {err}", path.display()))
}

fn facts(run: &RunRecord, record: RunJson) -> RunFacts {
    let policy = &run.policy;
    let started_at =
        record.started_at.as_deref().and_then(|text| DateTime::parse_from_rfc3339(text).ok()).or_else(|| {
            run.started
                .and_then(|naive| naive.and_local_timezone(chrono::Local).earliest())
                .map(|time| time.fixed_offset())
        });
    let agent_ms = record.durations_ms.get("agent").copied();
    let overhead: Vec<u64> = record
        .durations_ms
        .iter()
        .filter(|(stage, _)| !NOT_OVERHEAD.contains(&stage.as_str()))
        .map(|(_, ms)| *ms)
        .collect();
    RunFacts {
        run_id: run.id.clone(),
        started_at,
        agent: if record.agent.is_empty() { policy.agent.clone() } else { record.agent },
        mode: if record.mode.is_empty() { policy.mode.clone() } else { record.mode },
        exit_code: policy.exit_code,
        offered: policy.offered,
        applied: run.applied.is_some(),
        violations: violation_kinds(policy, agent_ms.is_some()),
        agent_ms,
        overhead_ms: (!overhead.is_empty()).then(|| overhead.iter().sum()),
        tokens: record.token_usage.unwrap_or_default(),
    }
}

/// The kinds of violation (and block, and failure) recorded in `policy`, each once, sorted:
/// `out_of_scope`, `read_only_wrote`, `sensitive:<kind>`, `git_dir_tampered`, `checkout_changed`,
/// `watchdog`, `interrupted`, `cancelled`, `agent_exit`, `no_result` (the last two only for an
/// agent that ended by itself), `verification_failed`, `dirty_overlap`,
/// `quota_gate`, `setup_failed`, `error` (an internal error part way), and `other` for a violation
/// none of these explains. `agent_ran`: the agent stage completed (it has a duration).
pub fn violation_kinds(policy: &Verdict, agent_ran: bool) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    let mut add = |kind: &str, when: bool| {
        if when {
            kinds.push(kind.to_string());
        }
    };
    let read_only = Mode::parse(&policy.mode).is_some_and(Mode::is_read_only);
    add("out_of_scope", !read_only && !policy.out_of_scope_changes.is_empty());
    add("read_only_wrote", read_only && !policy.changed_paths.is_empty());
    add("git_dir_tampered", !policy.git_dir_tampered.is_empty());
    add("checkout_changed", !policy.main_checkout_changed.is_empty());
    add("watchdog", policy.watchdog_killed);
    add("interrupted", policy.interrupted);
    add("cancelled", policy.cancelled);
    // An agent that was stopped has no result and no exit code of its own: the stop is the kind.
    let ended_alone = agent_ran && !policy.watchdog_killed && !policy.interrupted && !policy.cancelled;
    add("agent_exit", ended_alone && policy.agent_exit_code != Some(0));
    add("no_result", ended_alone && !policy.structured_result_ok);
    add("verification_failed", policy.verification_failed);
    add("dirty_overlap", policy.blocked && !policy.dirty_overlap.is_empty());
    let blocked_by = |prefix: &str| policy.blocked && policy.messages.iter().any(|m| m.starts_with(prefix));
    add("quota_gate", blocked_by("BLOCKED: Codex 5-hour usage"));
    add("setup_failed", blocked_by("BLOCKED: SETUP command"));
    add("error", policy.stage.starts_with("failed") && !policy.interrupted && !policy.cancelled);
    for change in policy.sensitive_changes.iter().filter(|change| !change.allowed) {
        kinds.push(format!("sensitive:{}", change.kind));
    }
    if kinds.is_empty() && (policy.policy_violation || policy.exit_code != 0) {
        kinds.push("other".to_string());
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SensitiveChange;

    fn verdict(mode: &str) -> Verdict {
        Verdict { mode: mode.to_string(), stage: "done".to_string(), structured_result_ok: true, ..Verdict::default() }
    }

    #[test]
    fn a_clean_run_has_no_kind() {
        let mut policy = verdict("worker");
        policy.agent_exit_code = Some(0);
        assert_eq!(violation_kinds(&policy, true), Vec::<String>::new());
    }

    #[test]
    fn each_recorded_problem_is_one_kind() {
        let mut policy = verdict("worker");
        policy.policy_violation = true;
        policy.exit_code = 3;
        policy.out_of_scope_changes = vec!["src/a.py".into()];
        policy.watchdog_killed = true;
        policy.agent_exit_code = None;
        policy.structured_result_ok = false;
        policy.sensitive_changes = vec![
            SensitiveChange { path: "l".into(), kind: "symlink".into(), reason: String::new(), allowed: false },
            SensitiveChange { path: "m".into(), kind: "symlink".into(), reason: String::new(), allowed: false },
            SensitiveChange { path: "x".into(), kind: "exec-bit".into(), reason: String::new(), allowed: true },
        ];
        assert_eq!(violation_kinds(&policy, true), ["out_of_scope", "sensitive:symlink", "watchdog"]);
        policy.watchdog_killed = false;
        policy.agent_exit_code = Some(1);
        assert_eq!(violation_kinds(&policy, true), ["agent_exit", "no_result", "out_of_scope", "sensitive:symlink"]);
        policy.cancelled = true;
        assert_eq!(violation_kinds(&policy, true), ["cancelled", "out_of_scope", "sensitive:symlink"]);
    }

    #[test]
    fn blocks_are_kinds_and_the_agent_facts_do_not_count_before_it_ran() {
        let mut policy = verdict("worker");
        policy.blocked = true;
        policy.policy_violation = true;
        policy.exit_code = 2;
        policy.structured_result_ok = false;
        policy.dirty_overlap = vec!["tests/a.py".into()];
        assert_eq!(violation_kinds(&policy, false), ["dirty_overlap"]);
        policy.dirty_overlap.clear();
        policy.messages = vec!["BLOCKED: SETUP command `false` failed (Some(1)): ".into()];
        assert_eq!(violation_kinds(&policy, false), ["setup_failed"]);
    }

    #[test]
    fn a_read_only_mode_that_wrote_and_an_internal_error() {
        let mut policy = verdict("reviewer");
        policy.changed_paths = vec!["a".into()];
        policy.out_of_scope_changes = vec!["a".into()];
        policy.agent_exit_code = Some(0);
        assert_eq!(violation_kinds(&policy, true), ["read_only_wrote"]);
        let mut failed = verdict("worker");
        failed.stage = "failed at worktree".into();
        failed.exit_code = 1;
        assert_eq!(violation_kinds(&failed, false), ["error"]);
        failed.interrupted = true;
        assert_eq!(violation_kinds(&failed, false), ["interrupted"]);
    }
}
