//! The live status line on stderr while an agent runs (a terminal only, not with `--quiet`):
//! elapsed time, tokens so far and what the agent does now, redrawn in place with `\r`; then one
//! summary line. When stderr is not a terminal nothing is drawn, so no escape codes either. What
//! the agent's events say is shown escaped: only the line's own `\r` and clear-to-end reach the
//! terminal.

use std::io::{IsTerminal as _, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::AgentReport;

/// How often the line is redrawn when nothing happens (the clock moves on).
const REDRAW_EVERY: Duration = Duration::from_secs(1);

/// The fewest time between two redraws caused by events.
const MIN_REDRAW_GAP: Duration = Duration::from_millis(100);

/// Clears from the cursor to the end of the line.
const CLEAR_TO_END: &str = "\x1b[K";

/// A status line that redraws itself; inert when disabled.
pub struct LiveStatus {
    running: Option<Running>,
}

struct Running {
    shared: Arc<Mutex<Shown>>,
    stop: Sender<()>,
    ticker: JoinHandle<()>,
}

struct Shown {
    out: Box<dyn Write + Send>,
    label: String,
    started: Instant,
    activity: Option<String>,
    tokens: u64,
    drawn_at: Option<Instant>,
}

impl LiveStatus {
    /// Draws on stderr when it is a terminal and `quiet` is false; else does nothing.
    pub fn start(label: &str, quiet: bool) -> LiveStatus {
        if quiet || !std::io::stderr().is_terminal() {
            return LiveStatus { running: None };
        }
        LiveStatus::start_on(label, Box::new(std::io::stderr()))
    }

    /// Draws on `out` unconditionally (for tests and for callers that decided themselves).
    pub fn start_on(label: &str, out: Box<dyn Write + Send>) -> LiveStatus {
        let shared = Arc::new(Mutex::new(Shown {
            out,
            label: label.to_string(),
            started: Instant::now(),
            activity: None,
            tokens: 0,
            drawn_at: None,
        }));
        let (stop, stopped) = mpsc::channel::<()>();
        let ticking = Arc::clone(&shared);
        let ticker = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(REDRAW_EVERY) {
                if let Ok(mut shown) = ticking.lock() {
                    shown.draw();
                }
            }
        });
        LiveStatus { running: Some(Running { shared, stop, ticker }) }
    }

    /// New facts from the event stream; redrawn at most every 100 ms.
    pub fn update(&self, activity: Option<&str>, tokens: u64) {
        let Some(running) = &self.running else {
            return;
        };
        let Ok(mut shown) = running.shared.lock() else {
            return;
        };
        shown.activity = activity.map(str::to_string);
        shown.tokens = tokens;
        let due = shown.drawn_at.is_none_or(|drawn| drawn.elapsed() >= MIN_REDRAW_GAP);
        if due {
            shown.draw();
        }
    }

    /// Stops redrawing and clears the line.
    pub fn stop(mut self) {
        self.end(None);
    }

    /// Stops redrawing and replaces the line with `summary`.
    pub fn finish(mut self, summary: &str) {
        self.end(Some(summary));
    }

    fn end(&mut self, summary: Option<&str>) {
        let Some(running) = self.running.take() else {
            return;
        };
        let _ = running.stop.send(());
        let _ = running.ticker.join();
        if let Ok(mut shown) = running.shared.lock() {
            let text = summary.map(|line| format!("{line}\n")).unwrap_or_default();
            let _ = write!(shown.out, "\r{CLEAR_TO_END}{text}");
            let _ = shown.out.flush();
        };
    }
}

impl Drop for LiveStatus {
    fn drop(&mut self) {
        self.end(None);
    }
}

impl Shown {
    fn draw(&mut self) {
        let line =
            status_line(&self.label, self.started.elapsed(), self.activity.as_deref(), self.tokens, terminal_width());
        let _ = write!(self.out, "\r{line}{CLEAR_TO_END}");
        let _ = self.out.flush();
        self.drawn_at = Some(Instant::now());
    }
}

/// `codex 1m05s 12.3k tokens | $ cargo test`, cut to `width - 1` characters.
pub fn status_line(label: &str, elapsed: Duration, activity: Option<&str>, tokens: u64, width: usize) -> String {
    let mut line = format!("{label} {}", format_elapsed(elapsed));
    if tokens > 0 {
        line.push_str(&format!(" {} tokens", format_tokens(tokens)));
    }
    if let Some(activity) = activity {
        line.push_str(" | ");
        line.push_str(activity);
    }
    shorten(&line, width.saturating_sub(1).max(20))
}

/// The final line: how the agent ended, how long it took, tokens and commands.
pub fn summary_line(report: &AgentReport) -> String {
    let label = report.kind.program_name();
    let ending = if report.interrupted {
        "interrupted".to_string()
    } else if let Some(reason) = &report.watchdog_reason {
        format!("stopped by the watchdog ({reason})")
    } else {
        match (report.exit_code, report.signal) {
            (Some(code), _) => format!("exited {code}"),
            (None, Some(signal)) => format!("died of signal {signal}"),
            (None, None) => "ended".to_string(),
        }
    };
    let commands = report.commands.len();
    format!(
        "{label}: {ending} after {}, {} tokens, {commands} command{}",
        format_elapsed(report.duration),
        format_tokens(report.usage.total()),
        if commands == 1 { "" } else { "s" },
    )
}

/// `42s`, `1m05s`, `2h03m`.
pub fn format_elapsed(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

/// `360`, `12.3k`, `4.5M`.
pub fn format_tokens(tokens: u64) -> String {
    match tokens {
        0..1_000 => tokens.to_string(),
        1_000..1_000_000 => format!("{:.1}k", tokens as f64 / 1_000.0),
        _ => format!("{:.1}M", tokens as f64 / 1_000_000.0),
    }
}

/// At most `max` characters, control characters escaped ([`crate::escape::line`]: the activity
/// comes from the agent's events); a cut line ends with `...`.
pub fn shorten(text: &str, max: usize) -> String {
    let one_line = crate::escape::line(text).into_owned();
    if one_line.chars().count() <= max {
        return one_line;
    }
    let kept: String = one_line.chars().take(max.saturating_sub(3)).collect();
    format!("{kept}...")
}

/// `$COLUMNS`, else 80.
fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|value| value.parse().ok()).filter(|&width: &usize| width > 0).unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    #[derive(Clone, Default)]
    struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer lock").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn elapsed_and_tokens_are_short() {
        assert_eq!(format_elapsed(Duration::from_secs(42)), "42s");
        assert_eq!(format_elapsed(Duration::from_secs(65)), "1m05s");
        assert_eq!(format_elapsed(Duration::from_secs(7380)), "2h03m");
        assert_eq!(format_tokens(360), "360");
        assert_eq!(format_tokens(12_345), "12.3k");
        assert_eq!(format_tokens(4_500_000), "4.5M");
    }

    #[test]
    fn the_line_shows_time_tokens_and_activity_within_the_width() {
        let line = status_line("codex", Duration::from_secs(65), Some("$ cargo test"), 12_345, 80);
        assert_eq!(line, "codex 1m05s 12.3k tokens | $ cargo test");
        let long = status_line("codex", Duration::ZERO, Some(&"x".repeat(200)), 0, 40);
        assert_eq!(long.chars().count(), 39);
        assert!(long.starts_with("codex 0s | xxx") && long.ends_with("..."));
        assert_eq!(shorten("a\tb\nc", 10), "a\\tb\\nc");
        assert_eq!(shorten("$ printf '\x1b]52;c;eA==\x07'", 80), "$ printf '\\x1b]52;c;eA==\\x07'");
    }

    #[test]
    fn a_started_status_redraws_in_place_and_ends_with_the_summary() {
        let buffer = SharedBuffer::default();
        let status = LiveStatus::start_on("claude", Box::new(buffer.clone()));
        status.update(Some("$ ls"), 1500);
        status.finish("claude: exited 0 after 0s, 1.5k tokens, 1 command");
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        assert_eq!(
            text,
            "\rclaude 0s 1.5k tokens | $ ls\x1b[K\r\x1b[Kclaude: exited 0 after 0s, 1.5k tokens, 1 command\n"
        );
    }

    #[test]
    fn a_quiet_status_writes_nothing() {
        let status = LiveStatus::start("codex", true);
        assert!(status.running.is_none());
        status.update(Some("anything"), 1);
        status.finish("summary");
    }
}
