//! The hand-back tools: `review` (the text of `git dispatch review` and the verdict's fields, the
//! patch cut above a size limit with a marker naming the full patch) and `apply` (exactly
//! `git dispatch apply`, through `handback::apply_run`: the same checks, the same refusals).

use std::path::Path;

use serde_json::{json, Value};

use super::args::{ApplyArgs, ReviewArgs};
use super::calls::Config;
use crate::handback::{self, ApplyHow};
use crate::jobs::{self, StatusView};

/// The most bytes of a patch a review carries (the full patch stays in the run folder).
pub const PATCH_LIMIT: usize = 40_000;

/// A review: the fields (also the structured result, with the patch) and the review text.
#[derive(Debug, Clone)]
pub struct Review {
    pub fields: Value,
    pub text: String,
}

/// `review`: the run named (or the newest); a run still going has no verdict yet.
pub fn review(config: &Config, args: ReviewArgs) -> anyhow::Result<Review> {
    let workdir = super::args::workdir_of(args.workdir.as_deref(), &config.workdir);
    let root = handback::runs_root(Some(&workdir), None)?;
    let run = handback::select_run(&root, args.run_id.as_deref())?;
    let state = jobs::observe(&run.path);
    if !state.state.is_over() {
        let view = StatusView::of(state);
        let text = format!(
            "run {} is {} (stage {}, {:.0} s): no verdict yet; call `wait` with its run_id first",
            run.id,
            view.state.state.name(),
            view.state.stage,
            view.elapsed_s
        );
        let fields = json!({
            "run_id": run.id,
            "state": view.state.state,
            "stage": view.state.stage,
            "verdict": null,
            "message": text,
        });
        return Ok(Review { fields, text });
    }
    let mut rendered = Vec::new();
    handback::review(&run, false, &mut rendered)?;
    let patch_path = run.file("result.patch");
    let patch = std::fs::read(&patch_path).unwrap_or_default();
    let text = cut_patch(&rendered, patch.len(), &patch_path);
    let shown_patch = cut_patch(&patch, patch.len(), &patch_path);
    let policy = &run.policy;
    let mut fields = json!({
        "run_id": run.id,
        "run_dir": run.path.display().to_string(),
        "state": state.state,
        "verdict": handback::verdict_label(&run),
        "offered": policy.offered,
        "applied": run.applied,
        "exit_code": policy.exit_code,
        "mode": policy.mode,
        "messages": policy.messages,
        "changes": handback::load_changes(&run)?,
        "out_of_scope_changes": policy.out_of_scope_changes,
        "sensitive_changes": policy.sensitive_changes,
        "claims_mismatch": policy.claims_mismatch,
        "patch_path": patch_path.display().to_string(),
        "patch_bytes": patch.len(),
        "patch_truncated": patch.len() > PATCH_LIMIT,
    });
    fields["patch"] = Value::String(shown_patch);
    Ok(Review { fields, text })
}

/// `text` (whose last `patch_len` bytes are the patch) as UTF-8, the patch cut at a line end
/// within [`PATCH_LIMIT`] bytes, with a marker naming the full patch.
pub fn cut_patch(text: &[u8], patch_len: usize, patch_path: &Path) -> String {
    if patch_len <= PATCH_LIMIT || patch_len > text.len() {
        return String::from_utf8_lossy(text).into_owned();
    }
    let end = text.len() - patch_len + PATCH_LIMIT;
    let cut = text[..end].iter().rposition(|&byte| byte == b'\n').map_or(end, |newline| newline + 1);
    let shown = cut - (text.len() - patch_len);
    format!(
        "{}[patch truncated: {shown} of {patch_len} bytes shown; the full patch is {}]\n",
        String::from_utf8_lossy(&text[..cut]),
        patch_path.display()
    )
}

/// `apply`: the run named, handed back as a patch or (`merge`) a merge.
pub fn apply(config: &Config, args: ApplyArgs) -> anyhow::Result<Value> {
    let workdir = super::args::workdir_of(args.workdir.as_deref(), &config.workdir);
    let root = handback::runs_root(Some(&workdir), None)?;
    let how = if args.merge { ApplyHow::Merge } else { ApplyHow::Patch };
    let handed = handback::apply_run(&root, Some(&args.run_id), how)?;
    Ok(json!({
        "run_id": handed.run.id,
        "applied": how.as_str(),
        "repository": handed.repo_root.display().to_string(),
        "paths": handed.outcome.paths,
        "commit": handed.outcome.commit.map(|commit| commit.to_string()),
        "merge": handed.outcome.merge,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_patch_is_whole() {
        let text = b"run: x\n\ndiff --git a/f b/f\n+1\n";
        assert_eq!(cut_patch(text, 20, Path::new("/r/result.patch")), String::from_utf8_lossy(text));
    }

    #[test]
    fn a_big_patch_is_cut_at_a_line_end_with_a_marker() {
        let header = b"run: x\nverdict: offered\n\n".to_vec();
        let patch: Vec<u8> = (0..10_000).flat_map(|n| format!("+line {n}\n").into_bytes()).collect();
        let text = [header.clone(), patch.clone()].concat();
        let cut = cut_patch(&text, patch.len(), Path::new("/r/result.patch"));
        assert!(cut.starts_with("run: x\nverdict: offered\n\n+line 0\n"));
        let marker = cut.lines().last().expect("a marker line");
        assert!(
            marker.starts_with("[patch truncated: ") && marker.ends_with("the full patch is /r/result.patch]"),
            "{marker}"
        );
        let body = &cut[header.len()..cut.len() - marker.len() - 1];
        assert!(body.len() <= PATCH_LIMIT && body.ends_with('\n'), "{}", body.len());
        assert!(marker.contains(&format!("{} of {} bytes", body.len(), patch.len())), "{marker}");
    }
}
