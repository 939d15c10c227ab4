//! What a newcomer installs: `cargo install --path .` builds only `git-dispatch` (the test helper
//! `fake-agent` needs a feature only the tests turn on), the release binary carries no debug info,
//! and the README's first command says that `~/.cargo/bin` must be on PATH.

use std::path::PathBuf;
use std::process::Command;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(manifest_dir().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

#[test]
fn cargo_install_builds_only_git_dispatch() {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--offline", "--format-version", "1"])
        .current_dir(manifest_dir())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let package = &metadata["packages"][0];
    let binaries: Vec<&serde_json::Value> =
        package["targets"].as_array().expect("targets").iter().filter(|t| t["kind"][0] == "bin").collect();
    let installable: Vec<&str> = binaries
        .iter()
        .filter(|target| target["required-features"].as_array().is_none_or(|features| features.is_empty()))
        .map(|target| target["name"].as_str().expect("name"))
        .collect();
    assert_eq!(installable, ["git-dispatch"], "binaries `cargo install` builds without features");
    let fake = binaries.iter().find(|target| target["name"] == "fake-agent").expect("the fake agent is a target");
    assert_eq!(fake["required-features"], serde_json::json!(["fake-agent"]));
    let default = package["features"]["default"].as_array().cloned().unwrap_or_default();
    assert!(!default.contains(&serde_json::json!("fake-agent")), "fake-agent is not a default feature");
    // The tests still get it: the dev-dependency on the package turns the feature on.
    assert!(std::path::Path::new(env!("CARGO_BIN_EXE_fake-agent")).is_file());
}

#[test]
fn the_release_profile_strips_debug_info() {
    let manifest = read("Cargo.toml");
    let release = manifest.split("[profile.release]").nth(1).expect("a [profile.release] section");
    let release = release.split("\n[").next().unwrap_or(release);
    assert!(release.lines().any(|line| line.trim() == "strip = \"debuginfo\""), "{release}");
    assert!(read("CONTRIBUTING.md").contains("CARGO_PROFILE_RELEASE_STRIP"), "CONTRIBUTING says how to get symbols");
}

#[test]
fn the_readme_first_block_says_cargo_bin_must_be_on_path() {
    let readme = read("README.md");
    let block = readme.split("```sh\n").nth(1).and_then(|rest| rest.split("\n```").next()).expect("a first sh block");
    assert!(block.lines().next().is_some_and(|line| line.starts_with("cargo install")), "{block}");
    assert!(block.contains("~/.cargo/bin on PATH"), "the block says where the binary goes and that PATH needs it");
}
