//! Several dispatches at once: at most `jobs` run at the same time, each on a thread of its own;
//! the results come back in the order of the dispatches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::options::RunOptions;
use super::resolve::Dispatch;
use crate::artifacts::RunDir;
use crate::policy::Verdict;

/// One finished dispatch: its run folder and verdict.
pub type Finished = anyhow::Result<(RunDir, Verdict)>;

/// Runs `run_one` on every dispatch, at most `options.jobs` at once; results in dispatch order.
pub fn run_all<F>(dispatches: &[Dispatch], options: &RunOptions, run_one: F) -> Vec<Finished>
where
    F: Fn(usize, &Dispatch) -> Finished + Sync,
{
    let jobs = options.jobs.max(1).min(dispatches.len().max(1));
    if jobs == 1 {
        return dispatches.iter().enumerate().map(|(index, dispatch)| run_one(index, dispatch)).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Finished>>> = dispatches.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(dispatch) = dispatches.get(index) else { break };
                let outcome = run_one(index, dispatch);
                *slots[index].lock().expect("a slot is only written by one thread") = Some(outcome);
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| Err(anyhow::anyhow!("a dispatch thread panicked")))
        })
        .collect()
}
