//! Integrity of what is offered and shown (issue 19) and the guard's timestamp and lock fixes
//! (issue 20 items 2 and 3), through the binary with the fake agent: escapes in names and in the
//! agent's words, special and oversized files, deep paths, concurrent applies, run folders, shared
//! git locks of dead runs, automation files.

mod support;

#[path = "integrity/apply.rs"]
mod apply;
#[path = "integrity/automation.rs"]
mod automation;
#[path = "integrity/common.rs"]
mod common;
#[path = "integrity/escapes.rs"]
mod escapes;
#[path = "integrity/locks.rs"]
mod locks;
#[path = "integrity/runfolders.rs"]
mod runfolders;
#[path = "integrity/size.rs"]
mod size;
#[path = "integrity/special.rs"]
mod special;
