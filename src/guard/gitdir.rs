//! Fingerprint of the shared (common) git dir: every file a run may not change, kept with its
//! bytes and mode so that it can be restored, and the comparison of two such fingerprints.
//!
//! Tracked: `config`, `config.worktree`, `packed-refs`, the top-level `*HEAD` files, `info/**`,
//! `hooks/**`, `branches/**`, `remotes/**`, `refs/**` except `refs/heads/dispatch/**`, the
//! reflogs `logs/**` except `logs/refs/heads/dispatch/**`,
//! `objects/info/{alternates,http-alternates}`, `modules/<name>/{config,config.worktree,HEAD,
//! hooks/**,info/**}` (nested modules too), `worktrees/<name>/{HEAD,gitdir,commondir,
//! config.worktree,locked,logs/**}`, and every `*.lock`
//! anywhere outside `objects/` directories. Worktree admin dirs whose `gitdir` points under
//! git-dispatch's worktrees root are its own.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::fsmeta::{self, Identity};
use super::packed;
use crate::walk::{Entry, Step, Walk, WalkError};

/// Files of one worktree admin dir that a run may not change.
const ADMIN_FILES: [&str; 5] = ["HEAD", "gitdir", "commondir", "config.worktree", "locked"];
/// Of those, the ones that say where the worktree's git dir, common dir and config are.
const ADMIN_LINKS: [&str; 3] = ["gitdir", "commondir", "config.worktree"];
/// The loose refs git-dispatch creates and deletes itself (its scratch branches).
pub(crate) const OWN_REFS_DIR: &str = "refs/heads/dispatch";
/// The reflogs of those branches.
const OWN_LOGS_DIR: &str = "logs/refs/heads/dispatch";

/// The content of one tracked git-dir entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    File {
        bytes: Vec<u8>,
        mode: u32,
    },
    Symlink {
        target: PathBuf,
    },
    /// A fifo, socket or device where a file belongs: recorded by type only, never opened.
    Special,
}

/// One tracked entry: what it holds, and which on-disk file it was.
#[derive(Clone, Debug)]
pub(crate) struct GitFile {
    pub(crate) content: Content,
    pub(crate) identity: Identity,
}

/// The tracked part of a git dir at one moment. Paths are relative to the common dir.
#[derive(Clone, Debug, Default)]
pub(crate) struct GitDirSnapshot {
    pub(crate) files: BTreeMap<PathBuf, GitFile>,
    /// Directories inside tracked areas (so that directories a run created can be removed again).
    pub(crate) dirs: BTreeSet<PathBuf>,
    /// Worktree admin dir name -> `true` when it belongs to git-dispatch.
    pub(crate) admin_dirs: BTreeMap<OsString, bool>,
}

/// How a tracked path differs between two snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TamperKind {
    Created,
    Modified,
    Deleted,
}

/// Whether everything below a directory is tracked, or only its `*.lock` files.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Area {
    Tracked,
    LocksOnly,
}

/// Reads the tracked files of `common_dir`; admin dirs whose `gitdir` lies under `own_worktrees_root`
/// are marked as git-dispatch's own.
pub(crate) fn capture(common_dir: &Path, own_worktrees_root: &Path) -> Result<GitDirSnapshot> {
    let own_roots = own_roots(own_worktrees_root);
    let mut walker = Walker { root: common_dir, own_roots: &own_roots, snap: GitDirSnapshot::default() };
    walker.common_dir().with_context(|| format!("fingerprinting the git dir {}", common_dir.display()))?;
    Ok(walker.snap)
}

/// The tracked paths that differ between `before` and `after`, sorted, with how they differ.
/// A directory of a tracked area that is gone counts as deleted (git needs `refs/` and friends).
pub(crate) fn compare(before: &GitDirSnapshot, after: &GitDirSnapshot) -> Vec<(PathBuf, TamperKind)> {
    let paths: BTreeSet<&PathBuf> = before.files.keys().chain(after.files.keys()).collect();
    let changed_files = paths.into_iter().filter_map(|path| {
        let kind = tamper_kind(path, before.files.get(path), after.files.get(path))?;
        Some((path.clone(), kind))
    });
    let deleted_dirs = before
        .dirs
        .iter()
        .filter(|dir| !after.dirs.contains(*dir) && !after.files.contains_key(*dir))
        .map(|dir| (dir.clone(), TamperKind::Deleted));
    let all: BTreeMap<PathBuf, TamperKind> = changed_files.chain(deleted_dirs).collect();
    all.into_iter().filter(|(path, _)| !is_own_admin_path(path, before, after)).collect()
}

/// A path relative to the git dir as the report shows it (`/` separated).
pub(crate) fn display_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// `true` for lock files (`*.lock`).
pub(crate) fn is_lock(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name.as_encoded_bytes().ends_with(b".lock"))
}

fn tamper_kind(path: &Path, before: Option<&GitFile>, after: Option<&GitFile>) -> Option<TamperKind> {
    if is_lock(path) {
        // A lock that went away was released by its owner; only a new or rewritten lock is stale.
        return match (before, after) {
            (None, Some(_)) => Some(TamperKind::Created),
            (Some(b), Some(a)) if b.content != a.content => Some(TamperKind::Modified),
            _ => None,
        };
    }
    if path == Path::new(packed::FILE_NAME) {
        let same = packed::comparable(before.map(|f| &f.content)) == packed::comparable(after.map(|f| &f.content));
        return (!same).then(|| kind_by_presence(before, after));
    }
    match (before, after) {
        (None, None) => None,
        (Some(b), Some(a)) if b.content == a.content => None,
        _ => Some(kind_by_presence(before, after)),
    }
}

fn kind_by_presence(before: Option<&GitFile>, after: Option<&GitFile>) -> TamperKind {
    match (before, after) {
        (None, _) => TamperKind::Created,
        (_, None) => TamperKind::Deleted,
        _ => TamperKind::Modified,
    }
}

/// `true` for files of an admin dir that is git-dispatch's wherever it exists (before and after),
/// except its links (`commondir`, `gitdir`, `config.worktree`) while it exists before and after:
/// nothing of git-dispatch rewrites those, and a redirect would be read by its next git step.
fn is_own_admin_path(path: &Path, before: &GitDirSnapshot, after: &GitDirSnapshot) -> bool {
    let Some(name) = admin_dir_name(path) else { return false };
    if !before.admin_dirs.contains_key(name) && !after.admin_dirs.contains_key(name) {
        return false; // not an admin dir at all (a lock file directly in `worktrees/`)
    }
    let is_link = path.components().count() == 3 && ADMIN_LINKS.iter().any(|link| path.ends_with(link));
    if is_link && before.admin_dirs.get(name) == Some(&true) && after.admin_dirs.get(name) == Some(&true) {
        return false;
    }
    let own_or_absent = |snap: &GitDirSnapshot| snap.admin_dirs.get(name).copied().unwrap_or(true);
    own_or_absent(before) && own_or_absent(after)
}

/// `x` for `worktrees/x` and everything below it.
fn admin_dir_name(path: &Path) -> Option<&std::ffi::OsStr> {
    let mut components = path.components();
    if components.next()?.as_os_str() != "worktrees" {
        return None;
    }
    Some(components.next()?.as_os_str())
}

fn own_roots(own_worktrees_root: &Path) -> Vec<PathBuf> {
    let mut roots = vec![own_worktrees_root.to_path_buf()];
    if let Ok(canonical) = fs::canonicalize(own_worktrees_root) {
        if canonical != own_worktrees_root {
            roots.push(canonical);
        }
    }
    roots
}

struct Walker<'a> {
    root: &'a Path,
    own_roots: &'a [PathBuf],
    snap: GitDirSnapshot,
}

impl Walker<'_> {
    fn common_dir(&mut self) -> Result<()> {
        for name in self.children(Path::new(""))? {
            let rel = PathBuf::from(&name);
            match name.to_str() {
                Some("objects") => {
                    self.visit(&rel.join("info/alternates"), Area::Tracked)?;
                    self.visit(&rel.join("info/http-alternates"), Area::Tracked)?;
                }
                Some("refs" | "logs" | "hooks" | "info" | "branches" | "remotes") => self.visit(&rel, Area::Tracked)?,
                Some("modules") => self.modules(&rel)?,
                Some("worktrees") => self.worktrees(&rel)?,
                Some(top) if is_tracked_top_file(top) => self.visit(&rel, Area::Tracked)?,
                _ => self.visit(&rel, Area::LocksOnly)?,
            }
        }
        Ok(())
    }

    /// `modules/` holds submodule git dirs, possibly below name prefixes (`modules/lib/foo`): walked
    /// down to the folders holding a `HEAD` (each a submodule's git dir, read as one); the other
    /// entries are only checked for locks.
    fn modules(&mut self, rel: &Path) -> Result<()> {
        let (mut git_dirs, mut failure) = (Vec::new(), None);
        Walk::new(&self.root.join(rel)).each(|found| {
            let step = self.module_entry(rel, found, &mut git_dirs);
            step.unwrap_or_else(|err| {
                failure = Some(err);
                Step::Stop
            })
        });
        if let Some(err) = failure {
            return Err(err);
        }
        git_dirs.iter().try_for_each(|git_dir| self.submodule_git_dir(git_dir))
    }

    /// One entry of the walk of `modules/` at `rel`: a submodule's git dir is kept for later.
    fn module_entry(
        &mut self,
        rel: &Path,
        found: Result<Entry<'_>, WalkError>,
        git_dirs: &mut Vec<PathBuf>,
    ) -> Result<Step> {
        let entry = match found {
            Ok(entry) => entry,
            Err(err) if err.error.kind() == io::ErrorKind::NotFound => return Ok(Step::Continue),
            Err(err) => return Err(err).context("listing the git dir's modules"),
        };
        let child = rel.join(entry.rela());
        if !entry.is_dir() {
            self.visit(&child, Area::LocksOnly)?;
            return Ok(Step::Continue);
        }
        if self.lstat(&child.join("HEAD"))?.is_some() {
            git_dirs.push(child);
            return Ok(Step::Prune);
        }
        Ok(Step::Continue)
    }

    fn submodule_git_dir(&mut self, rel: &Path) -> Result<()> {
        for name in self.children(rel)? {
            let child = rel.join(&name);
            match name.to_str() {
                Some("config" | "config.worktree" | "HEAD" | "hooks" | "info") => self.visit(&child, Area::Tracked)?,
                Some("modules") => self.modules(&child)?,
                _ => self.visit(&child, Area::LocksOnly)?,
            }
        }
        Ok(())
    }

    fn worktrees(&mut self, rel: &Path) -> Result<()> {
        for name in self.children(rel)? {
            let admin = rel.join(&name);
            let Some(meta) = self.lstat(&admin)? else { continue };
            if !meta.is_dir() {
                self.visit(&admin, Area::LocksOnly)?;
                continue;
            }
            let owned = self.is_own_admin_dir(&admin);
            self.snap.admin_dirs.insert(name.clone(), owned);
            if !owned {
                self.snap.dirs.insert(admin.clone());
            }
            for child_name in self.children(&admin)? {
                let child = admin.join(&child_name);
                if ADMIN_FILES.iter().any(|f| child_name == *f) || child_name == "logs" {
                    self.visit(&child, Area::Tracked)?;
                } else if !owned {
                    self.visit(&child, Area::LocksOnly)?;
                }
            }
        }
        Ok(())
    }

    fn is_own_admin_dir(&self, admin: &Path) -> bool {
        let Ok(bytes) = fs::read(self.root.join(admin).join("gitdir")) else { return false };
        let text = String::from_utf8_lossy(&bytes);
        let gitdir = Path::new(text.trim_end_matches(['\n', '\r']));
        gitdir.is_absolute() && self.own_roots.iter().any(|root| gitdir.starts_with(root))
    }

    fn visit(&mut self, rel: &Path, area: Area) -> Result<()> {
        let Some(meta) = self.lstat(rel)? else { return Ok(()) };
        if !meta.is_dir() {
            return self.record_if_kept(rel, &meta, area);
        }
        if self.skipped_dir(rel, area) {
            return Ok(());
        }
        let mut failure = None;
        Walk::new(&self.root.join(rel)).each(|found| {
            let step = self.visit_below(rel, found, area);
            step.unwrap_or_else(|err| {
                failure = Some(err);
                Step::Stop
            })
        });
        failure.map_or(Ok(()), Err)
    }

    /// One entry of the walk below the directory `rel` (already recorded).
    fn visit_below(&mut self, rel: &Path, found: Result<Entry<'_>, WalkError>, area: Area) -> Result<Step> {
        let entry = match found {
            Ok(entry) => entry,
            Err(err) if err.error.kind() == io::ErrorKind::NotFound => return Ok(Step::Continue),
            Err(err) => return Err(err).context("listing the git dir"),
        };
        let child = rel.join(entry.rela());
        if entry.is_dir() {
            return Ok(if self.skipped_dir(&child, area) { Step::Prune } else { Step::Continue });
        }
        match entry.metadata() {
            Ok(meta) => self.record_if_kept(&child, &meta, area)?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("reading the metadata of {}", entry.path().display())),
        }
        Ok(Step::Continue)
    }

    /// Whether the directory `rel` is left out (git-dispatch's own refs, an object store), else
    /// records it (in the tracked area).
    fn skipped_dir(&mut self, rel: &Path, area: Area) -> bool {
        let own = rel == Path::new(OWN_REFS_DIR) || rel == Path::new(OWN_LOGS_DIR);
        if own || (area == Area::LocksOnly && rel.ends_with("objects")) {
            return true;
        }
        if area == Area::Tracked {
            self.snap.dirs.insert(rel.to_path_buf());
        }
        false
    }

    fn record_if_kept(&mut self, rel: &Path, meta: &Metadata, area: Area) -> Result<()> {
        if area == Area::Tracked || is_lock(rel) {
            self.record(rel, meta)?;
        }
        Ok(())
    }

    fn record(&mut self, rel: &Path, meta: &Metadata) -> Result<()> {
        let abs = self.root.join(rel);
        let content = if meta.file_type().is_symlink() {
            match fs::read_link(&abs) {
                Ok(target) => Content::Symlink { target },
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(err) => return Err(err).with_context(|| format!("reading the symlink {}", abs.display())),
            }
        } else if meta.is_file() {
            match fs::read(&abs) {
                Ok(bytes) => Content::File { bytes, mode: fsmeta::permission_bits(meta) },
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(err) => return Err(err).with_context(|| format!("reading {}", abs.display())),
            }
        } else {
            Content::Special
        };
        self.snap.files.insert(rel.to_path_buf(), GitFile { content, identity: Identity::of(meta) });
        Ok(())
    }

    fn lstat(&self, rel: &Path) -> Result<Option<Metadata>> {
        let abs = self.root.join(rel);
        match fs::symlink_metadata(&abs) {
            Ok(meta) => Ok(Some(meta)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).with_context(|| format!("reading the metadata of {}", abs.display())),
        }
    }

    /// Names in a directory, sorted; a directory that vanished meanwhile has none.
    fn children(&self, rel: &Path) -> Result<Vec<OsString>> {
        let abs = self.root.join(rel);
        let entries = match fs::read_dir(&abs) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(err).with_context(|| format!("listing {}", abs.display())),
        };
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry.with_context(|| format!("listing {}", abs.display()))?.file_name());
        }
        names.sort();
        Ok(names)
    }
}

/// Top-level files of the common dir that are tracked: its config and every `*HEAD` file.
fn is_tracked_top_file(name: &str) -> bool {
    matches!(name, "config" | "config.worktree" | packed::FILE_NAME) || name.ends_with("HEAD")
}
