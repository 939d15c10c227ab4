//! The fixture scripts build exactly the repositories the other tests rely on.

mod support;

use pretty_assertions::assert_eq;
use support::fixtures::fixture;
use support::git::{git, tree_fingerprint};

#[test]
fn python_project_has_modes_binary_and_spaced_path() {
    let fx = fixture("python-project");
    let tree = git(fx.path(), &["ls-tree", "-r", "--format=%(objectmode) %(path)", "HEAD"]);
    assert_eq!(
        tree,
        "100644 .gitignore\n100644 README.md\n100644 assets/logo.bin\n100644 docs/read me.txt\n\
         100755 scripts/run.sh\n100644 src/app/__init__.py\n100644 src/app/util.py\n\
         100644 tests/test_util.py\n"
    );
    let numstat = git(fx.path(), &["show", "--numstat", "--format=", "HEAD", "--", "assets"]);
    assert_eq!(numstat, "-\t-\tassets/logo.bin\n");
    assert_eq!(git(fx.path(), &["status", "--porcelain"]), "");
}

#[test]
fn python_project_is_deterministic() {
    let a = fixture("python-project");
    let b = fixture("python-project");
    assert_eq!(git(a.path(), &["rev-parse", "HEAD"]), git(b.path(), &["rev-parse", "HEAD"]));
}

#[test]
fn dirty_has_every_kind_of_uncommitted_state() {
    let fx = fixture("dirty");
    let status = git(fx.path(), &["status", "--porcelain", "--untracked-files=all"]);
    assert_eq!(
        status,
        "M  README.md\nMM \"docs/read me.txt\"\n M src/app/util.py\n D tests/test_util.py\n\
         ?? NOTES.txt\n?? src/app/new/mod.py\n"
    );
    let ignored = git(fx.path(), &["status", "--porcelain", "--ignored", "--untracked-files=all"]);
    assert!(ignored.contains("!! .env\n"), "{ignored}");
    assert!(ignored.contains("!! build/out.txt\n"), "{ignored}");
}

#[test]
fn symlinks_fixture_has_file_dir_and_dangling_links() {
    let fx = fixture("symlinks");
    let tree = git(fx.path(), &["ls-tree", "-r", "--format=%(objectmode) %(path)", "HEAD"]);
    assert_eq!(
        tree,
        "100644 README.md\n120000 dangling-link\n100644 lib/inner/file.txt\n\
         100644 lib/target.txt\n120000 link-to-dir\n120000 link-to-file\n"
    );
    assert_eq!(git(fx.path(), &["cat-file", "-p", "HEAD:dangling-link"]), "does/not/exist");
}

#[test]
fn submodule_fixture_has_a_gitlink() {
    let fx = fixture("submodule");
    let tree = git(fx.path(), &["ls-tree", "-r", "--format=%(objectmode) %(objecttype) %(path)", "HEAD"]);
    assert_eq!(tree, "100644 blob .gitmodules\n100644 blob README.md\n160000 commit vendor/lib\n");
    assert_eq!(std::fs::read_to_string(fx.path().join("vendor/lib/lib.txt")).unwrap(), "library code\n");
}

#[test]
fn fingerprint_sees_index_and_checkout_changes() {
    let fx = fixture("python-project");
    let before = tree_fingerprint(fx.path());
    assert_eq!(before, tree_fingerprint(fx.path()));
    std::fs::write(fx.path().join("build.log"), "x").unwrap();
    let after_file = tree_fingerprint(fx.path());
    assert_ne!(before, after_file);
    git(fx.path(), &["update-index", "--chmod=-x", "scripts/run.sh"]);
    assert_ne!(after_file, tree_fingerprint(fx.path()));
}
