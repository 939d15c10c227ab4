//! The runner with fake Codex agents (`sh` scripts printing captured Codex streams): the exact
//! command line, events.jsonl and stderr.txt, usage, commands, errors, and every way the result
//! can be missing or unusable.

mod agent_support;

use std::time::Duration;

use agent_support::{data, Fixture};
use git_dispatch::agent::{self, AgentKind, StructuredResult};
use pretty_assertions::assert_eq;
use serde_json::json;

const VALID_RESULT: &str = r#"{"result":"done","summary":"created hello.txt","changed_files":["hello.txt"]}"#;

fn blocked_reason(result: &StructuredResult) -> &str {
    match result {
        StructuredResult::Blocked { reason } => reason,
        StructuredResult::Valid(value) => panic!("unexpectedly valid: {value}"),
    }
}

/// A Codex that prints `stream` (a captured file), says its stdin line on stderr, writes
/// `result` (if any) to the `-o` file and exits with `code`.
fn codex(fixture: &Fixture, stream: &str, result: Option<&str>, code: i32) -> std::path::PathBuf {
    let write_result = match result {
        Some(text) => format!("printf '%s' '{text}' > \"$RESULT_FILE\""),
        None => String::new(),
    };
    fixture.agent(
        "codex",
        "codex-cli 0.171.0",
        &format!(
            "echo 'Reading additional input from stdin...' >&2\n\
             cat \"$DATA/{stream}\"\n{write_result}\nexit {code}"
        ),
    )
}

#[test]
fn a_successful_run_is_recorded_in_full() {
    let fixture = Fixture::new();
    let program = codex(&fixture, "codex-events-schema.jsonl", Some(VALID_RESULT), 0);
    let report = agent::run(&fixture.request(AgentKind::Codex, &program)).expect("run");

    let run_dir = fixture.run_dir.display().to_string();
    let worktree = fixture.worktree.display().to_string();
    let expected_args = [
        "exec",
        "--json",
        "--dangerously-bypass-approvals-and-sandbox",
        "-C",
        &worktree,
        "--output-schema",
        &format!("{run_dir}/result.schema.json"),
        "-o",
        &format!("{run_dir}/result.json"),
        "Do the task.\nReturn JSON.",
    ];
    assert_eq!(fixture.recorded_argv(), expected_args);
    let mut expected_argv = vec![program.display().to_string()];
    expected_argv.extend(expected_args.iter().map(|arg| arg.to_string()));
    assert_eq!(report.argv, expected_argv);
    assert_eq!(report.version.as_deref(), Some("codex-cli 0.171.0"));
    assert_eq!(report.exit_code, Some(0));
    assert!(report.exited_cleanly());
    assert!(!report.watchdog_killed);
    assert_eq!(report.watchdog_reason, None);
    assert!(!report.interrupted);
    assert_eq!(
        report.result,
        StructuredResult::Valid(
            json!({"result": "done", "summary": "created hello.txt", "changed_files": ["hello.txt"]})
        )
    );
    assert_eq!((report.usage.input_tokens, report.usage.cached_input_tokens), (300, 30));
    assert_eq!((report.usage.output_tokens, report.usage.reasoning_output_tokens), (60, 15));
    assert_eq!(report.commands, ["printf 'hello from exec_command\\\\n' > hello.txt && cat hello.txt"]);
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(fixture.read_run_file("events.jsonl"), data("codex-events-schema.jsonl"));
    assert_eq!(fixture.read_run_file("stderr.txt"), "Reading additional input from stdin...\n");
    assert_eq!(fixture.read_run_file("result.json"), VALID_RESULT);
    assert!(!fixture.run_dir.join("result.raw.txt").exists());
    assert!(report.ended_at >= report.started_at);
    let summary = report.summary_line();
    assert!(summary.starts_with("codex: exited 0 after "), "{summary}");
    assert!(summary.ends_with("s, 360 tokens, 1 command"), "{summary}");
}

#[test]
fn a_stale_result_from_an_earlier_run_is_removed_first() {
    let fixture = Fixture::new();
    std::fs::write(fixture.run_dir.join("result.json"), VALID_RESULT).expect("stale result");
    let program = codex(&fixture, "codex-events.jsonl", None, 0);
    let report = agent::run(&fixture.request(AgentKind::Codex, &program)).expect("run");
    assert_eq!(blocked_reason(&report.result), "the agent gave no result");
    assert_eq!(
        fixture.result_json(),
        json!({"result": "blocked", "summary": "the agent gave no result", "changed_files": [],
               "verification_run": [], "evidence": [], "findings": [], "risks": [], "next": ""})
    );
}

#[test]
fn an_empty_result_is_blocked() {
    let fixture = Fixture::new();
    let program = codex(&fixture, "codex-events.jsonl", Some(""), 0);
    let report = agent::run(&fixture.request(AgentKind::Codex, &program)).expect("run");
    assert_eq!(blocked_reason(&report.result), "the agent's result is empty");
    assert_eq!(fixture.result_json()["result"], "blocked");
}

#[test]
fn a_prose_result_is_blocked_and_kept_raw() {
    let fixture = Fixture::new();
    let prose = "All done: created hello.txt and notes.md.";
    let program = codex(&fixture, "codex-events.jsonl", Some(prose), 0);
    let report = agent::run(&fixture.request(AgentKind::Codex, &program)).expect("run");
    assert_eq!(blocked_reason(&report.result), "the agent's result is not JSON (expected value at line 1 column 1)");
    assert_eq!(report.exit_code, Some(0));
    assert_eq!(fixture.read_run_file("result.raw.txt"), prose);
    assert_eq!(fixture.result_json()["summary"], "the agent's result is not JSON (expected value at line 1 column 1)");
}

#[test]
fn a_failed_turn_reports_its_error() {
    let fixture = Fixture::new();
    let program = codex(&fixture, "codex-events-failed.jsonl", None, 1);
    let report = agent::run(&fixture.request(AgentKind::Codex, &program)).expect("run");
    let message = "stream disconnected before completion: mock model failure";
    assert_eq!(report.exit_code, Some(1));
    assert!(!report.exited_cleanly());
    assert_eq!(report.errors, [message]);
    assert_eq!(blocked_reason(&report.result), format!("the agent gave no result: {message}"));
    assert_eq!(report.usage.total(), 0);
}

#[test]
fn the_hard_timeout_stops_the_agent() {
    let fixture = Fixture::new();
    let program = fixture.agent(
        "codex",
        "codex-cli 0.171.0",
        "echo '{\"type\":\"turn.started\"}'; while true; do echo '{\"type\":\"tick\"}'; sleep 0.2; done",
    );
    let mut request = fixture.request(AgentKind::Codex, &program);
    request.timeout = Duration::from_secs(1);
    let report = agent::run(&request).expect("run");
    assert!(report.watchdog_killed);
    assert_eq!(report.watchdog_reason.as_deref(), Some("hard timeout (1s)"));
    assert!(!report.interrupted);
    assert_eq!(report.exit_code, None);
    assert_eq!(report.signal, Some(15));
    assert_eq!(blocked_reason(&report.result), "the agent was stopped before it gave a result: hard timeout (1s)");
    assert!(report.duration < Duration::from_secs(5), "{:?}", report.duration);
}

#[test]
fn the_heartbeat_stops_a_silent_agent() {
    let fixture = Fixture::new();
    let program = fixture.agent(
        "codex",
        "codex-cli 0.171.0",
        "echo '{\"type\":\"turn.started\"}'; echo 'Reconnecting... 1/5' >&2; sleep 1000",
    );
    let mut request = fixture.request(AgentKind::Codex, &program);
    request.heartbeat = Duration::from_secs(1);
    let report = agent::run(&request).expect("run");
    assert!(report.watchdog_killed);
    assert_eq!(report.watchdog_reason.as_deref(), Some("heartbeat stall (1s without stdout)"));
    assert_eq!(fixture.read_run_file("stderr.txt"), "Reconnecting... 1/5\n");
    assert_eq!(fixture.read_run_file("events.jsonl"), "{\"type\":\"turn.started\"}\n");
}

#[test]
fn events_are_visible_in_the_run_folder_while_the_agent_runs() {
    let fixture = Fixture::new();
    let go = fixture.dir.path().join("go");
    let program = fixture.agent(
        "codex",
        "codex-cli 0.171.0",
        &format!(
            "echo '{{\"type\":\"thread.started\",\"thread_id\":\"t1\"}}'\n\
             while [ ! -e '{go}' ]; do sleep 0.05; done\n\
             echo '{{\"type\":\"turn.started\"}}'",
            go = go.display()
        ),
    );
    let events_path = fixture.run_dir.join("events.jsonl");
    std::thread::scope(|scope| {
        let running = scope.spawn(|| agent::run(&fixture.request(AgentKind::Codex, &program)));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut seen = String::new();
        while std::time::Instant::now() < deadline {
            seen = std::fs::read_to_string(&events_path).unwrap_or_default();
            if !seen.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(seen, "{\"type\":\"thread.started\",\"thread_id\":\"t1\"}\n");
        std::fs::write(&go, "").expect("go file");
        let report = running.join().expect("runner thread").expect("run");
        assert_eq!(report.exit_code, Some(0));
    });
    assert_eq!(
        fixture.read_run_file("events.jsonl"),
        "{\"type\":\"thread.started\",\"thread_id\":\"t1\"}\n{\"type\":\"turn.started\"}\n"
    );
}

#[test]
fn a_background_process_of_the_agent_is_dead_afterwards() {
    let fixture = Fixture::new();
    let pid_file = fixture.dir.path().join("pid");
    let program = fixture.agent(
        "codex",
        "codex-cli 0.171.0",
        &format!(
            "sleep 1000 & echo $! > '{}'\ncat \"$DATA/codex-events.jsonl\"\nprintf '%s' '{VALID_RESULT}' > \"$RESULT_FILE\"",
            pid_file.display()
        ),
    );
    let report = agent::run(&fixture.request(AgentKind::Codex, &program)).expect("run");
    assert_eq!(report.exit_code, Some(0));
    let pid: u32 = std::fs::read_to_string(&pid_file).expect("pid file").trim().parse().expect("a pid");
    assert!(agent_support::wait_dead(pid), "background process {pid} survived");
}

#[test]
fn wrapper_and_extra_env_reach_the_agent() {
    let fixture = Fixture::new();
    let seen = fixture.dir.path().join("seen");
    let program =
        fixture.agent("codex", "codex-cli 0.171.0", &format!("echo \"$WRAPPED $EXTRA\" > '{}'", seen.display()));
    let mut request = fixture.request(AgentKind::Codex, &program);
    request.wrapper = vec!["env".into(), "WRAPPED=yes".into()];
    request.extra_env = vec![("EXTRA".into(), "also".into())];
    let report = agent::run(&request).expect("run");
    assert_eq!(std::fs::read_to_string(&seen).expect("seen"), "yes also\n");
    assert_eq!(report.argv[..3], ["env", "WRAPPED=yes", &program.display().to_string()]);
}

#[test]
fn a_version_probe_that_fails_is_tolerated() {
    let fixture = Fixture::new();
    let program = fixture.agent("codex", "unused", "exit 0");
    let script = std::fs::read_to_string(&program).expect("script");
    std::fs::write(&program, script.replace("echo 'unused'; exit 0", "exit 9")).expect("rewrite");
    let report = agent::run(&fixture.request(AgentKind::Codex, &program)).expect("run");
    assert_eq!(report.version, None);
    assert_eq!(report.exit_code, Some(0));
}

#[test]
fn a_program_that_cannot_start_is_an_error() {
    let fixture = Fixture::new();
    let missing = fixture.dir.path().join("no-such-codex");
    let error = agent::run(&fixture.request(AgentKind::Codex, &missing)).expect_err("cannot start");
    assert!(format!("{error:#}").contains("no-such-codex"), "{error:#}");
}
