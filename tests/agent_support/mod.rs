//! Shared by the agent runner tests: a temporary worktree and run folder, and fake agents
//! written as small `sh` scripts that print captured event streams.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use git_dispatch::agent::{AgentKind, AgentRequest};

/// The schema file the lead puts in the run folder (the seed's result schema).
pub const SCHEMA: &str = r#"{
  "type": "object",
  "required": ["result", "summary", "changed_files"],
  "properties": {
    "result": {"type": "string", "enum": ["done", "blocked", "partial", "findings-only"]},
    "summary": {"type": "string"},
    "changed_files": {"type": "array", "items": {"type": "string"}}
  }
}
"#;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub worktree: PathBuf,
    pub run_dir: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let worktree = dir.path().join("wt");
        let run_dir = dir.path().join("run");
        std::fs::create_dir_all(&worktree).expect("worktree dir");
        std::fs::create_dir_all(&run_dir).expect("run dir");
        std::fs::write(run_dir.join("result.schema.json"), SCHEMA).expect("schema");
        Fixture { dir, worktree, run_dir }
    }

    /// Writes an executable `sh` script named `name` whose body follows a prelude that answers
    /// `--version` with `version` and sets `$RESULT_FILE` to the `-o` argument (if any).
    pub fn agent(&self, name: &str, version: &str, body: &str) -> PathBuf {
        let script = format!(
            "#!/bin/sh\n\
             if [ \"$1\" = --version ]; then echo '{version}'; exit 0; fi\n\
             printf '%s\\0' \"$@\" > '{argv}'\n\
             RESULT_FILE=; prev=\n\
             for arg in \"$@\"; do [ \"$prev\" = -o ] && RESULT_FILE=$arg; prev=$arg; done\n\
             DATA='{data}'\n\
             {body}\n",
            argv = self.argv_file().display(),
            data = data_dir().display(),
        );
        let path = self.dir.path().join(name);
        std::fs::write(&path, script).expect("agent script");
        make_executable(&path);
        path
    }

    /// Where the fake agent recorded its argv.
    pub fn argv_file(&self) -> PathBuf {
        self.dir.path().join("argv")
    }

    /// The argv the fake agent received (without the program).
    pub fn recorded_argv(&self) -> Vec<String> {
        let bytes = std::fs::read(self.argv_file()).expect("argv recorded");
        bytes
            .split(|&byte| byte == 0)
            .filter(|part| !part.is_empty())
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect()
    }

    pub fn request<'a>(&'a self, kind: AgentKind, program: &Path) -> AgentRequest<'a> {
        AgentRequest {
            kind,
            program: program.to_path_buf(),
            cwd: &self.worktree,
            worktree: &self.worktree,
            prompt: "Do the task.\nReturn JSON.",
            run_dir: &self.run_dir,
            timeout: Duration::from_secs(60),
            heartbeat: Duration::from_secs(60),
            quiet: true,
            wrapper: Vec::new(),
            extra_env: Vec::new(),
            output_dir: None,
            cancel: None,
            on_activity: None,
        }
    }

    pub fn read_run_file(&self, name: &str) -> String {
        std::fs::read_to_string(self.run_dir.join(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
    }

    pub fn result_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.read_run_file("result.json")).expect("result.json is JSON")
    }
}

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/agents")
}

pub fn data(name: &str) -> String {
    std::fs::read_to_string(data_dir().join(name)).expect("captured data file")
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// True when the process is gone or a zombie.
pub fn is_dead(pid: u32) -> bool {
    let status = Path::new("/proc").join(pid.to_string()).join("status");
    match std::fs::read_to_string(status) {
        Err(_) => true,
        Ok(text) => text.lines().any(|line| line.starts_with("State:") && line.contains('Z')),
    }
}

pub fn wait_dead(pid: u32) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if is_dead(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
