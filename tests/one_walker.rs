//! One tree walker (issue 21 item 3): every recursive walk of a folder in src/ goes through
//! `src/walk.rs` (the `ignore` crate's walker). What may still call `read_dir` directly lists one
//! folder (run folders, journal entries, `/proc`, the pool's markers, one level of the git dir), and
//! no hand-rolled thread pool (a `Condvar`) walks anything.

#[path = "support/sources.rs"]
mod sources;
use sources::sources;

/// Files whose `read_dir` calls list one folder, each checked by hand: not a walk.
const ONE_FOLDER_LISTINGS: &[&str] = &[
    "commands/clean.rs",
    "commands/doctor.rs",
    "guard/gitdir.rs",
    "handback/runs.rs",
    "journal.rs",
    "journal/alive.rs",
    "journal/locks.rs",
    "process/cgroup.rs",
    "process/reaper.rs",
    "workspace/layout.rs",
    "workspace/pool.rs",
    "workspace/seal.rs",
    "workspace/touched.rs",
];

#[test]
fn every_walk_of_a_tree_goes_through_the_one_walker() {
    let mut offenders = Vec::new();
    for (rela, text) in sources("src") {
        // Unit tests may list a folder to check what a function left there.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        // A Condvar beside folder listings: a hand-rolled walker's queue (other Condvars, like the
        // egress proxy's, walk nothing).
        if code.contains("Condvar") && (code.contains("read_dir") || code.contains("DirEntry")) {
            offenders.push(format!("{rela}: a Condvar (a hand-rolled walker's queue?)"));
        }
        if code.contains("read_dir(") && !ONE_FOLDER_LISTINGS.contains(&rela.as_str()) && rela != "walk.rs" {
            offenders.push(format!("{rela}: read_dir outside the walker"));
        }
    }
    assert!(offenders.is_empty(), "use crate::walk::Walk for walks of a tree:\n{}", offenders.join("\n"));
}
