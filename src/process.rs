//! The one place that starts child processes (process group, timeout, TERM then KILL).
