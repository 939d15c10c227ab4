//! The snapshot after the agent: the worktree's final state (the agent's commits, staged and
//! unstaged edits, deletions, renames, mode and type changes, untracked non-ignored files)
//! committed on `refs/heads/dispatch/<run-id>`, whatever the agent did to HEAD. Ignored files
//! the agent wrote are listed, not committed. The worktree's HEAD is re-attached to the branch
//! and its index refreshed to the result, so `git status` there is clean.

use super::scan::{self, Edit, ScanOptions};
use super::touched::{Baseline, FileStamp};
use super::{repo, Snapshot, Workspace};
use crate::walk::{Step, Walk};
use anyhow::Context as _;
use gix::bstr::{BString, ByteSlice};
use gix::refs::transaction::PreviousValue;
use gix::ObjectId;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// See [`super::snapshot_limited`].
pub fn snapshot(ws: &Workspace, max_file_size: Option<u64>) -> anyhow::Result<Snapshot> {
    let dot_git_replaced = repo::restore_dot_git(&ws.path, &ws.common_dir, &ws.name)?;
    // The pipeline checked the admin links before the guard; this keeps any other caller safe.
    repo::restore_admin_links(&ws.path, &ws.common_dir, &ws.name)?;
    let wt = repo::open(&ws.path)?;
    let branch = repo::branch_name(&ws.run_id)?;
    let journal = ws.journal.get();
    let quick = match journal {
        Some(journal) => journal.scan(&wt, &branch, max_file_size)?,
        None => Err(ws.journal.off_reason()),
    };
    let (scanned, parent, new_dirs, touched, full_scan_reason) = match quick {
        Ok(touched) => (touched.scan, touched.parent, Some(touched.new_dirs), Some(touched.touched), None),
        Err(reason) => {
            let scanned = scan::scan(&wt, ScanOptions { list_ignored: true, max_file_size })?;
            let parent = expected_parent(&wt, &branch, ws.base_commit)?;
            (scanned, parent, None, None, Some(reason))
        }
    };
    let lossy = |path: &BString| path.to_str_lossy().into_owned();
    let disk_roots = touched.map(|touched| {
        let mut roots: Vec<(String, bool)> = touched.iter().map(|(path, is_dir)| (lossy(path), *is_dir)).collect();
        roots.extend(scanned.ignored.iter().map(|(path, is_dir)| (lossy(path), *is_dir)));
        roots.sort();
        roots.dedup();
        roots
    });
    let tree = scan::write_tree(&wt, scanned.head_tree, &scanned.edits())?;
    let result_commit = if repo::commit_tree(&wt, parent)? == tree {
        parent
    } else {
        let message = format!("git-dispatch result of {}\n", ws.run_id);
        repo::write_commit(&wt, tree, &[parent], &message)?
    };
    super::pause_point("snapshot-commit");
    repo::set_ref(&wt, &branch, result_commit, PreviousValue::Any, "git-dispatch: snapshot")?;
    if repo::head_branch(&wt)?.as_ref() != Some(&branch) {
        repo::attach_head(&wt, &branch)?;
    }
    let ignored_written = written_since(&ws.path, &scanned.ignored, ws.ready_at);
    let left_out = scanned.left_out.clone();
    let mut index = scanned.index;
    // The index on disk is the one the scan compared with: rewritten only when the worktree differs
    // from it (at 100k files, writing it costs as much as the rest of a quiet snapshot).
    if !scanned.unstaged.is_empty() || !index.path().is_file() {
        apply_to_index(&mut index, &scanned.unstaged);
        write_index(&mut index)?;
    }
    if let (Some(journal), Some(new_dirs)) = (journal, new_dirs) {
        let index_stamp = FileStamp::of(index.path())?;
        journal.rebase(Baseline { commit: result_commit, tree, index, index_stamp }, new_dirs);
    }
    Ok(Snapshot { result_commit, ignored_written, dot_git_replaced, full_scan_reason, left_out, disk_roots })
}

/// The agent's commits on the branch when they descend from `base`, else `base`.
fn expected_parent(wt: &gix::Repository, branch: &gix::refs::FullName, base: ObjectId) -> anyhow::Result<ObjectId> {
    match repo::ref_target(wt, branch)? {
        Some(tip) if tip != base && repo::is_ancestor(wt, base, tip)? => Ok(tip),
        _ => Ok(base),
    }
}

/// Updates the index to the worktree state hashed by the scan.
fn apply_to_index(index: &mut gix::index::File, unstaged: &BTreeMap<BString, Edit>) {
    if unstaged.is_empty() {
        return;
    }
    index.remove_entries(|_, path, _| unstaged.contains_key(path));
    for (path, edit) in unstaged {
        if let Some(h) = edit {
            index.dangerously_push_entry(
                h.stat.unwrap_or_default(),
                h.id,
                gix::index::entry::Flags::empty(),
                gix::objs::tree::EntryMode::from(h.kind).into(),
                path.as_bstr(),
            );
        }
    }
    index.sort_entries();
}

fn write_index(index: &mut gix::index::File) -> anyhow::Result<()> {
    index.remove_tree();
    index
        .write(gix::index::write::Options::default())
        .with_context(|| format!("writing index {}", index.path().display()))
}

/// The ignored files whose inode changed at `since` or later (written, renamed or chmodded by
/// the agent); ignored directories are searched file by file. `since` is a filesystem stamp taken
/// so that nothing changed before it carries its time, and a file changed in the stamp's own tick
/// carries exactly that time: hence `>=`, never `>` (a miss here would hide a symlink or hard link
/// leading out of the worktree from the sensitive checks).
fn written_since(workdir: &Path, ignored: &[(BString, bool)], since: SystemTime) -> Vec<String> {
    let mut out = Vec::new();
    for (rela, is_dir) in ignored {
        let path = super::scan::join(workdir, rela.as_bstr());
        if *is_dir {
            collect_newer_files(&path, &rela.to_str_lossy(), since, &mut out);
        } else if changed_after(&path, since) {
            out.push(rela.to_str_lossy().into_owned());
        }
    }
    out.sort();
    out
}

fn collect_newer_files(dir: &Path, rela: &str, since: SystemTime, out: &mut Vec<String>) {
    let found = Walk::new(dir).try_collect(|entry, newer| {
        let Ok(entry) = entry else { return Ok(Step::Continue) };
        if !entry.is_dir() && changed_after(entry.path(), since) {
            newer.push(format!("{rela}/{}", entry.rela().to_string_lossy()));
        }
        Ok(Step::Continue)
    });
    out.extend(found.unwrap_or_default());
}

fn changed_after(path: &Path, since: SystemTime) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|md| {
        let nanos = md.ctime_nsec().clamp(0, 999_999_999) as u32;
        SystemTime::UNIX_EPOCH + Duration::new(md.ctime().max(0) as u64, nanos) >= since
    })
}
