//! Several dispatches at once: at most `jobs` run at the same time, each on a thread of its own;
//! the results come back in the order of the dispatches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::artifacts::RunDir;
use crate::policy::Verdict;

/// One finished dispatch: its run folder and verdict.
pub type Finished = anyhow::Result<(RunDir, Verdict)>;

/// Runs `run_one` on every item, at most `jobs` at once (at least one); results in item order.
/// A panicking `run_one` is the error `panicked()` makes of it.
pub fn run_all<T, R, F>(items: &[T], jobs: usize, run_one: F, panicked: fn() -> R) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(usize, &T) -> R + Sync,
{
    let jobs = jobs.max(1).min(items.len().max(1));
    if jobs == 1 {
        return items.iter().enumerate().map(|(index, item)| run_one(index, item)).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(index) else { break };
                let outcome = run_one(index, item);
                *slots[index].lock().expect("a slot is only written by one thread") = Some(outcome);
            });
        }
    });
    slots.into_iter().map(|slot| slot.into_inner().ok().flatten().unwrap_or_else(panicked)).collect()
}

/// The error of a dispatch whose thread panicked.
pub fn panicked<T>() -> anyhow::Result<T> {
    Err(anyhow::anyhow!("a dispatch thread panicked"))
}
