//! Which paths outside the worktree matter to an agent run, from HOME and the environment:
//!
//! - the user's state folder of the agent's CLI (`CODEX_HOME` or `~/.codex`; `CLAUDE_CONFIG_DIR`
//!   or `~/.claude`, plus `~/.claude.json` when that variable is not set): only read, to make the
//!   agent's private copy of it (`sandbox/state.rs`);
//! - the user's cache folder (`XDG_CACHE_HOME` or `~/.cache`): replaced by a private one;
//! - the files in which a written line becomes a command or an instruction for the user's next
//!   session (both CLIs' configuration and global instruction files, the global git
//!   configuration): guarded, i.e. put back after the run where the agent could write them;
//! - the secrets hidden from a confined agent (`~/.ssh`, `~/.aws`, ...; [`secret_paths`]);
//! - `--writable` / `WRITABLE:` / `--readable` / `READABLE:` entries with `~` expanded.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::agent::AgentKind;

/// Where the agent's CLI keeps its state, and the user files no run may leave changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePaths {
    pub agent: AgentKind,
    /// The user's state folder of the agent's CLI (copied from, never written).
    pub dir: Option<PathBuf>,
    /// Claude's `~/.claude.json` when `CLAUDE_CONFIG_DIR` is not set (copied as `.claude.json`).
    pub global_file: Option<PathBuf>,
    /// The user's cache folder.
    pub cache: Option<PathBuf>,
    /// Files that name commands or instructions for the user's next codex, claude or git session.
    pub guarded: Vec<PathBuf>,
}

/// Files of a codex state folder read as configuration or global instructions.
const CODEX_GUARDED: [&str; 3] = ["config.toml", "AGENTS.md", "AGENTS.override.md"];
/// Files of a claude config folder read as settings (hooks, MCP servers) or global instructions.
const CLAUDE_GUARDED: [&str; 3] = ["settings.json", "settings.local.json", "CLAUDE.md"];

/// The state paths of a run of `agent`, from `home` and the variables `var` gives (`CODEX_HOME`,
/// `CLAUDE_CONFIG_DIR`, `XDG_CACHE_HOME`, `XDG_CONFIG_HOME`); empty values count as unset.
pub fn agent_state_paths(agent: AgentKind, home: Option<&Path>, var: &dyn Fn(&str) -> Option<OsString>) -> StatePaths {
    let set = |name: &str| var(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let in_home = |name: &str| home.map(|home| home.join(name));
    let codex = set("CODEX_HOME").or_else(|| in_home(".codex"));
    let claude_var = set("CLAUDE_CONFIG_DIR");
    let claude = claude_var.clone().or_else(|| in_home(".claude"));
    let claude_json = match &claude_var {
        Some(dir) => Some(dir.join(".claude.json")),
        None => in_home(".claude.json"),
    };
    let git_config = set("XDG_CONFIG_HOME").or_else(|| in_home(".config")).map(|config| config.join("git"));
    let mut guarded = Vec::new();
    guarded.extend(codex.iter().flat_map(|dir| CODEX_GUARDED.map(|name| dir.join(name))));
    guarded.extend(claude.iter().flat_map(|dir| CLAUDE_GUARDED.map(|name| dir.join(name))));
    guarded.extend(claude_json.clone());
    guarded.extend(in_home(".gitconfig"));
    guarded.extend(git_config.iter().flat_map(|dir| ["config", "attributes"].map(|name| dir.join(name))));
    let (dir, global_file) = match agent {
        AgentKind::Codex => (codex, None),
        AgentKind::Claude => (claude, if claude_var.is_some() { None } else { claude_json }),
    };
    StatePaths { agent, dir, global_file, cache: set("XDG_CACHE_HOME").or_else(|| in_home(".cache")), guarded }
}

/// Secrets below HOME hidden from a confined agent by default (`--readable` gives one back).
const HOME_SECRETS: [&str; 12] = [
    ".ssh",
    ".aws",
    ".config/gh",
    ".git-credentials",
    ".config/git/credentials",
    ".netrc",
    ".docker/config.json",
    ".kube",
    ".gnupg",
    ".cargo/credentials.toml",
    ".cargo/credentials",
    ".pypirc",
];

/// Variables that move one of those secrets elsewhere (a folder, or a file, or `:`-separated files).
const SECRET_VARIABLES: [&str; 7] = [
    "GH_CONFIG_DIR",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "KUBECONFIG",
    "GNUPGHOME",
    "DOCKER_CONFIG",
    "NETRC",
];

/// The secret paths of this user (existing or not): [`HOME_SECRETS`], the same below
/// `XDG_CONFIG_HOME`, and the places [`SECRET_VARIABLES`] name (`DOCKER_CONFIG` is a folder
/// holding `config.json`).
pub fn secret_paths(home: Option<&Path>, var: &dyn Fn(&str) -> Option<OsString>) -> Vec<PathBuf> {
    let set = |name: &str| var(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let mut paths: Vec<PathBuf> = home.iter().flat_map(|home| HOME_SECRETS.map(|name| home.join(name))).collect();
    if let Some(config) = set("XDG_CONFIG_HOME") {
        paths.extend(["gh", "git/credentials"].map(|name| config.join(name)));
    }
    for name in SECRET_VARIABLES {
        let Some(value) = set(name) else { continue };
        match name {
            "DOCKER_CONFIG" => paths.push(value.join("config.json")),
            "KUBECONFIG" => paths.extend(std::env::split_paths(value.as_os_str())),
            _ => paths.push(value),
        }
    }
    let mut unique = Vec::new();
    for path in paths.into_iter().filter(|path| path.is_absolute()) {
        if !unique.contains(&path) {
            unique.push(path);
        }
    }
    unique
}

/// A `--writable` / `WRITABLE:` / `READABLE:` entry as an absolute path: `~` and `~/...` are
/// below `home`, relative paths below `base`.
pub fn expand_writable(text: &str, home: Option<&Path>, base: &Path) -> anyhow::Result<PathBuf> {
    let home_relative = if text == "~" { Some("") } else { text.strip_prefix("~/") };
    let path = match home_relative {
        Some(rest) => {
            let home = home.ok_or_else(|| anyhow::anyhow!("path {text:?} needs HOME, which is not set"))?;
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

/// The secrets of `req` hidden from the agent: those that exist, symlinks resolved, unless a
/// readable or writable path names one exactly.
pub(super) fn hidden_paths(req: &super::SandboxRequest) -> Vec<PathBuf> {
    let named: Vec<PathBuf> = req.readable.iter().chain(&req.writable).map(|path| super::canonical(path)).collect();
    let mut hidden = Vec::new();
    for secret in req.hidden.iter().filter(|path| path.exists()).map(|path| super::canonical(path)) {
        if !named.contains(&secret) && !hidden.contains(&secret) {
            hidden.push(secret);
        }
    }
    hidden
}

/// `path` with symlinks resolved; when it does not exist, its parent's resolved path joined with
/// its name (where the agent would create it).
pub(super) fn canonical_or_parent(path: &Path) -> PathBuf {
    match (std::fs::canonicalize(path), path.parent(), path.file_name()) {
        (Ok(resolved), _, _) => resolved,
        (Err(_), Some(parent), Some(name)) => super::canonical(parent).join(name),
        _ => path.to_path_buf(),
    }
}

/// The shared git dir and the worktree's admin folder in it, which stay read-only whatever else is
/// writable.
pub(super) fn git_paths(req: &super::SandboxRequest) -> Vec<PathBuf> {
    let dot_git = canonical(&req.worktree).join(".git");
    let admin = admin_dir(&dot_git).filter(|admin| admin.exists()).map(|admin| canonical(&admin));
    admin.into_iter().chain([canonical(&req.common_dir)]).collect()
}

/// The worktree's admin folder (`<common>/worktrees/<name>`) named by its `.git` file.
pub(super) fn admin_dir(dot_git: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dot_git).ok()?;
    let target = text.lines().find_map(|line| line.strip_prefix("gitdir:"))?.trim();
    let target = Path::new(target);
    Some(if target.is_absolute() { target.to_path_buf() } else { dot_git.parent()?.join(target) })
}

/// `dir` created when missing, with symlinks resolved.
pub(super) fn create_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|error| anyhow::anyhow!("creating {} for the sandbox: {error}", dir.display()))?;
    Ok(canonical(dir))
}

/// The path with symlinks resolved, or as it is when it does not exist.
pub(super) fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| OsString::from(value))
    }

    #[test]
    fn codex_state_is_codex_home_else_dot_codex() {
        let home = Path::new("/h");
        let state = agent_state_paths(AgentKind::Codex, Some(home), &vars(&[]));
        assert_eq!(state.dir, Some(PathBuf::from("/h/.codex")));
        assert_eq!(state.cache, Some(PathBuf::from("/h/.cache")));
        assert_eq!(state.global_file, None);
        let state =
            agent_state_paths(AgentKind::Codex, Some(home), &vars(&[("CODEX_HOME", "/c"), ("XDG_CACHE_HOME", "/x")]));
        assert_eq!((state.dir, state.cache), (Some(PathBuf::from("/c")), Some(PathBuf::from("/x"))));
        assert!(state.guarded.contains(&PathBuf::from("/c/config.toml")));
        assert!(state.guarded.contains(&PathBuf::from("/c/AGENTS.md")));
    }

    #[test]
    fn claude_state_is_its_config_dir_and_claude_json_in_home_unless_the_variable_is_set() {
        let home = Path::new("/h");
        let state = agent_state_paths(AgentKind::Claude, Some(home), &vars(&[("XDG_CACHE_HOME", "")]));
        assert_eq!(state.dir, Some(PathBuf::from("/h/.claude")));
        assert_eq!(state.global_file, Some(PathBuf::from("/h/.claude.json")));
        assert_eq!(state.cache, Some(PathBuf::from("/h/.cache")));
        let state = agent_state_paths(AgentKind::Claude, None, &vars(&[("CLAUDE_CONFIG_DIR", "/cc")]));
        assert_eq!((state.dir, state.global_file, state.cache), (Some(PathBuf::from("/cc")), None, None));
        assert!(state.guarded.contains(&PathBuf::from("/cc/.claude.json")));
    }

    #[test]
    fn both_clis_and_the_global_git_config_are_guarded_whichever_agent_runs() {
        let state = agent_state_paths(AgentKind::Codex, Some(Path::new("/h")), &vars(&[("XDG_CONFIG_HOME", "/xc")]));
        let expected = [
            "/h/.codex/config.toml",
            "/h/.codex/AGENTS.md",
            "/h/.codex/AGENTS.override.md",
            "/h/.claude/settings.json",
            "/h/.claude/settings.local.json",
            "/h/.claude/CLAUDE.md",
            "/h/.claude.json",
            "/h/.gitconfig",
            "/xc/git/config",
            "/xc/git/attributes",
        ];
        assert_eq!(state.guarded, expected.map(PathBuf::from).to_vec());
    }

    #[test]
    fn secrets_are_below_home_and_where_their_variables_point() {
        let home = Some(Path::new("/h"));
        let secrets = secret_paths(home, &vars(&[]));
        assert_eq!(secrets.len(), HOME_SECRETS.len());
        assert!(
            secrets.contains(&PathBuf::from("/h/.ssh")) && secrets.contains(&PathBuf::from("/h/.docker/config.json"))
        );
        let secrets = secret_paths(
            None,
            &vars(&[("XDG_CONFIG_HOME", "/xc"), ("DOCKER_CONFIG", "/d"), ("KUBECONFIG", "/k1:/k2"), ("NETRC", "rel")]),
        );
        let expected = ["/xc/gh", "/xc/git/credentials", "/k1", "/k2", "/d/config.json"];
        assert_eq!(secrets, expected.map(PathBuf::from).to_vec(), "relative values are ignored");
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
