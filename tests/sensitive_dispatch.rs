//! End to end: one dispatch per sensitive-change kind through the binary with the fake agent.
//! Each asserts the exit code (3 unless the kind is allowed), the exact `sensitive_changes` of
//! policy.json, that nothing is offered on a violation, and that the user's checkout is untouched.

mod support;

use serde_json::{json, Value};
use support::cli::{dispatch, printed_run_dir, read_json, stderr, user_visible, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::tree_fingerprint;

/// A worker packet whose WRITE SCOPE covers everything, with an optional `ALLOW:` line.
fn packet(fx: &Fixture, allow: Option<&str>) -> std::path::PathBuf {
    let allow = allow.map(|kinds| format!("ALLOW: {kinds}\n")).unwrap_or_default();
    let text = format!(
        "MODE: worker\nWORKDIR: {}\nOBJECTIVE: Change things.\n{allow}NON-GOALS: none\n\nWRITE SCOPE:\n- **\n\nVERIFICATION:\n- true\n\nDELIVERABLE:\n- Changes.\n",
        fx.repo.display()
    );
    write_packet(fx, "task.md", &text)
}

/// One dispatch: the plan (`@ROOT@` is the fixture's temp folder), the packet's `ALLOW:`, extra
/// flags, the exit code and the sensitive changes expected.
struct Case {
    name: &'static str,
    plan: Value,
    allow: Option<&'static str>,
    flags: &'static [&'static str],
    exit: i32,
    /// (path, kind, allowed), sorted by path then kind.
    expect: Vec<(&'static str, &'static str, bool)>,
}

fn sensitive_of(policy: &Value) -> Vec<(String, String, bool)> {
    let mut out: Vec<(String, String, bool)> = policy["sensitive_changes"]
        .as_array()
        .expect("sensitive_changes is a list")
        .iter()
        .map(|c| {
            let reason = c["reason"].as_str().expect("reason");
            assert!(!reason.is_empty() && !reason.contains('\n'), "one-line reason: {reason:?}");
            (
                c["path"].as_str().expect("path").to_string(),
                c["kind"].as_str().expect("kind").to_string(),
                c["allowed"] == true,
            )
        })
        .collect();
    out.sort();
    out
}

fn check(case: &Case) {
    let fx = fixture("python-project");
    std::fs::write(fx.root.join("secret"), "outside\n").expect("outside file");
    let before = tree_fingerprint(&fx.repo);
    let packet = packet(&fx, case.allow);
    let plan: Value = serde_json::from_str(&case.plan.to_string().replace("@ROOT@", &fx.root.to_string_lossy()))
        .expect("plan stays JSON");
    let output = dispatch(&fx, &packet, &plan, case.flags);
    assert_eq!(output.status.code(), Some(case.exit), "case {}: stderr {}", case.name, stderr(&output));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    let want: Vec<(String, String, bool)> =
        case.expect.iter().map(|(p, k, a)| (p.to_string(), k.to_string(), *a)).collect();
    assert_eq!(sensitive_of(&policy), want, "case {}: {policy:#}", case.name);
    assert_eq!(policy["offered"], case.exit == 0, "case {}", case.name);
    if case.exit == 3 {
        let messages = policy["messages"].to_string();
        assert!(messages.contains("POLICY VIOLATION: sensitive changes:"), "case {}: {messages}", case.name);
    }
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before), "case {}", case.name);
}

/// Run every case, then fail with all the cases that failed.
fn run_all(cases: &[Case]) {
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            std::panic::catch_unwind(|| check(case)).err().map(|err| {
                let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
                format!("{}: {text}", case.name)
            })
        })
        .collect();
    assert!(failed.is_empty(), "{} case(s) failed:\n{}", failed.len(), failed.join("\n---\n"));
}

fn symlink(target: &str, path: &str) -> Value {
    json!({"step": "symlink", "target": target, "path": path})
}

fn shell(cmd: &str) -> Value {
    json!({"step": "shell", "cmd": cmd})
}

/// A commit made with plumbing that puts `.GIT/config` in the tree (git's porcelain refuses it).
const DOT_GIT_COMMIT: &str = r#"set -e
blob=$(echo payload | git hash-object -w --stdin)
sub=$(printf '100644 blob %s\tconfig\n' "$blob" | git mktree)
root=$({ git ls-tree HEAD; printf '040000 tree %s\t.GIT\n' "$sub"; } | git mktree)
commit=$(git commit-tree "$root" -p HEAD -m plant)
git update-ref HEAD "$commit""#;

#[test]
fn symlinks() {
    let inside = || json!([symlink("../README.md", "tests/link")]);
    let cases = [
        Case {
            name: "inside",
            plan: inside(),
            allow: None,
            flags: &[],
            exit: 3,
            expect: vec![("tests/link", "symlink", false)],
        },
        Case {
            name: "inside, ALLOW",
            plan: inside(),
            allow: Some("symlink"),
            flags: &[],
            exit: 0,
            expect: vec![("tests/link", "symlink", true)],
        },
        Case {
            name: "inside, --allow",
            plan: inside(),
            allow: None,
            flags: &["--allow", "symlink"],
            exit: 0,
            expect: vec![("tests/link", "symlink", true)],
        },
        Case {
            name: "absolute, ALLOW",
            plan: json!([symlink("/etc/passwd", "tests/out")]),
            allow: Some("symlink, exec-bit"),
            flags: &[],
            exit: 3,
            expect: vec![("tests/out", "symlink", false)],
        },
        Case {
            name: "dotdot, ALLOW",
            plan: json!([symlink("../../secret", "tests/out")]),
            allow: Some("symlink"),
            flags: &[],
            exit: 3,
            expect: vec![("tests/out", "symlink", false)],
        },
    ];
    run_all(&cases);
}

#[test]
fn allowable_kinds() {
    let cases = [
        Case {
            name: "exec bit",
            plan: json!([{"step": "write", "path": "tests/run.sh", "content": "#!/bin/sh\n"}, {"step": "chmod", "path": "tests/run.sh", "mode": "755"}]),
            allow: None,
            flags: &[],
            exit: 3,
            expect: vec![("tests/run.sh", "exec-bit", false)],
        },
        Case {
            name: "exec bit, ALLOW",
            plan: json!([{"step": "chmod", "path": "tests/test_util.py", "mode": "755"}]),
            allow: Some("exec-bit"),
            flags: &[],
            exit: 0,
            expect: vec![("tests/test_util.py", "exec-bit", true)],
        },
        Case {
            name: "gitattributes",
            plan: json!([{"step": "write", "path": "src/.gitattributes", "content": "*.py filter=evil\n"}]),
            allow: Some("symlink"),
            flags: &[],
            exit: 3,
            expect: vec![("src/.gitattributes", "gitattributes", false)],
        },
        Case {
            name: "gitattributes, ALLOW",
            plan: json!([{"step": "write", "path": ".gitattributes", "content": "*.bin binary\n"}]),
            allow: Some("gitattributes"),
            flags: &[],
            exit: 0,
            expect: vec![(".gitattributes", "gitattributes", true)],
        },
        Case {
            name: ".gitmodules",
            plan: json!([{"step": "write", "path": ".gitmodules", "content": "[submodule \"x\"]\n\tpath = x\n\turl = ../x\n"}]),
            allow: None,
            flags: &[],
            exit: 3,
            expect: vec![(".gitmodules", "submodule", false)],
        },
        Case {
            name: "gitlink, ALLOW",
            plan: json!([
                {"step": "mkdir", "path": "vendor/lib"},
                {"step": "git", "args": ["update-index", "--add", "--cacheinfo", "160000,1111111111111111111111111111111111111111,vendor/lib"]},
                {"step": "git", "args": ["commit", "-q", "-m", "gitlink"]},
            ]),
            allow: Some("submodule"),
            flags: &[],
            exit: 0,
            expect: vec![("vendor/lib", "submodule", true)],
        },
    ];
    run_all(&cases);
}

#[test]
fn never_allowed_kinds() {
    const ALL: Option<&str> = Some("symlink, submodule, gitattributes, exec-bit");
    let cases = [
        Case {
            name: "ignorable unicode",
            plan: json!([{"step": "write", "path": "docs/.g\u{200c}it", "content": "x"}]),
            allow: ALL,
            flags: &[],
            exit: 3,
            expect: vec![("docs/.g\u{200c}it", "git-path", false)],
        },
        Case {
            name: "embedded repository",
            plan: json!([shell("git init -q docs/inner && echo x > docs/inner/f")]),
            allow: ALL,
            flags: &[],
            exit: 3,
            expect: vec![("docs/inner/.git", "embedded-repo", false)],
        },
        Case {
            name: "case collision",
            plan: json!([{"step": "write", "path": "tests/Test_util.py", "content": "x = 1\n"}]),
            allow: ALL,
            flags: &[],
            exit: 3,
            expect: vec![("tests/Test_util.py", "case-collision", false)],
        },
        Case {
            name: "carriage return",
            plan: json!([{"step": "write", "path": "docs/a\rb.md", "content": "x"}]),
            allow: ALL,
            flags: &[],
            exit: 3,
            expect: vec![("docs/a\rb.md", "control-char", false)],
        },
        Case {
            name: "not UTF-8",
            plan: json!([{"step": "write", "path": {"b64": "ZG9jcy9iYWT/Lm1k"}, "content": "x"}]),
            allow: ALL,
            flags: &[],
            exit: 3,
            expect: vec![("docs/bad\u{fffd}.md", "control-char", false)],
        },
        Case {
            name: "hard link",
            plan: json!([{"step": "hardlink", "target": "@ROOT@/secret", "path": "docs/h"}]),
            allow: ALL,
            flags: &[],
            exit: 3,
            expect: vec![("docs/h", "hardlink", false)],
        },
    ];
    run_all(&cases);
}

/// A `.GIT` tree entry committed with plumbing never gets as far as the detector: the snapshot
/// refuses to build an index from such a tree, the run fails at that stage with exit 3, and nothing
/// is offered (the detector's `git-path` check is the second line, see the unit tests).
#[test]
fn dot_git_commit_fails_the_snapshot() {
    let fx = fixture("python-project");
    let before = tree_fingerprint(&fx.repo);
    let output = dispatch(&fx, &packet(&fx, None), &json!([shell(DOT_GIT_COMMIT)]), &[]);
    assert_eq!(output.status.code(), Some(3), "stderr {}", stderr(&output));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    assert_eq!(policy["offered"], false);
    assert_eq!(policy["branch"], Value::Null);
    let messages = policy["messages"].to_string();
    assert!(
        messages.contains("ERROR at stage snapshot") && messages.contains("The .git name may never be used"),
        "{messages}"
    );
    assert_eq!(user_visible(&tree_fingerprint(&fx.repo)), user_visible(&before));
}
