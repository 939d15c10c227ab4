//! `process` is the only module that starts child processes: no other source file under src/
//! names `std::process::Command` (`clap::Command` is fine).

use std::path::Path;

#[path = "support/sources.rs"]
mod sources;
use sources::rust_files;

#[test]
fn only_the_process_module_spawns() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let allowed = [src.join("process.rs"), src.join("process")];
    let offenders: Vec<String> = files
        .iter()
        .filter(|file| !allowed.iter().any(|allowed| file.starts_with(allowed)))
        .filter(|file| {
            let text = std::fs::read_to_string(file).expect("source file");
            text.lines().any(names_std_command)
        })
        .map(|file| file.strip_prefix(&src).expect("under src").display().to_string())
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
