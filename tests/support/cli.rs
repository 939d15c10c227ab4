//! Running the built `git-dispatch` binary the way a user does, in a hermetic environment whose
//! HOME, caches and worktrees live in the fixture's temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::fixtures::Fixture;
use super::git::hermetic_env_with_home;

/// The binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-dispatch"))
}

/// A command for the binary with the fixture's hermetic environment.
pub fn command(fx: &Fixture) -> Command {
    let mut command = Command::new(binary());
    command.env_clear();
    for (key, value) in hermetic_env_with_home(&fx.home) {
        command.env(key, value);
    }
    command
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("XDG_CACHE_HOME", fx.root.join("cache"))
        .env("GIT_DISPATCH_WORKTREES", fx.worktrees_root())
        .env("GIT_DISPATCH_USAGE_URL", "http://127.0.0.1:9/unreachable")
        // Unconfined unless a test asks (`--sandbox bwrap` beats this): many tests let the fake
        // agent write pid files and markers outside its worktree.
        .env("GIT_DISPATCH_SANDBOX", "none")
        // CI runs as root: Claude Code (and git-dispatch for it) refuses root unless the machine
        // says it is a sandbox. The tests' machine is one; the refusal has a test of its own.
        .env("IS_SANDBOX", "1")
        .current_dir(&fx.repo)
        .stdin(std::process::Stdio::null());
    command
}

/// Run the binary with `args` in the fixture's repository.
pub fn run(fx: &Fixture, args: &[&str]) -> Output {
    command(fx).args(args).output().expect("git-dispatch can be spawned")
}

/// Write a packet file into the fixture's root (outside the repository) and return its path.
pub fn write_packet(fx: &Fixture, name: &str, text: &str) -> PathBuf {
    let path = fx.root.join(name);
    std::fs::write(&path, text).expect("packet can be written");
    path
}

/// A worker packet for the fixture's repository with the given WRITE SCOPE lines.
pub fn worker_packet(repo: &Path, scope: &str) -> String {
    format!(
        "MODE: worker\nWORKDIR: {}\nOBJECTIVE: Add a test for add().\n\nWRITE SCOPE:\n{scope}\n\nNON-GOALS:\n- Do not modify src/.\n\nVERIFICATION:\n- python3 -m pytest -q tests\n\nDELIVERABLE:\n- A passing test.\n",
        repo.display()
    )
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The last line printed on stdout (the run folder, by contract).
pub fn last_line(output: &Output) -> String {
    stdout(output).lines().last().unwrap_or_default().to_string()
}

/// The run folders below `<repo>/.codex-dispatch/runs`.
pub fn run_dirs(repo: &Path) -> Vec<PathBuf> {
    let root = repo.join(".codex-dispatch/runs");
    let Ok(entries) = std::fs::read_dir(&root) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
    dirs.sort();
    dirs
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The fake agent binary built for the tests.
pub fn fake_agent() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-agent"))
}

/// A command for the binary whose agent (codex and claude alike) is the fake agent following `plan`.
pub fn command_with_plan(fx: &Fixture, plan: &serde_json::Value) -> Command {
    let plan_path = fx.root.join(format!("plan-{}.json", unique()));
    std::fs::write(&plan_path, plan.to_string()).expect("plan can be written");
    let mut command = command(fx);
    command
        .env("GIT_DISPATCH_CODEX_BIN", fake_agent())
        .env("GIT_DISPATCH_CLAUDE_BIN", fake_agent())
        .env("FAKE_AGENT_PLAN", plan_path);
    command
}

/// Dispatch `packet` with the fake agent following `plan`; `extra` flags are appended.
pub fn dispatch(fx: &Fixture, packet: &Path, plan: &serde_json::Value, extra: &[&str]) -> Output {
    command_with_plan(fx, plan)
        .arg("run")
        .arg("--task")
        .arg(packet)
        .args(extra)
        .output()
        .expect("git-dispatch can be spawned")
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

/// The run folder a dispatch printed last, checked to exist.
pub fn printed_run_dir(output: &Output) -> PathBuf {
    let path = PathBuf::from(last_line(output));
    assert!(
        path.join("policy.json").is_file(),
        "no run folder at {:?}; stdout {:?} stderr {:?}",
        path,
        stdout(output),
        stderr(output)
    );
    path
}

/// Lines of a fingerprint without the run folders, the git dir's info/ (where the exclude line goes)
/// and the scratch branches `dispatch/*` with their reflogs (an offered result keeps its branch).
pub fn user_visible(fingerprint: &str) -> String {
    fingerprint
        .lines()
        .filter(|line| !line.starts_with(".codex-dispatch") && !line.starts_with(".git/info"))
        .filter(|line| {
            !line.starts_with(".git/refs/heads/dispatch") && !line.starts_with(".git/logs/refs/heads/dispatch")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `task.md`: a worker packet with WRITE SCOPE `tests/` in the fixture, plus `extra` field lines.
#[allow(dead_code)]
pub fn tests_scope_packet(fx: &Fixture, extra: &str) -> PathBuf {
    let text = format!(
        "MODE: worker\nWORKDIR: {}\nOBJECTIVE: Add a test.\n\nWRITE SCOPE:\n- tests/\n\nNON-GOALS:\n- None.\n\n\
         VERIFICATION:\n- true\n\nDELIVERABLE:\n- A test.\n{extra}",
        fx.repo.display()
    );
    write_packet(fx, "task.md", &text)
}

/// A fake-agent `result` step naming exactly `files` (so no claims mismatch muddies the verdict).
#[allow(dead_code)]
pub fn result_naming(files: &[&str]) -> serde_json::Value {
    serde_json::json!({"step": "result", "value": {"result": "done", "summary": "s", "changed_files": files,
        "verification_run": [], "evidence": [], "findings": [], "risks": [], "next": []}})
}
