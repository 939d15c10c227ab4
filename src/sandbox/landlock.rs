//! The Landlock sandbox (Linux 5.13+), used where bubblewrap is not: is Landlock enforceable here
//! (probed once), and the rules that confine one agent run.
//!
//! Landlock is an allow-list of access rights per file hierarchy, applied by the kernel to the
//! calling thread and inherited by every process it starts. The rules: the whole filesystem
//! readable and executable except the hidden secrets (`~/.ssh`, ... unless `--readable` or
//! `--writable` names them; a readable path inside one is granted back); writable: the worktree,
//! the private `TMPDIR`, the agent's private state folder, the `--writable` paths, and the device
//! files an agent needs. Signals to
//! processes outside the domain and abstract unix sockets created outside it are scoped (ABI 6).
//! Rights of later ABIs than [`TARGET_ABI`] are not handled (so they stay allowed); older kernels
//! get what they support (best effort), and the ABI reached is recorded.
//!
//! Rights granted on a folder hold for everything below it, and nothing can take them back
//! below. So a grant that holds an excluded path is carved: a writable folder that holds a
//! protected path (the user's checkout, the dispatch worktrees, the run folder, the shared git
//! dir) or a secret, and the read grant of `/` around the secrets. The folders on the way to the
//! excluded path get no write right (for reading: only listing), their other entries get the
//! grant one by one (symlinks among them are skipped: their targets are granted where they are).
//! The price: nothing new can be created directly in those folders on the way (e.g. a new
//! `~/<tool>` beside `~/.ssh` under `--writable ~`), and an entry created there after the rules
//! were made is not readable. A writable path equal to a protected one gets nothing. The
//! worktree's `.git` file cannot be carved out of the writable worktree: the snapshot puts it
//! back.
//!
//! The rules are applied by the confined program's own process, in `sandbox/confine.rs` (which
//! also gives it a new session, its supervisor, no capabilities and the TIOCSTI filter): the
//! rules travel there as arguments ([`Rules::to_args`], [`grants_from_args`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, LandlockStatus, NetPort, PathBeneath, PathFd,
    RestrictionStatus, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use super::SandboxRequest;
use crate::walk::{Step, Walk};

/// The newest Landlock ABI whose rights are handled (and tested).
const TARGET_ABI: ABI = ABI::V7;

/// Set (non-empty) to make Landlock count as unsupported (tests of the fallback to none).
pub const DISABLE_ENV: &str = "GIT_DISPATCH_NO_LANDLOCK";

/// Devices an agent reads and writes (no `ioctl`: `/dev/tty` is the user's terminal).
const DEVICES: [&str; 6] = ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/urandom", "/dev/random"];

/// Pseudo-terminals, with `ioctl` so that the agent can make and use its own.
const TERMINALS: [&str; 2] = ["/dev/pts", "/dev/ptmx"];

/// The Landlock ABI this kernel enforces, or why Landlock cannot confine an agent here.
/// Probed once, by confining a throw-away thread with the rules' handled rights.
pub(super) fn support() -> Result<u32, String> {
    static PROBE: OnceLock<Result<u32, String>> = OnceLock::new();
    if std::env::var_os(DISABLE_ENV).is_some_and(|value| !value.is_empty()) {
        return Err(format!("disabled by {DISABLE_ENV}"));
    }
    PROBE.get_or_init(probe).clone()
}

fn probe() -> Result<u32, String> {
    let status = std::thread::Builder::new()
        .name("landlock-probe".to_string())
        .spawn(|| restrict_current_thread(&[(PathBuf::from("/"), Grant::Read)], None))
        .map_err(|error| format!("cannot start the probe thread: {error}"))?
        .join()
        .map_err(|_| "the probe thread panicked".to_string())?
        .map_err(|error| format!("{error:#}"))?;
    match status.landlock {
        LandlockStatus::Available { effective_abi, .. } if status.ruleset != RulesetStatus::NotEnforced => {
            Ok(effective_abi as u32)
        }
        LandlockStatus::NotEnabled => {
            Err("Landlock is built into this kernel but not enabled (lsm= boot option)".into())
        }
        LandlockStatus::NotImplemented => Err("this kernel has no Landlock (Linux 5.13+ needed)".into()),
        LandlockStatus::Available { .. } => Err("Landlock did not enforce the ruleset".into()),
    }
}

/// What one writable grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grant {
    /// Everything but making device files and `ioctl` on devices.
    Tree,
    /// Reading and executing.
    Read,
    /// Listing a folder on the way to a hidden one (and everything below it: names only).
    List,
    /// Read and write a device.
    Device,
    /// Read, write and `ioctl` (pseudo-terminals).
    Terminal,
}

impl Grant {
    /// The option naming a path with this grant on the confining program's command line.
    fn flag(self) -> &'static str {
        match self {
            Grant::Tree => "--tree",
            Grant::Read => "--read",
            Grant::List => "--list",
            Grant::Device => "--device",
            Grant::Terminal => "--terminal",
        }
    }

    fn from_flag(flag: &str) -> Option<Grant> {
        [Grant::Tree, Grant::Read, Grant::List, Grant::Device, Grant::Terminal]
            .into_iter()
            .find(|grant| grant.flag() == flag)
    }

    fn access(self) -> BitFlags<AccessFs> {
        let read = AccessFs::from_read(TARGET_ABI);
        let device = read | AccessFs::WriteFile | AccessFs::Truncate;
        match self {
            Grant::Tree => {
                AccessFs::from_all(TARGET_ABI) & !(AccessFs::MakeChar | AccessFs::MakeBlock | AccessFs::IoctlDev)
            }
            Grant::Read => read,
            Grant::List => AccessFs::ReadDir.into(),
            Grant::Device => device,
            Grant::Terminal => device | AccessFs::IoctlDev,
        }
    }
}

/// The rules of one run: the paths the agent may read and write, with what right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rules {
    grants: Vec<(PathBuf, Grant)>,
    /// The writable roots, as recorded (before carving).
    pub(super) writable: Vec<PathBuf>,
    /// The secrets left out of the read grant.
    pub(super) hidden: Vec<PathBuf>,
}

impl Rules {
    /// The rules for `req` with git-dispatch's own folders of the run (`own`: the private temp
    /// and state folders) writable; creates the missing extra writable folders.
    pub(super) fn prepare(req: &SandboxRequest, own: &[PathBuf]) -> anyhow::Result<Rules> {
        let mut roots = vec![super::canonical(&req.worktree)];
        roots.extend(own.iter().map(|path| super::canonical(path)));
        for path in &req.writable {
            roots.push(if path.is_file() { super::canonical(path) } else { super::create_dir(path)? });
        }
        let git = super::git_paths(req);
        let hidden = super::paths::hidden_paths(req);
        let protected = req.protected.iter().filter(|path| path.exists()).map(|path| super::canonical(path));
        let excluded: Vec<PathBuf> = protected.chain(git.iter().cloned()).chain(hidden.iter().cloned()).collect();
        let mut rules = Rules { grants: Vec::new(), writable: Vec::new(), hidden: hidden.clone() };
        let mut grants = Vec::new();
        carve(Path::new("/"), &hidden, (Grant::Read, Some(Grant::List)), &mut grants)?;
        for path in req.readable.iter().filter(|path| path.exists()).map(|path| super::canonical(path)) {
            if hidden.iter().any(|secret| path.starts_with(secret)) {
                grants.push((path, Grant::Read));
            }
        }
        for root in roots {
            let is_git = git.iter().any(|git_path| root.starts_with(git_path));
            if is_git || excluded.contains(&root) || rules.writable.contains(&root) {
                continue; // the shared git dir and the protected paths stay read-only whatever is asked
            }
            carve(&root, &excluded, (Grant::Tree, None), &mut grants)?;
            rules.writable.push(root);
        }
        for grant in grants {
            if !rules.grants.contains(&grant) {
                rules.grants.push(grant);
            }
        }
        rules.grants.extend(DEVICES.iter().map(|device| (PathBuf::from(device), Grant::Device)));
        rules.grants.extend(TERMINALS.iter().map(|terminal| (PathBuf::from(terminal), Grant::Terminal)));
        Ok(rules)
    }
}

/// `root` as grants (`grant` on everything, `way` on the folders on the way) that leave out every
/// `excluded` path inside it: the folders on the way to one get `way` (or nothing), their other
/// entries (not symlinks) `grant` whole. A root that is itself excluded gets nothing.
fn carve(
    root: &Path,
    excluded: &[PathBuf],
    (grant, way): (Grant, Option<Grant>),
    out: &mut Vec<(PathBuf, Grant)>,
) -> anyhow::Result<()> {
    if excluded.iter().any(|path| path == root) {
        return Ok(());
    }
    let inside: Vec<&PathBuf> = excluded.iter().filter(|path| path.starts_with(root)).collect();
    if inside.is_empty() {
        out.push((root.to_path_buf(), grant));
        return Ok(());
    }
    out.extend(way.map(|way| (root.to_path_buf(), way)));
    let found = Walk::new(root).try_collect(|entry, found| {
        let entry = entry.with_context(|| format!("listing {} for the sandbox", root.display()))?;
        let path = entry.path();
        let file_type = entry.file_type().with_context(|| format!("inspecting {}", path.display()))?;
        if file_type.is_symlink() || inside.iter().any(|excluded| **excluded == path) {
            return Ok(Step::Prune);
        }
        if inside.iter().any(|excluded| excluded.starts_with(path)) {
            found.extend(way.map(|way| (path.to_path_buf(), way)));
            return Ok(Step::Continue);
        }
        found.push((path.to_path_buf(), grant));
        Ok(Step::Prune)
    })?;
    out.extend(found);
    Ok(())
}

impl Rules {
    /// The grants as options (`--tree PATH`, `--read PATH`, `--list PATH`, `--device PATH`,
    /// `--terminal PATH`).
    pub(super) fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut args = Vec::new();
        for (path, grant) in &self.grants {
            args.push(grant.flag().into());
            args.push(path.clone().into_os_string());
        }
        args
    }
}

/// The grants of [`Rules::to_args`] back; `None` when `flag` is not one of their options.
pub(super) fn grant_flag(flag: &str) -> Option<Grant> {
    Grant::from_flag(flag)
}

/// Confines the calling thread with `grants` (see [`restrict_current_thread`]); an error when the
/// kernel did not enforce them.
/// With `net`, TCP connections may go to those ports only (a kernel without Landlock's network
/// rights, before ABI 4, is an error: never less than asked).
pub(super) fn enforce(grants: &[(PathBuf, Grant)], net: Option<&[u16]>) -> anyhow::Result<()> {
    let status = restrict_current_thread(grants, net)?;
    if status.ruleset == RulesetStatus::NotEnforced {
        anyhow::bail!("Landlock did not enforce the sandbox's rules ({:?})", status.landlock);
    }
    Ok(())
}

/// Confines the calling thread to `grants`, signals and abstract unix sockets scoped. Paths that
/// do not exist (any more) are skipped: less access.
fn restrict_current_thread(grants: &[(PathBuf, Grant)], net: Option<&[u16]>) -> anyhow::Result<RestrictionStatus> {
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(TARGET_ABI))
        .context("Landlock: filesystem rights")?
        .scope(Scope::from_all(TARGET_ABI))
        .context("Landlock: scopes")?;
    if net.is_some() {
        ruleset = ruleset
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessNet::ConnectTcp)
            .context("Landlock: restricting TCP connections (ABI 4+)")?
            .set_compatibility(CompatLevel::BestEffort);
    }
    let mut ruleset = ruleset.create().context("Landlock: creating the ruleset")?;
    for port in net.unwrap_or_default() {
        ruleset = ruleset
            .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
            .with_context(|| format!("Landlock: the rule for port {port}"))?;
    }
    for (path, grant) in grants {
        let Ok(fd) = PathFd::new(path) else { continue };
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, grant.access()))
            .with_context(|| format!("Landlock: the rule for {}", path.display()))?;
    }
    ruleset.restrict_self().context("Landlock: restricting the thread")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentKind;
    use crate::sandbox::{agent_state_paths, Choice};

    fn paths(rules: &Rules, grant: Grant) -> Vec<PathBuf> {
        rules.grants.iter().filter(|(_, g)| *g == grant).map(|(path, _)| path.clone()).collect()
    }

    #[test]
    fn grants_are_carved_around_protected_paths_secrets_and_the_git_dir() {
        let root = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(root.path()).expect("canonical");
        let home = root.join("home");
        let cache = home.join(".cache");
        let worktrees = cache.join("git-dispatch/worktrees");
        let worktree = worktrees.join("repo-1/wt");
        let repo = home.join("src/repo");
        let dirs = [cache.join("pip"), worktree.clone(), cache.join("git-dispatch/other"), repo.join(".git/hooks")];
        for dir in dirs.iter().chain([&home.join(".ssh")]) {
            std::fs::create_dir_all(dir).expect("dir");
        }
        for file in [cache.join("top.txt"), home.join(".profile"), home.join(".netrc"), home.join(".ssh/known_hosts")] {
            std::fs::write(file, "").expect("file");
        }
        std::os::unix::fs::symlink("/", cache.join("link")).expect("symlink");
        let (scratch, private) = (root.join("tmp"), root.join("private"));
        std::fs::create_dir(&scratch).expect("scratch");
        std::fs::create_dir(&private).expect("private");
        let req = SandboxRequest {
            choice: Choice::Landlock,
            agent: AgentKind::Codex,
            worktree: worktree.clone(),
            common_dir: repo.join(".git"),
            protected: vec![repo.clone(), worktrees.clone(), root.join("missing")],
            state: agent_state_paths(AgentKind::Codex, Some(&home), &|_| None),
            private_root: private.clone(),
            writable: vec![home.clone(), repo.clone(), repo.join(".git/hooks")],
            readable: vec![home.join(".ssh/known_hosts")],
            hidden: vec![home.join(".ssh"), home.join(".netrc"), home.join(".aws")],
            network: Default::default(),
        };
        let rules = Rules::prepare(&req, &[scratch.clone(), private.clone()]).expect("rules");
        let mut tree = paths(&rules, Grant::Tree);
        tree.sort();
        let mut expected = vec![
            home.join(".profile"),
            cache.join("pip"),
            cache.join("top.txt"),
            cache.join("git-dispatch/other"),
            worktree.clone(),
            scratch.clone(),
            private.clone(),
        ];
        expected.sort();
        assert_eq!(tree, expected, "the home carved; the checkout (named itself) and the git dir's hooks dropped");
        assert_eq!(rules.writable, vec![worktree, scratch, private, home.clone()]);
        assert_eq!(rules.hidden, vec![home.join(".ssh"), home.join(".netrc")]);

        let read = paths(&rules, Grant::Read);
        assert!(read.contains(&home.join(".profile")) && read.contains(&home.join("src")));
        assert!(read.contains(&home.join(".ssh/known_hosts")), "given back by --readable");
        for path in &read {
            let holds_a_secret = rules.hidden.iter().any(|secret| secret.starts_with(path));
            assert!(!holds_a_secret, "{path:?} would make a secret readable");
        }
        let list = paths(&rules, Grant::List);
        assert!(list.contains(&PathBuf::from("/")) && list.contains(&home));
        assert!(list.iter().all(|path| rules.hidden.iter().any(|secret| secret.starts_with(path))));
        assert_eq!(paths(&rules, Grant::Terminal), vec![PathBuf::from("/dev/pts"), PathBuf::from("/dev/ptmx")]);
        assert_eq!(paths(&rules, Grant::Device).len(), 6);
    }

    #[test]
    fn grants_travel_as_options() {
        let rules = Rules {
            grants: vec![
                (PathBuf::from("/w"), Grant::Tree),
                (PathBuf::from("/"), Grant::List),
                (PathBuf::from("/usr"), Grant::Read),
                (PathBuf::from("/dev/pts"), Grant::Terminal),
            ],
            writable: vec![],
            hidden: vec![],
        };
        let args: Vec<String> = rules.to_args().iter().map(|arg| arg.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["--tree", "/w", "--list", "/", "--read", "/usr", "--terminal", "/dev/pts"]);
        assert_eq!(grant_flag("--device"), Some(Grant::Device));
        assert_eq!(grant_flag("--read"), Some(Grant::Read));
        assert_eq!(grant_flag("--list"), Some(Grant::List));
        assert_eq!(grant_flag("--"), None);
    }

    #[test]
    fn trees_get_no_device_rights_and_devices_no_structure_rights() {
        assert!(!Grant::Tree.access().contains(AccessFs::MakeChar | AccessFs::MakeBlock));
        assert!(!Grant::Tree.access().contains(AccessFs::IoctlDev));
        assert!(Grant::Tree.access().contains(AccessFs::Refer | AccessFs::Truncate | AccessFs::MakeReg));
        assert!(!Grant::Device.access().contains(AccessFs::IoctlDev));
        assert!(!Grant::Device.access().intersects(AccessFs::MakeReg | AccessFs::RemoveFile));
        assert!(Grant::Terminal.access().contains(AccessFs::IoctlDev | AccessFs::WriteFile));
        assert_eq!(Grant::List.access(), AccessFs::ReadDir);
        assert!(!Grant::Read.access().contains(AccessFs::WriteFile));
    }
}
