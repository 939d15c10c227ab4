//! End to end through the binary: several packets in one `run -j 2` (run at once, folders printed in
//! packet order, one summary table, the worst exit code), and two `git dispatch run` processes
//! started together on one repository (distinct run ids, both branches right, no ref or lock damage).

mod support;

use std::path::{Path, PathBuf};

use serde_json::json;
use support::cli::{command_with_plan, dispatch, read_json, stderr, stdout, worker_packet, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::git;

fn packet(fx: &Fixture, name: &str, objective: &str, scope: &str) -> PathBuf {
    let text = worker_packet(&fx.repo, scope).replace("Add a test for add().", objective);
    write_packet(fx, name, &text)
}

fn id_of(run_dir: &Path) -> String {
    run_dir.file_name().expect("run id").to_string_lossy().into_owned()
}

#[test]
fn several_packets_run_at_once_and_exit_with_the_worst_code() {
    let fx = fixture("python-project");
    let a = packet(&fx, "a.md", "Packet A", "- tests/");
    let b = packet(&fx, "b.md", "Packet B", "- docs/");
    let timeline = fx.root.join("timeline");
    let mark = |what: &str| format!("echo \"$(date +%s%N) {what}\" >> {}", timeline.display());
    // Each agent waits (at most 30 s) until both have started: with -j 2 they run at once, one
    // after the other the first would time out and end before the second starts.
    let both_started = format!(
        "i=0; while [ \"$(grep -c start {0})\" -lt 2 ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done",
        timeline.display()
    );
    // Both agents write tests/par.py: in scope for A, out of scope for B.
    let plan = json!([
        {"step": "shell", "cmd": mark("start")},
        {"step": "shell", "cmd": both_started},
        {"step": "write", "path": "tests/par.py", "content": "p = 1\n"},
        {"step": "shell", "cmd": mark("end")},
    ]);
    let output = command_with_plan(&fx, &plan)
        .args(["run", "-j", "2", "--sandbox", "none", "--task"])
        .args([&a, &b])
        .output()
        .expect("git-dispatch runs");
    assert_eq!(output.status.code(), Some(3), "the worst code wins: {}", stderr(&output));

    let printed: Vec<PathBuf> = stdout(&output).lines().map(PathBuf::from).collect();
    assert_eq!(printed.len(), 2, "{}", stdout(&output));
    assert!(id_of(&printed[0]).ends_with("-worker-packet-a"), "{printed:?}");
    assert!(id_of(&printed[1]).ends_with("-worker-packet-b"), "{printed:?}");
    let a_policy = read_json(&printed[0].join("policy.json"));
    let b_policy = read_json(&printed[1].join("policy.json"));
    assert_eq!(
        (a_policy["exit_code"].clone(), a_policy["offered"].clone()),
        (json!(0), json!(true)),
        "{}",
        a_policy["messages"]
    );
    assert_eq!((b_policy["exit_code"].clone(), b_policy["offered"].clone()), (json!(3), json!(false)));
    assert_eq!(b_policy["out_of_scope_changes"], json!(["tests/par.py"]));

    let table: Vec<Vec<String>> = stderr(&output)
        .lines()
        .skip_while(|line| !line.starts_with("RUN "))
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(table.len(), 3, "{}", stderr(&output));
    assert_eq!(table[0], ["RUN", "MODE", "EXIT", "VERDICT"]);
    assert_eq!(table[1], [id_of(&printed[0]), "worker".into(), "0".into(), "offered".into()]);
    assert_eq!(table[2], [id_of(&printed[1]), "worker".into(), "3".into(), "violation".into()]);

    let events = std::fs::read_to_string(&timeline).expect("timeline");
    let mut events: Vec<(u128, String)> = events
        .lines()
        .map(|line| {
            let (time, what) = line.split_once(' ').expect("time and event");
            (time.parse().expect("nanoseconds"), what.to_string())
        })
        .collect();
    events.sort();
    let order: Vec<&str> = events.iter().map(|(_, what)| what.as_str()).collect();
    assert_eq!(order, ["start", "start", "end", "end"], "the two agents overlapped");
}

#[test]
fn two_processes_on_one_repository_do_not_disturb_each_other() {
    let fx = fixture("python-project");
    let task = packet(&fx, "task.md", "Same objective", "- tests/");
    // A first run leaves a warm worktree in the pool: the two below race for it.
    let warmup = dispatch(&fx, &task, &json!([]), &[]);
    assert_eq!(warmup.status.code(), Some(0), "{}", stderr(&warmup));
    for round in 0..2 {
        let plans = [
            json!([{"step": "write", "path": format!("tests/one_{round}.py"), "content": "one = 1\n"}]),
            json!([{"step": "write", "path": format!("tests/two_{round}.py"), "content": "two = 2\n"}]),
        ];
        let children: Vec<_> = plans
            .iter()
            .map(|plan| {
                command_with_plan(&fx, plan)
                    .args(["run", "--task"])
                    .arg(&task)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("git-dispatch starts")
            })
            .collect();
        let outputs: Vec<_> = children.into_iter().map(|child| child.wait_with_output().expect("waits")).collect();
        let mut ids = Vec::new();
        for (output, file) in outputs.iter().zip([format!("tests/one_{round}.py"), format!("tests/two_{round}.py")]) {
            assert_eq!(output.status.code(), Some(0), "round {round}: {}", stderr(output));
            let run_dir = PathBuf::from(stdout(output).lines().last().expect("run folder"));
            let policy = read_json(&run_dir.join("policy.json"));
            assert_eq!(policy["changed_paths"], json!([file]), "round {round}: each run has only its own change");
            let branch = policy["branch"].as_str().expect("branch").to_string();
            assert_eq!(
                git(&fx.repo, &["rev-parse", &branch]).trim(),
                policy["result_commit"].as_str().expect("result")
            );
            assert_eq!(git(&fx.repo, &["diff", "--name-only", "main", &branch]), format!("{file}\n"));
            ids.push(id_of(&run_dir));
        }
        assert_ne!(ids[0], ids[1], "distinct run ids");
    }
    assert_eq!(git(&fx.repo, &["fsck", "--no-progress", "--no-dangling"]), "");
    let branches = git(&fx.repo, &["branch", "--list", "dispatch/*"]);
    assert_eq!(branches.lines().count(), 4, "2 x 2 offered; the warm-up changed nothing: {branches}");
    assert_eq!(git(&fx.repo, &["status", "--porcelain"]), "", "the user's checkout is untouched");
    let locks: Vec<String> = walk_locks(&fx.repo.join(".git"));
    assert_eq!(locks, Vec::<String>::new(), "no lock file left behind");
    let worktrees = git(&fx.repo, &["worktree", "list", "--porcelain"]);
    assert!(!worktrees.contains("prunable"), "{worktrees}");
}

fn walk_locks(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk_locks(&path));
        } else if path.extension().is_some_and(|ext| ext == "lock") {
            found.push(path.display().to_string());
        }
    }
    found
}
