//! The fake agent's file and git steps, run directly in a scratch repository: each step's effect
//! on disk, its events, and the default result's `changed_files`.

#[path = "support/fake_agent.rs"]
mod fake_agent;
#[path = "support/scratch_repo.rs"]
mod scratch_repo;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use fake_agent::{run_claude, run_codex};
use scratch_repo::ScratchRepo;

fn result_json(run: &fake_agent::FakeRun) -> Value {
    let text = run.result_file.as_deref().expect("codex wrote the -o file");
    serde_json::from_str(text).expect("the -o file holds JSON")
}

#[test]
fn file_steps_change_the_tree_and_are_listed_in_the_default_result() {
    let repo = ScratchRepo::new();
    std::fs::write(repo.root.join("old.txt"), "old\n").unwrap();
    std::fs::write(repo.root.join("gone.txt"), "bye\n").unwrap();
    let run = run_codex(
        &repo,
        &json!([
            {"step": "write", "path": "a.txt", "content": "ab", "count": 3},
            {"step": "append", "path": "a.txt", "content": "!\n"},
            {"step": "write", "path": "bin.dat", "base64": "AAH/"},
            {"step": "mkdir", "path": "d/e"},
            {"step": "write", "path": "d/e/f.txt", "content": "deep\n"},
            {"step": "rename", "from": "old.txt", "to": "new.txt"},
            {"step": "delete", "path": "gone.txt"},
            {"step": "write", "path": "run.sh", "content": "#!/bin/sh\n"},
            {"step": "chmod", "path": "run.sh", "mode": "755"},
            {"step": "symlink", "target": "../outside", "path": "link"},
            {"step": "hardlink", "target": "a.txt", "path": "hard.txt"},
            {"step": "write", "path": {"b64": "bm9uLXV0ZjgtgP8udHh0"}, "content": "x"},
        ]),
    );
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    assert_eq!(repo.read("a.txt"), "ababab!\n");
    assert_eq!(std::fs::read(repo.root.join("bin.dat")).unwrap(), vec![0, 1, 0xff]);
    assert_eq!(repo.read("d/e/f.txt"), "deep\n");
    assert_eq!(repo.read("new.txt"), "old\n");
    assert!(!repo.root.join("old.txt").exists());
    assert!(!repo.root.join("gone.txt").exists());
    let mode = std::fs::metadata(repo.root.join("run.sh")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(std::fs::read_link(repo.root.join("link")).unwrap().to_str(), Some("../outside"));
    let (a, hard) =
        (std::fs::metadata(repo.root.join("a.txt")).unwrap(), std::fs::metadata(repo.root.join("hard.txt")).unwrap());
    assert_eq!(a.ino(), hard.ino());
    let names: Vec<Vec<u8>> = std::fs::read_dir(&repo.root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().as_bytes().to_vec())
        .filter(|name| name.starts_with(b"non-utf8"))
        .collect();
    assert_eq!(names, vec![b"non-utf8-\x80\xff.txt".to_vec()]);

    let result = result_json(&run);
    assert_eq!(
        result["changed_files"],
        json!(["a.txt", "bin.dat", "d/e/f.txt", "gone.txt", "hard.txt", "link", "new.txt", "old.txt", "run.sh"]),
        "non-UTF-8 names are left out of changed_files"
    );
    assert_eq!(result["result"], "done");
    assert_eq!(result["summary"], "fake agent ran 12 step(s)");
}

#[test]
fn file_change_events_carry_absolute_paths_and_kinds() {
    let repo = ScratchRepo::new();
    let run = run_codex(
        &repo,
        &json!([
            {"step": "write", "path": "new.txt", "content": "1"},
            {"step": "write", "path": "README.md", "content": "2"},
            {"step": "delete", "path": "new.txt"},
        ]),
    );
    let changes: Vec<Value> = run
        .events()
        .into_iter()
        .filter(|event| event["type"] == "item.completed" && event["item"]["type"] == "file_change")
        .map(|event| event["item"]["changes"][0].clone())
        .collect();
    let abs = |name: &str| repo.root.join(name).display().to_string();
    assert_eq!(
        changes,
        vec![
            json!({"path": abs("new.txt"), "kind": "add"}),
            json!({"path": abs("README.md"), "kind": "update"}),
            json!({"path": abs("new.txt"), "kind": "delete"}),
        ]
    );
}

#[test]
fn a_failing_step_is_reported_and_the_plan_goes_on() {
    let repo = ScratchRepo::new();
    let run = run_codex(
        &repo,
        &json!([
            {"step": "rename", "from": "missing", "to": "x"},
            {"step": "write", "path": "after.txt", "content": "still here"},
        ]),
    );
    assert_eq!(run.code(), Some(0));
    let expected = format!("fake-agent: step 0 failed: renaming {0}/missing to {0}/x: ", repo.root.display());
    assert!(run.stderr.contains(&expected), "stderr: {}", run.stderr);
    assert_eq!(repo.read("after.txt"), "still here");
    let failed = run
        .events()
        .into_iter()
        .find(|event| event["type"] == "item.completed" && event["item"]["status"] == "failed")
        .expect("a failed file_change item");
    assert_eq!(failed["item"]["type"], "file_change");
}

#[test]
fn commit_git_checkout_and_detach_run_git_in_the_cwd() {
    let repo = ScratchRepo::new();
    let run = run_codex(
        &repo,
        &json!([
            {"step": "git", "args": ["branch", "side"]},
            {"step": "write", "path": "c.txt", "content": "c\n"},
            {"step": "commit", "message": "agent work"},
            {"step": "checkout", "rev": "side"},
            {"step": "detach", "rev": "main"},
        ]),
    );
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    assert_eq!(repo.git(&["log", "-1", "--format=%s", "main"]).trim(), "agent work");
    assert_eq!(repo.git(&["log", "-1", "--format=%s", "side"]).trim(), "initial");
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), repo.git(&["rev-parse", "main"]));
    let symbolic = std::process::Command::new("git")
        .args(["symbolic-ref", "-q", "HEAD"])
        .current_dir(&repo.root)
        .envs(repo.git_env())
        .status()
        .unwrap();
    assert_eq!(symbolic.code(), Some(1), "HEAD is detached");
    assert_eq!(repo.status(), Vec::<String>::new());
}

#[test]
fn shell_runs_in_the_cwd_and_its_output_and_exit_code_show_as_a_command() {
    let repo = ScratchRepo::new();
    let run = run_claude(&repo, &json!([{"step": "shell", "cmd": "pwd; echo oops >&2; echo made > s.txt; exit 3"}]));
    assert_eq!(run.code(), Some(0));
    assert_eq!(repo.read("s.txt"), "made\n");
    let events = run.events();
    let tool_use = &events[1]["message"]["content"][0];
    assert_eq!(tool_use["name"], "Bash");
    assert_eq!(tool_use["input"]["command"], "pwd; echo oops >&2; echo made > s.txt; exit 3");
    let tool_result = &events[2]["message"]["content"][0];
    assert_eq!(tool_result["content"], format!("{}\noops\n", repo.root.display()));
    assert_eq!(tool_result["is_error"], true);
}

#[test]
fn delete_dot_removes_the_working_directory_itself() {
    let repo = ScratchRepo::new();
    let run =
        run_codex(&repo, &json!([{"step": "delete", "path": "."}, {"step": "write", "path": "x", "content": "x"}]));
    assert_eq!(run.code(), Some(0));
    assert!(!repo.root.exists(), "the worktree is gone");
    assert!(run.stderr.contains("fake-agent: step 1 failed: opening"), "stderr: {}", run.stderr);
    let result: Value = serde_json::from_str(run.result_file.as_deref().unwrap()).unwrap();
    assert_eq!(result["changed_files"], json!(["x"]), "the cwd itself is no changed file");
}
