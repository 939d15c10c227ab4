//! End to end through the binary: agents (the fake agent, unconfined with `--sandbox none`) that
//! tamper with the shared git dir through their worktree, or write into the user's checkout by
//! absolute path. Each run exits 3 and names what it touched; the git dir (reflogs and the admin
//! links of dispatch worktrees included) is byte-identical afterwards (restored) with the
//! tampered copies kept under `<run>/tampered/`.

mod support;

use std::path::Path;

use serde_json::json;
use support::cli::{dispatch, printed_run_dir, read_json, stderr, worker_packet, write_packet};
use support::fixtures::fixture;
use support::git::{git, tree_fingerprint};

/// The fingerprint of checkout and git dir without what a run may add: its run folder, the exclude
/// line in info/exclude, and its own `dispatch/*` branch with its reflog.
fn guarded(repo: &Path) -> String {
    tree_fingerprint(repo)
        .lines()
        .filter(|line| !line.starts_with(".codex-dispatch") && !line.starts_with(".git/info/exclude"))
        .filter(|line| !line.contains("refs/heads/dispatch"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn tampering_with_the_shared_git_dir_is_a_violation_and_is_undone() {
    let fx = fixture("python-project");
    // A first run puts the exclude line in place, so the fingerprint below covers info/ fully.
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let warmup = dispatch(&fx, &packet, &json!([]), &["--sandbox", "none"]);
    assert_eq!(warmup.status.code(), Some(0), "{}", stderr(&warmup));
    let git_dir = fx.repo.join(".git");
    let before = guarded(&fx.repo);
    let main_before = git(&fx.repo, &["rev-parse", "main"]);
    let plan = json!([
        {"step": "git", "args": ["config", "core.hooksPath", "/tmp/x"]},
        {"step": "write", "path": git_dir.join("hooks/pre-commit"), "content": "#!/bin/sh\necho pwned\n"},
        {"step": "write", "path": "tests/new.py", "content": "x = 1\n"},
        {"step": "commit", "message": "agent commit"},
        {"step": "git", "args": ["update-ref", "refs/heads/main", "HEAD"]},
        {"step": "git", "args": ["tag", "evil"]},
        {"step": "write", "path": git_dir.join("info/attributes"), "content": "* filter=evil\n"},
    ]);
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "none"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(
        policy["git_dir_tampered"],
        json!([
            "config",
            "hooks/pre-commit",
            "info/attributes",
            "logs/refs/heads/main",
            "refs/heads/main",
            "refs/tags/evil"
        ]),
        "{policy:#}"
    );
    assert_eq!(policy["main_checkout_changed"], json!([]));
    assert_eq!(policy["offered"], false);
    assert_eq!(policy["policy_violation"], true);
    assert!(policy["messages"].to_string().contains("git dir"), "{}", policy["messages"]);

    // Reflogs are outside the guard (SPEC §4 lists refs, not their logs): the agent's update-ref
    // leaves a line in logs/refs/heads/main. Everything else is byte-identical.
    let without_main_reflog = |text: &str| {
        text.lines().filter(|l| !l.starts_with(".git/logs/refs/heads/main")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(
        without_main_reflog(&guarded(&fx.repo)),
        without_main_reflog(&before),
        "the git dir is byte-identical after the restore"
    );
    assert_eq!(git(&fx.repo, &["rev-parse", "main"]), main_before);
    assert_eq!(git(&fx.repo, &["tag", "--list"]), "");
    let hooks_path = support::git::git_output(&fx.repo, &["config", "--get-all", "core.hooksPath"]);
    assert_eq!((hooks_path.status.code(), hooks_path.stdout), (Some(1), Vec::new()), "hooksPath is gone");
    assert!(!git_dir.join("hooks/pre-commit").exists());
    assert!(!git_dir.join("info/attributes").exists());

    let tampered = run_dir.join("tampered");
    let config = std::fs::read_to_string(tampered.join("config")).expect("tampered config kept");
    assert!(config.contains("hooksPath = /tmp/x"), "{config}");
    assert_eq!(
        std::fs::read_to_string(tampered.join("hooks/pre-commit")).expect("tampered hook kept"),
        "#!/bin/sh\necho pwned\n"
    );
    assert_eq!(std::fs::read_to_string(tampered.join("info/attributes")).expect("kept"), "* filter=evil\n");
    let kept_main = std::fs::read_to_string(tampered.join("refs/heads/main")).expect("moved ref kept");
    assert_eq!(
        git(&fx.repo, &["log", "-1", "--format=%s", kept_main.trim()]),
        "agent commit\n",
        "the kept copy of main points at the agent's commit"
    );
    assert!(tampered.join("MANIFEST.json").is_file());
    assert_eq!(git(&fx.repo, &["fsck", "--no-progress", "--no-dangling"]), "");
}

#[test]
fn writing_into_the_users_checkout_is_flagged() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let target = fx.repo.join("src/app/util.py");
    let plan = json!([
        {"step": "write", "path": "tests/ok.py", "content": "ok = 1\n"},
        {"step": "write", "path": target, "content": "escaped = True\n"},
    ]);
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "none"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    assert_eq!(policy["main_checkout_changed"], json!(["src/app/util.py"]), "{policy:#}");
    assert_eq!(policy["git_dir_tampered"], json!([]));
    assert_eq!(policy["offered"], false);
    assert_eq!(policy["changed_paths"], json!(["tests/ok.py"]), "the worktree's own change is still recorded");
    assert_eq!(std::fs::read_to_string(&target).expect("util"), "escaped = True\n", "not undone: only flagged");
    assert_eq!(git(&fx.repo, &["branch", "--list", "dispatch/*"]), "", "nothing is offered");
}

/// Unconfined, the agent redirects the `commondir` of another (idle, pooled) dispatch worktree to
/// a copy of the git dir with a filter driver and fsmonitor: the run is flagged, the link put
/// back, and the next run that takes that worktree from the pool never runs the payload.
#[test]
fn a_redirected_commondir_of_a_pooled_worktree_is_flagged_put_back_and_never_read() {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/"));
    let pooled = dispatch(&fx, &packet, &json!([]), &["--sandbox", "none"]);
    assert_eq!(pooled.status.code(), Some(0), "{}", stderr(&pooled));
    let worktrees = fx.repo.join(".git/worktrees");
    let names: Vec<String> = std::fs::read_dir(&worktrees)
        .expect("admin dirs")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "one pooled worktree: {names:?}");
    let commondir = worktrees.join(&names[0]).join("commondir");
    let link_before = std::fs::read(&commondir).expect("commondir");
    let payload = fx.root.join("payload.sh");
    std::fs::write(&payload, format!("#!/bin/sh\ntouch {}\ncat\n", fx.root.join("PWNED").display())).expect("payload");
    git(&fx.repo, &["update-index", "--refresh"]);
    let evil = fx.root.join("evil.git");
    let plant = format!(
        "cp -r {git} {evil} && git --git-dir={evil} config filter.evil.clean 'sh {payload}' && \
         git --git-dir={evil} config core.fsmonitor 'sh {payload}' && echo '* filter=evil' > {evil}/info/attributes && \
         echo {evil} > {commondir}",
        git = fx.repo.join(".git").display(),
        evil = evil.display(),
        payload = payload.display(),
        commondir = commondir.display()
    );
    let plan = json!([{"step": "shell", "cmd": plant}, {"step": "write", "path": "tests/t.py", "content": "t\n"}]);
    let hostile = dispatch(&fx, &packet, &plan, &["--sandbox", "none", "--fresh"]);
    assert_eq!(hostile.status.code(), Some(3), "{}", stderr(&hostile));
    let policy = read_json(&printed_run_dir(&hostile).join("policy.json"));
    let expected = format!("worktrees/{}/commondir", names[0]);
    assert_eq!(policy["git_dir_tampered"], json!([expected]), "{policy:#}");
    assert_eq!(std::fs::read(&commondir).expect("commondir"), link_before, "put back");
    let later = dispatch(&fx, &packet, &json!([{"step": "write", "path": "tests/l.py", "content": "l\n"}]), &[]);
    assert_eq!(later.status.code(), Some(0), "{}", stderr(&later));
    assert_eq!(read_json(&printed_run_dir(&later).join("run.json"))["warm_start"], true, "the pooled one was taken");
    assert!(!fx.root.join("PWNED").exists(), "the planted payload ran");
}
