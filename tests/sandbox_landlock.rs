//! The agent under Landlock, end to end through the binary with the fake agent: what it may write
//! (its WRITE SCOPE, `$TMPDIR`, `--writable` / `WRITABLE:` paths, its private state and cache)
//! and what it may not (the user's checkout, `~/.bashrc`, the shared git dir and its worktree
//! admin folder, `/tmp`, `/dev/shm`, `/var/tmp`, the user's agent configuration and cache, other
//! worktrees in the cache); what Landlock cannot block and the run undoes instead (the
//! worktree's `.git` file); signals to
//! git-dispatch refused (ABI 6+); `auto` picking Landlock when bwrap is not usable, and none when
//! neither is.
//!
//! On a kernel without Landlock these tests print why and return (they cannot be forced here).

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::cli::{command_with_plan, dispatch, printed_run_dir, read_json, stderr, user_visible, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::tree_fingerprint;

/// The ABI Landlock enforces here; otherwise `None` after printing why.
fn landlock_abi() -> Option<u32> {
    match git_dispatch::sandbox::landlock_support() {
        Ok(abi) => Some(abi),
        Err(reason) => {
            support::skip::skip("landlock", &format!("Landlock cannot confine an agent here: {reason}"));
            None
        }
    }
}

use support::cli::{result_naming as result, tests_scope_packet as packet};

fn failed_steps(run_dir: &Path) -> Vec<usize> {
    let text = std::fs::read_to_string(run_dir.join("stderr.txt")).expect("stderr.txt");
    text.lines()
        .filter_map(|line| line.strip_prefix("fake-agent: step "))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect()
}

/// The `command_execution` items the agent completed, from events.jsonl.
fn completed_commands(run_dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(run_dir.join("events.jsonl")).expect("events.jsonl");
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["type"] == "item.completed" && event["item"]["type"] == "command_execution")
        .map(|event| event["item"].clone())
        .collect()
}

fn messages(policy: &Value) -> Vec<String> {
    policy["messages"].as_array().expect("list").iter().map(|m| m.as_str().expect("str").to_string()).collect()
}

fn landlock(fx: &Fixture, packet: &Path, plan: &Value, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let mut args = vec!["--sandbox", "landlock", "--quiet"];
    args.extend(extra);
    let output = dispatch(fx, packet, plan, &args);
    let run_dir = printed_run_dir(&output);
    (output, run_dir)
}

#[test]
fn landlock_confines_writes_to_the_worktree_tmpdir_and_writable_paths() {
    let Some(abi) = landlock_abi() else { return };
    let fx = fixture("python-project");
    std::fs::write(fx.home.join(".bashrc"), "# user's\n").expect(".bashrc");
    std::fs::create_dir_all(fx.home.join(".codex")).expect(".codex");
    std::fs::write(fx.home.join(".codex/config.toml"), "").expect("config.toml");
    let writable_flag = fx.root.join("writable-flag");
    let writable_field = fx.root.join("writable-field");
    let packet = packet(&fx, &format!("\nWRITABLE:\n- {}\n", writable_field.display()));
    let common = fx.repo.join(".git");
    let config_before = std::fs::read(common.join("config")).expect("config");
    let checkout_before = tree_fingerprint(&fx.repo);
    let tag = format!("gd-landlock-probe-{}", std::process::id());
    let outside =
        [std::env::temp_dir().join(&tag), PathBuf::from("/dev/shm").join(&tag), Path::new("/var/tmp").join(&tag)];
    let plan = json!([
        {"step": "write", "path": "tests/test_sandbox.py", "content": "def test_x():\n    pass\n"},
        {"step": "write", "path": fx.repo.join("src/evil.py"), "content": "evil\n"},
        {"step": "append", "path": fx.home.join(".bashrc"), "content": "evil\n"},
        {"step": "write", "path": common.join("hooks/post-commit"), "content": "#!/bin/sh\nevil\n"},
        {"step": "append", "path": common.join("config"), "content": "[core]\n\tfsmonitor = evil\n"},
        {"step": "write", "path": outside[0], "content": "evil\n"},
        {"step": "write", "path": outside[1], "content": "evil\n"},
        {"step": "write", "path": outside[2], "content": "evil\n"},
        {"step": "shell", "cmd": "printf ok > \"$TMPDIR/probe\" && cp \"$TMPDIR/probe\" tests/tmpdir_ok.txt"},
        {"step": "write", "path": writable_flag.join("out.txt"), "content": "flag\n"},
        {"step": "write", "path": writable_field.join("out.txt"), "content": "field\n"},
        {"step": "write", "path": fx.home.join(".codex/state.txt"), "content": "state\n"},
        {"step": "write", "path": fx.home.join(".codex/config.toml"), "content": "notify = [\"evil\"]\n"},
        {"step": "shell", "cmd": "echo evil > \"$(git rev-parse --absolute-git-dir)/planted\""},
        {"step": "shell", "cmd": "echo x > /dev/null && head -c 4 /dev/urandom > /dev/null && head -c 4 /dev/zero > /dev/null"},
        {"step": "shell", "cmd": "echo 'notify = [\"evil\"]' >> \"$CODEX_HOME/config.toml\" && echo s > \"$XDG_CACHE_HOME/s\""},
        result(&["tests/test_sandbox.py", "tests/tmpdir_ok.txt"]),
    ]);
    let flag = writable_flag.display().to_string();
    let (output, run_dir) = landlock(&fx, &packet, &plan, &["--writable", &flag, "--keep-worktree"]);
    for path in &outside {
        let _ = std::fs::remove_file(path);
    }
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(failed_steps(&run_dir), vec![1, 2, 3, 4, 5, 6, 7, 11, 12], "only the writes outside the sandbox fail");
    let exit_codes: Vec<Value> = completed_commands(&run_dir).iter().map(|item| item["exit_code"].clone()).collect();
    assert_eq!(
        exit_codes,
        [0, 2, 0, 0].map(|code| json!(code)),
        "TMPDIR, the admin folder, the devices, private state"
    );

    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["offered"], true, "{policy:#}");
    assert_eq!(policy["changed_paths"], json!(["tests/test_sandbox.py", "tests/tmpdir_ok.txt"]));
    assert_eq!(policy["git_dir_tampered"], json!([]));
    assert_eq!(policy["sandbox"]["kind"], "landlock");
    assert_eq!(policy["sandbox"]["abi"], abi);
    let run = read_json(&run_dir.join("run.json"));
    assert_eq!(run["sandbox"], policy["sandbox"]);
    let worktree = PathBuf::from(run["worktree"].as_str().expect("worktree"));
    let writable: Vec<&str> =
        policy["sandbox"]["writable"].as_array().expect("list").iter().map(|v| v.as_str().expect("str")).collect();
    for expected in [&worktree, &writable_flag, &writable_field] {
        assert!(writable.contains(&expected.to_str().expect("utf-8")), "{expected:?} in {writable:?}");
    }
    let run_id = run_dir.file_name().expect("run id").to_str().expect("utf-8");
    assert!(writable.iter().any(|path| path.ends_with(&format!("/agent/{run_id}"))), "the private state: {writable:?}");
    assert_eq!(writable.len(), 5, "those three, the private TMPDIR and state folder: {writable:?}");
    let config = fx.home.join(".codex/config.toml");
    assert!(messages(&policy).iter().all(|m| !m.contains("put back")), "nothing of the user's was written");

    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&checkout_before), "checkout untouched");
    assert!(!fx.repo.join("src/evil.py").exists());
    assert_eq!(std::fs::read_to_string(fx.home.join(".bashrc")).expect("bashrc"), "# user's\n");
    assert!(!common.join("hooks/post-commit").exists());
    assert_eq!(std::fs::read(common.join("config")).expect("config"), config_before);
    let admin = std::fs::read_dir(common.join("worktrees")).expect("admin dirs").flatten().map(|e| e.path());
    assert!(admin.into_iter().all(|dir| !dir.join("planted").exists()), "the worktree's admin folder is read-only");
    assert_eq!(std::fs::read_to_string(writable_flag.join("out.txt")).expect("--writable"), "flag\n");
    assert_eq!(std::fs::read_to_string(writable_field.join("out.txt")).expect("WRITABLE:"), "field\n");
    assert!(!fx.home.join(".codex/state.txt").exists(), "the user's ~/.codex is read-only");
    assert_eq!(std::fs::read_to_string(&config).expect("config"), "");
}

#[test]
fn landlock_gives_claude_a_private_copy_of_its_config_and_keeps_the_real_one() {
    if landlock_abi().is_none() {
        return;
    }
    let fx = fixture("python-project");
    std::fs::write(fx.home.join(".claude.json"), "{\"user\": 1}\n").expect(".claude.json");
    std::fs::create_dir_all(fx.home.join(".claude")).expect(".claude");
    std::fs::write(fx.home.join(".claude/settings.json"), "{}\n").expect("settings.json");
    let packet = packet(&fx, "");
    let hooks = "{\"hooks\": {\"SessionStart\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"evil\"}]}]}}\n";
    let private = format!(
        "grep -q user \"$CLAUDE_CONFIG_DIR/.claude.json\" && printf '%s' '{hooks}' > \"$CLAUDE_CONFIG_DIR/settings.json\" && \
         echo '{{}}' > \"$CLAUDE_CONFIG_DIR/.claude.json\" && echo ok > tests/private_ok.txt"
    );
    let plan = json!([
        {"step": "write", "path": "tests/test_claude.py", "content": "def test_c():\n    pass\n"},
        {"step": "write", "path": fx.home.join(".claude/session.json"), "content": "{}\n"},
        {"step": "write", "path": fx.home.join(".claude/settings.json"), "content": hooks},
        {"step": "write", "path": fx.home.join(".claude.json"), "content": "{\"mcpServers\": {}}\n"},
        {"step": "write", "path": fx.home.join(".profile"), "content": "evil\n"},
        {"step": "shell", "cmd": private},
        result(&["tests/private_ok.txt", "tests/test_claude.py"]),
    ]);
    let (output, run_dir) = landlock(&fx, &packet, &plan, &["--agent", "claude"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(failed_steps(&run_dir), vec![1, 2, 3, 4], "the user's state is read-only under Landlock too");
    assert!(!fx.home.join(".claude/session.json").exists());
    assert_eq!(std::fs::read_to_string(fx.home.join(".claude/settings.json")).expect("settings"), "{}\n");
    assert_eq!(std::fs::read_to_string(fx.home.join(".claude.json")).expect("file"), "{\"user\": 1}\n");
    assert!(!fx.home.join(".profile").exists());
    let changed = read_json(&run_dir.join("policy.json"))["changed_paths"].clone();
    assert_eq!(changed, json!(["tests/private_ok.txt", "tests/test_claude.py"]), "the private copy was written");
}

#[test]
fn landlock_refuses_signals_to_git_dispatch() {
    let Some(abi) = landlock_abi() else { return };
    if abi < 6 {
        support::skip::skip("landlock-abi", &format!("Landlock ABI {abi} has no signal scoping (ABI 6+)"));
        return;
    }
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let plan = json!([
        {"step": "kill_parent", "signal": "TERM"},
        {"step": "write", "path": "tests/after.txt", "content": "after\n"},
        result(&["tests/after.txt"]),
    ]);
    let (output, run_dir) = landlock(&fx, &packet, &plan, &[]);
    assert_eq!(output.status.code(), Some(0), "git-dispatch was not stopped: {}", stderr(&output));
    assert_eq!(failed_steps(&run_dir), vec![0], "the signal to git-dispatch is refused");
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["offered"], true, "{policy:#}");
    assert_eq!(policy["changed_paths"], json!(["tests/after.txt"]));
}

#[test]
fn auto_takes_landlock_without_bwrap_and_none_without_either() {
    if landlock_abi().is_none() {
        return;
    }
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let plan = json!([result(&[])]);
    let missing = fx.root.join("no-bwrap");
    let run = |choice: &str, no_landlock: bool| {
        let mut command = command_with_plan(&fx, &plan);
        command.env("GIT_DISPATCH_BWRAP", &missing);
        if no_landlock {
            command.env("GIT_DISPATCH_NO_LANDLOCK", "1");
        }
        command
            .args(["run", "--quiet", "--sandbox", choice, "--task"])
            .arg(&packet)
            .output()
            .expect("git-dispatch runs")
    };
    let auto = run("auto", false);
    assert_eq!(auto.status.code(), Some(0), "stderr: {}", stderr(&auto));
    let policy = read_json(&printed_run_dir(&auto).join("policy.json"));
    assert_eq!(policy["sandbox"]["kind"], "landlock", "{policy:#}");
    let note = format!("NOTE: bubblewrap is not usable here ({} cannot start: ", missing.display());
    assert!(messages(&policy).iter().any(|m| m.starts_with(&note)), "{policy:#}");

    let neither = run("auto", true);
    assert_eq!(neither.status.code(), Some(0), "stderr: {}", stderr(&neither));
    let policy = read_json(&printed_run_dir(&neither).join("policy.json"));
    assert_eq!(policy["sandbox"], json!({"kind": "none", "writable": []}));
    let warning = "and neither is Landlock (disabled by GIT_DISPATCH_NO_LANDLOCK); it could write anywhere";
    assert!(messages(&policy).iter().any(|m| m.starts_with("WARNING: ") && m.contains(warning)), "{policy:#}");

    let explicit = run("landlock", true);
    assert_eq!(explicit.status.code(), Some(1), "stderr: {}", stderr(&explicit));
    let line =
        "error: ERROR at stage sandbox: --sandbox landlock: Landlock cannot confine the agent here: disabled by \
                GIT_DISPATCH_NO_LANDLOCK (run folder ";
    assert!(stderr(&explicit).trim().starts_with(line), "one line: {}", stderr(&explicit));
    assert_eq!(stderr(&explicit).trim().lines().count(), 1);
    let policy = read_json(&printed_run_dir(&explicit).join("policy.json"));
    assert_eq!(policy["offered"], false);
}

/// The agent points its `.git` file at a git dir it built (Landlock cannot make that file
/// read-only): the run is flagged and the snapshot puts the file back before any git reads it.
#[test]
fn landlock_lets_the_git_file_be_rewritten_but_the_planted_git_dir_never_runs() {
    if landlock_abi().is_none() {
        return;
    }
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let marker = fx.root.join("payload-ran");
    let payload = format!("sh -c 'echo ran >> {}; cat'", marker.display());
    let plant = format!(
        "E=\"$TMPDIR/evil.git\" && git init -q --bare \"$E\" && git --git-dir=\"$E\" config core.fsmonitor \"{payload}\" \
         && git --git-dir=\"$E\" config core.bare false && git --git-dir=\"$E\" config core.worktree \"$PWD\" && \
         printf 'gitdir: %s\\n' \"$E\" > .git"
    );
    let plan = json!([
        {"step": "write", "path": "tests/x.txt", "content": "x\n"},
        {"step": "shell", "cmd": plant},
        result(&["tests/x.txt"]),
    ]);
    let (output, run_dir) = landlock(&fx, &packet, &plan, &[]);
    assert_eq!(failed_steps(&run_dir), Vec::<usize>::new(), "the .git file is writable under Landlock");
    assert_eq!(output.status.code(), Some(3), "flagged: {}", stderr(&output));
    assert_eq!(read_json(&run_dir.join("policy.json"))["offered"], false);
    let second = dispatch(&fx, &packet, &json!([result(&[])]), &["--sandbox", "landlock", "--quiet"]);
    assert_eq!(second.status.code(), Some(0), "a later dispatch: {}", stderr(&second));
    assert!(!marker.exists(), "the planted payload never ran");
}

#[test]
fn verification_commands_run_under_landlock_too() {
    if landlock_abi().is_none() {
        return;
    }
    let fx = fixture("python-project");
    std::fs::write(fx.home.join(".bashrc"), "# user's\n").expect(".bashrc");
    let text = std::fs::read_to_string(packet(&fx, "")).expect("packet").replace(
        "VERIFICATION:\n- true\n",
        "VERIFICATION:\n- test -w \"$TMPDIR\" && test -w tests\n- printf 'evil\\n' >> \"$HOME/.bashrc\"\n",
    );
    let packet = write_packet(&fx, "verify.md", &text);
    let plan = json!([{"step": "write", "path": "tests/v.txt", "content": "v\n"}, result(&["tests/v.txt"])]);
    let (output, run_dir) = landlock(&fx, &packet, &plan, &["--verify"]);
    assert_eq!(output.status.code(), Some(3), "stderr: {}", stderr(&output));
    let verification = read_json(&run_dir.join("verification.json"));
    assert_eq!(verification["commands"][0]["passed"], true, "{verification:#}");
    assert_eq!(verification["commands"][1]["passed"], false, "{verification:#}");
    assert!(verification["commands"][1]["output_tail"].as_str().expect("tail").contains("Permission denied"));
    assert_eq!(std::fs::read_to_string(fx.home.join(".bashrc")).expect("bashrc"), "# user's\n");
}

/// The cache is private; only a `--writable` folder of the real one is shared (linked into the
/// private cache under its name); the other worktrees in the real cache stay read-only.
#[test]
fn landlock_gives_a_private_cache_and_shares_only_a_writable_folder_of_the_real_one() {
    if landlock_abi().is_none() {
        return;
    }
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let cache = fx.root.join("cache");
    let pip = cache.join("pip");
    let plan = json!([
        {"step": "write", "path": "tests/c.txt", "content": "c\n"},
        {"step": "write", "path": cache.join("cached.txt"), "content": "cached\n"},
        {"step": "write", "path": "../planted-beside.txt", "content": "evil\n"},
        {"step": "write", "path": cache.join("git-dispatch/worktrees/planted.txt"), "content": "evil\n"},
        {"step": "shell", "cmd": "echo p > \"$XDG_CACHE_HOME/pip/wheel\" && echo own > \"$XDG_CACHE_HOME/own\""},
        result(&["tests/c.txt"]),
    ]);
    let flag = pip.display().to_string();
    let output = command_with_plan(&fx, &plan)
        .env_remove("GIT_DISPATCH_WORKTREES")
        .args(["run", "--quiet", "--sandbox", "landlock", "--keep-worktree", "--writable", &flag, "--task"])
        .arg(&packet)
        .output()
        .expect("git-dispatch runs");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let worktree = PathBuf::from(read_json(&run_dir.join("run.json"))["worktree"].as_str().expect("worktree"));
    assert!(worktree.starts_with(cache.join("git-dispatch/worktrees")), "{worktree:?}");
    assert_eq!(failed_steps(&run_dir), vec![1, 2, 3]);
    assert_eq!(completed_commands(&run_dir).pop().expect("shell")["exit_code"], 0, "the private cache is writable");
    assert!(!cache.join("cached.txt").exists() && !cache.join("own").exists(), "the user's cache is untouched");
    assert_eq!(std::fs::read_to_string(pip.join("wheel")).expect("--writable ~/.cache/pip"), "p\n");
    assert!(!worktree.parent().expect("parent").join("planted-beside.txt").exists());
    assert!(!cache.join("git-dispatch/worktrees/planted.txt").exists());
}
