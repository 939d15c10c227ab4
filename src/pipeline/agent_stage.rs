//! The agent's stage: what the sandbox must know (the worktree, the shared git dir, what stays
//! read-only, what else may be written), the agent started through the runner, and the facts of its
//! run that the verdict needs.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::Run;
use crate::agent::{self, AgentReport, StructuredResult};
use crate::policy::AgentFacts;
use crate::sandbox;
use crate::workspace::Workspace;

impl Run<'_> {
    /// What the sandbox must know: the worktree, the shared git dir, what stays read-only, what
    /// else the agent may write (`--writable` from the current folder, `WRITABLE:` from WORKDIR)
    /// and read (`--readable`, `READABLE:`), and where its private state goes
    /// (`<layout>/agent/<run-id>`).
    pub(super) fn sandbox_request(&self, ws: &Workspace) -> anyhow::Result<sandbox::SandboxRequest> {
        let home = std::env::var_os("HOME").filter(|home| !home.is_empty()).map(PathBuf::from);
        let expand = |texts: &[String]| -> anyhow::Result<Vec<PathBuf>> {
            let workdir = &self.dispatch.packet.workdir;
            texts.iter().map(|text| sandbox::expand_writable(text, home.as_deref(), workdir)).collect()
        };
        let mut writable = self.options.writable.clone();
        writable.extend(expand(&self.dispatch.packet.writable)?);
        let mut readable = self.options.readable.clone();
        readable.extend(expand(&self.dispatch.packet.readable)?);
        let worktrees_root = ws.layout_dir.parent().unwrap_or(&ws.layout_dir).to_path_buf();
        let var = |name: &str| std::env::var_os(name);
        Ok(sandbox::SandboxRequest {
            choice: self.options.sandbox,
            agent: self.dispatch.agent,
            worktree: ws.path.clone(),
            common_dir: ws.common_dir.clone(),
            protected: vec![self.dispatch.repo_root.clone(), worktrees_root, self.run_dir.path.clone()],
            state: sandbox::agent_state_paths(self.dispatch.agent, home.as_deref(), &var),
            private_root: ws.layout_dir.join(sandbox::PRIVATE_STATE_DIR).join(&self.run_dir.id),
            writable,
            readable,
            hidden: sandbox::secret_paths(home.as_deref(), &var),
            network: crate::egress::NetworkRequest {
                choice: self.dispatch.network,
                allow_hosts: self.dispatch.allow_hosts.clone(),
                log: Some(self.run_dir.file("network.jsonl")),
            },
        })
    }

    pub(super) fn run_agent(
        &mut self,
        ws: &Workspace,
        cwd: &std::path::Path,
        sandbox: &sandbox::SandboxPlan,
    ) -> anyhow::Result<AgentReport> {
        let program = match &self.dispatch.agent_program {
            Some(program) => program.clone(),
            None => agent::locate(self.dispatch.agent)?,
        };
        // The agent's `--version` is remembered in the user's cache folder; a dispatch with its own
        // worktrees folder (the demo) leaves nothing there.
        let version_cache = self.dispatch.worktrees_root.is_none().then(agent::default_version_cache_dir).flatten();
        agent::remember_versions_in(version_cache);
        let prompt = std::fs::read_to_string(self.run_dir.file("prompt.md")).context("cannot read prompt.md")?;
        let request = agent::AgentRequest {
            kind: self.dispatch.agent,
            program,
            cwd,
            worktree: &ws.path,
            prompt: &prompt,
            run_dir: &self.run_dir.path,
            timeout: Duration::from_secs(self.dispatch.timeout_sec),
            heartbeat: Duration::from_secs(self.dispatch.heartbeat_sec),
            quiet: !self.options.live_status,
            wrapper: sandbox.wrapper.clone(),
            extra_env: sandbox.env.iter().cloned().chain(self.marker_env()).collect(),
            output_dir: sandbox.scratch_dir(),
            cancel: Some(self.cancel.clone()),
            on_activity: Some(&self.state),
        };
        let report = agent::run(&request)?;
        self.record.agent_argv = report.argv.clone();
        self.record.agent_version = report.version.clone();
        self.record.token_usage = serde_json::to_value(report.usage).ok();
        Ok(report)
    }
}

pub(super) fn agent_facts(report: &AgentReport) -> AgentFacts {
    let (result_problem, claimed) = match &report.result {
        StructuredResult::Valid(value) => {
            let claimed = value
                .get("changed_files")
                .and_then(|files| files.as_array())
                .map(|files| files.iter().filter_map(|file| file.as_str().map(str::to_string)).collect::<Vec<_>>());
            (None, claimed)
        }
        StructuredResult::Blocked { reason } => (Some(reason.clone()), None),
    };
    AgentFacts {
        exit_code: report.exit_code,
        watchdog_killed: report.watchdog_killed,
        watchdog_reason: report.watchdog_reason.clone(),
        interrupted: report.interrupted,
        cancelled: report.cancelled,
        result_problem,
        claimed,
        errors: report.errors.clone(),
    }
}
