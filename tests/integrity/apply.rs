//! Two `apply` of one run at the same time: exactly one applies, the other exits 1 with "already
//! being applied" or "already applied"; the change lands in the checkout once.

use std::process::{Child, Stdio};

use serde_json::json;

use crate::common::{dispatched, id_of, wait_for_file};
use crate::support::cli::{command, run, stderr};
use crate::support::fixtures::{fixture, Fixture};
use crate::support::git::tree_fingerprint;

fn spawn_apply(fx: &Fixture, id: &str, pause: Option<&std::path::Path>) -> Child {
    let mut apply = command(fx);
    apply.args(["apply", id]).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(file) = pause {
        apply.env("GIT_DISPATCH_TEST_PAUSE_AT", "apply-locked").env("GIT_DISPATCH_TEST_PAUSE_FILE", file);
    }
    apply.spawn().expect("git-dispatch can be spawned")
}

#[test]
fn of_two_concurrent_applies_exactly_one_applies() {
    let fx = fixture("python-project");
    let plan = json!([{"step": "append", "path": "README.md", "content": "one more line\n"}]);
    let (run_dir, _) = dispatched(&fx, "", &plan, &[], 0);
    let id = id_of(&run_dir);
    let before = tree_fingerprint(&fx.repo);

    // The first apply holds its locks (paused); the second is refused at once.
    let pause = fx.root.join("paused");
    let mut holder = spawn_apply(&fx, &id, Some(&pause));
    wait_for_file(&pause);
    let refused = run(&fx, &["apply", &id]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("is already being applied"), "{}", stderr(&refused));
    holder.kill().expect("kill the paused apply");
    holder.wait().expect("reap it");
    assert_eq!(tree_fingerprint(&fx.repo), before, "neither apply wrote anything");

    // Two started together: whichever way they interleave, one applies and one is refused.
    let racers = [spawn_apply(&fx, &id, None), spawn_apply(&fx, &id, None)];
    let outputs: Vec<_> = racers.into_iter().map(|child| child.wait_with_output().expect("apply ends")).collect();
    let codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
    assert!(codes.contains(&Some(0)) && codes.contains(&Some(1)), "{codes:?}");
    let loser = outputs.iter().find(|o| o.status.code() == Some(1)).expect("one refused");
    let said = String::from_utf8_lossy(&loser.stderr);
    assert!(said.contains("already being applied") || said.contains("already applied"), "{said}");
    let readme = std::fs::read_to_string(fx.repo.join("README.md")).expect("README");
    assert_eq!(readme.matches("one more line").count(), 1, "applied once: {readme}");

    let again = run(&fx, &["apply", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already applied"), "{}", stderr(&again));
}

/// Whether `/proc/locks` shows `pid` waiting for a lock (a `->` line: blocked behind a holder).
fn waits_for_a_lock(pid: u32) -> bool {
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    locks.lines().any(|line| {
        let mut fields = line.split_whitespace().skip(1);
        fields.next() == Some("->") && fields.nth(3) == Some(pid.to_string().as_str())
    })
}

#[test]
fn applies_of_two_runs_into_one_checkout_take_turns_whatever_their_worktrees_root() {
    let fx = fixture("python-project");
    let first = json!([{"step": "append", "path": "README.md", "content": "first\n"}]);
    let second = json!([{"step": "write", "path": "NOTES.md", "content": "second\n"}]);
    let (first_dir, _) = dispatched(&fx, "", &first, &[], 0);
    let (second_dir, _) = dispatched(&fx, "", &second, &[], 0);

    // The first apply holds the repository's lock (paused); the second, told another worktrees
    // root, must still wait for it.
    let pause = fx.root.join("paused");
    let mut holder = spawn_apply(&fx, &id_of(&first_dir), Some(&pause));
    wait_for_file(&pause);
    let mut waiter = command(&fx);
    waiter.args(["apply", &id_of(&second_dir)]).env("GIT_DISPATCH_WORKTREES", fx.root.join("other-worktrees"));
    let waiter = waiter.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !waits_for_a_lock(waiter.id()) {
        assert!(std::time::Instant::now() < deadline, "the second apply never waited for the first's lock");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    holder.kill().expect("kill the paused apply");
    holder.wait().expect("reap it");
    let output = waiter.wait_with_output().expect("the second apply ends");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read_to_string(fx.repo.join("NOTES.md")).expect("NOTES.md"), "second\n");
}
