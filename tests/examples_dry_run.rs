//! Every packet in `examples/` dispatched with `--dry-run` against the `python-project` fixture,
//! its `WORKDIR: /path/to/your/project` placeholder replaced by the fixture's path.

mod support;

use std::path::PathBuf;

use serde_json::json;
use support::cli::{last_line, read_json, run, run_dirs, stderr, write_packet};
use support::fixtures::{fixture, Fixture};

const PLACEHOLDER: &str = "WORKDIR: /path/to/your/project";

/// `(file stem, expected WRITE SCOPE)` of every example.
fn examples() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("worker", json!(["src/app/util.py", "tests/test_subtract.py"])),
        ("verifier", json!([])),
        ("reviewer", json!([])),
        ("synthesizer", json!([])),
    ]
}

fn example_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples").join(format!("{name}.md"))
}

/// The example's text with WORKDIR pointing at the fixture.
fn for_fixture(name: &str, fx: &Fixture) -> String {
    let text = std::fs::read_to_string(example_path(name)).expect("example exists");
    assert_eq!(text.matches(PLACEHOLDER).count(), 1, "{name}.md has one WORKDIR placeholder line");
    text.replace(PLACEHOLDER, &format!("WORKDIR: {}", fx.repo.display()))
}

#[test]
fn the_examples_folder_holds_one_packet_per_mode() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("examples/ exists")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["README.md", "reviewer.md", "synthesizer.md", "verifier.md", "worker.md"]);
}

#[test]
fn each_example_dry_runs_against_the_python_project() {
    for (name, scope) in examples() {
        let fx = fixture("python-project");
        let text = for_fixture(name, &fx);
        let packet = write_packet(&fx, &format!("{name}.md"), &text);
        let output = run(&fx, &["run", "--task", packet.to_str().expect("utf-8"), "--dry-run"]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));

        let dirs = run_dirs(&fx.repo);
        assert_eq!(dirs.len(), 1, "{name}");
        assert_eq!(last_line(&output), dirs[0].display().to_string(), "{name}");
        let id = dirs[0].file_name().expect("name").to_string_lossy().into_owned();
        assert!(id.contains(&format!("-{name}-")), "{name}: run id {id}");
        let policy = read_json(&dirs[0].join("policy.json"));
        assert_eq!(policy["mode"], name);
        assert_eq!(policy["write_scope"], scope, "{name}");
        assert_eq!(policy["policy_violation"], false, "{name}");
        assert_eq!(policy["exit_code"], 0, "{name}");
        assert_eq!(std::fs::read_to_string(dirs[0].join("task.md")).expect("task.md"), text);
        let prompt = std::fs::read_to_string(dirs[0].join("prompt.md")).expect("prompt.md");
        assert!(prompt.contains(&format!("orchestrator-delegated {name}")), "{name}: {prompt}");
    }
}

#[test]
fn the_examples_dispatch_together_in_the_seed_form() {
    let fx = fixture("python-project");
    let packets: Vec<String> = examples()
        .into_iter()
        .map(|(name, _)| {
            let path = write_packet(&fx, &format!("{name}.md"), &for_fixture(name, &fx));
            path.to_str().expect("utf-8").to_string()
        })
        .collect();
    let mut args = vec!["--task"];
    args.extend(packets.iter().map(String::as_str));
    args.extend(["--dry-run", "-j", "2"]);
    let output = run(&fx, &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed: Vec<String> = support::cli::stdout(&output).lines().map(str::to_string).collect();
    assert_eq!(printed.len(), 4);
    for ((name, _), line) in examples().iter().zip(&printed) {
        assert!(line.contains(&format!("-{name}-")), "printed in packet order: {printed:?}");
    }
    assert_eq!(run_dirs(&fx.repo).len(), 4);
}

/// Each example dispatched for real with the fake agent: the worker's in-scope edit is offered,
/// the read-only modes look and write nothing.
#[test]
fn each_example_runs_with_the_fake_agent() {
    for (name, _) in examples() {
        let fx = fixture("python-project");
        let packet = write_packet(&fx, &format!("{name}.md"), &for_fixture(name, &fx));
        let plan = if name == "worker" {
            json!([
                {"step": "append", "path": "src/app/util.py", "content": "\n\ndef subtract(a: int, b: int) -> int:\n    return a - b\n"},
                {"step": "write", "path": "tests/test_subtract.py", "content": "from app.util import subtract\n\n\ndef test_subtract():\n    assert subtract(5, 3) == 2\n"},
            ])
        } else {
            json!([{"step": "shell", "cmd": "cat src/app/util.py"}, {"step": "message", "text": "read it"}])
        };
        let output = support::cli::dispatch(&fx, &packet, &plan, &["--quiet"]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        let policy = read_json(&support::cli::printed_run_dir(&output).join("policy.json"));
        assert_eq!(policy["policy_violation"], false, "{name}: {policy:#}");
        assert_eq!(policy["offered"], name == "worker", "{name}");
        let expected = if name == "worker" { json!(["src/app/util.py", "tests/test_subtract.py"]) } else { json!([]) };
        assert_eq!(policy["changed_paths"], expected, "{name}");
    }
}
