//! The exact changed-path set between the base commit and the result commit (tree diff with
//! rename detection), as a sorted list of typed changes.

use serde::Serialize;

/// What happened to one path between base and result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
    /// file <-> symlink <-> submodule
    TypeChanged,
    /// only the executable bit changed; content and mode both changed is `Modified`
    ModeChanged,
}

/// One changed path. Paths are repository-relative, `/`-separated; a name that is not valid UTF-8
/// is shown lossily here (the patch keeps the real bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: String,
    pub status: ChangeStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_path: Option<String>,
    /// git's octal mode string, e.g. "100644", "100755", "120000", "160000"
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_after: Option<String>,
    /// true when the path (or old path) was not valid UTF-8
    #[serde(skip)]
    pub lossy_path: bool,
}
