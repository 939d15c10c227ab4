//! What only an unconfined agent (`--sandbox none`) can reach besides the checkout and the git
//! dir's guarded files: the run folders below `.codex-dispatch/` (a forged "offered" run, a
//! rewritten verdict) and the loose objects of the object store (the base commit's objects
//! overwritten). Recorded before the run when the sandbox may turn out to be none, compared after
//! it when it was.

use std::path::PathBuf;

use super::Run;
use crate::guard::{objects, runfolders};
use crate::sandbox::Choice;

/// The state recorded before the run.
pub(super) struct Unconfined {
    roots: Vec<(PathBuf, String)>,
    since: std::time::SystemTime,
    folders: runfolders::RunFolders,
    objects: objects::LooseObjects,
}

/// What changed that the unconfined agent may have done.
#[derive(Default)]
pub(super) struct UnconfinedChanges {
    /// Paths below `.codex-dispatch/`, repository-relative (for `main_checkout_changed`).
    pub run_folders: Vec<String>,
    /// `objects/ab/cdef...` that no longer hold their object.
    pub objects: Vec<String>,
}

impl Run<'_> {
    /// Records the run folders and loose objects, unless a sandbox is asked for by name (then the
    /// agent cannot write either).
    pub(super) fn capture_unconfined(&mut self) {
        if !matches!(self.options.sandbox, Choice::None | Choice::Auto) {
            return;
        }
        let roots = self.run_folder_roots();
        let since = std::time::SystemTime::now();
        let folders = runfolders::capture(&roots, &self.run_dir.path);
        let objects = objects::capture(&self.dispatch.common_dir);
        self.unconfined = Some(Unconfined { roots, since, folders, objects });
    }

    /// The `.codex-dispatch` folders `list`, `review` and `apply` read: at WORKDIR and at the
    /// repository root (none with `--output-dir`).
    fn run_folder_roots(&self) -> Vec<(PathBuf, String)> {
        if self.options.output_dir.is_some() {
            return Vec::new();
        }
        let mut roots = vec![(self.dispatch.repo_root.join(".codex-dispatch"), ".codex-dispatch".to_string())];
        if !self.dispatch.workdir_in_repo.is_empty() {
            let rela = format!("{}/.codex-dispatch", self.dispatch.workdir_in_repo);
            roots.push((self.dispatch.packet.workdir.join(".codex-dispatch"), rela));
        }
        roots
    }

    /// What changed since [`Run::capture_unconfined`], when the agent ran without a sandbox.
    pub(super) fn unconfined_changes(&self) -> UnconfinedChanges {
        let unconfined_run = self.verdict.sandbox.as_ref().is_some_and(|sandbox| sandbox.kind == "none");
        let Some(before) = self.unconfined.as_ref().filter(|_| unconfined_run) else {
            return UnconfinedChanges::default();
        };
        let journal = crate::workspace::layout_for(&self.dispatch.repo_root, &self.workspace_options())
            .map(|layout| crate::journal::journal_dir(&layout))
            .ok();
        let known = |id: &str| journal.as_deref().is_some_and(|dir| crate::journal::known_run(dir, id, before.since));
        let after = runfolders::capture(&before.roots, &self.run_dir.path);
        UnconfinedChanges {
            run_folders: runfolders::compare(&before.folders, &after, &known),
            objects: objects::overwritten(&before.objects, &self.dispatch.common_dir),
        }
    }
}
