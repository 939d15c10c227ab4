//! What the installer puts in the skill folder stays true to the code: SKILL.md's frontmatter, its
//! commands and flags, and docs/policy.md, docs/packet.md and docs/run.md naming every field there is.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::CommandFactory;
use git_dispatch::cli::Cli;

fn read(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The table rows of a Markdown file: the first cell of each `| `name` | ... |` line.
fn documented_names(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once("` |").map(|(name, _)| name.to_string()))
        .collect()
}

#[test]
fn policy_md_documents_every_field_of_policy_json() {
    let verdict = serde_json::to_value(git_dispatch::policy::Verdict::default()).expect("serializes");
    let fields: BTreeSet<String> = verdict.as_object().expect("an object").keys().cloned().collect();
    let documented = documented_names(&read("docs/policy.md"));
    let missing: Vec<&String> = fields.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&fields).collect();
    assert!(missing.is_empty(), "fields without a row in docs/policy.md: {missing:?}");
    assert!(unknown.is_empty(), "rows in docs/policy.md that are no field: {unknown:?}");
}

#[test]
fn run_md_documents_every_field_of_run_json() {
    let record = serde_json::to_value(git_dispatch::artifacts::RunRecord::default()).expect("serializes");
    let documented = documented_names(&read("docs/run.md"));
    let missing: Vec<&String> =
        record.as_object().expect("an object").keys().filter(|field| !documented.contains(*field)).collect();
    assert!(missing.is_empty(), "run.json fields without a row in docs/run.md: {missing:?}");
    let usage = serde_json::to_value(git_dispatch::agent::TokenUsage::default()).expect("serializes");
    let missing: Vec<&String> =
        usage.as_object().expect("an object").keys().filter(|field| !documented.contains(*field)).collect();
    assert!(missing.is_empty(), "token_usage fields without a row in docs/run.md: {missing:?}");
}

#[test]
fn packet_md_documents_every_packet_field() {
    let fields = [
        "MODE",
        "WORKDIR",
        "OBJECTIVE",
        "WRITE SCOPE",
        "NON-GOALS",
        "VERIFICATION",
        "DELIVERABLE",
        "CONTEXT",
        "AGENT",
        "BASE",
        "SETUP",
        "TIMEOUT SEC",
        "HEARTBEAT SEC",
        "ALLOW DIRTY OVERLAP",
        "WRITABLE",
        "ALLOW",
    ];
    let documented = documented_names(&read("docs/packet.md"));
    for field in fields {
        assert!(documented.contains(field), "docs/packet.md has no row for {field}");
    }
    // Each field name is one the parser knows: a packet using all of them parses.
    let packet = "MODE: worker\nWORKDIR: .\nOBJECTIVE: o\nWRITE SCOPE: a\nNON-GOALS: n\nVERIFICATION: v\n\
                  DELIVERABLE: d\nCONTEXT: c\nAGENT: claude\nBASE: HEAD\nSETUP: true\nTIMEOUT SEC: 5\n\
                  HEARTBEAT SEC: 5\nALLOW DIRTY OVERLAP: true\nWRITABLE: /tmp/x\nALLOW: symlink\n";
    let parsed = git_dispatch::packet::parse(packet).expect("every documented field parses");
    assert_eq!(
        (parsed.timeout_sec, parsed.allow_dirty_overlap, parsed.allow.as_slice()),
        (Some(5), true, &["symlink".to_string()][..])
    );
}

#[test]
fn skill_md_has_the_frontmatter_claude_code_reads() {
    let skill = read("SKILL.md");
    let frontmatter = skill.strip_prefix("---\n").and_then(|rest| rest.split_once("\n---\n")).expect("frontmatter").0;
    assert!(frontmatter.starts_with("name: git-dispatch\n"), "{frontmatter}");
    let description: String = frontmatter
        .split_once("description: >\n")
        .expect("a folded description")
        .1
        .lines()
        .take_while(|line| line.starts_with("  "))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(description.contains("Use when"), "the description says when to use it: {description}");
    assert!(description.len() <= 1024, "Claude Code limits descriptions to 1024 characters: {}", description.len());
    assert!(frontmatter.ends_with(
        "allowed-tools:\n  - Bash(git dispatch:*)\n  - Bash(git-dispatch:*)\n  - Bash(~/.claude/skills/claude-codex-dispatch/bin/codex-dispatch:*)\n  - Read\n  - Write"
    ));
}

/// The command prefixes of the `Bash(PREFIX:*)` rules in SKILL.md's `allowed-tools`.
fn allowed_prefixes(skill: &str) -> Vec<String> {
    let frontmatter = skill.split("\n---\n").next().expect("frontmatter");
    frontmatter
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- Bash(")?.strip_suffix(":*)"))
        .map(str::to_string)
        .collect()
}

#[test]
fn skill_md_allows_every_command_it_recommends() {
    let skill = read("SKILL.md");
    let prefixes = allowed_prefixes(&skill);
    let allowed = |command: &str| prefixes.iter().any(|prefix| command.starts_with(prefix.as_str()));
    let mut commands: Vec<String> = Vec::new();
    let mut in_bash = false;
    for line in skill.lines() {
        match line.trim() {
            "```bash" | "```sh" => in_bash = true,
            "```" => in_bash = false,
            command if in_bash && !command.is_empty() && !command.starts_with('#') => {
                commands.push(command.to_string())
            }
            _ => {}
        }
    }
    // Entry points named in the text: anything in backticks that starts like a program path.
    for (index, _) in skill.match_indices("`~/") {
        let quoted: String = skill[index + 1..].chars().take_while(|c| *c != '`').collect();
        commands.push(quoted);
    }
    assert!(commands.iter().any(|command| command.contains("codex-dispatch")), "{commands:?}");
    let denied: Vec<&String> = commands.iter().filter(|command| !allowed(command)).collect();
    assert!(denied.is_empty(), "SKILL.md recommends commands its allowed-tools do not cover: {denied:?}");
    assert!(skill.contains("`IS_SANDBOX=1`") && skill.contains("never") && skill.contains("root"));
}

#[test]
fn skill_md_names_only_real_commands_flags_and_files() {
    let skill = read("SKILL.md");
    let cli = Cli::command();
    let commands: BTreeSet<String> = cli.get_subcommands().map(|command| command.get_name().to_string()).collect();
    let mut flags: BTreeSet<String> = ["--help", "--version"].iter().map(|flag| flag.to_string()).collect();
    for command in std::iter::once(&cli).chain(cli.get_subcommands()) {
        flags.extend(command.get_arguments().filter_map(|arg| arg.get_long()).map(|long| format!("--{long}")));
    }
    for (index, _) in skill.match_indices("git dispatch ") {
        let word: String = skill[index + 13..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
        if word.is_empty() || word.starts_with("--") {
            continue;
        }
        assert!(commands.contains(&word), "SKILL.md names `git dispatch {word}`, which is no command");
    }
    let mut named_flags = BTreeSet::new();
    for (index, _) in skill.match_indices(" --") {
        let flag: String = skill[index + 1..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
        if flag.len() > 2 {
            named_flags.insert(flag);
        }
    }
    let unknown: Vec<&String> = named_flags.difference(&flags).collect();
    assert!(unknown.is_empty(), "SKILL.md names flags git-dispatch does not have: {unknown:?}");
    for file in ["examples/", "docs/packet.md", "docs/policy.md"] {
        assert!(skill.contains(&format!("`{file}`")), "SKILL.md points to {file}");
        assert!(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file).exists(), "{file} exists");
    }
}
