//! One 100 MB stdout line must not be held in memory: it is cut at `MAX_LINE_BYTES` and counted.
//! (Its own test binary, so that the peak memory measured belongs to this test alone.)

use std::time::Duration;

use git_dispatch::process::{self, ProcessSpec, MAX_LINE_BYTES};

/// The peak resident set size of this process, in bytes.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("a VmHWM line");
    let kib: usize = line.split_whitespace().nth(1).and_then(|value| value.parse().ok()).expect("VmHWM in kB");
    kib * 1024
}

#[test]
fn a_hundred_megabyte_line_is_cut_without_exhausting_memory() {
    let spec = ProcessSpec::new("sh", std::env::temp_dir())
        .arg("-c")
        .arg("head -c 104857600 /dev/zero | tr '\\0' 'y'; printf '\\nafter\\n'")
        .timeout(Duration::from_secs(120));
    let mut lengths = Vec::new();
    let outcome = process::run_streaming(&spec, &mut |line| lengths.push(line.len()), &mut std::io::sink())
        .expect("the child starts");
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(lengths, vec![MAX_LINE_BYTES, 5]);
    assert_eq!(outcome.truncated_lines, 1);
    let peak = peak_rss();
    assert!(peak < 60 * 1024 * 1024, "peak RSS {peak} bytes");
}
