//! `git dispatch mcp` driven by the official MCP inspector's CLI (`mcp-inspector --cli`, npm
//! `@modelcontextprotocol/inspector`, pinned in scripts/install-agent-clis.sh), one server
//! process per call as the inspector runs it: `tools/list` shows every tool with its schema;
//! `dispatch` + `wait` + `review` + `apply` of a fake-agent run end with its patch in the checkout
//! and nothing else changed; a bad packet, an unknown run and an out-of-scope run's `apply` are
//! tool errors with the command line's one-line reasons. Skipped with a message when the inspector
//! is not installed, a failure under `CI=true`.

mod support;

#[path = "support/mcp.rs"]
mod mcp;

use std::path::{Path, PathBuf};
use std::process::Command;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use support::cli::{self, tests_scope_packet, user_visible};
use support::fixtures::{fixture, Fixture};
use support::git::tree_fingerprint;

/// The inspector with the fixture's hermetic environment and the fake agent following `plan`.
struct Inspector {
    program: PathBuf,
    env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    repo: PathBuf,
}

impl Inspector {
    fn new(fx: &Fixture, plan: &Value) -> Option<Inspector> {
        let program = mcp::find_inspector()?;
        let command = cli::command_with_plan(fx, plan);
        let env = command.get_envs().filter_map(|(key, value)| Some((key.to_owned(), value?.to_owned()))).collect();
        Some(Inspector { program, env, repo: fx.repo.clone() })
    }

    /// One inspector run: `--method METHOD` and `extra` arguments; its JSON output.
    fn run(&self, method: &str, extra: &[String]) -> Value {
        let mut command = Command::new(&self.program);
        command.env_clear().envs(self.env.iter().cloned()).current_dir(&self.repo);
        command.arg("--cli").arg(cli::binary()).arg("mcp").args(["--method", method]).args(extra);
        let out = command.output().expect("the inspector runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "inspector {method} {extra:?}: {stdout}\n{}", cli::stderr(&out));
        serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("inspector printed no JSON ({err}): {stdout}"))
    }

    /// `tools/call` of `tool` with `key=value` arguments (values that parse as JSON are JSON).
    fn call(&self, tool: &str, args: &[(&str, String)]) -> Value {
        let mut extra = vec!["--tool-name".to_string(), tool.to_string()];
        for (key, value) in args {
            extra.push("--tool-arg".to_string());
            extra.push(format!("{key}={value}"));
        }
        self.run("tools/call", &extra)
    }

    /// A call that must succeed: its structured result.
    fn ok(&self, tool: &str, args: &[(&str, String)]) -> Value {
        let result = self.call(tool, args);
        assert_eq!(result["isError"], json!(false), "{tool}: {result}");
        result["structuredContent"].clone()
    }

    /// A call that must be a tool error: its text.
    fn refused(&self, tool: &str, args: &[(&str, String)]) -> String {
        let result = self.call(tool, args);
        assert_eq!(result["isError"], json!(true), "{tool} should be refused: {result}");
        result["content"][0]["text"].as_str().unwrap_or_default().to_string()
    }

    /// `wait` until the run is over (each call bounded at 20 s).
    fn wait_until_over(&self, run_id: &str) -> Value {
        for _ in 0..6 {
            let waited = self.ok("wait", &[("run_ids", json!([run_id]).to_string()), ("timeout_sec", "20".into())]);
            if waited["state"] == "finished" {
                return waited;
            }
            assert_eq!(waited["state"], "still_running", "{waited}");
        }
        panic!("run {run_id} did not finish within six waits");
    }
}

fn write_plan(path: &str) -> Value {
    json!([{"step": "write", "path": path, "content": "def test_mcp():\n    assert 1 + 1 == 2\n"}])
}

fn packet_arg(packet: &Path) -> (&'static str, String) {
    ("packet_path", packet.display().to_string())
}

#[test]
fn tools_list_shows_every_tool_with_its_schema() {
    let fx = fixture("python-project");
    let Some(inspector) = Inspector::new(&fx, &json!([])) else { return };
    let listed = inspector.run("tools/list", &[]);
    let tools = listed["tools"].as_array().expect("tools");
    let mut names: Vec<&str> = tools.iter().filter_map(|tool| tool["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["apply", "cancel", "dispatch", "list", "review", "status", "wait"]);
    let tool = |name: &str| tools.iter().find(|tool| tool["name"] == name).expect("listed").clone();
    let dispatch = tool("dispatch");
    let description = dispatch["description"].as_str().unwrap_or_default();
    for word in ["task packet", "worker", "verifier", "reviewer", "synthesizer", "WRITE SCOPE", "only `apply`"] {
        assert!(description.contains(word), "the dispatch description says {word:?}: {description}");
    }
    for field in ["packet_path", "packet", "workdir", "agent", "base", "timeout_sec", "verify", "sandbox", "allow"] {
        assert!(dispatch["inputSchema"]["properties"][field].is_object(), "dispatch takes {field}");
    }
    let agent = dispatch["inputSchema"]["properties"]["agent"].to_string();
    assert!(agent.contains(r#""codex","claude""#) && !agent.contains("$ref"), "the agent values inline: {agent}");
    assert_eq!(tool("apply")["inputSchema"]["required"], json!(["run_id"]));
    assert_eq!(tool("wait")["inputSchema"]["properties"]["run_ids"]["type"], json!("array"));
    assert_eq!(tool("review")["annotations"]["readOnlyHint"], json!(true));
}

#[test]
fn dispatch_wait_review_apply_ends_with_the_patch_applied() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let Some(inspector) = Inspector::new(&fx, &write_plan("tests/test_mcp.py")) else { return };
    let before = user_visible(&tree_fingerprint(&fx.repo));

    let started = inspector.ok("dispatch", &[packet_arg(&packet)]);
    let run_id = started["run_id"].as_str().expect("run_id").to_string();
    assert!(["queued", "running"].contains(&started["state"].as_str().unwrap_or_default()), "{started}");
    let waited = inspector.wait_until_over(&run_id);
    assert_eq!((waited["exit_code"].clone(), waited["runs"][0]["offered"].clone()), (json!(0), json!(true)));

    let review = inspector.call("review", &[("run_id", run_id.clone())]);
    let fields = &review["structuredContent"];
    assert_eq!((fields["verdict"].clone(), fields["offered"].clone()), (json!("offered"), json!(true)), "{review}");
    assert_eq!(
        fields["changes"],
        json!([{"path": "tests/test_mcp.py", "status": "added", "old_path": null, "in_scope": true}])
    );
    assert_eq!((fields["sensitive_changes"].clone(), fields["claims_mismatch"].clone()), (json!([]), Value::Null));
    assert!(fields["patch"].as_str().unwrap_or_default().contains("+def test_mcp():"), "{fields}");
    let text = review["content"][1]["text"].as_str().unwrap_or_default();
    assert!(text.contains("verdict:  offered") && text.contains("✓ added"), "the review text: {text}");
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), before, "review changes nothing");

    let applied = inspector.ok("apply", &[("run_id", run_id.clone())]);
    assert_eq!((applied["applied"].clone(), applied["paths"].clone()), (json!("patch"), json!(["tests/test_mcp.py"])));
    let written = std::fs::read_to_string(fx.repo.join("tests/test_mcp.py")).expect("the patch was applied");
    assert_eq!(written, "def test_mcp():\n    assert 1 + 1 == 2\n");
    let after = user_visible(&tree_fingerprint(&fx.repo));
    let others: Vec<&str> = after.lines().filter(|line| !line.contains("tests/test_mcp.py")).collect();
    assert_eq!(others.join("\n"), before, "nothing else in the checkout changed");

    let again = inspector.refused("apply", &[("run_id", run_id.clone())]);
    assert!(again.starts_with(&format!("cannot apply: run {run_id} was already applied")), "{again}");
    let listed = inspector.ok("list", &[]);
    assert_eq!(
        (listed["runs"][0]["run_id"].clone(), listed["runs"][0]["applied"].clone()),
        (json!(run_id), json!(true))
    );
}

#[test]
fn bad_packet_unknown_run_and_out_of_scope_apply_are_tool_errors() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let Some(inspector) = Inspector::new(&fx, &write_plan("src/outside.py")) else { return };

    let bad = "MODE: builder\nWORKDIR: .\nOBJECTIVE: o\nWRITE SCOPE:\n- tests/\nNON-GOALS: n\n\
               VERIFICATION: v\nDELIVERABLE: d\n";
    let text = inspector.refused("dispatch", &[("packet", bad.to_string())]);
    assert!(text.contains("line 1") && text.contains("MODE"), "field and line named: {text}");
    let missing = inspector.refused("dispatch", &[("packet", "MODE: worker\nWORKDIR: .\n".to_string())]);
    assert!(missing.contains("missing required field"), "{missing}");
    assert!(cli::run_dirs(&fx.repo).is_empty(), "a bad packet creates nothing");

    let unknown = inspector.refused("status", &[("run_id", "20990101-000000-worker-nope".to_string())]);
    assert!(unknown.contains("unknown run `20990101-000000-worker-nope`"), "{unknown}");

    let started = inspector.ok("dispatch", &[packet_arg(&packet)]);
    let run_id = started["run_id"].as_str().expect("run_id").to_string();
    let waited = inspector.wait_until_over(&run_id);
    assert_eq!((waited["exit_code"].clone(), waited["runs"][0]["offered"].clone()), (json!(3), json!(false)));
    let review = inspector.ok("review", &[("run_id", run_id.clone())]);
    assert_eq!(review["changes"][0]["in_scope"], json!(false), "{review}");
    assert_eq!(review["out_of_scope_changes"], json!(["src/outside.py"]));

    let before = tree_fingerprint(&fx.repo);
    let refused = inspector.refused("apply", &[("run_id", run_id.clone())]);
    assert!(refused.starts_with(&format!("cannot apply: run {run_id} was not offered")), "{refused}");
    assert_eq!(tree_fingerprint(&fx.repo), before, "a refused apply changes nothing");
    let cli_says = cli::run(&fx, &["apply", &run_id]);
    assert_eq!(cli::stderr(&cli_says).trim(), format!("error: {refused}"), "the same one line as the CLI");
}
