//! `changes::changed_set` agrees with `git diff --name-status -M` on every scenario, and each
//! status is reported with the right modes.

mod support;

use git_dispatch::changes::{self, Change, ChangeStatus};
use pretty_assertions::assert_eq;
use support::git::git_bytes;
use support::scenarios::{self, Built};

fn changed(built: &Built) -> Vec<Change> {
    let repo = gix::open(built.fx.path()).unwrap();
    let base = gix::ObjectId::from_hex(built.base.as_bytes()).unwrap();
    let result = gix::ObjectId::from_hex(built.result.as_bytes()).unwrap();
    changes::changed_set(&repo, base, result).unwrap()
}

/// `git diff -z --name-status -M` as `(letter, path, old_path)`, rename scores dropped.
fn git_name_status(built: &Built) -> Vec<(String, String, Option<String>)> {
    let raw = git_bytes(built.fx.path(), &["diff", "-z", "--name-status", "-M", &built.base, &built.result]);
    let fields: Vec<String> =
        raw.split(|b| *b == 0).filter(|f| !f.is_empty()).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < fields.len() {
        let letter = fields[i][..1].to_string();
        if letter == "R" || letter == "C" {
            out.push((letter, fields[i + 2].clone(), Some(fields[i + 1].clone())));
            i += 3;
        } else {
            out.push((letter, fields[i + 1].clone(), None));
            i += 2;
        }
    }
    out.sort_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()).then(a.0.cmp(&b.0)));
    out
}

fn letter(status: ChangeStatus) -> &'static str {
    match status {
        ChangeStatus::Added => "A",
        ChangeStatus::Modified | ChangeStatus::ModeChanged => "M",
        ChangeStatus::Deleted => "D",
        ChangeStatus::Renamed => "R",
        ChangeStatus::TypeChanged => "T",
    }
}

#[test]
fn every_scenario_agrees_with_git_name_status() {
    for scenario in scenarios::all() {
        let built = scenarios::build(&scenario);
        let ours: Vec<_> = changed(&built)
            .iter()
            .map(|c| (letter(c.status).to_string(), c.path.clone(), c.old_path.clone()))
            .collect();
        let mut sorted = ours.clone();
        sorted.sort_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()).then(a.0.cmp(&b.0)));
        assert_eq!(ours, sorted, "{}: not sorted by path bytes", scenario.name);
        assert_eq!(ours, git_name_status(&built), "{}", scenario.name);
    }
}

fn scenario_changes(name: &str) -> Vec<Change> {
    let scenario = scenarios::all().into_iter().find(|s| s.name == name).expect("scenario exists");
    changed(&scenarios::build(&scenario))
}

fn change(path: &str, status: ChangeStatus, old: Option<&str>, before: Option<&str>, after: Option<&str>) -> Change {
    Change {
        path: path.into(),
        status,
        old_path: old.map(Into::into),
        mode_before: before.map(Into::into),
        mode_after: after.map(Into::into),
        lossy_path: false,
    }
}

#[test]
fn each_status_has_exact_fields() {
    use ChangeStatus::*;
    assert_eq!(
        scenario_changes("mode-change"),
        [
            change("scripts/run.sh", ModeChanged, None, Some("100755"), Some("100644")),
            change("src/app/util.py", ModeChanged, None, Some("100644"), Some("100755")),
        ]
    );
    assert_eq!(
        scenario_changes("mode-and-content"),
        [change("tests/test_util.py", Modified, None, Some("100644"), Some("100755"))]
    );
    assert_eq!(
        scenario_changes("rename-pure"),
        [change("src/app/helpers.py", Renamed, Some("src/app/util.py"), Some("100644"), Some("100644"))]
    );
    assert_eq!(
        scenario_changes("file-to-symlink"),
        [change("README.md", TypeChanged, None, Some("100644"), Some("120000"))]
    );
    assert_eq!(
        scenario_changes("submodule-bump"),
        [change("vendor/lib", Modified, None, Some("160000"), Some("160000"))]
    );
    assert_eq!(
        scenario_changes("dir-to-file"),
        [
            change("tests", Added, None, None, Some("100644")),
            change("tests/test_util.py", Deleted, None, Some("100644"), None),
        ]
    );
    assert_eq!(scenario_changes("add-file"), [change("src/app/sub/new.py", Added, None, None, Some("100644"))]);
}

#[test]
fn changes_json_shape() {
    let json = serde_json::to_value(scenario_changes("rename-pure")).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"path": "src/app/helpers.py", "status": "renamed", "old_path": "src/app/util.py", "mode_before": "100644", "mode_after": "100644"}])
    );
}
