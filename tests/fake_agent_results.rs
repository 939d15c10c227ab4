//! How the fake agent ends a run in each style: the event framing, the structured result (codex
//! `-o` file, claude `structured_output`), `result_raw`, `no_result`, `exit`, `fail`, plus style
//! detection, `--version`, the root refusal and `record`.

#[path = "support/fake_agent.rs"]
mod fake_agent;
#[path = "support/scratch_repo.rs"]
mod scratch_repo;
#[path = "support/skip.rs"]
mod skip;

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use fake_agent::{collect, fake_agent_bin, run_claude, run_codex, write_plan};
use scratch_repo::ScratchRepo;

#[test]
fn codex_style_frames_the_turn_and_writes_the_result_to_the_output_file() {
    let repo = ScratchRepo::new();
    let value = json!({"result": "done", "summary": "s", "changed_files": ["x"]});
    let run = run_codex(&repo, &json!([{"step": "result", "value": value}]));
    assert_eq!(run.code(), Some(0));
    assert_eq!(run.event_types(), vec!["thread.started", "turn.started", "item.completed", "turn.completed"]);
    let events = run.events();
    assert_eq!(events[2]["item"]["type"], "agent_message");
    assert_eq!(events[2]["item"]["text"], value.to_string());
    assert_eq!(events[3]["usage"]["input_tokens"], 100);
    assert_eq!(run.result_file.as_deref(), Some(value.to_string().as_str()));
    assert_eq!(run.stderr, "Reading additional input from stdin...\n");
}

#[test]
fn claude_style_puts_the_result_in_structured_output() {
    let repo = ScratchRepo::new();
    let value = json!({"result": "done", "changed_files": []});
    let run = run_claude(&repo, &json!([{"step": "result", "value": value}]));
    assert_eq!(run.code(), Some(0));
    assert_eq!(run.event_types(), vec!["system", "assistant", "user", "result"]);
    let events = run.events();
    assert_eq!(events[0]["subtype"], "init");
    assert_eq!(events[0]["cwd"], repo.root.display().to_string());
    assert_eq!(events[1]["message"]["content"][0]["name"], "StructuredOutput");
    let result = run.last_event();
    assert_eq!(result["is_error"], false);
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["structured_output"], value);
    assert_eq!(result["result"], value.to_string());
    assert_eq!(run.stderr, "");
}

#[test]
fn claude_without_a_schema_has_no_structured_output_field() {
    let repo = ScratchRepo::new();
    let plan = write_plan(&repo.base(), &json!([]));
    let mut command = std::process::Command::new(fake_agent_bin());
    command
        .args(["-p", "hi", "--output-format", "stream-json", "--verbose"])
        .current_dir(&repo.root)
        .env("FAKE_AGENT_PLAN", &plan);
    let run = collect(&mut command, None);
    let result = run.last_event();
    assert_eq!(result["type"], "result");
    assert_eq!(result.get("structured_output"), None);
    let text: Value = serde_json::from_str(result["result"].as_str().unwrap()).unwrap();
    assert_eq!(text["result"], "done");
}

#[test]
fn result_raw_hands_back_text_that_is_not_json() {
    let repo = ScratchRepo::new();
    let steps = json!([{"step": "result_raw", "text": "all good, trust me"}]);
    let codex = run_codex(&repo, &steps);
    assert_eq!(codex.code(), Some(0));
    assert_eq!(codex.result_file.as_deref(), Some("all good, trust me"));
    let claude = run_claude(&repo, &steps);
    let result = claude.last_event();
    assert_eq!(result.get("structured_output"), None, "as the real claude: no field");
    assert_eq!(result["result"], "all good, trust me");
    assert_eq!(result["is_error"], false);
}

#[test]
fn no_result_leaves_an_empty_output_file_and_no_structured_output() {
    let repo = ScratchRepo::new();
    let steps = json!([{"step": "no_result"}]);
    let codex = run_codex(&repo, &steps);
    assert_eq!(codex.code(), Some(0));
    assert_eq!(codex.result_file.as_deref(), Some(""), "created empty at start, as codex does");
    assert_eq!(codex.event_types(), vec!["thread.started", "turn.started", "turn.completed"]);
    let claude = run_claude(&repo, &steps);
    assert_eq!(claude.code(), Some(0));
    assert_eq!(claude.event_types(), vec!["system", "result"]);
    assert_eq!(claude.last_event().get("structured_output"), None);
}

#[test]
fn a_null_result_value_gives_claude_a_null_structured_output() {
    let repo = ScratchRepo::new();
    let claude = run_claude(&repo, &json!([{"step": "result", "value": null}]));
    assert_eq!(claude.event_types(), vec!["system", "assistant", "result"]);
    assert_eq!(claude.last_event()["result"], "null");
    assert_eq!(claude.last_event().get("structured_output"), Some(&Value::Null));
}

#[test]
fn an_existing_output_file_is_replaced_by_a_result_and_kept_by_a_failure() {
    let repo = ScratchRepo::new();
    let stale = repo.base().join("result.json");
    let plan = write_plan(&repo.base(), &json!([{"step": "fail", "message": "boom"}]));
    std::fs::write(&stale, "stale").unwrap();
    let failed = collect(&mut fake_agent::codex_command(&repo.root, &plan, &stale), Some(&stale));
    assert_eq!(failed.result_file.as_deref(), Some("stale"));
    let plan = write_plan(&repo.base(), &json!([{"step": "result_raw", "text": "fresh"}]));
    let done = collect(&mut fake_agent::codex_command(&repo.root, &plan, &stale), Some(&stale));
    assert_eq!(done.result_file.as_deref(), Some("fresh"));
}

#[test]
fn exit_keeps_the_closing_events_unless_abrupt() {
    let repo = ScratchRepo::new();
    let run =
        run_codex(&repo, &json!([{"step": "exit", "code": 7}, {"step": "write", "path": "never", "content": ""}]));
    assert_eq!(run.code(), Some(7));
    assert_eq!(run.event_types().last().map(String::as_str), Some("turn.completed"));
    assert!(run.result_file.is_some());
    assert!(!repo.root.join("never").exists());

    let abrupt = run_codex(&repo, &json!([{"step": "exit", "code": 5, "abrupt": true}]));
    assert_eq!(abrupt.code(), Some(5));
    assert_eq!(abrupt.event_types(), vec!["thread.started", "turn.started"]);
    assert_eq!(abrupt.result_file.as_deref(), Some(""));
}

#[test]
fn fail_reports_a_failed_turn_in_each_style() {
    let repo = ScratchRepo::new();
    let steps = json!([{"step": "fail", "message": "mock model failure"}]);
    let codex = run_codex(&repo, &steps);
    assert_eq!(codex.code(), Some(1));
    assert_eq!(codex.result_file.as_deref(), Some(""));
    let events = codex.events();
    assert_eq!(events[2], json!({"type": "error", "message": "mock model failure"}));
    assert_eq!(events[3], json!({"type": "turn.failed", "error": {"message": "mock model failure"}}));

    let claude = run_claude(&repo, &steps);
    assert_eq!(claude.code(), Some(1));
    let result = claude.last_event();
    assert_eq!(result["is_error"], true);
    assert_eq!(result["result"], "mock model failure");
    assert_eq!(result.get("structured_output"), None);
}

#[test]
fn style_comes_from_the_environment_or_the_program_name_and_version_is_the_real_one() {
    let version = |style: Option<&str>, args: &[&str]| {
        let mut command = std::process::Command::new(fake_agent_bin());
        command.args(args).env_remove("FAKE_AGENT_STYLE");
        if let Some(style) = style {
            command.env("FAKE_AGENT_STYLE", style);
        }
        let output = command.output().unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
    };
    assert_eq!(version(Some("codex"), &["--version"]), (Some(0), "codex-cli 0.171.0\n".into()));
    assert_eq!(version(Some("claude"), &["--version"]), (Some(0), "2.1.332 (Claude Code)\n".into()));
    assert_eq!(version(None, &["exec", "--version"]), (Some(0), "codex-cli 0.171.0\n".into()));
    assert_eq!(version(None, &["--version"]).0, Some(2), "no way to tell the style");
    assert_eq!(version(Some("gemini"), &["--version"]).0, Some(2));
}

#[test]
fn a_bad_plan_exits_2_before_any_step_runs() {
    let repo = ScratchRepo::new();
    let run = run_codex(&repo, &json!([{"step": "write", "path": "x", "content": "1"}, {"step": "teleport"}]));
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr.contains("plan step 1 is invalid"), "stderr: {}", run.stderr);
    assert!(!repo.root.join("x").exists());
    assert!(run.stdout.is_empty());
}

#[test]
fn root_check_imitates_claudes_refusal_unless_is_sandbox() {
    if !skip::require_root("imitating claude's root refusal") {
        return;
    }
    let repo = ScratchRepo::new();
    let plan = write_plan(&repo.base(), &json!([]));
    let mut command = fake_agent::claude_command(&repo.root, &plan);
    command.env("FAKE_AGENT_ROOT_CHECK", "1").env_remove("IS_SANDBOX");
    let refused = collect(&mut command, None);
    assert_eq!(refused.code(), Some(1));
    assert_eq!(
        refused.stderr,
        "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
    );
    assert!(refused.stdout.is_empty());
    let allowed = collect(command.env("IS_SANDBOX", "1"), None);
    assert_eq!(allowed.code(), Some(0));
}

#[test]
fn record_writes_argv_cwd_style_and_chosen_environment() {
    let repo = ScratchRepo::new();
    let record_path = repo.base().join("record.json");
    let plan = write_plan(
        &repo.base(),
        &json!([{"step": "record", "path": record_path, "env": ["FAKE_TEST_VAR", "FAKE_UNSET_VAR"]}]),
    );
    let result_file = repo.base().join("out.json");
    let mut command = fake_agent::codex_command(&repo.root, &plan, &result_file);
    command.env("FAKE_TEST_VAR", "visible").env_remove("FAKE_UNSET_VAR");
    let run = collect(&mut command, None);
    assert_eq!(run.code(), Some(0));
    let record: Value = serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    assert_eq!(record["style"], "codex");
    assert_eq!(record["cwd"], repo.root.display().to_string());
    assert_eq!(record["prompt"], "the prompt");
    assert_eq!(record["schema_offered"], true);
    assert_eq!(record["argv"][1], "exec");
    assert_eq!(record["env"], json!({"FAKE_TEST_VAR": "visible", "FAKE_UNSET_VAR": null}));
    assert_eq!(record["ppid"], std::process::id());
}
