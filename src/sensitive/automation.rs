//! Files that make other programs run code or steer other agents (kind `automation`): CI
//! pipelines, git hook managers, editor tasks, dev containers, and the instruction and settings
//! files of coding agents. Matched at any directory depth (a subfolder of a monorepo is often
//! opened or built on its own), case-insensitively, with trailing dots and spaces and HFS+
//! ignorable code points dropped as the filesystems that ignore them do.

use gix::bstr::{BStr, ByteSlice};

/// One rule: consecutive path components, and whether the path must go on below them (a folder
/// whose every file counts) or end with them (one file).
struct Rule {
    components: &'static [&'static str],
    below: bool,
    what: &'static str,
}

const fn folder(components: &'static [&'static str], what: &'static str) -> Rule {
    Rule { components, below: true, what }
}

const fn file(components: &'static [&'static str], what: &'static str) -> Rule {
    Rule { components, below: false, what }
}

const RULES: &[Rule] = &[
    folder(&[".github", "workflows"], "a GitHub Actions workflow"),
    folder(&[".github", "actions"], "a GitHub Actions action"),
    file(&[".github", "copilot-instructions.md"], "GitHub Copilot instructions"),
    folder(&[".github", "instructions"], "GitHub Copilot instructions"),
    file(&[".gitlab-ci.yml"], "a GitLab CI pipeline"),
    file(&[".gitlab-ci.yaml"], "a GitLab CI pipeline"),
    folder(&[".circleci"], "CircleCI configuration"),
    file(&["jenkinsfile"], "a Jenkins pipeline"),
    folder(&[".husky"], "a git hook (husky)"),
    file(&[".pre-commit-config.yaml"], "pre-commit hook configuration"),
    file(&[".pre-commit-config.yml"], "pre-commit hook configuration"),
    file(&["lefthook.yml"], "git hook configuration (lefthook)"),
    file(&["lefthook.yaml"], "git hook configuration (lefthook)"),
    file(&[".lefthook.yml"], "git hook configuration (lefthook)"),
    file(&[".lefthook.yaml"], "git hook configuration (lefthook)"),
    file(&["lefthook-local.yml"], "git hook configuration (lefthook)"),
    file(&["lefthook-local.yaml"], "git hook configuration (lefthook)"),
    file(&[".vscode", "tasks.json"], "VS Code tasks"),
    file(&[".vscode", "launch.json"], "VS Code launch configuration"),
    folder(&[".devcontainer"], "dev container configuration"),
    file(&[".devcontainer.json"], "dev container configuration"),
    file(&["agents.md"], "instructions for coding agents"),
    file(&["agents.override.md"], "instructions for coding agents"),
    file(&["claude.md"], "instructions for Claude Code"),
    file(&["claude.local.md"], "instructions for Claude Code"),
    folder(&[".claude"], "Claude Code settings, hooks or commands"),
    folder(&[".codex"], "Codex settings or instructions"),
    folder(&[".cursor"], "Cursor rules or settings"),
    file(&[".cursorrules"], "Cursor rules"),
];

/// A path component as a case-insensitive filesystem compares it.
fn normalized(component: &BStr) -> String {
    let folded = super::names::fold(component);
    folded.trim_end_matches([' ', '.']).to_string()
}

/// Why `path` is an `automation` change, if it is.
pub fn automation_problem(path: &BStr) -> Option<String> {
    let components: Vec<String> = path.split(|b| *b == b'/' || *b == b'\\').map(|c| normalized(c.as_bstr())).collect();
    let rule = RULES.iter().find(|rule| matches(rule, &components))?;
    Some(format!(
        "`{}` is {}: it can make other programs run code or steer other agents",
        super::names::show(path),
        rule.what
    ))
}

fn matches(rule: &Rule, components: &[String]) -> bool {
    let wanted = rule.components.len();
    (0..components.len()).any(|start| {
        let end = start + wanted;
        let fits = if rule.below { end < components.len() } else { end == components.len() };
        fits && components[start..end].iter().zip(rule.components).all(|(have, want)| have == want)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_files_match_at_any_depth_and_case() {
        let flagged = [
            ".github/workflows/ci.yml",
            "sub/.GitHub/Workflows/deploy.yaml",
            ".gitlab-ci.yml",
            "svc/.gitlab-ci.yml",
            ".circleci/config.yml",
            "Jenkinsfile",
            "tools/JENKINSFILE",
            ".husky/pre-commit",
            ".pre-commit-config.yaml",
            "lefthook.yml",
            ".vscode/tasks.json",
            "web/.vscode/launch.json",
            ".devcontainer/devcontainer.json",
            "AGENTS.md",
            "docs/agents.md",
            "CLAUDE.md",
            ".claude/settings.json",
            ".codex/config.toml",
            ".cursor/rules/x.mdc",
            ".cursorrules",
            ".github/copilot-instructions.md",
            "CLAUDE.md. ",
            "\u{200c}.claude/hooks.json",
        ];
        for path in flagged {
            assert!(automation_problem(path.into()).is_some(), "{path:?} is automation");
        }
    }

    #[test]
    fn look_alikes_do_not_match() {
        let plain = [
            ".github/CODEOWNERS",
            ".github/workflows",
            "workflows/ci.yml",
            ".vscode/settings.json",
            "src/claude.rs",
            "agents.md.bak",
            "docs/jenkinsfile.md",
            ".claude",
            "my.husky/x",
        ];
        for path in plain {
            assert_eq!(automation_problem(path.into()), None, "{path:?} is not automation");
        }
    }
}
