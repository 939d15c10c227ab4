//! Finding the agent program: `GIT_DISPATCH_CODEX_BIN` / `GIT_DISPATCH_CLAUDE_BIN`, else PATH.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::AgentKind;

/// The agent program could not be found; the message says how to install it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentNotFound {
    #[error(
        "{program} not found on PATH: install it with `npm install -g {package}`, \
         or set {env} to its path"
    )]
    NotOnPath { program: String, package: &'static str, env: &'static str },
    #[error("{env} is set to {}, which is not an executable file", path.display())]
    BadOverride { env: &'static str, path: PathBuf },
}

/// Locates the program of `kind` from the process environment.
pub fn locate(kind: AgentKind) -> Result<PathBuf, AgentNotFound> {
    locate_with(kind, std::env::var_os(kind.override_env()).as_deref(), std::env::var_os("PATH").as_deref())
}

/// Locates the program of `kind` given the override variable's value and `PATH`.
///
/// An override that contains a `/` is a path (it must be an executable file); a bare name is
/// looked up on PATH like the default name.
pub fn locate_with(
    kind: AgentKind,
    override_value: Option<&OsStr>,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, AgentNotFound> {
    let name: OsString = match override_value.filter(|value| !value.is_empty()) {
        Some(value) if Path::new(value).components().count() > 1 => {
            let path = PathBuf::from(value);
            return if is_executable(&path) {
                Ok(path)
            } else {
                Err(AgentNotFound::BadOverride { env: kind.override_env(), path })
            };
        }
        Some(value) => value.to_owned(),
        None => kind.program_name().into(),
    };
    search_path(&name, path_var).ok_or_else(|| AgentNotFound::NotOnPath {
        program: name.to_string_lossy().into_owned(),
        package: kind.npm_package(),
        env: kind.override_env(),
    })
}

/// `name` as an executable file in one of the folders of `$PATH` (also used by `doctor`).
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let names = if cfg!(windows) { vec![format!("{name}.exe"), name.to_string()] } else { vec![name.to_string()] };
    let path_var = std::env::var_os("PATH");
    names.iter().find_map(|name| search_path(OsStr::new(name), path_var.as_deref()))
}

fn search_path(name: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0).unwrap_or(false)
}
