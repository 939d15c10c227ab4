//! The seed's audit files computed with gix equal git's own output on a dirty repository:
//! `git status --short --untracked-files=all`, `git diff --name-only` and `git diff --stat`;
//! computing them never writes the index.

mod guard_support;

use std::fs;

use git_dispatch::guard::{diff_name_only, diff_stat, status_short};
use guard_support::{set_mode, Repo};
use pretty_assertions::assert_eq;

/// A repository with every kind of change the short status shows.
fn dirty_repo() -> Repo {
    let repo = Repo::new();
    let rename_body: String = (1..=20).map(|i| format!("line number {i} of a file that moves\n")).collect();
    repo.write(".gitignore", "*.log\n");
    repo.write("a b.txt", "spaced\n");
    repo.write("été.txt", "accents\n");
    repo.write("old-name.txt", &rename_body);
    repo.write("both.txt", "one\ntwo\nthree\n");
    repo.write("to-delete-staged.txt", "going\n");
    repo.write("to-delete.txt", "going too\ngone\n");
    repo.write("type.txt", "becomes a symlink\n");
    repo.write("touched.txt", "same content\n");
    guard_support::write_file(&repo.path("bin.dat"), b"\x00\x01\x02binary\x00data");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "files to change"]);

    repo.write("src/lib.rs", "pub fn one() -> u32 {\n    2\n}\n");
    repo.git(&["add", "src/lib.rs"]);
    repo.write("docs/guide.txt", "line 1\nline two\nline 3\nline 4\n");
    repo.write("both.txt", "one\n2\nthree\n");
    repo.git(&["add", "both.txt"]);
    repo.write("both.txt", "one\n2\nthree\nfour\n");
    repo.write("new-staged.txt", "new\n");
    repo.write("new-modified.txt", "new\n");
    repo.git(&["add", "new-staged.txt", "new-modified.txt"]);
    repo.write("new-modified.txt", "new\nand changed\n");
    repo.git(&["rm", "-q", "to-delete-staged.txt"]);
    fs::remove_file(repo.path("to-delete.txt")).expect("delete");
    repo.git(&["mv", "old-name.txt", "new-name.txt"]);
    repo.write("a b.txt", "spaced\nout\n");
    repo.write("été.txt", "accents\naigus\n");
    guard_support::write_file(&repo.path("bin.dat"), b"\x00\x01\x02binary\x00data, longer now");
    set_mode(&repo.path("README.md"), 0o755);
    fs::remove_file(repo.path("type.txt")).expect("delete");
    std::os::unix::fs::symlink("README.md", repo.path("type.txt")).expect("symlink");
    repo.write("touched.txt", "same content\n");
    repo.write("untracked.txt", "u\n");
    repo.write("untracked space.txt", "u\n");
    repo.write("ñew.txt", "u\n");
    repo.write("untracked-dir/nested/deep.txt", "u\n");
    repo.write("debug.log", "ignored\n");
    repo
}

fn git_output(repo: &Repo, args: &[&str]) -> String {
    repo.git(args)
}

#[test]
fn status_short_equals_git() {
    let repo = dirty_repo();
    let ours = status_short(&repo.root).expect("status");
    let theirs = git_output(&repo, &["status", "--short", "--untracked-files=all"]);
    assert_eq!(ours, theirs);
    // The fixture really covers what it claims.
    for needle in [
        "M  src/lib.rs",
        " M docs/guide.txt",
        "MM both.txt",
        "A  new-staged.txt",
        "AM new-modified.txt",
        "D  to-delete-staged.txt",
        " D to-delete.txt",
        "R  old-name.txt -> new-name.txt",
        " M \"a b.txt\"",
        " M \"\\303\\251t\\303\\251.txt\"",
        " T type.txt",
        "?? untracked-dir/nested/deep.txt",
        "?? \"untracked space.txt\"",
    ] {
        assert!(ours.lines().any(|l| l == needle), "missing {needle:?} in\n{ours}");
    }
    assert!(!ours.contains("touched.txt") && !ours.contains("debug.log"));
}

#[test]
fn status_short_lists_untracked_files_whatever_the_config_says() {
    let repo = dirty_repo();
    repo.git(&["config", "status.showUntrackedFiles", "no"]);
    let ours = status_short(&repo.root).expect("status");
    assert!(ours.contains("?? untracked.txt\n"));
    assert_eq!(ours, git_output(&repo, &["status", "--short", "--untracked-files=all"]));
}

#[test]
fn status_short_of_a_clean_repo_is_empty() {
    let repo = Repo::new();
    assert_eq!(status_short(&repo.root).expect("status"), "");
    assert_eq!(diff_name_only(&repo.root).expect("name-only"), "");
    assert_eq!(diff_stat(&repo.root).expect("stat"), "");
}

#[test]
fn diff_name_only_equals_git() {
    let repo = dirty_repo();
    let ours = diff_name_only(&repo.root).expect("name-only");
    assert_eq!(ours, git_output(&repo, &["diff", "--name-only"]));
    assert!(ours.contains("a b.txt\n") && ours.contains("\"\\303\\251t\\303\\251.txt\"\n"));
}

#[test]
fn diff_stat_equals_git() {
    let repo = dirty_repo();
    let ours = diff_stat(&repo.root).expect("stat");
    assert_eq!(ours, git_output(&repo, &["diff", "--stat"]));
    assert!(ours.contains("Bin 14 -> 26 bytes"), "{ours}");
}

#[test]
fn diff_stat_scales_a_long_change_like_git() {
    let repo = Repo::new();
    let long: String = (0..300).map(|i| format!("added line {i}\n")).collect();
    repo.write("docs/guide.txt", &long);
    repo.write("a/rather/long/directory/name/that/needs/to/be/shortened/for/the/stat/view/file.txt", "x\n");
    repo.git(&["add", "-N", "a"]);
    let ours = diff_stat(&repo.root).expect("stat");
    assert_eq!(ours, git_output(&repo, &["diff", "--stat"]));
}

#[test]
fn computing_the_artifacts_never_writes_the_index() {
    let repo = dirty_repo();
    let index = repo.git_dir().join("index");
    let bytes = fs::read(&index).expect("index");
    let modified = fs::metadata(&index).expect("index metadata").modified().expect("mtime");
    status_short(&repo.root).expect("status");
    diff_name_only(&repo.root).expect("name-only");
    diff_stat(&repo.root).expect("stat");
    assert_eq!(fs::read(&index).expect("index"), bytes);
    assert_eq!(fs::metadata(&index).expect("index metadata").modified().expect("mtime"), modified);
    assert!(!repo.git_dir().join("index.lock").exists());
}

#[test]
fn conflicted_merge_equals_git() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "theirs"]);
    repo.write("README.md", "theirs\n");
    repo.write("added-both.txt", "theirs\n");
    repo.write("docs/guide.txt", "theirs edit\n");
    fs::remove_file(repo.path("src/lib.rs")).expect("delete");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "theirs"]);
    repo.git(&["checkout", "-q", "main"]);
    repo.write("README.md", "ours\n");
    repo.write("added-both.txt", "ours\n");
    fs::remove_file(repo.path("docs/guide.txt")).expect("delete");
    repo.write("src/lib.rs", "pub fn ours() {}\n");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "ours"]);
    let merge = repo.git_command(&repo.root, &["merge", "-q", "theirs"]).output().expect("git merge runs");
    assert!(!merge.status.success(), "the merge conflicts");
    repo.write("untracked.txt", "u\n");

    let ours = status_short(&repo.root).expect("status");
    assert_eq!(ours, git_output(&repo, &["status", "--short", "--untracked-files=all"]));
    assert!(
        ours.contains("UU README.md\n") && ours.contains("AA added-both.txt\n") && ours.contains("DU docs/guide.txt\n")
    );
    assert!(ours.contains("UD src/lib.rs\n"));
    assert_eq!(diff_name_only(&repo.root).expect("name-only"), git_output(&repo, &["diff", "--name-only"]));
    assert_eq!(diff_stat(&repo.root).expect("stat"), git_output(&repo, &["diff", "--stat"]));
}

#[test]
fn unborn_branch_equals_git() {
    let repo = Repo::new();
    let fresh = repo.tmp.path().join("fresh");
    fs::create_dir_all(&fresh).expect("fresh dir");
    repo.git_in(&fresh, &["init", "-q", "-b", "main"]);
    guard_support::write_file(&fresh.join("staged.txt"), b"staged\n");
    guard_support::write_file(&fresh.join("dir/untracked.txt"), b"untracked\n");
    repo.git_in(&fresh, &["add", "staged.txt"]);
    guard_support::write_file(&fresh.join("staged.txt"), b"staged\nthen edited\n");

    let ours = status_short(&fresh).expect("status");
    assert_eq!(ours, "AM staged.txt\n?? dir/untracked.txt\n");
    assert_eq!(ours, repo.git_in(&fresh, &["status", "--short", "--untracked-files=all"]));
    assert_eq!(diff_stat(&fresh).expect("stat"), repo.git_in(&fresh, &["diff", "--stat"]));
}

#[test]
fn submodule_states_equal_git() {
    let repo = Repo::new();
    let upstream = repo.tmp.path().join("upstream");
    fs::create_dir_all(&upstream).expect("upstream dir");
    repo.git_in(&upstream, &["init", "-q", "-b", "main"]);
    guard_support::write_file(&upstream.join("file.txt"), b"one\n");
    repo.git_in(&upstream, &["add", "file.txt"]);
    repo.git_in(&upstream, &["commit", "-q", "-m", "upstream"]);
    let url = upstream.to_str().expect("utf-8");
    for name in ["dirty", "ahead", "untracked"] {
        repo.git(&["-c", "protocol.file.allow=always", "submodule", "add", "-q", url, name]);
    }
    repo.git(&["commit", "-q", "-m", "submodules"]);
    repo.write("dirty/file.txt", "changed\n");
    repo.write("ahead/file.txt", "changed\n");
    repo.git_in(&repo.path("ahead"), &["commit", "-q", "-am", "ahead"]);
    repo.write("untracked/new.txt", "new\n");

    let ours = status_short(&repo.root).expect("status");
    assert_eq!(ours, git_output(&repo, &["status", "--short", "--untracked-files=all"]));
    assert_eq!(ours, " M ahead\n m dirty\n ? untracked\n");
    assert_eq!(diff_name_only(&repo.root).expect("name-only"), git_output(&repo, &["diff", "--name-only"]));
    assert_eq!(diff_stat(&repo.root).expect("stat"), git_output(&repo, &["diff", "--stat"]));
}
