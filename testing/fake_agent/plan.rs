//! The plan file of the fake agent: a JSON list of steps (or `{"steps": [...]}`), decoded into
//! typed [`Step`]s. The format is documented in `testing/fake-agent.rs` and `tests/data/README.md`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

/// Reads and decodes the plan at `path`.
pub fn load(path: &Path) -> Result<Vec<Step>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading plan file {}", path.display()))?;
    parse(&text).with_context(|| format!("decoding plan file {}", path.display()))
}

/// Decodes plan text; a bad step names its index and the serde error.
pub fn parse(text: &str) -> Result<Vec<Step>> {
    let raw: Value = serde_json::from_str(text).context("plan is not JSON")?;
    let items = match &raw {
        Value::Array(items) => items.clone(),
        Value::Object(map) => match map.get("steps") {
            Some(Value::Array(items)) => items.clone(),
            _ => bail!("plan object has no \"steps\" list"),
        },
        _ => bail!("plan must be a list of steps or an object with \"steps\""),
    };
    let mut steps = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let step: Step = serde_json::from_value(item).with_context(|| format!("plan step {index} is invalid"))?;
        steps.push(step);
    }
    Ok(steps)
}

/// A path argument: a string, or raw bytes for non-UTF-8 names (`{"b64": "..."}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PathArg {
    Text(String),
    Bytes { b64: String },
}

impl PathArg {
    /// The path as given (relative paths are resolved by the caller against the cwd).
    pub fn to_path(&self) -> Result<PathBuf> {
        match self {
            PathArg::Text(text) => Ok(PathBuf::from(text)),
            PathArg::Bytes { b64 } => Ok(PathBuf::from(OsString::from_vec(decode_base64(b64)?))),
        }
    }
}

/// A file mode: an octal string (`"755"`, `"0644"`) or a plain number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Mode {
    Octal(String),
    Number(u32),
}

impl Mode {
    pub fn bits(&self) -> Result<u32> {
        match self {
            Mode::Octal(text) => {
                u32::from_str_radix(text, 8).with_context(|| format!("mode {text:?} is not an octal number"))
            }
            Mode::Number(bits) => Ok(*bits),
        }
    }
}

/// The kind of a `special` step's file.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SpecialKind {
    Fifo,
    Socket,
    Device,
}

/// What happens to a spawned child's stdout and stderr.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChildStdio {
    /// Inherit the agent's pipes (so the child keeps them open, as `cmd &` in a shell does).
    #[default]
    Inherit,
    /// Detach from the agent's pipes.
    Null,
}

fn one() -> u64 {
    1
}

fn daemon_secs() -> u64 {
    30
}

fn default_commit_message() -> String {
    "fake agent commit".to_owned()
}

/// One step of a plan, tagged by its `"step"` field.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Create or replace a file with `content` (text) or `base64`, repeated `count` times.
    Write {
        path: PathArg,
        content: Option<String>,
        base64: Option<String>,
        #[serde(default = "one")]
        count: u64,
    },
    /// Append `content` or `base64` (repeated `count` times) to a file, creating it if needed.
    Append {
        path: PathArg,
        content: Option<String>,
        base64: Option<String>,
        #[serde(default = "one")]
        count: u64,
    },
    /// Remove a file, a symlink (not followed) or a whole directory.
    Delete {
        path: PathArg,
    },
    Rename {
        from: PathArg,
        to: PathArg,
    },
    Chmod {
        path: PathArg,
        mode: Mode,
    },
    /// Create a symlink at `path` whose target is `target`, verbatim.
    Symlink {
        target: PathArg,
        path: PathArg,
    },
    /// Create a hard link at `path` to the existing file `target`.
    Hardlink {
        target: PathArg,
        path: PathArg,
    },
    Mkdir {
        path: PathArg,
    },
    /// Create a special file at `path`: a FIFO, a unix socket or a device node (`/dev/null`'s
    /// numbers; needs CAP_MKNOD).
    Special {
        path: PathArg,
        kind: SpecialKind,
    },
    /// `git add -A && git commit -m message` in the cwd.
    Commit {
        #[serde(default = "default_commit_message")]
        message: String,
    },
    /// Any git command: `git <args...>` in the cwd.
    Git {
        args: Vec<String>,
    },
    /// `git checkout <rev>`.
    Checkout {
        rev: String,
    },
    /// `git checkout --detach [rev]`.
    Detach {
        rev: Option<String>,
    },
    /// `sh -c cmd` in the cwd, output captured into the event stream.
    Shell {
        cmd: String,
    },
    /// One raw line on stdout: `line` verbatim, or `json` serialized on one line.
    Emit {
        line: Option<String>,
        json: Option<Value>,
    },
    /// An assistant message event in the agent's style.
    Message {
        text: String,
    },
    /// Raw bytes on stdout (`bytes` text or `base64`) repeated `count` times, no newline added.
    Stdout {
        bytes: Option<String>,
        base64: Option<String>,
        #[serde(default = "one")]
        count: u64,
    },
    /// Raw text on stderr, repeated `count` times.
    Stderr {
        text: String,
        #[serde(default = "one")]
        count: u64,
    },
    Sleep {
        ms: u64,
    },
    /// Sleep forever, silently.
    Hang,
    /// A child process that sleeps `sleep_secs`; its pid goes to `pidfile` when given.
    SpawnChild {
        sleep_secs: u64,
        pidfile: Option<PathArg>,
        #[serde(default)]
        stdio: ChildStdio,
    },
    /// A double-forked process in its own session that writes its pid to `pidfile`.
    SetsidDaemon {
        pidfile: PathArg,
        #[serde(default = "daemon_secs")]
        sleep_secs: u64,
        #[serde(default)]
        stdio: ChildStdio,
    },
    /// A double-forked process in a process group of its own (same session), orphaned at once,
    /// that writes its pid to `pidfile`.
    GroupDaemon {
        pidfile: PathArg,
        #[serde(default = "daemon_secs")]
        sleep_secs: u64,
        #[serde(default)]
        stdio: ChildStdio,
    },
    /// A tree of exactly `max` processes, each sleeping `sleep_secs`; pids appended to `pidfile`.
    ForkBomb {
        max: u32,
        #[serde(default = "daemon_secs")]
        sleep_secs: u64,
        pidfile: Option<PathArg>,
    },
    /// Send `signal` (`KILL` by default, or `TERM`, `INT`, `HUP`) to the parent process.
    KillParent {
        signal: Option<String>,
    },
    /// The structured result to hand back (any JSON value).
    Result {
        value: Value,
    },
    /// Hand back `text` verbatim as the result (for example, not JSON).
    ResultRaw {
        text: String,
    },
    /// Hand back no result at all.
    NoResult,
    /// Stop here. Normally the closing events and the result are still written; with `abrupt`
    /// the process exits at once.
    Exit {
        code: i32,
        #[serde(default)]
        abrupt: bool,
    },
    /// Report a failed turn in the agent's style (codex `turn.failed`, claude `is_error`) and exit 1.
    Fail {
        message: String,
    },
    /// One network attempt (see `net_steps.rs`), reported as a message event.
    Net {
        probe: crate::net_steps::Probe,
        host: Option<String>,
        port: Option<u16>,
        name: Option<String>,
        count: Option<u32>,
        at_once: Option<u32>,
    },
    /// Write `{argv, cwd, style, env}` as JSON to `path` (env: only the names listed).
    Record {
        path: PathArg,
        #[serde(default)]
        env: Vec<String>,
    },
}

impl Step {
    /// The step's tag, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Write { .. } => "write",
            Step::Append { .. } => "append",
            Step::Delete { .. } => "delete",
            Step::Rename { .. } => "rename",
            Step::Chmod { .. } => "chmod",
            Step::Symlink { .. } => "symlink",
            Step::Hardlink { .. } => "hardlink",
            Step::Mkdir { .. } => "mkdir",
            Step::Special { .. } => "special",
            Step::Commit { .. } => "commit",
            Step::Git { .. } => "git",
            Step::Checkout { .. } => "checkout",
            Step::Detach { .. } => "detach",
            Step::Shell { .. } => "shell",
            Step::Emit { .. } => "emit",
            Step::Message { .. } => "message",
            Step::Stdout { .. } => "stdout",
            Step::Stderr { .. } => "stderr",
            Step::Sleep { .. } => "sleep",
            Step::Hang => "hang",
            Step::SpawnChild { .. } => "spawn_child",
            Step::SetsidDaemon { .. } => "setsid_daemon",
            Step::GroupDaemon { .. } => "group_daemon",
            Step::ForkBomb { .. } => "fork_bomb",
            Step::KillParent { .. } => "kill_parent",
            Step::Result { .. } => "result",
            Step::ResultRaw { .. } => "result_raw",
            Step::NoResult => "no_result",
            Step::Exit { .. } => "exit",
            Step::Fail { .. } => "fail",
            Step::Net { .. } => "net",
            Step::Record { .. } => "record",
        }
    }
}

/// The bytes of a `content` / `base64` pair (exactly one may be given; neither means empty).
pub fn payload(text: Option<&str>, base64: Option<&str>) -> Result<Vec<u8>> {
    match (text, base64) {
        (Some(_), Some(_)) => bail!("give either text or base64, not both"),
        (Some(text), None) => Ok(text.as_bytes().to_vec()),
        (None, Some(encoded)) => decode_base64(encoded),
        (None, None) => Ok(Vec::new()),
    }
}

/// Decodes standard base64 (padding optional, whitespace ignored).
pub fn decode_base64(encoded: &str) -> Result<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut bit_count = 0;
    let mut out = Vec::with_capacity(encoded.len() * 3 / 4);
    for byte in encoded.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b' ' | b'\n' | b'\r' | b'\t' => continue,
            other => bail!("invalid base64 byte {other:#04x}"),
        };
        bits = (bits << 6) | u32::from(value);
        bit_count += 6;
        if bit_count >= 8 {
            bit_count -= 8;
            out.push((bits >> bit_count) as u8);
            bits &= (1 << bit_count) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("/w==").unwrap(), vec![0xff]);
        assert!(decode_base64("a*b").is_err());
    }

    #[test]
    fn steps_decode_with_defaults_and_reject_unknown_fields() {
        let steps = parse(r#"[{"step":"write","path":"a","content":"x"},{"step":"hang"}]"#).unwrap();
        assert!(matches!(&steps[0], Step::Write { count: 1, .. }));
        assert!(matches!(steps[1], Step::Hang));
        assert!(parse(r#"[{"step":"write","path":"a","contnet":"x"}]"#).is_err());
        assert!(parse(r#"{"steps":[{"step":"no_result"}]}"#).is_ok());
    }
}
