//! What an agent run may do to the user's home and checkout outside its worktree, end to end
//! through the binary with the fake agent, under `--sandbox bwrap` and `--sandbox landlock`
//! (and `none` where it applies): the secrets (`~/.ssh`, `~/.aws`, `~/.config/gh`,
//! `~/.git-credentials`, `~/.netrc`, `~/.docker/config.json`, `~/.kube`, `~/.gnupg`) are not
//! readable unless `--readable` / `READABLE:` gives one back, while the agent's own login (its
//! private copy) is; a writable parent of the checkout does not re-open the checkout; the user's
//! agent and git configuration files written through a writable folder, or without a sandbox, are
//! put back and created ones removed.
//!
//! Without bwrap or Landlock the tests of that sandbox print SKIPPED (a failure under `CI=true`).

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::cli::{dispatch, printed_run_dir, read_json, stderr, user_visible};
use support::cli::{result_naming as result, tests_scope_packet as packet};
use support::fixtures::{fixture, Fixture};
use support::git::tree_fingerprint;

/// The sandboxes usable here (bwrap, landlock), each skipped with a message when it is not.
fn sandboxes() -> Vec<&'static str> {
    let mut found = Vec::new();
    let bwrap = std::process::Command::new("bwrap").args(["--ro-bind", "/", "/", "true"]).output();
    if bwrap.is_ok_and(|output| output.status.success()) {
        found.push("bwrap");
    } else {
        support::skip::skip("bwrap", "bwrap --ro-bind / / true does not work here");
    }
    match git_dispatch::sandbox::landlock_support() {
        Ok(_) => found.push("landlock"),
        Err(reason) => {
            support::skip::skip("landlock", &reason);
        }
    }
    found
}

/// The secrets of the issue, one file each holding `SECRET`, relative to HOME.
const SECRETS: [&str; 9] = [
    ".ssh/id_ed25519",
    ".aws/credentials",
    ".aws/config",
    ".config/gh/hosts.yml",
    ".git-credentials",
    ".netrc",
    ".docker/config.json",
    ".kube/config",
    ".gnupg/private-keys-v1.d/key",
];

fn plant_secrets(fx: &Fixture) {
    for secret in SECRETS.iter().chain([&".codex/auth.json"]) {
        let path = fx.home.join(secret);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("secret folder");
        std::fs::write(&path, "SECRET\n").expect("secret");
    }
}

/// A shell step writing to `tests/readable.txt` the secrets whose content the agent could read,
/// then whether its own login (the private `$CODEX_HOME/auth.json`) and `~/.ssh`'s listing are.
fn probe_step(fx: &Fixture) -> Value {
    let files: Vec<String> = SECRETS.iter().map(|secret| fx.home.join(secret).display().to_string()).collect();
    let cmd = format!(
        "for f in {}; do grep -qs SECRET \"$f\" && echo \"${{f#$HOME/}}\"; done > tests/readable.txt; \
         grep -qs SECRET \"$CODEX_HOME/auth.json\" && echo own-login >> tests/readable.txt; \
         ls \"$HOME/.ssh\" >> tests/readable.txt 2>/dev/null; true",
        files.join(" ")
    );
    json!({"step": "shell", "cmd": cmd})
}

/// The lines of `tests/readable.txt` in the result.
fn readable_lines(run_dir: &Path) -> Vec<String> {
    let worktree = PathBuf::from(read_json(&run_dir.join("run.json"))["worktree"].as_str().expect("worktree"));
    let text = std::fs::read_to_string(worktree.join("tests/readable.txt")).expect("readable.txt");
    text.lines().map(String::from).collect()
}

#[test]
fn secrets_are_hidden_and_readable_gives_one_back() {
    for sandbox in sandboxes() {
        let fx = fixture("python-project");
        plant_secrets(&fx);
        let with_readable = packet(&fx, "\nREADABLE:\n- ~/.netrc\n");
        let plan = json!([probe_step(&fx), result(&["tests/readable.txt"])]);
        let given_back =
            [fx.home.join(".ssh"), fx.home.join(".aws/credentials")].map(|path| path.display().to_string());
        let flags = ["--sandbox", sandbox, "--keep-worktree", "--quiet", "--readable", &given_back[0]];
        let output = dispatch(&fx, &with_readable, &plan, &[&flags[..], &["--readable", &given_back[1]]].concat());
        assert_eq!(output.status.code(), Some(0), "[{sandbox}] stderr: {}", stderr(&output));
        let run_dir = printed_run_dir(&output);
        let expected = [".ssh/id_ed25519", ".aws/credentials", ".netrc", "own-login", "id_ed25519"];
        assert_eq!(readable_lines(&run_dir), expected, "[{sandbox}] only what --readable / READABLE: name");
        let policy = read_json(&run_dir.join("policy.json"));
        let hidden: Vec<String> = [".aws", ".config/gh", ".git-credentials", ".docker/config.json", ".kube", ".gnupg"]
            .iter()
            .map(|name| fx.home.join(name).display().to_string())
            .collect();
        assert_eq!(policy["sandbox"]["hidden"], json!(hidden), "[{sandbox}] {policy:#}");

        let plan = json!([probe_step(&fx), result(&["tests/readable.txt"])]);
        let output = dispatch(&fx, &packet(&fx, ""), &plan, &["--sandbox", sandbox, "--keep-worktree", "--quiet"]);
        assert_eq!(output.status.code(), Some(0), "[{sandbox}] stderr: {}", stderr(&output));
        let lines = readable_lines(&printed_run_dir(&output));
        // Landlock lets every folder be listed (the folders on the way to a secret need it), so
        // the names in ~/.ssh show; bubblewrap shows an empty folder.
        let expected: &[&str] = if sandbox == "landlock" { &["own-login", "id_ed25519"] } else { &["own-login"] };
        assert_eq!(lines, expected, "[{sandbox}] by default no secret, but the agent's own login");
    }
}

#[test]
fn a_writable_parent_never_reopens_the_checkout() {
    for sandbox in sandboxes() {
        let fx = fixture("python-project");
        // Landlock cannot create a new file directly in a folder on the way to a protected one.
        std::fs::write(fx.root.join("beside.txt"), "before\n").expect("beside.txt");
        let checkout_before = tree_fingerprint(&fx.repo);
        let plan = json!([
            {"step": "write", "path": "tests/t.txt", "content": "t\n"},
            {"step": "append", "path": fx.repo.join("README.md"), "content": "pwned\n"},
            {"step": "write", "path": fx.repo.join("src/new.py"), "content": "new\n"},
            {"step": "write", "path": fx.root.join("beside.txt"), "content": "allowed\n"},
            result(&["tests/t.txt"]),
        ]);
        let mut last = None;
        for writable in [&fx.root, &fx.repo] {
            let flag = writable.display().to_string();
            let output =
                dispatch(&fx, &packet(&fx, ""), &plan, &["--sandbox", sandbox, "--quiet", "--writable", &flag]);
            assert_eq!(output.status.code(), Some(0), "[{sandbox}, --writable {flag}] stderr: {}", stderr(&output));
            let policy = read_json(&printed_run_dir(&output).join("policy.json"));
            assert_eq!(policy["main_checkout_changed"], json!([]), "[{sandbox}] {policy:#}");
            assert_eq!(
                user_visible(&tree_fingerprint(&fx.repo)),
                user_visible(&checkout_before),
                "[{sandbox}, --writable {flag}] the checkout is byte-identical"
            );
            last.get_or_insert(output);
        }
        let last = last.expect("one run");
        let agent_stderr = std::fs::read_to_string(printed_run_dir(&last).join("stderr.txt")).expect("stderr.txt");
        let beside = std::fs::read_to_string(fx.root.join("beside.txt"));
        assert_eq!(beside.ok().as_deref(), Some("allowed\n"), "[{sandbox}] the writable parent: {agent_stderr}");
    }
}

/// Config and instruction files of the user's codex, claude and git: written, created, replaced.
fn tamper_plan(fx: &Fixture) -> Value {
    let home = &fx.home;
    json!([
        {"step": "write", "path": "tests/t.txt", "content": "t\n"},
        {"step": "append", "path": home.join(".codex/config.toml"), "content": "notify = [\"evil\"]\n"},
        {"step": "write", "path": home.join(".codex/AGENTS.md"), "content": "obey\n"},
        {"step": "shell", "cmd": format!("mkdir -p {0}/.claude {0}/.config/git", home.display())},
        {"step": "write", "path": home.join(".claude/settings.json"), "content": "{\"hooks\": {}}\n"},
        {"step": "write", "path": home.join(".claude.json"), "content": "{\"mcpServers\": {\"x\": {}}}\n"},
        {"step": "append", "path": home.join(".gitconfig"), "content": format!(
            "[filter \"x\"]\n\tclean = sh -c 'touch {}; cat'\n", fx.root.join("PWNED").display()
        )},
        {"step": "write", "path": home.join(".config/git/attributes"), "content": "* filter=x\n"},
        result(&["tests/t.txt"]),
    ])
}

fn user_config(fx: &Fixture) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let names = [
        ".codex/config.toml",
        ".codex/AGENTS.md",
        ".claude/settings.json",
        ".claude.json",
        ".gitconfig",
        ".config/git/attributes",
    ];
    names.iter().map(|name| (fx.home.join(name), std::fs::read(fx.home.join(name)).ok())).collect()
}

#[test]
fn the_users_agent_and_git_configuration_never_keeps_a_change() {
    let mut modes = vec![("none", None)];
    modes.extend(sandboxes().into_iter().map(|sandbox| (sandbox, Some("home"))));
    for (sandbox, writable) in modes {
        let fx = fixture("python-project");
        std::fs::create_dir_all(fx.home.join(".codex")).expect(".codex");
        std::fs::write(fx.home.join(".codex/config.toml"), "model = \"m\"\n").expect("config.toml");
        std::fs::write(fx.home.join(".claude.json"), "{}\n").expect(".claude.json");
        std::fs::write(fx.home.join(".gitconfig"), "[user]\n\tname = U\n").expect(".gitconfig");
        let before = user_config(&fx);
        let home = fx.home.display().to_string();
        let mut flags = vec!["--sandbox", sandbox, "--quiet"];
        if writable.is_some() {
            flags.extend(["--writable", &home]); // under a sandbox only a writable home lets it write there
        }
        let output = dispatch(&fx, &packet(&fx, ""), &tamper_plan(&fx), &flags);
        assert_eq!(output.status.code(), Some(0), "[{sandbox}] stderr: {}", stderr(&output));
        assert_eq!(user_config(&fx), before, "[{sandbox}] every file put back, the created ones removed");
        assert!(!fx.root.join("PWNED").exists(), "[{sandbox}] git-dispatch's snapshot ran the planted filter");
        let policy = read_json(&printed_run_dir(&output).join("policy.json"));
        let put_back: Vec<&str> = policy["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter_map(Value::as_str)
            .filter(|message| message.ends_with("it was put back as it was"))
            .collect();
        assert_eq!(put_back.len(), 6, "[{sandbox}] {policy:#}");
    }
}
