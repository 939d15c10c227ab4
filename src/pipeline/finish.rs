//! The end of a run: the worktree released (pooled, removed, or kept with `--keep-worktree`; the
//! branch kept only for an offered result), the pre-run audit settled, and the closing artifacts
//! (post-status files, result.md, policy.json, run.json) written whatever happened before.

use anyhow::Context;

use super::{now, span, Run};
use crate::artifacts;
use crate::guard;
use crate::policy::{self, exit};
use crate::process;
use crate::workspace::{self, Release, Workspace, WorkspaceOptions};

impl Run<'_> {
    pub(super) fn release(&mut self, ws: &Workspace, options: &WorkspaceOptions, offered: bool, failed: bool) {
        if self.options.keep_worktree {
            self.record.worktree_kept = true;
            return;
        }
        if let Some(journal) = &mut self.journal {
            if let Err(err) = journal.keep_branch(offered) {
                self.verdict.messages.push(format!("WARNING: {err:#}"));
            }
        }
        let branch = if offered { Release::KeepBranch } else { Release::DeleteBranch };
        // A run that violated policy or failed part way may have planted things the pool would keep
        // (nested repositories, hard links in ignored files): its worktree is removed, never pooled.
        let options = if self.verdict.policy_violation || failed {
            &WorkspaceOptions { pool_size: 0, ..options.clone() }
        } else {
            options
        };
        let released = match self.worktree_at {
            Some(snapshot) => workspace::release_snapshotted(ws, snapshot, branch, options),
            None => workspace::release(ws, branch, options),
        };
        if let Err(err) = released {
            self.verdict
                .messages
                .push(format!("WARNING: could not release the worktree {}: {err:#}", ws.path.display()));
        }
        if !offered {
            self.verdict.branch = None;
        }
    }

    /// The short status without the lines of paths under `--ignore-status-prefix`.
    pub(super) fn filter_status(&self, status: &str) -> String {
        let prefixes = &self.options.ignore_status_prefix;
        if prefixes.is_empty() {
            return status.to_string();
        }
        let kept: Vec<&str> = status
            .lines()
            .filter(|line| !prefixes.iter().any(|p| line.get(3..).is_some_and(|path| path.starts_with(p.as_str()))))
            .collect();
        kept.iter().map(|line| format!("{line}\n")).collect()
    }

    pub(super) fn guard_scope(&self) -> anyhow::Result<guard::GuardScope> {
        let repo = gix::open(&self.dispatch.repo_root).context("cannot open the repository")?;
        let options = self.workspace_options();
        Ok(guard::GuardScope {
            common_dir: self.dispatch.common_dir.clone(),
            user_root: self.dispatch.repo_root.clone(),
            user_git_dir: std::fs::canonicalize(repo.git_dir()).unwrap_or_else(|_| repo.git_dir().to_path_buf()),
            own_worktrees_root: workspace::worktrees_root(&options)?,
        })
    }

    /// Waits for the checkout's fingerprint and audit taken before the run (if still pending) and
    /// writes `pre-status.txt` and `pre-diff-stat.txt` from the audit.
    pub(super) fn settle_before(&mut self) -> anyhow::Result<Option<guard::CheckoutFingerprint>> {
        let Some(pending) = self.checkout_before.take() else { return Ok(None) };
        let (fingerprint, audit) = span("guard-before/wait", || pending.join())?;
        self.run_dir.write("pre-status.txt", self.filter_status(&audit.status_short).as_bytes())?;
        self.run_dir.write("pre-diff-stat.txt", audit.diff_stat.as_bytes())?;
        self.pre_audit = Some(audit);
        Ok(Some(fingerprint))
    }

    /// `result.json` of a cancelled run says so (`"result": "cancelled"`), whatever the agent
    /// wrote before it was stopped.
    fn record_cancelled_result(&mut self) -> anyhow::Result<()> {
        let mut record = crate::agent::blocked_record("the run was cancelled (git dispatch cancel)");
        record["result"] = serde_json::json!("cancelled");
        self.run_dir.write_json("result.json", &record)?;
        self.result = record;
        Ok(())
    }

    /// Write the closing artifacts: post-status files, result.md, policy.json, run.json.
    pub(super) fn finish(&mut self) -> anyhow::Result<()> {
        let failed = self.verdict.stage.starts_with("failed").then(|| self.verdict.stage.clone());
        if process::interrupted() && !self.verdict.interrupted {
            self.verdict.interrupted = true;
            self.verdict.offered = false;
            self.verdict.policy_violation = true;
            self.verdict.exit_code = self.verdict.exit_code.max(exit::VIOLATION);
            self.verdict.messages.push(policy::INTERRUPTED_MESSAGE.to_string());
        }
        if self.cancel.is_cancelled() && !self.verdict.cancelled {
            policy::mark_cancelled(&mut self.verdict);
            self.verdict.messages.push(policy::CANCELLED_MESSAGE.to_string());
        }
        if self.verdict.cancelled {
            self.record_cancelled_result()?;
        }
        let _ = self.stage_unchecked("artifacts");
        // A run that stopped while the checkout was being read before it still gets its pre-* files.
        let _ = self.settle_before();
        if let Some(failed) = failed {
            self.verdict.stage = failed.clone();
            self.record.stage = failed;
        }
        let audit = match self.post_audit.take() {
            Some(unchanged) => Ok(unchanged),
            None => span("artifacts/audit", || guard::audit(&self.dispatch.repo_root)),
        };
        if let Ok(audit) = audit {
            self.run_dir.write("post-status.txt", self.filter_status(&audit.status_short).as_bytes())?;
            self.run_dir.write("post-diff-stat.txt", audit.diff_stat.as_bytes())?;
            self.run_dir.write("post-diff-name-only.txt", audit.diff_name_only.as_bytes())?;
        }
        if self.result.is_null() {
            self.result = self.run_dir.read_json("result.json").unwrap_or(serde_json::Value::Null);
        }
        if self.verdict.blocked && !self.run_dir.file("result.json").exists() {
            self.run_dir.write_json("result.json", &self.result)?;
        }
        if !self.verdict.stage.starts_with("failed") {
            self.verdict.stage = "done".to_string();
            self.record.stage = "done".to_string();
        }
        self.record.ended_at = Some(now());
        self.record.exit_code = Some(self.verdict.exit_code);
        // The closing stage's own time (all but the three writes below), for `git dispatch stats`.
        self.record.durations_ms.insert("artifacts".to_string(), self.clock.elapsed().as_millis() as u64);
        self.run_dir
            .write("result.md", artifacts::render_result_md(&self.verdict, &self.changes, &self.result).as_bytes())?;
        self.run_dir.write_json("policy.json", &self.verdict)?;
        self.run_dir.write_json("run.json", &self.record)
    }
}
