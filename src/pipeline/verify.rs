//! `--verify`: git-dispatch runs the packet's VERIFICATION commands itself, in the result worktree,
//! each through the process module with a timeout and in the agent's sandbox (they run code the
//! agent wrote), and records them in `verification.json`.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::artifacts::RunDir;
use crate::process::{self, ProcessSpec};
use crate::sandbox::SandboxPlan;

/// How much of a command's output `verification.json` keeps (its end).
const OUTPUT_TAIL_BYTES: usize = 4096;

#[derive(Debug, Serialize)]
pub struct CommandRecord {
    pub command: String,
    pub exit_code: Option<i32>,
    pub killed: Option<String>,
    pub duration_ms: u64,
    pub output_tail: String,
    pub passed: bool,
}

#[derive(Debug, Serialize)]
pub struct VerificationFile {
    pub passed: bool,
    pub commands: Vec<CommandRecord>,
}

/// Run every command with `sh -c` in `cwd`, confined like the agent; returns true when one failed.
pub fn run_verification(
    commands: &[String],
    cwd: &Path,
    timeout_sec: u64,
    run_dir: &RunDir,
    sandbox: &SandboxPlan,
    cancel: &crate::process::Cancel,
) -> anyhow::Result<bool> {
    let mut records = Vec::new();
    for command in commands {
        let spec = ProcessSpec::new("sh", cwd).arg("-c").arg(command).timeout(Duration::from_secs(timeout_sec));
        let mut spec = sandbox.confine(spec);
        spec.cancel = Some(cancel.clone());
        let captured = process::run_captured(&spec)?;
        let mut output = captured.stdout.clone();
        output.extend_from_slice(&captured.stderr);
        let start = output.len().saturating_sub(OUTPUT_TAIL_BYTES);
        records.push(CommandRecord {
            command: command.clone(),
            exit_code: captured.outcome.exit_code,
            killed: captured.outcome.killed.as_ref().map(|reason| reason.to_string()),
            duration_ms: captured.outcome.duration.as_millis() as u64,
            output_tail: String::from_utf8_lossy(&output[start..]).into_owned(),
            passed: captured.outcome.success(),
        });
    }
    let passed = records.iter().all(|record| record.passed);
    run_dir.write_json("verification.json", &VerificationFile { passed, commands: records })?;
    Ok(!passed)
}
