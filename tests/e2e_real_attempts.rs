//! End to end with both real agent CLIs (codex 0.171.0 and Claude Code 2.1.332), each against its
//! scripted model server on 127.0.0.1: `git dispatch run --agent codex,claude` dispatches the packet
//! once per agent, at once, as two attempts of one group; `review GROUP` shows them side by side,
//! `apply GROUP --pick` applies claude's and codex's can no longer be applied. Skipped with a
//! message when a CLI is not installed, a failure under `CI=true`.

mod support;

#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/real_cli.rs"]
mod real_cli;
#[path = "support/real_dispatch.rs"]
mod real_dispatch;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use model_server::{ModelServer, Turn};
use real_cli::{Cli, Running};
use support::cli::{read_json, run};
use support::fixtures::fixture;
use support::git::tree_fingerprint;

fn final_result(file: &str) -> Value {
    json!({
        "result": "done", "summary": format!("added {file}"), "changed_files": [file],
        "verification_run": [], "evidence": [], "findings": [], "risks": [], "next": "",
    })
}

#[test]
fn one_attempt_per_agent_compared_and_one_picked() {
    let (Some(codex), Some(claude)) = (real_cli::find(Cli::Codex), real_cli::find(Cli::Claude)) else {
        return;
    };
    let fx = fixture("python-project");
    let openai = ModelServer::openai(vec![
        Turn::write("tests/by_codex.md", "# written by codex\n"),
        Turn::final_json(&final_result("tests/by_codex.md")),
    ]);
    let anthropic = ModelServer::anthropic(vec![
        Turn::write("tests/by_claude.md", "# written by claude\n"),
        Turn::final_json(&final_result("tests/by_claude.md")),
    ]);
    let state = real_dispatch::agent_state_dir();
    let packet = real_dispatch::worker_packet(&fx);
    let mut command = support::cli::command(&fx);
    command.envs(real_cli::agent_env(Cli::Codex, state.path(), &openai.url(), &codex));
    command.envs(real_cli::agent_env(Cli::Claude, state.path(), &anthropic.url(), &claude));
    command.arg("run").arg("--task").arg(&packet).args(["--agent", "codex,claude"]);
    let finished = Running::start(command).finish_within(real_dispatch::LIMIT);
    assert_eq!(finished.code(), Some(0), "stdout {}\nstderr {}", finished.stdout, finished.stderr);

    let dirs: Vec<std::path::PathBuf> = finished.stdout.lines().map(Into::into).collect();
    assert_eq!(dirs.len(), 2, "{}", finished.stdout);
    let ids: Vec<String> = dirs.iter().map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let group = format!("{}-g", ids[0]);
    for (dir, (agent, file)) in dirs.iter().zip([("codex", "tests/by_codex.md"), ("claude", "tests/by_claude.md")]) {
        let policy = read_json(&dir.join("policy.json"));
        assert_eq!((policy["agent"].clone(), policy["offered"].clone()), (json!(agent), json!(true)), "{policy:#}");
        assert_eq!(policy["changed_paths"], json!([file]));
        let record = read_json(&dir.join("run.json"));
        assert_eq!(record["group"], json!(group));
    }
    let started =
        |dir: &std::path::Path| read_json(&dir.join("state.json"))["started_at"].as_str().unwrap().to_string();
    let ended = |dir: &std::path::Path| read_json(&dir.join("state.json"))["ended_at"].as_str().unwrap().to_string();
    let parse = |text: String| chrono::DateTime::parse_from_rfc3339(&text).expect("RFC 3339");
    assert!(parse(started(&dirs[1])) < parse(ended(&dirs[0])), "the two agents ran at once");

    let report: Value = serde_json::from_slice(&run(&fx, &["review", &group, "--json"]).stdout).expect("JSON");
    let mut agents: Vec<&str> =
        report["attempts"].as_array().unwrap().iter().map(|a| a["agent"].as_str().unwrap()).collect();
    agents.sort();
    assert_eq!(agents, ["claude", "codex"], "{report:#}");
    assert!(report["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["verdict"] == "offered" && a["same_paths_as"] == json!([])));
    let text = support::cli::stdout(&run(&fx, &["review", &group]));
    assert!(text.contains(" claude ") && text.contains(" codex "), "{text}");

    let pick = run(&fx, &["apply", &group, "--pick", &ids[1]]);
    assert_eq!(pick.status.code(), Some(0), "{}", support::cli::stderr(&pick));
    assert_eq!(std::fs::read_to_string(fx.repo.join("tests/by_claude.md")).expect("applied"), "# written by claude\n");
    assert!(!fx.repo.join("tests/by_codex.md").exists());
    let before = tree_fingerprint(&fx.repo);
    let refused = run(&fx, &["apply", &ids[0]]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(support::cli::stderr(&refused).contains("was superseded"), "{}", support::cli::stderr(&refused));
    assert_eq!(tree_fingerprint(&fx.repo), before, "byte-identical after the refusal");
}
