//! `install.sh` into a temporary HOME with the prebuilt test binary
//! (`GIT_DISPATCH_INSTALL_SKIP_BUILD=1`): the binary on `git dispatch`'s path, the skill folder,
//! the seed's entry point running a dry run, a second run updating everything, an old Python seed
//! set aside, installing from a clone, and the refusals when git or cargo is missing.

mod support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::cli::{binary, last_line, read_json, run_dirs, worker_packet, write_packet};
use support::fixtures::fixture;
use support::git::{git, hermetic_env_with_home};

fn checkout() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary HOME (with CARGO_HOME below it) to install into.
struct Home {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
}

impl Home {
    fn new() -> Home {
        let tmp = tempfile::Builder::new().prefix("gd-install-").tempdir().expect("temp dir");
        let root = tmp.path().canonicalize().expect("canonical");
        let home = root.join("home");
        std::fs::create_dir_all(&home).expect("mkdir home");
        Home { _tmp: tmp, root, home }
    }

    fn cargo_bin(&self) -> PathBuf {
        self.home.join(".cargo/bin")
    }

    fn skills(&self) -> PathBuf {
        self.home.join(".claude/skills")
    }

    /// `sh install.sh` from `script`, with `path` as PATH and the prebuilt binary.
    fn install_with(&self, script: &Path, path: &OsString, extra: &[(&str, &str)]) -> Output {
        let mut command = Command::new("/bin/sh");
        command.arg(script).env_clear().envs(hermetic_env_with_home(&self.home));
        command
            .env("PATH", path)
            .env("CARGO_HOME", self.home.join(".cargo"))
            .env("TMPDIR", &self.root)
            .env("GIT_DISPATCH_INSTALL_SKIP_BUILD", "1")
            .env("GIT_DISPATCH_BINARY", binary())
            .envs(extra.iter().copied())
            .current_dir(&self.root);
        command.output().expect("sh runs")
    }

    fn install(&self) -> Output {
        self.install_with(&checkout().join("install.sh"), &system_path(), &[])
    }

    /// PATH with the installed bin folder first.
    fn path_with_cargo_bin(&self) -> OsString {
        let mut dirs = vec![self.cargo_bin()];
        dirs.extend(std::env::split_paths(&system_path()));
        std::env::join_paths(dirs).expect("joinable PATH")
    }
}

fn system_path() -> OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "stdout:\n{}\nstderr:\n{}", text(&output.stdout), text(&output.stderr));
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The skill folder holds what Claude Code and the user need, identical to the checkout's files.
fn assert_skill_installed(skill: &Path, source: &Path) {
    let mut files = vec!["SKILL.md".to_string(), "CHANGELOG.md".to_string()];
    for name in ["worker", "verifier", "reviewer", "synthesizer"] {
        files.push(format!("examples/{name}.md"));
    }
    files.extend(["docs/packet.md".to_string(), "docs/policy.md".to_string()]);
    for file in files {
        assert_eq!(read(&skill.join(&file)), read(&source.join(&file)), "{file}");
    }
    let skill_md = text(&read(&skill.join("SKILL.md")));
    assert!(skill_md.starts_with("---\nname: git-dispatch\ndescription: >\n"), "{skill_md}");
    assert!(skill_md.contains("\nallowed-tools:\n  - Bash(git dispatch:*)\n"), "{skill_md}");
}

/// Runs the seed's entry point with `--task PACKET --dry-run` on a fresh fixture.
fn seed_entry_dry_run(entry: &Path, path: &OsString) {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/test_new.py (NEW)"));
    let output = Command::new(entry)
        .args(["--task", packet.to_str().expect("utf-8"), "--dry-run"])
        .env_clear()
        .envs(hermetic_env_with_home(&fx.home))
        .env("PATH", path)
        .current_dir(&fx.repo)
        .output()
        .expect("the entry point runs");
    assert_success(&output);
    let dirs = run_dirs(&fx.repo);
    assert_eq!(dirs.len(), 1);
    assert_eq!(last_line(&output), dirs[0].display().to_string(), "the run folder is printed last");
    let policy = read_json(&dirs[0].join("policy.json"));
    assert_eq!(policy["dry_run"], true);
    assert_eq!(policy["write_scope"], serde_json::json!(["tests/test_new.py"]));
}

#[test]
fn install_sh_installs_the_binary_the_skill_and_the_seed_entry_point() {
    let home = Home::new();
    let output = home.install();
    assert_success(&output);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("Smoke test: git-dispatch 0.1.0\nSmoke test: git dispatch --version works\n"), "{stdout}");
    let plugin = format!(
        "  claude plugin marketplace add {}\n  claude plugin install git-dispatch@git-dispatch\n",
        checkout().display()
    );
    assert!(stdout.contains(&plugin), "says how to add the plugin instead: {stdout}");

    let installed = home.cargo_bin().join("git-dispatch");
    assert_eq!(read(&installed), read(&binary()), "the prebuilt binary is copied");
    let version = Command::new("git")
        .args(["dispatch", "--version"])
        .env_clear()
        .envs(hermetic_env_with_home(&home.home))
        .env("PATH", home.path_with_cargo_bin())
        .output()
        .expect("git runs");
    assert_success(&version);
    assert_eq!(text(&version.stdout), "git-dispatch 0.1.0\n", "git finds git-dispatch on PATH");

    assert_skill_installed(&home.skills().join("git-dispatch"), &checkout());
    let entry = home.skills().join("claude-codex-dispatch/bin/codex-dispatch");
    seed_entry_dry_run(&entry, &home.path_with_cargo_bin());
    // The entry point finds the installed binary even when its folder is not on PATH.
    seed_entry_dry_run(&entry, &system_path());

    // The installed `git dispatch demo` runs a whole dispatch offline.
    let demo = Command::new("git")
        .args(["dispatch", "demo", "--quiet"])
        .env_clear()
        .env("HOME", &home.home)
        .env("GIT_DISPATCH_REPLAY_DELAY_MS", "0")
        .env("PATH", home.path_with_cargo_bin())
        .output()
        .expect("git runs");
    assert_success(&demo);
    let demo_out = text(&demo.stdout);
    assert!(demo_out.contains("verdict: exit 0 (offered)"), "{demo_out}");
    assert!(demo_out.contains("  ✓ added        tests/test_slug.py"), "{demo_out}");
}

#[test]
fn install_sh_a_second_time_updates_everything_in_place() {
    let home = Home::new();
    assert_success(&home.install());
    let installed = home.cargo_bin().join("git-dispatch");
    let skill = home.skills().join("git-dispatch");
    let entry = home.skills().join("claude-codex-dispatch/bin/codex-dispatch");
    std::fs::write(&installed, "#!/bin/sh\necho stale\n").expect("overwrite binary");
    std::fs::write(skill.join("SKILL.md"), "stale").expect("overwrite SKILL.md");
    std::fs::write(skill.join("examples/leftover.md"), "old").expect("leftover");
    std::fs::write(&entry, "#!/bin/sh\nexit 9\n").expect("overwrite entry");

    assert_success(&home.install());
    assert_eq!(read(&installed), read(&binary()));
    assert_skill_installed(&skill, &checkout());
    assert!(!skill.join("examples/leftover.md").exists(), "the skill folder is replaced, not merged");
    seed_entry_dry_run(&entry, &home.path_with_cargo_bin());
    let mut names: Vec<String> = std::fs::read_dir(home.skills())
        .expect("skills dir")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["claude-codex-dispatch", "git-dispatch"], "no backups, no staging folders left");
}

#[test]
fn install_sh_sets_an_old_python_seed_aside() {
    let home = Home::new();
    let skills = home.root.join("custom-skills");
    let old = skills.join("claude-codex-dispatch");
    std::fs::create_dir_all(old.join("bin")).expect("mkdir");
    std::fs::create_dir_all(old.join("scripts")).expect("mkdir");
    std::fs::write(old.join("SKILL.md"), "---\nname: codex-dispatch\n---\n").expect("old SKILL.md");
    std::fs::write(
        old.join("bin/codex-dispatch"),
        "#!/bin/sh\nexec python3 ../scripts/codex_dispatch_role.py \"$@\"\n",
    )
    .expect("old launcher");
    std::fs::write(old.join("scripts/codex_dispatch_role.py"), "print('seed')\n").expect("old wrapper");

    let output = home.install_with(
        &checkout().join("install.sh"),
        &system_path(),
        &[("CLAUDE_SKILLS_DIR", skills.to_str().expect("utf-8"))],
    );
    assert_success(&output);
    assert!(!home.skills().exists(), "CLAUDE_SKILLS_DIR replaces ~/.claude/skills");
    assert_skill_installed(&skills.join("git-dispatch"), &checkout());
    let backups: Vec<PathBuf> = std::fs::read_dir(&skills)
        .expect("skills")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("claude-codex-dispatch.backup-"))
        })
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(read(&backups[0].join("scripts/codex_dispatch_role.py")), b"print('seed')\n");
    assert!(!backups[0].join("SKILL.md").exists(), "Claude Code no longer loads the old skill");
    assert_eq!(read(&backups[0].join("SKILL.md.disabled")), b"---\nname: codex-dispatch\n---\n");
    assert!(text(&output.stderr).contains(&format!("warning: moved the existing {}", old.display())));
    seed_entry_dry_run(&old.join("bin/codex-dispatch"), &home.path_with_cargo_bin());
}

/// A folder of symlinks to the basic tools the script uses, plus `extra` (e.g. git).
fn tools_path(home: &Home, extra: &[&str]) -> OsString {
    let dir = home.root.join("tools");
    std::fs::create_dir_all(&dir).expect("mkdir tools");
    let tools =
        ["dirname", "basename", "mkdir", "cp", "mv", "ln", "rm", "chmod", "date", "grep", "sed", "mktemp", "cat"];
    for tool in tools.iter().chain(extra) {
        let found = std::env::split_paths(&system_path())
            .map(|dir| dir.join(tool))
            .find(|path| path.is_file())
            .unwrap_or_else(|| panic!("{tool} is installed"));
        let link = dir.join(tool);
        if !link.exists() {
            std::os::unix::fs::symlink(found, link).expect("symlink tool");
        }
    }
    dir.into_os_string()
}

#[test]
fn install_sh_refuses_without_git_or_cargo_and_installs_nothing() {
    let home = Home::new();
    let output = home.install_with(&checkout().join("install.sh"), &tools_path(&home, &[]), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: git is required but is not on PATH: install git (https://git-scm.com), then run this again\n"
    );

    let output = home.install_with(
        &checkout().join("install.sh"),
        &tools_path(&home, &["git"]),
        &[("GIT_DISPATCH_INSTALL_SKIP_BUILD", "0")],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "error: cargo is required to build git-dispatch but is not on PATH: install Rust (https://rustup.rs), then run this again\n"
    );

    let output =
        home.install_with(&checkout().join("install.sh"), &tools_path(&home, &["git"]), &[("GIT_DISPATCH_BINARY", "")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr)
        .ends_with("error: GIT_DISPATCH_INSTALL_SKIP_BUILD=1 needs GIT_DISPATCH_BINARY=/path/to/git-dispatch\n"));
    assert!(!home.home.join(".claude").exists(), "nothing installed");
    assert!(!home.home.join(".cargo").exists(), "nothing installed");
}

#[test]
fn install_sh_warns_about_missing_agents_and_path() {
    let home = Home::new();
    let output = home.install_with(&checkout().join("install.sh"), &tools_path(&home, &["git"]), &[]);
    assert_success(&output);
    let stderr = text(&output.stderr);
    let cargo_bin = home.cargo_bin();
    let expected = [
        "warning: codex is not on PATH: to dispatch to Codex, npm install -g @openai/codex (or set GIT_DISPATCH_CODEX_BIN)"
            .to_string(),
        "warning: claude is not on PATH: to dispatch to Claude Code, npm install -g @anthropic-ai/claude-code (or set GIT_DISPATCH_CLAUDE_BIN)"
            .to_string(),
        "warning: no agent CLI found: `git dispatch demo` works, real dispatches need codex or claude".to_string(),
        format!(
            "warning: {} is not on PATH, so `git dispatch` cannot find git-dispatch yet. Add it, e.g.:",
            cargo_bin.display()
        ),
    ];
    assert_eq!(stderr.lines().collect::<Vec<_>>(), expected);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!("    echo 'export PATH=\"{}:$PATH\"' >> ~/.profile", cargo_bin.display())),
        "{stdout}"
    );
}

#[test]
fn install_sh_takes_the_agents_named_by_git_dispatch_bin_variables() {
    let home = Home::new();
    let agent = binary().display().to_string();
    let missing = home.root.join("no-such-claude").display().to_string();
    let extra = [("GIT_DISPATCH_CODEX_BIN", agent.as_str()), ("GIT_DISPATCH_CLAUDE_BIN", missing.as_str())];
    let output = home.install_with(&checkout().join("install.sh"), &tools_path(&home, &["git"]), &extra);
    assert_success(&output);
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("codex is not on PATH"), "GIT_DISPATCH_CODEX_BIN names one: {stderr}");
    assert!(!stderr.contains("no agent CLI found"), "{stderr}");
    assert!(
        stderr.contains(&format!("warning: GIT_DISPATCH_CLAUDE_BIN={missing} is not an executable file\n")),
        "{stderr}"
    );
    assert!(stderr.contains("warning: claude is not on PATH"), "{stderr}");
}

/// Where man looks for pages: none of the machine's MANPATH, only what PATH implies.
fn man_env(home: &Home) -> Vec<(String, OsString)> {
    let mut env: Vec<(String, OsString)> =
        hermetic_env_with_home(&home.home).into_iter().map(|(key, value)| (key, value.into())).collect();
    env.push(("PATH".into(), home.path_with_cargo_bin()));
    env.extend([("MANPAGER".into(), "cat".into()), ("PAGER".into(), "cat".into()), ("MANWIDTH".into(), "100".into())]);
    env
}

#[test]
fn install_sh_installs_the_man_page_so_git_dispatch_help_works() {
    let home = Home::new();
    assert_success(&home.install());
    let page = home.home.join(".local/share/man/man1/git-dispatch.1");
    let mut expected = Vec::new();
    git_dispatch::commands::man::cmd_man(&mut expected).expect("the man page renders");
    assert_eq!(read(&page), expected, "the page is `git dispatch man`");
    let link = home.home.join(".cargo/share/man/man1/git-dispatch.1");
    assert_eq!(std::fs::read_link(&link).expect("a link where man looks for ~/.cargo/bin"), page);
    let Some(_) = std::env::split_paths(&system_path()).map(|dir| dir.join("man")).find(|man| man.is_file()) else {
        support::skip::skip("man", "man is not installed: `git dispatch --help` not tried");
        return;
    };
    let help =
        Command::new("git").args(["dispatch", "--help"]).env_clear().envs(man_env(&home)).output().expect("git runs");
    assert_success(&help);
    let shown = text(&help.stdout);
    for section in ["NAME", "SYNOPSIS", "COMMANDS", "TASK PACKET", "EXIT STATUS", "ENVIRONMENT", "FILES"] {
        assert!(shown.lines().any(|line| line == section), "section {section} in:\n{shown}");
    }
    assert!(shown.contains("git dispatch stats"), "{shown}");
}

#[test]
fn install_sh_outside_a_checkout_clones_the_repository() {
    let home = Home::new();
    let copy = home.root.join("elsewhere/install.sh");
    std::fs::create_dir_all(copy.parent().expect("parent")).expect("mkdir");
    std::fs::copy(checkout().join("install.sh"), &copy).expect("copy install.sh");

    let output = home.install_with(&copy, &system_path(), &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr.lines().last(),
        Some(
            "error: not run from a git-dispatch checkout: run ./install.sh in a clone of the repository, or set \
             GIT_DISPATCH_REPO_URL to clone one"
        ),
        "{stderr}"
    );

    // A repository with the files the installer takes, served as a file:// URL.
    let origin = home.root.join("origin");
    for file in ["Cargo.toml", "SKILL.md", "CHANGELOG.md", "install.sh"] {
        std::fs::create_dir_all(&origin).expect("mkdir");
        std::fs::copy(checkout().join(file), origin.join(file)).expect("copy");
    }
    for dir in ["examples", "docs"] {
        std::fs::create_dir_all(origin.join(dir)).expect("mkdir");
        for entry in std::fs::read_dir(checkout().join(dir)).expect("read dir") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), origin.join(dir).join(entry.file_name())).expect("copy");
        }
    }
    git(&origin, &["init", "-q", "-b", "main"]);
    git(&origin, &["add", "-A"]);
    git(&origin, &["commit", "-q", "-m", "release"]);
    let url = format!("file://{}", origin.display());

    let output = home.install_with(&copy, &system_path(), &[("GIT_DISPATCH_REPO_URL", &url)]);
    assert_success(&output);
    assert!(text(&output.stdout).starts_with(&format!("Cloning {url}\n")), "{}", text(&output.stdout));
    assert_skill_installed(&home.skills().join("git-dispatch"), &origin);
    let leftovers: Vec<_> = std::fs::read_dir(&home.root)
        .expect("root")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("git-dispatch-src."))
        .collect();
    assert!(leftovers.is_empty(), "the temporary clone is removed: {leftovers:?}");
}
