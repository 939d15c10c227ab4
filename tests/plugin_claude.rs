//! The Claude Code plugin in the repository (`plugins/git-dispatch/`, listed by the marketplace
//! file `.claude-plugin/marketplace.json`): its skill is the repository's SKILL.md (with the docs
//! and examples it names), the real Claude Code (2.1.332) validates the plugin and the
//! marketplace, and installs the plugin from the local marketplace into a temporary
//! CLAUDE_CONFIG_DIR with its skill, its four commands and its MCP server registered (the server
//! connects: `claude mcp list` starts `git-dispatch mcp`). The claude tests are skipped with a
//! message when claude is not installed, a failure under `CI=true`.

mod support;

#[path = "support/real_cli.rs"]
mod real_cli;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use real_cli::Cli;

const COMMANDS: [&str; 4] = ["dispatch", "dispatch-apply", "dispatch-review", "dispatch-status"];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn plugin_dir() -> PathBuf {
    repo_root().join("plugins/git-dispatch")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// `claude ARGS` with a private config dir and home under `root`, and git-dispatch on PATH.
fn claude(claude: &Path, root: &Path, args: &[&str]) -> Output {
    let mut env = real_cli::claude_env(root, "http://127.0.0.1:9", claude);
    let bin_dir = support::cli::binary().parent().expect("the binary's folder").to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    env.retain(|(key, _)| key != "PATH");
    env.push(("PATH".into(), path));
    let out = Command::new(claude).env_clear().envs(env).current_dir(root).args(args).output().expect("claude runs");
    assert_eq!(out.status.code(), Some(0), "claude {args:?}: {}\n{}", text(&out.stdout), text(&out.stderr));
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_plugin_carries_the_repositorys_skill_and_version() {
    let skill = plugin_dir().join("skills/git-dispatch");
    let mut copies = vec![("SKILL.md".to_string(), skill.join("SKILL.md"))];
    for folder in ["docs", "examples"] {
        for entry in std::fs::read_dir(repo_root().join(folder)).expect("list") {
            let name = format!("{folder}/{}", entry.expect("entry").file_name().to_string_lossy());
            copies.push((name.clone(), skill.join(&name)));
        }
    }
    for (name, copy) in copies {
        let original = std::fs::read(repo_root().join(&name)).expect("the original");
        let copied = std::fs::read(&copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display()));
        assert!(original == copied, "{} differs from {name}: copy it again (see CONTRIBUTING.md)", copy.display());
    }
    let version = env!("CARGO_PKG_VERSION");
    let manifest = read_json(&plugin_dir().join(".claude-plugin/plugin.json"));
    assert_eq!(manifest["version"], json!(version));
    assert_eq!(manifest["mcpServers"]["git-dispatch"], json!({"command": "git-dispatch", "args": ["mcp"]}));
    let marketplace = read_json(&repo_root().join(".claude-plugin/marketplace.json"));
    assert_eq!(marketplace["plugins"][0]["source"], json!("./plugins/git-dispatch"));
    assert_eq!(marketplace["plugins"][0]["version"], json!(version));
    for command in COMMANDS {
        let body = std::fs::read_to_string(plugin_dir().join(format!("commands/{command}.md"))).expect("command");
        assert!(body.starts_with("---\ndescription: "), "{command}.md has a description");
    }
}

#[test]
fn claude_validates_the_plugin_and_the_marketplace() {
    let Some(bin) = real_cli::find(Cli::Claude) else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugin = plugin_dir().display().to_string();
    let report: Value =
        serde_json::from_slice(&claude(&bin, tmp.path(), &["plugin", "validate", "--json", &plugin]).stdout)
            .expect("a JSON report");
    assert_eq!(report["success"], json!(true), "{report}");
    assert_eq!((report["manifest"]["errors"].clone(), report["manifest"]["warnings"].clone()), (json!([]), json!([])));
    let provides = &report["provides"];
    assert_eq!(
        provides["mcpServers"],
        json!([{"name": "git-dispatch", "type": "stdio", "target": "git-dispatch", "args": ["mcp"]}])
    );
    assert_eq!(provides["skills"], json!(["git-dispatch:git-dispatch"]));
    let commands: Vec<String> = COMMANDS.iter().map(|name| format!("git-dispatch:{name}")).collect();
    assert_eq!(provides["commands"], json!(commands));
    let marketplace = claude(&bin, tmp.path(), &["plugin", "validate", &repo_root().display().to_string()]);
    assert!(text(&marketplace.stdout).contains("Validation passed"), "{}", text(&marketplace.stdout));
}

#[test]
fn claude_installs_the_plugin_from_the_local_marketplace() {
    let Some(bin) = real_cli::find(Cli::Claude) else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    claude(&bin, root, &["plugin", "marketplace", "add", &repo_root().display().to_string()]);
    claude(&bin, root, &["plugin", "install", "git-dispatch@git-dispatch"]);

    let listed: Value =
        serde_json::from_slice(&claude(&bin, root, &["plugin", "list", "--json"]).stdout).expect("JSON");
    let entry =
        listed.as_array().into_iter().flatten().find(|p| p["id"] == "git-dispatch@git-dispatch").expect("installed");
    assert_eq!((entry["enabled"].clone(), entry["version"].clone()), (json!(true), json!(env!("CARGO_PKG_VERSION"))));
    assert_eq!(entry["mcpServers"]["git-dispatch"], json!({"command": "git-dispatch", "args": ["mcp"]}));
    let installed = PathBuf::from(entry["installPath"].as_str().expect("installPath"));
    assert!(installed.starts_with(root.join("claude-config")), "installed into the temporary config dir: {entry}");
    let skill = std::fs::read(installed.join("skills/git-dispatch/SKILL.md")).expect("the installed skill");
    assert!(skill == std::fs::read(repo_root().join("SKILL.md")).expect("SKILL.md"), "the skill installed as it is");

    let details = text(&claude(&bin, root, &["plugin", "details", "git-dispatch@git-dispatch"]).stdout);
    let skills_line = details.lines().find(|line| line.trim_start().starts_with("Skills (")).expect("a Skills line");
    for name in COMMANDS.iter().chain(&["git-dispatch"]) {
        assert!(skills_line.split([' ', ',']).any(|word| word == *name), "{name} registered: {details}");
    }
    assert!(details.contains("MCP servers (1)  git-dispatch"), "{details}");

    let servers = text(&claude(&bin, root, &["mcp", "list"]).stdout);
    assert!(servers.contains("plugin:git-dispatch:git-dispatch: git-dispatch mcp - ✔ Connected"), "{servers}");
}
