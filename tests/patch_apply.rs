//! `patch::render` output applied with `git apply --index` to a clean clone at the base
//! reproduces the result tree exactly, over every corner case of `support::scenarios`.

mod support;

use git_dispatch::patch;
use pretty_assertions::assert_eq;
use support::git::{git, git_output};
use support::scenarios::{self, Built};

fn render(built: &Built) -> Vec<u8> {
    let repo = gix::open(built.fx.path()).unwrap();
    let base = gix::ObjectId::from_hex(built.base.as_bytes()).unwrap();
    let result = gix::ObjectId::from_hex(built.result.as_bytes()).unwrap();
    patch::render(&repo, base, result).unwrap()
}

/// Applies `patch` to a fresh clone at the base; returns the clone's index tree.
fn apply_on_clone(built: &Built, name: &str, patch: &[u8]) -> String {
    let clone = built.fx.root.join(format!("clone-{name}"));
    let clone_str = clone.to_str().unwrap();
    git(&built.fx.root, &["clone", "-q", "--no-checkout", built.fx.path().to_str().unwrap(), clone_str]);
    git(&clone, &["checkout", "-q", "--detach", &built.base]);
    let patch_file = built.fx.root.join(format!("{name}.patch"));
    std::fs::write(&patch_file, patch).unwrap();
    let out = git_output(&clone, &["apply", "--index", "--whitespace=nowarn", patch_file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{name}: git apply failed: {}\npatch:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(patch)
    );
    git(&clone, &["write-tree"]).trim().to_string()
}

#[test]
fn every_scenario_round_trips_through_git_apply() {
    let all = scenarios::all();
    assert!(all.len() >= 15);
    for scenario in &all {
        let built = scenarios::build(scenario);
        let patch = render(&built);
        let expected = git(built.fx.path(), &["rev-parse", &format!("{}^{{tree}}", built.result)]).trim().to_string();
        let applied = apply_on_clone(&built, scenario.name, &patch);
        assert_eq!(
            applied,
            expected,
            "{}: tree after apply differs\npatch:\n{}",
            scenario.name,
            String::from_utf8_lossy(&patch)
        );
    }
}

#[test]
fn patch_is_empty_without_changes() {
    let built =
        scenarios::build(&scenarios::Scenario { name: "none", fixture: "python-project", setup: "", change: "true" });
    assert_eq!(render(&built), b"");
}

#[test]
fn text_patch_matches_git_diff_byte_for_byte() {
    let built = scenarios::build(&scenarios::Scenario {
        name: "simple",
        fixture: "python-project",
        setup: "",
        change: "sed -i 's/hello/HELLO/' src/app/util.py && printf 'v\\n' >> 'docs/read me.txt' && chmod +x README.md && printf 'n\\n' > new.txt",
    });
    let ours = String::from_utf8(render(&built)).unwrap();
    let theirs = git(built.fx.path(), &["diff", "--full-index", "--binary", "-M", &built.base, &built.result]);
    assert_eq!(ours, theirs);
}

#[test]
fn binary_and_rename_headers_match_git() {
    let built = scenarios::build(&scenarios::Scenario {
        name: "bin",
        fixture: "python-project",
        setup: "",
        change: "git mv src/app/util.py src/app/helpers.py && printf 'x\\000y' > assets/logo.bin && printf 'a\\nb' > nonl.txt",
    });
    let ours = String::from_utf8(render(&built)).unwrap();
    let theirs = git(built.fx.path(), &["diff", "--full-index", "--binary", "-M", &built.base, &built.result]);
    assert_eq!(ours, theirs);
}

#[test]
fn render_raw_equals_render() {
    let scenario = scenarios::all().into_iter().find(|s| s.name == "rename-with-edit").unwrap();
    let built = scenarios::build(&scenario);
    let repo = gix::open(built.fx.path()).unwrap();
    let base = gix::ObjectId::from_hex(built.base.as_bytes()).unwrap();
    let result = gix::ObjectId::from_hex(built.result.as_bytes()).unwrap();
    let raw = git_dispatch::changes::raw_changes(&repo, base, result).unwrap();
    assert_eq!(patch::render_raw(&repo, &raw).unwrap(), render(&built));
    assert_eq!(git_dispatch::changes::from_raw(&raw), git_dispatch::changes::changed_set(&repo, base, result).unwrap());
}
