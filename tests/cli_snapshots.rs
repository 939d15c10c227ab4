//! Snapshots of human-facing output that has no paths or hashes in it: the help texts.
//! Update with `INSTA_UPDATE=always cargo test --test cli_snapshots` (see CONTRIBUTING.md).

use std::process::Command;

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_git-dispatch"))
        .args(args)
        .env_clear()
        .env("COLUMNS", "100")
        .output()
        .expect("git-dispatch runs");
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn top_level_help() {
    insta::assert_snapshot!("help", help(&["--help"]));
}

#[test]
fn run_help() {
    insta::assert_snapshot!("run_help", help(&["run", "--help"]));
}

#[test]
fn clean_help() {
    insta::assert_snapshot!("clean_help", help(&["clean", "--help"]));
}
