//! The bubblewrap sandbox: is `bwrap` usable here (probed once), and the mounts that confine one
//! agent run.
//!
//! Mount order matters: bwrap applies mounts in order and a later one covers an earlier one, so
//! the mounts are sorted by depth (a folder before anything inside it) and, for one path, by what
//! must win: writable, then hidden, then re-exposed readable, then protected, then git. On top of
//! the whole filesystem read-only with a private `/dev` and `/proc`: the writable folders (the
//! worktree, the private temp and state folders, `--writable` paths); the secrets hidden (an
//! empty tmpfs over a folder, `/dev/null` over a file) unless a `--readable` or `--writable` path
//! names them, with such paths inside them bound back; the protected folders read-only (the
//! user's checkout, the dispatch worktrees, the run folder): a writable folder that holds one
//! never re-opens it, while a writable folder inside one (the worktree in the worktrees root)
//! stays writable; last the worktree's `.git` file, its admin folder and the shared git dir
//! read-only (a writable path inside them is dropped). `--new-session` keeps the agent away from
//! the user's terminal (no TIOCSTI injection); the price is that the runner's SIGTERM reaches only
//! the outer bwrap, whose death SIGKILLs the sandbox (`--die-with-parent`, pid namespace): a
//! stopped agent gets no grace period.
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

/// Set when the first probe passed with `--unshare-net` as well.
static NET_PROBED: OnceLock<()> = OnceLock::new();

/// The `bwrap` program if a sandbox with the options we use starts here, else why not. Probed once.
pub(super) fn usable() -> Result<PathBuf, String> {
    static PROBE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PROBE.get_or_init(probe).clone()
}

fn probe() -> Result<PathBuf, String> {
    let program = program().ok_or_else(|| "bwrap not found on PATH (install bubblewrap)".to_string())?;
    // Most runs want a network namespace too (`--network api`, the default): one process probes
    // both, and the separate network probe only runs where this one failed.
    let mut with_net = PROBE_ARGS.to_vec();
    with_net.insert(with_net.len() - 2, "--unshare-net");
    if try_probe(&program, &with_net).is_ok() {
        let _ = DISABLE_USERNS.set(true);
        let _ = NET_PROBED.set(());
        return Ok(program);
    }
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

/// Whether this bwrap gives a sandbox a network namespace of its own (only loopback, which bwrap
/// brings up): the probe of `--network api|none` (once per process).
pub(super) fn net_usable() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let program = usable()?;
            if NET_PROBED.get().is_some() {
                return Ok(());
            }
            let mut args = vec!["--ro-bind", "/", "/", "--unshare-net"];
            args.extend(isolation());
            args.extend(["--", "true"]);
            try_probe(&program, &args).map_err(|error| format!("no network namespace: {error}"))
        })
        .clone()
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
    /// An empty tmpfs over a secret folder.
    EmptyDir(PathBuf),
    /// `/dev/null` over a secret file.
    EmptyFile(PathBuf),
}

/// Of two mounts at one path, the greater comes later and wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Writable,
    Hidden,
    Readable,
    Protected,
    Git,
}

/// The mounts of one run, in order, and the paths made writable and hidden.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    mounts: Vec<Mount>,
    pub(super) writable: Vec<PathBuf>,
    pub(super) hidden: Vec<PathBuf>,
}

impl Layout {
    /// The mounts for `req` with git-dispatch's own folders of the run (`own`: the private temp
    /// and state folders) writable; creates the missing extra writable folders.
    pub(super) fn prepare(req: &SandboxRequest, own: &[PathBuf]) -> anyhow::Result<Layout> {
        let worktree = super::canonical(&req.worktree);
        let mut git = vec![worktree.join(".git")];
        git.extend(super::git_paths(req));
        let mut planned: Vec<(PathBuf, Rank, Mount)> = Vec::new();
        let mut writable = Vec::new();
        let mut roots = vec![worktree.clone()];
        roots.extend(own.iter().map(|path| super::canonical(path)));
        for path in &req.writable {
            roots.push(if path.is_file() { super::canonical(path) } else { super::create_dir(path)? });
        }
        for root in roots {
            if git.iter().any(|git_path| root.starts_with(git_path)) || writable.contains(&root) {
                continue; // the git files stay read-only whatever is asked
            }
            writable.push(root.clone());
            planned.push((root.clone(), Rank::Writable, Mount::Writable(root)));
        }
        let hidden = super::paths::hidden_paths(req);
        for secret in &hidden {
            let mount =
                if secret.is_dir() { Mount::EmptyDir(secret.clone()) } else { Mount::EmptyFile(secret.clone()) };
            planned.push((secret.clone(), Rank::Hidden, mount));
        }
        for path in req.readable.iter().filter(|path| path.exists()).map(|path| super::canonical(path)) {
            if hidden.iter().any(|secret| path.starts_with(secret) && path != *secret) {
                planned.push((path.clone(), Rank::Readable, Mount::ReadOnly(path)));
            }
        }
        for path in req.protected.iter().filter(|path| path.exists()).map(|path| super::canonical(path)) {
            planned.push((path.clone(), Rank::Protected, Mount::ReadOnly(path)));
        }
        for path in git.into_iter().filter(|path| path.exists()) {
            planned.push((path.clone(), Rank::Git, Mount::ReadOnly(path)));
        }
        planned.sort_by_key(|(path, rank, _)| (path.components().count(), *rank));
        Ok(Layout { mounts: planned.into_iter().map(|(_, _, mount)| mount).collect(), writable, hidden })
    }

    /// `bwrap <options> --`: the agent's argv goes after it.
    pub(super) fn argv(&self, program: &Path) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![program.into()];
        let fixed = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"];
        argv.extend(fixed.map(OsString::from));
        for mount in &self.mounts {
            match mount {
                Mount::ReadOnly(path) => argv.extend(["--ro-bind".into(), path.into(), path.into()]),
                Mount::Writable(path) => argv.extend(["--bind".into(), path.into(), path.into()]),
                Mount::EmptyDir(path) => argv.extend(["--tmpfs".into(), path.into()]),
                Mount::EmptyFile(path) => argv.extend(["--ro-bind".into(), "/dev/null".into(), path.into()]),
            }
        }
        argv.extend(isolation().into_iter().chain(["--"]).map(OsString::from));
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentKind;
    use crate::sandbox::{agent_state_paths, Choice};

    fn request(root: &Path) -> SandboxRequest {
        let common = root.join("home/repo/.git");
        let worktree = root.join("home/.cache/wt");
        std::fs::create_dir_all(common.join("worktrees/wt")).expect("admin dir");
        std::fs::create_dir_all(&worktree).expect("worktree");
        std::fs::write(worktree.join(".git"), format!("gitdir: {}\n", common.join("worktrees/wt").display()))
            .expect(".git file");
        for dir in [".ssh", ".aws/cli"] {
            std::fs::create_dir_all(root.join("home").join(dir)).expect("secret dir");
        }
        std::fs::write(root.join("home/.netrc"), "machine x\n").expect("netrc");
        std::fs::write(root.join("home/.aws/cli/cache"), "").expect("file in a secret");
        SandboxRequest {
            choice: Choice::Bwrap,
            agent: AgentKind::Codex,
            worktree,
            common_dir: common,
            protected: vec![root.join("home/repo"), root.join("home/.cache"), root.join("missing")],
            state: agent_state_paths(AgentKind::Codex, Some(&root.join("home")), &|_| None),
            private_root: root.join("private"),
            writable: vec![root.join("home"), root.join("extra"), root.join("home/repo/.git/hooks")],
            readable: vec![root.join("home/.ssh"), root.join("home/.aws/cli/cache")],
            hidden: vec![
                root.join("home/.ssh"),
                root.join("home/.aws"),
                root.join("home/.netrc"),
                root.join("home/.kube"),
            ],
            network: Default::default(),
        }
    }

    #[test]
    fn mounts_go_parents_first_with_protected_secret_and_git_paths_winning() {
        let root = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(root.path()).expect("canonical");
        let req = request(&root);
        let (scratch, private) = (root.join("tmp"), root.join("private"));
        std::fs::create_dir_all(&scratch).expect("scratch");
        std::fs::create_dir_all(&private).expect("private");
        let layout = Layout::prepare(&req, &[scratch.clone(), private.clone()]).expect("layout");
        assert!(root.join("extra").is_dir());
        let text = |path: &Path| path.display().to_string();
        let argv: Vec<String> =
            layout.argv(Path::new("/usr/bin/bwrap")).iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
        let mut expected: Vec<String> =
            ["/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"].map(String::from).to_vec();
        let (home, common, wt) = (root.join("home"), req.common_dir.clone(), req.worktree.clone());
        for (option, path) in [
            ("--bind", &scratch),
            ("--bind", &private),
            ("--bind", &home),
            ("--bind", &root.join("extra")),
            ("--tmpfs", &home.join(".aws")),
            ("--null", &home.join(".netrc")),
            ("--ro-bind", &home.join("repo")),
            ("--ro-bind", &home.join(".cache")),
            ("--bind", &wt),
            ("--ro-bind", &common),
            ("--ro-bind", &home.join(".aws/cli/cache")),
            ("--ro-bind", &wt.join(".git")),
            ("--ro-bind", &common.join("worktrees/wt")),
        ] {
            match option {
                "--tmpfs" => expected.extend([option.to_string(), text(path)]),
                "--null" => expected.extend(["--ro-bind".to_string(), "/dev/null".to_string(), text(path)]),
                _ => expected.extend([option.to_string(), text(path), text(path)]),
            }
        }
        let isolation = isolation();
        assert_eq!(
            isolation[..6],
            ["--unshare-user", "--cap-drop", "ALL", "--unshare-pid", "--die-with-parent", "--new-session"]
        );
        expected.extend(isolation.into_iter().chain(["--"]).map(String::from));
        assert_eq!(argv, expected);
        assert_eq!(layout.writable, vec![wt, scratch, private, home.clone(), root.join("extra")]);
        assert_eq!(layout.hidden, vec![home.join(".aws"), home.join(".netrc")], ".ssh is named by --readable");
    }
}
