//! Issue 19 item 6: files that make other programs run code or steer other agents are sensitive
//! (`automation`) at any depth and in any case; `ALLOW: automation` or `--allow automation` lets
//! them through.

use serde_json::json;

use crate::common::{dispatched, sensitive};
use crate::support::fixtures::fixture;

const AUTOMATION: &[&str] = &[
    ".circleci/config.yml",
    ".claude/settings.json",
    ".codex/config.toml",
    ".cursor/rules/style.mdc",
    ".cursorrules",
    ".devcontainer/devcontainer.json",
    ".github/copilot-instructions.md",
    ".github/workflows/ci.yml",
    ".gitlab-ci.yml",
    ".husky/pre-commit",
    ".pre-commit-config.yaml",
    ".vscode/launch.json",
    ".vscode/tasks.json",
    "AGENTS.md",
    "CLAUDE.md",
    "Jenkinsfile",
    "lefthook.yml",
    "sub/.GitHub/Workflows/deploy.yml",
    "sub/agents.md",
];

/// Each file written, its folder made first.
fn writes(paths: &[&str]) -> serde_json::Value {
    let mut steps = Vec::new();
    for path in paths {
        if let Some((dir, _)) = path.rsplit_once('/') {
            steps.push(json!({"step": "mkdir", "path": dir}));
        }
        steps.push(json!({"step": "write", "path": path, "content": "run: something\n"}));
    }
    json!(steps)
}

#[test]
fn each_automation_path_is_flagged() {
    let fx = fixture("python-project");
    let mut plan = writes(AUTOMATION);
    plan.as_array_mut().expect("steps").push(json!({"step": "write", "path": "docs/agents.txt", "content": "plain\n"}));
    let (_, policy) = dispatched(&fx, "", &plan, &[], 3);
    let found = sensitive(&policy);
    let want: Vec<(String, String, bool)> =
        AUTOMATION.iter().map(|path| (path.to_string(), "automation".to_string(), false)).collect();
    assert_eq!(found, want, "{policy:#}");
    assert!(policy["messages"].to_string().contains("(automation)"));
}

#[test]
fn allow_automation_lets_them_through() {
    let fx = fixture("python-project");
    let (_, policy) = dispatched(&fx, "ALLOW: automation\n", &writes(&[".github/workflows/ci.yml"]), &[], 0);
    assert_eq!(sensitive(&policy), [(".github/workflows/ci.yml".to_string(), "automation".to_string(), true)]);
    assert_eq!(policy["offered"], true);

    let fx = fixture("python-project");
    let (_, policy) = dispatched(&fx, "", &writes(&["AGENTS.md"]), &["--allow", "automation"], 0);
    assert_eq!(sensitive(&policy), [("AGENTS.md".to_string(), "automation".to_string(), true)]);
}
