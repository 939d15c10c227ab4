//! Fine timing of a dispatch for profiling: with `GIT_DISPATCH_TRACE_TIMING=1` every [`span`]
//! prints its label and wall time to stderr (`timing <label> <ms>`); otherwise it costs one
//! cached environment lookup.

use std::sync::OnceLock;
use std::time::Instant;

/// The environment variable that turns the timing lines on.
pub const TRACE_TIMING_ENV: &str = "GIT_DISPATCH_TRACE_TIMING";

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os(TRACE_TIMING_ENV).is_some_and(|v| !v.is_empty() && v != "0"))
}

/// Runs `work`, and prints how long it took when timing is on.
pub fn span<T>(label: &str, work: impl FnOnce() -> T) -> T {
    if !enabled() {
        return work();
    }
    let start = Instant::now();
    let out = work();
    eprintln!("timing {label} {:.1}", start.elapsed().as_secs_f64() * 1000.0);
    out
}
