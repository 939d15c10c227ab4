//! Confinement of the agent process (SPEC §3): which sandbox a dispatch uses, and the argv prefix,
//! environment and private temp folder that make it. Every program of a run that runs in the
//! worktree (SETUP, the agent's `--version` probe, the agent, `--verify` commands) is started
//! through [`SandboxPlan::confine`], so all of them are confined the same way.
//!
//! [`plan`] turns a [`SandboxRequest`] (the user's choice, the worktree, the shared git dir, the
//! agent's state folders, extra writable and readable paths, the secrets) into a [`SandboxPlan`].
//! Every kind, none included, gives the agent a private copy of its CLI's state and a private
//! cache (`sandbox/state.rs`), and guards the user's configuration files it could write
//! (`sandbox/guarded.rs`). bubblewrap (the strongest): the whole filesystem read-only, the
//! secrets hidden, the worktree writable with its `.git` file and the shared git dir read-only, a
//! private `TMPDIR` and the private state writable, `--unshare-pid --die-with-parent
//! --new-session` so nothing outlives the agent, and `--unshare-user --cap-drop ALL` so that an
//! agent started by root has no capability. Landlock (where bwrap is not usable): the same sets
//! enforced by the kernel in the program's own process, started through the git-dispatch
//! binary's trampoline (a supervisor that kills the whole tree, a new session, no capabilities, a
//! TIOCSTI filter: see `sandbox/confine.rs`, and `sandbox/landlock.rs` for what the rules cannot
//! do). `auto` takes bwrap, else Landlock, else none with a warning; an explicit choice that
//! cannot be had is an error.
mod bwrap;
mod choose;
mod confine;
mod guarded;
mod landlock;
mod network;
mod paths;
mod state;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::agent::AgentKind;
use crate::policy::SandboxRecord;
use crate::process::ProcessSpec;

pub use bwrap::BWRAP_ENV;
pub use choose::auto_kind;
use choose::{choose, Chosen};
pub use confine::run_hidden_stage;
pub use guarded::GuardedFile;
pub use network::{enforceable as network_enforceable, NetworkPlan};
pub use paths::{agent_state_paths, expand_writable, secret_paths, StatePaths};
use paths::{canonical, create_dir, git_paths};
pub use state::{PrivateState, PRIVATE_STATE_DIR, SESSIONS_DIR};

/// What the user asked for (`--sandbox`, `GIT_DISPATCH_SANDBOX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// bubblewrap if usable, else Landlock, else none (with a warning)
    #[default]
    Auto,
    Bwrap,
    Landlock,
    None,
}

/// The confinement a run actually got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bwrap,
    Landlock,
    None,
}

impl Kind {
    /// The name recorded in `policy.json` / `run.json`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bwrap => "bwrap",
            Kind::Landlock => "landlock",
            Kind::None => "none",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything [`plan`] needs to know about one agent run.
#[derive(Debug, Clone)]
pub struct SandboxRequest {
    pub choice: Choice,
    pub agent: AgentKind,
    /// The linked worktree the agent works in (writable, except its `.git` file).
    pub worktree: PathBuf,
    /// The shared git dir of the user's repository (read-only).
    pub common_dir: PathBuf,
    /// Folders the agent must not write even when a writable folder contains them: the user's
    /// checkout, the root of all dispatch worktrees, the run folder.
    pub protected: Vec<PathBuf>,
    /// The user's state folder of the agent's CLI, cache folder and guarded files.
    pub state: StatePaths,
    /// Where the run's private state folder is made (removed with the plan).
    pub private_root: PathBuf,
    /// `--writable` and `WRITABLE:` paths, already absolute (created as folders if missing).
    pub writable: Vec<PathBuf>,
    /// `--readable` and `READABLE:` paths, already absolute: secrets given back.
    pub readable: Vec<PathBuf>,
    /// The secrets hidden from a confined agent unless named by a readable or writable path.
    pub hidden: Vec<PathBuf>,
    /// What the agent may reach on the network (`--network`, `ALLOW HOSTS:`).
    pub network: crate::egress::NetworkRequest,
}

/// How to start the agent (and every other program of the run) confined: prepend `wrapper` to its
/// argv and add `env` ([`SandboxPlan::confine`]).
#[derive(Debug)]
pub struct SandboxPlan {
    pub kind: Kind,
    /// The argv prefix (`bwrap ... --`, or `git-dispatch __confine ... --` for Landlock); empty
    /// for none.
    pub wrapper: Vec<OsString>,
    /// Variables for the agent (`TMPDIR`, `CODEX_HOME` / `CLAUDE_CONFIG_DIR`, `XDG_CACHE_HOME`).
    pub env: Vec<(OsString, OsString)>,
    /// The paths the agent may write, as recorded (empty for none: it may write anywhere).
    pub writable: Vec<String>,
    /// The secrets hidden from the agent, as recorded (empty for none).
    pub hidden: Vec<String>,
    /// The Landlock ABI the kernel enforces (kind landlock).
    pub abi: Option<u32>,
    /// For the policy messages: why the agent is not confined (kind none, `WARNING: ...`), or why
    /// `auto` took Landlock (`NOTE: ...`).
    pub warning: Option<String>,
    /// The user's configuration files the agent could write, put back after the run.
    pub guarded: Vec<GuardedFile>,
    /// The private writable temp folder (`TMPDIR`), removed when the plan is dropped.
    pub scratch: Option<tempfile::TempDir>,
    /// The agent's private state and cache, removed when the plan is dropped.
    pub private: Option<PrivateState>,
    /// The network mode and, for `api`/`strict`, the proxy (stopped by [`NetworkPlan::stop`] or
    /// with the plan).
    pub network: NetworkPlan,
}

impl SandboxPlan {
    /// `spec` as this sandbox starts it: the wrapper before its program, the sandbox's variables
    /// (`TMPDIR`) before its own.
    pub fn confine(&self, mut spec: ProcessSpec) -> ProcessSpec {
        if let Some((first, rest)) = self.wrapper.split_first() {
            let mut args: Vec<std::ffi::OsString> = rest.to_vec();
            args.push(std::mem::replace(&mut spec.program, first.clone()));
            args.append(&mut spec.args);
            spec.args = args;
        }
        let mut env = self.env.clone();
        env.append(&mut spec.env);
        spec.env = env;
        spec
    }

    /// `sandbox: {kind, writable}` (and `abi` for Landlock) for policy.json and run.json.
    pub fn record(&self) -> SandboxRecord {
        SandboxRecord {
            kind: self.kind.name().to_string(),
            writable: self.writable.clone(),
            hidden: self.hidden.clone(),
            abi: self.abi,
        }
    }

    /// The private temp folder, where a confined agent writes files git-dispatch reads back.
    pub fn scratch_dir(&self) -> Option<&Path> {
        self.scratch.as_ref().map(tempfile::TempDir::path)
    }

    /// After the agent: puts back the guarded configuration files it changed (one message per
    /// file) and copies its session logs into `run_dir`. The files are put back again when the
    /// plan is dropped.
    pub fn after_agent(&self, run_dir: &Path) -> anyhow::Result<Vec<String>> {
        let mut messages = Vec::new();
        for file in &self.guarded {
            if file.restore()? {
                messages.push(format!("the agent changed {}; it was put back as it was", file.path().display()));
            }
        }
        if let Some(private) = &self.private {
            messages.extend(private.collect_sessions(run_dir)?);
        }
        Ok(messages)
    }

    fn unconfined(warning: String) -> SandboxPlan {
        SandboxPlan {
            kind: Kind::None,
            wrapper: Vec::new(),
            env: Vec::new(),
            writable: Vec::new(),
            hidden: Vec::new(),
            abi: None,
            warning: Some(warning),
            guarded: Vec::new(),
            scratch: None,
            private: None,
            network: NetworkPlan::default(),
        }
    }
}

impl Drop for SandboxPlan {
    fn drop(&mut self) {
        for file in &self.guarded {
            let _ = file.restore();
        }
    }
}

/// The `bwrap` program if a sandbox like ours starts here, else why not (probed once per process;
/// `GIT_DISPATCH_BWRAP` overrides the program). The probe `auto` and `doctor` use.
pub fn bwrap_usable() -> Result<PathBuf, String> {
    bwrap::usable()
}

/// The `bwrap` program the sandbox would run (`GIT_DISPATCH_BWRAP`, else `bwrap` on PATH).
pub fn bwrap_program() -> Option<PathBuf> {
    bwrap::program()
}

/// The arguments of that probe (`bwrap <these>`), for `doctor` to show.
pub fn bwrap_probe_args() -> &'static [&'static str] {
    &bwrap::PROBE_ARGS
}

/// The Landlock ABI this kernel enforces, else why Landlock cannot confine an agent here (probed
/// once; `GIT_DISPATCH_NO_LANDLOCK=1` makes it unsupported, for tests).
pub fn landlock_support() -> Result<u32, String> {
    landlock::support()
}

/// Why an explicit choice cannot be honoured.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("--sandbox bwrap: bubblewrap cannot make a sandbox here: {0}")]
    BwrapUnusable(String),
    #[error("--sandbox landlock: Landlock cannot confine the agent here: {0}")]
    LandlockUnavailable(String),
    #[error("--network {0}: cannot keep the agent off the network here: {1} (--network allow lets it reach any host)")]
    NetworkUnenforceable(&'static str, String),
}

/// The warning recorded when the agent runs unconfined at the user's request.
pub const NONE_REQUESTED: &str =
    "WARNING: the agent ran without a sandbox (--sandbox none): it could write anywhere this user can.";

/// Decides the confinement of one run and prepares it (the private state and temp folders made,
/// the guarded files captured, the network's proxy started). An explicit `bwrap` or `landlock`
/// (or network mode) that cannot be had is an error; `auto` degrades to Landlock, then to none
/// with a warning.
pub fn plan(req: &SandboxRequest) -> anyhow::Result<SandboxPlan> {
    let cache_links: Vec<PathBuf> = match &req.state.cache {
        Some(cache) => req.writable.iter().filter(|path| path.starts_with(cache) && *path != cache).cloned().collect(),
        None => Vec::new(),
    };
    let private = PrivateState::create(&req.private_root, &req.state, &cache_links)?;
    let chosen = choose(req)?;
    let network = NetworkPlan::start(&req.network, req.agent, chosen.kind(), &private.home())?;
    let mut plan = match chosen {
        Chosen::Bwrap(program) => bwrap_plan(req, private.root(), program, &network)?,
        Chosen::Landlock(abi, note) => landlock_plan(req, private.root(), abi, note, &network)?,
        Chosen::None(warning) => SandboxPlan::unconfined(warning),
    };
    plan.env.extend(private.env());
    plan.env.extend(network.env());
    let writable: Vec<PathBuf> = plan.writable.iter().map(PathBuf::from).collect();
    let guarded: Vec<PathBuf> = req
        .state
        .guarded
        .iter()
        .filter(|path| {
            plan.kind == Kind::None || writable.iter().any(|root| paths::canonical_or_parent(path).starts_with(root))
        })
        .cloned()
        .collect();
    plan.guarded = GuardedFile::capture_all(&guarded)?;
    plan.private = Some(private);
    plan.network = network;
    Ok(plan)
}

fn bwrap_plan(
    req: &SandboxRequest,
    private: &Path,
    program: PathBuf,
    net: &NetworkPlan,
) -> anyhow::Result<SandboxPlan> {
    let scratch = private_tmp()?;
    let scratch_path = canonical(scratch.path());
    let layout = bwrap::Layout::prepare(req, &[scratch_path.clone(), private.to_path_buf()])?;
    let mut wrapper = layout.argv(&program);
    net.wrap_bwrap(&mut wrapper)?;
    Ok(SandboxPlan {
        kind: Kind::Bwrap,
        wrapper,
        env: vec![("TMPDIR".into(), scratch_path.into_os_string())],
        writable: displayed(&layout.writable),
        hidden: displayed(&layout.hidden),
        abi: None,
        warning: None,
        guarded: Vec::new(),
        scratch: Some(scratch),
        private: None,
        network: NetworkPlan::default(),
    })
}

fn landlock_plan(
    req: &SandboxRequest,
    private: &Path,
    abi: u32,
    note: Option<String>,
    net: &NetworkPlan,
) -> anyhow::Result<SandboxPlan> {
    let scratch = private_tmp()?;
    let scratch_path = canonical(scratch.path());
    let rules = landlock::Rules::prepare(req, &[scratch_path.clone(), private.to_path_buf()])?;
    let mut args = rules.to_args();
    args.extend(net.landlock_args());
    let wrapper = confine::wrapper(args)?;
    Ok(SandboxPlan {
        kind: Kind::Landlock,
        wrapper,
        env: vec![("TMPDIR".into(), scratch_path.into_os_string())],
        writable: displayed(&rules.writable),
        hidden: displayed(&rules.hidden),
        abi: Some(abi),
        warning: note,
        guarded: Vec::new(),
        scratch: Some(scratch),
        private: None,
        network: NetworkPlan::default(),
    })
}

fn displayed(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|path| path.display().to_string()).collect()
}

/// The agent's private `TMPDIR`, removed with the plan.
fn private_tmp() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("git-dispatch-agent-").tempdir().context("creating the agent's private temp folder")
}
