//! What the integrity tests share: a worker packet whose scope is everything, an offered run,
//! and waiting on a file another process writes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cli::{dispatch, printed_run_dir, read_json, stderr, write_packet};
use crate::support::fixtures::Fixture;

/// A worker packet for the fixture with WRITE SCOPE `**` and `extra` field lines.
pub fn packet(fx: &Fixture, extra: &str) -> PathBuf {
    let text = format!(
        "MODE: worker\nWORKDIR: {}\nOBJECTIVE: Change things.\n{extra}NON-GOALS: none\n\nWRITE SCOPE:\n- **\n\n\
         VERIFICATION:\n- true\n\nDELIVERABLE:\n- Changes.\n",
        fx.repo.display()
    );
    write_packet(fx, "task.md", &text)
}

/// Dispatch `plan` with `packet(fx, extra)` and `flags`; asserts the exit code, returns the run
/// folder and its policy.json.
pub fn dispatched(fx: &Fixture, extra: &str, plan: &Value, flags: &[&str], exit: i32) -> (PathBuf, Value) {
    let output = dispatch(fx, &packet(fx, extra), plan, flags);
    assert_eq!(output.status.code(), Some(exit), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let policy = read_json(&run_dir.join("policy.json"));
    (run_dir, policy)
}

/// The id of a run folder.
pub fn id_of(run_dir: &Path) -> String {
    run_dir.file_name().expect("a run folder has a name").to_string_lossy().into_owned()
}

/// Waits until `path` exists (another process writes it), at most 60 s.
pub fn wait_for_file(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The `(path, kind, allowed)` of policy.json's `sensitive_changes`, sorted.
pub fn sensitive(policy: &Value) -> Vec<(String, String, bool)> {
    let mut out: Vec<(String, String, bool)> = policy["sensitive_changes"]
        .as_array()
        .expect("sensitive_changes is a list")
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap_or("").to_string(),
                c["kind"].as_str().unwrap_or("").to_string(),
                c["allowed"] == true,
            )
        })
        .collect();
    out.sort();
    out
}
