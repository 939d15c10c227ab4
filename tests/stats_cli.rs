//! `git dispatch stats` through the binary over real run folders made by the fake agent: an offered
//! run (then applied), an out-of-scope run, a run the watchdog killed, a dirty-overlap block, an
//! offered Claude-style run, and a copy of a run dated 2020. `--json` counts and sums match the
//! run folders; `--since`, `--agent` and `--mode` filter; `--csv` parses; damaged folders are
//! named as unreadable and the command still exits 0.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use support::cli::{self, dispatch, printed_run_dir, read_json, result_naming, stderr, stdout};
use support::fixtures::{fixture, Fixture};
use support::git::git;

/// The run folders made for the test, by role.
struct Runs {
    offered: PathBuf,
    out_of_scope: PathBuf,
    watchdog: PathBuf,
    blocked: PathBuf,
    claude: PathBuf,
    old: PathBuf,
}

fn id(dir: &Path) -> String {
    dir.file_name().expect("a run folder has a name").to_string_lossy().into_owned()
}

fn dispatched(fx: &Fixture, plan: &Value, extra: &[&str], code: i32) -> PathBuf {
    let packet = cli::tests_scope_packet(fx, "");
    let output = dispatch(fx, &packet, plan, extra);
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    printed_run_dir(&output)
}

/// Copies a run folder under a new id (for a run "from 2020" and for damaged folders).
fn copy_run(from: &Path, id: &str) -> PathBuf {
    let to = from.parent().expect("runs root").join(id);
    std::fs::create_dir(&to).expect("new run folder");
    for entry in std::fs::read_dir(from).expect("run folder") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
    to
}

fn make_runs(fx: &Fixture) -> Runs {
    let write = |path: &str| json!({"step": "write", "path": path, "content": "x\n"});
    let offered = dispatched(fx, &json!([write("tests/one.txt"), result_naming(&["tests/one.txt"])]), &[], 0);
    let out_of_scope = dispatched(fx, &json!([write("src/app/extra.py")]), &[], 3);
    let watchdog = dispatched(fx, &json!([{"step": "hang"}]), &["--heartbeat-sec", "1"], 3);
    fx.sh("echo '# dirty' >> tests/test_util.py");
    let blocked = dispatched(fx, &json!([]), &[], 2);
    git(&fx.repo, &["checkout", "-q", "--", "tests/test_util.py"]);
    let plan = json!([write("tests/two.txt"), result_naming(&["tests/two.txt"])]);
    let claude = dispatched(fx, &plan, &["--agent", "claude"], 0);
    let old = copy_run(&offered, "20200101-000000-worker-add-a-test");
    let mut record = read_json(&old.join("run.json"));
    record["started_at"] = json!("2020-01-01T00:00:00+00:00");
    std::fs::write(old.join("run.json"), record.to_string()).expect("rewrite run.json");
    let apply = cli::run(fx, &["apply", &id(&offered)]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    Runs { offered, out_of_scope, watchdog, blocked, claude, old }
}

fn stats(fx: &Fixture, args: &[&str]) -> Value {
    let output = cli::run(fx, &[&["stats", "--json"], args].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&output)))
}

/// The sum of `token_usage.<field>` over run folders.
fn token_sum(dirs: &[&PathBuf], field: &str) -> u64 {
    dirs.iter().map(|dir| read_json(&dir.join("run.json"))["token_usage"][field].as_u64().unwrap_or(0)).sum()
}

/// The total agent seconds recorded in `durations_ms.agent` of the run folders.
fn agent_seconds(dirs: &[&PathBuf]) -> f64 {
    dirs.iter().filter_map(|dir| read_json(&dir.join("run.json"))["durations_ms"]["agent"].as_u64()).sum::<u64>() as f64
        / 1000.0
}

#[test]
fn stats_add_up_the_run_folders() {
    let fx = fixture("python-project");
    let runs = make_runs(&fx);
    let all = [&runs.offered, &runs.out_of_scope, &runs.watchdog, &runs.blocked, &runs.claude, &runs.old];

    let total = stats(&fx, &[]);
    assert_eq!(total["runs"], 6, "{total:#}");
    assert_eq!(total["offered"], 3);
    assert_eq!(total["applied"], 1);
    assert_eq!(total["exit_codes"], json!({"0": 3, "2": 1, "3": 2}));
    assert_eq!(total["violations"], json!({"dirty_overlap": 1, "out_of_scope": 1, "watchdog": 1}), "{total:#}");
    assert_eq!(total["tokens"]["input"], token_sum(&all, "input_tokens"));
    assert_eq!(total["tokens"]["output"], token_sum(&all, "output_tokens"));
    assert_eq!(total["tokens"]["cached"], token_sum(&all, "cached_input_tokens"));
    assert_eq!(total["tokens"], json!({"input": 400, "output": 80, "cached": 0, "reasoning": 0}));
    assert!(read_json(&runs.watchdog.join("run.json"))["token_usage"].is_object(), "recorded for a killed agent");
    // Every run but the blocked one ran the agent; every run has git-dispatch's own stages.
    assert_eq!(total["duration_s"]["agent"]["runs"], 5);
    assert_eq!(total["duration_s"]["overhead"]["runs"], 6);
    let agent_total = total["duration_s"]["agent"]["total"].as_f64().expect("a number");
    assert!((agent_total - agent_seconds(&all)).abs() < 0.002, "{agent_total} vs {}", agent_seconds(&all));
    for dir in &all[..5] {
        assert!(read_json(&dir.join("run.json"))["durations_ms"]["artifacts"].is_u64(), "the closing stage is timed");
    }
    let watchdog_s = read_json(&runs.watchdog.join("run.json"))["durations_ms"]["agent"].as_u64().expect("ms");
    assert!(watchdog_s >= 1000, "the heartbeat of 1 s ran out first: {watchdog_s} ms");
    let p90 = total["duration_s"]["agent"]["p90"].as_f64().expect("p90");
    assert_eq!(p90, watchdog_s as f64 / 1000.0, "the slowest of five is the p90 (nearest rank)");
    assert!(total["duration_s"]["agent"]["median"].as_f64().expect("median") <= p90);
    assert_eq!(total["by_agent"]["codex"]["runs"], 5);
    assert_eq!(total["by_agent"]["claude"]["runs"], 1);
    assert_eq!(total["by_agent"]["claude"]["tokens"], json!({"input": 100, "output": 20, "cached": 0, "reasoning": 0}));
    assert_eq!(total["by_mode"]["worker"]["runs"], 6);
    assert_eq!((total["dry_runs"].clone(), total["unfinished"].clone()), (json!(0), json!([])));
    assert_eq!(total["unreadable"], json!([]));

    let claude = stats(&fx, &["--agent", "claude"]);
    assert_eq!((claude["runs"].clone(), claude["offered"].clone()), (json!(1), json!(1)), "{claude:#}");
    assert_eq!(claude["by_agent"].as_object().expect("map").keys().collect::<Vec<_>>(), ["claude"]);
    let recent = stats(&fx, &["--since", "1d"]);
    assert_eq!((recent["runs"].clone(), recent["offered"].clone()), (json!(5), json!(2)), "the 2020 run is left out");
    assert_eq!(stats(&fx, &["--since", "2019-12-31"])["runs"], 6);
    assert_eq!(stats(&fx, &["--mode", "reviewer"])["runs"], 0);
    assert_eq!(stats(&fx, &["--output-dir", fx.repo.join(".codex-dispatch/runs").to_str().expect("utf-8")])["runs"], 6);

    let table = cli::run(&fx, &["stats"]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.contains("runs 6  offered 3  applied 1  dry runs 0  unfinished 0  unreadable 0"), "{text}");
    assert!(text.lines().any(|line| line.trim_start().starts_with("out_of_scope") && line.ends_with(" 1")), "{text}");
    assert!(text.lines().any(|line| line.starts_with("agent claude ")), "{text}");

    check_csv(&fx, &all);
    check_damaged(&fx, &runs);
}

/// RFC 4180 fields of one line (enough for the quoted fields git-dispatch writes).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn check_csv(fx: &Fixture, all: &[&PathBuf]) {
    let output = cli::run(fx, &["stats", "--csv"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let rows: Vec<Vec<String>> = text.lines().map(csv_fields).collect();
    let header = &rows[0];
    assert_eq!(header[..3], ["run_id", "started_at", "agent"], "{text}");
    assert!(rows.iter().all(|row| row.len() == header.len()), "{text}");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let ids: BTreeSet<&str> = rows[1..].iter().map(|row| row[column("run_id")].as_str()).collect();
    let expected: BTreeSet<String> = all.iter().map(|dir| id(dir)).collect();
    assert_eq!(ids, expected.iter().map(String::as_str).collect());
    let input: u64 = rows[1..].iter().map(|row| row[column("input_tokens")].parse::<u64>().expect("a number")).sum();
    assert_eq!(input, 400);
    let watchdog = rows.iter().find(|row| row[column("violations")] == "watchdog").expect("a watchdog row");
    assert_eq!((watchdog[column("exit_code")].as_str(), watchdog[column("offered")].as_str()), ("3", "false"));
    assert_eq!(rows[1][column("run_id")], "20200101-000000-worker-add-a-test", "oldest first");
}

fn check_damaged(fx: &Fixture, runs: &Runs) {
    let garbled = copy_run(&runs.claude, &format!("{}-garbled", id(&runs.claude)));
    std::fs::write(garbled.join("policy.json"), "{\"offered\": tr").expect("garble policy.json");
    let no_record = copy_run(&runs.out_of_scope, &format!("{}-norecord", id(&runs.out_of_scope)));
    std::fs::remove_file(no_record.join("run.json")).expect("remove run.json");
    let output = cli::run(fx, &["stats", "--json"]);
    assert_eq!(output.status.code(), Some(0), "damaged folders are not fatal: {}", stderr(&output));
    let damaged: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(damaged["runs"], 6, "{damaged:#}");
    let unreadable = damaged["unreadable"].as_array().expect("a list");
    let named: Vec<&str> = unreadable.iter().map(|run| run["run_id"].as_str().expect("id")).collect();
    assert_eq!(named.len(), 2, "{damaged:#}");
    assert!(named.contains(&id(&garbled).as_str()) && named.contains(&id(&no_record).as_str()), "{named:?}");
    for run in unreadable {
        let problem = run["problem"].as_str().expect("problem");
        assert!(problem.contains("policy.json is not valid JSON") || problem.contains("cannot read"), "{problem}");
    }
    assert!(
        stderr(&output).contains(&format!("warning: run {} cannot be read: ", id(&garbled))),
        "{}",
        stderr(&output)
    );
    let table = stdout(&cli::run(fx, &["stats"]));
    assert!(table.contains("unreadable 2") && table.contains(&format!("  {}: ", id(&no_record))), "{table}");
}

#[test]
fn no_runs_yet_is_zero_and_bad_filters_exit_1() {
    let fx = fixture("python-project");
    let empty = stats(&fx, &[]);
    assert_eq!((empty["runs"].clone(), empty["tokens"]["input"].clone()), (json!(0), json!(0)), "{empty:#}");
    assert_eq!(empty["duration_s"]["agent"], json!({"runs": 0, "median": null, "p90": null, "total": 0.0}));
    for (args, message) in [
        (&["--since", "yesterday"][..], "error: --since: expected a duration"),
        (&["--mode", "boss"][..], "error: --mode: `boss` is not a mode"),
        (&["--json", "--csv"][..], "cannot be used with"),
    ] {
        let output = cli::run(&fx, &[&["stats"], args].concat());
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(stderr(&output).contains(message), "{args:?}: {}", stderr(&output));
    }
}
