//! Ctrl-C handling: SIGINT and SIGTERM to git-dispatch set one global flag. Running children
//! are then stopped (their whole group) and their [`super::Outcome`] says `Interrupted`; the
//! caller checks [`interrupted`] to stop its own pipeline cleanly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
static INSTALLED: OnceLock<()> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Routes SIGINT and SIGTERM to the interrupt flag. Safe to call more than once.
pub fn install_interrupt_handler() -> anyhow::Result<()> {
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(flag()))
            .with_context(|| format!("installing the handler for signal {signal}"))?;
    }
    let _ = INSTALLED.set(());
    Ok(())
}

/// True once git-dispatch was asked to stop (a signal, or [`request_interrupt`]).
pub fn interrupted() -> bool {
    flag().load(Ordering::SeqCst)
}

/// Sets the flag as a signal would: running children are stopped as `Interrupted`.
pub fn request_interrupt() {
    flag().store(true, Ordering::SeqCst);
}

/// Clears the flag (for tests that interrupt and then go on).
#[doc(hidden)]
pub fn clear_interrupt() {
    flag().store(false, Ordering::SeqCst);
}
