//! `network.jsonl` of a run folder: one line per connection the proxy saw, written when it ends
//! (a refused one at once), and the counts the verdict needs. A hostile agent can open connections
//! faster than anyone reads them: past [`MAX_LINES`] lines only the counts go on, and the last
//! line says how many were left out.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context as _;
use serde::Serialize;

/// The most lines one run's `network.jsonl` gets.
pub const MAX_LINES: u64 = 10_000;

/// One connection attempt, as logged.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Attempt {
    pub time: String,
    /// `connect` (a CONNECT tunnel), `http` (a plain-HTTP request forwarded), `invalid` (not a
    /// proxy request), `over-limit` (too many connections at once).
    pub kind: &'static str,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub allowed: bool,
    /// Why it was refused, or why an allowed one failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// From the agent to the host (after the proxy request's head).
    pub bytes_sent: u64,
    /// From the host to the agent.
    pub bytes_received: u64,
    pub duration_ms: u64,
}

impl Attempt {
    pub fn new(kind: &'static str) -> Attempt {
        Attempt { time: chrono::Local::now().to_rfc3339(), kind, ..Attempt::default() }
    }

    /// `host:port` (or the kind, when there is no target).
    pub fn target(&self) -> String {
        match (&self.host, self.port) {
            (Some(host), Some(port)) if host.contains(':') => format!("[{host}]:{port}"),
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.clone(),
            _ => format!("({})", self.kind),
        }
    }
}

/// What the proxy counted over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub allowed: u64,
    pub refused: u64,
    /// Refused targets and how often, by target.
    pub refused_targets: BTreeMap<String, u64>,
    /// Lines left out of the file (over [`MAX_LINES`]).
    pub omitted: u64,
}

/// The log of one run's proxy.
#[derive(Debug)]
pub struct NetLog {
    state: Mutex<(Option<File>, u64, Counts)>,
}

impl NetLog {
    /// Creates (truncates) the file at `path`.
    pub fn create(path: &Path) -> anyhow::Result<NetLog> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(NetLog { state: Mutex::new((Some(file), 0, Counts::default())) })
    }

    /// A log that only counts (for benchmarks and tests).
    pub fn counting() -> NetLog {
        NetLog { state: Mutex::new((None, 0, Counts::default())) }
    }

    pub fn record(&self, attempt: &Attempt) {
        let Ok(mut guard) = self.state.lock() else { return };
        let (file, lines, counts) = &mut *guard;
        if attempt.allowed {
            counts.allowed += 1;
        } else {
            counts.refused += 1;
            *counts.refused_targets.entry(attempt.target()).or_default() += 1;
        }
        if *lines >= MAX_LINES {
            counts.omitted += 1;
            return;
        }
        *lines += 1;
        if let (Some(file), Ok(line)) = (file.as_mut(), serde_json::to_string(attempt)) {
            let _ = writeln!(file, "{line}");
        }
    }

    /// The counts so far; the closing line about left-out entries is written once, here.
    pub fn finish(&self) -> Counts {
        let Ok(mut guard) = self.state.lock() else { return Counts::default() };
        let (file, _, counts) = &mut *guard;
        if let Some(mut file) = file.take() {
            if counts.omitted > 0 {
                let line =
                    serde_json::json!({"omitted": counts.omitted, "reason": "more connections than the log keeps"});
                let _ = writeln!(file, "{line}");
            }
            let _ = file.sync_all();
        }
        counts.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_counted_and_logged_up_to_the_cap() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("network.jsonl");
        let log = NetLog::create(&path).expect("log");
        let mut refused = Attempt::new("connect");
        refused.host = Some("evil.example".into());
        refused.port = Some(443);
        for _ in 0..MAX_LINES + 2 {
            log.record(&refused);
        }
        log.record(&Attempt { allowed: true, ..Attempt::new("http") });
        let counts = log.finish();
        assert_eq!((counts.allowed, counts.refused, counts.omitted), (1, MAX_LINES + 2, 3));
        assert_eq!(counts.refused_targets["evil.example:443"], MAX_LINES + 2);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count() as u64, MAX_LINES + 1);
        let first: serde_json::Value = serde_json::from_str(text.lines().next().expect("line")).expect("JSON");
        assert_eq!((first["host"].as_str(), first["allowed"].as_bool()), (Some("evil.example"), Some(false)));
        assert!(text.lines().last().expect("line").contains("\"omitted\":3"));
    }
}
