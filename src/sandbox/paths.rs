//! Which paths outside the worktree a confined agent must be able to write: its own state
//! folders (`CODEX_HOME`, `CLAUDE_CONFIG_DIR`), the cache folder, and the user's extra writable
//! paths (`--writable`, `WRITABLE:`) with `~` expanded. The agent's configuration files inside
//! its state folder stay read-only (when they exist): they name commands the user's next
//! unconfined session would run (codex `notify` and MCP servers, claude hooks).
//!
//! `~/.claude.json` is deliberately not writable: it holds MCP server definitions, and Claude Code
//! 2.1 runs without updating it (checked against the real CLI under bwrap).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::agent::AgentKind;

/// State an agent CLI writes outside its working folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatePaths {
    /// Folders, writable, created when missing.
    pub dirs: Vec<PathBuf>,
    /// Configuration files inside them, re-bound read-only when they exist.
    pub read_only: Vec<PathBuf>,
}

/// The state paths of `agent`, from `home` and the variables `var` gives
/// (`CODEX_HOME`, `CLAUDE_CONFIG_DIR`, `XDG_CACHE_HOME`); empty values count as unset.
pub fn agent_state_paths(agent: AgentKind, home: Option<&Path>, var: &dyn Fn(&str) -> Option<OsString>) -> StatePaths {
    let set = |name: &str| var(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let in_home = |name: &str| home.map(|home| home.join(name));
    let (dir, configs): (Option<PathBuf>, &[&str]) = match agent {
        AgentKind::Codex => (set("CODEX_HOME").or_else(|| in_home(".codex")), &["config.toml"]),
        AgentKind::Claude => {
            (set("CLAUDE_CONFIG_DIR").or_else(|| in_home(".claude")), &["settings.json", "settings.local.json"])
        }
    };
    let mut state = StatePaths::default();
    if let Some(dir) = dir {
        state.read_only.extend(configs.iter().map(|name| dir.join(name)));
        state.dirs.push(dir);
    }
    state.dirs.extend(set("XDG_CACHE_HOME").or_else(|| in_home(".cache")));
    state
}

/// A `--writable` / `WRITABLE:` entry as an absolute path: `~` and `~/...` are below `home`,
/// relative paths below `base`.
pub fn expand_writable(text: &str, home: Option<&Path>, base: &Path) -> anyhow::Result<PathBuf> {
    let home_relative = if text == "~" { Some("") } else { text.strip_prefix("~/") };
    let path = match home_relative {
        Some(rest) => {
            let home = home.ok_or_else(|| anyhow::anyhow!("writable path {text:?} needs HOME, which is not set"))?;
            home.join(rest)
        }
        None => base.join(text),
    };
    Ok(normalize(&path))
}

/// `.` and `..` resolved lexically (the path may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| OsString::from(value))
    }

    #[test]
    fn codex_state_is_codex_home_else_dot_codex_with_its_config_read_only() {
        let home = Path::new("/h");
        let state = agent_state_paths(AgentKind::Codex, Some(home), &vars(&[]));
        assert_eq!(state.dirs, vec![PathBuf::from("/h/.codex"), PathBuf::from("/h/.cache")]);
        assert_eq!(state.read_only, vec![PathBuf::from("/h/.codex/config.toml")]);
        let state =
            agent_state_paths(AgentKind::Codex, Some(home), &vars(&[("CODEX_HOME", "/c"), ("XDG_CACHE_HOME", "/x")]));
        assert_eq!(state.dirs, vec![PathBuf::from("/c"), PathBuf::from("/x")]);
        assert_eq!(state.read_only, vec![PathBuf::from("/c/config.toml")]);
    }

    #[test]
    fn claude_state_is_its_config_dir_with_the_settings_read_only() {
        let home = Path::new("/h");
        let state = agent_state_paths(AgentKind::Claude, Some(home), &vars(&[("XDG_CACHE_HOME", "")]));
        assert_eq!(state.dirs, vec![PathBuf::from("/h/.claude"), PathBuf::from("/h/.cache")]);
        assert_eq!(
            state.read_only,
            vec![PathBuf::from("/h/.claude/settings.json"), PathBuf::from("/h/.claude/settings.local.json")]
        );
        let state = agent_state_paths(AgentKind::Claude, None, &vars(&[("CLAUDE_CONFIG_DIR", "/cc")]));
        assert_eq!(state.dirs, vec![PathBuf::from("/cc")]);
    }

    #[test]
    fn writable_entries_expand_home_and_resolve_relative_paths() {
        let home = Some(Path::new("/h"));
        let base = Path::new("/repo/sub");
        assert_eq!(expand_writable("~/.cache/pip", home, base).expect("ok"), PathBuf::from("/h/.cache/pip"));
        assert_eq!(expand_writable("~", home, base).expect("ok"), PathBuf::from("/h"));
        assert_eq!(expand_writable("../out", home, base).expect("ok"), PathBuf::from("/repo/out"));
        assert_eq!(expand_writable("/abs/./x", home, base).expect("ok"), PathBuf::from("/abs/x"));
        assert!(expand_writable("~/x", None, base).is_err());
    }
}
