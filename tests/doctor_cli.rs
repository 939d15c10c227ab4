//! `git dispatch doctor` through the binary, with a PATH made for each test: which programs are
//! there (git, a fake codex, a fake bwrap) decides each line; the quota endpoint is a one-shot
//! server on 127.0.0.1.

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use support::cli::{binary, command, stderr, stdout};
use support::fixtures::{fixture, Fixture};
use support::git::git;

/// A folder for PATH holding symlinks to `git` and `git-dispatch`, as wanted.
fn path_dir(fx: &Fixture, with_git: bool) -> PathBuf {
    let dir = fx.root.join("bin");
    std::fs::create_dir_all(&dir).expect("mkdir bin");
    std::os::unix::fs::symlink(binary(), dir.join("git-dispatch")).expect("link git-dispatch");
    if with_git {
        let git = which("git").expect("git is installed for the tests");
        std::os::unix::fs::symlink(git, dir.join("git")).expect("link git");
    }
    dir
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|path| path.is_file())
}

/// Writes an executable shell script.
fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn doctor(fx: &Fixture, path: &Path, args: &[&str]) -> Output {
    command(fx).env("PATH", path).arg("doctor").args(args).output().expect("git-dispatch runs")
}

/// The line of check `name`.
fn line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|line| line.get(8..).is_some_and(|rest| rest.split(' ').next() == Some(name)))
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{text}"))
}

#[test]
fn doctor_reports_every_check_on_its_own_line() {
    let fx = fixture("python-project");
    let bin = path_dir(&fx, true);
    script(&bin.join("codex"), "echo 'codex-cli 0.171.0'");
    let pool = fx.worktrees_root().join("repo-1a2b3c4d");
    for dir in ["wt/one", "wt/two", "pool", "busy"] {
        std::fs::create_dir_all(pool.join(dir)).expect("mkdir");
    }
    std::fs::write(pool.join("wt/one/a.py"), vec![b'a'; 2000]).expect("write");
    std::fs::write(pool.join("pool/two"), "pool\n").expect("write");
    std::fs::write(pool.join("busy/one"), "run\n").expect("write");

    let output = command(&fx)
        .env("PATH", &bin)
        .env("GIT_DISPATCH_NO_LANDLOCK", "1")
        .args(["doctor", "--offline"])
        .output()
        .expect("git-dispatch runs");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let git_version = git(&fx.repo, &["--version"]);
    let head = git(&fx.repo, &["rev-parse", "--short=7", "HEAD"]);
    let root = nix::unistd::geteuid().is_root();
    let expected = [
        format!(
            "ok      git-dispatch 0.1.0 ({}), on PATH as {}",
            binary().display(),
            bin.join("git-dispatch").display()
        ),
        format!("ok      git          {}", git_version.trim()),
        format!("ok      repository   {} on main at {}", fx.repo.display(), head.trim()),
        format!("ok      codex        codex-cli 0.171.0 ({})", bin.join("codex").display()),
        "missing claude       claude not found on PATH: install it with `npm install -g @anthropic-ai/claude-code`, \
         or set GIT_DISPATCH_CLAUDE_BIN to its path"
            .to_string(),
        "ok      quota        not checked (--offline)".to_string(),
        "missing bwrap        bwrap not found on PATH (install bubblewrap)".to_string(),
        "warn    landlock     cannot confine an agent here: disabled by GIT_DISPATCH_NO_LANDLOCK".to_string(),
        "warn    sandbox      --sandbox auto picks none (neither bwrap nor Landlock is usable): agents run unconfined"
            .to_string(),
        format!(
            "ok      processes    child subreaper; Landlock agents get a supervisor that kills their whole tree, a \
             new session, no capabilities and a TIOCSTI filter (seccomp); {}",
            match git_dispatch::process::cgroup::parent() {
                Ok(dir) =>
                    format!("each child in a cgroup of its own below {} (cgroup.kill at its end)", dir.display()),
                Err(reason) => format!("no cgroups ({reason})"),
            }
        ),
        "warn    network      only --network allow works with --sandbox auto (the agent runs without a sandbox): \
         agents can reach any host, and runs record a warning"
            .to_string(),
        "warn    root         running as root without a sandbox: agents run with every capability of root (install \
         bubblewrap)"
            .to_string(),
        format!(
            "ok      pool         2 worktrees (1 idle) in 1 repository folder, 2.0 KiB in {}",
            fx.worktrees_root().display()
        ),
    ];
    // The `root` line is there as root only.
    let expected: Vec<&String> = expected.iter().filter(|line| root || !line.starts_with("warn    root")).collect();
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), expected);
}

#[test]
fn doctor_without_git_exits_1() {
    let fx = fixture("python-project");
    let bin = path_dir(&fx, false);
    let output = doctor(&fx, &bin, &["--offline"]);
    assert_eq!(output.status.code(), Some(1), "stdout: {}", stdout(&output));
    let text = stdout(&output);
    assert_eq!(line(&text, "git"), "missing git          git not found on PATH: install git (https://git-scm.com)");
    let lines = if nix::unistd::geteuid().is_root() { 13 } else { 12 };
    assert_eq!(text.lines().count(), lines, "every check still runs (`root` as root only):\n{text}");
}

#[test]
fn doctor_names_a_folder_outside_any_repository_a_bare_one_and_an_empty_one() {
    let fx = fixture("python-project");
    let bin = path_dir(&fx, true);
    let outside = fx.root.join("not-a-repo");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let output = doctor(&fx, &bin, &["--offline", "-C", outside.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        line(&stdout(&output), "repository"),
        format!(
            "warn    repository   {} is not inside a git repository (dispatch needs one; use -C DIR)",
            outside.display()
        )
    );

    let bare = fx.root.join("bare.git");
    git(&fx.root, &["init", "-q", "--bare", bare.to_str().expect("utf-8")]);
    let output = doctor(&fx, &bin, &["--offline", "-C", bare.to_str().expect("utf-8")]);
    assert_eq!(
        line(&stdout(&output), "repository"),
        format!("warn    repository   {} is a bare repository: dispatch needs a checkout", bare.display())
    );

    let empty = fx.root.join("empty");
    git(&fx.root, &["init", "-q", "-b", "trunk", empty.to_str().expect("utf-8")]);
    let output = doctor(&fx, &bin, &["--offline", "-C", empty.to_str().expect("utf-8")]);
    assert_eq!(
        line(&stdout(&output), "repository"),
        format!("warn    repository   {} on trunk has no commit yet: dispatch needs one", empty.display())
    );
}

#[test]
fn doctor_tries_bwrap_with_the_sandbox_probe_and_reports_whether_it_works() {
    let fx = fixture("python-project");
    let bin = path_dir(&fx, true);
    let args_file = fx.root.join("bwrap-args");
    script(&bin.join("bwrap"), &format!("echo \"$@\" >> '{}'", args_file.display()));
    let output = doctor(&fx, &bin, &["--offline"]);
    let bwrap = bin.join("bwrap");
    let probe = "--unshare-user --cap-drop ALL --ro-bind / / --dev /dev --proc /proc --unshare-pid --die-with-parent \
                 --new-session --disable-userns -- true";
    let text = stdout(&output);
    assert_eq!(line(&text, "bwrap"), format!("ok      bwrap        {} works (bwrap {probe})", bwrap.display()));
    assert_eq!(line(&text, "sandbox"), "ok      sandbox      --sandbox auto picks bwrap");
    if nix::unistd::geteuid().is_root() {
        assert!(
            line(&text, "root").starts_with("ok      root         running as root: bwrap maps root to root"),
            "{text}"
        );
    }
    // One bwrap process probes the sandbox and its network namespace together.
    let probe_with_net = probe.replace(" -- true", " --unshare-net -- true");
    assert_eq!(std::fs::read_to_string(&args_file).expect("bwrap ran"), format!("{probe_with_net}\n"));
    assert!(line(&text, "network").starts_with("ok      network      --network api (the default), strict, none"));

    // A bwrap that makes sandboxes but no network namespace: probed apart, and said so.
    std::fs::remove_file(&args_file).expect("args file");
    script(
        &bwrap,
        &format!(
            "echo \"$@\" >> '{}'; case \" $* \" in *' --unshare-net '*) echo 'bwrap: no netns' >&2; exit 1;; esac",
            args_file.display()
        ),
    );
    let text = stdout(&doctor(&fx, &bin, &["--offline"]));
    assert_eq!(line(&text, "bwrap"), format!("ok      bwrap        {} works (bwrap {probe})", bwrap.display()));
    let net_probe = "--ro-bind / / --unshare-net --unshare-user --cap-drop ALL --unshare-pid --die-with-parent \
                     --new-session --disable-userns -- true";
    assert_eq!(
        std::fs::read_to_string(&args_file).expect("bwrap ran"),
        format!("{probe_with_net}\n{probe}\n{net_probe}\n")
    );
    assert!(!line(&text, "network").starts_with("ok      network      --network api (the default)"), "{text}");

    script(&bwrap, "echo 'bwrap: No permissions to create a new namespace' >&2; exit 1");
    let output = command(&fx)
        .env("PATH", &bin)
        .env("GIT_DISPATCH_NO_LANDLOCK", "1")
        .args(["doctor", "--offline"])
        .output()
        .expect("git-dispatch runs");
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert_eq!(
        line(&text, "bwrap"),
        format!(
            "warn    bwrap        cannot make a sandbox here: `{} {probe}` failed: bwrap: No permissions to create a \
             new namespace",
            bwrap.display()
        )
    );
    assert_eq!(
        line(&text, "sandbox"),
        "warn    sandbox      --sandbox auto picks none (neither bwrap nor Landlock is usable): agents run unconfined"
    );
}

/// Landlock's line depends on the kernel: its ABI, or why not; `auto` picks it when bwrap fails.
#[test]
fn doctor_reports_landlock_and_auto_picks_it_without_bwrap() {
    let fx = fixture("python-project");
    let bin = path_dir(&fx, true);
    let output = doctor(&fx, &bin, &["--offline"]);
    let text = stdout(&output);
    match git_dispatch::sandbox::landlock_support() {
        Ok(abi) => {
            assert_eq!(line(&text, "landlock"), format!("ok      landlock     ABI {abi} enforced by this kernel"));
            assert!(line(&text, "sandbox").starts_with("ok      sandbox      --sandbox auto picks landlock (bwrap"));
        }
        Err(reason) => {
            assert_eq!(line(&text, "landlock"), format!("warn    landlock     cannot confine an agent here: {reason}"));
            assert!(line(&text, "sandbox").starts_with("warn    sandbox      --sandbox auto picks none"));
        }
    }
}

#[test]
fn doctor_reports_an_agent_whose_version_fails() {
    let fx = fixture("python-project");
    let bin = path_dir(&fx, true);
    script(&bin.join("claude"), "echo 'broken install' >&2; exit 3");
    let output = doctor(&fx, &bin, &["--offline"]);
    assert_eq!(
        line(&stdout(&output), "claude"),
        format!("warn    claude       {}: `--version` failed: exit 3: broken install", bin.join("claude").display())
    );
}

/// Answers one request with a usage body.
fn usage_server(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("http://{}/backend-api/wham/usage", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
            line.clear();
        }
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    url
}

#[test]
fn doctor_asks_the_quota_endpoint_unless_offline() {
    let fx = fixture("python-project");
    let bin = path_dir(&fx, true);
    let codex_home = fx.home.join(".codex");
    std::fs::create_dir_all(&codex_home).expect("mkdir");
    std::fs::write(codex_home.join("auth.json"), r#"{"tokens":{"access_token":"t0k"}}"#).expect("auth.json");

    let url = usage_server(r#"{"rate_limit":{"primary_window":{"used_percent":12.5,"reset_after_seconds":600}}}"#);
    let output =
        command(&fx).env("PATH", &bin).env("GIT_DISPATCH_USAGE_URL", &url).arg("doctor").output().expect("runs");
    assert_eq!(
        line(&stdout(&output), "quota"),
        "ok      quota        reachable: Codex 5h window at 12.5% (< 85% gate)"
    );

    let url = usage_server(r#"{"rate_limit":{"primary_window":{"used_percent":90,"reset_after_seconds":3660}}}"#);
    let output =
        command(&fx).env("PATH", &bin).env("GIT_DISPATCH_USAGE_URL", &url).arg("doctor").output().expect("runs");
    assert_eq!(
        line(&stdout(&output), "quota"),
        "warn    quota        reachable: Codex 5h window at 90% (>= 85% gate); reset in 1h 01m. Use --force to override."
    );

    // support::cli::command points the endpoint at a closed port.
    let output = doctor(&fx, &bin, &[]);
    let quota = line(&stdout(&output), "quota").to_string();
    assert!(
        quota.starts_with(
            "warn    quota        not reachable, the gate will be skipped: asking http://127.0.0.1:9/unreachable"
        ),
        "{quota}"
    );
}
