//! Every kind of change lands exactly: the checkout after `apply` (patch or merge) equals a clone
//! at the base after `git apply` of `git diff --binary base result`.

mod handback_support;

use std::path::Path;

use git_dispatch::handback::ApplyHow;
use handback_support::{write_in, Fixture};
use pretty_assertions::assert_eq;

const RUN: &str = "20260101-000000-worker-kinds";

/// Added, deleted, renamed (with an edit), binary, executable bit on and off, symlinks (new, and
/// replacing a file), a file becoming a directory and a directory becoming a file, an empty file,
/// CRLF and no final newline, a name with spaces.
fn every_kind(wt: &Path) {
    write_in(wt, "added/deep/new.txt", b"new file\n");
    write_in(wt, "empty.txt", b"");
    std::fs::remove_file(wt.join("b.txt")).expect("delete");
    let lib = std::fs::read(wt.join("src/lib.rs")).expect("read");
    std::fs::remove_file(wt.join("src/lib.rs")).expect("rename: delete");
    let mut renamed = lib.clone();
    renamed.extend_from_slice(b"// moved\n");
    write_in(wt, "src/renamed.rs", &renamed);
    write_in(wt, "assets/logo.bin", &[0, 1, 2, 3, 4, 0, 0, 200, 10]);
    handback_support::chmod_in(wt, "scripts/run.sh", 0o644);
    write_in(wt, "scripts/tool.sh", b"#!/bin/sh\n");
    handback_support::chmod_in(wt, "scripts/tool.sh", 0o755);
    std::os::unix::fs::symlink("../a.txt", wt.join("added/link")).expect("symlink");
    std::fs::remove_dir_all(wt.join("src/deep")).expect("dir becomes file");
    write_in(wt, "src/deep", b"now a file\n");
    write_in(wt, "crlf.txt", b"one\r\ntwo\r\nno newline");
    write_in(wt, "dir with space/file name.txt", b"spaces\n");
    std::fs::remove_file(wt.join("a.txt")).expect("file becomes symlink");
    std::os::unix::fs::symlink("src/renamed.rs", wt.join("a.txt")).expect("symlink");
}

fn expected_checkout(fixture: &Fixture, base: &str, result: &str) -> String {
    let clone = fixture.tmp.join("clone");
    let clone_arg = clone.display().to_string();
    let root_arg = fixture.root.display().to_string();
    handback_support::git_in(&fixture.tmp, &fixture.home, &["clone", "-q", "--no-checkout", &root_arg, &clone_arg]);
    handback_support::git_in(&clone, &fixture.home, &["checkout", "-q", "--detach", base]);
    let patch = handback_support::render_with_git(&fixture.root, &fixture.home, base, result);
    handback_support::git_apply(&clone, &fixture.home, &patch);
    handback_support::worktree_fingerprint(&clone)
}

#[test]
fn every_kind_of_change_lands_exactly_as_a_patch() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = fixture.make_result(RUN, &base, every_kind);
    let run = fixture.write_run(RUN, &base, &result);
    let expected = expected_checkout(&fixture, &base, &result);

    fixture.apply(&run, ApplyHow::Patch).expect("applies");

    assert_eq!(handback_support::worktree_fingerprint(&fixture.root), expected);
}

#[test]
fn every_kind_of_change_lands_exactly_as_a_merge() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = fixture.make_result(RUN, &base, every_kind);
    let run = fixture.write_run(RUN, &base, &result);
    let expected = expected_checkout(&fixture, &base, &result);

    fixture.apply(&run, ApplyHow::Merge).expect("merges");

    assert_eq!(handback_support::worktree_fingerprint(&fixture.root), expected);
    assert_eq!(fixture.head(), result);
    assert_eq!(fixture.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_merge_commit_with_every_kind_matches_git() {
    let fixture = Fixture::new();
    let base = fixture.head();
    let result = fixture.make_result(RUN, &base, every_kind);
    let run = fixture.write_run(RUN, &base, &result);
    fixture.write("unrelated.txt", "committed by the user\n");
    let head = fixture.commit_all("user work");

    fixture.apply(&run, ApplyHow::Merge).expect("merges");

    let expected_tree = fixture.git(&["merge-tree", "--write-tree", &head, &result]);
    assert_eq!(fixture.git(&["rev-parse", "HEAD^{tree}"]), expected_tree);
    assert_eq!(fixture.git(&["status", "--porcelain"]), "");
    // The index matches the tree entry for entry (modes included) and has no stale cached trees.
    assert_eq!(fixture.git(&["write-tree"]), expected_tree);
}
