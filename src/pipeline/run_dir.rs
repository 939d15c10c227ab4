//! The run folder of a dispatch: created (with the `.codex-dispatch/` exclude line when it is
//! inside the repository), its inputs written (task.md, prompt.md, result.schema.json), the verdict
//! it starts from, and the whole of a `--dry-run`.

use super::options::RunOptions;
use super::resolve::Dispatch;
use crate::artifacts::{self, RunDir};
use crate::policy::Verdict;
use crate::prompt;

/// Create the run folder (and the `.codex-dispatch/` exclude line when it is inside the repository).
pub fn create_run_dir(dispatch: &Dispatch, options: &RunOptions) -> anyhow::Result<RunDir> {
    if options.output_dir.is_none() {
        artifacts::check_runs_path(&dispatch.packet.workdir)?;
    }
    let root = artifacts::runs_root(&dispatch.packet.workdir, options.output_dir.as_deref());
    if root.starts_with(&dispatch.repo_root) {
        artifacts::exclude_run_folders(&dispatch.common_dir)?;
    }
    // Neither a taken branch nor a name that a group id (`<first run id>-g`) could clash with.
    let taken = |id: &str| {
        dispatch.common_dir.join("refs/heads/dispatch").join(id).exists()
            || super::attempts::clashes_with_a_group(&root, id)
    };
    artifacts::create_run_dir(&root, dispatch.packet.mode, &dispatch.packet.objective, &taken)
}

/// The seed's verdict fields filled from the dispatch.
pub fn initial_verdict(dispatch: &Dispatch, run_dir: &RunDir) -> Verdict {
    Verdict {
        mode: dispatch.packet.mode.to_string(),
        workdir: dispatch.packet.workdir.display().to_string(),
        write_scope: dispatch.packet.write_scope.clone(),
        run_dir: run_dir.path.display().to_string(),
        agent: dispatch.agent.program_name().to_string(),
        scope_ok: true,
        structured_result_ok: true,
        stage: "created".to_string(),
        messages: dispatch.packet.warnings.iter().map(|warning| format!("WARNING: task packet: {warning}")).collect(),
        ..Verdict::default()
    }
}

/// `--dry-run`: the run folder with the packet, the prompt, the schema, a dry-run result and a verdict.
pub fn dry_run(dispatch: &Dispatch, options: &RunOptions) -> anyhow::Result<(RunDir, Verdict)> {
    let run_dir = create_run_dir(dispatch, options)?;
    write_inputs(dispatch, &run_dir)?;
    let result = serde_json::json!({
        "result": "done",
        "summary": "Dry run only. The agent was not called.",
        "changed_files": [],
        "verification_run": [],
        "evidence": [format!("Prompt written to {}", run_dir.file("prompt.md").display())],
        "findings": [],
        "risks": [],
        "next": "Run without --dry-run to dispatch the agent.",
        "dry_run": true,
    });
    run_dir.write_json("result.json", &result)?;
    let mut verdict = initial_verdict(dispatch, &run_dir);
    verdict.dry_run = true;
    verdict.stage = "done".to_string();
    verdict.messages.push("Dry run: no worktree was created and no agent was called.".to_string());
    run_dir.write_json("policy.json", &verdict)?;
    run_dir.write("result.md", artifacts::render_result_md(&verdict, &[], &result).as_bytes())?;
    Ok((run_dir, verdict))
}

/// task.md (the packet's text as it was checked, verbatim), prompt.md and result.schema.json.
pub fn write_inputs(dispatch: &Dispatch, run_dir: &RunDir) -> anyhow::Result<()> {
    run_dir.write("task.md", dispatch.packet_text.as_bytes())?;
    run_dir.write("prompt.md", prompt::render(&dispatch.packet, &dispatch.packet_text).as_bytes())?;
    run_dir.write("result.schema.json", prompt::RESULT_SCHEMA.as_bytes())
}
