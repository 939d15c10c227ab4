//! `git dispatch run` with a real agent CLI (codex or claude) against a scripted model server: the
//! binary under test gets the fixture's hermetic environment plus the agent's environment from
//! [`crate::real_cli::agent_env`] (CODEX_HOME / ANTHROPIC_BASE_URL, IS_SANDBOX=1, the
//! `GIT_DISPATCH_*_BIN` override). The agent's state folders live under cargo's per-target temp dir
//! (not /tmp, where codex refuses to put its helpers).
//!
//! Included with `#[path]` next to `mod support;`, `mod real_cli;` and `mod model_server;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::real_cli::{self, Cli, Finished, Running};
use crate::support::cli;
use crate::support::fixtures::Fixture;

/// The longest a real-CLI dispatch may take before the test kills it.
pub const LIMIT: Duration = Duration::from_secs(90);

/// The WRITE SCOPE of [`worker_packet`]: everything below `tests/`.
pub const SCOPE: &str = "- tests/";

/// A dispatch that ran: what the binary printed, how long it took, and its run folder (if printed).
#[derive(Debug)]
pub struct Dispatched {
    pub finished: Finished,
    pub elapsed: Duration,
}

impl Dispatched {
    pub fn code(&self) -> Option<i32> {
        self.finished.code()
    }

    /// For failure messages: git-dispatch's stderr, the policy messages and the agent's stderr.
    pub fn describe(&self) -> String {
        let last = self.finished.stdout.lines().last().unwrap_or_default();
        let read = |name: &str| std::fs::read_to_string(Path::new(last).join(name)).unwrap_or_default();
        format!(
            "git-dispatch stderr:\n{}\npolicy.json:\n{}\nagent stderr.txt:\n{}\nevents.jsonl:\n{}",
            self.finished.stderr,
            read("policy.json"),
            read("stderr.txt"),
            read("events.jsonl")
        )
    }

    /// The run folder: the last line on stdout, checked to hold a policy.json.
    pub fn run_dir(&self) -> PathBuf {
        let last = self.finished.stdout.lines().last().unwrap_or_default();
        let path = PathBuf::from(last);
        assert!(
            path.join("policy.json").is_file(),
            "no run folder at {path:?}; stdout {:?} stderr {:?}",
            self.finished.stdout,
            self.finished.stderr
        );
        path
    }

    /// A JSON file of the run folder.
    pub fn json(&self, name: &str) -> serde_json::Value {
        cli::read_json(&self.run_dir().join(name))
    }

    /// A text file of the run folder.
    pub fn text(&self, name: &str) -> String {
        let path = self.run_dir().join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// The `type` of every line of events.jsonl, in order.
    pub fn event_types(&self) -> Vec<String> {
        self.events().iter().map(|event| event["type"].as_str().unwrap_or("?").to_owned()).collect()
    }

    /// The lines of events.jsonl as JSON values (non-JSON lines are skipped).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.text("events.jsonl").lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
    }
}

/// A folder for the agent's HOME, config and state, under cargo's per-target temp dir.
pub fn agent_state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gd-agent-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a temp dir under CARGO_TARGET_TMPDIR")
}

/// The worker packet of the real-CLI tests (scope: [`SCOPE`]) written beside the repository.
pub fn worker_packet(fx: &Fixture) -> PathBuf {
    cli::write_packet(fx, "task.md", &cli::worker_packet(&fx.repo, SCOPE))
}

/// Runs `git dispatch run --task <packet> [--agent claude] <extra>` with `bin` as the agent, talking
/// to `base_url`, and waits up to [`LIMIT`].
pub fn dispatch(
    fx: &Fixture,
    agent: Cli,
    bin: &Path,
    base_url: &str,
    state: &Path,
    packet: &Path,
    extra: &[&str],
) -> Dispatched {
    let mut command = cli::command(fx);
    command.envs(real_cli::agent_env(agent, state, base_url, bin));
    command.arg("run").arg("--task").arg(packet);
    if agent == Cli::Claude {
        command.args(["--agent", "claude"]);
    }
    command.args(extra);
    let started = Instant::now();
    let finished = Running::start(command).finish_within(LIMIT);
    Dispatched { finished, elapsed: started.elapsed() }
}

/// The `changes.json` paths, in order.
pub fn changed_paths(changes: &serde_json::Value) -> Vec<String> {
    changes["changes"]
        .as_array()
        .expect("changes is a list")
        .iter()
        .map(|change| change["path"].as_str().expect("path is a string").to_owned())
        .collect()
}

/// The policy messages.
pub fn messages(policy: &serde_json::Value) -> Vec<String> {
    policy["messages"]
        .as_array()
        .expect("messages is a list")
        .iter()
        .map(|message| message.as_str().expect("a message is a string").to_owned())
        .collect()
}
