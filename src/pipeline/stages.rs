//! The order of the stages of one dispatch and their records: each stage is written to run.json and
//! policy.json (and the journal) before it starts; the journal is opened (after recovering what
//! dead runs left) before any branch or worktree exists.

use std::path::PathBuf;
use std::time::Instant;

use super::cancel::Cancelled;
use super::run_dir::write_inputs;
use super::{hex, span, Background, Interrupted, Run};
use crate::guard;
use crate::journal::{self, Journal, RUN_MARKER_ENV};
use crate::process;
use crate::workspace::{self, WorkspaceOptions};

impl Run<'_> {
    /// Record the stage about to start in run.json and policy.json.
    /// Before the agent has run, an interrupt stops the pipeline here. Once it has run, the
    /// pipeline goes on (the guard must still restore the git dir) and the verdict records it.
    pub(super) fn stage(&mut self, stage: &str) -> anyhow::Result<()> {
        if process::interrupted() && !self.agent_ran {
            return Err(Interrupted.into());
        }
        if self.cancel.is_cancelled() && !self.agent_ran {
            return Err(Cancelled.into());
        }
        self.stage_unchecked(stage)
    }

    /// Record a stage even after an interrupt (the closing artifacts are always written).
    pub(super) fn stage_unchecked(&mut self, stage: &str) -> anyhow::Result<()> {
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
        self.state.stage(stage);
        workspace::pause_point(stage);
        Ok(())
    }

    /// Recovers what runs whose process is gone left (their worktrees, branches, locks, agents),
    /// then writes this run's journal entry. A failed recovery is a warning, not a failure.
    pub(super) fn open_journal(&mut self) -> anyhow::Result<()> {
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
                self.options.keep_worktree,
            )
        })?;
        journal.stage(&self.record.stage);
        self.journal = Some(journal);
        Ok(())
    }

    /// Removes the journal entry once everything of the run is released (a run that stopped before
    /// it had one is still recorded as finished).
    pub(super) fn close_journal(&mut self) {
        match self.journal.take() {
            Some(journal) => {
                self.journal_dir = journal.path().parent().map(std::path::Path::to_path_buf);
                if let Err(err) = journal.close() {
                    self.verdict.messages.push(format!("WARNING: {err:#}"));
                }
            }
            None => {
                journal::finished_without_entry(&self.dispatch.repo_root, &self.workspace_options(), &self.run_dir.id)
            }
        }
    }

    /// The environment marker of this run's child processes (see [`journal::RUN_MARKER_ENV`]),
    /// and for an attempt of a group its number and group ([`super::ATTEMPT_ENV`]).
    pub(super) fn marker_env(&self) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        let mut env: Vec<(std::ffi::OsString, std::ffi::OsString)> =
            self.journal.iter().map(|j| (RUN_MARKER_ENV.into(), j.marker().into())).collect();
        if let Some(attempt) = &self.dispatch.attempt {
            env.push((super::ATTEMPT_ENV.into(), attempt.number.to_string().into()));
            env.push((super::GROUP_ENV.into(), attempt.group.clone().into()));
        }
        env
    }

    pub(super) fn workspace_options(&self) -> WorkspaceOptions {
        WorkspaceOptions {
            worktrees_root: self
                .dispatch
                .worktrees_root
                .clone()
                .or_else(|| std::env::var_os("GIT_DISPATCH_WORKTREES").map(PathBuf::from)),
            fresh: self.options.fresh,
            pool_size: self.options.pool_size,
        }
    }

    pub(super) fn execute(&mut self) -> anyhow::Result<()> {
        self.stage("inputs")?;
        self.open_journal()?;
        span("inputs/write-inputs", || write_inputs(self.dispatch, &self.run_dir))?;

        // The git dir's fingerprint is taken before git-dispatch writes there (worktree admin
        // files), the checkout's before its status: one status pass gives the base and the audit
        // (rendered on another thread while the worktree is made, awaited before anything runs:
        // see `settle_before`), so both see the checkout at or after its fingerprint.
        self.stage("guard-before")?;
        let guard_scope = span("guard-before/scope", || self.guard_scope())?;
        let git_before = span("guard-before/git-dir", || {
            // Not while another run of the repository writes a worktree admin dir (half of one
            // would read as someone else's).
            let layout = workspace::layout_for(&self.dispatch.repo_root, &self.workspace_options())?;
            let _turn = workspace::AdminLock::acquire(&layout.dir)?;
            guard::capture_git_dir(&guard_scope)
        })?;
        // The run folders and loose objects are recorded while the checkout is walked.
        let checkout = std::thread::scope(|scope| {
            let walked = scope.spawn(|| span("guard-before/checkout", || guard::capture_checkout(&guard_scope)));
            span("guard-before/unconfined", || self.capture_unconfined());
            walked.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;

        self.stage("base")?;
        let (base, items) = span("base/resolve", || {
            workspace::resolve_base_and_status(&self.dispatch.repo_root, self.dispatch.base.as_deref())
        })?;
        let root = self.dispatch.repo_root.clone();
        self.checkout_before = Some(Background::start("base/audit", move || {
            let audit = match items {
                Some(items) => guard::audit_items(&root, items)?,
                None => guard::audit(&root)?,
            };
            Ok((checkout, audit))
        }));
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
        workspace::release_unconfined();
        outcome
    }
}
