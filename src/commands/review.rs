//! `git dispatch review [RUN]` and `git dispatch show [RUN] [--json]`. What the run folder says is
//! shown escaped ([`crate::escape`]); `--json` is escaped by JSON itself.

use std::io::{IsTerminal, Write};

use crate::cli::{ReviewArgs, ShowArgs};
use crate::escape::line;
use crate::handback;

pub fn cmd_review(args: &ReviewArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let root = super::runs::runs_root(args.selector.repo.as_deref(), args.selector.output_dir.as_deref())?;
    let run = handback::select_run(&root, args.selector.run.as_deref())?;
    if still_going(&run, stdout)? {
        return Ok(0);
    }
    let color = match args.color.as_str() {
        "always" => true,
        "never" => false,
        "auto" => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        other => anyhow::bail!("--color: expected auto, always or never, not `{other}`"),
    };
    handback::review(&run, color, stdout)?;
    Ok(0)
}

pub fn cmd_show(args: &ShowArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let root = super::runs::runs_root(args.selector.repo.as_deref(), args.selector.output_dir.as_deref())?;
    let run = handback::select_run(&root, args.selector.run.as_deref())?;
    let record: serde_json::Value = std::fs::read(run.file("run.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(serde_json::Value::Null);
    if args.json {
        let value = serde_json::json!({
            "run_id": run.id,
            "run_dir": run.path.display().to_string(),
            "state": crate::jobs::observe(&run.path).state,
            "verdict": handback::verdict_label(&run),
            "applied": run.applied,
            "policy": run.policy,
            "run": record,
        });
        writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(0);
    }
    if still_going(&run, stdout)? {
        return Ok(0);
    }
    let policy = &run.policy;
    writeln!(stdout, "run:      {}", line(&run.id))?;
    writeln!(stdout, "folder:   {}", line(&run.path.display().to_string()))?;
    writeln!(stdout, "mode:     {}", line(&policy.mode))?;
    writeln!(stdout, "verdict:  {}", handback::verdict_label(&run))?;
    writeln!(stdout, "exit:     {}", policy.exit_code)?;
    if let Some(branch) = &policy.branch {
        writeln!(stdout, "branch:   {}", line(branch))?;
    }
    if let Some(applied) = &run.applied {
        writeln!(stdout, "applied:  {}", line(&format!("{} ({})", applied.applied_at, applied.how)))?;
    }
    writeln!(stdout, "changed:  {}", policy.changed_paths.len())?;
    for path in &policy.changed_paths {
        writeln!(stdout, "  {}", line(path))?;
    }
    for message in &policy.messages {
        writeln!(stdout, "message:  {}", line(message))?;
    }
    Ok(0)
}

/// A run still queued or running has no verdict yet: says so (stage, time, how to wait) and
/// returns true.
fn still_going(run: &handback::RunRecord, stdout: &mut dyn Write) -> anyhow::Result<bool> {
    let state = crate::jobs::observe(&run.path);
    if state.state.is_over() {
        return Ok(false);
    }
    let view = crate::jobs::StatusView::of(state);
    writeln!(
        stdout,
        "run {} is {} (stage {}, {:.0} s): no verdict yet; wait for it with `git dispatch wait {}`",
        run.id,
        view.state.state.name(),
        view.state.stage,
        view.elapsed_s,
        run.id
    )?;
    Ok(true)
}
