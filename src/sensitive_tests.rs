//! Unit tests of the sensitive-change detector: table-driven over base/result trees built in a
//! scratch object database, plus the name checks and the on-disk checks.

use super::*;
use gix::objs::tree::EntryKind;

/// One tree entry of a case: path, kind, content (the target for a symlink).
type Spec<'a> = (&'a str, EntryKind, &'a str);

const F: EntryKind = EntryKind::Blob;
const X: EntryKind = EntryKind::BlobExecutable;
const L: EntryKind = EntryKind::Link;
const G: EntryKind = EntryKind::Commit;

struct Scratch {
    _dir: tempfile::TempDir,
    repo: gix::Repository,
    worktree: std::path::PathBuf,
}

fn scratch() -> Scratch {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = gix::init_bare(dir.path().join("repo.git")).expect("init");
    let worktree = dir.path().join("wt");
    std::fs::create_dir(&worktree).expect("worktree dir");
    Scratch { _dir: dir, repo, worktree }
}

/// A raw tree entry: path bytes, kind, object.
type RawEntry = (Vec<u8>, EntryKind, ObjectId);

/// Write a tree of raw path bytes and entries without gix's name validation (as `git mktree` would).
fn raw_tree(repo: &gix::Repository, entries: &[RawEntry]) -> ObjectId {
    let mut direct = Vec::new();
    let mut below: std::collections::BTreeMap<Vec<u8>, Vec<RawEntry>> = Default::default();
    for (path, kind, id) in entries {
        match path.iter().position(|b| *b == b'/') {
            Some(pos) => below.entry(path[..pos].to_vec()).or_default().push((path[pos + 1..].to_vec(), *kind, *id)),
            None => {
                direct.push(gix::objs::tree::Entry { mode: (*kind).into(), filename: path.clone().into(), oid: *id })
            }
        }
    }
    for (name, children) in below {
        let oid = raw_tree(repo, &children);
        direct.push(gix::objs::tree::Entry { mode: EntryKind::Tree.into(), filename: name.into(), oid });
    }
    direct.sort();
    repo.write_object(gix::objs::Tree { entries: direct }).expect("tree").detach()
}

fn tree_of(repo: &gix::Repository, specs: &[Spec]) -> ObjectId {
    let entries: Vec<RawEntry> = specs
        .iter()
        .map(|(path, kind, content)| {
            let id = if *kind == G {
                ObjectId::from_bytes_or_panic(&[7; 20])
            } else {
                repo.write_blob(content.as_bytes()).expect("blob").detach()
            };
            (path.as_bytes().to_vec(), *kind, id)
        })
        .collect();
    raw_tree(repo, &entries)
}

fn run(sc: &Scratch, base: &[Spec], result: &[Spec], allow: &[&str]) -> Vec<(String, String, bool)> {
    let base = tree_of(&sc.repo, base);
    let result = tree_of(&sc.repo, result);
    let changes = crate::changes::changed_set(&sc.repo, base, result).expect("changes");
    let allow: Vec<String> = allow.iter().map(|a| a.to_string()).collect();
    let found = detect(&sc.repo, base, result, &changes, &sc.worktree, None, &allow).expect("detect");
    for change in &found {
        assert!(!change.reason.contains('\n'), "one line: {:?}", change.reason);
    }
    found.into_iter().map(|c| (c.path, c.kind, c.allowed)).collect()
}

struct Case<'a> {
    name: &'a str,
    base: &'a [Spec<'a>],
    result: &'a [Spec<'a>],
    allow: &'a [&'a str],
    expect: &'a [(&'a str, &'a str, bool)],
}

const README: Spec = ("README.md", F, "hi\n");

#[test]
fn table_of_tree_changes() {
    let cases = [
        Case { name: "plain file", base: &[README], result: &[README, ("src/a.rs", F, "x")], allow: &[], expect: &[] },
        Case {
            name: "symlink inside",
            base: &[README],
            result: &[README, ("docs/r", L, "../README.md")],
            allow: &[],
            expect: &[("docs/r", "symlink", false)],
        },
        Case {
            name: "symlink inside allowed",
            base: &[README],
            result: &[README, ("docs/r", L, "../README.md")],
            allow: &["symlink"],
            expect: &[("docs/r", "symlink", true)],
        },
        Case {
            name: "absolute symlink never allowed",
            base: &[README],
            result: &[README, ("p", L, "/etc/passwd")],
            allow: &["symlink"],
            expect: &[("p", "symlink", false)],
        },
        Case {
            name: "dotdot escape never allowed",
            base: &[README],
            result: &[README, ("a/p", L, "../../x")],
            allow: &["symlink"],
            expect: &[("a/p", "symlink", false)],
        },
        Case {
            name: "escape through an old symlink",
            base: &[README, ("up", L, "sub/../..")],
            result: &[README, ("up", L, "sub/../.."), ("x", L, "up/etc/passwd")],
            allow: &["symlink"],
            expect: &[("x", "symlink", false)],
        },
        Case {
            name: "inside through a symlinked dir",
            base: &[README, ("d", L, "sub/deep"), ("sub/deep/f", F, "f")],
            result: &[README, ("d", L, "sub/deep"), ("sub/deep/f", F, "f"), ("x", L, "d/../f")],
            allow: &["symlink"],
            expect: &[("x", "symlink", true)],
        },
        Case {
            name: "symlink loop",
            base: &[README],
            result: &[README, ("a", L, "b"), ("b", L, "a")],
            allow: &["symlink"],
            expect: &[("a", "symlink", false), ("b", "symlink", false)],
        },
        Case {
            name: "unchanged symlink",
            base: &[README, ("l", L, "/etc")],
            result: &[("README.md", F, "changed\n"), ("l", L, "/etc")],
            allow: &[],
            expect: &[],
        },
        Case {
            name: "gitlink",
            base: &[README],
            result: &[README, ("vendor/lib", G, "")],
            allow: &["submodule"],
            expect: &[("vendor/lib", "submodule", true)],
        },
        Case {
            name: ".gitmodules changed",
            base: &[README, (".gitmodules", F, "a")],
            result: &[README, (".gitmodules", F, "b")],
            allow: &[],
            expect: &[(".gitmodules", "submodule", false)],
        },
        Case {
            name: ".gitmodules deleted",
            base: &[README, (".gitmodules", F, "a")],
            result: &[README],
            allow: &[],
            expect: &[(".gitmodules", "submodule", false)],
        },
        Case {
            name: "gitattributes in any case and dir",
            base: &[README],
            result: &[README, ("sub/.GitAttributes", F, "* filter=x"), (".gitattributes", F, "*.bin binary")],
            allow: &["exec-bit"],
            expect: &[(".gitattributes", "gitattributes", false), ("sub/.GitAttributes", "gitattributes", false)],
        },
        Case {
            name: "gitattributes allowed",
            base: &[README, (".gitattributes", F, "a")],
            result: &[README, (".gitattributes", F, "b")],
            allow: &["gitattributes"],
            expect: &[(".gitattributes", "gitattributes", true)],
        },
        Case {
            name: "exec bits",
            base: &[README, ("m", F, "m"), ("k", X, "k"), ("d", X, "d")],
            result: &[("README.md", X, "hi\n"), ("m", X, "m2"), ("k", X, "k2"), ("d", F, "d"), ("n", X, "n")],
            allow: &[],
            expect: &[("README.md", "exec-bit", false), ("m", "exec-bit", false), ("n", "exec-bit", false)],
        },
        Case {
            name: "exec bit allowed",
            base: &[README],
            result: &[README, ("run.sh", X, "#!/bin/sh\n")],
            allow: &["exec-bit", "symlink"],
            expect: &[("run.sh", "exec-bit", true)],
        },
        Case {
            name: "git paths never allowed",
            base: &[README],
            result: &[
                README,
                (".GIT/config", F, "c"),
                ("sub/.git/hooks/x", F, "h"),
                ("z/.g\u{200c}it/config", F, "c"),
                ("git~1/config", F, "c"),
                ("w/.git. /x", F, "c"),
                ("emoji\u{200d}name", F, "c"),
                (".github/CODEOWNERS", F, "ok"),
                (".gitignore", F, "ok"),
            ],
            allow: &["symlink", "submodule", "gitattributes", "exec-bit"],
            expect: &[
                (".GIT/config", "git-path", false),
                ("emoji\u{200d}name", "git-path", false),
                ("git~1/config", "git-path", false),
                ("sub/.git/hooks/x", "git-path", false),
                ("w/.git. /x", "git-path", false),
                ("z/.g\u{200c}it/config", "git-path", false),
            ],
        },
        Case {
            name: "automation files",
            base: &[README],
            result: &[README, (".github/workflows/ci.yml", F, "on: push"), ("pkg/AGENTS.md", F, "obey")],
            allow: &[],
            expect: &[(".github/workflows/ci.yml", "automation", false), ("pkg/AGENTS.md", "automation", false)],
        },
        Case {
            name: "automation allowed",
            base: &[README],
            result: &[README, (".husky/pre-commit", F, "make")],
            allow: &["automation"],
            expect: &[(".husky/pre-commit", "automation", true)],
        },
        Case {
            name: "bare repository as files",
            base: &[README],
            result: &[
                README,
                ("vendor/r/HEAD", F, "ref: refs/heads/main\n"),
                ("vendor/r/objects/.keep", F, ""),
                ("vendor/r/refs/heads/.keep", F, ""),
                ("vendor/r/config", F, "[core]\n\tfsmonitor = touch /tmp/x\n"),
            ],
            allow: &[],
            expect: &[("vendor/r", "embedded-repo", false)],
        },
        Case {
            name: "HEAD alone is no repository",
            base: &[README],
            result: &[README, ("docs/HEAD", F, "x"), ("docs/objects/a", F, "")],
            allow: &[],
            expect: &[],
        },
        Case {
            name: "case collision with an old path",
            base: &[README, ("A", F, "1"), ("a", F, "2")],
            result: &[
                README,
                ("A", F, "1"),
                ("a", F, "2"),
                ("readme.md", F, "x"),
                ("Src/x", F, "1"),
                ("src/X", F, "2"),
            ],
            allow: &[],
            expect: &[
                ("Src/x", "case-collision", false),
                ("readme.md", "case-collision", false),
                ("src/X", "case-collision", false),
            ],
        },
        Case {
            name: "control characters",
            base: &[README],
            result: &[README, ("a\rb", F, "x"), ("c\nd", F, "y")],
            allow: &[],
            expect: &[("a\rb", "control-char", false), ("c\nd", "control-char", false)],
        },
    ];
    for case in cases {
        let sc = scratch();
        let mut got = run(&sc, case.base, case.result, case.allow);
        got.sort();
        let mut want: Vec<(String, String, bool)> =
            case.expect.iter().map(|(p, k, a)| (p.to_string(), k.to_string(), *a)).collect();
        want.sort();
        assert_eq!(got, want, "case {}", case.name);
    }
}

#[test]
fn non_utf8_name_is_a_control_char_change() {
    let sc = scratch();
    let base = tree_of(&sc.repo, &[README]);
    let readme = sc.repo.write_blob(b"hi\n").expect("blob").detach();
    let blob = sc.repo.write_blob(b"x").expect("blob").detach();
    let result = raw_tree(&sc.repo, &[(b"README.md".to_vec(), F, readme), (b"bad\xffname".to_vec(), F, blob)]);
    let changes = crate::changes::changed_set(&sc.repo, base, result).expect("changes");
    let found = detect(&sc.repo, base, result, &changes, &sc.worktree, None, &[]).expect("detect");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path, "bad\u{fffd}name");
    assert_eq!(found[0].kind, "control-char");
    assert_eq!(found[0].reason, "`bad\\xffname` is not valid UTF-8");
    assert!(!found[0].allowed);
}

#[test]
fn reasons_name_the_path() {
    let sc = scratch();
    let got = {
        let base = tree_of(&sc.repo, &[README]);
        let result = tree_of(&sc.repo, &[README, ("p", L, "/etc/passwd"), ("run", X, "")]);
        detect(&sc.repo, base, result, &[], &sc.worktree, None, &[]).expect("detect")
    };
    let reasons: Vec<&str> = got.iter().map(|c| c.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec![
            "symlink `p` points outside the worktree (`/etc/passwd`); never allowed",
            "`run` gained the executable bit (100755)",
        ]
    );
}

#[test]
fn name_checks() {
    let git_paths = [
        ".git/x",
        ".GIT/x",
        "a/.Git/b",
        ".g\u{200c}it/x",
        "git~1/x",
        ".git./x",
        ".git::$INDEX_ALLOCATION/x",
        "a\\.git\\x",
    ];
    for path in git_paths {
        assert!(names::git_path_problem(path.into()).is_some(), "{path:?} is a git path");
    }
    for path in [".github/x", ".gitignore", "git/x", "a.git/x", ".gitx", "x/.gitmodules"] {
        assert_eq!(names::git_path_problem(path.into()), None, "{path:?} is not a git path");
    }
    assert_eq!(names::control_char_problem("a\0b".into()).as_deref(), Some("`a\\x00b` contains a NUL character"));
    assert_eq!(names::control_char_problem("a\rb".into()).as_deref(), Some("`a\\rb` contains a CR character"));
    assert_eq!(names::control_char_problem("a\nb".into()).as_deref(), Some("`a\\nb` contains a LF character"));
    assert_eq!(
        names::control_char_problem("a\tb".into()).as_deref(),
        Some("`a\\tb` contains the control character \\t")
    );
    assert_eq!(
        names::control_char_problem("x\u{1b}]0;t\u{7}".into()).as_deref(),
        Some("`x\\x1b]0;t\\x07` contains the control character \\x1b")
    );
    assert_eq!(
        names::control_char_problem("c1\u{9b}".into()).as_deref(),
        Some("`c1\\u{9b}` contains the control character \\u{9b}")
    );
    assert_eq!(names::control_char_problem("plain/caf\u{e9}.md".into()), None);
    assert_eq!(names::fold("Src/ReadMe.MD".into()), "src/readme.md");
    assert_eq!(names::fold("\u{200c}ÄB".into()), "äb");
    assert!(names::is_special_file("x/.GITMODULES. ".into(), ".gitmodules", "gitmod~1"));
    assert!(names::is_special_file("GITMOD~1".into(), ".gitmodules", "gitmod~1"));
    assert!(!names::is_special_file(".gitmodules/x".into(), ".gitmodules", "gitmod~1"));
}

#[test]
fn hard_links_and_ignored_symlinks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = dir.path().join("secret");
    std::fs::write(&outside, "s").expect("write");
    let wt = dir.path().join("wt");
    std::fs::create_dir_all(wt.join("build")).expect("mkdir");
    std::fs::hard_link(&outside, wt.join("build/h")).expect("hard link");
    std::os::unix::fs::symlink("/etc/passwd", wt.join("build/abs")).expect("symlink");
    std::os::unix::fs::symlink("../../secret", wt.join("build/rel")).expect("symlink");
    std::os::unix::fs::symlink("h", wt.join("build/in")).expect("symlink");
    std::fs::write(wt.join("build/plain"), "p").expect("write");
    let written: Vec<String> =
        ["build/abs", "build/h", "build/in", "build/plain", "build/rel"].map(String::from).into();
    let found: Vec<(String, String, bool)> =
        detect_ignored(&wt, &written).into_iter().map(|c| (c.path, c.kind, c.allowed)).collect();
    assert_eq!(
        found,
        vec![
            ("build/abs".to_string(), "symlink".to_string(), false),
            ("build/h".to_string(), "hardlink".to_string(), false),
            ("build/rel".to_string(), "symlink".to_string(), false),
        ]
    );

    let sc = scratch();
    std::fs::hard_link(&outside, sc.worktree.join("f")).expect("hard link");
    let got = run(&sc, &[README], &[README, ("f", F, "s")], &[]);
    assert_eq!(got, vec![("f".to_string(), "hardlink".to_string(), false)]);
}
