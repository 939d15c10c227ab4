//! `git dispatch man` is complete: every command with each of its options, the task packet's
//! fields, the exit codes, every environment variable the code reads, and the run folder's files.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory;

use support::cli::binary;

fn man_page() -> String {
    let output = std::process::Command::new(binary()).arg("man").output().expect("git-dispatch runs");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// The body of the `.SH` section `title` (up to the next `.SH`).
fn section<'a>(page: &'a str, title: &str) -> &'a str {
    let start = page.find(&format!(".SH {title}\n")).unwrap_or_else(|| panic!("no section {title}"));
    let body = &page[start + 1..];
    &body[..body.find("\n.SH ").unwrap_or(body.len())]
}

/// Every `"GIT_DISPATCH_..."` / `"CODEX_DISPATCH_..."` string literal under `dir`.
fn env_names(dir: &Path, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            env_names(&path, found);
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        for prefix in ["\"GIT_DISPATCH_", "\"CODEX_DISPATCH_"] {
            for (at, _) in text.match_indices(prefix) {
                let name: String = text[at + 1..].chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
                found.insert(name);
            }
        }
    }
}

#[test]
fn every_command_and_option_is_in_the_page() {
    let page = man_page();
    let commands = section(&page, "COMMANDS");
    let cli = git_dispatch::cli::Cli::command();
    for sub in cli.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let heading = format!(".SS \"git dispatch {}\"", sub.get_name());
        let start = commands.find(&heading).unwrap_or_else(|| panic!("{heading} missing"));
        let body = &commands[start + heading.len()..];
        let body = &body[..body.find("\n.SS ").unwrap_or(body.len())];
        for long in sub.get_arguments().filter(|arg| !arg.is_hide_set()).filter_map(|arg| arg.get_long()) {
            if long != "help" {
                assert!(
                    body.contains(&format!("--{long}").replace('-', "\\-")),
                    "--{long} of {} missing",
                    sub.get_name()
                );
            }
        }
    }
    assert!(!commands.contains("git dispatch __replay"), "hidden commands stay out");
}

#[test]
fn packet_exit_codes_environment_and_files_are_in_the_page() {
    let page = man_page();
    let packet = section(&page, "\"TASK PACKET\"");
    for field in ["MODE", "WORKDIR", "OBJECTIVE", "WRITE SCOPE", "NON-GOALS", "VERIFICATION", "DELIVERABLE", "CONTEXT"]
    {
        assert!(packet.contains(&format!("\\fB{field}\\fR")), "packet field {field}");
    }
    for field in ["AGENT", "BASE", "SETUP", "TIMEOUT SEC", "HEARTBEAT SEC", "ALLOW DIRTY OVERLAP", "WRITABLE", "ALLOW"]
    {
        assert!(packet.contains(&format!("\\fB{field}\\fR")), "packet field {field}");
    }
    let exit = section(&page, "\"EXIT STATUS\"");
    for code in 0..=3 {
        assert!(exit.contains(&format!(".TP\n\\fB{code}\\fR\n")), "exit code {code}");
    }
    let environment = section(&page, "ENVIRONMENT");
    let mut names = BTreeSet::new();
    env_names(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut names);
    assert!(names.len() > 10, "{names:?}");
    let undocumented: Vec<&String> = names.iter().filter(|name| !environment.contains(name.as_str())).collect();
    assert!(undocumented.is_empty(), "environment variables the page does not name: {undocumented:?}");
    let files = section(&page, "FILES");
    for file in ["policy.json", "run.json", "result.patch", "changes.json", "events.jsonl", "info/exclude"] {
        assert!(files.contains(file), "{file}");
    }
}
