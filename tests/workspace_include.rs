//! `.worktreeinclude`: matching ignored files of the user's checkout are copied into the
//! worktree with their modes and symlinks; nothing else ignored comes along, and the copies are
//! neither committed nor reported as written by the run.

mod support;

use git_dispatch::workspace::{self, Release, WorkspaceOptions};
use pretty_assertions::assert_eq;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::fixtures::fixture_with;
use support::git::git;

const SETUP: &str = r#"
printf 'node_modules/\n*.local\n' >> .gitignore
printf '.env\nnode_modules/\nconfig/*.local\n# comment\n!config/skip.local\n' > .worktreeinclude
git add .gitignore .worktreeinclude && git commit -qm include
printf 'SECRET=1\n' > .env && chmod 600 .env
mkdir -p node_modules/.bin node_modules/pkg config build
printf '#!/bin/sh\necho tool\n' > node_modules/.bin/tool && chmod 755 node_modules/.bin/tool
printf 'module\n' > node_modules/pkg/index.js
ln -s ../pkg/index.js node_modules/.bin/index-link
printf 'db=local\n' > config/db.local
printf 'no\n' > config/skip.local
printf 'not included\n' > build/out.txt
"#;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn matching_ignored_files_are_copied_with_modes() {
    let fx = fixture_with("python-project", SETUP);
    let opts = WorkspaceOptions { worktrees_root: Some(fx.worktrees_root()), fresh: false, pool_size: 2 };
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "inc", &base, &opts).unwrap();

    assert_eq!(ws.included, [".env", "config/db.local", "node_modules/"]);
    assert_eq!(std::fs::read_to_string(ws.path.join(".env")).unwrap(), "SECRET=1\n");
    assert_eq!(mode(&ws.path.join(".env")), 0o600);
    assert_eq!(mode(&ws.path.join("node_modules/.bin/tool")), 0o755);
    assert_eq!(std::fs::read_link(ws.path.join("node_modules/.bin/index-link")).unwrap(), Path::new("../pkg/index.js"));
    assert_eq!(std::fs::read_to_string(ws.path.join("config/db.local")).unwrap(), "db=local\n");
    assert!(!ws.path.join("config/skip.local").exists(), "negated pattern");
    assert!(!ws.path.join("build").exists(), "ignored but not included");
    assert_eq!(git(&ws.path, &["status", "--porcelain"]), "", "copies are ignored in the worktree");

    let snap = workspace::snapshot(&ws).unwrap();
    assert_eq!(snap.result_commit, base.commit);
    assert!(snap.ignored_written.is_empty(), "{:?}", snap.ignored_written);

    // Warm start: changed sources are copied again, unchanged ones are left alone.
    workspace::release(&ws, Release::DeleteBranch, &opts).unwrap();
    std::fs::write(fx.path().join(".env"), "SECRET=2\n").unwrap();
    let tool_inode = std::fs::metadata(ws.path.join("node_modules/.bin/tool")).unwrap();
    let again = workspace::create(fx.path(), "inc-2", &base, &opts).unwrap();
    assert!(again.warm);
    assert_eq!(std::fs::read_to_string(again.path.join(".env")).unwrap(), "SECRET=2\n");
    let tool_again = std::fs::metadata(again.path.join("node_modules/.bin/tool")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(tool_inode.ino(), tool_again.ino(), "unchanged copies are not rewritten");
}

#[test]
fn without_a_worktreeinclude_nothing_is_copied() {
    let fx = fixture_with("dirty", "");
    let opts = WorkspaceOptions { worktrees_root: Some(fx.worktrees_root()), fresh: true, pool_size: 0 };
    let base = workspace::resolve_base(fx.path(), None).unwrap();
    let ws = workspace::create(fx.path(), "none", &base, &opts).unwrap();
    assert!(ws.included.is_empty());
    assert!(!ws.path.join(".env").exists() && !ws.path.join("build").exists());
}
