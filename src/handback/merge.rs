//! `apply --merge`: merge a run's scratch branch into the current branch.
//!
//! The merged tree is `merge_trees(ancestor = base, ours = HEAD, theirs = result)`: the ancestor is
//! the run's base, not the merge base of the commits, because the base may be a synthetic commit
//! holding the user's uncommitted state at dispatch time (its parent is HEAD at that time). The
//! shape of the new history:
//!
//! - HEAD is the base: fast-forward to the result commit.
//! - the base is in HEAD's history, or it is a synthetic base without uncommitted state (its tree
//!   equals its parent's, and that parent is in HEAD's history): a merge commit, parents HEAD and
//!   the result commit.
//! - otherwise (the base carried uncommitted state, or came from elsewhere): one commit on HEAD,
//!   "Apply git-dispatch run <id>", so the synthetic base never enters the branch's history.
//!
//! Refused: a detached or unborn HEAD, uncommitted changes in a path the merge changes, untracked or
//! ignored files in the way, conflicts. With the base as ancestor, a path that was dirty at dispatch
//! and that the agent changed conflicts where the agent's lines meet the user's uncommitted ones
//! (and always for a file that was untracked then): the merge cannot commit the agent's change
//! without the user's; `apply` without `--merge` handles it. Only the changed paths' files and index entries are
//! written; then the branch moves (with a reflog entry), if it still points where it did.

use anyhow::Context;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::objs::tree::EntryKind;
use gix::refs::transaction::{PreviousValue, RefEdit};
use gix::ObjectId;

use super::apply::{merge_trees, tree_of, ApplyError, ApplyHow, ApplyOutcome, MergeKind, RunCommits};
use super::checkout;
use super::files::{self, PathEdit, Written};
use super::runs::RunRecord;

/// Merge the verified result of `run` into the branch HEAD points at. `repo` has object memory on.
pub fn merge(mut repo: gix::Repository, run: &RunRecord, commits: &RunCommits) -> Result<ApplyOutcome, ApplyError> {
    let head_id = current_branch_tip(&repo)?;
    require_not_in_head(&repo, run, commits, head_id)?;
    let head_tree = tree_of(&repo, head_id)?;
    let merged = merge_trees(&repo, tree_of(&repo, commits.base)?, head_tree, tree_of(&repo, commits.result)?)
        .map_err(|err| match err {
            ApplyError::Conflict { paths } => ApplyError::MergeConflict { paths },
            other => other,
        })?;
    let edits = landing_edits(&repo, head_tree, merged)?;
    let (author, committer) = identity(&repo)?;
    let (new_tip, kind) = merge_commit(&repo, run, commits, head_id, merged, (&author, &committer))?;
    let paths = land(&mut repo, &edits, (head_id, new_tip), &reflog_message(run, kind), &committer)?;
    Ok(ApplyOutcome { how: ApplyHow::Merge, paths, commit: Some(new_tip), merge: Some(kind) })
}

/// Refuses a run whose result is already in HEAD's history.
pub(super) fn require_not_in_head(
    repo: &gix::Repository,
    run: &RunRecord,
    commits: &RunCommits,
    head_id: ObjectId,
) -> Result<(), ApplyError> {
    if is_ancestor(repo, commits.result, head_id)? {
        let how = ApplyHow::Merge.as_str().to_string();
        return Err(ApplyError::AlreadyApplied {
            run: run.id.clone(),
            how,
            at: "its result is already in HEAD".into(),
        });
    }
    Ok(())
}

/// The edits from HEAD's tree to the merged tree, once nothing is in their way: no uncommitted
/// change in those paths, no untracked or ignored file, no other git process holding the index.
pub(super) fn landing_edits(
    repo: &gix::Repository,
    head_tree: ObjectId,
    merged: ObjectId,
) -> Result<Vec<PathEdit>, ApplyError> {
    let workdir = repo.workdir().context("the repository has no working tree")?;
    let edits = files::path_edits(repo, head_tree, merged)?;
    let dirty = overlapping_dirty_paths(&checkout::dirty_paths(repo)?, &edits);
    if !dirty.is_empty() {
        return Err(ApplyError::DirtyForMerge { paths: dirty });
    }
    let blocked = files::blocked_paths(workdir, &edits);
    if !blocked.is_empty() {
        return Err(ApplyError::InTheWay { paths: blocked });
    }
    require_index_unlocked(repo)?;
    Ok(edits)
}

/// The commit that brings `run`'s result onto `head` with the tree `merged` (in memory), and
/// what kind of merge it is.
pub(super) fn merge_commit(
    repo: &gix::Repository,
    run: &RunRecord,
    commits: &RunCommits,
    head: ObjectId,
    merged: ObjectId,
    (author, committer): (&gix::actor::Signature, &gix::actor::Signature),
) -> anyhow::Result<(ObjectId, MergeKind)> {
    let kind = merge_kind(repo, head, commits.base)?;
    let tip = match kind {
        MergeKind::FastForward => commits.result,
        MergeKind::MergeCommit => {
            let message = commit_message("Merge", run, commits.result);
            write_commit(repo, merged, vec![head, commits.result], author, committer, message)?
        }
        MergeKind::SingleCommit => {
            let message = commit_message("Apply", run, commits.result);
            write_commit(repo, merged, vec![head], author, committer, message)?
        }
    };
    Ok((tip, kind))
}

/// Writes what was made in memory: the objects, the edited files and their index entries, then
/// moves the branch from `old` to `new` (if it still points at `old`). Returns the paths written.
pub(super) fn land(
    repo: &mut gix::Repository,
    edits: &[PathEdit],
    (old, new): (ObjectId, ObjectId),
    reflog: &str,
    committer: &gix::actor::Signature,
) -> anyhow::Result<Vec<String>> {
    let workdir = repo.workdir().context("the repository has no working tree")?.to_path_buf();
    persist_objects(repo)?;
    let written = files::write_edits(repo, &workdir, edits)?;
    update_index(repo, &written)?;
    move_branch(repo, old, new, reflog, committer)?;
    Ok(edits.iter().map(PathEdit::path_lossy).collect())
}

/// The commit of the branch HEAD points at; refuses a detached or unborn HEAD.
pub(super) fn current_branch_tip(repo: &gix::Repository) -> Result<ObjectId, ApplyError> {
    let head = repo.head().context("cannot read HEAD")?;
    if head.is_detached() {
        return Err(ApplyError::DetachedHead);
    }
    head.id().map(|id| id.detach()).ok_or(ApplyError::UnbornHead)
}

/// Refuse before writing anything when another git process holds the index.
fn require_index_unlocked(repo: &gix::Repository) -> anyhow::Result<()> {
    let lock = repo.index_path().with_extension("lock");
    anyhow::ensure!(!lock.exists(), "{} exists: another git process is using the index", lock.display());
    Ok(())
}

/// `ancestor` is `descendant` or in its history.
fn is_ancestor(repo: &gix::Repository, ancestor: ObjectId, descendant: ObjectId) -> anyhow::Result<bool> {
    if ancestor == descendant {
        return Ok(true);
    }
    let base = repo.merge_base(ancestor, descendant).context("cannot find a merge base")?;
    Ok(base.is_some_and(|base| base.detach() == ancestor))
}

fn merge_kind(repo: &gix::Repository, head: ObjectId, base: ObjectId) -> anyhow::Result<MergeKind> {
    if head == base {
        return Ok(MergeKind::FastForward);
    }
    if is_ancestor(repo, base, head)? {
        return Ok(MergeKind::MergeCommit);
    }
    let base_commit = repo.find_commit(base).with_context(|| format!("cannot read the base commit {base}"))?;
    let parent = base_commit.parent_ids().next().map(|id| id.detach());
    if let Some(parent) = parent {
        if tree_of(repo, parent)? == tree_of(repo, base)? && is_ancestor(repo, parent, head)? {
            return Ok(MergeKind::MergeCommit);
        }
    }
    Ok(MergeKind::SingleCommit)
}

/// Dirty paths equal to, inside, or above a path the merge changes.
fn overlapping_dirty_paths(dirty: &[BString], edits: &[PathEdit]) -> Vec<String> {
    let contains = |outer: &BStr, inner: &BStr| {
        inner == outer || (inner.starts_with(outer) && inner.get(outer.len()) == Some(&b'/'))
    };
    dirty
        .iter()
        .filter(|path| {
            edits.iter().any(|edit| {
                contains(edit.path.as_bstr(), path.as_bstr()) || contains(path.as_bstr(), edit.path.as_bstr())
            })
        })
        .map(|path| path.to_str_lossy().into_owned())
        .collect()
}

/// Author and committer from the user's configuration, else `git-dispatch <git-dispatch@localhost>`.
pub(super) fn identity(repo: &gix::Repository) -> anyhow::Result<(gix::actor::Signature, gix::actor::Signature)> {
    let fallback = || gix::actor::Signature {
        name: "git-dispatch".into(),
        email: "git-dispatch@localhost".into(),
        time: gix::date::Time::now_local_or_utc(),
    };
    let committer = match repo.committer() {
        Some(Ok(signature)) => signature.to_owned().context("cannot read the committer's date")?,
        _ => fallback(),
    };
    let author = match repo.author() {
        Some(Ok(signature)) => signature.to_owned().context("cannot read the author's date")?,
        _ => committer.clone(),
    };
    Ok((author, committer))
}

fn write_commit(
    repo: &gix::Repository,
    tree: ObjectId,
    parents: Vec<ObjectId>,
    author: &gix::actor::Signature,
    committer: &gix::actor::Signature,
    message: String,
) -> anyhow::Result<ObjectId> {
    let commit = gix::objs::Commit {
        tree,
        parents: parents.into(),
        author: author.clone(),
        committer: committer.clone(),
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    };
    Ok(repo.write_object(&commit).context("cannot write the commit")?.detach())
}

/// Write the objects made in memory (merged blobs and trees, the commit) to the object store.
fn persist_objects(repo: &mut gix::Repository) -> anyhow::Result<()> {
    use gix::objs::Write as _;
    let Some(storage) = repo.objects.take_object_memory() else { return Ok(()) };
    for (id, (kind, data)) in storage.iter() {
        let written = repo.write_buf(*kind, data).with_context(|| format!("cannot write the object {id}"))?;
        anyhow::ensure!(written == *id, "the object {id} was written as {written}");
    }
    Ok(())
}

/// Update the index entries of the written paths (stat info from disk), leaving all others alone.
fn update_index(repo: &gix::Repository, written: &[Written]) -> anyhow::Result<()> {
    let mut index = repo.open_index().context("cannot read the index")?;
    let removed: std::collections::HashSet<&BStr> = written.iter().map(|entry| entry.path.as_bstr()).collect();
    index.remove_entries(|_, path, _| removed.contains(path));
    for entry in written {
        let Some((kind, id)) = entry.target else { continue };
        let stat = match gix::index::fs::Metadata::from_path_no_follow(&entry.disk_path) {
            Ok(md) if kind != EntryKind::Commit => gix::index::entry::Stat::from_fs(&md).unwrap_or_default(),
            _ => gix::index::entry::Stat::default(),
        };
        index.dangerously_push_entry(
            stat,
            id,
            gix::index::entry::Flags::empty(),
            index_mode(kind),
            entry.path.as_bstr(),
        );
    }
    index.sort_entries();
    // The cached trees of the index no longer match its entries (see gix_index::File::write).
    index.remove_tree();
    index.write(gix::index::write::Options::default()).context("cannot write the index")?;
    Ok(())
}

fn index_mode(kind: EntryKind) -> gix::index::entry::Mode {
    use gix::index::entry::Mode;
    match kind {
        EntryKind::BlobExecutable => Mode::FILE_EXECUTABLE,
        EntryKind::Link => Mode::SYMLINK,
        EntryKind::Commit => Mode::COMMIT,
        EntryKind::Blob | EntryKind::Tree => Mode::FILE,
    }
}

/// The one format of the commits `apply --merge` makes: "<Merge|Apply> git-dispatch run ID", a
/// blank line, and the result commit it brings.
fn commit_message(verb: &str, run: &RunRecord, result: gix::ObjectId) -> String {
    format!("{verb} git-dispatch run {}\n\nResult commit {result} (branch dispatch/{}).\n", run.id, run.id)
}

fn reflog_message(run: &RunRecord, kind: MergeKind) -> String {
    match kind {
        MergeKind::FastForward => format!("git-dispatch: merge dispatch/{}: Fast-forward", run.id),
        MergeKind::MergeCommit => format!("git-dispatch: merge dispatch/{}: Merge made by git-dispatch", run.id),
        MergeKind::SingleCommit => format!("git-dispatch: apply run {}", run.id),
    }
}

/// Point the branch HEAD refers to at `new`, if it still points at `old`, with a reflog entry.
fn move_branch(
    repo: &gix::Repository,
    old: ObjectId,
    new: ObjectId,
    message: &str,
    committer: &gix::actor::Signature,
) -> anyhow::Result<()> {
    let head: gix::refs::FullName = "HEAD".try_into().context("HEAD is a valid reference name")?;
    let edit = RefEdit::update(head, new, PreviousValue::MustExistAndMatch(old.into()), message).with_deref(true);
    let mut time = gix::date::parse::TimeBuf::default();
    repo.edit_references_as(Some(edit), Some(committer.to_ref(&mut time)))
        .context("cannot move your branch (did it move meanwhile?)")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_falls_back_to_git_dispatch() {
        let dir = tempfile::tempdir().expect("tempdir");
        gix::init(dir.path()).expect("a new repository");
        let repo = gix::open_opts(dir.path(), gix::open::Options::isolated()).expect("opens without any config");
        let (author, committer) = identity(&repo).expect("an identity");
        for signature in [author, committer] {
            assert_eq!(
                (signature.name.to_string(), signature.email.to_string()),
                ("git-dispatch".into(), "git-dispatch@localhost".into())
            );
        }
    }

    #[test]
    fn dirty_paths_overlap_within_directories() {
        let edit = |path: &str| PathEdit { path: path.into(), target: None, existed: true };
        let dirty: Vec<BString> =
            ["a", "dir/x", "other.txt", "src/lib.rs.orig"].iter().map(|p| BString::from(*p)).collect();
        let edits = vec![edit("a/b"), edit("dir"), edit("src/lib.rs")];
        assert_eq!(overlapping_dirty_paths(&dirty, &edits), vec!["a", "dir/x"]);
    }
}
