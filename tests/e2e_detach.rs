//! End to end: detached runs (`run --detach`) and the commands that follow them (`status`,
//! `wait`, `cancel`, `list`, `review`), with the fake agent on fixture repositories. A detached run
//! outlives the caller's process group and session; `wait` returns the run's own exit code, 4 on
//! timeout; `cancel` stops the agent's whole tree; a supervisor killed by SIGKILL is `died` and
//! `clean --recover` leaves nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use support::cli::{self, read_json, stderr, stdout, tests_scope_packet, user_visible, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::{git, tree_fingerprint};
use support::procs;

/// Generous bound for a detached run of a few seconds to end on a loaded machine.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn with_plan(fx: &Fixture, plan: &Value) -> Command {
    cli::command_with_plan(fx, plan)
}

fn output_of(command: &mut Command) -> Output {
    command.output().expect("git-dispatch can be spawned")
}

/// `run --detach --json --task PACKET...` with the plan; returns the run folders it printed.
fn detach(fx: &Fixture, plan: &Value, packets: &[&Path], extra: &[&str]) -> Vec<PathBuf> {
    let out =
        output_of(with_plan(fx, plan).args(["run", "--detach", "--json"]).args(extra).arg("--task").args(packets));
    assert_eq!(out.status.code(), Some(0), "detach: {}", stderr(&out));
    let lines: Vec<Value> = stdout(&out).lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    assert_eq!(lines.len(), packets.len(), "one line per run: {}", stdout(&out));
    lines
        .iter()
        .map(|line| {
            for field in ["run_id", "run_dir", "state"] {
                assert!(line.get(field).is_some(), "{field} in {line}");
            }
            PathBuf::from(line["run_dir"].as_str().expect("run_dir"))
        })
        .collect()
}

fn id(run_dir: &Path) -> String {
    run_dir.file_name().expect("run id").to_string_lossy().into_owned()
}

fn gd(fx: &Fixture, args: &[&str]) -> Output {
    cli::run(fx, args)
}

fn state_of(run_dir: &Path) -> Value {
    read_json(&run_dir.join("state.json"))
}

/// A plan that takes `ms`, then writes `path` (in scope for the tests-scope packet or not).
fn slow_write(ms: u64, path: &str) -> Value {
    json!([
        {"step": "sleep", "ms": ms},
        {"step": "write", "path": path, "content": "x = 1\n"},
    ])
}

fn wait_code(fx: &Fixture, run_dir: &Path) -> i32 {
    let out = gd(fx, &["wait", "--timeout", &RUN_LIMIT.as_secs().to_string(), &id(run_dir)]);
    out.status.code().expect("exit code")
}

#[test]
fn a_detached_run_outlives_its_callers_group_and_session() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let before = user_visible(&tree_fingerprint(&fx.repo));
    // The caller is a shell in a session and process group of its own (as Claude Code's Bash tool
    // runs commands); it detaches the run, then lingers until the whole group is SIGKILLed.
    let printed = fx.root.join("detach-out.txt");
    let template = with_plan(&fx, &slow_write(4000, "tests/test_detached.py"));
    let script = format!(
        "{} run --detach --task {} > {}; exec sleep 60",
        cli::binary().display(),
        packet.display(),
        printed.display()
    );
    let mut caller = Command::new("setsid");
    caller.env_clear().args(["sh", "-c", &script]);
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            caller.env(key, value);
        }
    }
    let started = Instant::now();
    let mut caller = caller.current_dir(&fx.repo).stdin(Stdio::null()).spawn().expect("setsid sh");
    assert!(procs::wait_for_file(&printed, RUN_LIMIT, |text| text.ends_with('\n')), "the run folder is printed");
    let returned_after = started.elapsed();
    let run_dir = PathBuf::from(std::fs::read_to_string(&printed).expect("printed").trim());
    assert!(
        !state_of(&run_dir)["state"].as_str().expect("state").starts_with("fin"),
        "returned before the agent ended"
    );
    assert!(returned_after < Duration::from_secs(4), "detach returns at once ({returned_after:?})");

    // Kill the caller's whole group (= its session: setsid made the shell both leaders).
    let group = nix::unistd::Pid::from_raw(caller.id() as i32);
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL).expect("kill the caller's group");
    let _ = caller.wait();

    assert_eq!(wait_code(&fx, &run_dir), 0, "the run went on and was offered");
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(
        (policy["offered"].clone(), policy["changed_paths"].clone()),
        (json!(true), json!(["tests/test_detached.py"]))
    );
    let state = state_of(&run_dir);
    assert_eq!(
        (state["state"].clone(), state["exit_code"].clone(), state["detached"].clone()),
        (json!("finished"), json!(0), json!(true))
    );
    assert!(run_dir.join("supervisor.log").exists());
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), before, "the checkout is untouched");
}

#[test]
fn wait_times_out_with_4_then_returns_the_runs_own_code() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let offered = detach(&fx, &slow_write(2500, "tests/test_wait.py"), &[&packet], &[])[0].clone();
    let early = gd(&fx, &["wait", "--timeout", "0.5", &id(&offered)]);
    assert_eq!(early.status.code(), Some(4), "still running: {}", stderr(&early));
    assert!(stdout(&early).is_empty(), "no run folder while it runs: {}", stdout(&early));
    assert!(stderr(&early).contains("still going"), "{}", stderr(&early));
    let status = gd(&fx, &["status", "--json", &id(&offered)]);
    let views: Value = serde_json::from_slice(&status.stdout).expect("status --json");
    assert_eq!(views[0]["state"], json!("running"), "{views}");
    for field in ["stage", "activity", "elapsed_s", "pid"] {
        assert!(views[0].get(field).is_some(), "{field} in {views}");
    }
    for command in ["review", "show"] {
        let shown = gd(&fx, &[command, &id(&offered)]);
        assert!(stdout(&shown).contains("is running"), "{command}: {}", stdout(&shown));
    }
    let list = stdout(&gd(&fx, &["list"]));
    assert!(list.lines().nth(1).is_some_and(|line| line.contains("running")), "{list}");

    let done = gd(&fx, &["wait", "--json", &id(&offered)]);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let summary: Value = serde_json::from_slice(&done.stdout).expect("wait --json");
    assert_eq!((summary["state"].clone(), summary["offered"].clone()), (json!("finished"), json!(true)), "{summary}");

    // Out of scope: 3. A finished run waited again: the same code, at once.
    let outside = detach(&fx, &slow_write(300, "src/outside.py"), &[&packet], &[])[0].clone();
    assert_eq!(wait_code(&fx, &outside), 3);
    let again = Instant::now();
    assert_eq!(wait_code(&fx, &outside), 3);
    assert!(again.elapsed() < Duration::from_secs(2));

    // Blocked by dirty overlap: 2.
    std::fs::write(fx.repo.join("tests/test_dirty.py"), "dirty = True\n").expect("dirty file");
    let blocked = detach(&fx, &slow_write(0, "tests/test_dirty.py"), &[&packet], &[])[0].clone();
    assert_eq!(wait_code(&fx, &blocked), 2);
}

#[test]
fn cancel_stops_the_agents_whole_tree_and_records_cancelled() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let pids = procs::pidfile(&fx.root, "child");
    let plan = json!([
        {"step": "spawn_child", "sleep_secs": 120, "pidfile": pids, "stdio": "null"},
        {"step": "hang"},
    ]);
    let run_dir = detach(&fx, &plan, &[&packet], &[])[0].clone();
    assert!(procs::wait_for_file(&pids, RUN_LIMIT, |text| !text.trim().is_empty()), "the agent's child runs");
    let agent_child = procs::read_pids(&pids);

    let cancelled = gd(&fx, &["cancel", &id(&run_dir)]);
    assert_eq!(cancelled.status.code(), Some(0), "{}", stderr(&cancelled));
    assert!(stdout(&cancelled).contains("cancelled"), "{}", stdout(&cancelled));
    assert_eq!(procs::wait_all_dead(&agent_child, Duration::from_secs(3)), Vec::<i32>::new(), "the child is gone");
    assert_eq!(procs::wait_none_working_below(&fx.worktrees_root(), Duration::from_secs(3)), vec![]);
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(
        (policy["exit_code"].clone(), policy["cancelled"].clone(), policy["result"].clone(), policy["offered"].clone()),
        (json!(3), json!(true), json!("cancelled"), json!(false))
    );
    assert_eq!(read_json(&run_dir.join("result.json"))["result"], json!("cancelled"));
    assert_eq!(state_of(&run_dir)["state"], json!("cancelled"));
    assert!(git(&fx.repo, &["branch", "--list", "dispatch/*"]).trim().is_empty(), "the branch is deleted");
    assert!(!Path::new(&read_json(&run_dir.join("run.json"))["worktree"].as_str().expect("worktree")).exists());

    let twice = gd(&fx, &["cancel", &id(&run_dir)]);
    assert_eq!(twice.status.code(), Some(0), "{}", stderr(&twice));
    assert!(stdout(&twice).contains("already cancelled"), "{}", stdout(&twice));
    assert_eq!(wait_code(&fx, &run_dir), 3);
}

#[test]
fn a_killed_supervisor_is_died_and_recovery_leaves_nothing() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let pids = procs::pidfile(&fx.root, "agent");
    let plan = json!([{"step": "record", "path": pids.with_extension("json")}, {"step": "hang"}]);
    let run_dir = detach(&fx, &plan, &[&packet], &[])[0].clone();
    assert!(procs::wait_for_file(&pids.with_extension("json"), RUN_LIMIT, |text| text.trim_end().ends_with('}')));
    let supervisor = state_of(&run_dir)["pid"].as_i64().expect("supervisor pid") as i32;
    procs::kill(supervisor);
    assert_eq!(procs::wait_all_dead(&[supervisor], Duration::from_secs(5)), Vec::<i32>::new());

    let status = gd(&fx, &["status", "--json", &id(&run_dir)]);
    let views: Value = serde_json::from_slice(&status.stdout).expect("status --json");
    assert_eq!(views[0]["state"], json!("died"), "{views}");
    assert_eq!(wait_code(&fx, &run_dir), 3, "a died run counts as failed");

    let recover = gd(&fx, &["clean", "--recover"]);
    assert_eq!(recover.status.code(), Some(0), "{}", stderr(&recover));
    assert_eq!(procs::wait_none_working_below(&fx.worktrees_root(), Duration::from_secs(3)), vec![]);
    assert_eq!(git(&fx.repo, &["worktree", "list", "--porcelain"]).matches("worktree ").count(), 1);
    assert!(git(&fx.repo, &["branch", "--list", "dispatch/*"]).trim().is_empty());
}

#[test]
fn parallel_detached_runs_and_wait_any() {
    let fx = fixture("python-project");
    let packet = |name: &str| {
        let text = std::fs::read_to_string(tests_scope_packet(&fx, "")).expect("packet");
        write_packet(
            &fx,
            &format!("{name}.md"),
            &text.replace("OBJECTIVE: Add a test.", &format!("OBJECTIVE: Packet {name}.")),
        )
    };
    let (a, b, c) = (packet("quick"), packet("slow1"), packet("slow2"));
    // The worktree path holds the run id, which holds the objective's slug.
    let plan = json!([
        {"step": "shell", "cmd": "case \"$PWD\" in *packet-quick*) ;; *) sleep 4 ;; esac"},
        {"step": "write", "path": "tests/test_par.py", "content": "p = 1\n"},
    ]);
    let runs = detach(&fx, &plan, &[&a, &b, &c], &["-j", "3"]);
    let ids: Vec<String> = runs.iter().map(|run| id(run)).collect();
    let mut args = vec!["wait", "--any", "--timeout", "60"];
    args.extend(ids.iter().map(String::as_str));
    let first = gd(&fx, &args);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(stdout(&first).trim(), runs[0].display().to_string(), "the quick one finished first");
    let states: Vec<String> =
        runs.iter().map(|run| state_of(run)["state"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(states[0], "finished");
    assert!(states[1..].iter().any(|state| state != "finished"), "the slow ones are still going: {states:?}");
    let mut all = vec!["wait", "--timeout", "60"];
    all.extend(ids.iter().map(String::as_str));
    assert_eq!(gd(&fx, &all).status.code(), Some(0));
}

#[test]
fn bad_input_to_the_job_commands() {
    let fx = fixture("python-project");
    for command in ["status", "wait", "cancel"] {
        let out = gd(&fx, &[command, "no-such-run"]);
        assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
        assert!(stderr(&out).contains("unknown run `no-such-run`"), "{command}: {}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "one line: {}", stderr(&out));
    }
    // A bad packet with --detach: the same one-line error as in the foreground, nothing created.
    let bad = write_packet(&fx, "bad.md", "MODE: worker\n");
    let out = output_of(with_plan(&fx, &json!([])).args(["run", "--detach", "--task"]).arg(&bad));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing required field"), "{}", stderr(&out));
    assert!(!fx.repo.join(".codex-dispatch").exists(), "no run folder");
}

#[test]
fn wait_takes_a_run_folder_of_another_repository_by_path() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let run_dir = detach(&fx, &slow_write(200, "tests/test_path.py"), &[&packet], &[])[0].clone();
    let elsewhere = fixture("python-project");
    let out = cli::command(&elsewhere).args(["wait", "--timeout", "60"]).arg(&run_dir).output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), run_dir.display().to_string());
}

#[test]
fn a_queued_run_is_cancelled_at_once_and_never_started() {
    let fx = fixture("python-project");
    let packet = tests_scope_packet(&fx, "");
    let second = write_packet(&fx, "second.md", &std::fs::read_to_string(&packet).expect("packet"));
    let marker = fx.root.join("started-runs");
    let plan = json!([
        {"step": "shell", "cmd": format!("echo \"$PWD\" >> {}", marker.display())},
        {"step": "sleep", "ms": 2500},
        {"step": "write", "path": "tests/test_q.py", "content": "q = 1\n"},
    ]);
    let runs = detach(&fx, &plan, &[&packet, &second], &["-j", "1"]);
    assert!(procs::wait_for_file(&marker, RUN_LIMIT, |text| !text.is_empty()), "the first run's agent started");
    assert_eq!(state_of(&runs[1])["state"], json!("queued"));
    let started = Instant::now();
    let cancelled = gd(&fx, &["cancel", &id(&runs[1])]);
    assert_eq!(cancelled.status.code(), Some(0), "{}", stderr(&cancelled));
    assert!(started.elapsed() < Duration::from_secs(2), "not waiting for the first run: {:?}", started.elapsed());
    assert_eq!(state_of(&runs[1])["state"], json!("cancelled"));
    assert_eq!(read_json(&runs[1].join("policy.json"))["exit_code"], json!(3));
    let mut args = vec!["wait", "--timeout", "60"];
    let ids: Vec<String> = runs.iter().map(|run| id(run)).collect();
    args.extend(ids.iter().map(String::as_str));
    assert_eq!(gd(&fx, &args).status.code(), Some(3), "the highest of 0 and 3");
    assert_eq!(read_json(&runs[0].join("policy.json"))["offered"], json!(true));
    let agents = std::fs::read_to_string(&marker).expect("marker");
    assert_eq!(agents.lines().count(), 1, "the cancelled run's agent never started: {agents}");
}
