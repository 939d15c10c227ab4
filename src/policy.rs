//! The verdict of a run (`policy.json`): pure logic, no I/O.
//!
//! Every field the seed wrote is kept with its name; the new fields follow. A violation is data
//! recorded here, never an `Err`.

use serde::{Deserialize, Serialize};

/// `policy.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Verdict {
    // The seed's fields.
    pub mode: String,
    pub workdir: String,
    pub write_scope: Vec<String>,
    pub policy_violation: bool,
    pub messages: Vec<String>,
    pub run_dir: String,
    pub dirty_file_count_before: usize,
    pub fingerprint_enabled: bool,
    pub ignored_status_prefixes: Vec<String>,
    pub codex_exit_code: Option<i32>,
    pub watchdog_killed: bool,
    pub watchdog_reason: Option<String>,
    pub out_of_scope_changes: Vec<String>,
    pub dirty_overlap: Vec<String>,
    pub pre_existing_dirty_outside_scope: Vec<String>,
    pub changed_after: Vec<String>,
    pub removed_dirty: Vec<String>,
    pub modified_all: Vec<String>,
    pub out_of_scope_removed: Vec<String>,
    // New fields.
    pub dry_run: bool,
    pub agent: String,
    pub agent_exit_code: Option<i32>,
    pub scope_ok: bool,
    pub exit_code: i32,
    pub offered: bool,
    pub blocked: bool,
    pub base_commit: Option<String>,
    pub result_commit: Option<String>,
    pub branch: Option<String>,
    pub patch_sha256: Option<String>,
    pub changed_paths: Vec<String>,
    pub ignored_written: Vec<String>,
    pub git_dir_tampered: Vec<String>,
    pub main_checkout_changed: Vec<String>,
    pub claims_mismatch: Option<ClaimsMismatch>,
    pub sensitive_changes: Vec<SensitiveChange>,
    pub structured_result_ok: bool,
    pub verification_failed: bool,
    pub interrupted: bool,
    pub sandbox: Option<SandboxRecord>,
    pub stage: String,
}

/// The agent's `changed_files` against the computed set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsMismatch {
    pub claimed_not_changed: Vec<String>,
    pub changed_not_claimed: Vec<String>,
}

/// A change that is a violation whatever WRITE SCOPE says, unless allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensitiveChange {
    pub path: String,
    pub kind: String,
    pub reason: String,
    pub allowed: bool,
}

/// `sandbox` in policy.json and run.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxRecord {
    pub kind: String,
    pub writable: Vec<String>,
}

/// Exit codes of SPEC §1.
pub mod exit {
    pub const OK: i32 = 0;
    pub const CANNOT_START: i32 = 1;
    pub const BLOCKED: i32 = 2;
    pub const VIOLATION: i32 = 3;
}
