//! Interrupting git-dispatch stops the running child's whole group, reported as `Interrupted`.
//! (Its own test binary: the interrupt flag is process-wide.)

use std::time::{Duration, Instant};

use git_dispatch::process::{self, KillReason, ProcessSpec};

#[test]
fn an_interrupt_stops_the_child_group() {
    process::install_interrupt_handler().expect("handler installs");
    assert!(!process::interrupted());
    let spec = ProcessSpec::new("sh", std::env::temp_dir())
        .arg("-c")
        .arg("echo started; sleep 30")
        .timeout(Duration::from_secs(60));
    let started = Instant::now();
    let mut lines = Vec::new();
    // The interrupt comes once the child has said it started (as Ctrl-C would, while it runs).
    let mut on_line = |line: &[u8]| {
        lines.push(line.to_vec());
        process::request_interrupt();
    };
    let outcome = process::run_streaming(&spec, &mut on_line, &mut std::io::sink()).expect("the child starts");
    assert_eq!(outcome.killed, Some(KillReason::Interrupted));
    assert_eq!(outcome.signal, Some(15));
    assert_eq!(lines, vec![b"started".to_vec()]);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(process::interrupted());

    // A real SIGINT to this process sets the same flag once the handler is installed.
    process::clear_interrupt();
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGINT).expect("raise SIGINT");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !process::interrupted() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(process::interrupted());
    process::clear_interrupt();
}
