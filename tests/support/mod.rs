//! Shared helpers for the integration tests: fixture repositories and a hermetic git.
//! Each test crate uses a different subset, hence `dead_code` is allowed here.
#![allow(dead_code)]

pub mod cli;
pub mod fixtures;
pub mod git;
pub mod procs;
pub mod scenarios;
pub mod skip;
