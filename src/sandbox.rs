//! Confinement of the agent process (SPEC §3): which sandbox a dispatch uses, and the argv prefix,
//! environment and private temp folder that make it.
//!
//! [`plan`] turns a [`SandboxRequest`] (the user's choice, the worktree, the shared git dir, the
//! agent's state folders, extra writable paths) into a [`SandboxPlan`]: for bubblewrap the whole
//! filesystem read-only, the worktree writable with its `.git` file and the shared git dir
//! read-only, a private `TMPDIR`, the agent's own state folders and the cache writable, and
//! `--unshare-pid --die-with-parent --new-session` so nothing outlives the agent. Landlock is not
//! implemented: `auto` falls back to none with a warning, an explicit `landlock` is an error.

mod bwrap;
mod paths;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::agent::AgentKind;
use crate::policy::SandboxRecord;

pub use paths::{agent_state_paths, expand_writable, StatePaths};

/// What the user asked for (`--sandbox`, `GIT_DISPATCH_SANDBOX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    /// bubblewrap if usable, else none with a warning.
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
    /// The agent's own state folders and the cache folder (writable; created if missing), and the
    /// agent's configuration files in them (read-only).
    pub state: StatePaths,
    /// `--writable` and `WRITABLE:` paths, already absolute (created as folders if missing).
    pub writable: Vec<PathBuf>,
}

/// How to start the agent confined: prepend `wrapper` to its argv and add `env`.
#[derive(Debug)]
pub struct SandboxPlan {
    pub kind: Kind,
    /// The argv prefix (`bwrap ... --`); empty for none.
    pub wrapper: Vec<OsString>,
    /// Variables for the agent (`TMPDIR`).
    pub env: Vec<(OsString, OsString)>,
    /// The paths the agent may write, as recorded (empty for none: it may write anything).
    pub writable: Vec<String>,
    /// Why the agent is not confined (kind none), for the policy messages.
    pub warning: Option<String>,
    /// The private writable temp folder (`TMPDIR`), removed when the plan is dropped.
    pub scratch: Option<tempfile::TempDir>,
}

impl SandboxPlan {
    /// `sandbox: {kind, writable}` for policy.json and run.json.
    pub fn record(&self) -> SandboxRecord {
        SandboxRecord { kind: self.kind.name().to_string(), writable: self.writable.clone() }
    }

    /// The private temp folder, where a confined agent writes files git-dispatch reads back.
    pub fn scratch_dir(&self) -> Option<&Path> {
        self.scratch.as_ref().map(tempfile::TempDir::path)
    }

    fn unconfined(warning: String) -> SandboxPlan {
        SandboxPlan {
            kind: Kind::None,
            wrapper: Vec::new(),
            env: Vec::new(),
            writable: Vec::new(),
            warning: Some(warning),
            scratch: None,
        }
    }
}

/// The `bwrap` program if a sandbox like ours starts here, else why not (probed once per process;
/// `GIT_DISPATCH_BWRAP` overrides the program). For `doctor`.
pub fn bwrap_usable() -> Result<PathBuf, String> {
    bwrap::usable()
}

/// Why an explicit choice cannot be honoured.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("--sandbox bwrap: bubblewrap cannot make a sandbox here: {0}")]
    BwrapUnusable(String),
    #[error("--sandbox landlock is not implemented yet; use --sandbox bwrap, auto or none")]
    LandlockUnavailable,
}

/// The warning recorded when the agent runs unconfined at the user's request.
pub const NONE_REQUESTED: &str =
    "WARNING: the agent ran without a sandbox (--sandbox none): it could write anywhere this user can.";

/// Decides the confinement of one run and prepares it (state folders created, private temp folder
/// made). An explicit `bwrap` or `landlock` that cannot be had is an error; `auto` degrades to none
/// with a warning.
pub fn plan(req: &SandboxRequest) -> anyhow::Result<SandboxPlan> {
    match req.choice {
        Choice::None => Ok(SandboxPlan::unconfined(NONE_REQUESTED.to_string())),
        Choice::Landlock => Err(SandboxError::LandlockUnavailable.into()),
        Choice::Bwrap => match bwrap::usable() {
            Ok(program) => bwrap_plan(req, program),
            Err(reason) => Err(SandboxError::BwrapUnusable(reason).into()),
        },
        Choice::Auto => match bwrap::usable() {
            Ok(program) => bwrap_plan(req, program),
            Err(reason) => Ok(SandboxPlan::unconfined(format!(
                "WARNING: the agent ran without a sandbox: bubblewrap is not usable here ({reason}) and Landlock is \
                 not implemented; it could write anywhere this user can. Install bubblewrap to confine it."
            ))),
        },
    }
}

fn bwrap_plan(req: &SandboxRequest, program: PathBuf) -> anyhow::Result<SandboxPlan> {
    let scratch = tempfile::Builder::new()
        .prefix("git-dispatch-agent-")
        .tempdir()
        .context("creating the agent's private temp folder")?;
    let scratch_path = canonical(scratch.path());
    let layout = bwrap::Layout::prepare(req, &scratch_path)?;
    let writable = layout.writable.iter().map(|path| path.display().to_string()).collect();
    Ok(SandboxPlan {
        kind: Kind::Bwrap,
        wrapper: layout.argv(&program),
        env: vec![("TMPDIR".into(), scratch_path.into_os_string())],
        writable,
        warning: None,
        scratch: Some(scratch),
    })
}

/// The path with symlinks resolved, or as it is when it does not exist.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
