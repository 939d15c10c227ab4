//! Runs the `fake-agent` test binary directly, posing as codex or claude, with a plan written to a
//! file; collects its exit status, stdout events, stderr and (codex) `-o` result. Test files that
//! include this module also include `support/scratch_repo.rs` as `scratch_repo`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use serde_json::Value;

use crate::scratch_repo::ScratchRepo;

/// The fake agent binary cargo built for these tests.
pub fn fake_agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-agent"))
}

/// Writes `steps` (a JSON list) as a plan file in `dir` and returns its path.
pub fn write_plan(dir: &Path, steps: &Value) -> PathBuf {
    let path = dir.join("plan.json");
    std::fs::write(&path, steps.to_string()).expect("writing the plan");
    path
}

/// What one run of the fake agent produced.
pub struct FakeRun {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// codex style: the `-o` file's content, if it was written.
    pub result_file: Option<String>,
}

impl FakeRun {
    /// The stdout lines decoded as JSON (panics on a non-JSON line).
    pub fn events(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}")))
            .collect()
    }

    /// The `type` of each event, in order.
    pub fn event_types(&self) -> Vec<String> {
        self.events().iter().map(|event| event["type"].as_str().unwrap_or("?").to_owned()).collect()
    }

    /// claude style: the last event (the `result` event).
    pub fn last_event(&self) -> Value {
        self.events().pop().expect("at least one event")
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// The codex command line of SPEC §6 (with `-C workdir`, `-o <temp>/result.json`).
pub fn codex_command(workdir: &Path, plan: &Path, result_file: &Path) -> Command {
    let mut command = Command::new(fake_agent_bin());
    command
        .args(["exec", "--json", "--dangerously-bypass-approvals-and-sandbox", "-C"])
        .arg(workdir)
        .arg("--output-schema")
        .arg(plan) // any existing file will do as the schema path
        .arg("-o")
        .arg(result_file)
        .arg("the prompt")
        .env("FAKE_AGENT_PLAN", plan)
        .env_remove("FAKE_AGENT_STYLE")
        .stdin(Stdio::null());
    command
}

/// The claude command line of SPEC §6, run in `workdir`.
pub fn claude_command(workdir: &Path, plan: &Path) -> Command {
    let mut command = Command::new(fake_agent_bin());
    command
        .args(["-p", "the prompt", "--output-format", "stream-json", "--verbose"])
        .args(["--dangerously-skip-permissions", "--json-schema", "{}"])
        .current_dir(workdir)
        .env("FAKE_AGENT_PLAN", plan)
        .env_remove("FAKE_AGENT_STYLE")
        .stdin(Stdio::null());
    command
}

/// Runs `command` to completion and collects what it produced; `result_file` is read afterwards.
pub fn collect(command: &mut Command, result_file: Option<&Path>) -> FakeRun {
    let output = command.output().expect("running the fake agent");
    let result_file = result_file.and_then(|path| std::fs::read_to_string(path).ok());
    FakeRun {
        status: output.status,
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        result_file,
    }
}

/// Runs the fake agent as codex in the scratch repository with `steps` (plan and `-o` file in
/// the temp root, hermetic git environment).
pub fn run_codex(repo: &ScratchRepo, steps: &Value) -> FakeRun {
    let plan = write_plan(&repo.base(), steps);
    let result_file = repo.base().join("result.json");
    let _ = std::fs::remove_file(&result_file);
    let mut command = codex_command(&repo.root, &plan, &result_file);
    collect(command.envs(repo.git_env()), Some(&result_file))
}

/// Runs the fake agent as claude in the scratch repository with `steps`.
pub fn run_claude(repo: &ScratchRepo, steps: &Value) -> FakeRun {
    let plan = write_plan(&repo.base(), steps);
    let mut command = claude_command(&repo.root, &plan);
    collect(command.envs(repo.git_env()), None)
}
