//! The real Claude Code (2.1.332) as the orchestrator, the way SKILL.md tells it to work: the
//! skill installed in its skills folder, a scripted Anthropic Messages server on 127.0.0.1 whose
//! model makes Bash calls `git dispatch run --detach ...`, then `git dispatch wait RUN --timeout 1`
//! again and again while it exits 4, then `git dispatch review RUN`. The dispatched agent is the
//! fake codex and takes longer than one `wait`, so the loop really runs. Skipped with a message
//! when claude is not installed, a failure under `CI=true`.

mod support;

#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/real_cli.rs"]
mod real_cli;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::json;

use model_server::{ModelServer, ToolOutput, Turn};
use real_cli::{Cli, Running};
use support::cli::{fake_agent, read_json, tests_scope_packet, user_visible};
use support::fixtures::fixture;
use support::git::tree_fingerprint;

/// The orchestrating model: detach, wait in a loop while `wait` says 4, review, done.
fn orchestrate(outputs: &[ToolOutput]) -> Turn {
    let bash = |command: String| Turn::Bash { command, timeout_ms: 60_000 };
    let Some(detached) = outputs.first() else {
        return bash("git dispatch run --detach --task \"$ORCH_PACKET\"".to_string());
    };
    let Some(run_id) = run_id_in(&detached.text) else {
        return Turn::final_text(&format!("could not find the run folder in: {}", detached.text));
    };
    let last = outputs.last().expect("at least the detach output");
    let wait = format!("git dispatch wait {run_id} --timeout 1");
    match outputs.len() {
        1 => bash(wait),
        _ if last.text.contains("verdict:") => Turn::final_text("The run was offered; review above."),
        _ if wait_exit_code(last) == Some(4) => bash(wait),
        _ => bash(format!("git dispatch review {run_id}")),
    }
}

/// The run id: the last path component of the run folder `run --detach` printed.
fn run_id_in(text: &str) -> Option<String> {
    let line = text.lines().find(|line| line.contains(".codex-dispatch/runs/"))?;
    Some(line.trim().rsplit('/').next()?.to_string())
}

/// The exit code of a Bash call as Claude Code reports it: an error result saying "Exit code N",
/// or success (0).
fn wait_exit_code(output: &ToolOutput) -> Option<i32> {
    if !output.is_error {
        return Some(0);
    }
    let rest = output.text.split("Exit code ").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

fn binary_dir() -> PathBuf {
    support::cli::binary().parent().expect("the binary's folder").to_path_buf()
}

fn install_skill(config_dir: &Path) {
    let folder = config_dir.join("skills/git-dispatch");
    std::fs::create_dir_all(&folder).expect("skills folder");
    let skill = Path::new(env!("CARGO_MANIFEST_DIR")).join("SKILL.md");
    std::fs::copy(&skill, folder.join("SKILL.md")).expect("SKILL.md copied");
}

#[test]
fn claude_detaches_waits_in_a_loop_and_reviews() {
    let Some(claude) = real_cli::find(Cli::Claude) else {
        return;
    };
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let before = user_visible(&tree_fingerprint(&fx.repo));
    let plan_path = fx.root.join("plan.json");
    let plan = json!([
        {"step": "sleep", "ms": 3500},
        {"step": "write", "path": "tests/test_orchestrated.py", "content": "def test_it():\n    assert True\n"},
    ]);
    std::fs::write(&plan_path, plan.to_string()).expect("plan");

    let server = ModelServer::anthropic(vec![Turn::Program(orchestrate)]);
    let mut env = real_cli::claude_env(&fx.root, &server.url(), &claude);
    install_skill(&fx.root.join("claude-config"));
    let path = std::env::join_paths(
        std::iter::once(binary_dir()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    env.retain(|(key, _)| key != "PATH");
    env.push(("PATH".into(), path));
    for (key, value) in [
        ("ORCH_PACKET", packet.as_os_str()),
        ("GIT_DISPATCH_CODEX_BIN", fake_agent().as_os_str()),
        ("FAKE_AGENT_PLAN", plan_path.as_os_str()),
        ("GIT_DISPATCH_WORKTREES", fx.worktrees_root().as_os_str()),
        ("GIT_DISPATCH_SANDBOX", "none".as_ref()),
        ("GIT_DISPATCH_USAGE_URL", "http://127.0.0.1:9/unreachable".as_ref()),
    ] {
        env.push((key.into(), value.to_owned()));
    }
    let mut command = Command::new(&claude);
    command.env_clear().envs(env).current_dir(&fx.repo).args([
        "-p",
        "Use the git-dispatch skill: dispatch the task packet in $ORCH_PACKET, wait for it, and review it.",
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
    ]);
    let finished = Running::start(command).finish_within(Duration::from_secs(180));
    assert_eq!(finished.code(), Some(0), "claude: {}\n{}", finished.stderr, finished.stdout);

    // What Claude got back from its Bash calls, as the last model request carries them.
    let last_request = server.model_requests().last().expect("model requests").json();
    let outputs = model_server::tool_outputs(&last_request);
    let waits: Vec<Option<i32>> = outputs[1..outputs.len() - 1].iter().map(wait_exit_code).collect();
    assert!(waits.len() >= 2, "the wait loop ran more than once: {outputs:#?}");
    assert!(waits[..waits.len() - 1].iter().all(|code| *code == Some(4)), "waits before the end said 4: {waits:?}");
    assert_eq!(waits.last(), Some(&Some(0)), "the last wait returned the run's own code");
    let review = &outputs.last().expect("review output").text;
    assert!(review.contains("verdict:  offered"), "the review reached Claude: {review}");

    let run_id = run_id_in(&outputs[0].text).expect("run id");
    let run_dir = fx.repo.join(".codex-dispatch/runs").join(&run_id);
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(
        (policy["offered"].clone(), policy["changed_paths"].clone()),
        (json!(true), json!(["tests/test_orchestrated.py"]))
    );
    assert_eq!(read_json(&run_dir.join("state.json"))["detached"], json!(true));
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), before, "nothing was applied");

    // The skill was loaded: its description (not in the prompt) is in what the model was offered.
    let first = server.model_requests().first().expect("a model request").json().to_string();
    assert!(first.contains("Delegate a bounded coding task"), "the skill is offered to the model");
}
