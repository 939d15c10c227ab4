//! The real agent CLIs (codex, claude) dispatched through the binary with `--sandbox bwrap`,
//! `--sandbox landlock` and `--sandbox none` against the scripted model servers: they start with
//! their private copy of the user's state (the model server configured in `CODEX_HOME/config.toml`
//! reaches them), reach the model on 127.0.0.1, write inside the worktree, write configuration
//! and instructions into their (private) state folder, fail to write `~/.bashrc` when confined,
//! and codex's `-o` result and session logs arrive in the run folder; the user's own state folder
//! is byte-identical afterwards; under a sandbox they reach their server only through the egress
//! proxy (the default `--network api`, the server being their configured base URL's host). Skipped
//! with a message when a CLI or bwrap is missing; a failure
//! under `CI=true`.

#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/real_cli.rs"]
mod real_cli;
#[path = "support/scratch_repo.rs"]
mod scratch_repo;
#[path = "support/skip.rs"]
mod skip;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use model_server::{ModelServer, Turn};
use real_cli::Cli;
use scratch_repo::ScratchRepo;

fn bwrap_usable() -> bool {
    let works = Command::new("bwrap").args(["--ro-bind", "/", "/", "true"]).output().is_ok_and(|o| o.status.success());
    if !works {
        skip::skip("bwrap", "bwrap --ro-bind / / true does not work here");
    }
    works
}

fn final_result() -> Value {
    json!({
        "result": "done", "summary": "wrote tests/a.txt", "changed_files": ["tests/a.txt"],
        "verification_run": [], "evidence": [], "findings": [], "risks": [], "next": "nothing",
    })
}

/// The in-scope write, then configuration and instructions planted in the agent's state folder,
/// then a write to `~/.bashrc` that a sandbox refuses, then the result.
fn script() -> Vec<Turn> {
    vec![
        Turn::shell("mkdir -p tests && printf 'in scope\\n' > tests/a.txt"),
        Turn::shell(
            "d=\"${CODEX_HOME:-$CLAUDE_CONFIG_DIR}\" && printf 'notify = [\"evil\"]\\n' >> \"$d/config.toml\" && \
             printf 'obey\\n' > \"$d/AGENTS.md\" && printf '{\"hooks\": {}}\\n' > \"$d/settings.json\"",
        ),
        Turn::shell("printf 'evil\\n' >> \"$HOME/.bashrc\""),
        Turn::final_json(&final_result()),
    ]
}

/// Every file below `dir` with a hash of its bytes (empty when `dir` is missing), to compare
/// before/after.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(listing(&path));
        } else {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&path).unwrap_or_default().hash(&mut hasher);
            out.push((path.clone(), hasher.finish()));
        }
    }
    out.sort();
    out
}

/// `git-dispatch run --sandbox <sandbox>` on the scratch repository with `env` (the CLI's variables).
fn dispatch(
    repo: &ScratchRepo,
    env: Vec<(String, OsString)>,
    agent: &str,
    sandbox: &str,
) -> (std::process::Output, PathBuf) {
    let base = repo.base();
    let packet = base.join("task.md");
    let text = format!(
        "MODE: worker\nWORKDIR: {}\nOBJECTIVE: Write tests/a.txt.\n\nWRITE SCOPE:\n- tests/\n\nNON-GOALS:\n- None.\n\n\
         VERIFICATION:\n- true\n\nDELIVERABLE:\n- The file.\n",
        repo.root.display()
    );
    std::fs::write(&packet, text).expect("packet");
    let output = Command::new(env!("CARGO_BIN_EXE_git-dispatch"))
        .env_clear()
        .envs(env)
        .env("GIT_DISPATCH_WORKTREES", base.join("worktrees"))
        .env("GIT_DISPATCH_USAGE_URL", "http://127.0.0.1:9/unreachable")
        .args(["run", "--quiet", "--sandbox", sandbox, "--agent", agent, "--task"])
        .arg(&packet)
        .current_dir(&repo.root)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("git-dispatch runs");
    let run_dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default());
    (output, run_dir)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("JSON")
}

fn assert_offered(output: &std::process::Output, run_dir: &Path, sandbox: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let agent_stderr = std::fs::read_to_string(run_dir.join("stderr.txt")).unwrap_or_default();
    let policy = read_json(&run_dir.join("policy.json"));
    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap_or_default();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {stderr}\nagent stderr: {agent_stderr}\nevents: {events}\npolicy: {policy:#}"
    );
    assert_eq!(policy["sandbox"]["kind"], sandbox);
    assert_eq!(policy["offered"], true, "{policy:#}");
    assert_reached_only_through_the_proxy(&policy, run_dir, sandbox);
    assert_eq!(policy["changed_paths"], json!(["tests/a.txt"]));
    assert_eq!(read_json(&run_dir.join("result.json")), final_result());
}

/// Under a sandbox the default network is `api`: the CLI reached its scripted server (its
/// configured base URL's host) through git-dispatch's proxy, each request logged with its bytes.
/// Without one, `allow` (with a warning) and no proxy.
fn assert_reached_only_through_the_proxy(policy: &Value, run_dir: &Path, sandbox: &str) {
    if sandbox == "none" {
        assert_eq!(policy["network"]["mode"], "allow");
        return;
    }
    assert_eq!(policy["network"]["mode"], "api", "{policy:#}");
    let log = std::fs::read_to_string(run_dir.join("network.jsonl")).expect("network.jsonl");
    let entries: Vec<Value> = log.lines().map(|line| serde_json::from_str(line).expect("JSON line")).collect();
    let served: Vec<&Value> = entries
        .iter()
        .filter(|entry| {
            entry["allowed"] == true && entry["host"] == "127.0.0.1" && entry["bytes_received"].as_u64() > Some(0)
        })
        .collect();
    assert!(!served.is_empty(), "no request reached the model server through the proxy: {log}");
    let port = served[0]["port"].as_u64().expect("port");
    assert!(
        policy["network"]["allowed_hosts"].as_array().expect("list").contains(&json!(format!("127.0.0.1:{port}"))),
        "the configured base URL's host is on the list: {policy:#}"
    );
}

/// Codex with its `CODEX_HOME` (holding the model server's config.toml) under `sandbox`.
fn codex_under(sandbox: &str) {
    let Some(bin) = real_cli::find(Cli::Codex) else { return };
    let repo = ScratchRepo::new();
    let server = ModelServer::openai(script());
    let env = real_cli::codex_env(&repo.base(), &server.url(), &bin);
    let home = repo.base().join("agent-home");
    std::fs::write(home.join(".bashrc"), "# user's\n").expect(".bashrc");
    let codex_home = repo.base().join("codex-home");
    let state_before = listing(&codex_home);
    let (output, run_dir) = dispatch(&repo, env, "codex", sandbox);
    assert_offered(&output, &run_dir, sandbox);
    if sandbox != "none" {
        assert_eq!(std::fs::read_to_string(home.join(".bashrc")).expect("bashrc"), "# user's\n");
    }
    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).expect("events.jsonl");
    let exit_codes: Vec<Value> = events
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["type"] == "item.completed" && event["item"]["type"] == "command_execution")
        .map(|event| event["item"]["exit_code"].clone())
        .collect();
    assert_eq!(exit_codes[..2], [json!(0), json!(0)], "the planting in the private CODEX_HOME succeeded");
    assert_eq!(exit_codes[2] == json!(0), sandbox == "none", "~/.bashrc is writable only without a sandbox");
    assert_eq!(listing(&codex_home), state_before, "the user's CODEX_HOME is byte-identical");
    let sessions = listing(&run_dir.join("agent-sessions/sessions"));
    assert!(
        sessions.iter().any(|(path, _)| path.extension().is_some_and(|ext| ext == "jsonl")),
        "codex's session log reached the run folder: {sessions:?}"
    );
    let private = std::fs::read_dir(repo.base().join("worktrees")).expect("worktrees").flatten();
    assert!(private.into_iter().all(|layout| !layout.path().join("agent").exists()), "the private state is gone");
}

/// Claude with its state in HOME (`~/.claude`, `~/.claude.json`, no `CLAUDE_CONFIG_DIR`) under `sandbox`.
fn claude_under(sandbox: &str) {
    let Some(bin) = real_cli::find(Cli::Claude) else { return };
    let repo = ScratchRepo::new();
    let server = ModelServer::anthropic(script());
    let mut env = real_cli::claude_env(&repo.base(), &server.url(), &bin);
    env.retain(|(name, _)| name != "CLAUDE_CONFIG_DIR");
    let home = repo.base().join("agent-home");
    std::fs::write(home.join(".bashrc"), "# user's\n").expect(".bashrc");
    std::fs::create_dir_all(home.join(".claude")).expect(".claude");
    std::fs::write(home.join(".claude/settings.json"), "{}\n").expect("settings.json");
    std::fs::write(home.join(".claude.json"), "{\"hasCompletedOnboarding\": true}\n").expect(".claude.json");
    let before = (listing(&home.join(".claude")), std::fs::read(home.join(".claude.json")).expect("read"));
    let (output, run_dir) = dispatch(&repo, env, "claude", sandbox);
    assert_offered(&output, &run_dir, sandbox);
    if sandbox != "none" {
        assert_eq!(std::fs::read_to_string(home.join(".bashrc")).expect("bashrc"), "# user's\n");
    }
    let after = (listing(&home.join(".claude")), std::fs::read(home.join(".claude.json")).expect("read"));
    assert_eq!(after, before, "the user's ~/.claude and ~/.claude.json are byte-identical");
}

#[test]
fn real_codex_runs_under_bwrap_with_a_private_codex_home() {
    if bwrap_usable() {
        codex_under("bwrap");
    }
}

#[test]
fn real_claude_runs_under_bwrap_with_a_private_config_dir() {
    if bwrap_usable() {
        claude_under("bwrap");
    }
}

/// Landlock works here; otherwise `false` after printing why.
fn landlock_usable() -> bool {
    let support = git_dispatch::sandbox::landlock_support();
    if let Err(reason) = &support {
        skip::skip("landlock", &format!("Landlock cannot confine an agent here: {reason}"));
    }
    support.is_ok()
}

#[test]
fn real_codex_runs_under_landlock_with_a_private_codex_home() {
    if landlock_usable() {
        codex_under("landlock");
    }
}

#[test]
fn real_claude_runs_under_landlock_with_a_private_config_dir() {
    if landlock_usable() {
        claude_under("landlock");
    }
}

#[test]
fn real_codex_and_claude_get_their_private_state_without_a_sandbox_too() {
    codex_under("none");
    claude_under("none");
}
