//! result.patch quotes paths as the repository's own `git diff` does: `core.quotePath` (the
//! default) escapes non-ASCII bytes, `core.quotePath=false` leaves them as they are (one quoting
//! function for the patch and the status snapshots; issue 21 item 4).

mod support;

use serde_json::json;
use support::cli::{dispatch, printed_run_dir, read_json, stderr, tests_scope_packet as packet};
use support::fixtures::fixture;
use support::git::git;

#[test]
fn the_patch_quotes_paths_as_git_diff_does() {
    for quote_path in ["true", "false"] {
        let fx = fixture("python-project");
        git(&fx.repo, &["config", "core.quotePath", quote_path]);
        let plan = json!([{"step": "write", "path": "tests/café.py", "content": "x = 1\n"}]);
        let output = dispatch(&fx, &packet(&fx, ""), &plan, &[]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let run_dir = printed_run_dir(&output);
        let policy = read_json(&run_dir.join("policy.json"));
        let (base, result) =
            (policy["base_commit"].as_str().expect("base"), policy["result_commit"].as_str().expect("result"));
        let ours = std::fs::read_to_string(run_dir.join("result.patch")).expect("result.patch");
        let gits = git(&fx.repo, &["diff", "--no-ext-diff", base, result]);
        let header = |patch: &str| patch.lines().next().unwrap_or_default().to_string();
        assert_eq!(header(&ours), header(&gits), "core.quotePath={quote_path}");
        let expected = if quote_path == "true" { "\"a/tests/caf\\303\\251.py\"" } else { "a/tests/café.py" };
        assert!(header(&ours).starts_with(&format!("diff --git {expected}")), "{}", header(&ours));
    }
}
