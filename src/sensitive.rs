//! Sensitive changes (SPEC §4): what the agent changed that is a violation whatever WRITE SCOPE
//! says, unless the packet's `ALLOW:` (or `--allow KIND`) names its kind, and what is never allowed.
//!
//! Found from the base..result diff and the result tree where the run touched it (exact path
//! bytes, modes, symlink targets) and from the worktree on disk (planted repositories, special
//! files anywhere in it, hard links). Each finding names its path and says why.

use std::collections::BTreeSet;
use std::path::Path;

use gix::bstr::{BStr, BString, ByteSlice};
use gix::ObjectId;

use crate::changes::Change;
use crate::policy::SensitiveChange;

mod automation;
mod disk;
mod lookup;
pub mod names;
pub mod size;
mod tree;

/// A new or changed symlink (allowable, unless it points outside the worktree).
pub const SYMLINK: &str = "symlink";
/// A gitlink added or changed, or `.gitmodules` changed (allowable).
pub const SUBMODULE: &str = "submodule";
/// A `.gitattributes` added or changed (allowable).
pub const GITATTRIBUTES: &str = "gitattributes";
/// A new executable bit (allowable).
pub const EXEC_BIT: &str = "exec-bit";
/// A `.git` component in any disguise, or HFS+-ignorable code points (never allowed).
pub const GIT_PATH: &str = "git-path";
/// A repository planted in the worktree or committed as files (never allowed).
pub const EMBEDDED_REPO: &str = "embedded-repo";
/// Two result paths equal under case folding (never allowed).
pub const CASE_COLLISION: &str = "case-collision";
/// A control character (C0, DEL, C1) in a path, or a name that is not UTF-8 (never allowed).
pub const CONTROL_CHAR: &str = "control-char";
/// A file sharing its inode with another name, maybe outside the worktree (never allowed).
pub const HARDLINK: &str = "hardlink";
/// A CI pipeline, git hook manager, editor task, dev container or coding-agent instruction or
/// settings file added or changed (allowable).
pub const AUTOMATION: &str = "automation";
/// A FIFO, socket or device node in the worktree (never allowed).
pub const SPECIAL_FILE: &str = "special-file";
/// A file larger than `--max-file-size`, or a change larger than `--max-change-size` (never
/// allowed: raise the limit instead).
pub const OVERSIZED: &str = "oversized";

/// The kinds `ALLOW:` may name; every other kind is never allowed.
pub const ALLOWABLE: &[&str] = &[SYMLINK, SUBMODULE, GITATTRIBUTES, EXEC_BIT, AUTOMATION];

/// The findings so far, at most one per (path, kind).
#[derive(Default)]
struct Findings {
    list: Vec<SensitiveChange>,
    seen: BTreeSet<(String, &'static str)>,
}

impl Findings {
    /// Record `kind` at `path`; `never` marks a finding no `ALLOW:` can allow.
    fn add(&mut self, path: &BStr, kind: &'static str, reason: String, never: bool, allow: &[String]) {
        let shown = path.to_str_lossy().into_owned();
        if !self.seen.insert((shown.clone(), kind)) {
            return;
        }
        let allowed = !never && ALLOWABLE.contains(&kind) && allow.iter().any(|a| a == kind);
        self.list.push(SensitiveChange { path: shown, kind: kind.to_string(), reason, allowed });
    }
}

/// The sensitive changes from `base` to `result` (commits or trees) in `worktree`, with `allowed`
/// set from `allow` (the resolved `ALLOW:` kinds). `changes` is the run's changed set (its
/// `lossy_path` flags names that are not UTF-8 on either side). `disk_roots`: the only entries of
/// the worktree whose disk state can hold planted repositories or special files (see
/// [`disk::walk_roots`]); `None` walks all of it.
pub fn detect(
    repo: &gix::Repository,
    base: ObjectId,
    result: ObjectId,
    changes: &[Change],
    worktree: &Path,
    disk_roots: Option<&[(String, bool)]>,
    allow: &[String],
) -> anyhow::Result<Vec<SensitiveChange>> {
    let diff = crate::changes::raw_changes_without_renames(repo, base, result)?;
    let touched = tree::touched(&diff);
    let mut found = Findings::default();
    // Symlink targets resolve through the tree's other symlinks: only then is the whole tree read.
    let links = if touched.iter().any(|(_, mode, _)| mode.is_link()) {
        tree::link_targets(repo, &tree::entries(repo, result)?)?
    } else {
        Default::default()
    };
    let before_modes = tree::modes_before(&diff);
    for (path, mode, _) in &touched {
        let path = path.as_bstr();
        check_name(path, allow, &mut found);
        if mode.is_link() {
            let target = links.get(path).map(|t| t.as_bstr()).unwrap_or_default();
            check_symlink(path, target, &links, allow, &mut found);
        }
        check_kind_of_file(path, *mode, before_modes.get(path).copied(), allow, &mut found);
        if mode.is_blob() {
            if let Some(count) = disk::extra_links(worktree, &to_path(path)) {
                let reason = format!(
                    "`{}` has {count} hard links: it shares its inode with another file, maybe outside the worktree",
                    names::show(path)
                );
                found.add(path, HARDLINK, reason, true, allow);
            }
        }
    }
    check_deleted_specials(&tree::deleted(&diff), allow, &mut found);
    for change in changes.iter().filter(|change| change.lossy_path) {
        let path = change.path.as_bytes().as_bstr();
        let reason = format!("`{}` is not valid UTF-8", crate::escape::line(&change.path));
        found.add(path, CONTROL_CHAR, reason, true, allow);
    }
    let touched_paths: BTreeSet<&BString> = touched.iter().map(|(path, _, _)| path).collect();
    let mut reader = lookup::TreeReader::new(repo, result)?;
    check_tree_shapes(&mut reader, &touched_paths, allow, &mut found)?;
    let on_disk = match disk_roots {
        Some(roots) => disk::walk_roots(worktree, roots),
        None => disk::walk(worktree),
    };
    for planted in on_disk.planted {
        let reason = format!("`{}` in the worktree is {}", crate::escape::line(&planted.path), planted.why);
        found.add(planted.path.as_bytes().as_bstr(), EMBEDDED_REPO, reason, true, allow);
    }
    for rela in on_disk.special {
        let what = disk::special_kind(worktree, Path::new(&rela)).unwrap_or("a special file");
        let reason =
            format!("`{}` is {what}: git cannot record it, so the result would lack it", crate::escape::line(&rela));
        found.add(rela.as_bytes().as_bstr(), SPECIAL_FILE, reason, true, allow);
    }
    Ok(found.list)
}

/// Ignored files the agent wrote (`Snapshot.ignored_written`, relative to `worktree`) that lead out
/// of it: symlinks pointing outside, and files with more than one hard link. Never allowed.
pub fn detect_ignored(worktree: &Path, ignored_written: &[String]) -> Vec<SensitiveChange> {
    let mut found = Findings::default();
    for rela in ignored_written {
        let path = rela.as_bytes().as_bstr();
        if let Some(target) = disk::symlink_outside(worktree, Path::new(rela)) {
            let reason = format!("ignored symlink `{rela}` points outside the worktree (`{}`)", target.display());
            found.add(path, SYMLINK, reason, true, &[]);
        } else if let Some(count) = disk::extra_links(worktree, Path::new(rela)) {
            let reason = format!("ignored file `{rela}` has {count} hard links: it may be a file outside the worktree");
            found.add(path, HARDLINK, reason, true, &[]);
        }
    }
    found.list
}

fn to_path(path: &BStr) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt as _;
    std::path::PathBuf::from(std::ffi::OsStr::from_bytes(path))
}

fn check_name(path: &BStr, allow: &[String], found: &mut Findings) {
    if let Some(reason) = names::git_path_problem(path) {
        found.add(path, GIT_PATH, reason, true, allow);
    }
    if let Some(reason) = names::control_char_problem(path) {
        found.add(path, CONTROL_CHAR, reason, true, allow);
    }
    if let Some(reason) = automation::automation_problem(path) {
        found.add(path, AUTOMATION, reason, false, allow);
    }
}

fn check_symlink(
    path: &BStr,
    target: &BStr,
    links: &std::collections::BTreeMap<BString, BString>,
    allow: &[String],
    found: &mut Findings,
) {
    let (shown, to) = (names::show(path), names::show(target));
    if tree::escapes(path, target, links) {
        let reason = format!("symlink `{shown}` points outside the worktree (`{to}`); never allowed");
        found.add(path, SYMLINK, reason, true, allow);
    } else {
        found.add(path, SYMLINK, format!("new or changed symlink `{shown}` -> `{to}`"), false, allow);
    }
}

/// Gitlinks, `.gitmodules`, `.gitattributes` and new executable bits.
fn check_kind_of_file(
    path: &BStr,
    mode: gix::objs::tree::EntryMode,
    before: Option<gix::objs::tree::EntryMode>,
    allow: &[String],
    found: &mut Findings,
) {
    let shown = names::show(path);
    if mode.is_commit() {
        found.add(path, SUBMODULE, format!("gitlink (submodule) `{shown}` added or changed"), false, allow);
    }
    if names::is_special_file(path, ".gitmodules", "gitmod~1") {
        found.add(path, SUBMODULE, format!("`{shown}` added or changed"), false, allow);
    }
    if names::is_special_file(path, ".gitattributes", "gitatt~1") {
        let reason = format!("`{shown}` added or changed (attributes can name filter, diff and merge drivers)");
        found.add(path, GITATTRIBUTES, reason, false, allow);
    }
    if mode.is_executable() && !before.is_some_and(|m| m.is_executable()) {
        found.add(path, EXEC_BIT, format!("`{shown}` gained the executable bit (100755)"), false, allow);
    }
}

/// A deleted `.gitmodules` changes which submodules exist; a deleted `.gitattributes` is harmless.
fn check_deleted_specials(deleted: &[&BString], allow: &[String], found: &mut Findings) {
    for path in deleted {
        if names::is_special_file(path.as_bstr(), ".gitmodules", "gitmod~1") {
            let reason = format!("`{}` deleted", names::show(path.as_bstr()));
            found.add(path.as_bstr(), SUBMODULE, reason, false, allow);
        }
    }
}

/// Bare repositories committed as files and case collisions, where a touched path is involved.
fn check_tree_shapes(
    reader: &mut lookup::TreeReader<'_>,
    touched: &BTreeSet<&BString>,
    allow: &[String],
    found: &mut Findings,
) -> anyhow::Result<()> {
    for dir in lookup::bare_repositories(reader, touched)? {
        let shown = if dir.is_empty() { ".".to_string() } else { names::show(dir.as_bstr()) };
        let reason = format!("`{shown}` holds a bare repository (HEAD, objects/, refs/) committed as files");
        found.add(dir.as_bstr(), EMBEDDED_REPO, reason, true, allow);
    }
    for group in lookup::case_collisions(reader, touched)? {
        let shown: Vec<String> = group.iter().map(|path| format!("`{}`", names::show(path.as_bstr()))).collect();
        let reason = format!("{} collide on a case-insensitive filesystem", shown.join(" and "));
        for path in group.iter().filter(|path| touched.contains(path)) {
            found.add(path.as_bstr(), CASE_COLLISION, reason.clone(), true, allow);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "sensitive_tests.rs"]
mod tests;
