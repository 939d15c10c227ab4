//! End to end through the binary: the audit files of the user's checkout (`pre-status.txt`,
//! `pre-diff-stat.txt`, `post-status.txt`, `post-diff-stat.txt`, `post-diff-name-only.txt`) say
//! what git says, before and after, whether the run left the checkout alone (the closing files are
//! then the opening audit) or wrote into it (they are taken afresh).

mod support;

use std::path::Path;

use serde_json::json;
use support::cli::{dispatch, printed_run_dir, stderr, worker_packet, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::git;

fn read(run_dir: &Path, name: &str) -> String {
    std::fs::read_to_string(run_dir.join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The user's own uncommitted state, outside the packet's scope.
fn dirty_fixture() -> Fixture {
    let fx = fixture("python-project");
    fx.sh("echo '# user edit' >> README.md && echo scratch > notes.txt");
    fx
}

const PRE_STATUS: &str = " M README.md\n?? notes.txt\n";

#[test]
fn a_run_that_leaves_the_checkout_alone_reports_it_unchanged() {
    let fx = dirty_fixture();
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let plan = json!([{"step": "write", "path": "tests/ok.py", "content": "ok = 1\n"}]);
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "none"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let stat = git(&fx.repo, &["diff", "--stat"]);
    assert_eq!(stat, " README.md | 1 +\n 1 file changed, 1 insertion(+)\n");
    assert_eq!(read(&run_dir, "pre-status.txt"), PRE_STATUS);
    assert_eq!(read(&run_dir, "post-status.txt"), PRE_STATUS);
    assert_eq!(read(&run_dir, "pre-diff-stat.txt"), stat);
    assert_eq!(read(&run_dir, "post-diff-stat.txt"), stat);
    assert_eq!(read(&run_dir, "post-diff-name-only.txt"), "README.md\n");
}

#[test]
fn an_agent_writing_into_the_checkout_shows_in_the_closing_audit() {
    let fx = dirty_fixture();
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let plan = json!([{"step": "write", "path": fx.repo.join("src/app/util.py"), "content": "escaped = True\n"}]);
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "none"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    assert_eq!(read(&run_dir, "pre-status.txt"), PRE_STATUS);
    assert_eq!(read(&run_dir, "post-status.txt"), " M README.md\n M src/app/util.py\n?? notes.txt\n");
    assert_eq!(read(&run_dir, "post-diff-name-only.txt"), "README.md\nsrc/app/util.py\n");
    assert_eq!(read(&run_dir, "post-diff-stat.txt"), git(&fx.repo, &["diff", "--stat"]));
}

#[test]
fn a_verification_command_writing_into_the_checkout_shows_in_the_closing_audit() {
    let fx = dirty_fixture();
    let escape = format!("echo verified > {}", fx.repo.join("escaped.txt").display());
    let text = worker_packet(&fx.repo, "- tests/")
        .replace("VERIFICATION:\n- python3 -m pytest -q tests\n", &format!("VERIFICATION:\n- {escape}\n"));
    assert!(text.contains(&escape), "the packet carries the command: {text}");
    let packet = write_packet(&fx, "task.md", &text);
    let output = dispatch(&fx, &packet, &json!([]), &["--sandbox", "none", "--verify"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    assert_eq!(read(&run_dir, "pre-status.txt"), PRE_STATUS);
    assert_eq!(read(&run_dir, "post-status.txt"), " M README.md\n?? escaped.txt\n?? notes.txt\n");
}
