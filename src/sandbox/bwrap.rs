//! The bubblewrap sandbox: is `bwrap` usable here (probed once), and the mounts that confine one
//! agent run.
//!
//! Mount order matters (a later mount covers an earlier one): the whole filesystem read-only with
//! a private `/dev` and `/proc`; then the agent's state folders and the cache writable, with the
//! agent's existing configuration files in them read-only; then the
//! protected folders read-only again (the user's checkout, the dispatch worktrees, the run folder,
//! in case a writable folder holds them); then the worktree, the private temp folder and the extra
//! writable paths; last the worktree's `.git` file, its admin folder and the shared git dir
//! read-only, so nothing can make those writable. `--new-session` keeps the agent away from the
//! user's terminal (no TIOCSTI injection); the price is that the runner's SIGTERM reaches only the
//! outer bwrap, whose death SIGKILLs the sandbox (`--die-with-parent`, pid namespace): a stopped
//! agent gets no grace period.
//!
//! Privileges ([`ISOLATION`]): always `--unshare-user` (the caller's uid, root included, is mapped
//! to itself inside) and `--cap-drop ALL`, and bwrap sets no_new_privs: an agent started by root
//! has no capability, so it can neither remount the read-only binds nor mount, `mknod`, or
//! `unshare -m`. `--disable-userns` (bubblewrap 0.8+, probed apart) keeps it from making a nested
//! user namespace (where it would get capabilities again, over its own mounts only).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context as _;

use super::SandboxRequest;
use crate::process::{self, ProcessSpec};

/// Overrides the `bwrap` program (tests point it at a missing file to see `auto` fall back).
pub const BWRAP_ENV: &str = "GIT_DISPATCH_BWRAP";

/// The options of every sandbox that need kernel support (namespaces, mounts), probed together.
pub(super) const PROBE_ARGS: [&str; 16] = [
    "--unshare-user",
    "--cap-drop",
    "ALL",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--unshare-pid",
    "--die-with-parent",
    "--new-session",
    "--disable-userns",
    "--",
    "true",
];

/// The isolation options at the end of every sandbox's options, before `--`.
const ISOLATION: [&str; 7] =
    ["--unshare-user", "--cap-drop", "ALL", "--unshare-pid", "--die-with-parent", "--new-session", "--disable-userns"];

/// The isolation options this bwrap takes: [`ISOLATION`], without `--disable-userns` when it is
/// older than 0.8 (then the probe passed without it).
pub(super) fn isolation() -> Vec<&'static str> {
    let nested_userns_disabled = usable().is_ok_and(|_| DISABLE_USERNS.get().copied().unwrap_or(true));
    ISOLATION.iter().copied().filter(|flag| nested_userns_disabled || *flag != "--disable-userns").collect()
}

/// Whether the probe passed with `--disable-userns` (set by the probe).
static DISABLE_USERNS: OnceLock<bool> = OnceLock::new();

/// The `bwrap` program if a sandbox with the options we use starts here, else why not. Probed once.
pub(super) fn usable() -> Result<PathBuf, String> {
    static PROBE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PROBE.get_or_init(probe).clone()
}

fn probe() -> Result<PathBuf, String> {
    let program = program().ok_or_else(|| "bwrap not found on PATH (install bubblewrap)".to_string())?;
    let full = try_probe(&program, &PROBE_ARGS);
    if full.is_ok() {
        let _ = DISABLE_USERNS.set(true);
        return Ok(program);
    }
    // bubblewrap before 0.8 has no --disable-userns: the rest must work.
    let older: Vec<&str> = PROBE_ARGS.iter().copied().filter(|arg| *arg != "--disable-userns").collect();
    try_probe(&program, &older).map_err(|_| full.unwrap_err())?;
    let _ = DISABLE_USERNS.set(false);
    Ok(program)
}

fn try_probe(program: &Path, args: &[&str]) -> Result<(), String> {
    let spec = ProcessSpec::new(program, "/").args(args).timeout(Duration::from_secs(10)).grace(Duration::from_secs(1));
    let captured =
        process::run_captured(&spec).map_err(|error| format!("{} cannot start: {error:#}", program.display()))?;
    if captured.outcome.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&captured.stderr);
    Err(format!("`{} {}` failed: {}", program.display(), args.join(" "), stderr.trim()))
}

pub(super) fn program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(BWRAP_ENV).filter(|value| !value.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("bwrap")).find(|candidate| candidate.is_file())
}

/// One mount of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mount {
    ReadOnly(PathBuf),
    Writable(PathBuf),
}

/// The mounts of one run, in order, and the paths made writable.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    mounts: Vec<Mount>,
    pub(super) writable: Vec<PathBuf>,
}

impl Layout {
    /// The mounts for `req`; creates the missing state folders and extra writable folders.
    pub(super) fn prepare(req: &SandboxRequest, scratch: &Path) -> anyhow::Result<Layout> {
        let mut layout = Layout { mounts: Vec::new(), writable: Vec::new() };
        for dir in &req.state.dirs {
            layout.writable_dir(dir)?;
        }
        for file in req.state.read_only.iter().filter(|file| file.exists()) {
            layout.mounts.push(Mount::ReadOnly(super::canonical(file)));
        }
        for path in req.protected.iter().filter(|path| path.exists()) {
            layout.mounts.push(Mount::ReadOnly(super::canonical(path)));
        }
        layout.writable_existing(&req.worktree);
        layout.writable_existing(scratch);
        for path in &req.writable {
            if path.is_file() {
                layout.writable_existing(path);
            } else {
                layout.writable_dir(path)?;
            }
        }
        let worktree = super::canonical(&req.worktree);
        let dot_git = worktree.join(".git");
        layout.mounts.push(Mount::ReadOnly(dot_git.clone()));
        if let Some(admin) = super::admin_dir(&dot_git).filter(|admin| admin.exists()) {
            layout.mounts.push(Mount::ReadOnly(super::canonical(&admin)));
        }
        layout.mounts.push(Mount::ReadOnly(super::canonical(&req.common_dir)));
        Ok(layout)
    }

    fn writable_dir(&mut self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {} for the sandbox", dir.display()))?;
        self.writable_existing(dir);
        Ok(())
    }

    fn writable_existing(&mut self, path: &Path) {
        let path = super::canonical(path);
        self.mounts.push(Mount::Writable(path.clone()));
        if !self.writable.contains(&path) {
            self.writable.push(path);
        }
    }

    /// `bwrap <options> --`: the agent's argv goes after it.
    pub(super) fn argv(&self, program: &Path) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![program.into()];
        let fixed = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"];
        argv.extend(fixed.map(OsString::from));
        for mount in &self.mounts {
            let (option, path) = match mount {
                Mount::ReadOnly(path) => ("--ro-bind", path),
                Mount::Writable(path) => ("--bind", path),
            };
            argv.extend([option.into(), path.into(), path.into()]);
        }
        argv.extend(isolation().into_iter().chain(["--"]).map(OsString::from));
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentKind;
    use crate::sandbox::{Choice, StatePaths};

    #[test]
    fn mounts_end_with_the_git_files_read_only_and_the_isolation_flags() {
        let root = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(root.path()).expect("canonical");
        let common = root.join("repo/.git");
        let worktree = root.join("wt");
        std::fs::create_dir_all(common.join("worktrees/wt")).expect("admin dir");
        std::fs::create_dir_all(&worktree).expect("worktree");
        std::fs::write(worktree.join(".git"), format!("gitdir: {}\n", common.join("worktrees/wt").display()))
            .expect(".git file");
        let scratch = root.join("tmp");
        std::fs::create_dir(&scratch).expect("scratch");
        let req = SandboxRequest {
            choice: Choice::Bwrap,
            agent: AgentKind::Codex,
            worktree: worktree.clone(),
            common_dir: common.clone(),
            protected: vec![root.join("repo"), root.join("missing")],
            state: StatePaths {
                dirs: vec![root.join("home/.codex")],
                read_only: vec![root.join("home/.codex/config.toml"), root.join("home/.codex/absent.toml")],
            },
            writable: vec![root.join("extra")],
        };
        std::fs::create_dir_all(root.join("home/.codex")).expect("codex home");
        std::fs::write(root.join("home/.codex/config.toml"), "").expect("config");
        let layout = Layout::prepare(&req, &scratch).expect("layout");
        assert!(root.join("home/.codex").is_dir() && root.join("extra").is_dir());
        let text = |path: PathBuf| path.display().to_string();
        let argv: Vec<String> =
            layout.argv(Path::new("/usr/bin/bwrap")).iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
        let mut expected: Vec<String> =
            ["/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"].map(String::from).to_vec();
        for (option, path) in [
            ("--bind", root.join("home/.codex")),
            ("--ro-bind", root.join("home/.codex/config.toml")),
            ("--ro-bind", root.join("repo")),
            ("--bind", worktree.clone()),
            ("--bind", scratch.clone()),
            ("--bind", root.join("extra")),
            ("--ro-bind", worktree.join(".git")),
            ("--ro-bind", common.join("worktrees/wt")),
            ("--ro-bind", common.clone()),
        ] {
            expected.extend([option.to_string(), text(path.clone()), text(path)]);
        }
        let isolation = isolation();
        assert_eq!(
            isolation[..6],
            ["--unshare-user", "--cap-drop", "ALL", "--unshare-pid", "--die-with-parent", "--new-session"]
        );
        expected.extend(isolation.into_iter().chain(["--"]).map(String::from));
        assert_eq!(argv, expected);
        assert_eq!(layout.writable, vec![root.join("home/.codex"), worktree, scratch, root.join("extra")]);
    }
}
