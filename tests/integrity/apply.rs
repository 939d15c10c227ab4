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
