//! Table-driven tests of WRITE SCOPE matching.

use super::*;

fn scope(entries: &[&str]) -> Scope {
    Scope::compile(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).expect("valid scope")
}

#[test]
fn path_scope_pairs() {
    // (scope entries, repository path, expected)
    let table: &[(&[&str], &str, bool)] = &[
        (&["src/app.py"], "src/app.py", true),
        (&["src/app.py"], "src/app.pyc", false),
        (&["src/app.py"], "src/app.py/inner", true),
        (&["src/app"], "src/app/x.py", true),
        (&["src/app"], "src/apple.py", false),
        (&["src/"], "src/a/b/c.py", true),
        (&["src/"], "src", true),
        (&["src/"], "srcx/a.py", false),
        (&["./src/"], "src/a.py", true),
        (&["src/*.py"], "src/a.py", true),
        (&["src/*.py"], "src/sub/a.py", false),
        (&["src/**/*.py"], "src/sub/deep/a.py", true),
        (&["src/**/*.py"], "src/a.py", true),
        (&["**/*.py"], "a.py", true),
        (&["**/*.py"], "x/y/a.py", true),
        (&["*.py"], "x/a.py", false),
        (&["src/*"], "src/sub/a.py", true),
        (&["src/{a,b}.rs"], "src/b.rs", true),
        (&["src/{a,b}.rs"], "src/c.rs", false),
        (&["src/?.rs"], "src/x.rs", true),
        (&["src/[ab].rs"], "src/c.rs", false),
        (&["src/[id].tsx"], "src/[id].tsx", true),
        (&["docs/read me.txt"], "docs/read me.txt", true),
        (&["docs/read me.txt"], "docs/read", false),
        (&["docs/*.txt"], "docs/read me.txt", true),
        (&["données/"], "données/café.md", true),
        (&["données/"], "donnees/cafe.md", false),
        (&["naïve.txt"], "naïve.txt", true),
        (&[".env"], ".env", true),
        (&[".github/"], ".github/workflows/ci.yml", true),
        (&["*"], ".hidden", true),
        (&["README.md"], "readme.md", false),
        (&["Src/"], "src/a.py", false),
        (&["src/", "!src/generated/"], "src/generated/x.py", false),
        (&["src/", "!src/generated/"], "src/main.py", true),
        (&["!src/generated/", "src/"], "src/generated/x.py", false),
        (&["src/", "!**/*.lock"], "src/deps/Cargo.lock", false),
        (&["tests/", "docs/"], "docs/a.md", true),
        (&["tests/", "docs/"], "lib/a.md", false),
        (&[], "anything", false),
    ];
    for (entries, path, expected) in table {
        assert_eq!(scope(entries).contains(path), *expected, "scope {entries:?} path {path:?}");
    }
    assert!(table.len() >= 30);
}

#[test]
fn scope_within_a_subdirectory_of_the_repository() {
    let scoped = scope(&["src/"]).within("pkg/web");
    assert!(scoped.contains("pkg/web/src/a.ts"));
    assert!(!scoped.contains("src/a.ts"), "a path outside WORKDIR is out of scope");
    assert!(!scoped.contains("pkg/web"));
    assert!(!scoped.contains("pkg/webx/src/a.ts"));
    assert!(scope(&["a"]).within("").contains("a"));
    assert!(scope(&["a"]).within("./").contains("a"));
}

#[test]
fn empty_scope_is_read_only() {
    assert!(scope(&[]).is_empty());
    assert!(!scope(&["x"]).is_empty());
    assert!(scope(&["!x"]).is_empty(), "only exclusions grant nothing");
    assert!(!scope(&["!x"]).contains("y"));
}

#[test]
fn rejected_entries_say_why() {
    let cases: &[(&str, &str)] = &[
        ("/etc/passwd", "is an absolute path"),
        ("C:/Windows", "is an absolute path"),
        ("~/.bashrc", "is an absolute path"),
        ("../other", "contains `..`"),
        ("src/../../x", "contains `..`"),
        ("!../x", "contains `..`"),
        ("src/[a", "is not a valid glob"),
        ("src/{a,b", "is not a valid glob"),
        ("a\rb", "NUL or carriage-return"),
        ("a\0b", "NUL or carriage-return"),
        ("./", "is empty"),
    ];
    for (entry, needle) in cases {
        let err = Scope::compile(&[entry.to_string()]).expect_err(entry);
        assert!(err.to_string().contains(needle), "{entry:?}: {err}");
        assert!(validate_entry(entry).is_err());
    }
    assert!(validate_entry("src/..x/a").is_ok(), "`..x` is a name, not a parent");
}
