//! The pipeline of one dispatch, the one implementation that every face drives (the foreground
//! `run`, a detached supervisor, the MCP server): run folder -> guard fingerprint and audit of the
//! user's checkout -> base -> dirty-overlap check -> quota gate -> worktree -> SETUP -> agent ->
//! guard -> snapshot -> changed set and patch -> `--verify` -> verdict -> artifacts -> offer (keep
//! the branch) or not (delete it).
//!
//! The user's checkout is read once at the start, just after the guard's first fingerprint of it:
//! one status pass gives the base and the audit (`pre-status.txt` etc.; rendered on a thread of its
//! own while the worktree is made). When the guard finds nothing changed after the agent (and no
//! `--verify` command ran since), the closing `post-*` files are that same audit, else a new one.
//! The closing fingerprint is taken on a thread of its own while the snapshot is taken; the git
//! dir's fingerprints are taken in line (before git-dispatch writes worktree admin files there,
//! and before the snapshot opens it).
//!
//! Every stage is recorded in `run.json` and `policy.json` (`stage`) before it starts, so a run folder
//! left by a crash says where it stopped. Whatever happens after the worktree exists, it is released.
//! Before anything else, [`journal::recover`] undoes what runs whose process is gone left, and this
//! run's journal entry is written (before its branch or worktree exist) and removed at the end.
//!
//! The stages live in the files below: `stages` (records, journal, the order of the stages),
//! `gates` (dirty overlap, quota, SETUP, failures), `worktree` (from the agent's environment to the
//! verdict), `agent_stage` (sandbox and agent), `unconfined` (run folders and loose objects an
//! agent without a sandbox could rewrite), `finish` (release and closing artifacts).

use std::time::Instant;

use crate::artifacts::state::StateFile;
use crate::artifacts::{ChangeRecord, RunDir, RunRecord};
use crate::guard;
use crate::journal::Journal;
use crate::policy::Verdict;
use crate::process::Cancel;

mod agent_stage;
mod attempts;
mod background;
mod cancel;
mod finish;
mod gates;
mod many;
mod options;
mod resolve;
mod run_dir;
mod stages;
pub mod timing;
mod unconfined;
mod verify;
mod worktree;

pub use attempts::{
    create_group, create_queued, is_group_id, plan, tag_state, Attempt, ATTEMPT_ENV, GROUP_ENV, GROUP_SUFFIX,
};
pub use many::{panicked, run_all, Finished};
pub use options::{
    pool_size_from_env, RunOptions, DEFAULT_HEARTBEAT_SEC, DEFAULT_POOL_SIZE, DEFAULT_QUOTA_GATE, DEFAULT_TIMEOUT_SEC,
};
pub use resolve::{checked_allow_hosts, checked_allow_kinds, resolve, resolve_text, Dispatch};
pub use run_dir::{create_run_dir, dry_run, initial_verdict, write_inputs};

use background::Background;
use timing::span;

/// Ctrl-C (SIGINT/SIGTERM) reached git-dispatch: the pipeline stops at the next stage.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
struct Interrupted;

/// The state of one dispatch while it runs.
struct Run<'a> {
    dispatch: &'a Dispatch,
    options: &'a RunOptions,
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
    /// The journal's folder, once the entry is closed (the run's end is stamped there again
    /// after the final state file).
    journal_dir: Option<std::path::PathBuf>,
    /// The user's checkout audited just after the guard's first fingerprint.
    pre_audit: Option<guard::CheckoutAudit>,
    /// The closing audit when it is known without a new pass (the guard found nothing changed).
    post_audit: Option<guard::CheckoutAudit>,
    /// The commit the worktree holds exactly: its snapshot, while nothing has run in it since.
    worktree_at: Option<gix::ObjectId>,
    /// The guard's fingerprint of the user's checkout before the run and the audit right after it,
    /// while they are being taken.
    checkout_before: Option<Background<(guard::CheckoutFingerprint, guard::CheckoutAudit)>>,
    /// The run folders and loose objects before an agent that may run unconfined.
    unconfined: Option<unconfined::Unconfined>,
    /// `state.json`, written through at every stage and for the agent's activity.
    state: StateFile,
    /// Set by `git dispatch cancel` (through the run folder's cancel request).
    cancel: Cancel,
}

/// Run one dispatch. Errors before the run folder exists are `Err` (exit 1); after that, the run
/// folder records what happened and the verdict carries the exit code.
pub fn dispatch(dispatch: &Dispatch, options: &RunOptions) -> anyhow::Result<(RunDir, Verdict)> {
    let run_dir = create_run_dir(dispatch, options)?;
    dispatch_in(dispatch, options, run_dir)
}

/// Run one dispatch in a run folder created beforehand by [`create_run_dir`] (a detached run's
/// folder exists before its supervisor starts).
pub fn dispatch_in(dispatch: &Dispatch, options: &RunOptions, run_dir: RunDir) -> anyhow::Result<(RunDir, Verdict)> {
    let state = StateFile::begin(&run_dir.id, &run_dir.path)?;
    let cancel = Cancel::new();
    let watch = cancel::CancelWatch::start(&run_dir.path, cancel.clone());
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
        group: dispatch.attempt.as_ref().map(|attempt| attempt.group.clone()),
        attempt: dispatch.attempt.as_ref().map(|attempt| attempt.number),
        attempts: dispatch.attempt.as_ref().map(|attempt| attempt.count),
        ..RunRecord::default()
    };
    let mut run = Run {
        dispatch,
        options,
        run_dir,
        verdict,
        record,
        result: serde_json::Value::Null,
        changes: Vec::new(),
        clock: Instant::now(),
        journal: None,
        journal_dir: None,
        agent_ran: false,
        pre_audit: None,
        post_audit: None,
        worktree_at: None,
        checkout_before: None,
        unconfined: None,
        state,
        cancel,
    };
    if let Err(err) = run.execute() {
        run.fail(&err);
    }
    let finished = span("finish", || run.finish());
    run.close_journal();
    drop(watch);
    // Last: a caller waiting on the state file finds everything of the run released.
    run.state.finish(&run.verdict);
    // Its end once more, after that very last write (also for a run that ended before its journal
    // entry existed): a run watching the run folders meanwhile knows the write for its own.
    let layout = crate::workspace::layout_for(&dispatch.repo_root, &run.workspace_options()).ok();
    if let Some(dir) = run.journal_dir.clone().or_else(|| layout.map(|layout| crate::journal::journal_dir(&layout))) {
        crate::journal::record_done(&dir, &run.run_dir.id);
    }
    finished?;
    Ok((run.run_dir, run.verdict))
}

fn now() -> String {
    chrono::Local::now().to_rfc3339()
}

fn hex(id: gix::ObjectId) -> String {
    id.to_hex().to_string()
}
