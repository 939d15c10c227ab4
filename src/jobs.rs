//! Runs as jobs that outlive whoever started them, for callers that cannot watch a terminal (an
//! orchestrating agent, the MCP server, a script): start them detached ([`detach`]), see where they
//! are ([`observe`]), wait for them with a bound ([`wait`]), stop them ([`cancel`]). Every run,
//! foreground or detached, keeps its `state.json` (see [`crate::artifacts::state`]); these are
//! thin readers and writers of it around the one pipeline.

pub mod cancel;
pub mod detach;
pub mod observe;
pub mod summary;
pub mod wait;

pub use cancel::{cancel, CancelOutcome};
pub use detach::{start, start_prepared, supervise, SUPERVISE_COMMAND};
pub use observe::{find, going, going_or_newest, observe, FindError, StatusView};
pub use summary::{list_entry, list_verdict, summary_json};
pub use wait::{wait, Waited, STILL_RUNNING};
