//! End to end through the binary: best of N. `run --attempts N` (and the packet's `ATTEMPTS:`)
//! dispatches one packet N times at once, each attempt in its own worktree and run folder, under
//! one group id; the fake agent tells the attempts apart by `GIT_DISPATCH_ATTEMPT`. `review GROUP`
//! ranks them, `apply GROUP --pick RUN` (or `apply RUN` of one attempt) applies one and supersedes
//! the others, which cannot be applied afterwards; `list`, `status`, `wait` and `clean` know groups.

mod support;

use std::path::PathBuf;

use serde_json::json;
use support::cli::{command_with_plan, read_json, run, stderr, stdout, worker_packet, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::{git, tree_fingerprint};

fn id_of(run_dir: &std::path::Path) -> String {
    run_dir.file_name().expect("id").to_string_lossy().into_owned()
}

/// A worker packet (scope `tests/`) whose VERIFICATION passes when tests/attempt.txt says `good`.
fn packet(fx: &Fixture, extra: &str) -> PathBuf {
    let text = worker_packet(&fx.repo, "- tests/")
        .replace("VERIFICATION:\n- python3 -m pytest -q tests\n", "VERIFICATION:\n- grep -qx good tests/attempt.txt\n");
    write_packet(fx, "task.md", &format!("{text}{extra}"))
}

/// The fake agent's plan: a shell step that does what `cases` says for each attempt number.
fn per_attempt(cases: &str) -> serde_json::Value {
    json!([{"step": "shell", "cmd": format!("case \"$GIT_DISPATCH_ATTEMPT\" in {cases} esac")}])
}

/// Runs `git dispatch run --task PACKET <extra>`; returns the output and the printed run folders.
fn dispatch(
    fx: &Fixture,
    packet: &std::path::Path,
    plan: &serde_json::Value,
    extra: &[&str],
) -> (std::process::Output, Vec<PathBuf>) {
    let output = command_with_plan(fx, plan).arg("run").arg("--task").arg(packet).args(extra).output().expect("runs");
    let dirs = stdout(&output).lines().map(PathBuf::from).collect();
    (output, dirs)
}

#[test]
fn three_attempts_are_ranked_and_the_good_one_is_picked() {
    let fx = fixture("python-project");
    let plan = per_attempt(
        "1) echo good > tests/attempt.txt; echo 'x = 1' > src/app/extra.py;; \
         2) echo bad > tests/attempt.txt;; \
         3) echo good > tests/attempt.txt;;",
    );
    let (output, dirs) = dispatch(&fx, &packet(&fx, ""), &plan, &["--attempts", "3", "--verify"]);
    assert_eq!(output.status.code(), Some(0), "a group exits with its best attempt's code: {}", stderr(&output));
    assert_eq!(dirs.len(), 3, "{}", stdout(&output));
    let ids: Vec<String> = dirs.iter().map(|dir| id_of(dir)).collect();
    let group = format!("{}-g", ids[0]);
    assert_eq!(ids[1], format!("{}-2", ids[0]), "attempts are numbered in order");
    for (number, dir) in dirs.iter().enumerate() {
        let (state, record) = (read_json(&dir.join("state.json")), read_json(&dir.join("run.json")));
        for value in [&state, &record] {
            assert_eq!(
                (value["group"].clone(), value["attempt"].clone(), value["attempts"].clone()),
                (json!(group), json!(number + 1), json!(3))
            );
        }
    }
    let verdicts: Vec<(serde_json::Value, serde_json::Value)> = dirs
        .iter()
        .map(|dir| read_json(&dir.join("policy.json")))
        .map(|policy| (policy["offered"].clone(), policy["exit_code"].clone()))
        .collect();
    assert_eq!(verdicts, [(json!(false), json!(3)), (json!(false), json!(3)), (json!(true), json!(0))]);
    assert!(stderr(&output)
        .contains(&format!("git-dispatch: group {group}: compare its attempts with `git dispatch review {group}`")));

    let review = run(&fx, &["review", &group]);
    assert_eq!(review.status.code(), Some(0), "{}", stderr(&review));
    let text = stdout(&review);
    let table: Vec<Vec<&str>> = text.lines().skip(2).take(3).map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(text.lines().next(), Some(format!("group:    {group} (3 attempts)").as_str()), "{text}");
    assert_eq!(table[0][..7], ["1", "3", ids[2].as_str(), "codex", "offered", "passed", "1/1"], "{text}");
    assert_eq!(
        table[1][..8],
        ["2", "2", ids[1].as_str(), "codex", "failed:", "verification", "failed", "0/1"],
        "{text}"
    );
    assert_eq!(table[2][..5], ["3", "1", ids[0].as_str(), "codex", "violation"], "{text}");
    assert!(text.contains("  #1  ✗ src/app/extra.py  ✓ tests/attempt.txt\n"), "{text}");
    assert!(text.ends_with(&format!("best:     {}: git dispatch apply {group} --pick {}\n", ids[2], ids[2])), "{text}");
    let report: serde_json::Value =
        serde_json::from_slice(&run(&fx, &["review", &group, "--json"]).stdout).expect("JSON");
    assert_eq!(report["best"], json!(ids[2]));
    let ranked: Vec<u64> =
        report["attempts"].as_array().expect("attempts").iter().map(|a| a["attempt"].as_u64().unwrap()).collect();
    assert_eq!(ranked, [3, 2, 1]);
    assert_eq!(report["attempts"][2]["scope_ok"], false);
    assert_eq!(report["attempts"][1]["verification"], json!({"passed": false, "commands": 1, "commands_passed": 0}));

    let listed = stdout(&run(&fx, &["list"]));
    let lines: Vec<&str> = listed.lines().collect();
    let group_line: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(group_line[..2], [group.as_str(), "group"], "{listed}");
    assert!(lines[1].contains("  3 attempts, 1 offered  "), "{listed}");
    for (line, id) in lines[2..5].iter().zip([&ids[0], &ids[1], &ids[2]]) {
        assert!(line.starts_with(&format!("  {id} ")), "{listed}");
    }
    let status = stdout(&run(&fx, &["status", &group]));
    assert_eq!(status.lines().count(), 4, "a header and the three attempts: {status}");
    let wait = run(&fx, &["wait", &group, "--timeout", "10"]);
    assert_eq!(wait.status.code(), Some(0), "wait GROUP: its best attempt's code");
    assert_eq!(stdout(&wait).lines().count(), 3);

    let before = tree_fingerprint(&fx.repo);
    let no_pick = run(&fx, &["apply", &group]);
    assert_eq!(no_pick.status.code(), Some(1));
    assert!(
        stderr(&no_pick).contains("is a group of 3 attempts: pick the one to apply with --pick RUN"),
        "{}",
        stderr(&no_pick)
    );
    let bad_pick = run(&fx, &["apply", &group, "--pick", &ids[1]]);
    assert_eq!(bad_pick.status.code(), Some(1));
    assert!(stderr(&bad_pick).contains(&format!("run {} was not offered", ids[1])), "{}", stderr(&bad_pick));
    assert_eq!(tree_fingerprint(&fx.repo), before, "refusals change nothing");

    let pick = run(&fx, &["apply", &group, "--pick", &ids[2]]);
    assert_eq!(pick.status.code(), Some(0), "{}", stderr(&pick));
    assert_eq!(std::fs::read_to_string(fx.repo.join("tests/attempt.txt")).expect("applied"), "good\n");
    assert!(!fx.repo.join("src/app/extra.py").exists());
    assert!(
        stdout(&pick).ends_with(&format!("superseded (group {group}): {}, {}\n", ids[0], ids[1])),
        "{}",
        stdout(&pick)
    );
    for dir in &dirs[..2] {
        assert_eq!(read_json(&dir.join("superseded.json"))["by"], json!(ids[2]));
    }
    let after = tree_fingerprint(&fx.repo);
    for id in &ids[..2] {
        let refused = run(&fx, &["apply", id]);
        assert_eq!(refused.status.code(), Some(1), "{id}");
        assert_eq!(stderr(&refused).lines().count(), 1, "{}", stderr(&refused));
        assert_eq!(tree_fingerprint(&fx.repo), after, "{id}: byte-identical");
    }
    let reviewed = stdout(&run(&fx, &["review", &group]));
    assert!(reviewed.ends_with(&format!("applied:  {} (the other attempts are superseded)\n", ids[2])), "{reviewed}");
}

#[test]
fn attempts_run_at_once_and_applying_one_supersedes_the_other() {
    let fx = fixture("python-project");
    let starts = fx.root.join("starts");
    // Both attempts wait (at most 30 s) until both have started: they run at once.
    let plan = json!([
        {"step": "shell", "cmd": format!("echo $GIT_DISPATCH_ATTEMPT >> {}", starts.display())},
        {"step": "shell", "cmd": format!("i=0; while [ \"$(wc -l < {0})\" -lt 2 ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done", starts.display())},
        {"step": "write", "path": "tests/attempt.txt", "content": "good\n"},
    ]);
    let (output, dirs) = dispatch(&fx, &packet(&fx, "ATTEMPTS: 2\n"), &plan, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(dirs.len(), 2, "the packet's ATTEMPTS: 2");
    let ids: Vec<String> = dirs.iter().map(|dir| id_of(dir)).collect();
    let group = format!("{}-g", ids[0]);
    let mut started: Vec<String> =
        std::fs::read_to_string(&starts).expect("starts").lines().map(str::to_string).collect();
    started.sort();
    assert_eq!(started, ["1", "2"], "each attempt saw its own GIT_DISPATCH_ATTEMPT");
    let report: serde_json::Value =
        serde_json::from_slice(&run(&fx, &["review", &group, "--json"]).stdout).expect("JSON");
    assert_eq!(report["attempts"][0]["same_result_as"], json!([2]), "identical results agree: {report:#}");
    assert_eq!(report["attempts"][1]["same_result_as"], json!([1]));
    assert!(stdout(&run(&fx, &["review", &group])).contains("same result: 2"));

    let untouched = tree_fingerprint(&fx.repo);
    let both = run(&fx, &["apply", &ids[0], &ids[1]]);
    assert_eq!(both.status.code(), Some(1));
    assert!(
        stderr(&both).contains(&format!("{} and {} are attempts of one group, {group}: pick one", ids[0], ids[1])),
        "{}",
        stderr(&both)
    );
    assert_eq!(tree_fingerprint(&fx.repo), untouched);
    let apply = run(&fx, &["apply", &ids[0]]);
    assert_eq!(apply.status.code(), Some(0), "{}", stderr(&apply));
    assert!(stdout(&apply).ends_with(&format!("superseded (group {group}): {}\n", ids[1])), "{}", stdout(&apply));
    let before = tree_fingerprint(&fx.repo);
    let second = run(&fx, &["apply", &ids[1]]);
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(
        stderr(&second),
        format!(
            "error: cannot apply: run {} was superseded: {}, another attempt of group {group}, was applied\n",
            ids[1], ids[0]
        )
    );
    let merge = run(&fx, &["apply", "--merge", &ids[1]]);
    assert_eq!(merge.status.code(), Some(1));
    assert_eq!(tree_fingerprint(&fx.repo), before, "byte-identical after the refusals");
    let listed = stdout(&run(&fx, &["list"]));
    assert!(listed.contains("2 attempts, #1 applied"), "{listed}");
    assert!(
        listed.lines().any(|line| line.starts_with(&format!("  {} ", ids[1])) && line.contains(" superseded ")),
        "{listed}"
    );

    // Superseded attempts are not kept by `clean` (an offered run nobody applied would be).
    let branches = |fx: &Fixture| git(&fx.repo, &["branch", "--list", "dispatch/*", "--format=%(refname:short)"]);
    assert!(branches(&fx).contains(&ids[1]), "the superseded attempt still has its branch");
    let clean = run(&fx, &["clean", &group, "--artifacts"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let text = stdout(&clean);
    assert!(text.contains(&format!("deleted branch dispatch/{}", ids[1])) && !text.contains("kept"), "{text}");
    assert_eq!(branches(&fx), "");
    assert!(dirs.iter().all(|dir| !dir.exists()), "clean GROUP --artifacts removes the group's run folders");
}

#[test]
fn detached_attempts_one_per_agent_are_waited_for_as_a_group() {
    let fx = fixture("python-project");
    let plan = per_attempt("1) echo good > tests/attempt.txt;; 2) echo bad > tests/attempt.txt;;");
    // One attempt per agent (both are the fake agent, in codex and in claude style), detached.
    let (output, _) = dispatch(&fx, &packet(&fx, ""), &plan, &["--agent", "codex,claude", "--detach", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines: Vec<serde_json::Value> =
        stdout(&output).lines().map(|line| serde_json::from_str(line).expect("one JSON object per run")).collect();
    assert_eq!(lines.len(), 2);
    let group = lines[0]["group"].as_str().expect("group").to_string();
    assert_eq!(group, format!("{}-g", lines[0]["run_id"].as_str().expect("id")));
    assert_eq!(
        (lines[0]["attempt"].clone(), lines[1]["attempt"].clone(), lines[1]["group"].clone()),
        (json!(1), json!(2), json!(group))
    );
    let wait = run(&fx, &["wait", &group, "--timeout", "60", "--json"]);
    assert_eq!(wait.status.code(), Some(0), "both offered (no --verify): {}", stderr(&wait));
    let waited: serde_json::Value = serde_json::from_slice(&wait.stdout).expect("JSON");
    assert_eq!(waited.as_array().map(Vec::len), Some(2), "{waited:#}");
    let report: serde_json::Value =
        serde_json::from_slice(&run(&fx, &["review", &group, "--json"]).stdout).expect("JSON");
    let attempts = report["attempts"].as_array().expect("attempts");
    let verdicts: Vec<(&str, &str)> =
        attempts.iter().map(|a| (a["agent"].as_str().unwrap(), a["verdict"].as_str().unwrap())).collect();
    let messages: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| {
            read_json(&PathBuf::from(line["run_dir"].as_str().unwrap()).join("policy.json"))["messages"].clone()
        })
        .collect();
    assert_eq!(verdicts, [("codex", "offered"), ("claude", "offered")], "each attempt its own agent: {messages:#?}");
    assert_eq!(report["attempts"][0]["same_paths_as"], json!([2]), "same path, different content: {report:#}");
}
