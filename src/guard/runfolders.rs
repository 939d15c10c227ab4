//! The run folders (`.codex-dispatch/`) of the user's checkout, watched while an unconfined agent
//! runs (`--sandbox none`; a sandbox makes the checkout read-only): an agent there could forge a
//! run folder (a fake offered run in `list`) or rewrite another run's verdict. The checkout's own
//! fingerprint skips these folders (git-dispatch writes them all the time), so this one records
//! every entry below them except the running dispatch's own run folder, and reports what changed,
//! leaving out what other git-dispatch processes legitimately do meanwhile: write the run folders
//! of runs the journal knows (live, or finished during this run), record a hand-back
//! (`applied.json`, `superseded.json` in the other attempts of a group, `run.json` of a run handed
//! back), remove whole run folders (`clean`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::fsmeta::Identity;
use crate::walk::{Step, Walk};

/// One entry's kind, size, permissions and identity.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    kind: u8,
    size: u64,
    mode: u32,
    identity: Identity,
}

/// The entries below some `.codex-dispatch` folders, by path relative to the repository root.
#[derive(Clone, Debug, Default)]
pub struct RunFolders {
    entries: BTreeMap<String, Entry>,
}

/// Records everything below each of `roots` (`<dir>/.codex-dispatch`, given with their
/// repository-relative name), skipping `own_run` (the dispatch's own run folder). A symlink is
/// recorded, never followed.
pub fn capture(roots: &[(PathBuf, String)], own_run: &Path) -> RunFolders {
    let mut folders = RunFolders::default();
    for (root, rela) in roots {
        walk(root, rela, own_run, &mut folders.entries);
    }
    folders
}

fn walk(dir: &Path, rela: &str, own_run: &Path, out: &mut BTreeMap<String, Entry>) {
    let Ok(meta) = dir.symlink_metadata() else { return };
    out.insert(rela.to_string(), entry_of(&meta));
    if !meta.is_dir() {
        return;
    }
    Walk::new(dir).each(|found| {
        let Ok(item) = found else { return Step::Continue };
        if item.path() == own_run {
            return Step::Prune;
        }
        let Ok(meta) = item.metadata() else { return Step::Continue };
        out.insert(format!("{rela}/{}", item.rela().to_string_lossy()), entry_of(&meta));
        Step::Continue
    });
}

fn entry_of(meta: &std::fs::Metadata) -> Entry {
    let kind = if meta.is_symlink() {
        b'l'
    } else if meta.is_dir() {
        b'd'
    } else {
        b'f'
    };
    Entry { kind, size: meta.len(), mode: super::fsmeta::permission_bits(meta), identity: Identity::of(meta) }
}

/// The run id of a path `<...>.codex-dispatch/runs/<id>/...` (`None` elsewhere), and whether the
/// path is that run folder itself.
fn run_of(path: &str) -> Option<(&str, bool)> {
    let (_, rest) = path.split_once(".codex-dispatch/runs/")?;
    match rest.split_once('/') {
        Some((id, _)) => Some((id, false)),
        None => Some((rest, true)),
    }
}

/// The paths that changed from `before` to `after` and that no git-dispatch process accounts
/// for: `known_run(id)` says whether run `id` is one the journal knows.
pub fn compare(before: &RunFolders, after: &RunFolders, known_run: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut changed = Vec::new();
    let folder_removed = |id: &str| {
        before.entries.keys().any(|p| run_of(p) == Some((id, true)))
            && !after.entries.keys().any(|p| run_of(p).is_some_and(|(other, _)| other == id))
    };
    let all: std::collections::BTreeSet<&String> = before.entries.keys().chain(after.entries.keys()).collect();
    for path in all {
        let (old, new) = (before.entries.get(path), after.entries.get(path));
        if old == new {
            continue;
        }
        // A folder that stays a folder only changed inside, which is judged entry by entry.
        let still_a_folder = old.zip(new).is_some_and(|(a, b)| a.kind == b'd' && b.kind == b'd');
        let accounted = still_a_folder
            || run_of(path).is_some_and(|(id, _)| {
                known_run(id) || handed_back(path, after) || (new.is_none() && folder_removed(id))
            });
        if !accounted {
            changed.push(path.clone());
        }
    }
    changed
}

/// What `apply` writes into a run folder: `applied.json`, `superseded.json` in the other
/// attempts of its group, and `run.json` of a run it handed back (whose `applied.json` exists).
fn handed_back(path: &str, after: &RunFolders) -> bool {
    if path.ends_with("/applied.json") || path.ends_with("/superseded.json") {
        return true;
    }
    path.strip_suffix("/run.json").is_some_and(|folder| after.entries.contains_key(&format!("{folder}/applied.json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_and_rewritten_run_folders_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join(".codex-dispatch");
        let runs = root.join("runs");
        for id in ["own", "old", "live", "gone", "plain"] {
            std::fs::create_dir_all(runs.join(id)).expect("run folder");
            std::fs::write(runs.join(id).join("policy.json"), "{}").expect("policy");
        }
        let roots = [(root.clone(), ".codex-dispatch".to_string())];
        let before = capture(&roots, &runs.join("own"));
        std::fs::write(runs.join("own/policy.json"), r#"{"own": 1}"#).expect("own run");
        std::fs::write(runs.join("live/policy.json"), r#"{"live": 1}"#).expect("a live run");
        std::fs::write(runs.join("old/applied.json"), "{}").expect("a hand-back");
        std::fs::write(runs.join("old/run.json"), "{\"applied\": {}}").expect("recorded in run.json");
        std::fs::write(runs.join("live/superseded.json"), "{}").expect("a sibling superseded");
        std::fs::write(runs.join("plain/run.json"), "{\"applied\": {}}").expect("run.json without a hand-back");
        std::fs::remove_dir_all(runs.join("gone")).expect("clean");
        std::fs::create_dir_all(runs.join("forged")).expect("forged");
        std::fs::write(runs.join("forged/policy.json"), r#"{"offered": true}"#).expect("forged");
        std::fs::write(runs.join("old/policy.json"), r#"{"offered": true, "x": 1}"#).expect("rewritten");
        let after = capture(&roots, &runs.join("own"));
        let changed = compare(&before, &after, &|id| id == "live");
        assert_eq!(
            changed,
            [
                ".codex-dispatch/runs/forged",
                ".codex-dispatch/runs/forged/policy.json",
                ".codex-dispatch/runs/old/policy.json",
                ".codex-dispatch/runs/plain/run.json"
            ]
        );
    }
}
