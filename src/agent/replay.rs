//! The built-in replay agent behind `git dispatch demo`: a recorded Codex session played back.
//!
//! It answers the command line the runner gives Codex (`exec --json ... -C DIR --output-schema S
//! -o FILE PROMPT`): it prints the session's `codex exec --json` events on stdout with small
//! delays, makes the session's file edits in `DIR` (a fix to `src/app/util.py`, a new
//! `tests/test_slug.py`), and writes the session's structured result to `FILE`. No model, no
//! network; the commands in the session (`cat`, `pytest`) are not run, their recorded output is
//! shown. `--version` prints one line naming it.
//!
//! There is one way in: the binary runs it instead of its command line when it is started under
//! the name [`REPLAY_AGENT_NAME`] (a link to it, made by `demo`; see `main.rs`), so the name carries
//! through every wrapper that execs the agent (bubblewrap, the Landlock trampoline). [`demo_repo_files`] is the project the session was recorded on, and
//! [`demo_packet`] the task it answers, so that `demo` and the recording agree.
//! `GIT_DISPATCH_REPLAY_DELAY_MS` replaces every recorded delay (0 for none, in tests).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{json, Value};

/// The program name under which the `git-dispatch` binary acts as the replay agent.
pub const REPLAY_AGENT_NAME: &str = "git-dispatch-replay-agent";

/// Whether the program was started as the replay agent (`argv[0]`'s file name is
/// [`REPLAY_AGENT_NAME`]).
pub fn started_as_replay_agent(argv0: &std::ffi::OsStr) -> bool {
    Path::new(argv0).file_name().is_some_and(|name| name == REPLAY_AGENT_NAME)
}

/// A link named [`REPLAY_AGENT_NAME`] to `binary` in `dir`: the program to give the runner.
pub fn replay_agent_link(binary: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let link = dir.join(REPLAY_AGENT_NAME);
    std::os::unix::fs::symlink(binary, &link)
        .with_context(|| format!("linking {} to {}", link.display(), binary.display()))?;
    Ok(link)
}

/// The variable that replaces every recorded delay, in milliseconds.
pub const REPLAY_DELAY_ENV: &str = "GIT_DISPATCH_REPLAY_DELAY_MS";

/// What `--version` prints.
pub const REPLAY_VERSION: &str =
    concat!("git-dispatch replay agent ", env!("CARGO_PKG_VERSION"), " (a recorded Codex session)");

const UTIL_BEFORE: &str = r#"import re


def slugify(title: str) -> str:
    """Lower-case `title` and join its words with dashes."""
    return re.sub(r"[^a-z0-9]", "-", title.lower()).strip("-")
"#;

const UTIL_AFTER: &str = r#"import re


def slugify(title: str) -> str:
    """Lower-case `title` and join its words with single dashes."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
"#;

const TEST_SLUG: &str = r#"from app.util import slugify


def test_words_are_joined_with_one_dash():
    assert slugify("Hello,  World!") == "hello-world"


def test_empty_title():
    assert slugify("") == ""


def test_only_punctuation():
    assert slugify("?!") == ""


def test_digits_are_kept():
    assert slugify("Route 66") == "route-66"
"#;

const PYTEST_OUTPUT: &str =
    "....                                                                     [100%]\n4 passed in 0.01s\n";

/// The demo project's files `(repository path, content)`, committed by `git dispatch demo`
/// before it dispatches [`demo_packet`]. The session was recorded on exactly these.
pub fn demo_repo_files() -> Vec<(&'static str, &'static str)> {
    vec![
        (".gitignore", "__pycache__/\n.pytest_cache/\n"),
        (
            "README.md",
            "# slugs\n\nA tiny Python project made by `git dispatch demo` in a throw-away folder.\n\
             `slugify` turns a title into a URL slug. It has a bug and no tests yet.\n",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"slugs\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\n\n\
             [tool.pytest.ini_options]\npythonpath = [\"src\"]\n",
        ),
        ("src/app/__init__.py", "\"\"\"slugs: titles to URL slugs.\"\"\"\n"),
        ("src/app/util.py", UTIL_BEFORE),
    ]
}

/// The files the session writes `(path relative to -C, content)`, in the order it writes them.
pub fn replay_edits() -> Vec<(&'static str, &'static str)> {
    vec![("src/app/util.py", UTIL_AFTER), ("tests/test_slug.py", TEST_SLUG)]
}

/// The task packet the session answers, for a WORKDIR.
pub fn demo_packet(workdir: &str) -> String {
    format!(
        "MODE: worker\n\
         WORKDIR: {workdir}\n\
         OBJECTIVE: Make slugify join words with a single dash, and cover it with tests.\n\n\
         WRITE SCOPE:\n\
         - src/app/util.py (MODIFY)\n\
         - tests/test_slug.py (NEW)\n\n\
         NON-GOALS:\n\
         - Do not change the name or the signature of slugify.\n\
         - Do not add dependencies.\n\n\
         VERIFICATION:\n\
         - python3 -m pytest -q\n\n\
         DELIVERABLE:\n\
         - The fix, and a passing test file covering punctuation runs, an empty title and digits.\n"
    )
}

/// The structured result the session ends with (written to `-o`, and the last agent message).
pub fn replay_result() -> Value {
    json!({
        "result": "done",
        "summary": "slugify now turns every run of characters other than letters and digits into one dash; \
                    tests/test_slug.py covers punctuation runs, an empty title, punctuation only and digits.",
        "changed_files": ["src/app/util.py", "tests/test_slug.py"],
        "verification_run": ["python3 -m pytest -q"],
        "evidence": ["python3 -m pytest -q: 4 passed in 0.01s"],
        "findings": ["slugify replaced each such character on its own, so \"Hello,  World!\" became \"hello---world\"."],
        "risks": ["Slugs stored earlier with repeated dashes no longer match newly made ones."],
        "next": "Review the patch with `git dispatch review`, then hand it back with `git dispatch apply`."
    })
}

/// The parts of the Codex command line the replay needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Invocation {
    version: bool,
    dir: Option<PathBuf>,
    output: Option<PathBuf>,
}

fn parse_args(args: &[String]) -> Invocation {
    let mut invocation = Invocation::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--version" | "-V" => invocation.version = true,
            "-C" | "--cd" => invocation.dir = args.next().map(PathBuf::from),
            "-o" | "--output-last-message" => invocation.output = args.next().map(PathBuf::from),
            "--output-schema" | "-m" | "--model" | "-c" | "--config" | "-s" | "--sandbox" => {
                args.next();
            }
            _ => {}
        }
    }
    invocation
}

/// One step of the recorded session.
enum Step {
    /// Print an event line.
    Event(Value),
    /// Write the session's files ([`replay_edits`]).
    Edit,
    /// Write the result file.
    Result,
}

/// The session, with the delay before each step in milliseconds. `dir` makes the file_change
/// paths absolute, as Codex reports them.
fn session(dir: &Path) -> Vec<(u64, Step)> {
    let result_text = replay_result().to_string();
    let changes: Vec<Value> = vec![
        json!({"path": dir.join("src/app/util.py"), "kind": "update"}),
        json!({"path": dir.join("tests/test_slug.py"), "kind": "add"}),
    ];
    let cat = "/bin/bash -lc \"cat src/app/util.py\"";
    let pytest = "/bin/bash -lc \"python3 -m pytest -q\"";
    vec![
        (33, Step::Event(json!({"type": "thread.started", "thread_id": "0198d15a-7c3e-7d2a-9f41-3b5e2c8a6d10"}))),
        (33, Step::Event(json!({"type": "turn.started"}))),
        (
            100,
            Step::Event(item_completed(
                "item_0",
                json!({"type": "reasoning", "text": "**Reading the code** slugify is in src/app/util.py; nothing tests it yet."}),
            )),
        ),
        (50, Step::Event(command("item.started", "item_1", cat, "", None))),
        (66, Step::Event(command("item.completed", "item_1", cat, UTIL_BEFORE, Some(0)))),
        (
            100,
            Step::Event(item_completed(
                "item_2",
                json!({"type": "reasoning", "text": "**Planning the fix** each punctuation character becomes its own dash; match runs with `+` and add tests."}),
            )),
        ),
        (
            66,
            Step::Event(
                json!({"type": "item.started", "item": {"id": "item_3", "type": "file_change", "changes": changes, "status": "in_progress"}}),
            ),
        ),
        (33, Step::Edit),
        (
            33,
            Step::Event(item_completed(
                "item_3",
                json!({"type": "file_change", "changes": changes, "status": "completed"}),
            )),
        ),
        (50, Step::Event(command("item.started", "item_4", pytest, "", None))),
        (100, Step::Event(command("item.completed", "item_4", pytest, PYTEST_OUTPUT, Some(0)))),
        (83, Step::Event(item_completed("item_5", json!({"type": "agent_message", "text": result_text})))),
        (0, Step::Result),
        (
            33,
            Step::Event(
                json!({"type": "turn.completed", "usage": {"input_tokens": 4821, "cached_input_tokens": 3584, "cache_write_input_tokens": 0, "output_tokens": 612, "reasoning_output_tokens": 256}}),
            ),
        ),
    ]
}

fn item_completed(id: &str, mut item: Value) -> Value {
    item["id"] = json!(id);
    json!({"type": "item.completed", "item": item})
}

fn command(kind: &str, id: &str, command: &str, output: &str, exit_code: Option<i32>) -> Value {
    let status = if exit_code.is_some() { "completed" } else { "in_progress" };
    json!({"type": kind, "item": {"id": id, "type": "command_execution", "command": command, "aggregated_output": output, "exit_code": exit_code, "status": status}})
}

/// Runs the replay agent with the process's stdout and stderr; returns the exit code
/// (0, or 1 when the folder or a file cannot be written, as Codex exits 1 on a failed turn).
/// `args` is the command line after the program name.
pub fn run_replay(args: &[String]) -> i32 {
    let delay = std::env::var(REPLAY_DELAY_ENV).ok().and_then(|value| value.trim().parse::<u64>().ok());
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    replay(args, delay, &mut stdout.lock(), &mut stderr.lock())
}

/// [`run_replay`] with its outputs given; `delay_ms` replaces every recorded delay when set.
pub fn replay(args: &[String], delay_ms: Option<u64>, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    let invocation = parse_args(args);
    if invocation.version {
        return match writeln!(stdout, "{REPLAY_VERSION}") {
            Ok(()) => 0,
            Err(_) => 1,
        };
    }
    let _ = writeln!(stderr, "git-dispatch replay agent: replaying a recorded Codex session (no model, no network)");
    match play(&invocation, delay_ms, stdout) {
        Ok(()) => 0,
        Err(error) => {
            let message = format!("{error:#}");
            let _ = writeln!(stdout, "{}", json!({"type": "error", "message": message}));
            let _ = writeln!(stdout, "{}", json!({"type": "turn.failed", "error": {"message": message}}));
            let _ = writeln!(stderr, "Error: {message}");
            1
        }
    }
}

fn play(invocation: &Invocation, delay_ms: Option<u64>, stdout: &mut dyn Write) -> anyhow::Result<()> {
    let dir = match &invocation.dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("reading the current directory")?,
    };
    let dir = std::path::absolute(&dir).with_context(|| format!("resolving {}", dir.display()))?;
    if !dir.is_dir() {
        anyhow::bail!("working directory {} does not exist", dir.display());
    }
    for (recorded, step) in session(&dir) {
        std::thread::sleep(Duration::from_millis(delay_ms.unwrap_or(recorded)));
        match step {
            Step::Event(event) => {
                writeln!(stdout, "{event}").context("writing an event")?;
                stdout.flush().context("writing an event")?;
            }
            Step::Edit => write_edits(&dir)?,
            Step::Result => write_result(invocation.output.as_deref())?,
        }
    }
    Ok(())
}

fn write_edits(dir: &Path) -> anyhow::Result<()> {
    for (path, content) in replay_edits() {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn write_result(output: Option<&Path>) -> anyhow::Result<()> {
    let Some(path) = output else { return Ok(()) };
    let text = serde_json::to_string_pretty(&replay_result()).context("rendering the result")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn the_codex_command_line_is_understood() {
        let args = strings(&[
            "exec",
            "--json",
            "--dangerously-bypass-approvals-and-sandbox",
            "-C",
            "/w",
            "--output-schema",
            "/r/s.json",
            "-o",
            "/r/result.json",
            "-C-looking prompt",
        ]);
        let invocation = parse_args(&args);
        assert_eq!(
            invocation,
            Invocation {
                version: false,
                dir: Some(PathBuf::from("/w")),
                output: Some(PathBuf::from("/r/result.json"))
            }
        );
        assert!(parse_args(&strings(&["--version"])).version);
    }

    #[test]
    fn the_demo_files_are_the_ones_the_session_reads_and_edits() {
        let files = demo_repo_files();
        let util = files.iter().find(|(path, _)| *path == "src/app/util.py").expect("util.py is in the demo");
        assert_eq!(util.1, UTIL_BEFORE);
        let edited: Vec<&str> = replay_edits().iter().map(|(path, _)| *path).collect();
        assert_eq!(edited, ["src/app/util.py", "tests/test_slug.py"]);
        assert_eq!(replay_result()["changed_files"], json!(edited));
        let packet = crate::packet::parse(&demo_packet("/tmp/demo")).expect("the demo packet is valid");
        assert_eq!(packet.write_scope, edited);
    }

    #[test]
    fn a_missing_directory_fails_like_a_failed_turn() {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = replay(&strings(&["exec", "-C", "/nonexistent/replay-dir"]), Some(0), &mut out, &mut err);
        assert_eq!(code, 1);
        let text = String::from_utf8(out).expect("utf-8");
        let types: Vec<String> = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("JSON")["type"].as_str().expect("type").to_string())
            .collect();
        assert_eq!(types, ["error", "turn.failed"]);
        assert!(String::from_utf8_lossy(&err).contains("working directory /nonexistent/replay-dir does not exist"));
    }
}
