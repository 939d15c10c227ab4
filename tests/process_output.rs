//! Output handling under `process`: 10 MB on both pipes at once must not deadlock, and lines are
//! delivered whole.

use std::time::Duration;

use git_dispatch::process::{self, ProcessSpec};

const TEN_MB: usize = 10 * 1024 * 1024;

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("sh", std::env::temp_dir()).arg("-c").arg(script).timeout(Duration::from_secs(120))
}

/// 10 MB of 100-byte lines on stdout while 10 MB go to stderr, written concurrently.
const BOTH_PIPES: &str = "head -c 10485760 /dev/zero >&2 & \
    head -c 10485760 /dev/zero | tr '\\0' 'x' | fold -w 99; wait";

#[test]
fn ten_megabytes_on_each_pipe_stream_without_deadlock() {
    let mut line_count = 0usize;
    let mut stdout_bytes = 0usize;
    let mut bad_lines = 0usize;
    let mut stderr = CountingSink::default();
    let outcome = process::run_streaming(
        &sh(BOTH_PIPES),
        &mut |line| {
            line_count += 1;
            stdout_bytes += line.len();
            if line.len() > 99 || line.iter().any(|&byte| byte != b'x') {
                bad_lines += 1;
            }
        },
        &mut stderr,
    )
    .expect("the child starts");
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.killed, None);
    assert_eq!(stdout_bytes, TEN_MB);
    assert_eq!(line_count, TEN_MB.div_ceil(99));
    assert_eq!(bad_lines, 0);
    assert_eq!(stderr.bytes, TEN_MB);
    assert_eq!(outcome.truncated_lines, 0);
}

#[test]
fn run_captured_holds_ten_megabytes_of_each() {
    let captured = process::run_captured(&sh(BOTH_PIPES)).expect("the child starts");
    assert_eq!(captured.outcome.exit_code, Some(0));
    assert_eq!(captured.stderr.len(), TEN_MB);
    assert_eq!(captured.stdout.len(), TEN_MB + TEN_MB.div_ceil(99) - 1);
    assert_eq!(captured.dropped_bytes, 0);
}

#[derive(Default)]
struct CountingSink {
    bytes: usize,
}

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
