//! SIGKILL of git-dispatch at each stage (before the branch, before the worktree add, during and
//! after the checkout, during the agent, during the snapshot, after the offer), then recovery:
//! only the main worktree, no `dispatch/*` branch unless offered, no lock left, the user's
//! checkout byte-identical, `git fsck` clean, no process of the dead run left.
//! The pause points come from `GIT_DISPATCH_TEST_PAUSE_AT` (test-only, see `workspace::pause`).

mod crash_support;
mod support;

use std::time::Duration;

use crash_support::{alive, plant_lock, read_pid, writing_plan, Scene};
use pretty_assertions::assert_eq;
use serde_json::json;
use support::cli::{printed_run_dir, read_json};

#[test]
fn killed_before_the_branch_exists() {
    let scene = Scene::new("");
    let mut run = scene.start(&writing_plan(), Some("worktree"));
    run.wait_paused();
    let entry = scene.only_entry();
    assert_eq!(entry.stage, "worktree");
    assert_eq!(entry.pid, run.pid());
    assert_eq!(entry.branch, format!("dispatch/{}", entry.run_id));
    run.kill();
    assert_eq!(scene.branches(), ["main"], "no branch yet");

    let report = scene.recover();

    assert_eq!(report.recovered.len(), 1);
    let recovered = &report.recovered[0];
    assert_eq!(recovered.run_id, entry.run_id);
    assert_eq!(recovered.stage, "worktree");
    assert_eq!(recovered.removed_worktrees, Vec::<std::path::PathBuf>::new());
    assert_eq!(recovered.deleted_branch, None);
    assert_eq!(recovered.kept_branch, None);
    scene.assert_nothing_left(&[]);
}

#[test]
fn killed_before_the_worktree_add() {
    let scene = Scene::new("");
    let mut run = scene.start(&writing_plan(), Some("worktree-add"));
    run.wait_paused();
    let entry = scene.only_entry();
    run.kill();
    let branch = format!("dispatch/{}", entry.run_id);
    assert_eq!(scene.branches(), [branch.clone(), "main".to_string()], "the branch was created");
    assert_eq!(scene.worktree_count(), 1);

    let report = scene.recover();

    assert_eq!(report.recovered[0].deleted_branch, Some(branch));
    assert_eq!(report.recovered[0].removed_worktrees, Vec::<std::path::PathBuf>::new());
    scene.assert_nothing_left(&[]);
}

#[test]
fn killed_after_the_checkout() {
    let scene = Scene::new("");
    let mut run = scene.start(&writing_plan(), Some("worktree-added"));
    run.wait_paused();
    let entry = scene.only_entry();
    assert_eq!(entry.worktree, None, "the journal does not know the path yet: the marker does");
    run.kill();
    assert_eq!(scene.worktree_count(), 2);
    let path = scene.repo_folder().join("wt").join(&entry.run_id);
    assert!(path.join(".git").is_file());

    let report = scene.recover();

    assert_eq!(report.recovered[0].removed_worktrees, vec![path]);
    assert_eq!(report.recovered[0].deleted_branch, Some(entry.branch.clone()));
    scene.assert_nothing_left(&[]);
}

#[test]
fn killed_during_the_checkout_of_a_big_tree() {
    let scene = Scene::new("mkdir -p big && for i in $(seq 1 1500); do echo \"file $i\" > big/f$i.txt; done");
    let mut run = scene.start(&writing_plan(), None);
    let busy = loop {
        let folder = scene.fx.worktrees_root();
        let found = std::fs::read_dir(&folder)
            .ok()
            .and_then(|mut dirs| dirs.next())
            .map(|d| d.expect("entry").path().join("wt"))
            .and_then(|wt| std::fs::read_dir(wt).ok()?.next().map(|e| e.expect("entry").path()));
        let started = |p: &std::path::PathBuf| std::fs::read_dir(p.join("big")).is_ok_and(|mut d| d.next().is_some());
        if let Some(path) = found.filter(started) {
            break path;
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    run.kill();
    let checked_out = std::fs::read_dir(busy.join("big")).map(|d| d.count()).unwrap_or(0);
    eprintln!("killed with {checked_out} of 1500 files checked out");

    let report = scene.recover();

    assert_eq!(report.recovered.len(), 1);
    assert_eq!(report.recovered[0].removed_worktrees, vec![busy]);
    scene.assert_nothing_left(&[]);
}

#[test]
fn killed_during_the_agent_stops_its_processes() {
    let scene = Scene::new("");
    let dir = &scene.fx.root;
    let plan = json!([
        {"step": "spawn_child", "sleep_secs": 300, "pidfile": dir.join("child.pid")},
        {"step": "setsid_daemon", "pidfile": dir.join("daemon.pid"), "sleep_secs": 300, "stdio": "null"},
        {"step": "record", "path": dir.join("agent.json")},
        {"step": "hang"}
    ]);
    let mut run = scene.start(&plan, None);
    let agent = run.wait_for_json(&dir.join("agent.json"))["pid"].as_i64().expect("agent pid") as i32;
    let child = read_pid(&dir.join("child.pid"));
    let daemon = read_pid(&dir.join("daemon.pid"));
    let entry = scene.only_entry();
    assert_eq!(entry.stage, "agent");
    run.kill();
    for pid in [agent, child, daemon] {
        assert!(alive(pid), "pid {pid} outlives the killed git-dispatch");
    }

    let report = scene.recover();

    let mut expected = vec![agent, child, daemon];
    expected.sort_unstable();
    assert_eq!(report.recovered[0].killed_processes, expected);
    for pid in [agent, child, daemon] {
        assert!(!alive(pid), "pid {pid} was stopped");
    }
    assert_eq!(report.recovered[0].removed_worktrees, vec![entry.worktree.clone().expect("recorded")]);
    scene.assert_nothing_left(&[]);
}

#[test]
fn killed_during_the_snapshot_with_its_ref_locked() {
    let scene = Scene::new("");
    let mut run = scene.start(&writing_plan(), Some("snapshot-commit"));
    run.wait_paused();
    let entry = scene.only_entry();
    assert_eq!(entry.stage, "snapshot");
    run.kill();
    // As if killed inside the ref update: the branch's lock file is left.
    let ref_lock = scene.fx.path().join(format!(".git/refs/heads/dispatch/{}.lock", entry.run_id));
    plant_lock(&ref_lock, Duration::ZERO);

    let report = scene.recover();

    assert_eq!(report.recovered[0].removed_locks, vec![ref_lock]);
    assert_eq!(report.recovered[0].deleted_branch, Some(entry.branch.clone()));
    scene.assert_nothing_left(&[]);
}

#[test]
fn killed_after_the_offer_keeps_the_offered_branch() {
    let scene = Scene::new("");
    let mut run = scene.start(&writing_plan(), Some("artifacts"));
    run.wait_paused();
    let entry = scene.only_entry();
    assert!(entry.keep_branch, "the journal knows the branch is kept");
    run.kill();

    let report = scene.recover();

    assert_eq!(report.recovered[0].kept_branch, Some(entry.branch.clone()));
    assert_eq!(report.recovered[0].deleted_branch, None);
    scene.assert_nothing_left(&[&entry.branch]);
}

#[test]
fn the_next_dispatch_recovers_a_killed_run() {
    let scene = Scene::new("");
    let mut run = scene.start(&writing_plan(), Some("guard-after"));
    run.wait_paused();
    let dead = scene.only_entry();
    run.kill();
    assert_eq!(scene.worktree_count(), 2);

    let output = support::cli::command_with_plan(&scene.fx, &writing_plan())
        .env("GIT_DISPATCH_POOL_SIZE", "0")
        .arg("run")
        .arg("--task")
        .arg(&scene.packet)
        .output()
        .expect("git-dispatch runs");

    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    let messages: Vec<&str> =
        policy["messages"].as_array().expect("messages").iter().filter_map(|m| m.as_str()).collect();
    let recovered = messages.iter().find(|m| m.starts_with("Recovered run")).expect("a recovery message");
    assert!(
        recovered.contains(&dead.run_id) && recovered.contains(&format!("deleted branch {}", dead.branch)),
        "{recovered}"
    );
    let run_id = policy["run_dir"].as_str().expect("run_dir").rsplit('/').next().expect("id").to_string();
    scene.assert_nothing_left(&[&format!("dispatch/{run_id}")]);
}

#[test]
fn clean_recover_undoes_a_killed_run() {
    let scene = Scene::new("");
    let mut run = scene.start(&writing_plan(), Some("agent"));
    run.wait_paused();
    let dead = scene.only_entry();
    run.kill();
    assert_eq!(scene.worktree_count(), 2);

    let output = support::cli::run(&scene.fx, &["clean", "--recover"]);

    assert_eq!(output.status.code(), Some(0), "{}", support::cli::stderr(&output));
    let stdout = support::cli::stdout(&output);
    // `clean` may delete the branch itself before `--recover` runs; the journal recovery removes the rest.
    let expected = format!(
        "recovered: Recovered run {} (its process is gone; last stage agent): removed worktree {}",
        dead.run_id,
        dead.worktree.as_ref().expect("recorded").display(),
    );
    assert!(stdout.lines().any(|line| line.starts_with(&expected)), "{stdout}");
    scene.assert_nothing_left(&[]);
}
