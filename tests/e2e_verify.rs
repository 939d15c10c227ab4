//! End to end through the binary: `--verify` runs the packet's VERIFICATION commands in the result
//! worktree and records them in verification.json; a failing one is a violation and nothing is
//! offered.

mod support;

use serde_json::json;
use support::cli::{dispatch, printed_run_dir, read_json, stderr, worker_packet, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::git;

fn packet_with_verification(fx: &Fixture, commands: &[&str]) -> std::path::PathBuf {
    let bullets: String = commands.iter().map(|c| format!("- {c}\n")).collect();
    let text = worker_packet(&fx.repo, "- tests/")
        .replace("VERIFICATION:\n- python3 -m pytest -q tests\n", &format!("VERIFICATION:\n{bullets}"));
    assert!(text.contains(&bullets), "the packet carries the commands: {text}");
    write_packet(fx, "task.md", &text)
}

fn plan() -> serde_json::Value {
    json!([{"step": "write", "path": "tests/new.py", "content": "value = 42\n"}])
}

#[test]
fn passing_verification_is_recorded_and_the_result_offered() {
    let fx = fixture("python-project");
    let packet = packet_with_verification(&fx, &["grep -c 42 tests/new.py", "echo checked; echo on-stderr >&2"]);
    let output = dispatch(&fx, &packet, &plan(), &["--verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let verification = read_json(&run_dir.join("verification.json"));
    assert_eq!(verification["passed"], true);
    let commands = verification["commands"].as_array().expect("commands");
    assert_eq!(commands.len(), 2);
    assert_eq!(commands[0]["command"], "grep -c 42 tests/new.py");
    assert_eq!(commands[0]["exit_code"], 0);
    assert_eq!(commands[0]["output_tail"], "1\n", "it ran in the result worktree, where the new file is");
    assert_eq!(commands[1]["output_tail"], "checked\non-stderr\n");
    for command in commands {
        assert_eq!(command["passed"], true);
        assert!(command["duration_ms"].as_u64().is_some(), "{command}");
        assert_eq!(command["killed"], serde_json::Value::Null);
    }
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["offered"], true);
    assert_eq!(policy["verification_failed"], false, "{policy:#}");
    assert_eq!(policy["exit_code"], 0);
}

#[test]
fn failing_verification_is_a_violation_and_nothing_is_offered() {
    let fx = fixture("python-project");
    let packet = packet_with_verification(&fx, &["true", "echo 'assert failed' >&2; exit 4"]);
    let output = dispatch(&fx, &packet, &plan(), &["--verify"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let verification = read_json(&run_dir.join("verification.json"));
    assert_eq!(verification["passed"], false);
    assert_eq!(verification["commands"][0]["passed"], true);
    assert_eq!(verification["commands"][1]["exit_code"], 4);
    assert_eq!(verification["commands"][1]["passed"], false);
    assert_eq!(verification["commands"][1]["output_tail"], "assert failed\n");
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["verification_failed"], true, "{policy:#}");
    assert_eq!(policy["offered"], false);
    assert_eq!(policy["policy_violation"], true);
    assert_eq!(policy["exit_code"], 3);
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "", "the refused result's branch is deleted");
    // review says what ran where: the sandbox, the verification, the scope.
    let review = support::cli::stdout(&support::cli::run(&fx, &["review"]));
    assert!(review.contains("verdict:  failed: verification\n"), "{review}");
    assert!(review.contains("verify:   FAILED: `echo 'assert failed' >&2; exit 4` (exit 4)\n"), "{review}");
    assert!(review.contains(&format!("sandbox:  {}", policy["sandbox"]["kind"].as_str().expect("kind"))), "{review}");
    assert!(review.contains("scope:    "), "{review}");
}

#[test]
fn without_verify_the_commands_do_not_run() {
    let fx = fixture("python-project");
    let marker = fx.root.join("verification-ran");
    let command = format!("touch {}", marker.display());
    let packet = packet_with_verification(&fx, &[command.as_str()]);
    let output = dispatch(&fx, &packet, &plan(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    assert!(!run_dir.join("verification.json").exists());
    assert!(!marker.exists(), "git-dispatch does not run VERIFICATION without --verify");
}

/// A write through a hard link made outside the worktree escapes the change journal (SECURITY.md):
/// without `--verify` it is simply not part of the result; with `--verify` every file is scanned,
/// so verification never passes on a tree that differs from the offered one.
#[test]
fn verification_sees_exactly_the_offered_tree_even_past_the_change_journal() {
    let outside = |fx: &Fixture| fx.root.join("outside-link").to_string_lossy().into_owned();
    let hidden_plan = |fx: &Fixture| {
        json!([
            {"step": "write", "path": "tests/new.py", "content": "value = 42\n"},
            {"step": "hardlink", "target": "README.md", "path": outside(fx)},
            {"step": "append", "path": outside(fx), "content": "hidden\n"},
        ])
    };

    let fx = fixture("python-project");
    let packet = packet_with_verification(&fx, &["true"]);
    let output = dispatch(&fx, &packet, &hidden_plan(&fx), &["--sandbox", "none"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let changes = read_json(&printed_run_dir(&output).join("changes.json"));
    let paths: Vec<&str> = changes["changes"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["tests/new.py"], "the hidden write is not in the result, so it is never offered");

    let fx = fixture("python-project");
    let packet = packet_with_verification(&fx, &["true"]);
    let output = dispatch(&fx, &packet, &hidden_plan(&fx), &["--sandbox", "none", "--verify"]);
    assert_eq!(output.status.code(), Some(3), "README.md is out of scope: {}", stderr(&output));
    let changes = read_json(&printed_run_dir(&output).join("changes.json"));
    let paths: Vec<&str> = changes["changes"].as_array().unwrap().iter().map(|c| c["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["README.md", "tests/new.py"], "with --verify every file is scanned");
}
