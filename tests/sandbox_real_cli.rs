//! The real agent CLIs (codex, claude) dispatched through the binary with `--sandbox bwrap` and
//! `--sandbox landlock` against the scripted model servers: they start, reach the model on 127.0.0.1, write their own
//! state (codex `CODEX_HOME`, claude `~/.claude` and `~/.claude.json`), write inside the worktree,
//! fail to write `~/.bashrc`, and codex's `-o` result arrives in the run folder. Skipped with a
//! message when a CLI or bwrap is missing; a failure under `CI=true`.

#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/real_cli.rs"]
mod real_cli;
#[path = "support/scratch_repo.rs"]
mod scratch_repo;

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
        assert!(std::env::var("CI").as_deref() != Ok("true"), "bwrap is not usable and CI=true");
        eprintln!("SKIPPED: bwrap --ro-bind / / true does not work here");
    }
    works
}

fn final_result() -> Value {
    json!({
        "result": "done", "summary": "wrote tests/a.txt", "changed_files": ["tests/a.txt"],
        "verification_run": [], "evidence": [], "findings": [], "risks": [], "next": "nothing",
    })
}

/// The in-scope write, then a write to `~/.bashrc` that the sandbox refuses, then the result.
fn script() -> Vec<Turn> {
    vec![
        Turn::shell("mkdir -p tests && printf 'in scope\\n' > tests/a.txt"),
        Turn::shell("printf 'evil\\n' >> \"$HOME/.bashrc\""),
        Turn::final_json(&final_result()),
    ]
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
    assert_eq!(policy["changed_paths"], json!(["tests/a.txt"]));
    assert_eq!(read_json(&run_dir.join("result.json")), final_result());
}

#[test]
fn real_codex_runs_confined_and_its_result_file_reaches_the_run_folder() {
    let Some(bin) = real_cli::find(Cli::Codex) else { return };
    if !bwrap_usable() {
        return;
    }
    let repo = ScratchRepo::new();
    let server = ModelServer::openai(script());
    let env = real_cli::codex_env(&repo.base(), &server.url(), &bin);
    let home = repo.base().join("agent-home");
    std::fs::write(home.join(".bashrc"), "# user's\n").expect(".bashrc");
    let (output, run_dir) = dispatch(&repo, env, "codex", "bwrap");
    assert_offered(&output, &run_dir, "bwrap");
    assert_eq!(std::fs::read_to_string(home.join(".bashrc")).expect("bashrc"), "# user's\n");
    let codex_home = repo.base().join("codex-home");
    let written: Vec<String> = std::fs::read_dir(&codex_home)
        .expect("CODEX_HOME")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(written.len() > 1, "codex wrote its state next to config.toml: {written:?}");
}

#[test]
fn real_claude_runs_confined_with_its_default_state_in_home() {
    let Some(bin) = real_cli::find(Cli::Claude) else { return };
    if !bwrap_usable() {
        return;
    }
    let repo = ScratchRepo::new();
    let server = ModelServer::anthropic(script());
    let mut env = real_cli::claude_env(&repo.base(), &server.url(), &bin);
    env.retain(|(name, _)| name != "CLAUDE_CONFIG_DIR");
    let home = repo.base().join("agent-home");
    std::fs::write(home.join(".bashrc"), "# user's\n").expect(".bashrc");
    let (output, run_dir) = dispatch(&repo, env, "claude", "bwrap");
    assert_offered(&output, &run_dir, "bwrap");
    assert_eq!(std::fs::read_to_string(home.join(".bashrc")).expect("bashrc"), "# user's\n");
    let mut names: Vec<String> = std::fs::read_dir(&home)
        .expect("home")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    eprintln!("claude's HOME after the run: {names:?}");
    assert!(home.join(".claude").is_dir());
}

/// Landlock works here; otherwise `false` after printing why.
fn landlock_usable() -> bool {
    let support = git_dispatch::sandbox::landlock_support();
    if let Err(reason) = &support {
        eprintln!("SKIPPED: Landlock cannot confine an agent here: {reason}");
    }
    support.is_ok()
}

/// Codex under Landlock: its `CODEX_HOME` (holding config.toml) stays writable, so it starts and
/// writes its state; `~/.bashrc` is refused; config.toml is the same after the run.
#[test]
fn real_codex_runs_under_landlock() {
    let Some(bin) = real_cli::find(Cli::Codex) else { return };
    if !landlock_usable() {
        return;
    }
    let repo = ScratchRepo::new();
    let server = ModelServer::openai(script());
    let env = real_cli::codex_env(&repo.base(), &server.url(), &bin);
    let home = repo.base().join("agent-home");
    std::fs::write(home.join(".bashrc"), "# user's\n").expect(".bashrc");
    let config = repo.base().join("codex-home/config.toml");
    let config_before = std::fs::read(&config).expect("config.toml");
    let (output, run_dir) = dispatch(&repo, env, "codex", "landlock");
    assert_offered(&output, &run_dir, "landlock");
    assert_eq!(std::fs::read_to_string(home.join(".bashrc")).expect("bashrc"), "# user's\n");
    assert_eq!(std::fs::read(&config).expect("config.toml"), config_before);
    let written = std::fs::read_dir(repo.base().join("codex-home")).expect("CODEX_HOME").count();
    assert!(written > 1, "codex wrote its state next to config.toml");
}

#[test]
fn real_claude_runs_under_landlock() {
    let Some(bin) = real_cli::find(Cli::Claude) else { return };
    if !landlock_usable() {
        return;
    }
    let repo = ScratchRepo::new();
    let server = ModelServer::anthropic(script());
    let mut env = real_cli::claude_env(&repo.base(), &server.url(), &bin);
    env.retain(|(name, _)| name != "CLAUDE_CONFIG_DIR");
    let home = repo.base().join("agent-home");
    std::fs::write(home.join(".bashrc"), "# user's\n").expect(".bashrc");
    let (output, run_dir) = dispatch(&repo, env, "claude", "landlock");
    assert_offered(&output, &run_dir, "landlock");
    assert_eq!(std::fs::read_to_string(home.join(".bashrc")).expect("bashrc"), "# user's\n");
    assert!(home.join(".claude").is_dir());
}
