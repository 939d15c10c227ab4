//! The agent under bubblewrap, end to end through the binary with the fake agent: what it may
//! write (its WRITE SCOPE, `$TMPDIR`, `--writable` / `WRITABLE:` paths, its private state and
//! cache) and what it may not (the user's checkout, `~/.bashrc`, the shared git dir, its
//! worktree's `.git` file, `/tmp`, the user's own agent configuration and cache); no process
//! outlives it; `sandbox` is recorded in policy.json and run.json. Also
//! `--sandbox none` and the fallback of `auto` to none when neither bwrap nor Landlock is usable
//! (Landlock itself: `sandbox_landlock.rs`).
//!
//! Without a usable bwrap these tests print SKIPPED, except under `CI=true`, where they fail.

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::cli::{command_with_plan, dispatch, printed_run_dir, read_json, stderr, user_visible, write_packet};
use support::fixtures::fixture;
use support::git::tree_fingerprint;

/// bwrap works here; otherwise `false` after printing SKIPPED (a panic under `CI=true`).
fn bwrap_usable() -> bool {
    let works = std::process::Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "true"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !works {
        support::skip::skip("bwrap", "bwrap --ro-bind / / true does not work here");
    }
    works
}

use support::cli::{result_naming as result, tests_scope_packet as packet};

/// A command line that is unique to this test process, for finding a leftover daemon in /proc.
fn daemon_seconds(salt: u32) -> String {
    format!("{}", 100_000 + (std::process::id() % 50_000) * 8 + salt)
}

/// The pids of live `sleep <seconds>` processes.
fn sleepers(seconds: &str) -> Vec<i32> {
    let wanted = format!("sleep\0{seconds}\0");
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| cmd == wanted.as_bytes()))
        .filter(|pid| !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| stat.contains(") Z ")))
        .collect()
}

fn daemon_step(seconds: &str) -> Value {
    json!({"step": "shell", "cmd": format!("setsid sleep {seconds} </dev/null >/dev/null 2>&1 &")})
}

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

#[test]
fn bwrap_confines_writes_to_the_worktree_tmpdir_and_writable_paths() {
    if !bwrap_usable() {
        return;
    }
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
    let tmp_probe = std::env::temp_dir().join(format!("gd-sandbox-probe-{}", std::process::id()));
    let seconds = daemon_seconds(0);
    let plan = json!([
        {"step": "write", "path": "tests/test_sandbox.py", "content": "def test_x():\n    pass\n"},
        {"step": "write", "path": fx.repo.join("src/evil.py"), "content": "evil\n"},
        {"step": "append", "path": fx.home.join(".bashrc"), "content": "evil\n"},
        {"step": "write", "path": common.join("hooks/post-commit"), "content": "#!/bin/sh\nevil\n"},
        {"step": "append", "path": common.join("config"), "content": "[core]\n\tfsmonitor = evil\n"},
        {"step": "write", "path": ".git", "content": "gitdir: /evil\n"},
        {"step": "write", "path": tmp_probe, "content": "evil\n"},
        {"step": "shell", "cmd": "printf ok > \"$TMPDIR/probe\" && cp \"$TMPDIR/probe\" tests/tmpdir_ok.txt"},
        {"step": "write", "path": writable_flag.join("out.txt"), "content": "flag\n"},
        {"step": "write", "path": writable_field.join("out.txt"), "content": "field\n"},
        {"step": "write", "path": fx.home.join(".codex/state.txt"), "content": "state\n"},
        {"step": "write", "path": fx.home.join(".codex/config.toml"), "content": "notify = [\"evil\"]\n"},
        daemon_step(&seconds),
        {"step": "shell", "cmd": "echo 'notify = [\"evil\"]' >> \"$CODEX_HOME/config.toml\" && echo s > \"$XDG_CACHE_HOME/s\""},
        {"step": "write", "path": fx.root.join("cache/planted.txt"), "content": "evil\n"},
        result(&["tests/test_sandbox.py", "tests/tmpdir_ok.txt"]),
    ]);
    let flag = writable_flag.display().to_string();
    let output =
        dispatch(&fx, &packet, &plan, &["--sandbox", "bwrap", "--writable", &flag, "--keep-worktree", "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    assert_eq!(failed_steps(&run_dir), vec![1, 2, 3, 4, 5, 6, 10, 11, 14], "only the writes outside the sandbox fail");
    let exit_codes: Vec<Value> = completed_commands(&run_dir).iter().map(|item| item["exit_code"].clone()).collect();
    assert_eq!(exit_codes.last(), Some(&json!(0)), "the private CODEX_HOME and cache are writable");

    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["offered"], true, "{policy:#}");
    assert_eq!(policy["changed_paths"], json!(["tests/test_sandbox.py", "tests/tmpdir_ok.txt"]));
    assert_eq!(policy["git_dir_tampered"], json!([]));
    assert_eq!(policy["sandbox"]["kind"], "bwrap");
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
    assert!(policy["messages"].as_array().expect("list").iter().all(|m| !m.as_str().unwrap_or("").contains("WARNING")));

    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&checkout_before), "checkout untouched");
    assert!(!fx.repo.join("src/evil.py").exists());
    assert_eq!(std::fs::read_to_string(fx.home.join(".bashrc")).expect("bashrc"), "# user's\n");
    assert!(!common.join("hooks/post-commit").exists());
    assert_eq!(std::fs::read(common.join("config")).expect("config"), config_before);
    assert!(std::fs::read_to_string(worktree.join(".git")).expect(".git").starts_with("gitdir: "));
    assert!(!std::fs::read_to_string(worktree.join(".git")).expect(".git").contains("/evil"));
    assert!(!tmp_probe.exists(), "/tmp is read-only");
    assert_eq!(std::fs::read_to_string(writable_flag.join("out.txt")).expect("--writable"), "flag\n");
    assert_eq!(std::fs::read_to_string(writable_field.join("out.txt")).expect("WRITABLE:"), "field\n");
    assert!(!fx.home.join(".codex/state.txt").exists(), "the user's ~/.codex is read-only");
    assert_eq!(std::fs::read_to_string(fx.home.join(".codex/config.toml")).expect("config"), "");
    assert!(!fx.root.join("cache/planted.txt").exists(), "the user's cache is read-only");
    let layouts = std::fs::read_dir(fx.worktrees_root()).expect("worktrees root").flatten();
    assert!(layouts.into_iter().all(|layout| !layout.path().join("agent").exists()), "the private state is gone");
    assert_eq!(sleepers(&seconds), Vec::<i32>::new(), "the agent's daemon died with the sandbox");
}

#[test]
fn bwrap_gives_claude_a_private_copy_of_its_config_and_keeps_the_real_one() {
    if !bwrap_usable() {
        return;
    }
    let fx = fixture("python-project");
    std::fs::write(fx.home.join(".claude.json"), "{\"user\": 1}\n").expect(".claude.json");
    std::fs::create_dir_all(fx.home.join(".claude")).expect(".claude");
    std::fs::write(fx.home.join(".claude/settings.json"), "{}\n").expect("settings.json");
    let packet = packet(&fx, "");
    let hooks = "{\"hooks\": {\"SessionStart\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"evil\"}]}]}}\n";
    let private = format!(
        "grep -q user \"$CLAUDE_CONFIG_DIR/.claude.json\" && grep -q . \"$CLAUDE_CONFIG_DIR/settings.json\" && \
         printf '%s' '{hooks}' > \"$CLAUDE_CONFIG_DIR/settings.json\" && echo '{{\"mcpServers\": {{}}}}' > \"$CLAUDE_CONFIG_DIR/.claude.json\" && \
         echo ok > tests/private_ok.txt"
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
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "bwrap", "--agent", "claude", "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    assert_eq!(failed_steps(&run_dir), vec![1, 2, 3, 4]);
    assert!(!fx.home.join(".claude/session.json").exists());
    assert_eq!(std::fs::read_to_string(fx.home.join(".claude/settings.json")).expect("settings"), "{}\n");
    assert_eq!(std::fs::read_to_string(fx.home.join(".claude.json")).expect("file"), "{\"user\": 1}\n");
    assert!(!fx.home.join(".profile").exists());
    let changed = read_json(&run_dir.join("policy.json"))["changed_paths"].clone();
    assert_eq!(changed, json!(["tests/private_ok.txt", "tests/test_claude.py"]), "the private copy was written");
}

#[test]
fn sandbox_none_records_kind_none_and_a_warning() {
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let seconds = daemon_seconds(1);
    let plan = json!([
        {"step": "write", "path": "tests/test_none.py", "content": "def test_n():\n    pass\n"},
        daemon_step(&seconds),
        result(&["tests/test_none.py"]),
    ]);
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "none", "--quiet"]);
    let left = sleepers(&seconds);
    for pid in &left {
        let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    }
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    assert_eq!(policy["sandbox"], json!({"kind": "none", "writable": []}));
    assert!(
        policy["messages"].as_array().expect("list").iter().any(|m| m
            == "WARNING: the agent ran without a sandbox (--sandbox none): it could write anywhere this user can."),
        "{policy:#}"
    );
    // Unconfined, a setsid daemon may outlive the agent (this is what bwrap prevents); whether it is
    // still there here depends on timing, so it is only reported.
    if left.is_empty() {
        eprintln!("note: the unconfined daemon was already gone");
    }
}

#[test]
fn auto_falls_back_to_none_and_explicit_bwrap_fails_when_bwrap_and_landlock_are_unusable() {
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let plan = json!([result(&[])]);
    let missing = fx.root.join("no-bwrap");
    let run = |choice: &str| {
        command_with_plan(&fx, &plan)
            .env("GIT_DISPATCH_BWRAP", &missing)
            .env("GIT_DISPATCH_NO_LANDLOCK", "1")
            .args(["run", "--quiet", "--sandbox", choice, "--task"])
            .arg(&packet)
            .output()
            .expect("git-dispatch runs")
    };
    let auto = run("auto");
    assert_eq!(auto.status.code(), Some(0), "stderr: {}", stderr(&auto));
    let policy = read_json(&printed_run_dir(&auto).join("policy.json"));
    assert_eq!(policy["sandbox"], json!({"kind": "none", "writable": []}));
    let warning = format!(
        "WARNING: the agent ran without a sandbox: bubblewrap is not usable here ({} cannot start: ",
        missing.display()
    );
    assert!(
        policy["messages"]
            .as_array()
            .expect("list")
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m.starts_with(&warning))),
        "{policy:#}"
    );

    let explicit = run("bwrap");
    assert_eq!(explicit.status.code(), Some(1), "stderr: {}", stderr(&explicit));
    let policy = read_json(&printed_run_dir(&explicit).join("policy.json"));
    assert_eq!(policy["offered"], false);
    let message = policy["messages"].as_array().expect("list").last().expect("one").as_str().expect("str");
    assert!(message.starts_with("ERROR at stage sandbox: --sandbox bwrap: bubblewrap cannot make a sandbox here: "));
}

/// A plan that plants a git dir (filter driver, fsmonitor, non-bare, worktree = the agent's cwd)
/// at the shell expression `evil`, marks every file for that filter, then points the worktree's
/// `.git` file at it: any git tool (gix included) that opens the worktree afterwards runs `marker`.
fn planted_gitdir_plan(evil: &str, marker: &Path) -> Value {
    let payload = format!("sh -c 'echo ran >> {}; cat'", marker.display());
    let plant = format!(
        "E={evil} && git init -q --bare \"$E\" && git --git-dir=\"$E\" config filter.evil.clean \"{payload}\" && \
         git --git-dir=\"$E\" config filter.evil.required true && git --git-dir=\"$E\" config core.fsmonitor \"{payload}\" && \
         git --git-dir=\"$E\" config core.bare false && git --git-dir=\"$E\" config core.worktree \"$PWD\" && \
         printf 'gitdir: %s\\n' \"$E\" > .git"
    );
    json!([
        {"step": "write", "path": "tests/.gitattributes", "content": "* filter=evil\n"},
        {"step": "write", "path": "tests/x.txt", "content": "x\n"},
        {"step": "shell", "cmd": plant},
        result(&["tests/.gitattributes", "tests/x.txt"]),
    ])
}

#[test]
fn bwrap_keeps_the_worktree_git_file_so_a_planted_git_dir_never_runs() {
    if !bwrap_usable() {
        return;
    }
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let marker = fx.root.join("payload-ran");
    let plan = planted_gitdir_plan("\"$TMPDIR/evil.git\"", &marker);
    // The .gitattributes naming the filter is a sensitive change: allowed here, so the run is clean.
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "bwrap", "--quiet", "--allow", "gitattributes"]);
    let run_dir = printed_run_dir(&output);
    let shell = completed_commands(&run_dir).pop().expect("the planting command completed");
    assert_eq!(shell["exit_code"], 2, "{shell}");
    assert_eq!(shell["aggregated_output"], "sh: 1: cannot create .git: Read-only file system\n");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let second = dispatch(&fx, &packet, &json!([result(&[])]), &["--sandbox", "bwrap", "--quiet"]);
    assert_eq!(second.status.code(), Some(0), "a later dispatch on the pooled worktree: {}", stderr(&second));
    assert!(!marker.exists(), "the planted payload never ran");
}

/// Outside the sandbox the agent can rewrite its `.git` file to point at a git dir it built with a
/// clean filter; the snapshot puts the `.git` file back before opening the worktree, so the planted
/// filter never runs.
#[test]
fn unconfined_a_planted_git_dir_is_not_run_by_the_snapshot() {
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let marker = fx.root.join("payload-ran");
    let plan = planted_gitdir_plan(&format!("{}", fx.root.join("evil.git").display()), &marker);
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "none", "--quiet"]);
    assert_eq!(output.status.code(), Some(3), "stderr: {}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&marker).ok(), None, "the planted filter ran");
}

#[test]
fn verification_commands_run_in_the_sandbox_too() {
    if !bwrap_usable() {
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
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "bwrap", "--verify", "--quiet"]);
    assert_eq!(output.status.code(), Some(3), "stderr: {}", stderr(&output));
    let verification = read_json(&printed_run_dir(&output).join("verification.json"));
    assert_eq!(verification["commands"][0]["passed"], true, "{verification:#}");
    assert_eq!(verification["commands"][1]["passed"], false, "{verification:#}");
    assert!(verification["commands"][1]["output_tail"].as_str().expect("tail").contains("Read-only file system"));
    assert_eq!(std::fs::read_to_string(fx.home.join(".bashrc")).expect("bashrc"), "# user's\n");
}

#[test]
fn the_watchdog_stops_a_confined_agent_and_everything_it_started() {
    if !bwrap_usable() {
        return;
    }
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let seconds = daemon_seconds(2);
    let plan = json!([
        {"step": "shell", "cmd": format!("sleep {seconds} </dev/null >/dev/null 2>&1 &")},
        daemon_step(&daemon_seconds(3)),
        {"step": "hang"},
    ]);
    let started = std::time::Instant::now();
    let output = dispatch(
        &fx,
        &packet,
        &plan,
        &["--sandbox", "bwrap", "--heartbeat-sec", "1", "--timeout-sec", "60", "--quiet"],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "stopped by the heartbeat");
    assert_eq!(output.status.code(), Some(3), "stderr: {}", stderr(&output));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    assert_eq!(policy["watchdog_killed"], true, "{policy:#}");
    assert_eq!(sleepers(&seconds), Vec::<i32>::new(), "the agent's child is gone");
    assert_eq!(sleepers(&daemon_seconds(3)), Vec::<i32>::new(), "the agent's setsid daemon is gone");
}

#[test]
fn the_cache_is_private_and_only_a_writable_folder_of_the_real_one_is_shared() {
    if !bwrap_usable() {
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
        {"step": "shell", "cmd": format!(
            "test \"$XDG_CACHE_HOME\" != {} && echo p > \"$XDG_CACHE_HOME/pip/wheel\" && echo own > \"$XDG_CACHE_HOME/own\"",
            cache.display()
        )},
        result(&["tests/c.txt"]),
    ]);
    let flag = pip.display().to_string();
    let output = command_with_plan(&fx, &plan)
        .env_remove("GIT_DISPATCH_WORKTREES")
        .args(["run", "--quiet", "--sandbox", "bwrap", "--keep-worktree", "--writable", &flag, "--task"])
        .arg(&packet)
        .output()
        .expect("git-dispatch runs");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let run_dir = printed_run_dir(&output);
    let worktree = PathBuf::from(read_json(&run_dir.join("run.json"))["worktree"].as_str().expect("worktree"));
    assert!(worktree.starts_with(cache.join("git-dispatch/worktrees")), "{worktree:?}");
    let agent_stderr = std::fs::read_to_string(run_dir.join("stderr.txt")).expect("stderr");
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(failed_steps(&run_dir), vec![1, 2, 3], "{agent_stderr} {}", policy["sandbox"]);
    assert_eq!(completed_commands(&run_dir).pop().expect("shell")["exit_code"], 0, "the private cache is writable");
    assert!(!cache.join("cached.txt").exists() && !cache.join("own").exists(), "the user's cache is untouched");
    assert_eq!(std::fs::read_to_string(pip.join("wheel")).expect("--writable ~/.cache/pip"), "p\n");
    assert!(!worktree.parent().expect("parent").join("planted-beside.txt").exists());
    assert!(!cache.join("git-dispatch/worktrees/planted.txt").exists());
}
