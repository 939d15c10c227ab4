//! Finding the real agent CLIs: the first executable candidate wins; none means a clear skip
//! locally and a failure under `CI=true`; the environment helpers isolate each CLI's state.

#[path = "support/real_cli.rs"]
mod real_cli;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use pretty_assertions::assert_eq;

use real_cli::{locate, Cli};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

#[test]
fn the_first_executable_candidate_is_used() {
    let dir = temp();
    let not_executable = dir.path().join("plain");
    std::fs::write(&not_executable, "").unwrap();
    let executable = dir.path().join("codex");
    std::fs::write(&executable, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&executable, std::fs::Permissions::from_mode(0o755)).unwrap();
    let candidates = vec![dir.path().join("missing"), not_executable, executable.clone()];
    assert_eq!(locate(Cli::Codex, &candidates, true), Some(executable));
}

#[test]
fn a_missing_cli_is_skipped_locally() {
    assert_eq!(locate(Cli::Claude, &[PathBuf::from("/nonexistent/claude")], false), None);
}

#[test]
#[should_panic(expected = "claude not installed (run scripts/install-agent-clis.sh); CI=true makes")]
fn a_missing_cli_fails_under_ci() {
    locate(Cli::Claude, &[PathBuf::from("/nonexistent/claude")], true);
}

fn value<'a>(env: &'a [(String, std::ffi::OsString)], name: &str) -> &'a std::ffi::OsStr {
    env.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_os_str())
        .unwrap_or_else(|| panic!("{name} is set"))
}

#[test]
fn codex_env_writes_a_config_under_the_root_and_names_the_binary() {
    let dir = temp();
    let env = real_cli::codex_env(dir.path(), "http://127.0.0.1:9/v1", "/bin/codex".as_ref());
    let codex_home = PathBuf::from(value(&env, "CODEX_HOME"));
    assert_eq!(codex_home, dir.path().join("codex-home"));
    // NOTES.md: codex refuses helper binaries under a temp dir only when its own sandbox is on;
    // git-dispatch always runs it with that sandbox bypassed, so a clone under /tmp is fine.
    let config = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    assert!(config.contains("base_url = \"http://127.0.0.1:9/v1\"\nwire_api = \"responses\"\n"));
    assert_eq!(value(&env, "GIT_DISPATCH_CODEX_BIN"), "/bin/codex");
    assert_eq!(PathBuf::from(value(&env, "HOME")), dir.path().join("agent-home"));
    assert_eq!(value(&env, "GIT_CONFIG_GLOBAL"), "/dev/null");
}

#[test]
fn claude_env_points_at_the_server_with_isolated_config() {
    let dir = temp();
    let env = real_cli::claude_env(dir.path(), "http://127.0.0.1:9", "/bin/claude".as_ref());
    assert_eq!(value(&env, "ANTHROPIC_BASE_URL"), "http://127.0.0.1:9");
    assert_eq!(value(&env, "ANTHROPIC_API_KEY"), "test");
    assert_eq!(value(&env, "CLAUDE_CODE_MAX_RETRIES"), "0");
    assert_eq!(value(&env, "IS_SANDBOX"), "1");
    assert_eq!(PathBuf::from(value(&env, "CLAUDE_CONFIG_DIR")), dir.path().join("claude-config"));
    assert_eq!(value(&env, "GIT_DISPATCH_CLAUDE_BIN"), "/bin/claude");
}
