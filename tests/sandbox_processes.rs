//! The process side of both sandboxes, from outside, through the binary with the fake agent
//! (issue 14 items 1, 3 and 5): under `--sandbox bwrap` and `--sandbox landlock`,
//! - a `setsid` daemon and a double-forked daemon in a group of its own are gone after the run,
//!   and after a SIGKILL of git-dispatch;
//! - TIOCSTI from the agent never reaches the user's terminal (git-dispatch under a pty made by
//!   `script`), and under Landlock the seccomp filter refuses it even on a pty of the agent's own;
//! - as root, the agent has no capability: remounting the read-only binds, `mount`, `mknod` and
//!   `unshare -m` fail, `CapEff`/`CapBnd` are empty, no_new_privs is set;
//! - a hostile agent program probed with `--version`, and SETUP, cannot write `~/.bashrc`.
//!
//! A sandbox that cannot be had here is SKIPPED (a failure under `CI=true`); so are the root and
//! pty cases without root or `script`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use support::cli::{command_with_plan, dispatch, printed_run_dir, read_json, stderr, tests_scope_packet as packet};
use support::fixtures::{fixture, Fixture};
use support::procs;

fn skip(key: &str, reason: &str) {
    support::skip::skip(key, reason);
}

/// The sandboxes this machine has, each one missing SKIPPED.
fn sandboxes() -> Vec<&'static str> {
    let mut found = Vec::new();
    match git_dispatch::sandbox::bwrap_usable() {
        Ok(_) => found.push("bwrap"),
        Err(reason) => skip("bwrap", &reason),
    }
    match git_dispatch::sandbox::landlock_support() {
        Ok(_) => found.push("landlock"),
        Err(reason) => skip("landlock", &reason),
    }
    found
}

/// A folder outside the repository the agent may write (`--writable`), for its reports.
fn out_dir(fx: &Fixture) -> PathBuf {
    let out = fx.root.join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    out
}

fn writable_flag(fx: &Fixture) -> String {
    out_dir(fx).display().to_string()
}

/// Live fake-agent helpers of this fixture (their command lines name its pid files), whatever the
/// pid namespace they were started in.
fn helpers_left(fx: &Fixture) -> Vec<(i32, String)> {
    let root = fx.root.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| procs::alive(*pid))
        .map(|pid| (pid, procs::command_line(pid)))
        .filter(|(_, cmd)| cmd.contains("--fake-agent-internal") && cmd.contains(&root))
        .collect()
}

/// Waits (bounded) until no helper of the fixture is alive; kills and returns those still there.
fn wait_no_helpers(fx: &Fixture, limit: Duration) -> Vec<(i32, String)> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = helpers_left(fx);
        if left.is_empty() || std::time::Instant::now() >= deadline {
            left.iter().for_each(|(pid, _)| procs::kill(*pid));
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn daemons_plan(out: &Path) -> Value {
    json!([
        {"step": "setsid_daemon", "pidfile": out.join("setsid.pid"), "sleep_secs": 300, "stdio": "null"},
        {"step": "group_daemon", "pidfile": out.join("group.pid"), "sleep_secs": 300, "stdio": "null"},
        {"step": "spawn_child", "sleep_secs": 300, "stdio": "null"},
        {"step": "write", "path": out.join("started"), "content": "yes\n"},
    ])
}

#[test]
fn daemons_that_leave_the_agents_group_end_with_the_run() {
    for sandbox in sandboxes() {
        let fx = fixture("python-project");
        let out = out_dir(&fx);
        let output = dispatch(
            &fx,
            &packet(&fx, ""),
            &daemons_plan(&out),
            &["--sandbox", sandbox, "--writable", &writable_flag(&fx)],
        );
        assert!(out.join("started").exists(), "[{sandbox}] the daemons started: {}", stderr(&output));
        assert_eq!(read_json(&printed_run_dir(&output).join("policy.json"))["sandbox"]["kind"], sandbox);
        assert_eq!(wait_no_helpers(&fx, Duration::from_secs(5)), vec![], "[{sandbox}] nothing outlives the run");
    }
}

#[test]
fn daemons_end_when_git_dispatch_is_killed() {
    for sandbox in sandboxes() {
        let fx = fixture("python-project");
        let out = out_dir(&fx);
        let mut plan = daemons_plan(&out);
        plan.as_array_mut().expect("list").push(json!({"step": "hang"}));
        let mut running = command_with_plan(&fx, &plan)
            .args(["run", "--quiet", "--sandbox", sandbox, "--writable", &writable_flag(&fx), "--task"])
            .arg(packet(&fx, ""))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git-dispatch starts");
        let started = procs::wait_for_file(&out.join("started"), Duration::from_secs(30), |text| text == "yes\n");
        let before = helpers_left(&fx).len();
        let _ = running.kill();
        let _ = running.wait();
        assert!(started, "[{sandbox}] the daemons started");
        assert!(before >= 2, "[{sandbox}] the two daemons were alive: {before}");
        assert_eq!(wait_no_helpers(&fx, Duration::from_secs(10)), vec![], "[{sandbox}] nothing outlives git-dispatch");
    }
}

/// The agent tries TIOCSTI on `/dev/tty`, on the user's terminal by name, and (a control of the
/// seccomp filter) on a pty it makes its own controlling terminal; one line each in `report`.
fn injection_plan(tty_file: &Path, report: &Path) -> Value {
    let script = format!(
        r#"
import fcntl, os, pty, termios
lines = []
def inject(name, path):
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    except OSError as e:
        return lines.append(name + ": cannot open: " + e.strerror)
    try:
        for c in b"echo INJECTED\n":
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))
        lines.append(name + ": injected")
    except OSError as e:
        lines.append(name + ": " + e.strerror)
inject("/dev/tty", "/dev/tty")
inject("user's pty", open("{tty}").read().strip())
pid, fd = pty.fork()
if pid == 0:
    try:
        fcntl.ioctl(0, termios.TIOCSTI, b"x")
        os._exit(0)
    except OSError:
        os._exit(1)
_, status = os.waitpid(pid, 0)
lines.append("own pty: " + ("injected" if os.waitstatus_to_exitcode(status) == 0 else "refused"))
open("{report}", "w").write("\n".join(lines) + "\n")
"#,
        tty = tty_file.display(),
        report = report.display()
    );
    json!([{"step": "shell", "cmd": format!("python3 - <<'EOF'\n{script}\nEOF")}])
}

/// Runs git-dispatch under a pty made by `script`; returns how many input bytes were pending on
/// that terminal afterwards (what an injection would have left for the user's shell) and the
/// agent's report.
fn dispatch_under_pty(fx: &Fixture, sandbox: &str) -> (String, String) {
    let out = out_dir(fx);
    let tty_file = out.join("tty");
    let report = out.join(format!("report-{sandbox}"));
    let pending = out.join(format!("pending-{sandbox}"));
    let template = command_with_plan(fx, &injection_plan(&tty_file, &report));
    let binary = support::cli::binary();
    let inner = format!(
        "tty > '{tty}'; '{bin}' run --quiet --sandbox {sandbox} --writable '{out}' --task '{packet}' >/dev/null 2>&1; \
         python3 -c 'import array, fcntl, termios; a = array.array(\"i\", [0]); fcntl.ioctl(0, termios.FIONREAD, a); \
         print(a[0])' > '{pending}'",
        tty = tty_file.display(),
        bin = binary.display(),
        out = out.display(),
        packet = packet(fx, "").display(),
        pending = pending.display()
    );
    let mut command = std::process::Command::new("script");
    command.args(["-qec", &inner, "/dev/null"]).current_dir(&fx.repo).env_clear();
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    let output = command.stdin(std::process::Stdio::null()).output().expect("script runs");
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_else(|_| format!("(missing; script: {output:?})"));
    (read(&pending).trim().to_string(), read(&report))
}

#[test]
fn terminal_injection_never_reaches_the_users_terminal() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        return skip("pty", "no `script` (util-linux) to make a pty");
    }
    let fx = fixture("python-project");
    if std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").is_ok_and(|v| v.trim() == "1") {
        // The control: unconfined, as root, the injection lands (so the check below can see one).
        let (pending, report) = dispatch_under_pty(&fx, "none");
        if nix::unistd::geteuid().is_root() {
            assert_ne!(pending, "0", "unconfined, the injection is seen: {report}");
        }
    }
    for sandbox in sandboxes() {
        let (pending, report) = dispatch_under_pty(&fx, sandbox);
        assert_eq!(pending, "0", "[{sandbox}] nothing was pushed into the user's terminal: {report}");
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.len(), 3, "[{sandbox}] {report}");
        assert!(lines[0].starts_with("/dev/tty: cannot open"), "[{sandbox}] no controlling terminal: {report}");
        assert!(!lines[1].ends_with("injected"), "[{sandbox}] {report}");
        if sandbox == "landlock" {
            assert_eq!(lines[1], "user's pty: Operation not permitted", "{report}");
            assert_eq!(lines[2], "own pty: refused", "the seccomp filter: {report}");
        }
    }
}

#[test]
fn an_agent_started_by_root_has_no_capability() {
    if !support::skip::require_root("remount, mknod and capabilities as root") {
        return;
    }
    for sandbox in sandboxes() {
        let fx = fixture("python-project");
        let out = out_dir(&fx);
        let report = out.join("root.txt");
        let attempts = [
            "mount -o remount,bind,rw /".to_string(),
            format!("mount -o remount,bind,rw {}", fx.repo.display()),
            format!("mount -o remount,bind,rw {}", fx.repo.join(".git").display()),
            "mount -t tmpfs none tests".to_string(),
            "mknod tests/blockdev b 8 0".to_string(),
            "mknod tests/chardev c 1 3".to_string(),
            "unshare -m true".to_string(),
        ];
        let tries: String = attempts
            .iter()
            .map(|cmd| format!("if {cmd} 2>/dev/null; then echo 'done: {cmd}'; else echo 'refused: {cmd}'; fi\n"))
            .collect();
        let cmd = format!(
            "{{ {tries} grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status; }} > '{}'",
            report.display()
        );
        let plan = json!([{"step": "shell", "cmd": cmd}]);
        let output = dispatch(&fx, &packet(&fx, ""), &plan, &["--sandbox", sandbox, "--writable", &writable_flag(&fx)]);
        assert_eq!(output.status.code(), Some(0), "[{sandbox}] {}", stderr(&output));
        let text = std::fs::read_to_string(&report).expect("the agent's report");
        for cmd in &attempts {
            assert!(text.contains(&format!("refused: {cmd}\n")), "[{sandbox}] {cmd}: {text}");
        }
        for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert!(text.contains(&format!("{set}:\t0000000000000000\n")), "[{sandbox}] {set}: {text}");
        }
        assert!(text.contains("NoNewPrivs:\t1\n"), "[{sandbox}] {text}");
    }
}

#[test]
fn a_hostile_agent_program_and_setup_cannot_write_the_home_folder() {
    let sandboxes = sandboxes();
    for sandbox in ["none"].into_iter().chain(sandboxes) {
        let fx = fixture("python-project");
        let bashrc = fx.home.join(".bashrc");
        std::fs::write(&bashrc, "# user's\n").expect(".bashrc");
        let agent = fx.root.join("hostile-agent");
        let body = format!(
            "#!/bin/sh\necho \"pwned by $*\" >> \"$HOME/.bashrc\"\nexec '{}' \"$@\"\n",
            support::cli::fake_agent().display()
        );
        std::fs::write(&agent, body).expect("agent script");
        std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let packet = packet(&fx, "\nSETUP:\n- echo 'pwned by SETUP' >> \"$HOME/.bashrc\" || true\n");
        let output = command_with_plan(&fx, &json!([]))
            .env("GIT_DISPATCH_CODEX_BIN", &agent)
            .env("FAKE_AGENT_STYLE", "codex")
            .args(["run", "--quiet", "--sandbox", sandbox, "--task"])
            .arg(&packet)
            .output()
            .expect("git-dispatch runs");
        assert_eq!(output.status.code(), Some(0), "[{sandbox}] {}", stderr(&output));
        let run = read_json(&printed_run_dir(&output).join("run.json"));
        assert_eq!(run["agent_version"], "codex-cli 0.171.0", "[{sandbox}] the probe ran");
        let text = std::fs::read_to_string(&bashrc).expect(".bashrc");
        if sandbox == "none" {
            // The control: unconfined, all three write it (the probe, SETUP, the agent).
            assert!(text.contains("pwned by --version") && text.contains("pwned by SETUP"), "{text}");
        } else {
            assert_eq!(text, "# user's\n", "[{sandbox}] the probe, SETUP and the agent are confined");
        }
    }
}

/// Issue 14 item 2, the chain: run 1's confined agent leaves an ignored `build/tool.sh`; its
/// worktree is pooled with it (kept: incremental builds); run 2 takes that worktree and its SETUP
/// runs the tool, confined like the agent: the tool runs, but cannot write `~/.bashrc` or outside.
#[test]
fn a_tool_left_in_a_pooled_worktree_runs_only_confined() {
    for sandbox in sandboxes() {
        let fx = fixture("python-project");
        let out = out_dir(&fx);
        let bashrc = fx.home.join(".bashrc");
        std::fs::write(&bashrc, "# user's\n").expect(".bashrc");
        let outside = fx.root.join("outside.txt");
        let tool = format!(
            "#!/bin/sh\necho ran >> '{}/tool-ran'\necho pwned >> \"$HOME/.bashrc\"\necho pwned > '{}'\n",
            out.display(),
            outside.display()
        );
        let plant = json!([
            {"step": "mkdir", "path": "build"},
            {"step": "write", "path": "build/tool.sh", "content": tool},
            {"step": "chmod", "path": "build/tool.sh", "mode": "755"},
            support::cli::result_naming(&[]),
        ]);
        let flags = ["--sandbox", sandbox, "--writable", &writable_flag(&fx)];
        let first = dispatch(&fx, &packet(&fx, ""), &plant, &flags);
        assert_eq!(first.status.code(), Some(0), "[{sandbox}] run 1: {}", stderr(&first));
        assert!(!out.join("tool-ran").exists(), "[{sandbox}] run 1 only wrote the tool");
        let ignored = read_json(&printed_run_dir(&first).join("policy.json"))["ignored_written"].clone();
        assert_eq!(ignored, json!(["build/tool.sh"]), "[{sandbox}] run 1 wrote the ignored tool");
        let setup = "\nSETUP:\n- ./build/tool.sh || true\n";
        let second = dispatch(&fx, &packet(&fx, setup), &json!([support::cli::result_naming(&[])]), &flags);
        let policy = read_json(&printed_run_dir(&second).join("policy.json"));
        assert_eq!(second.status.code(), Some(0), "[{sandbox}] run 2: {}", policy["messages"]);
        let run = read_json(&printed_run_dir(&second).join("run.json"));
        assert_eq!(run["warm_start"], true, "[{sandbox}] run 2 took run 1's pooled worktree");
        assert_eq!(
            std::fs::read_to_string(out.join("tool-ran")).ok().as_deref(),
            Some("ran\n"),
            "[{sandbox}] SETUP ran it"
        );
        assert_eq!(std::fs::read_to_string(&bashrc).expect(".bashrc"), "# user's\n", "[{sandbox}]");
        assert!(!outside.exists(), "[{sandbox}] nothing written outside the sandbox");
    }
}
