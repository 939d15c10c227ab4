//! Issue 20 item 2: recovery never deletes a shared git lock it cannot prove its dead run took. A
//! dead run, then a user's `index.lock` older than it (a `git commit` waiting on its editor), then
//! a new dispatch: the lock is still there, and the dispatch, `clean --recover` and `doctor` name
//! it with the command to remove it by hand.

use std::process::Stdio;
use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::common::{dispatched, packet, wait_for_file};
use crate::support::cli::{command_with_plan, run, stdout};
use crate::support::fixtures::fixture;

#[test]
fn a_users_old_index_lock_survives_the_recovery_of_a_dead_run() {
    let fx = fixture("python-project");
    let pause = fx.root.join("paused");
    let plan = json!([{"step": "write", "path": "new.txt", "content": "x\n"}]);
    let mut doomed = command_with_plan(&fx, &plan);
    doomed
        .env("GIT_DISPATCH_TEST_PAUSE_AT", "agent")
        .env("GIT_DISPATCH_TEST_PAUSE_FILE", &pause)
        .args(["run", "--task"])
        .arg(packet(&fx, ""))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = doomed.spawn().expect("git-dispatch can be spawned");
    wait_for_file(&pause);
    child.kill().expect("SIGKILL the dispatch");
    child.wait().expect("reap it");

    let lock = fx.repo.join(".git/index.lock");
    let file = std::fs::File::create(&lock).expect("the user's lock");
    file.set_modified(SystemTime::now() - Duration::from_secs(3600)).expect("older than the dead run");

    let (_, policy) = dispatched(&fx, "", &plan, &[], 0);
    assert!(lock.exists(), "the user's index.lock is still there");
    let messages = policy["messages"].to_string();
    assert!(messages.contains("Recovered run"), "the dead run was recovered: {messages}");
    assert!(messages.contains(&format!("rm '{}'", lock.display())), "{messages}");

    let clean = run(&fx, &["clean", "--recover"]);
    assert_eq!(clean.status.code(), Some(0));
    assert!(stdout(&clean).contains(&format!("rm '{}'", lock.display())), "{}", stdout(&clean));
    let doctor = run(&fx, &["doctor", "--offline"]);
    assert!(stdout(&doctor).contains(&format!("git lock     Lock file {}", lock.display())), "{}", stdout(&doctor));
    assert!(lock.exists(), "clean --recover and doctor leave it too");
}
