//! A workspace's handle on its change journal ([`super::touched::Journal`]), or why it has none.

use std::sync::Arc;

use super::touched::Journal;

/// A workspace's change journal (shared by clones of the [`Workspace`]; not compared), or why
/// there is none.
#[derive(Clone)]
pub struct JournalHandle(Result<Arc<Journal>, String>);

impl JournalHandle {
    /// Starts the journal of the worktree `wt` (at `commit`, whose tree its files and index
    /// equal), unless `GIT_DISPATCH_CHANGE_JOURNAL=off`; failing to start is not an error.
    pub fn start(wt: &gix::Repository, commit: gix::ObjectId, ignored_roots: Vec<(gix::bstr::BString, bool)>) -> Self {
        if std::env::var_os("GIT_DISPATCH_CHANGE_JOURNAL").is_some_and(|v| v == "off") {
            return JournalHandle(Err("GIT_DISPATCH_CHANGE_JOURNAL=off".into()));
        }
        match Journal::start_at(wt, commit, ignored_roots) {
            Ok(journal) => JournalHandle(Ok(Arc::new(journal))),
            Err(err) => JournalHandle(Err(format!("no change journal: {err:#}"))),
        }
    }

    /// No journal, for the reason given.
    pub fn off(reason: &str) -> Self {
        JournalHandle(Err(reason.to_string()))
    }

    pub fn get(&self) -> Option<&Journal> {
        self.0.as_ref().ok().map(|j| &**j)
    }

    /// Why there is no journal (empty when there is one).
    pub fn off_reason(&self) -> String {
        self.0.as_ref().err().cloned().unwrap_or_default()
    }
}

impl std::fmt::Debug for JournalHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(_) => f.write_str("JournalHandle(on)"),
            Err(reason) => write!(f, "JournalHandle(off: {reason})"),
        }
    }
}

impl PartialEq for JournalHandle {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for JournalHandle {}
