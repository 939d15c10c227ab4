//! `install.ps1`: it keeps the same knobs and layout as `install.sh`, and, where PowerShell (`pwsh`)
//! is installed, it installs into a temporary HOME like `install.sh` does (the test prints
//! `SKIPPED` without PowerShell: Linux CI has none).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::cli::{binary, last_line, run_dirs, worker_packet, write_packet};
use support::fixtures::fixture;
use support::git::hermetic_env_with_home;

fn checkout_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn both_installers_have_the_same_knobs_and_layout() {
    let sh = checkout_file("install.sh");
    let ps1 = checkout_file("install.ps1");
    let shared = [
        "CLAUDE_SKILLS_DIR",
        "CARGO_HOME",
        "GIT_DISPATCH_REPO_URL",
        "GIT_DISPATCH_REF",
        "GIT_DISPATCH_INSTALL_SKIP_BUILD",
        "GIT_DISPATCH_BINARY",
        "cargo install --locked --path",
        "--bin git-dispatch --root",
        "claude-codex-dispatch",
        "codex-dispatch",
        ".installed-by-git-dispatch",
        "SKILL.md.disabled",
        ".backup-",
        "examples",
        "docs",
        "CHANGELOG.md",
        "npm install -g @openai/codex",
        "npm install -g @anthropic-ai/claude-code",
        "git dispatch --version",
        "Smoke test: ",
        "claude plugin marketplace add ",
        "claude plugin install git-dispatch@git-dispatch",
        "git-dispatch mcp",
    ];
    for needle in shared {
        assert!(sh.contains(needle), "install.sh lacks {needle:?}");
        assert!(ps1.contains(needle), "install.ps1 lacks {needle:?}");
    }
    assert!(ps1.contains("codex-dispatch.cmd"), "the Windows entry point");
    // `exit` would close the session of `iwr ... | iex`: only a script run from a file exits.
    assert_eq!(ps1.matches("exit 1").count(), 1);
    assert!(ps1.contains("if ($failed -and $PSCommandPath) { exit 1 }"));
}

fn pwsh() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join("pwsh")).find(|path| path.is_file())
}

#[test]
fn install_ps1_installs_into_a_temporary_home_where_powershell_exists() {
    let Some(pwsh) = pwsh() else {
        support::skip::skip("powershell", "pwsh (PowerShell) is not on PATH");
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let home = tmp.path().canonicalize().expect("canonical").join("home");
    std::fs::create_dir_all(&home).expect("mkdir home");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("install.ps1");
    let install = || {
        Command::new(&pwsh)
            .args(["-NoProfile", "-NonInteractive", "-File"])
            .arg(&script)
            .env_clear()
            .envs(hermetic_env_with_home(&home))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CARGO_HOME", home.join(".cargo"))
            .env("GIT_DISPATCH_INSTALL_SKIP_BUILD", "1")
            .env("GIT_DISPATCH_BINARY", binary())
            .output()
            .expect("pwsh runs")
    };
    for _ in 0..2 {
        let output = install();
        assert_eq!(output.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    }
    assert_eq!(
        std::fs::read(home.join(".cargo/bin/git-dispatch")).expect("binary"),
        std::fs::read(binary()).expect("built")
    );
    let skill = home.join(".claude/skills/git-dispatch");
    assert_eq!(std::fs::read(skill.join("SKILL.md")).expect("SKILL.md"), checkout_file("SKILL.md").into_bytes());
    assert!(skill.join("examples/worker.md").is_file());
    seed_dry_run(&home.join(".claude/skills/claude-codex-dispatch/bin/codex-dispatch"));
}

fn seed_dry_run(entry: &Path) {
    let fx = fixture("python-project");
    let packet = write_packet(&fx, "task.md", &worker_packet(&fx.repo, "- tests/test_new.py"));
    let output = Command::new(entry)
        .args(["--task", packet.to_str().expect("utf-8"), "--dry-run"])
        .env_clear()
        .envs(hermetic_env_with_home(&fx.home))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(&fx.repo)
        .output()
        .expect("entry point runs");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(last_line(&output), run_dirs(&fx.repo)[0].display().to_string());
}
