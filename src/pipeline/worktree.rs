//! Everything that happens while the worktree exists: the sandbox, SETUP, the agent, the guard
//! (git dir restored before the snapshot opens the repository), the snapshot, the changed set and
//! the patch (one tree diff), sensitive changes, `--verify`, and the verdict.

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::agent_stage::agent_facts;
use super::{hex, span, verify, Background, Run};
use crate::artifacts::{ChangeRecord, ChangesFile};
use crate::changes::Change;
use crate::guard;
use crate::policy::{self, Facts};
use crate::sandbox;
use crate::workspace::{self, Workspace};

/// What the stages after the agent found, for the verdict.
pub(super) struct AfterAgent {
    changes: Vec<Change>,
    sensitive: Vec<policy::SensitiveChange>,
    guard: guard::GuardReport,
    objects_overwritten: Vec<String>,
}

impl Run<'_> {
    /// Everything that happens while the worktree exists.
    pub(super) fn in_worktree(
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
        // The sandbox comes first: SETUP runs code from the worktree (tracked, or ignored and
        // left by an earlier run of a pooled worktree), so it is confined like the agent.
        self.stage("sandbox")?;
        let mut sandbox = span("sandbox/plan", || sandbox::plan(&self.sandbox_request(ws)?))?;
        self.verdict.sandbox = Some(sandbox.record());
        self.record.sandbox = Some(sandbox.record());
        self.verdict.network = sandbox.network.record();
        self.verdict.messages.extend(sandbox.warning.clone());
        self.verdict.messages.extend(sandbox.network.warning.clone());
        // SETUP, the agent and `--verify` all run under this plan: an unconfined one may write
        // any pooled worktree, so none sealed before it is trusted without a rescan.
        ws.confined = sandbox.kind != sandbox::Kind::None;
        if !ws.confined {
            let root = ws.layout_dir.parent().unwrap_or(&ws.layout_dir);
            workspace::mark_unconfined(root, &self.run_dir.id)?;
        }
        if !self.dispatch.packet.setup.is_empty() {
            self.stage("setup")?;
            if !self.run_setup(&cwd, &sandbox)? {
                return Ok(());
            }
            // Files SETUP wrote are not the agent's: ignored files count from here on.
            ws.mark_ready()?;
        }
        self.stage("agent")?;
        self.agent_ran = true;
        let report = span("agent/run", || self.run_agent(ws, &cwd, &sandbox))?;
        self.verdict.messages.extend(sandbox.after_agent(&self.run_dir.path)?);
        let after = self.after_agent(ws, guard_scope, &before)?;
        let verification_failed = self.verification(&cwd, &sandbox)?;
        // Every program of the run is done: the proxy stops, and what it refused is counted.
        let network = sandbox.network.stop();
        self.verdict.network = sandbox.network.record();

        self.stage("verdict")?;
        let facts = Facts {
            mode: self.dispatch.packet.mode,
            scope: &self.dispatch.scope,
            workdir_in_repo: &self.dispatch.workdir_in_repo,
            changes: &after.changes,
            agent: agent_facts(&report),
            git_dir_tampered: after.guard.git_dir_tampered,
            objects_overwritten: after.objects_overwritten,
            main_checkout_changed: after.guard.main_checkout_changed,
            sensitive: after.sensitive,
            verification_failed,
            network,
        };
        policy::judge(&mut self.verdict, &facts);
        Ok(())
    }

    /// The guard (the git dir checked and restored before the snapshot opens the repository; the
    /// checkout, which nothing of the dispatch writes to, read while the snapshot is taken), the
    /// snapshot, and the changed set, patch and sensitive changes from one tree diff.
    pub(super) fn after_agent(
        &mut self,
        ws: &mut Workspace,
        guard_scope: &guard::GuardScope,
        before: &guard::Fingerprint,
    ) -> anyhow::Result<AfterAgent> {
        self.stage("guard-after")?;
        // The worktree's own admin links first (the fingerprint tells an admin dir's owner by them).
        let links = workspace::restore_admin_links(&ws.path, &ws.common_dir, &ws.name)?;
        // In turn with the worktree admin dirs other runs of the repository add and remove: half
        // of one would read as tampering, and restoring it would break that run.
        let turn = workspace::AdminLock::acquire(&ws.layout_dir)?;
        let git_after = span("guard-after/git-dir", || guard::capture_git_dir(guard_scope))?;
        let mut git_dir_tampered = guard::compare_git_dir(before.git_dir(), &git_after);
        git_dir_tampered.extend(links);
        git_dir_tampered.sort();
        git_dir_tampered.dedup();
        if !git_dir_tampered.is_empty() {
            guard::restore_git_dir(guard_scope, before.git_dir(), &git_after, &git_dir_tampered, &self.run_dir.path)?;
        }
        drop(turn);
        let scope = guard_scope.clone();
        let checkout_after = Background::start("guard-after/checkout", move || guard::capture_checkout(&scope));

        self.stage("snapshot")?;
        if self.options.verify {
            // Verification runs in this worktree: it must be exactly the offered result, even
            // where the change journal is blind (a write through a hard link made outside).
            ws.journal = workspace::JournalHandle::off("--verify scans every file");
        }
        let max_file_size = Some(self.dispatch.max_file_size);
        let snapshot = span("snapshot/snapshot", || workspace::snapshot_limited(ws, max_file_size))?;
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
        let sensitive = span("changes/sensitive", || {
            let mut found = sensitive_changes(&repo, ws, &snapshot, &changes, &self.dispatch.allow)?;
            found.extend(left_out_and_size(&repo, &snapshot, &raw, self.dispatch)?);
            anyhow::Ok(found)
        })?;
        let checkout_after = span("guard-after/wait", || checkout_after.join())?;
        let unconfined = span("guard-after/unconfined", || self.unconfined_changes());
        let mut main_checkout_changed = guard::compare_checkout(before.checkout(), &checkout_after);
        main_checkout_changed.extend(unconfined.run_folders);
        let guard = guard::GuardReport { git_dir_tampered, main_checkout_changed };
        if guard.is_clean() && unconfined.objects.is_empty() {
            // Nothing the status depends on changed since the audit before the run.
            self.post_audit = self.pre_audit.clone();
        }
        Ok(AfterAgent { changes, sensitive, guard, objects_overwritten: unconfined.objects })
    }

    /// `--verify`: the packet's VERIFICATION commands in the result worktree; `None` without it.
    pub(super) fn verification(
        &mut self,
        cwd: &std::path::Path,
        sandbox: &sandbox::SandboxPlan,
    ) -> anyhow::Result<Option<bool>> {
        if !self.options.verify {
            return Ok(None);
        }
        self.stage("verify")?;
        // The commands run after the guard looked (the closing audit is taken afresh) and in the
        // worktree (which is cleaned before it is pooled).
        self.post_audit = None;
        self.worktree_at = None;
        let failed = verify::run_verification(
            &self.dispatch.packet.verification,
            cwd,
            self.dispatch.timeout_sec,
            &self.run_dir,
            sandbox,
            &self.cancel,
        )?;
        Ok(Some(failed))
    }

    pub(super) fn write_changes(
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
}

/// The sensitive changes of the result (SPEC §4) and of the ignored files the agent wrote.
fn sensitive_changes(
    repo: &gix::Repository,
    ws: &Workspace,
    snapshot: &workspace::Snapshot,
    changes: &[Change],
    allow: &[String],
) -> anyhow::Result<Vec<policy::SensitiveChange>> {
    // The disk walk may stop at what the journal saw touched only where the worktree was known to
    // hold no planted repository or special file when it started: fresh, or a sealed pooled one.
    let known_clean = !ws.warm || !ws.pool_rescanned;
    let roots = snapshot.disk_roots.as_deref().filter(|_| known_clean);
    let mut found =
        crate::sensitive::detect(repo, ws.base_commit, snapshot.result_commit, changes, &ws.path, roots, allow)
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

/// The files the snapshot left out for their size (over `--max-file-size`) and a change over
/// `--max-change-size`: never allowed. (Special files are found by the sensitive checks' walk.)
fn left_out_and_size(
    repo: &gix::Repository,
    snapshot: &workspace::Snapshot,
    raw: &[crate::changes::RawChange],
    dispatch: &super::Dispatch,
) -> anyhow::Result<Vec<policy::SensitiveChange>> {
    use crate::sensitive::size;
    let mut found = size::oversized_files(&snapshot.left_out.oversized, dispatch.max_file_size);
    let total = size::change_size(repo, raw).context("measuring the change")?;
    found.extend(size::oversized_change(total, dispatch.max_change_size));
    Ok(found)
}
