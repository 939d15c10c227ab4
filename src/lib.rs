//! git-dispatch: hand a bounded task to a coding-agent CLI in an isolated git worktree.
//!
//! The modules mirror the pipeline of one dispatch:
//! `packet` (parse, validate) -> `scope` (WRITE SCOPE globs) -> `workspace` (gix worktree, base,
//! pool, snapshot) -> `agent` (runner and adapters, over `process`, the one place that spawns) ->
//! `changes` (tree diff) and `patch` (git-format rendering) -> `guard` (the shared git dir and the
//! user's checkout, before and after) -> `policy` (the verdict, pure) -> `artifacts` (the run
//! folder, atomic writes) -> `handback` (review, apply, merge). `journal` records the runs in
//! progress and recovers what killed ones left. `pipeline` drives one dispatch through all of them:
//! the one implementation behind every face. `escape` shows text from the agent or the worktree
//! without letting it drive the terminal. `egress` is the confined agent's network: its allow-list
//! and the proxy it goes through. `cli` and `commands` sit on top and only
//! orchestrate; lower layers never import them. `stats` adds the finished run folders up.

// git-dispatch is a Linux program: its confinement (bubblewrap, Landlock, seccomp), its change journal
// (inotify) and its process handling (subreaper, pidfd-less waitid, /proc) have no other
// implementation, and no branch pretends to have one.
#[cfg(not(target_os = "linux"))]
compile_error!("git-dispatch builds and runs on Linux only (see README, \"Platforms\")");

pub mod agent;
pub mod artifacts;
pub mod changes;
pub mod checkout_status;
pub mod cli;
pub mod commands;
pub mod egress;
pub mod escape;
pub mod guard;
pub mod handback;
pub mod jobs;
pub mod journal;
pub mod mcp;
pub mod packet;
pub mod patch;
pub mod pipeline;
pub mod policy;
pub mod process;
pub mod prompt;
pub mod quote;
pub mod sandbox;
pub mod scope;
pub mod sensitive;
pub mod stats;
pub mod walk;
pub mod workspace;
