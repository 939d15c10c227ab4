//! `review GROUP`: the attempts of a group side by side, ranked. Per attempt: its verdict, its
//! `--verify` results (from `verification.json`), the size of its diff, its changed paths (with
//! their scope marks), and which other attempts agree with it: the same result tree (identical
//! results), or the same changed paths with different content.
//!
//! The rank: offered attempts first; then the ones that stayed in scope; then passed
//! verification, not run, failed; then the lower exit code; then the ones more attempts agree
//! with (same result tree); then the smaller diff; then the attempt number. The best is the first
//! offered attempt: `apply GROUP --pick RUN` takes it.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::group::Group;
use super::overlap::status_word;
use super::review::{load_changes, patch_size};
use super::runs::RunRecord;

/// The comparison of a group's attempts.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub group: String,
    /// Ranked, best first.
    pub attempts: Vec<AttemptLine>,
    /// The run id of the best attempt that can still be applied (none when none can).
    pub best: Option<String>,
    /// The run id of the attempt handed back, if one was.
    pub applied: Option<String>,
}

/// One attempt.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptLine {
    pub rank: usize,
    pub attempt: u32,
    pub run_id: String,
    pub agent: String,
    /// `offered`, `applied`, `superseded`, `violation`, ...
    pub verdict: String,
    pub exit_code: i32,
    pub offered: bool,
    pub scope_ok: bool,
    pub verification: Option<VerificationLine>,
    pub files: usize,
    pub added: u64,
    pub removed: u64,
    /// Changed paths with their scope verdict.
    pub paths: Vec<PathLine>,
    pub result_tree: Option<String>,
    /// Attempt numbers with the very same result tree.
    pub same_result_as: Vec<u32>,
    /// Attempt numbers with the same changed paths but another result.
    pub same_paths_as: Vec<u32>,
}

/// `verification.json` in short.
#[derive(Debug, Clone, Serialize)]
pub struct VerificationLine {
    pub passed: bool,
    pub commands: usize,
    pub commands_passed: usize,
}

/// One changed path.
#[derive(Debug, Clone, Serialize)]
pub struct PathLine {
    pub path: String,
    pub in_scope: Option<bool>,
}

#[derive(Deserialize)]
struct VerificationFile {
    passed: bool,
    #[serde(default)]
    commands: Vec<CommandPassed>,
}

#[derive(Deserialize)]
struct CommandPassed {
    #[serde(default)]
    passed: bool,
}

/// The comparison of `group`.
pub fn group_report(group: &Group) -> anyhow::Result<GroupReport> {
    let repo =
        group.runs.first().and_then(|run| super::repo_root_of(run).ok()).and_then(|root| gix::discover(root).ok());
    let mut attempts =
        group.runs.iter().map(|run| attempt_line(run, repo.as_ref())).collect::<anyhow::Result<Vec<_>>>()?;
    agree(&mut attempts);
    attempts.sort_by_key(rank_key);
    for (index, attempt) in attempts.iter_mut().enumerate() {
        attempt.rank = index + 1;
    }
    let best = attempts.iter().find(|attempt| attempt.verdict == "offered").map(|attempt| attempt.run_id.clone());
    let applied = group.applied().map(|run| run.id.clone());
    Ok(GroupReport { group: group.id.clone(), attempts, best, applied })
}

fn attempt_line(run: &RunRecord, repo: Option<&gix::Repository>) -> anyhow::Result<AttemptLine> {
    let changes = load_changes(run)?;
    let patch = std::fs::read(run.file("result.patch")).unwrap_or_default();
    let (added, removed) = patch_size(&patch);
    let result_tree = run.policy.result_commit.as_deref().and_then(|id| {
        let id = gix::ObjectId::from_hex(id.as_bytes()).ok()?;
        Some(super::apply::tree_of(repo?, id).ok()?.to_string())
    });
    Ok(AttemptLine {
        rank: 0,
        attempt: run.group.as_ref().map_or(0, |tag| tag.attempt),
        run_id: run.id.clone(),
        agent: run.policy.agent.clone(),
        verdict: status_word(run),
        exit_code: run.policy.exit_code,
        offered: run.policy.offered,
        scope_ok: run.policy.scope_ok && run.policy.out_of_scope_changes.is_empty(),
        verification: verification(run),
        files: changes.len(),
        added,
        removed,
        paths: changes.into_iter().map(|change| PathLine { path: change.path, in_scope: change.in_scope }).collect(),
        result_tree,
        same_result_as: Vec::new(),
        same_paths_as: Vec::new(),
    })
}

fn verification(run: &RunRecord) -> Option<VerificationLine> {
    let file: VerificationFile = serde_json::from_slice(&std::fs::read(run.file("verification.json")).ok()?).ok()?;
    let commands_passed = file.commands.iter().filter(|command| command.passed).count();
    Some(VerificationLine { passed: file.passed, commands: file.commands.len(), commands_passed })
}

/// Fills in which attempts agree with which.
fn agree(attempts: &mut [AttemptLine]) {
    let facts: Vec<(u32, Option<String>, Vec<String>)> = attempts
        .iter()
        .map(|a| (a.attempt, a.result_tree.clone(), a.paths.iter().map(|p| p.path.clone()).collect()))
        .collect();
    for attempt in attempts.iter_mut() {
        let paths: Vec<String> = attempt.paths.iter().map(|p| p.path.clone()).collect();
        for (number, tree, other_paths) in &facts {
            if *number == attempt.attempt || attempt.result_tree.is_none() {
                continue;
            }
            if *tree == attempt.result_tree {
                attempt.same_result_as.push(*number);
            } else if *other_paths == paths {
                attempt.same_paths_as.push(*number);
            }
        }
    }
}

type RankKey = (bool, bool, u8, i32, std::cmp::Reverse<usize>, u64, u32);

fn rank_key(attempt: &AttemptLine) -> RankKey {
    let verified = match &attempt.verification {
        Some(verification) if verification.passed => 0,
        None => 1,
        Some(_) => 2,
    };
    (
        !attempt.offered,
        !attempt.scope_ok,
        verified,
        attempt.exit_code,
        std::cmp::Reverse(attempt.same_result_as.len()),
        attempt.added + attempt.removed,
        attempt.attempt,
    )
}

/// The report as text.
pub fn write_group(report: &GroupReport, out: &mut dyn Write) -> anyhow::Result<()> {
    use crate::escape::line;
    writeln!(out, "group:    {} ({} attempts)", line(&report.group), report.attempts.len())?;
    let width = report.attempts.iter().map(|a| line(&a.run_id).chars().count()).max().unwrap_or(3).max(3);
    let verdicts = report.attempts.iter().map(|a| line(&a.verdict).chars().count()).max().unwrap_or(7).max(7);
    writeln!(
        out,
        "RANK  #   {:<width$}  {:<7}  {:<verdicts$}  {:<12}  {:<16}  AGREES",
        "RUN", "AGENT", "VERDICT", "VERIFY", "DIFF"
    )?;
    for a in &report.attempts {
        let verify = match &a.verification {
            Some(v) => format!("{} {}/{}", if v.passed { "passed" } else { "failed" }, v.commands_passed, v.commands),
            None => "-".to_string(),
        };
        let files = if a.files == 1 { "1 file".to_string() } else { format!("{} files", a.files) };
        let diff = format!("{files} +{} -{}", a.added, a.removed);
        writeln!(
            out,
            "{:<4}  {:<2}  {:<width$}  {:<7}  {:<verdicts$}  {:<12}  {:<16}  {}",
            a.rank,
            a.attempt,
            line(&a.run_id),
            line(&a.agent),
            line(&a.verdict),
            verify,
            diff,
            agreement(a)
        )?;
    }
    writeln!(out, "changed paths:")?;
    for a in &report.attempts {
        let paths: Vec<String> = a.paths.iter().map(|p| format!("{} {}", mark(p.in_scope), line(&p.path))).collect();
        let paths = if paths.is_empty() { "(none)".to_string() } else { paths.join("  ") };
        writeln!(out, "  #{:<2} {paths}", a.attempt)?;
    }
    match (&report.applied, &report.best) {
        (Some(applied), _) => writeln!(out, "applied:  {} (the other attempts are superseded)", line(applied))?,
        (None, Some(best)) => {
            writeln!(out, "best:     {}: git dispatch apply {} --pick {}", line(best), line(&report.group), line(best))?
        }
        (None, None) => writeln!(out, "best:     none: no attempt was offered")?,
    }
    Ok(())
}

fn mark(in_scope: Option<bool>) -> &'static str {
    match in_scope {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "?",
    }
}

/// `same result: 1, 3` / `same paths: 2` / `-`.
fn agreement(attempt: &AttemptLine) -> String {
    let list = |numbers: &[u32]| numbers.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !attempt.same_result_as.is_empty() {
        parts.push(format!("same result: {}", list(&attempt.same_result_as)));
    }
    if !attempt.same_paths_as.is_empty() {
        parts.push(format!("same paths: {}", list(&attempt.same_paths_as)));
    }
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join("; ")
    }
}
