//! The isolated workspace: a linked gix worktree on `dispatch/<run-id>`, its base commit, the
//! warm pool, `.worktreeinclude` copies, and the snapshot of the agent's final state.
