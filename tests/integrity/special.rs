//! Issue 19 item 3: FIFOs, sockets and device nodes the agent makes are a sensitive change of kind
//! `special-file`, never offered, whether new, replacing a tracked file, or in an ignored folder;
//! with the change journal and with the full scan. A path the journal cannot look at (longer than
//! PATH_MAX) makes the snapshot fall back to the full scan, which fails closed.

use serde_json::json;

use crate::common::{dispatched, sensitive};
use crate::support::cli::user_visible;
use crate::support::fixtures::fixture;
use crate::support::git::tree_fingerprint;

fn special(path: &str, kind: &str) -> serde_json::Value {
    json!({"step": "special", "path": path, "kind": kind})
}

#[test]
fn fifos_sockets_and_device_nodes_are_never_offered() {
    let root = nix::unistd::geteuid().is_root();
    let mut plan = vec![
        special("tests/pipe", "fifo"),
        special("tests/sock", "socket"),
        json!({"step": "delete", "path": "README.md"}),
        special("README.md", "fifo"),
        json!({"step": "mkdir", "path": "build"}),
        special("build/ignored-pipe", "fifo"),
    ];
    let mut expected = vec![
        ("README.md", "special-file"),
        ("build/ignored-pipe", "special-file"),
        ("tests/pipe", "special-file"),
        ("tests/sock", "special-file"),
    ];
    if root {
        plan.push(special("tests/dev", "device"));
        expected.push(("tests/dev", "special-file"));
        expected.sort();
    } else {
        crate::support::skip::skip("not-root", "the device node case needs root (CAP_MKNOD)");
    }
    for journal in ["on", "off"] {
        let fx = fixture("python-project");
        std::fs::write(fx.repo.join(".gitignore"), "build/\n").expect("ignore build/");
        crate::support::git::git(&fx.repo, &["commit", "-qam", "ignore build"]);
        let before = tree_fingerprint(&fx.repo);
        let mut command_env = crate::support::cli::command_with_plan(&fx, &json!(plan));
        command_env.env("GIT_DISPATCH_CHANGE_JOURNAL", journal);
        let output = command_env
            .args(["run", "--task"])
            .arg(crate::common::packet(&fx, ""))
            .output()
            .expect("git-dispatch runs");
        assert_eq!(output.status.code(), Some(3), "journal {journal}: {}", String::from_utf8_lossy(&output.stderr));
        let run_dir = crate::support::cli::printed_run_dir(&output);
        let policy = crate::support::cli::read_json(&run_dir.join("policy.json"));
        let found: Vec<(String, String)> = sensitive(&policy)
            .into_iter()
            .filter(|(_, kind, _)| kind == "special-file")
            .map(|(path, kind, allowed)| {
                assert!(!allowed, "never allowed");
                (path, kind)
            })
            .collect();
        let want: Vec<(String, String)> = expected.iter().map(|(p, k)| (p.to_string(), k.to_string())).collect();
        assert_eq!(found, want, "journal {journal}: {policy:#}");
        assert_eq!(policy["offered"], false);
        assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before), "the checkout is untouched");
    }
}

/// A file whose path is longer than PATH_MAX (its folder is not): the journal cannot look at it,
/// so the snapshot falls back to the full scan, which cannot read it either and fails the run.
/// Under Landlock too (where the issue saw it dropped silently from an offered result).
#[test]
fn a_path_longer_than_path_max_is_never_dropped_silently() {
    // Folders of 100 characters until the folder's path is 3850..3950 long, then a file of 250:
    // the folder can be listed, the file's path is over 4096.
    let deep = "d=$(printf '%0100d' 0); while [ ${#PWD} -lt 3850 ]; do mkdir $d && cd $d || exit 1; done; \
                printf 'deep\\n' > $(printf '%0250d' 1)";
    let plan = json!([{"step": "shell", "cmd": deep}, {"step": "write", "path": "tests/ok.txt", "content": "ok\n"}]);
    let fx = fixture("python-project");
    let (_, policy) = dispatched(&fx, "", &plan, &["--sandbox", "none"], 3);
    assert_eq!(policy["offered"], false);
    let messages = policy["messages"].to_string();
    assert!(messages.contains("ERROR at stage snapshot"), "{messages}");

    let fx = fixture("python-project");
    let output = crate::support::cli::dispatch(&fx, &crate::common::packet(&fx, ""), &plan, &["--sandbox", "landlock"]);
    let run_dir = crate::support::cli::printed_run_dir(&output);
    let policy = crate::support::cli::read_json(&run_dir.join("policy.json"));
    if policy["sandbox"]["kind"] != "landlock" {
        crate::support::skip::skip("landlock", &format!("Landlock is not enforced here: {}", policy["messages"]));
        return;
    }
    assert_eq!(output.status.code(), Some(3), "{policy:#}");
    assert_eq!(policy["offered"], false);
    assert!(policy["messages"].to_string().contains("ERROR at stage snapshot"), "{policy:#}");
}
