//! `process` is the only module that starts child processes: no other source file under src/
//! names `std::process::Command` (`clap::Command` is fine).

#[path = "support/sources.rs"]
mod sources;
use sources::sources;

#[test]
fn only_the_process_module_spawns() {
    let offenders: Vec<String> = sources("src")
        .into_iter()
        .filter(|(rela, _)| rela != "process.rs" && !rela.starts_with("process/"))
        .filter(|(_, text)| text.lines().any(names_std_command))
        .map(|(rela, _)| rela)
        .collect();
    assert_eq!(offenders, Vec::<String>::new(), "spawn through crate::process instead");
}

/// `std::process::Command`, or `Command` imported from `std::process` on the same line.
fn names_std_command(line: &str) -> bool {
    line.contains("process::Command") || (line.contains("std::process::{") && line.contains("Command"))
}

#[test]
fn the_check_recognises_the_usual_spellings() {
    assert!(names_std_command("use std::process::Command;"));
    assert!(names_std_command("use std::process::{Child, Command, Stdio};"));
    assert!(names_std_command("let c = std::process::Command::new(\"git\");"));
    assert!(!names_std_command("use std::process::ExitCode;"));
    assert!(!names_std_command("let cmd = clap::Command::new(\"git-dispatch\");"));
}
