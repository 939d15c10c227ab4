//! `apply`: hand an offered run back to the user's checkout, after checking everything an agent
//! could have rewritten.
//!
//! Checks, in order: no other `apply` of the run is in progress (see the `lock` module: of two
//! concurrent applies exactly one goes on); the run was offered and not applied yet; its scratch
//! branch still points at the
//! recorded result commit; the patch recomputed from the base and result commits in the object
//! store equals `result.patch` and the hash in `policy.json`. Then:
//!
//! - as a patch (the default): a 3-way merge with the base as ancestor, the user's working tree as
//!   "ours" (HEAD, staged and unstaged changes, untracked files, hashed in memory) and the result as
//!   "theirs". Only the paths where the merged tree differs from the working tree are written.
//!   Like `git apply` without `--index`: the user's index and their unrelated uncommitted edits are
//!   left alone, nothing is committed.
//! - as a merge (`--merge`): see the `merge` module.
//!
//! A conflict, or an untracked or ignored file in the way, changes nothing and names the paths.
//! Every computation runs with object memory: a refusal leaves no objects behind either. gix runs
//! no hooks.

use std::path::Path;

use anyhow::Context;
use gix::ObjectId;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::checkout;
use super::files;
use super::runs::{self, Applied, RunRecord, APPLIED_FILE};

/// How a result is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyHow {
    /// Write the changes into the working tree (3-way), nothing staged or committed.
    Patch,
    /// Merge the scratch branch into the current branch.
    Merge,
}

impl MergeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeKind::FastForward => "fast-forward",
            MergeKind::MergeCommit => "merge-commit",
            MergeKind::SingleCommit => "single-commit",
        }
    }
}

impl ApplyHow {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyHow::Patch => "patch",
            ApplyHow::Merge => "merge",
        }
    }
}

/// What `apply --merge` made of the current branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeKind {
    /// HEAD was the base: the branch now points at the result commit.
    FastForward,
    /// A merge commit with parents HEAD and the result commit.
    MergeCommit,
    /// One commit on HEAD with the merged tree (the base held uncommitted state that must not enter
    /// the branch's history).
    SingleCommit,
}

/// A successful hand-back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub how: ApplyHow,
    /// The paths written or deleted in the working tree, sorted.
    pub paths: Vec<String>,
    /// The commit the current branch now points at (`--merge` only).
    pub commit: Option<ObjectId>,
    pub merge: Option<MergeKind>,
}

/// Why a run was not applied. Every variant is exit 1 in the CLI; each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("run {run} was not offered: {reason}")]
    NotOffered { run: String, reason: String },
    #[error("run {run} was already applied ({how}, {at})")]
    AlreadyApplied { run: String, how: String, at: String },
    #[error("run {run} is already being applied by another git-dispatch process")]
    BeingApplied { run: String },
    #[error("run {run} is incomplete: {reason}")]
    Incomplete { run: String, reason: String },
    #[error("the branch {branch} is gone: the result cannot be checked")]
    BranchMissing { branch: String },
    #[error("the branch {branch} moved: it points at {found}, the run recorded {expected}")]
    BranchMoved { branch: String, expected: String, found: String },
    #[error("result.patch cannot be trusted: {reason}")]
    PatchTampered { reason: String },
    #[error("the result conflicts with your checkout in {}; nothing was changed", .paths.join(", "))]
    Conflict { paths: Vec<String> },
    #[error("the result conflicts with HEAD in {}; nothing was changed (apply without --merge brings it into your working tree)", .paths.join(", "))]
    MergeConflict { paths: Vec<String> },
    #[error("untracked or ignored files are in the way: {}; nothing was changed", .paths.join(", "))]
    InTheWay { paths: Vec<String> },
    #[error("your uncommitted changes touch paths the merge changes: {}; commit or stash them, or apply without --merge", .paths.join(", "))]
    DirtyForMerge { paths: Vec<String> },
    #[error("HEAD is detached: check out the branch to merge into, or apply without --merge")]
    DetachedHead,
    #[error("HEAD has no commit yet: apply without --merge")]
    UnbornHead,
    #[error("run {run} was superseded: {by}, another attempt of group {group}, was applied")]
    Superseded { run: String, by: String, group: String },
    #[error("{group} is a group of {attempts} attempts: pick the one to apply with --pick RUN (compare them with `git dispatch review {group}`)")]
    GroupNeedsPick { group: String, attempts: usize },
    #[error("these runs cannot be applied together: {reason}")]
    NotTogether { reason: String },
    #[error("{}; nothing was changed{}", super::fanin::describe_conflicts(.conflicts), if *.merge { " (apply without --merge brings what merges into your working tree)" } else { "" })]
    FanInConflict { conflicts: Vec<super::fanin::Conflict>, merge: bool },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl ApplyError {
    /// Whether the message already names the run (so a caller adds no second "run ID").
    pub fn names_run(&self) -> bool {
        matches!(
            self,
            ApplyError::NotOffered { .. }
                | ApplyError::AlreadyApplied { .. }
                | ApplyError::BeingApplied { .. }
                | ApplyError::Incomplete { .. }
                | ApplyError::Superseded { .. }
        )
    }
}

/// Renders the patch base..result from the object store (`crate::patch::render` in the product).
pub type PatchRenderer<'a> = &'a dyn Fn(&gix::Repository, ObjectId, ObjectId) -> anyhow::Result<Vec<u8>>;

/// Apply `run` to the repository whose checkout is at `repo_root`, with the product's patch renderer.
pub fn apply(run: &RunRecord, repo_root: &Path, how: ApplyHow) -> Result<ApplyOutcome, ApplyError> {
    apply_with(run, repo_root, how, &crate::patch::render)
}

/// A run handed back by [`apply_run`]: the run, the checkout it went to, and what was done.
#[derive(Debug, Clone)]
pub struct HandedBack {
    pub run: RunRecord,
    pub repo_root: std::path::PathBuf,
    pub outcome: ApplyOutcome,
}

/// `git dispatch apply [RUN] [--merge]` (and the MCP tool `apply`): the run `selector` names in
/// `runs_root` (None: the newest), applied to its repository's checkout. Every refusal is one
/// line: `cannot apply run ID: reason`, or `cannot apply: reason` when the reason names the run.
/// A group id is refused (it needs a pick: [`hand_back`] the attempt chosen).
pub fn apply_run(runs_root: &Path, selector: Option<&str>, how: ApplyHow) -> anyhow::Result<HandedBack> {
    match runs::select(runs_root, selector)? {
        runs::Selected::Run(run) => hand_back(run, how),
        runs::Selected::Group(group) => {
            let err = ApplyError::GroupNeedsPick { group: group.id.clone(), attempts: group.runs.len() };
            anyhow::bail!("cannot apply group {}: {err}", group.id)
        }
    }
}

/// [`apply`] of `run` to the checkout of its repository, refusals as [`apply_run`] words them.
pub fn hand_back(run: RunRecord, how: ApplyHow) -> anyhow::Result<HandedBack> {
    let repo_root = runs::repo_root_of(&run)?;
    let outcome = apply(&run, &repo_root, how).map_err(|err| match err.names_run() {
        true => anyhow::anyhow!("cannot apply: {err:#}"),
        false => anyhow::anyhow!("cannot apply run {}: {err:#}", run.id),
    })?;
    Ok(HandedBack { run, repo_root, outcome })
}

/// [`apply`] with the patch renderer given (tests substitute their own).
pub fn apply_with(
    run: &RunRecord,
    repo_root: &Path,
    how: ApplyHow,
    render: PatchRenderer<'_>,
) -> Result<ApplyOutcome, ApplyError> {
    let _run_lock =
        super::lock::try_lock_run(&run.path)?.ok_or_else(|| ApplyError::BeingApplied { run: run.id.clone() })?;
    require_offered(run)?;
    let repo = gix::discover(repo_root)
        .with_context(|| format!("{} is not in a git repository", repo_root.display()))?
        .with_object_memory();
    let _repo_lock = super::lock::lock_repository(repo.common_dir())?;
    crate::workspace::pause_point("apply-locked");
    super::group::require_not_superseded(run)?;
    let commits = verified_commits(run, &repo, render)?;
    let outcome = match how {
        ApplyHow::Patch => apply_patch(&repo, &commits)?,
        ApplyHow::Merge => super::merge::merge(repo, run, &commits)?,
    };
    record_applied(run, &outcome, &[])?;
    super::group::mark_superseded(run);
    Ok(outcome)
}

/// The run's base and result commits, once verified.
#[derive(Debug, Clone, Copy)]
pub struct RunCommits {
    pub base: ObjectId,
    pub result: ObjectId,
}

pub(super) fn require_offered(run: &RunRecord) -> Result<(), ApplyError> {
    if let Some(problem) = &run.problem {
        return Err(ApplyError::NotOffered { run: run.id.clone(), reason: problem.clone() });
    }
    if !run.policy.offered {
        return Err(ApplyError::NotOffered { run: run.id.clone(), reason: not_offered_reason(run) });
    }
    // Read again: the record may be older than another apply.
    if let Some(applied) = runs::load_applied(&run.path)?.or_else(|| run.applied.clone()) {
        return Err(ApplyError::AlreadyApplied { run: run.id.clone(), how: applied.how, at: applied.applied_at });
    }
    Ok(())
}

fn not_offered_reason(run: &RunRecord) -> String {
    let policy = &run.policy;
    // The first message that says what went wrong (warnings such as a skipped quota gate come first).
    let first_message =
        policy.messages.iter().find(|m| crate::policy::is_reason(m)).or(policy.messages.first()).cloned();
    if policy.dry_run {
        "it was a dry run".into()
    } else if policy.blocked {
        first_message.unwrap_or_else(|| "it was blocked before the agent ran".into())
    } else if !policy.mode.is_empty() && policy.mode != "worker" {
        format!("it is a {} run; only a worker's result is offered", policy.mode)
    } else if !policy.policy_violation && policy.changed_paths.is_empty() {
        "the worker changed nothing".into()
    } else {
        first_message.unwrap_or_else(|| "the run failed or violated policy".into())
    }
}

fn incomplete(run: &RunRecord, reason: &str) -> ApplyError {
    ApplyError::Incomplete { run: run.id.clone(), reason: reason.to_string() }
}

fn parse_commit(run: &RunRecord, value: &Option<String>, field: &str) -> Result<ObjectId, ApplyError> {
    let text = value.as_deref().ok_or_else(|| incomplete(run, &format!("policy.json has no {field}")))?;
    ObjectId::from_hex(text.as_bytes()).map_err(|_| incomplete(run, &format!("{field} `{text}` is no commit id")))
}

/// Check the branch and the patch; trust nothing else the run folder says.
pub(super) fn verified_commits(
    run: &RunRecord,
    repo: &gix::Repository,
    render: PatchRenderer<'_>,
) -> Result<RunCommits, ApplyError> {
    let base = parse_commit(run, &run.policy.base_commit, "base_commit")?;
    let result = parse_commit(run, &run.policy.result_commit, "result_commit")?;
    let branch = run.policy.branch.clone().unwrap_or_else(|| format!("dispatch/{}", run.id));
    let full_name = if branch.starts_with("refs/") { branch.clone() } else { format!("refs/heads/{branch}") };
    let reference = repo
        .try_find_reference(full_name.as_str())
        .with_context(|| format!("cannot read the branch {branch}"))?
        .ok_or_else(|| ApplyError::BranchMissing { branch: branch.clone() })?;
    let found = reference.clone().peel_to_id().with_context(|| format!("cannot resolve the branch {branch}"))?;
    if found.detach() != result {
        return Err(ApplyError::BranchMoved { branch, expected: result.to_string(), found: found.to_string() });
    }
    check_patch(run, repo, base, result, render)?;
    Ok(RunCommits { base, result })
}

fn check_patch(
    run: &RunRecord,
    repo: &gix::Repository,
    base: ObjectId,
    result: ObjectId,
    render: PatchRenderer<'_>,
) -> Result<(), ApplyError> {
    let tampered = |reason: &str| ApplyError::PatchTampered { reason: reason.to_string() };
    let recomputed = render(repo, base, result).context("cannot recompute the patch from the object store")?;
    let on_disk = match std::fs::read(run.file("result.patch")) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(tampered("the file is missing")),
        Err(err) => return Err(anyhow::Error::from(err).context("cannot read result.patch").into()),
    };
    if on_disk != recomputed {
        return Err(tampered("it differs from the patch recomputed from the base and result commits"));
    }
    let digest = format!("{:x}", sha2::Sha256::digest(&recomputed));
    match run.policy.patch_sha256.as_deref() {
        Some(recorded) if recorded.eq_ignore_ascii_case(&digest) => Ok(()),
        Some(_) => Err(tampered("its sha256 differs from patch_sha256 in policy.json")),
        None => Err(tampered("policy.json records no patch_sha256")),
    }
}

/// The tree of a commit.
pub fn tree_of(repo: &gix::Repository, commit: ObjectId) -> anyhow::Result<ObjectId> {
    let commit = repo.find_commit(commit).with_context(|| format!("cannot read the commit {commit}"))?;
    Ok(commit.tree_id().with_context(|| format!("cannot read the tree of {}", commit.id))?.detach())
}

/// Merge the trees `ancestor`, `ours`, `theirs`; any unresolved conflict is an error naming its paths.
pub fn merge_trees(
    repo: &gix::Repository,
    ancestor: ObjectId,
    ours: ObjectId,
    theirs: ObjectId,
) -> Result<ObjectId, ApplyError> {
    merge_or_conflicts(repo, ancestor, ours, theirs)?.map_err(|paths| ApplyError::Conflict { paths })
}

/// Merge the trees `ancestor`, `ours`, `theirs`: the merged tree, or the paths of the unresolved
/// conflicts (sorted). The merged tree is written to the repository's object store (or memory).
pub fn merge_or_conflicts(
    repo: &gix::Repository,
    ancestor: ObjectId,
    ours: ObjectId,
    theirs: ObjectId,
) -> anyhow::Result<Result<ObjectId, Vec<String>>> {
    use gix::merge::tree::TreatAsUnresolved;
    let labels = gix::merge::blob::builtin_driver::text::Labels {
        ancestor: Some("base".into()),
        current: Some("yours".into()),
        other: Some("result".into()),
    };
    let options = repo.tree_merge_options().context("cannot read the merge options")?;
    let mut outcome =
        repo.merge_trees(ancestor, ours, theirs, labels, options).context("cannot merge the result's tree")?;
    if outcome.has_unresolved_conflicts(TreatAsUnresolved::git()) {
        let mut paths: Vec<String> = outcome
            .conflicts
            .iter()
            .filter(|conflict| conflict.is_unresolved(TreatAsUnresolved::git()))
            .flat_map(|conflict| [conflict.ours.location(), conflict.theirs.location()])
            .map(|path| path.to_string())
            .collect();
        paths.sort();
        paths.dedup();
        return Ok(Err(paths));
    }
    Ok(Ok(outcome.tree.write().context("cannot write the merged tree")?.detach()))
}

/// The default hand-back: 3-way into the working tree, index untouched.
fn apply_patch(repo: &gix::Repository, commits: &RunCommits) -> Result<ApplyOutcome, ApplyError> {
    let workdir = repo.workdir().context("the repository has no working tree")?.to_path_buf();
    let head_tree = repo.head_tree_id_or_empty().context("cannot read HEAD")?.detach();
    let dirty = checkout::dirty_paths(repo)?;
    let ours = checkout::worktree_tree(repo, head_tree, &dirty)?;
    let merged = merge_trees(repo, tree_of(repo, commits.base)?, ours, tree_of(repo, commits.result)?)?;
    let edits = files::path_edits(repo, ours, merged)?;
    let blocked = files::blocked_paths(&workdir, &edits);
    if !blocked.is_empty() {
        return Err(ApplyError::InTheWay { paths: blocked });
    }
    files::write_edits(repo, &workdir, &edits)?;
    let paths = edits.iter().map(files::PathEdit::path_lossy).collect();
    Ok(ApplyOutcome { how: ApplyHow::Patch, paths, commit: None, merge: None })
}

/// Write `applied.json` into the run folder, and the same record as `applied` into its
/// `run.json`; `together` names every run of a hand-back of several, in order.
pub(super) fn record_applied(run: &RunRecord, outcome: &ApplyOutcome, together: &[String]) -> anyhow::Result<()> {
    let applied = Applied {
        applied_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        how: outcome.how.as_str().to_string(),
        commit: outcome.commit.map(|id| id.to_string()),
        merge: outcome.merge.map(|kind| kind.as_str().to_string()),
        runs: together.to_vec(),
    };
    let mut bytes = serde_json::to_vec_pretty(&applied).context("cannot serialize applied.json")?;
    bytes.push(b'\n');
    crate::artifacts::write_atomic(&run.file(APPLIED_FILE), &bytes)?;
    record_in_run_json(run, &applied)
}

/// `run.json` with `applied` set (the file is left alone when it is missing or no JSON object).
fn record_in_run_json(run: &RunRecord, applied: &Applied) -> anyhow::Result<()> {
    let path = run.file("run.json");
    let Ok(bytes) = std::fs::read(&path) else { return Ok(()) };
    let Ok(serde_json::Value::Object(mut record)) = serde_json::from_slice(&bytes) else { return Ok(()) };
    record.insert("applied".into(), serde_json::to_value(applied).context("cannot serialize the hand-back")?);
    let mut bytes = serde_json::to_vec_pretty(&record).context("cannot serialize run.json")?;
    bytes.push(b'\n');
    crate::artifacts::write_replace(&path, &bytes)
}
