//! Finding the agent programs: the override variables, PATH, and the install hint when neither
//! has one.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use git_dispatch::agent::{locate_with, AgentKind, AgentNotFound};

fn program(dir: &Path, name: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "#!/bin/sh\n").expect("program");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

#[test]
fn the_first_executable_on_path_wins() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (first, second) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&first).expect("dir a");
    std::fs::create_dir_all(&second).expect("dir b");
    program(&first, "codex", 0o644);
    let expected = program(&second, "codex", 0o755);
    let path_var = std::env::join_paths([&first, &second]).expect("PATH");
    assert_eq!(locate_with(AgentKind::Codex, None, Some(&path_var)), Ok(expected));
}

#[test]
fn an_override_path_is_used_as_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let custom = program(dir.path(), "my-claude", 0o755);
    let found = locate_with(AgentKind::Claude, Some(custom.as_os_str()), Some(OsStr::new("")));
    assert_eq!(found, Ok(custom));
}

#[test]
fn an_override_name_is_looked_up_on_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let custom = program(dir.path(), "fake-agent", 0o755);
    let found = locate_with(AgentKind::Codex, Some(OsStr::new("fake-agent")), Some(dir.path().as_os_str()));
    assert_eq!(found, Ok(custom));
}

#[test]
fn a_bad_override_names_the_variable() {
    let error = locate_with(AgentKind::Codex, Some(OsStr::new("/nowhere/codex")), None).expect_err("not there");
    assert_eq!(error.to_string(), "GIT_DISPATCH_CODEX_BIN is set to /nowhere/codex, which is not an executable file");
}

#[test]
fn not_found_says_how_to_install() {
    let dir = tempfile::tempdir().expect("temp dir");
    let codex = locate_with(AgentKind::Codex, None, Some(dir.path().as_os_str())).expect_err("empty PATH dir");
    assert_eq!(
        codex.to_string(),
        "codex not found on PATH: install it with `npm install -g @openai/codex`, \
         or set GIT_DISPATCH_CODEX_BIN to its path"
    );
    let claude = locate_with(AgentKind::Claude, Some(OsStr::new("")), None).expect_err("no PATH");
    assert_eq!(
        claude,
        AgentNotFound::NotOnPath {
            program: "claude".into(),
            package: "@anthropic-ai/claude-code",
            env: "GIT_DISPATCH_CLAUDE_BIN",
        }
    );
}
