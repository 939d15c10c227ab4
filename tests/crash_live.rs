//! Recovery never touches a live run: a concurrent recovery from another process leaves its
//! journal entry, worktree, branch and agent alone (and every shared git lock, however old), and the
//! live run still completes. A reused pid does not keep a dead run alive; unreadable, tampered
//! and foreign-namespace entries are left in place.

mod crash_support;
mod support;

use std::path::PathBuf;
use std::time::Duration;

use crash_support::{alive, plant_lock, Scene};
use git_dispatch::journal::{self, Entry};
use git_dispatch::workspace;
use pretty_assertions::assert_eq;
use serde_json::json;

fn rfc3339_ago(age: Duration) -> String {
    let then = chrono::Utc::now() - chrono::Duration::from_std(age).expect("small duration");
    then.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A journal entry for a run that never existed, written by process `pid` started at `start`.
fn ghost(run_id: &str, pid: u32, start: Option<u64>, age: Duration) -> Entry {
    Entry {
        run_id: run_id.to_string(),
        pid,
        process_start: start,
        pid_namespace: None,
        branch: format!("dispatch/{run_id}"),
        worktree: None,
        worktree_name: None,
        run_dir: PathBuf::from("/nonexistent/run"),
        stage: "agent".to_string(),
        created_at: rfc3339_ago(age),
        updated_at: rfc3339_ago(age),
        keep_branch: false,
        keep_worktree: false,
        marker: format!("{run_id}:marker"),
        locks: Vec::new(),
    }
}

fn write_entry(dir: &std::path::Path, entry: &Entry) -> PathBuf {
    std::fs::create_dir_all(dir).expect("journal dir");
    let path = dir.join(format!("{}.json", entry.run_id));
    std::fs::write(&path, serde_json::to_vec_pretty(entry).expect("json")).expect("entry written");
    path
}

#[test]
fn a_concurrent_recovery_leaves_a_live_run_alone() {
    let scene = Scene::new("");
    let root = &scene.fx.root;
    let go = root.join("go");
    let plan = json!([
        {"step": "record", "path": root.join("agent.json")},
        {"step": "shell", "cmd": format!("while [ ! -e '{}' ]; do sleep 0.05; done", go.display())},
        {"step": "write", "path": "tests/test_new.py", "content": "def test_new():\n    assert True\n"}
    ]);
    let mut run = scene.start(&plan, None);
    let agent = run.wait_for_json(&root.join("agent.json"))["pid"].as_i64().expect("pid") as i32;
    let live = scene.only_entry();
    let journal_dir = scene.repo_folder().join("journal");
    let live_file = journal_dir.join(format!("{}.json", live.run_id));
    let live_bytes = std::fs::read(&live_file).expect("live entry");
    // A dead run whose pid was reused by the live dispatch (same pid, another start time).
    let dead = ghost("20250101-000000-worker-ghost", live.pid, Some(1), Duration::from_secs(600));
    write_entry(&journal_dir, &dead);
    let git_dir = scene.fx.path().join(".git");
    let stale = git_dir.join("packed-refs.lock");
    let fresh = git_dir.join("config.lock");
    plant_lock(&stale, Duration::from_secs(3600));
    plant_lock(&fresh, Duration::ZERO);

    let report = scene.recover();

    assert_eq!(report.live_runs, vec![live.run_id.clone()]);
    assert_eq!(report.recovered.len(), 1);
    assert_eq!(report.recovered[0].run_id, dead.run_id);
    assert_eq!(report.recovered[0].killed_processes, Vec::<i32>::new());
    assert_eq!(report.shared_locks, vec![fresh.clone(), stale.clone()], "named, however old");
    assert!(fresh.exists() && stale.exists(), "a shared lock is never removed");
    assert_eq!(std::fs::read(&live_file).expect("live entry kept"), live_bytes);
    assert!(live.worktree.as_ref().expect("recorded").join(".git").is_file(), "the live worktree is kept");
    assert!(scene.branches().contains(&live.branch));
    assert!(alive(agent), "the live agent runs on");
    assert!(alive(run.pid() as i32));

    std::fs::remove_file(&fresh).expect("the test's own lock");
    std::fs::remove_file(&stale).expect("the test's own lock");
    std::fs::write(&go, "").expect("go");
    assert_eq!(run.wait(), 0, "the live run completes");
    scene.assert_nothing_left(&[&live.branch]);
}

#[test]
fn unreadable_tampered_and_foreign_entries_are_left_in_place() {
    let scene = Scene::new("");
    let options = scene.options();
    let layout = workspace::layout_for(scene.fx.path(), &options.workspace).expect("layout");
    let dir = journal::journal_dir(&layout);
    std::fs::create_dir_all(&dir).expect("journal dir");
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{not json").expect("garbage");
    let mut tampered = ghost("20250101-000000-worker-evil", 999_999_999, Some(1), Duration::from_secs(60));
    tampered.worktree_name = Some("../../escape".to_string());
    let tampered_file = write_entry(&dir, &tampered);
    let mut foreign = ghost("20250101-000000-worker-foreign", 999_999_999, Some(1), Duration::from_secs(60));
    foreign.pid_namespace = Some("pid:[1]".to_string());
    let foreign_file = write_entry(&dir, &foreign);
    let old_lock = scene.fx.path().join(".git/index.lock");
    plant_lock(&old_lock, Duration::from_secs(3600));

    let report = journal::recover(scene.fx.path(), &options).expect("recovery runs");

    assert_eq!(report.unreadable_entries, vec![tampered_file.clone(), garbage.clone()]);
    assert_eq!(report.unknown_runs, vec![foreign.run_id.clone()]);
    assert_eq!(report.recovered, Vec::new());
    assert_eq!(report.shared_locks, Vec::<PathBuf>::new(), "no dead run: shared locks are not looked at");
    assert!(garbage.exists() && tampered_file.exists() && foreign_file.exists() && old_lock.exists());
}

#[test]
fn a_dead_run_with_a_gone_process_is_recovered_and_its_entry_removed() {
    let scene = Scene::new("");
    let options = scene.options();
    let layout = workspace::layout_for(scene.fx.path(), &options.workspace).expect("layout");
    let dir = journal::journal_dir(&layout);
    let dead = ghost("20250101-000000-worker-gone", 999_999_999, None, Duration::from_secs(60));
    let file = write_entry(&dir, &dead);
    let old_lock = scene.fx.path().join(".git/index.lock");
    plant_lock(&old_lock, Duration::from_secs(3600));

    let report = journal::recover(scene.fx.path(), &options).expect("recovery runs");

    assert_eq!(report.recovered.len(), 1);
    assert_eq!(report.shared_locks, vec![old_lock.clone()]);
    let named = report.messages().into_iter().find(|m| m.starts_with("Lock file")).expect("the lock is named");
    assert!(named.ends_with(&format!("rm '{}'", old_lock.display())), "{named}");
    assert_eq!(report.errors, Vec::<String>::new());
    assert!(!file.exists(), "the entry is removed");
    assert!(old_lock.exists(), "a lock older than the dead run may be a live git's (an open commit editor)");
    let again = journal::recover(scene.fx.path(), &options).expect("recovery runs");
    assert!(again.is_empty(), "{again:?}");
}
