//! The agent's private state of one run: a folder of its own (`<layout>/agent/<run-id>/`) with a
//! copy of what its CLI needs from the user's state folder (login, configuration, global
//! instructions, skills) and an empty cache folder. The agent gets `CODEX_HOME` /
//! `CLAUDE_CONFIG_DIR` and `XDG_CACHE_HOME` pointing there, under every sandbox and without one,
//! so nothing it writes there (a `config.toml` with `notify`, MCP servers, hooks in
//! `settings.json`, an `AGENTS.md`) reaches the user's next session. Its session logs are copied
//! into the run folder (`agent-sessions/`); the folder is removed when the run's sandbox plan is
//! dropped.
//!
//! The private folder is not under the system temp folder: codex refuses to make its helper
//! commands (`apply_patch`) below one.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::StatePaths;
use crate::agent::AgentKind;
use crate::walk::{Entry, Step, Walk, WalkError};

/// What a private copy carries from the user's state folder of one CLI.
struct Carried {
    /// The variable that points the CLI at its state folder.
    var: &'static str,
    /// Files copied when they exist (login, configuration, global instructions).
    files: &'static [&'static str],
    /// Folders copied whole when they exist.
    dirs: &'static [&'static str],
    /// The folder of session logs, copied back into the run folder.
    sessions: &'static str,
}

const CODEX: Carried = Carried {
    var: "CODEX_HOME",
    files: &["config.toml", "auth.json", "AGENTS.md", "AGENTS.override.md"],
    dirs: &["prompts", "skills", "rules"],
    sessions: "sessions",
};

const CLAUDE: Carried = Carried {
    var: "CLAUDE_CONFIG_DIR",
    files: &[".credentials.json", ".claude.json", ".config.json", "settings.json", "settings.local.json", "CLAUDE.md"],
    dirs: &["agents", "commands", "skills", "output-styles"],
    sessions: "projects",
};

/// At most this much of the session logs is copied back into the run folder.
const SESSIONS_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The folder of a repository's worktree layout that holds the runs' private states
/// (`<layout>/agent/<run-id>/`).
pub const PRIVATE_STATE_DIR: &str = "agent";

/// How deep a copied folder may go.
const COPY_MAX_DEPTH: usize = 16;

/// The name of the copied session logs in the run folder.
pub const SESSIONS_DIR: &str = "agent-sessions";

fn carried(agent: AgentKind) -> &'static Carried {
    match agent {
        AgentKind::Codex => &CODEX,
        AgentKind::Claude => &CLAUDE,
    }
}

/// One run's private state folder; removed on drop.
#[derive(Debug)]
pub struct PrivateState {
    root: PathBuf,
    agent: AgentKind,
}

impl PrivateState {
    /// Makes `root` afresh (`home/` with the copy of `state`, `cache/`). Each of `cache_links`
    /// (writable folders inside the user's cache) is linked into the private cache under the same
    /// name, so tools that follow `XDG_CACHE_HOME` use the real one there.
    pub fn create(root: &Path, state: &StatePaths, cache_links: &[PathBuf]) -> anyhow::Result<PrivateState> {
        remove_tree(root)?;
        let private = PrivateState { root: root.to_path_buf(), agent: state.agent };
        for dir in [private.home(), private.cache()] {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        set_mode(root, 0o700)?;
        let carried = carried(state.agent);
        if let Some(source) = &state.dir {
            for name in carried.files.iter().chain(carried.dirs) {
                copy_tree(&source.join(name), &private.home().join(name))?;
            }
        }
        if let Some(file) = &state.global_file {
            copy_tree(file, &private.home().join(".claude.json"))?;
        }
        for link in cache_links {
            let Some(rel) = state.cache.as_ref().and_then(|cache| link.strip_prefix(cache).ok()) else { continue };
            let at = private.cache().join(rel);
            if rel.as_os_str().is_empty() || at.exists() {
                continue;
            }
            if let Some(parent) = at.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            std::os::unix::fs::symlink(link, &at).with_context(|| format!("linking {}", at.display()))?;
        }
        Ok(private)
    }

    /// The folder itself (writable for the agent).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The private `CODEX_HOME` / `CLAUDE_CONFIG_DIR`.
    pub fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    /// The private `XDG_CACHE_HOME`.
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The variables that point the agent at its private state.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        vec![
            (carried(self.agent).var.into(), self.home().into_os_string()),
            ("XDG_CACHE_HOME".into(), self.cache().into_os_string()),
        ]
    }

    /// Copies the agent's session logs into `<run_dir>/agent-sessions/` (regular files and
    /// folders only, at most [`SESSIONS_MAX_BYTES`]); a message when some were left out.
    pub fn collect_sessions(&self, run_dir: &Path) -> anyhow::Result<Option<String>> {
        let sessions = carried(self.agent).sessions;
        let mut budget = SESSIONS_MAX_BYTES;
        let source = self.home().join(sessions);
        if !source.is_dir() {
            return Ok(None);
        }
        let complete = copy_files_only(&source, &run_dir.join(SESSIONS_DIR).join(sessions), &mut budget)?;
        Ok((!complete).then(|| {
            format!(
                "NOTE: the agent's session logs were copied into {SESSIONS_DIR}/ only up to {SESSIONS_MAX_BYTES} bytes"
            )
        }))
    }
}

impl Drop for PrivateState {
    fn drop(&mut self) {
        let _ = remove_tree(&self.root);
        if let Some(parent) = self.root.parent() {
            let _ = std::fs::remove_dir(parent); // only when no other run's folder is there
        }
    }
}

/// Copies a file or a folder from the user's state, following symlinks (a link would let the
/// agent write through to the user's file); missing is nothing. Folders deeper than
/// [`COPY_MAX_DEPTH`] and symlink loops are left out.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::metadata(from) else { return Ok(()) };
    if meta.is_file() {
        return copy_file(from, to);
    }
    if !meta.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    Walk::new(from).follow_links().max_depth(COPY_MAX_DEPTH).try_collect(|entry, _: &mut Vec<()>| {
        let entry = match entry {
            Ok(entry) => entry,
            // A dangling link or a loop: nothing to copy there.
            Err(err) if matches!(err.error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidData) => {
                return Ok(Step::Continue)
            }
            Err(err) => return Err(err).with_context(|| format!("listing {}", from.display())),
        };
        let Ok(meta) = entry.metadata() else { return Ok(Step::Continue) };
        let target = to.join(entry.rela());
        if meta.is_dir() && entry.depth() < COPY_MAX_DEPTH {
            std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
        } else if meta.is_dir() {
            return Ok(Step::Prune);
        } else if meta.is_file() {
            copy_file(entry.path(), &target)?;
        }
        Ok(Step::Continue)
    })?;
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(to);
    std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// Copies the regular files and folders below `from` (the agent's: symlinks and special files are
/// skipped) while `budget` lasts; `false` when something was left out for want of it.
fn copy_files_only(from: &Path, to: &Path, budget: &mut u64) -> anyhow::Result<bool> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let mut complete = true;
    let mut failure = None;
    Walk::new(from).each(|entry| {
        let copied = copy_one_file(from, to, entry, budget).map(|fitted| complete &= fitted);
        copied.map_or_else(
            |err| {
                failure = Some(err);
                Step::Stop
            },
            |()| Step::Continue,
        )
    });
    failure.map_or(Ok(complete), Err)
}

/// [`copy_files_only`] of one entry; `false` when it did not fit the budget.
fn copy_one_file(
    from: &Path,
    to: &Path,
    entry: Result<Entry<'_>, WalkError>,
    budget: &mut u64,
) -> anyhow::Result<bool> {
    let entry = entry.with_context(|| format!("listing {}", from.display()))?;
    let meta = entry.metadata().with_context(|| format!("inspecting {}", from.display()))?;
    let target = to.join(entry.rela());
    if meta.is_dir() {
        std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    } else if meta.is_file() && meta.len() <= *budget {
        std::fs::copy(entry.path(), &target).with_context(|| format!("copying {}", entry.path().display()))?;
        *budget -= meta.len();
    } else if meta.is_file() {
        return Ok(false);
    }
    Ok(true)
}

fn remove_tree(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_private_copy_carries_login_and_config_and_goes_with_the_plan() {
        let dir = tempfile::tempdir().expect("temp dir");
        let user = dir.path().join("user-claude");
        std::fs::create_dir_all(user.join("agents")).expect("agents");
        std::fs::create_dir_all(user.join("projects/p")).expect("projects");
        std::fs::write(user.join(".credentials.json"), "{}").expect("credentials");
        std::fs::write(user.join("agents/a.md"), "a").expect("agent");
        std::fs::write(user.join("projects/p/old.jsonl"), "old").expect("old session");
        std::fs::write(dir.path().join("claude.json"), "{\"x\": 1}").expect("claude.json");
        let cache = dir.path().join("cache");
        let state = StatePaths {
            agent: AgentKind::Claude,
            dir: Some(user.clone()),
            global_file: Some(dir.path().join("claude.json")),
            cache: Some(cache.clone()),
            guarded: Vec::new(),
        };
        let root = dir.path().join("layout/agent/run-1");
        let private = PrivateState::create(&root, &state, &[cache.join("pip"), dir.path().join("elsewhere")])
            .expect("private state");
        let home = private.home();
        assert_eq!(std::fs::read_to_string(home.join(".credentials.json")).expect("copied"), "{}");
        assert_eq!(std::fs::read_to_string(home.join(".claude.json")).expect("copied"), "{\"x\": 1}");
        assert_eq!(std::fs::read_to_string(home.join("agents/a.md")).expect("copied"), "a");
        assert!(!home.join("projects").exists(), "old sessions stay the user's");
        assert_eq!(std::fs::read_link(private.cache().join("pip")).expect("link"), cache.join("pip"));
        assert_eq!(std::fs::read_dir(private.cache()).expect("cache").count(), 1);
        assert_eq!(private.env()[0], (OsString::from("CLAUDE_CONFIG_DIR"), home.clone().into_os_string()));

        std::fs::create_dir_all(home.join("projects/p")).expect("sessions");
        std::fs::write(home.join("projects/p/s.jsonl"), "log").expect("session");
        std::os::unix::fs::symlink("/etc/passwd", home.join("projects/p/link")).expect("symlink");
        let run_dir = dir.path().join("run");
        assert_eq!(private.collect_sessions(&run_dir).expect("collect"), None);
        let copied = run_dir.join("agent-sessions/projects/p");
        assert_eq!(std::fs::read_to_string(copied.join("s.jsonl")).expect("copied back"), "log");
        assert!(std::fs::symlink_metadata(copied.join("link")).is_err(), "symlinks are not copied back");
        drop(private);
        assert!(!root.exists() && !dir.path().join("layout/agent").exists());
        assert_eq!(std::fs::read_dir(&user).expect("user dir").count(), 3, "the user's folder is untouched");
    }
}
