//! One dispatch, end to end: run folder -> guard fingerprint and audit of the user's checkout ->
//! base -> dirty-overlap check -> quota gate -> worktree -> SETUP -> agent -> guard -> snapshot ->
//! changed set and patch -> `--verify` -> verdict -> artifacts -> offer (keep the branch) or not
//! (delete it).
//!
//! The user's checkout is audited (`pre-status.txt` etc.) once, just after the guard's first
//! fingerprint of it; when the guard finds nothing changed after the agent (and no `--verify`
//! command ran since), the closing `post-*` files are that same audit, else a new one. Reading the
//! user's checkout (fingerprints, audit) runs on a thread of its own while the base and the
//! worktree are made, and while the snapshot is taken; the git dir's fingerprints are taken in line
//! (before git-dispatch writes worktree admin files there, and before the snapshot opens it).
//!
//! Every stage is recorded in `run.json` and `policy.json` (`stage`) before it starts, so a run folder
//! left by a crash says where it stopped. Whatever happens after the worktree exists, it is released.
//! Before anything else, [`journal::recover`] undoes what runs whose process is gone left, and this
//! run's journal entry is written (before its branch or worktree exist) and removed at the end.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::run::{create_run_dir, initial_verdict, write_inputs, Dispatch};
use crate::agent::{self, AgentKind, AgentReport, StructuredResult};
use crate::artifacts::{self, ChangeRecord, ChangesFile, RunDir, RunRecord};
use crate::changes::Change;
use crate::cli::{RunArgs, SandboxChoice};
use crate::guard;
use crate::journal::{self, Journal, RUN_MARKER_ENV};
use crate::policy::{self, exit, AgentFacts, Facts, Verdict};
use crate::process::{self, ProcessSpec};
use crate::sandbox;
use crate::workspace::{self, Release, Workspace, WorkspaceOptions};

mod background;
pub(crate) mod timing;
mod verify;

use background::Background;
use timing::span;

/// Ctrl-C (SIGINT/SIGTERM) reached git-dispatch: the pipeline stops at the next stage.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
struct Interrupted;

/// The state of one dispatch while it runs.
struct Run<'a> {
    dispatch: &'a Dispatch,
    args: &'a RunArgs,
    run_dir: RunDir,
    verdict: Verdict,
    record: RunRecord,
    result: serde_json::Value,
    changes: Vec<ChangeRecord>,
    clock: Instant,
    /// The agent stage has started: from here on an interrupt no longer skips the guard.
    agent_ran: bool,
    /// This run's journal entry (written before any branch or worktree exists).
    journal: Option<Journal>,
    /// The user's checkout audited just after the guard's first fingerprint.
    pre_audit: Option<guard::CheckoutAudit>,
    /// The closing audit when it is known without a new pass (the guard found nothing changed).
    post_audit: Option<guard::CheckoutAudit>,
    /// The commit the worktree holds exactly: its snapshot, while nothing has run in it since.
    worktree_at: Option<gix::ObjectId>,
    /// The guard's fingerprint of the user's checkout before the run and the audit right after it,
    /// while they are being taken.
    checkout_before: Option<Background<(guard::CheckoutFingerprint, guard::CheckoutAudit)>>,
}

/// Run one dispatch. Errors before the run folder exists are `Err` (exit 1); after that, the run
/// folder records what happened and the verdict carries the exit code.
pub fn dispatch(dispatch: &Dispatch, args: &RunArgs) -> anyhow::Result<(RunDir, Verdict)> {
    let run_dir = create_run_dir(dispatch, args)?;
    let verdict = initial_verdict(dispatch, &run_dir);
    let record = RunRecord {
        run_id: run_dir.id.clone(),
        repository: dispatch.repo_root.display().to_string(),
        workdir: dispatch.packet.workdir.display().to_string(),
        packet: dispatch.packet_path.display().to_string(),
        mode: dispatch.packet.mode.to_string(),
        agent: dispatch.agent.program_name().to_string(),
        pid: std::process::id(),
        started_at: now(),
        ..RunRecord::default()
    };
    let mut run = Run {
        dispatch,
        args,
        run_dir,
        verdict,
        record,
        result: serde_json::Value::Null,
        changes: Vec::new(),
        clock: Instant::now(),
        journal: None,
        agent_ran: false,
        pre_audit: None,
        post_audit: None,
        worktree_at: None,
        checkout_before: None,
    };
    if let Err(err) = run.execute() {
        run.fail(&err);
    }
    let finished = span("finish", || run.finish());
    run.close_journal();
    finished?;
    Ok((run.run_dir, run.verdict))
}

fn now() -> String {
    chrono::Local::now().to_rfc3339()
}

fn hex(id: gix::ObjectId) -> String {
    id.to_hex().to_string()
}

impl Run<'_> {
    /// Record the stage about to start in run.json and policy.json.
    /// Before the agent has run, an interrupt stops the pipeline here. Once it has run, the
    /// pipeline goes on (the guard must still restore the git dir) and the verdict records it.
    fn stage(&mut self, stage: &str) -> anyhow::Result<()> {
        if process::interrupted() && !self.agent_ran {
            return Err(Interrupted.into());
        }
        self.stage_unchecked(stage)
    }

    /// Record a stage even after an interrupt (the closing artifacts are always written).
    fn stage_unchecked(&mut self, stage: &str) -> anyhow::Result<()> {
        let elapsed = self.clock.elapsed().as_millis() as u64;
        if !self.record.stage.is_empty() {
            self.record.durations_ms.insert(self.record.stage.clone(), elapsed);
        }
        self.clock = Instant::now();
        self.record.stage = stage.to_string();
        self.verdict.stage = stage.to_string();
        span("stage-records", || -> anyhow::Result<()> {
            self.run_dir.write_json("run.json", &self.record)?;
            self.run_dir.write_json("policy.json", &self.verdict)?;
            if let Some(journal) = &mut self.journal {
                journal.stage(stage);
            }
            Ok(())
        })?;
        workspace::pause_point(stage);
        Ok(())
    }

    /// Recovers what runs whose process is gone left (their worktrees, branches, locks, agents),
    /// then writes this run's journal entry. A failed recovery is a warning, not a failure.
    fn open_journal(&mut self) -> anyhow::Result<()> {
        let options = journal::RecoverOptions { workspace: self.workspace_options() };
        match span("inputs/recover", || journal::recover(&self.dispatch.repo_root, &options)) {
            Ok(report) => self.verdict.messages.extend(report.messages()),
            Err(err) => self.verdict.messages.push(format!("WARNING: could not recover crashed runs: {err:#}")),
        }
        let mut journal = span("inputs/journal-begin", || {
            Journal::begin(
                &self.dispatch.repo_root,
                &options.workspace,
                &self.run_dir.id,
                &self.run_dir.path,
                self.args.keep_worktree,
            )
        })?;
        journal.stage(&self.record.stage);
        self.journal = Some(journal);
        Ok(())
    }

    /// Removes the journal entry once everything of the run is released.
    fn close_journal(&mut self) {
        if let Some(journal) = self.journal.take() {
            if let Err(err) = journal.close() {
                self.verdict.messages.push(format!("WARNING: {err:#}"));
            }
        }
    }

    /// The environment marker of this run's child processes (see [`journal::RUN_MARKER_ENV`]).
    fn marker_env(&self) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        self.journal.iter().map(|j| (RUN_MARKER_ENV.into(), j.marker().into())).collect()
    }

    fn workspace_options(&self) -> WorkspaceOptions {
        WorkspaceOptions {
            worktrees_root: self
                .dispatch
                .worktrees_root
                .clone()
                .or_else(|| std::env::var_os("GIT_DISPATCH_WORKTREES").map(PathBuf::from)),
            fresh: self.args.fresh,
            pool_size: std::env::var("GIT_DISPATCH_POOL_SIZE").ok().and_then(|v| v.parse().ok()).unwrap_or(2),
        }
    }

    fn execute(&mut self) -> anyhow::Result<()> {
        self.stage("inputs")?;
        self.open_journal()?;
        span("inputs/write-inputs", || write_inputs(self.dispatch, &self.run_dir))?;

        // The git dir's fingerprint is taken before git-dispatch writes there (worktree admin
        // files). The checkout's, and then the audit, are taken on another thread while the base
        // and the worktree are made, and awaited before anything runs (see `settle_before`).
        self.stage("guard-before")?;
        let guard_scope = span("guard-before/scope", || self.guard_scope())?;
        let git_before = span("guard-before/git-dir", || guard::capture_git_dir(&guard_scope))?;
        let (scope, root) = (guard_scope.clone(), self.dispatch.repo_root.clone());
        self.checkout_before = Some(Background::start("guard-before/checkout-and-audit", move || {
            Ok((guard::capture_checkout(&scope)?, guard::audit(&root)?))
        }));

        self.stage("base")?;
        let base =
            span("base/resolve", || workspace::resolve_base(&self.dispatch.repo_root, self.dispatch.base.as_deref()))?;
        self.verdict.dirty_file_count_before = base.dirty_paths.len();
        self.verdict.base_commit = Some(hex(base.commit));
        self.record.base_commit = Some(hex(base.commit));
        self.record.base_includes_uncommitted = base.includes_uncommitted;
        if self.blocked_by_dirty_overlap(&base.dirty_paths) || self.blocked_by_quota() {
            self.settle_before()?;
            return Ok(());
        }

        self.stage("worktree")?;
        let options = self.workspace_options();
        let mut ws =
            span("worktree/create", || workspace::create(&self.dispatch.repo_root, &self.run_dir.id, &base, &options))?;
        self.record.branch = Some(ws.branch.clone());
        self.record.worktree = Some(ws.path.display().to_string());
        self.record.warm_start = ws.warm;
        self.verdict.branch = Some(ws.branch.clone());
        let recorded = match &mut self.journal {
            Some(journal) => journal.worktree(&ws.path, &ws.name),
            None => Ok(()),
        };
        let outcome = recorded.and_then(|()| self.in_worktree(&mut ws, &guard_scope, git_before));
        let offered = outcome.is_ok() && self.verdict.offered && !process::interrupted();
        span("release", || self.release(&ws, &options, offered, outcome.is_err()));
        outcome
    }

    /// Everything that happens while the worktree exists.
    fn in_worktree(
        &mut self,
        ws: &mut Workspace,
        guard_scope: &guard::GuardScope,
        git_before: guard::GitDirFingerprint,
    ) -> anyhow::Result<()> {
        let checkout_before = self.settle_before()?.context("the checkout's fingerprint is taken once")?;
        let before = guard::Fingerprint::from_parts(git_before, checkout_before);
        let cwd = if self.dispatch.workdir_in_repo.is_empty() {
            ws.path.clone()
        } else {
            ws.path.join(&self.dispatch.workdir_in_repo)
        };
        if !self.dispatch.packet.setup.is_empty() {
            self.stage("setup")?;
            if !self.run_setup(&cwd)? {
                return Ok(());
            }
            // Files SETUP wrote are not the agent's: ignored files count from here on.
            ws.mark_ready()?;
        }
        self.stage("sandbox")?;
        let sandbox = span("sandbox/plan", || sandbox::plan(&self.sandbox_request(ws)?))?;
        self.verdict.sandbox = Some(sandbox.record());
        self.record.sandbox = Some(sandbox.record());
        self.verdict.messages.extend(sandbox.warning.clone());
        self.stage("agent")?;
        self.agent_ran = true;
        let report = span("agent/run", || self.run_agent(ws, &cwd, &sandbox))?;
        self.verdict.messages.extend(sandbox.restore_guarded()?);

        // The git dir is checked (and restored) before the snapshot opens the repository; the
        // checkout, which nothing of the dispatch writes to, while the snapshot is taken.
        self.stage("guard-after")?;
        let git_after = span("guard-after/git-dir", || guard::capture_git_dir(guard_scope))?;
        let git_dir_tampered = guard::compare_git_dir(before.git_dir(), &git_after);
        if !git_dir_tampered.is_empty() {
            guard::restore_git_dir(guard_scope, before.git_dir(), &git_after, &git_dir_tampered, &self.run_dir.path)?;
        }
        let scope = guard_scope.clone();
        let checkout_after = Background::start("guard-after/checkout", move || guard::capture_checkout(&scope));

        self.stage("snapshot")?;
        if self.args.verify {
            // Verification runs in this worktree: it must be exactly the offered result, even
            // where the change journal is blind (a write through a hard link made outside).
            ws.journal = workspace::JournalHandle::off("--verify scans every file");
        }
        let snapshot = span("snapshot/snapshot", || workspace::snapshot(ws))?;
        self.worktree_at = Some(snapshot.result_commit);
        self.verdict.result_commit = Some(hex(snapshot.result_commit));
        self.record.result_commit = Some(hex(snapshot.result_commit));
        self.verdict.ignored_written = snapshot.ignored_written.clone();

        self.stage("changes")?;
        let repo = gix::open(&self.dispatch.common_dir).context("cannot open the repository")?;
        // One tree diff serves both the changed set and the patch.
        let raw = span("changes/raw", || crate::changes::raw_changes(&repo, ws.base_commit, snapshot.result_commit))?;
        let changes = crate::changes::from_raw(&raw);
        let patch = span("changes/patch", || crate::patch::render_raw(&repo, &raw))?;
        self.run_dir.write("result.patch", &patch)?;
        self.verdict.patch_sha256 = Some(format!("{:x}", Sha256::digest(&patch)));
        self.write_changes(ws, &snapshot, &changes)?;
        let sensitive =
            span("changes/sensitive", || sensitive_changes(&repo, ws, &snapshot, &changes, &self.dispatch.allow))?;
        let checkout_after = span("guard-after/wait", || checkout_after.join())?;
        let guard_report = guard::GuardReport {
            git_dir_tampered,
            main_checkout_changed: guard::compare_checkout(before.checkout(), &checkout_after),
        };
        if guard_report.is_clean() {
            // Nothing the status depends on changed since the audit before the run.
            self.post_audit = self.pre_audit.clone();
        }

        let verification_failed = if self.args.verify {
            self.stage("verify")?;
            // The commands run after the guard looked (the closing audit is taken afresh) and in
            // the worktree (which is cleaned before it is pooled).
            self.post_audit = None;
            self.worktree_at = None;
            Some(verify::run_verification(
                &self.dispatch.packet.verification,
                &cwd,
                self.dispatch.timeout_sec,
                &self.run_dir,
                &sandbox,
            )?)
        } else {
            None
        };

        self.stage("verdict")?;
        let facts = Facts {
            mode: self.dispatch.packet.mode,
            scope: &self.dispatch.scope,
            workdir_in_repo: &self.dispatch.workdir_in_repo,
            changes: &changes,
            agent: agent_facts(&report),
            git_dir_tampered: guard_report.git_dir_tampered,
            main_checkout_changed: guard_report.main_checkout_changed,
            sensitive,
            verification_failed,
        };
        policy::judge(&mut self.verdict, &facts);
        Ok(())
    }

    fn write_changes(
        &mut self,
        ws: &Workspace,
        snapshot: &workspace::Snapshot,
        changes: &[Change],
    ) -> anyhow::Result<()> {
        let records: Vec<ChangeRecord> = changes
            .iter()
            .map(|change| {
                let in_scope =
                    !self.dispatch.packet.mode.is_read_only() && policy::change_in_scope(&self.dispatch.scope, change);
                ChangeRecord::new(change, in_scope)
            })
            .collect();
        let file = ChangesFile {
            base: hex(ws.base_commit),
            result: hex(snapshot.result_commit),
            changes: records.clone(),
            ignored_written: snapshot.ignored_written.clone(),
        };
        self.run_dir.write_json("changes.json", &file)?;
        self.changes = records;
        Ok(())
    }

    /// What the sandbox must know: the worktree, the shared git dir, what stays read-only, and
    /// what else the agent may write (`--writable` from the current folder, `WRITABLE:` from WORKDIR).
    fn sandbox_request(&self, ws: &Workspace) -> anyhow::Result<sandbox::SandboxRequest> {
        let home = std::env::var_os("HOME").filter(|home| !home.is_empty()).map(PathBuf::from);
        let mut writable = Vec::new();
        for path in &self.args.writable {
            writable.push(std::path::absolute(path).with_context(|| format!("--writable {}", path.display()))?);
        }
        for text in &self.dispatch.packet.writable {
            writable.push(sandbox::expand_writable(text, home.as_deref(), &self.dispatch.packet.workdir)?);
        }
        let choice = match self.args.sandbox {
            SandboxChoice::Auto => sandbox::Choice::Auto,
            SandboxChoice::Bwrap => sandbox::Choice::Bwrap,
            SandboxChoice::Landlock => sandbox::Choice::Landlock,
            SandboxChoice::None => sandbox::Choice::None,
        };
        let worktrees_root = ws.layout_dir.parent().unwrap_or(&ws.layout_dir).to_path_buf();
        Ok(sandbox::SandboxRequest {
            choice,
            agent: self.dispatch.agent,
            worktree: ws.path.clone(),
            common_dir: ws.common_dir.clone(),
            protected: vec![self.dispatch.repo_root.clone(), worktrees_root, self.run_dir.path.clone()],
            state: sandbox::agent_state_paths(self.dispatch.agent, home.as_deref(), &|name| std::env::var_os(name)),
            writable,
        })
    }

    fn run_agent(
        &mut self,
        ws: &Workspace,
        cwd: &std::path::Path,
        sandbox: &sandbox::SandboxPlan,
    ) -> anyhow::Result<AgentReport> {
        let program = match &self.dispatch.agent_program {
            Some(program) => program.clone(),
            None => agent::locate(self.dispatch.agent)?,
        };
        // The agent's `--version` is remembered in the user's cache folder; a dispatch with its own
        // worktrees folder (the demo) leaves nothing there.
        let version_cache = self.dispatch.worktrees_root.is_none().then(agent::default_version_cache_dir).flatten();
        agent::remember_versions_in(version_cache);
        let prompt = std::fs::read_to_string(self.run_dir.file("prompt.md")).context("cannot read prompt.md")?;
        let request = agent::AgentRequest {
            kind: self.dispatch.agent,
            program,
            cwd,
            worktree: &ws.path,
            prompt: &prompt,
            run_dir: &self.run_dir.path,
            timeout: Duration::from_secs(self.dispatch.timeout_sec),
            heartbeat: Duration::from_secs(self.dispatch.heartbeat_sec),
            quiet: self.args.quiet || self.args.json || self.args.tasks.len() > 1,
            wrapper: sandbox.wrapper.clone(),
            extra_env: sandbox
                .env
                .iter()
                .chain(self.dispatch.agent_env.iter())
                .cloned()
                .chain(self.marker_env())
                .collect(),
            output_dir: sandbox.scratch_dir(),
            confinement: sandbox.confinement.clone(),
        };
        let report = agent::run(&request)?;
        self.record.agent_argv = report.argv.clone();
        self.record.agent_version = report.version.clone();
        self.record.token_usage = serde_json::to_value(report.usage).ok();
        Ok(report)
    }

    /// SETUP commands, in order, in the worktree; the first failure blocks the run (exit 2).
    fn run_setup(&mut self, cwd: &std::path::Path) -> anyhow::Result<bool> {
        for command in &self.dispatch.packet.setup {
            let spec = ProcessSpec::new("sh", cwd)
                .arg("-c")
                .arg(command)
                .timeout(Duration::from_secs(self.dispatch.timeout_sec));
            let spec = self.marker_env().into_iter().fold(spec, |spec, (key, value)| spec.env(key, value));
            let captured = process::run_captured(&spec)?;
            if matches!(captured.outcome.killed, Some(process::KillReason::Interrupted)) {
                return Err(Interrupted.into());
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

    fn blocked_by_dirty_overlap(&mut self, dirty: &[String]) -> bool {
        if self.dispatch.packet.mode.is_read_only() || dirty.is_empty() {
            return false;
        }
        let (inside, outside): (Vec<String>, Vec<String>) =
            dirty.iter().cloned().partition(|path| self.dispatch.scope.contains(path));
        self.verdict.pre_existing_dirty_outside_scope = outside;
        if inside.is_empty() || self.dispatch.allow_dirty_overlap {
            return false;
        }
        self.verdict.dirty_overlap = inside;
        self.block(
            "BLOCKED: write scope overlaps existing dirty files. Re-run with --allow-dirty-overlap only if the orchestrator accepts this risk."
                .to_string(),
        );
        true
    }

    fn blocked_by_quota(&mut self) -> bool {
        if self.dispatch.agent != AgentKind::Codex || self.dispatch.skip_quota {
            return false;
        }
        match agent::check_quota(self.args.quota_gate) {
            agent::QuotaVerdict::Over { used_percent, reset_after_seconds } if !self.args.force => {
                let reset = reset_after_seconds.map(|s| format!("; resets in {s} s")).unwrap_or_default();
                self.block(format!(
                    "BLOCKED: Codex 5-hour usage is {used_percent:.1}%, at or above the quota gate of {}%{reset}. Pass --force to dispatch anyway.",
                    self.args.quota_gate
                ));
                true
            }
            agent::QuotaVerdict::Over { used_percent, .. } => {
                self.verdict.messages.push(format!("Quota gate overridden with --force at {used_percent:.1}% usage."));
                false
            }
            agent::QuotaVerdict::Skipped { reason } => {
                self.verdict.messages.push(format!("Quota gate skipped: {reason}"));
                false
            }
            agent::QuotaVerdict::Under { .. } => false,
        }
    }

    fn block(&mut self, message: String) {
        self.verdict.blocked = true;
        self.verdict.policy_violation = true;
        self.verdict.exit_code = exit::BLOCKED;
        self.verdict.messages.push(message);
        self.result = serde_json::json!({"result": "blocked", "summary": "Blocked before the agent ran.", "risks": self.verdict.messages});
    }

    /// An internal error part way: the run folder says where it stopped; nothing is offered.
    fn fail(&mut self, err: &anyhow::Error) {
        let stage = self.record.stage.clone();
        self.verdict.policy_violation = true;
        self.verdict.offered = false;
        if err.downcast_ref::<Interrupted>().is_some() {
            self.verdict.interrupted = true;
            self.verdict.exit_code = exit::VIOLATION;
            self.verdict
                .messages
                .push(format!("POLICY VIOLATION: the run was interrupted at stage {stage}; nothing is offered."));
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

    fn release(&mut self, ws: &Workspace, options: &WorkspaceOptions, offered: bool, failed: bool) {
        if self.args.keep_worktree {
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
    fn filter_status(&self, status: &str) -> String {
        let prefixes = &self.args.ignore_status_prefix;
        if prefixes.is_empty() {
            return status.to_string();
        }
        let kept: Vec<&str> = status
            .lines()
            .filter(|line| !prefixes.iter().any(|p| line.get(3..).is_some_and(|path| path.starts_with(p.as_str()))))
            .collect();
        kept.iter().map(|line| format!("{line}\n")).collect()
    }

    fn guard_scope(&self) -> anyhow::Result<guard::GuardScope> {
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
    fn settle_before(&mut self) -> anyhow::Result<Option<guard::CheckoutFingerprint>> {
        let Some(pending) = self.checkout_before.take() else { return Ok(None) };
        let (fingerprint, audit) = span("guard-before/wait", || pending.join())?;
        self.run_dir.write("pre-status.txt", self.filter_status(&audit.status_short).as_bytes())?;
        self.run_dir.write("pre-diff-stat.txt", audit.diff_stat.as_bytes())?;
        self.pre_audit = Some(audit);
        Ok(Some(fingerprint))
    }

    /// Write the closing artifacts: post-status files, result.md, policy.json, run.json.
    fn finish(&mut self) -> anyhow::Result<()> {
        let failed = self.verdict.stage.starts_with("failed").then(|| self.verdict.stage.clone());
        if process::interrupted() && !self.verdict.interrupted {
            self.verdict.interrupted = true;
            self.verdict.offered = false;
            self.verdict.policy_violation = true;
            self.verdict.exit_code = self.verdict.exit_code.max(exit::VIOLATION);
            self.verdict.messages.push("POLICY VIOLATION: the run was interrupted; nothing is offered.".to_string());
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
        self.run_dir
            .write("result.md", artifacts::render_result_md(&self.verdict, &self.changes, &self.result).as_bytes())?;
        self.run_dir.write_json("policy.json", &self.verdict)?;
        self.run_dir.write_json("run.json", &self.record)
    }
}

/// The sensitive changes of the result (SPEC §4) and of the ignored files the agent wrote.
fn sensitive_changes(
    repo: &gix::Repository,
    ws: &Workspace,
    snapshot: &workspace::Snapshot,
    changes: &[Change],
    allow: &[String],
) -> anyhow::Result<Vec<policy::SensitiveChange>> {
    let mut found = crate::sensitive::detect(repo, ws.base_commit, snapshot.result_commit, changes, &ws.path, allow)
        .context("checking for sensitive changes")?;
    found.extend(crate::sensitive::detect_ignored(&ws.path, &snapshot.ignored_written));
    if snapshot.dot_git_replaced {
        found.push(policy::SensitiveChange {
            path: ".git".to_string(),
            kind: "git-path".to_string(),
            reason: "the agent replaced the worktree's .git file; it was put back before the snapshot".to_string(),
            allowed: false,
        });
    }
    Ok(found)
}

fn agent_facts(report: &AgentReport) -> AgentFacts {
    let (result_problem, claimed) = match &report.result {
        StructuredResult::Valid(value) => {
            let claimed = value
                .get("changed_files")
                .and_then(|files| files.as_array())
                .map(|files| files.iter().filter_map(|file| file.as_str().map(str::to_string)).collect::<Vec<_>>());
            (None, claimed)
        }
        StructuredResult::Blocked { reason } => (Some(reason.clone()), None),
    };
    AgentFacts {
        exit_code: report.exit_code,
        watchdog_killed: report.watchdog_killed,
        watchdog_reason: report.watchdog_reason.clone(),
        interrupted: report.interrupted,
        result_problem,
        claimed,
        errors: report.errors.clone(),
    }
}
