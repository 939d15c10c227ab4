//! The human-facing files of a run folder: `result.md` (verdict first), and the records
//! `changes.json` and `run.json`. Every string in `result.md` that came from the agent or the
//! worktree is escaped ([`crate::escape`]): a control sequence in a path or in the summary shows
//! as text in a terminal or a viewer, never as a command to it.

use serde::{Deserialize, Serialize};

use crate::changes::Change;
use crate::policy::Verdict;

/// One entry of `changes.json`: a change and its scope verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeRecord {
    pub path: String,
    pub status: crate::changes::ChangeStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    pub in_scope: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_after: Option<String>,
}

impl ChangeRecord {
    pub fn new(change: &Change, in_scope: bool) -> ChangeRecord {
        ChangeRecord {
            path: change.path.clone(),
            status: change.status,
            old_path: change.old_path.clone(),
            in_scope,
            mode_before: change.mode_before.clone(),
            mode_after: change.mode_after.clone(),
        }
    }
}

/// `changes.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ChangesFile {
    pub base: String,
    pub result: String,
    pub changes: Vec<ChangeRecord>,
    pub ignored_written: Vec<String>,
}

/// `run.json`: what ran, where, when, and how long.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub stage: String,
    pub repository: String,
    pub workdir: String,
    pub packet: String,
    pub mode: String,
    pub agent: String,
    pub agent_argv: Vec<String>,
    pub agent_version: Option<String>,
    pub base_commit: Option<String>,
    pub base_includes_uncommitted: bool,
    pub result_commit: Option<String>,
    pub branch: Option<String>,
    pub worktree: Option<String>,
    pub worktree_kept: bool,
    pub warm_start: bool,
    pub pid: u32,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub durations_ms: std::collections::BTreeMap<String, u64>,
    pub token_usage: Option<serde_json::Value>,
    pub sandbox: Option<crate::policy::SandboxRecord>,
    pub exit_code: Option<i32>,
    /// Best of N: the group of attempts, this run's attempt number (from 1) and the group's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Written by `apply` once the run is handed back (as `applied.json`, plus the other runs of
    /// the same hand-back and their order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<serde_json::Value>,
}

fn section(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str(&format!("## {title}\n\n"));
    for item in items {
        out.push_str(&format!("- {}\n", crate::escape::line(item)));
    }
    out.push('\n');
}

fn strings(value: Option<&serde_json::Value>) -> Vec<String> {
    match value {
        Some(serde_json::Value::Array(items)) => items.iter().map(text_of).collect(),
        Some(serde_json::Value::Null) | None => Vec::new(),
        Some(other) => {
            let text = text_of(other);
            if text.is_empty() {
                Vec::new()
            } else {
                vec![text]
            }
        }
    }
}

fn text_of(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `result.md`: the verdict first, then the changed paths with their scope verdict, then what the
/// agent said (its claims are shown as claims), then the policy messages.
pub fn render_result_md(verdict: &Verdict, changes: &[ChangeRecord], result: &serde_json::Value) -> String {
    let status = if verdict.dry_run {
        "DRY RUN (no agent was called)".to_string()
    } else if verdict.blocked {
        "BLOCKED before the agent ran".to_string()
    } else if verdict.policy_violation {
        let label = crate::policy::outcome_label(verdict);
        if label == "violation" {
            "POLICY VIOLATION: nothing is offered".to_string()
        } else {
            format!("{}: nothing is offered", label.to_uppercase())
        }
    } else if verdict.offered {
        "OK: the result is offered (review, then apply)".to_string()
    } else if verdict.mode == "worker" {
        "OK: the worker changed nothing; nothing to offer".to_string()
    } else {
        "OK: nothing to offer".to_string()
    };
    let mut out = format!("# git-dispatch result\n\nVERDICT: {status}\n");
    let result_word = result.get("result").map(text_of).unwrap_or_else(|| "unknown".into());
    out.push_str(&format!("RESULT: {}\n", crate::escape::line(&result_word)));
    out.push_str(&format!(
        "MODE: {}\nOUTCOME: {}\nEXIT CODE: {}\n",
        crate::escape::line(&verdict.mode),
        crate::policy::outcome_label(verdict),
        verdict.exit_code
    ));
    if let Some(branch) = &verdict.branch {
        out.push_str(&format!("BRANCH: {}\n", crate::escape::line(branch)));
    }
    out.push('\n');
    if !verdict.messages.is_empty() {
        section(&mut out, "Policy Messages", &verdict.messages);
    }
    let changed: Vec<String> = changes
        .iter()
        .map(|change| {
            let mark = if change.in_scope { "in scope" } else { "OUT OF SCOPE" };
            let path = match &change.old_path {
                Some(old) => format!("{old} -> {}", change.path),
                None => change.path.clone(),
            };
            format!(
                "`{path}` ({}, {mark})",
                serde_json::to_value(change.status).ok().map(|v| text_of(&v)).unwrap_or_default()
            )
        })
        .collect();
    if changed.is_empty() && !verdict.dry_run && !verdict.blocked {
        out.push_str("## Changed Paths (computed)\n\nnone\n\n");
    }
    section(&mut out, "Changed Paths (computed)", &changed);
    section(&mut out, "Ignored Files Written (not part of the result)", &verdict.ignored_written);
    if let Some(summary) = result.get("summary").map(text_of).filter(|s| !s.is_empty()) {
        out.push_str(&format!("## Summary (the agent's words)\n\n{}\n\n", crate::escape::text(&summary)));
    }
    section(&mut out, "Changed Files (the agent's claim)", &strings(result.get("changed_files")));
    section(&mut out, "Verification Run", &strings(result.get("verification_run")));
    section(&mut out, "Evidence", &strings(result.get("evidence")));
    section(&mut out, "Findings", &strings(result.get("findings")));
    section(&mut out, "Risks", &strings(result.get("risks")));
    section(&mut out, "Next", &strings(result.get("next")));
    out
}
