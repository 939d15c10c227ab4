//! Interrupting git-dispatch while an agent runs: the agent's group is stopped, the report says
//! `interrupted` (not a watchdog kill) and result.json says why there is no result.
//! (Its own test binary: the interrupt flag is process-wide.)

mod agent_support;

use std::time::{Duration, Instant};

use agent_support::Fixture;
use git_dispatch::agent::{self, AgentKind, StructuredResult};
use git_dispatch::process;

#[test]
fn an_interrupt_stops_the_agent_and_is_recorded() {
    let fixture = Fixture::new();
    let pid_file = fixture.dir.path().join("pid");
    let program = fixture.agent(
        "codex",
        "codex-cli 0.171.0",
        &format!("sleep 1000 & echo $! > '{}'\necho '{{\"type\":\"turn.started\"}}'\nwait", pid_file.display()),
    );
    let started_file = pid_file.clone();
    let trigger = std::thread::spawn(move || {
        // Once the agent's background process is up, the agent is running: interrupt it then.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&started_file).is_ok_and(|text| text.ends_with('\n'))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        process::request_interrupt();
    });
    let started = Instant::now();
    let report = agent::run(&fixture.request(AgentKind::Codex, &program)).expect("run");
    trigger.join().expect("trigger thread");
    process::clear_interrupt();

    assert!(report.interrupted);
    assert!(!report.watchdog_killed);
    assert_eq!(report.watchdog_reason, None);
    assert_eq!(
        report.result,
        StructuredResult::Blocked { reason: "the agent was stopped before it gave a result: interrupted".into() }
    );
    assert_eq!(fixture.result_json()["result"], "blocked");
    assert!(started.elapsed() < Duration::from_secs(5));
    let pid: u32 = std::fs::read_to_string(&pid_file).expect("pid file").trim().parse().expect("a pid");
    assert!(agent_support::wait_dead(pid), "background process {pid} survived");
}
