//! Where workspaces live on disk: the worktrees root, the per-repository folder
//! `<repo-name>-<short-hash>`, worktree directories, and the pool/busy marker files that say
//! which worktree is idle and which run owns which worktree.
//!
//! ```text
//! <root>/<repo-name>-<hash>/
//!   wt/<name>/        linked worktrees (unique basenames: gix names admin dirs after them)
//!   pool/<name>       marker: worktree <name> is idle (detached, clean); holds its seal, if any
//!   busy/<name>       marker: worktree <name> belongs to the run id written in it
//! ```
//! Claiming an idle worktree is an atomic `rename(pool/<name>, busy/<name>)`: of two concurrent
//! dispatches only one wins.

use super::{WorkspaceError, WorkspaceOptions};
use anyhow::Context as _;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The folders of one repository below the worktrees root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoLayout {
    /// `<root>/<repo-name>-<short-hash>`
    pub dir: PathBuf,
}

impl RepoLayout {
    /// The layout for the repository whose (canonical) common git dir is `common_dir`.
    pub fn new(root: &Path, common_dir: &Path, repo_name: &str) -> Self {
        RepoLayout { dir: root.join(repo_folder_name(common_dir, repo_name)) }
    }

    /// Folder holding the worktree checkouts.
    pub fn worktrees_dir(&self) -> PathBuf {
        self.dir.join("wt")
    }

    /// The checkout of worktree `name`.
    pub fn worktree_path(&self, name: &str) -> PathBuf {
        self.worktrees_dir().join(name)
    }

    /// Folder of idle markers.
    pub fn pool_dir(&self) -> PathBuf {
        self.dir.join("pool")
    }

    /// Folder of ownership markers.
    pub fn busy_dir(&self) -> PathBuf {
        self.dir.join("busy")
    }

    /// Creates the folders if needed.
    pub fn ensure(&self) -> anyhow::Result<()> {
        for dir in [self.worktrees_dir(), self.pool_dir(), self.busy_dir()] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating workspace folder {}", dir.display()))?;
        }
        Ok(())
    }

    /// Names of idle pooled worktrees, sorted.
    pub fn pooled(&self) -> anyhow::Result<Vec<String>> {
        list_names(&self.pool_dir())
    }

    /// `(worktree name, owning run id)` for every busy marker, sorted by name.
    pub fn busy(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for name in list_names(&self.busy_dir())? {
            let path = self.busy_dir().join(&name);
            let owner = match std::fs::read_to_string(&path) {
                Ok(text) => text.trim().to_string(),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
            };
            out.push((name, owner));
        }
        Ok(out)
    }

    /// Marks worktree `name` as owned by `run_id` (replacing any marker atomically).
    pub fn mark_busy(&self, name: &str, run_id: &str) -> anyhow::Result<()> {
        let path = self.busy_dir().join(name);
        let tmp = self.busy_dir().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, format!("{run_id}\n")).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    /// What the marker of worktree `name` holds (its seal, when it was just claimed).
    pub fn marker(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.busy_dir().join(name)).unwrap_or_default()
    }

    /// Atomically moves idle worktree `name` to busy. `Ok(false)` when another process was faster.
    pub fn claim(&self, name: &str) -> anyhow::Result<bool> {
        let from = self.pool_dir().join(name);
        let to = self.busy_dir().join(name);
        match std::fs::rename(&from, &to) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err).with_context(|| format!("claiming {}", from.display())),
        }
    }

    /// Moves worktree `name` from busy to the pool; the marker then holds `content` (a seal, or
    /// `pool`).
    pub fn park(&self, name: &str, content: &[u8]) -> anyhow::Result<()> {
        let from = self.busy_dir().join(name);
        let to = self.pool_dir().join(name);
        std::fs::write(&from, content).with_context(|| format!("writing {}", from.display()))?;
        std::fs::rename(&from, &to).with_context(|| format!("moving {} to the pool", from.display()))
    }

    /// Removes every marker of worktree `name`.
    pub fn forget(&self, name: &str) -> anyhow::Result<()> {
        for path in [self.pool_dir().join(name), self.busy_dir().join(name)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err).with_context(|| format!("removing {}", path.display())),
            }
        }
        Ok(())
    }
}

/// Held while a worktree of one repository is added or removed. gix's `add_worktree` reads every
/// other worktree's admin folder, and fails on one that another thread or process is writing or
/// deleting at that moment (`Refusing to read an empty path from .../gitdir`), so these steps take
/// turns. The lock file is `admin.lock` in the repository's folder of the user's worktrees root
/// (never a shared temp folder another user could own); it is released when dropped.
pub struct AdminLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl AdminLock {
    /// Waits for the lock of the repository whose folder below the worktrees root is `layout_dir`.
    pub fn acquire(layout_dir: &Path) -> anyhow::Result<AdminLock> {
        std::fs::create_dir_all(layout_dir).with_context(|| format!("creating {}", layout_dir.display()))?;
        let path = layout_dir.join("admin.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| errno)
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(AdminLock { _lock: lock })
    }
}

/// `<repo-name>-<short-hash>`, the hash taken over the canonical common dir path.
pub fn repo_folder_name(common_dir: &Path, repo_name: &str) -> String {
    let digest = Sha256::digest(common_dir.as_os_str().as_encoded_bytes());
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let name: String = repo_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    let name = name.trim_start_matches('.');
    let name = if name.is_empty() { "repo" } else { name };
    format!("{name}-{short}")
}

/// The worktrees root: the override, else `${XDG_CACHE_HOME:-~/.cache}/git-dispatch/worktrees`.
pub fn worktrees_root(opts: &WorkspaceOptions) -> anyhow::Result<PathBuf> {
    if let Some(root) = &opts.worktrees_root {
        return absolute(root);
    }
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).ok_or(WorkspaceError::NoCacheDir)?;
            PathBuf::from(home).join(".cache")
        }
    };
    absolute(&cache.join("git-dispatch").join("worktrees"))
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

/// Canonical form of `path`, resolving the longest existing prefix (the rest may not exist yet).
pub fn canonical_prefix(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize().unwrap_or(existing);
    for name in rest.into_iter().rev() {
        out.push(name);
    }
    out
}

/// A run id usable as a branch component and a file name: `[A-Za-z0-9._-]`, not starting with
/// `.` or `-`, no `..`, not ending in `.lock`, at most 200 bytes.
pub fn validate_run_id(run_id: &str) -> Result<(), WorkspaceError> {
    let ok = !run_id.is_empty()
        && run_id.len() <= 200
        && run_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !run_id.starts_with(['.', '-'])
        && !run_id.contains("..")
        && !run_id.ends_with(".lock")
        && !run_id.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(WorkspaceError::InvalidRunId(run_id.to_string()))
    }
}

fn list_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("listing {}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if let Some(name) = entry.file_name().to_str() {
            if !name.starts_with('.') {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_name_is_name_and_stable_hash() {
        let a = repo_folder_name(Path::new("/x/proj/.git"), "proj");
        assert_eq!(a, repo_folder_name(Path::new("/x/proj/.git"), "proj"));
        assert!(a.starts_with("proj-"), "{a}");
        assert_eq!(a.len(), "proj-".len() + 12);
        assert_ne!(a, repo_folder_name(Path::new("/y/proj/.git"), "proj"));
        assert!(repo_folder_name(Path::new("/a"), "we ird/na:me").starts_with("we_ird_na_me-"));
        assert!(repo_folder_name(Path::new("/a"), "..").starts_with("repo-"));
    }

    #[test]
    fn run_ids_are_validated() {
        for ok in ["20260101-000000-worker-fix-bug", "a", "A.b_c-1"] {
            assert!(validate_run_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a..b", "x.lock", "a b", "é", "x."] {
            assert!(validate_run_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn root_override_is_made_absolute() {
        let opts = WorkspaceOptions { worktrees_root: Some(PathBuf::from("/tmp/wts")), ..Default::default() };
        assert_eq!(worktrees_root(&opts).unwrap(), PathBuf::from("/tmp/wts"));
    }
}
