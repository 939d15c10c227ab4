//! Issue 19 item 2: size limits and bounded memory. A 300 MB file: with the default limits it is
//! not offered (`oversized`, never read); with raised limits it is streamed into the object store
//! and offered, and result.patch leaves its content to the object store. Peak memory of the
//! dispatch is measured with `/usr/bin/time -v` and stays under 256 MiB either way.

use std::path::Path;
use std::process::Output;

use serde_json::json;

use crate::common::{id_of, packet};
use crate::support::cli::{command_with_plan, printed_run_dir, read_json, run, stderr};
use crate::support::fixtures::{fixture, Fixture};

const SIZE: u64 = 300_000_000;

/// The agent makes `tests/big.bin`: 300 MB, sparse (the test machine's disk is spared; the
/// dispatch reads it like any file).
fn big_file_plan() -> serde_json::Value {
    json!([{"step": "shell", "cmd": format!("truncate -s {SIZE} tests/big.bin && printf 'tail' >> tests/big.bin")}])
}

/// Dispatches under `/usr/bin/time -v`; returns the output and the peak resident memory in KiB.
fn measured_dispatch(fx: &Fixture, flags: &[&str]) -> Option<(Output, u64)> {
    if !Path::new("/usr/bin/time").is_file() {
        crate::support::skip::skip("time", "/usr/bin/time is not installed");
        return None;
    }
    let inner = command_with_plan(fx, &big_file_plan());
    let mut timed = std::process::Command::new("/usr/bin/time");
    timed.arg("-v").arg(inner.get_program()).arg("run").arg("--task").arg(packet(fx, "")).args(flags);
    timed.env_clear().current_dir(&fx.repo).stdin(std::process::Stdio::null());
    for (key, value) in inner.get_envs() {
        if let Some(value) = value {
            timed.env(key, value);
        }
    }
    let output = timed.output().expect("/usr/bin/time runs");
    let text = stderr(&output);
    let line = text.lines().find(|l| l.contains("Maximum resident set size")).expect("time -v reports the peak");
    let kib: u64 = line.rsplit(':').next().expect("a value").trim().parse().expect("a number of KiB");
    Some((output, kib))
}

#[test]
fn a_300_mb_file_is_not_offered_and_never_read() {
    let fx = fixture("python-project");
    let Some((output, peak_kib)) = measured_dispatch(&fx, &[]) else { return };
    println!("peak memory with the default limits: {} MiB", peak_kib / 1024);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(peak_kib < 256 * 1024, "peak {peak_kib} KiB");
    let run_dir = printed_run_dir(&output);
    let policy = read_json(&run_dir.join("policy.json"));
    let oversized: Vec<&serde_json::Value> =
        policy["sensitive_changes"].as_array().expect("list").iter().filter(|c| c["kind"] == "oversized").collect();
    assert_eq!(oversized.len(), 1, "{policy:#}");
    assert_eq!(oversized[0]["path"], "tests/big.bin");
    assert!(oversized[0]["reason"].as_str().expect("reason").contains("over --max-file-size 50 MiB"));
    assert_eq!(policy["offered"], false);
    assert!(std::fs::metadata(run_dir.join("result.patch")).expect("patch").len() < 4096);
}

#[test]
fn with_raised_limits_it_streams_and_the_patch_leaves_it_to_the_commit() {
    let fx = fixture("python-project");
    let flags = ["--max-file-size", "1G", "--max-change-size", "1G"];
    let Some((output, peak_kib)) = measured_dispatch(&fx, &flags) else { return };
    println!("peak memory with a 300 MB file hashed: {} MiB", peak_kib / 1024);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(peak_kib < 256 * 1024, "peak {peak_kib} KiB");
    let run_dir = printed_run_dir(&output);
    let patch = std::fs::read_to_string(run_dir.join("result.patch")).expect("patch");
    assert!(patch.len() < 4096, "{} bytes", patch.len());
    assert!(patch.contains("Binary files /dev/null and b/tests/big.bin differ"), "{patch}");
    // git resolves the content from the object store by the full index line.
    let patch_path = run_dir.join("result.patch").display().to_string();
    crate::support::git::git(&fx.repo, &["apply", "--check", &patch_path]);

    let applied = run(&fx, &["apply", &id_of(&run_dir)]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let md = std::fs::metadata(fx.repo.join("tests/big.bin")).expect("applied");
    assert_eq!(md.len(), SIZE + 4);
}

/// The change as a whole: two files under --max-file-size whose content is over --max-change-size.
#[test]
fn a_change_over_the_change_limit_is_oversized() {
    let fx = fixture("python-project");
    let plan = json!([{"step": "write", "path": "tests/a.txt", "content": "a", "count": 3000},
                      {"step": "write", "path": "tests/b.txt", "content": "b", "count": 3000}]);
    let output =
        crate::support::cli::dispatch(&fx, &packet(&fx, "MAX FILE SIZE: 4K\n"), &plan, &["--max-change-size", "5K"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    let kinds: Vec<(String, String)> = policy["sensitive_changes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| (c["path"].as_str().unwrap_or("").to_string(), c["kind"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(kinds, [(".".to_string(), "oversized".to_string())], "{policy:#}");
    assert!(policy["messages"].to_string().contains(". (oversized)"), "{}", policy["messages"]);

    let fx = fixture("python-project");
    let output = crate::support::cli::dispatch(&fx, &packet(&fx, "MAX FILE SIZE: 2K\n"), &plan, &[]);
    assert_eq!(output.status.code(), Some(3));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    let paths: Vec<&str> =
        policy["sensitive_changes"].as_array().expect("list").iter().filter_map(|c| c["path"].as_str()).collect();
    assert_eq!(paths, ["tests/a.txt", "tests/b.txt"], "the packet's MAX FILE SIZE: {policy:#}");
}
