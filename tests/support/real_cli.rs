//! The real agent CLIs in tests: finding the installed `codex` / `claude` (skip with a clear
//! message locally, fail under `CI=true`), and the environment that points each at a scripted
//! model server with its state isolated in the test's temp root. The same variables are meant to
//! be passed to git-dispatch itself (they include `GIT_DISPATCH_CODEX_BIN` / `..._CLAUDE_BIN`).

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// One of the real agent CLIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    Codex,
    Claude,
}

impl Cli {
    pub fn program(self) -> &'static str {
        match self {
            Cli::Codex => "codex",
            Cli::Claude => "claude",
        }
    }

    /// The variable git-dispatch reads to override the binary.
    pub fn bin_variable(self) -> &'static str {
        match self {
            Cli::Codex => "GIT_DISPATCH_CODEX_BIN",
            Cli::Claude => "GIT_DISPATCH_CLAUDE_BIN",
        }
    }
}

/// Where `scripts/install-agent-clis.sh` installs the npm packages.
pub fn install_cache_bin_dir() -> Option<PathBuf> {
    let cache = match std::env::var_os("GIT_DISPATCH_NPM_CACHE") {
        Some(cache) => PathBuf::from(cache),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/git-dispatch-ci/npm"),
    };
    Some(cache.join("node_modules/.bin"))
}

fn candidates(cli: Cli) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Some(path) = std::env::var_os(cli.bin_variable()) {
        found.push(PathBuf::from(path));
    }
    if let Some(path) = std::env::var_os("PATH") {
        found.extend(std::env::split_paths(&path).map(|dir| dir.join(cli.program())));
    }
    found.push(PathBuf::from("/tmp/npmcache/node_modules/.bin").join(cli.program()));
    found.extend(install_cache_bin_dir().map(|dir| dir.join(cli.program())));
    found
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// The real CLI's path: `GIT_DISPATCH_*_BIN`, else PATH, else /tmp/npmcache, else the install
/// script's cache. Missing: prints "SKIPPED: ..." and returns `None`, but panics under `CI=true`.
pub fn find(cli: Cli) -> Option<PathBuf> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    locate(cli, &candidates(cli), ci)
}

/// The first executable of `candidates`; when there is none, skip (`None`) or, with `ci`, panic.
pub fn locate(cli: Cli, candidates: &[PathBuf], ci: bool) -> Option<PathBuf> {
    if let Some(path) = candidates.iter().find(|path| is_executable(path)) {
        return Some(path.clone());
    }
    let message = format!("{} not installed (run scripts/install-agent-clis.sh)", cli.program());
    if ci {
        panic!("{message}; CI=true makes a missing agent CLI a failure, not a skip");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// The variables every agent run gets: PATH, a private HOME, TMPDIR, XDG dirs under `root`, and
/// the hermetic git identity. Meant for `Command::env_clear().envs(..)`.
pub fn base_env(root: &Path) -> Vec<(String, OsString)> {
    let home = root.join("agent-home");
    let tmp = root.join("agent-tmp");
    for dir in [&home, &tmp] {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    }
    let mut env: Vec<(String, OsString)> = vec![
        ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
        ("HOME".into(), home.clone().into()),
        ("TMPDIR".into(), tmp.into()),
        ("XDG_CONFIG_HOME".into(), home.join(".config").into()),
        ("XDG_CACHE_HOME".into(), home.join(".cache").into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("TERM".into(), "dumb".into()),
        ("NO_COLOR".into(), "1".into()),
    ];
    let git = [
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_AUTHOR_NAME", "Agent"),
        ("GIT_AUTHOR_EMAIL", "agent@example.invalid"),
        ("GIT_AUTHOR_DATE", "2001-02-03T04:05:06Z"),
        ("GIT_COMMITTER_NAME", "Agent"),
        ("GIT_COMMITTER_EMAIL", "agent@example.invalid"),
        ("GIT_COMMITTER_DATE", "2001-02-03T04:05:06Z"),
    ];
    env.extend(git.iter().map(|(name, value)| (name.to_string(), OsString::from(value))));
    env
}

/// codex's `config.toml` pointing at an OpenAI Responses server at `base_url` (`.../v1`).
pub fn codex_config(base_url: &str) -> String {
    format!(
        r#"model = "gpt-5.5"
model_provider = "mock"
check_for_update_on_startup = false

[model_providers.mock]
name = "mock"
base_url = "{base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"#
    )
}

/// The environment for codex against `base_url`: [`base_env`] plus a fresh `CODEX_HOME` under
/// `root` (not under /tmp: codex refuses to put its helpers under a temp dir) holding the config,
/// and `GIT_DISPATCH_CODEX_BIN`.
pub fn codex_env(root: &Path, base_url: &str, bin: &Path) -> Vec<(String, OsString)> {
    let codex_home = root.join("codex-home");
    std::fs::create_dir_all(&codex_home).expect("creating CODEX_HOME");
    std::fs::write(codex_home.join("config.toml"), codex_config(base_url)).expect("writing config.toml");
    let mut env = base_env(root);
    env.push(("CODEX_HOME".into(), codex_home.into()));
    env.push((Cli::Codex.bin_variable().into(), bin.into()));
    env
}

/// The environment for claude against `base_url` (no `/v1`): [`base_env`] plus the API settings,
/// an isolated `CLAUDE_CONFIG_DIR`, no retries, no non-essential traffic, `IS_SANDBOX=1` (we run as
/// root in CI), and `GIT_DISPATCH_CLAUDE_BIN`.
pub fn claude_env(root: &Path, base_url: &str, bin: &Path) -> Vec<(String, OsString)> {
    let config_dir = root.join("claude-config");
    std::fs::create_dir_all(&config_dir).expect("creating CLAUDE_CONFIG_DIR");
    let mut env = base_env(root);
    let fixed = [
        ("ANTHROPIC_BASE_URL", base_url),
        ("ANTHROPIC_API_KEY", "test"),
        ("CLAUDE_CODE_MAX_RETRIES", "0"),
        ("IS_SANDBOX", "1"),
        ("DISABLE_AUTOUPDATER", "1"),
        ("DISABLE_TELEMETRY", "1"),
        ("DISABLE_ERROR_REPORTING", "1"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ];
    env.extend(fixed.iter().map(|(name, value)| (name.to_string(), OsString::from(value))));
    env.push(("CLAUDE_CONFIG_DIR".into(), config_dir.into()));
    env.push((Cli::Claude.bin_variable().into(), bin.into()));
    env
}

/// The result schema git-dispatch hands the agents (SPEC §5), for `--output-schema` /
/// `--json-schema` in the direct tests.
pub fn result_schema() -> serde_json::Value {
    let strings = serde_json::json!({"type": "array", "items": {"type": "string"}});
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["result", "summary", "changed_files", "verification_run", "evidence", "findings", "risks", "next"],
        "properties": {
            "result": {"type": "string"}, "summary": {"type": "string"},
            "changed_files": strings, "verification_run": strings, "evidence": strings,
            "findings": strings, "risks": strings, "next": strings,
        }
    })
}

/// A CLI started by a test: its own process group, stdout and stderr drained on threads.
pub struct Running {
    child: std::process::Child,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
    /// Everything read from stdout so far (the reader thread appends as it reads).
    stdout_so_far: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

/// What a finished (or killed) run produced.
#[derive(Debug)]
pub struct Finished {
    /// `None` when the test had to kill it at the deadline.
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|status| status.code())
    }

    /// The stdout lines that are JSON objects (other lines are skipped).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|value| value.is_object())
            .collect()
    }

    /// The `type` of each event, in order.
    pub fn event_types(&self) -> Vec<String> {
        self.events().iter().map(|event| event["type"].as_str().unwrap_or("?").to_owned()).collect()
    }
}

fn drain(
    pipe: Option<impl std::io::Read + Send + 'static>,
    so_far: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) -> Option<std::thread::JoinHandle<Vec<u8>>> {
    pipe.map(|mut pipe| {
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            loop {
                match pipe.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(read) => so_far.lock().expect("output lock").extend_from_slice(&buffer[..read]),
                }
            }
            so_far.lock().expect("output lock").clone()
        })
    })
}

impl Running {
    /// Starts `command` with stdin from /dev/null in a new process group.
    pub fn start(mut command: std::process::Command) -> Running {
        use std::os::unix::process::CommandExt;
        use std::process::Stdio;
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let mut child = command.spawn().expect("starting the agent CLI");
        let stdout_so_far = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stdout = drain(child.stdout.take(), std::sync::Arc::clone(&stdout_so_far));
        let stderr = drain(child.stderr.take(), Default::default());
        Running { child, stdout, stderr, stdout_so_far }
    }

    /// Waits up to `limit` until what the CLI printed on stdout so far satisfies `ready`.
    pub fn wait_for_stdout(&self, limit: std::time::Duration, ready: impl Fn(&str) -> bool) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            let text = String::from_utf8_lossy(&self.stdout_so_far.lock().expect("output lock")).into_owned();
            if ready(&text) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Still running?
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `limit`; past it, kills the whole process group. Either way collects output.
    pub fn finish_within(mut self, limit: std::time::Duration) -> Finished {
        use wait_timeout::ChildExt;
        let status = self.child.wait_timeout(limit).expect("waiting for the agent CLI");
        if status.is_none() {
            self.kill_group();
        }
        let collect = |handle: Option<std::thread::JoinHandle<Vec<u8>>>| {
            let bytes = handle.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Finished { status, stdout: collect(self.stdout.take()), stderr: collect(self.stderr.take()) }
    }

    /// SIGKILL to the process group, then reap the leader.
    pub fn kill_group(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.is_running() {
            self.kill_group();
        }
    }
}

/// The environment for `cli` against a server at `base_url` ([`codex_env`] or [`claude_env`]):
/// what a test passes to the CLI, or to git-dispatch (`env_clear().envs(..)`).
pub fn agent_env(cli: Cli, root: &Path, base_url: &str, bin: &Path) -> Vec<(String, OsString)> {
    match cli {
        Cli::Codex => codex_env(root, base_url, bin),
        Cli::Claude => claude_env(root, base_url, bin),
    }
}
