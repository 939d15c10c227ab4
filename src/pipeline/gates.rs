//! What stops a run before its agent: the dirty-overlap check, the quota gate, a failing SETUP
//! command (exit 2, blocked), and an internal error or an interrupt part way (the verdict says
//! where it stopped).

use std::time::Duration;

use super::cancel::Cancelled;
use super::{Interrupted, Run};
use crate::agent::{self, AgentKind};
use crate::policy::{self, exit};
use crate::process::{self, ProcessSpec};
use crate::sandbox::SandboxPlan;

impl Run<'_> {
    /// SETUP commands, in order, in the worktree and in the run's sandbox; the first failure blocks
    /// the run (exit 2).
    pub(super) fn run_setup(&mut self, cwd: &std::path::Path, sandbox: &SandboxPlan) -> anyhow::Result<bool> {
        for command in &self.dispatch.packet.setup {
            let spec = ProcessSpec::new("sh", cwd)
                .arg("-c")
                .arg(command)
                .timeout(Duration::from_secs(self.dispatch.timeout_sec));
            let mut spec = self.marker_env().into_iter().fold(spec, |spec, (key, value)| spec.env(key, value));
            spec.cancel = Some(self.cancel.clone());
            let spec = sandbox.confine(spec);
            let captured = process::run_captured(&spec)?;
            match captured.outcome.killed {
                Some(process::KillReason::Interrupted) => return Err(Interrupted.into()),
                Some(process::KillReason::Cancelled) => return Err(Cancelled.into()),
                _ => {}
            }
            if !captured.outcome.success() {
                let tail = String::from_utf8_lossy(&captured.stderr).lines().last().unwrap_or_default().to_string();
                self.block(format!(
                    "BLOCKED: SETUP command `{command}` failed ({:?}): {tail}",
                    captured.outcome.exit_code
                ));
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(super) fn blocked_by_dirty_overlap(&mut self, dirty: &[String]) -> bool {
        if self.dispatch.packet.mode.is_read_only() || dirty.is_empty() {
            return false;
        }
        let (inside, outside): (Vec<String>, Vec<String>) =
            dirty.iter().cloned().partition(|path| self.dispatch.scope.contains(path));
        self.verdict.pre_existing_dirty_outside_scope = outside;
        if inside.is_empty() || self.dispatch.allow_dirty_overlap {
            return false;
        }
        self.block(format!(
            "BLOCKED: write scope overlaps uncommitted changes in: {}. Re-run with --allow-dirty-overlap only if the orchestrator accepts this risk.",
            inside.join(", ")
        ));
        self.verdict.dirty_overlap = inside;
        true
    }

    pub(super) fn blocked_by_quota(&mut self) -> bool {
        if self.dispatch.agent != AgentKind::Codex || self.dispatch.skip_quota {
            return false;
        }
        match agent::check_quota(self.options.quota_gate) {
            agent::QuotaVerdict::Over { used_percent, reset_after_seconds } if !self.options.force => {
                let reset = reset_after_seconds.map(|s| format!("; resets in {s} s")).unwrap_or_default();
                self.block(format!(
                    "BLOCKED: Codex 5-hour usage is {used_percent:.1}%, at or above the quota gate of {}%{reset}. Pass --force to dispatch anyway.",
                    self.options.quota_gate
                ));
                true
            }
            agent::QuotaVerdict::Over { used_percent, .. } => {
                self.verdict.messages.push(format!("Quota gate overridden with --force at {used_percent:.1}% usage."));
                false
            }
            agent::QuotaVerdict::Skipped { reason, asked } => {
                // Without a login there is no gate to check; a login whose endpoint did not answer
                // is worth a word (the run goes on unchecked).
                if asked && !self.options.quiet {
                    eprintln!("warning: quota gate skipped: {reason}");
                }
                self.verdict.messages.push(format!("Quota gate skipped: {reason}"));
                false
            }
            agent::QuotaVerdict::Under { .. } => false,
        }
    }

    pub(super) fn block(&mut self, message: String) {
        self.verdict.blocked = true;
        self.verdict.policy_violation = true;
        self.verdict.exit_code = exit::BLOCKED;
        self.verdict.messages.push(message);
        self.result = serde_json::json!({"result": "blocked", "summary": "Blocked before the agent ran.", "risks": self.verdict.messages});
    }

    /// An internal error part way: the run folder says where it stopped; nothing is offered.
    pub(super) fn fail(&mut self, err: &anyhow::Error) {
        let stage = self.record.stage.clone();
        self.verdict.policy_violation = true;
        self.verdict.offered = false;
        if err.downcast_ref::<Cancelled>().is_some() {
            policy::mark_cancelled(&mut self.verdict);
            self.verdict.messages.push(format!("{} (at stage {stage})", policy::CANCELLED_MESSAGE));
            self.verdict.stage = format!("failed at {stage}");
            self.record.stage = self.verdict.stage.clone();
            return;
        }
        if err.downcast_ref::<Interrupted>().is_some() {
            self.verdict.interrupted = true;
            self.verdict.exit_code = exit::VIOLATION;
            self.verdict.messages.push(format!(
                "FAILED: interrupted at stage {stage}: git-dispatch was stopped (SIGINT/SIGTERM); nothing is offered."
            ));
            self.verdict.stage = format!("failed at {stage}");
            self.record.stage = self.verdict.stage.clone();
            return;
        }
        let agent_ran =
            matches!(stage.as_str(), "agent" | "guard-after" | "snapshot" | "changes" | "verify" | "verdict");
        self.verdict.exit_code = if agent_ran { exit::VIOLATION } else { exit::CANNOT_START };
        self.verdict.messages.push(format!("ERROR at stage {stage}: {err:#}"));
        self.verdict.stage = format!("failed at {stage}");
        self.record.stage = self.verdict.stage.clone();
    }
}
