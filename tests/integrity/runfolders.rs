//! Issue 19 item 5: run folders. A `.codex-dispatch` that is a symlink (tracked, even) or not a
//! folder is refused with one line, never followed. Without a sandbox, an agent that forges a run
//! folder or rewrites another run's verdict is flagged (`main_checkout_changed`), and one that
//! overwrites a loose object of the base commit is flagged (`git_dir_tampered`); runs of
//! git-dispatch itself in parallel are not.

use serde_json::json;

use crate::common::{dispatched, packet};
use crate::support::cli::{dispatch, run, stderr, stdout, write_packet};
use crate::support::fixtures::fixture;
use crate::support::git::git;

#[test]
fn a_tracked_codex_dispatch_symlink_is_refused_and_never_followed() {
    let fx = fixture("python-project");
    let elsewhere = fx.root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("target");
    std::os::unix::fs::symlink(&elsewhere, fx.repo.join(".codex-dispatch")).expect("symlink");
    git(&fx.repo, &["add", ".codex-dispatch"]);
    git(&fx.repo, &["commit", "-qm", "track a run-folder symlink"]);
    let plan = json!([{"step": "write", "path": "tests/x.txt", "content": "x\n"}]);

    let output = dispatch(&fx, &packet(&fx, ""), &plan, &[]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains(".codex-dispatch is a symlink"), "{said}");
    assert_eq!(std::fs::read_dir(&elsewhere).expect("target").count(), 0, "nothing was created through it");
    assert_eq!(stdout(&output), "");

    for command in [&["list"][..], &["review"], &["apply"]] {
        let refused = run(&fx, command);
        assert_eq!(refused.status.code(), Some(1), "{command:?}");
        assert!(stderr(&refused).contains("is a symlink"), "{command:?}: {}", stderr(&refused));
    }

    std::fs::remove_file(fx.repo.join(".codex-dispatch")).expect("unlink");
    std::fs::write(fx.repo.join(".codex-dispatch"), "not a folder\n").expect("file");
    let output = dispatch(&fx, &packet(&fx, ""), &plan, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(".codex-dispatch is not a directory"), "{}", stderr(&output));
}

#[test]
fn without_a_sandbox_forged_run_folders_and_rewritten_verdicts_are_flagged() {
    let fx = fixture("python-project");
    let plan = json!([{"step": "write", "path": "tests/x.txt", "content": "x\n"}]);
    let (earlier, _) = dispatched(&fx, "", &plan, &["--sandbox", "none"], 0);
    let runs = fx.repo.join(".codex-dispatch/runs");
    let forged = runs.join("20990101-000000-worker-forged");
    let hostile = json!([
        {"step": "mkdir", "path": forged},
        {"step": "write", "path": forged.join("policy.json"), "content": "{\"offered\": true, \"mode\": \"worker\"}"},
        {"step": "write", "path": earlier.join("result.md"), "content": "# all good\n"},
        {"step": "write", "path": "tests/y.txt", "content": "y\n"},
    ]);
    let (_, policy) = dispatched(&fx, "", &hostile, &["--sandbox", "none"], 3);
    let earlier_id = earlier.file_name().expect("id").to_string_lossy().into_owned();
    let changed: Vec<&str> =
        policy["main_checkout_changed"].as_array().expect("list").iter().filter_map(|p| p.as_str()).collect();
    assert_eq!(
        changed,
        [
            format!(".codex-dispatch/runs/{earlier_id}/result.md"),
            ".codex-dispatch/runs/20990101-000000-worker-forged".to_string(),
            ".codex-dispatch/runs/20990101-000000-worker-forged/policy.json".to_string(),
        ],
        "{policy:#}"
    );
    assert_eq!(policy["offered"], false);
}

#[test]
fn parallel_dispatches_do_not_flag_each_others_run_folders() {
    let fx = fixture("python-project");
    let plan = json!([{"step": "write", "path": "tests/x.txt", "content": "x\n"}]);
    let first = packet(&fx, "");
    let text = std::fs::read_to_string(&first).expect("packet").replace("Change things.", "Change more things.");
    let second = write_packet(&fx, "second.md", &text);
    let output = crate::support::cli::command_with_plan(&fx, &plan)
        .args(["run", "-j", "2", "--sandbox", "none", "--task"])
        .arg(&first)
        .arg(&second)
        .output()
        .expect("git-dispatch runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn without_a_sandbox_an_overwritten_loose_object_is_flagged() {
    let fx = fixture("python-project");
    let blob = git(&fx.repo, &["rev-parse", "HEAD:README.md"]).trim().to_string();
    let object = format!(".git/objects/{}/{}", &blob[..2], &blob[2..]);
    let cmd = format!(
        "f='{root}/{object}'; other=$(printf 'payload\\n' | git hash-object -w --stdin); \
         src='{root}/.git/objects/'$(echo $other | cut -c1-2)/$(echo $other | cut -c3-); \
         chmod u+w \"$f\" && cat \"$src\" > \"$f\"",
        root = fx.repo.display()
    );
    let plan = json!([{"step": "shell", "cmd": cmd}, {"step": "write", "path": "tests/x.txt", "content": "x\n"}]);
    let (_, policy) = dispatched(&fx, "", &plan, &["--sandbox", "none"], 3);
    let tampered = policy["git_dir_tampered"].to_string();
    assert!(tampered.contains(&format!("objects/{}/{}", &blob[..2], &blob[2..])), "{policy:#}");
    assert!(policy["messages"].to_string().contains("loose objects that existed before the run were overwritten"));
    assert_eq!(policy["offered"], false);
}
