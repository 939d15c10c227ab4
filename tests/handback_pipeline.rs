//! The hand-back of a result made by the real workspace pipeline: a base with the user's dirty
//! state (`workspace::resolve_base`), a gix linked worktree, the snapshot commit, the product's patch.

mod handback_support;

use std::path::Path;

use git_dispatch::handback::{ApplyError, ApplyHow, MergeKind, RunRecord};
use git_dispatch::workspace::{self, Release, WorkspaceOptions};
use handback_support::{write_in, Fixture};
use pretty_assertions::assert_eq;

const RUN: &str = "20260101-000000-worker-pipeline";

/// The user's dirty checkout (a staged edit, untracked notes), a dispatch from it, and the agent's
/// `edits` in the worktree; returns the run record.
fn dispatched(fixture: &Fixture, edits: impl FnOnce(&Path)) -> RunRecord {
    fixture.write("b.txt", "bee, staged by the user\n");
    fixture.git(&["add", "b.txt"]);
    fixture.write("notes.md", "the user's notes\n");
    let base = workspace::resolve_base(&fixture.root, None).expect("base");
    assert!(base.includes_uncommitted);
    let options = WorkspaceOptions { worktrees_root: Some(fixture.tmp.join("worktrees")), fresh: true, pool_size: 0 };
    let ws = workspace::create(&fixture.root, RUN, &base, &options).expect("worktree");
    edits(&ws.path);
    let snapshot = workspace::snapshot(&ws).expect("snapshot");
    workspace::release(&ws, Release::KeepBranch, &options).expect("release");
    fixture.write_run(RUN, &base.commit.to_string(), &snapshot.result_commit.to_string())
}

fn agent_edits(wt: &Path) {
    write_in(wt, "src/lib.rs", b"pub fn one() -> u32 {\n    1\n}\n\npub fn two() -> u32 {\n    2\n}\n");
    write_in(wt, "src/two.rs", b"// two\n");
}

fn agent_edits_the_users_notes(wt: &Path) {
    agent_edits(wt);
    write_in(wt, "notes.md", b"the user's notes\nand the agent's\n");
}

#[test]
fn a_dispatched_result_applies_onto_the_dirty_checkout() {
    let fixture = Fixture::new();
    let run = dispatched(&fixture, agent_edits_the_users_notes);
    let index_before = fixture.index_bytes();

    let outcome = fixture.apply(&run, ApplyHow::Patch).expect("applies");

    assert_eq!(outcome.paths, vec!["notes.md", "src/lib.rs", "src/two.rs"]);
    assert_eq!(fixture.read("notes.md"), "the user's notes\nand the agent's\n");
    assert_eq!(fixture.read("src/two.rs"), "// two\n");
    assert_eq!(fixture.read("b.txt"), "bee, staged by the user\n");
    assert_eq!(fixture.index_bytes(), index_before);
    assert_eq!(fixture.git(&["status", "--porcelain"]), "M  b.txt\n M src/lib.rs\n?? notes.md\n?? src/two.rs\n");
}

#[test]
fn a_dispatched_result_merges_as_one_commit_without_the_users_state() {
    let fixture = Fixture::new();
    let run = dispatched(&fixture, agent_edits);
    let head = fixture.head();

    let outcome = fixture.apply(&run, ApplyHow::Merge).expect("merges");

    assert_eq!(outcome.merge, Some(MergeKind::SingleCommit));
    assert_eq!(fixture.git(&["rev-parse", "HEAD^"]).trim(), head);
    assert_eq!(fixture.git(&["diff", "--name-status", &head, "HEAD"]), "M\tsrc/lib.rs\nA\tsrc/two.rs\n");
    assert_eq!(fixture.git(&["status", "--porcelain"]), "M  b.txt\n?? notes.md\n");
    assert!(fixture.git(&["diff", "--cached"]).contains("+bee, staged by the user"));
}

#[test]
fn a_merge_cannot_commit_the_agents_edit_of_a_file_untracked_at_dispatch() {
    let fixture = Fixture::new();
    let run = dispatched(&fixture, agent_edits_the_users_notes);
    let before = fixture.fingerprint();

    let err = fixture.apply(&run, ApplyHow::Merge).expect_err("refused");

    assert!(matches!(&err, ApplyError::MergeConflict { paths } if paths == &vec!["notes.md".to_string()]), "{err:?}");
    assert_eq!(fixture.fingerprint(), before);
}
