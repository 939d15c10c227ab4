//! Work that runs on a thread of its own while the dispatch goes on: reading the user's checkout
//! (the audit of the status pass, the guard's closing fingerprint), which nothing else of the dispatch writes to.

use std::thread::JoinHandle;

/// A result being computed on another thread.
pub(super) struct Background<T> {
    label: &'static str,
    handle: JoinHandle<anyhow::Result<T>>,
}

impl<T: Send + 'static> Background<T> {
    /// Starts `work` on a new thread; `label` names it in errors and in the timing trace.
    pub(super) fn start(label: &'static str, work: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> Self {
        let handle = std::thread::spawn(move || super::timing::span(label, work));
        Background { label, handle }
    }

    /// Waits for the result (a panic on the thread is an error).
    pub(super) fn join(self) -> anyhow::Result<T> {
        let label = self.label;
        self.handle.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the thread computing {label} panicked")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_errors_and_panics_come_back() {
        assert_eq!(Background::start("a value", || Ok(7)).join().expect("value"), 7);
        let error = Background::<()>::start("a failure", || anyhow::bail!("no")).join().expect_err("error");
        assert_eq!(error.to_string(), "no");
        let panicked = Background::<()>::start("a panic", || panic!("boom")).join().expect_err("panic");
        assert_eq!(panicked.to_string(), "the thread computing a panic panicked");
    }
}
