//! Unit tests of the verdict: every violation, the claims check, offering.

use super::*;
use crate::changes::{Change, ChangeStatus};
use crate::packet::Mode;
use crate::scope::Scope;

fn change(path: &str, status: ChangeStatus) -> Change {
    Change { path: path.into(), status, old_path: None, mode_before: None, mode_after: None, lossy_path: false }
}

fn renamed(old: &str, new: &str) -> Change {
    Change { old_path: Some(old.into()), ..change(new, ChangeStatus::Renamed) }
}

fn ok_agent(claimed: &[&str]) -> AgentFacts {
    AgentFacts {
        exit_code: Some(0),
        claimed: Some(claimed.iter().map(|c| c.to_string()).collect()),
        ..AgentFacts::default()
    }
}

fn decide(mode: Mode, scope: &[&str], changes: &[Change], agent: AgentFacts) -> Verdict {
    let scope = Scope::compile(&scope.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("scope");
    let facts = Facts {
        mode,
        scope: &scope,
        workdir_in_repo: "",
        changes,
        agent,
        git_dir_tampered: vec![],
        objects_overwritten: vec![],
        main_checkout_changed: vec![],
        sensitive: vec![],
        verification_failed: None,
        network: None,
    };
    let mut verdict = Verdict::default();
    judge(&mut verdict, &facts);
    verdict
}

#[test]
fn clean_worker_is_offered() {
    let changes = [change("src/a.py", ChangeStatus::Modified)];
    let verdict = decide(Mode::Worker, &["src/"], &changes, ok_agent(&["src/a.py"]));
    assert!(!verdict.policy_violation);
    assert!(verdict.scope_ok && verdict.offered);
    assert_eq!(verdict.exit_code, 0);
    assert_eq!(verdict.changed_paths, vec!["src/a.py"]);
    assert_eq!(verdict.claims_mismatch, None);
    assert!(verdict.messages.is_empty(), "{:?}", verdict.messages);
}

#[test]
fn worker_without_changes_is_not_offered() {
    let verdict = decide(Mode::Worker, &["src/"], &[], ok_agent(&[]));
    assert!(!verdict.policy_violation && !verdict.offered);
    assert_eq!(verdict.exit_code, 0);
}

#[test]
fn out_of_scope_and_rename_halves() {
    let changes = [
        change("src/a.py", ChangeStatus::Modified),
        change("setup.py", ChangeStatus::Deleted),
        renamed("lib/x.py", "src/x.py"),
    ];
    let verdict = decide(Mode::Worker, &["src/"], &changes, ok_agent(&["src/a.py", "setup.py", "src/x.py"]));
    assert!(verdict.policy_violation && !verdict.scope_ok && !verdict.offered);
    assert_eq!(verdict.exit_code, 3);
    assert_eq!(verdict.out_of_scope_changes, vec!["setup.py", "lib/x.py -> src/x.py"]);
    assert_eq!(verdict.out_of_scope_removed, vec!["setup.py"]);
    assert!(verdict.messages.contains(&"POLICY VIOLATION: worker changed files outside WRITE SCOPE.".to_string()));
}

#[test]
fn read_only_mode_may_change_nothing() {
    let changes = [change("notes.md", ChangeStatus::Added)];
    for mode in [Mode::Verifier, Mode::Reviewer, Mode::Synthesizer] {
        let verdict = decide(mode, &[], &changes, ok_agent(&[]));
        assert!(verdict.policy_violation && !verdict.offered, "{mode}");
        assert_eq!(verdict.out_of_scope_changes, vec!["notes.md"]);
        assert!(verdict.messages.iter().any(|m| m == &format!("POLICY VIOLATION: {mode} mode changed working tree.")));
    }
    let clean = decide(Mode::Reviewer, &[], &[], ok_agent(&[]));
    assert!(!clean.policy_violation && !clean.offered);
}

#[test]
fn agent_failures_are_violations() {
    let changes = [change("src/a.py", ChangeStatus::Modified)];
    let killed = AgentFacts {
        watchdog_killed: true,
        watchdog_reason: Some("heartbeat: no output for 5s".into()),
        ..ok_agent(&["src/a.py"])
    };
    let verdict = decide(Mode::Worker, &["src/"], &changes, killed);
    assert!(verdict.policy_violation && verdict.watchdog_killed && !verdict.offered);
    assert!(verdict
        .messages
        .iter()
        .any(|m| m.starts_with("FAILED: heartbeat stall: the watchdog stopped the agent (heartbeat")));
    assert_eq!(outcome_label(&verdict), "failed: heartbeat stall");

    let nonzero = AgentFacts { exit_code: Some(1), ..ok_agent(&["src/a.py"]) };
    let verdict = decide(Mode::Worker, &["src/"], &changes, nonzero);
    assert_eq!(verdict.codex_exit_code, Some(1));
    assert!(verdict.messages.contains(&"FAILED: the agent exited non-zero: 1".to_string()));

    let no_result =
        AgentFacts { exit_code: Some(0), result_problem: Some("result.json is empty".into()), ..AgentFacts::default() };
    let verdict = decide(Mode::Worker, &["src/"], &changes, no_result);
    assert!(verdict.policy_violation && !verdict.structured_result_ok);
    assert!(verdict.messages.iter().any(|m| m.ends_with("no usable structured result: result.json is empty")));
    assert_eq!(verdict.claims_mismatch, None, "no claims without a result");

    let interrupted = AgentFacts { interrupted: true, exit_code: None, ..ok_agent(&[]) };
    let verdict = decide(Mode::Worker, &["src/"], &[], interrupted);
    assert!(verdict.policy_violation && verdict.interrupted);
}

#[test]
fn repository_guards_and_sensitive_changes() {
    let scope = Scope::compile(&["src/".to_string()]).expect("scope");
    let changes = [change("src/link", ChangeStatus::Added)];
    let sensitive = vec![SensitiveChange {
        path: "src/link".into(),
        kind: "symlink".into(),
        reason: "new symlink".into(),
        allowed: true,
    }];
    let mut facts = Facts {
        mode: Mode::Worker,
        scope: &scope,
        workdir_in_repo: "",
        changes: &changes,
        agent: ok_agent(&["src/link"]),
        git_dir_tampered: vec![],
        objects_overwritten: vec![],
        main_checkout_changed: vec![],
        sensitive,
        verification_failed: Some(false),
        network: None,
    };
    let mut verdict = Verdict::default();
    judge(&mut verdict, &facts);
    assert!(verdict.offered, "an allowed sensitive change is no violation");

    facts.sensitive[0].allowed = false;
    facts.git_dir_tampered = vec!["hooks/pre-commit".into()];
    facts.main_checkout_changed = vec!["README.md".into()];
    facts.verification_failed = Some(true);
    let mut verdict = Verdict::default();
    judge(&mut verdict, &facts);
    assert!(verdict.policy_violation && !verdict.offered && verdict.verification_failed);
    let joined = verdict.messages.join("\n");
    for needle in [
        "shared git directory was changed during the run (hooks/pre-commit)",
        "your checkout changed during the run (README.md)",
        "sensitive changes: src/link (symlink)",
        "verification failed",
    ] {
        assert!(joined.contains(needle), "{needle} in {joined}");
    }
}

#[test]
fn claims_mismatch_lists_both_sides() {
    let changes = [change("src/a.py", ChangeStatus::Modified), change("src/b.py", ChangeStatus::Added)];
    let verdict = decide(Mode::Worker, &["src/"], &changes, ok_agent(&["./src/a.py", "src/c.py"]));
    assert_eq!(
        verdict.claims_mismatch,
        Some(ClaimsMismatch {
            claimed_not_changed: vec!["src/c.py".into()],
            changed_not_claimed: vec!["src/b.py".into()]
        })
    );
    assert!(!verdict.policy_violation, "a mismatch is a warning");
    assert!(verdict.offered);
    assert!(verdict.messages[0].starts_with("WARNING"));
}

#[test]
fn claims_relative_to_a_workdir_subdirectory() {
    let scope = Scope::compile(&["src/".to_string()]).expect("scope").within("pkg");
    let changes = [change("pkg/src/a.py", ChangeStatus::Modified)];
    let facts = Facts {
        mode: Mode::Worker,
        scope: &scope,
        workdir_in_repo: "pkg",
        changes: &changes,
        agent: ok_agent(&["src/a.py"]),
        git_dir_tampered: vec![],
        objects_overwritten: vec![],
        main_checkout_changed: vec![],
        sensitive: vec![],
        verification_failed: None,
        network: None,
    };
    let mut verdict = Verdict::default();
    judge(&mut verdict, &facts);
    assert_eq!(verdict.claims_mismatch, None);
    assert!(verdict.offered);
}

#[test]
fn refused_connections_warn_or_with_strict_violate() {
    let scope = Scope::compile(&["src/".to_string()]).expect("scope");
    let changes = [change("src/a.py", ChangeStatus::Modified)];
    let network = crate::policy::NetworkFacts {
        strict: false,
        refused: 3,
        refused_targets: vec![("evil.example:443".to_string(), 2), ("127.0.0.1:9".to_string(), 1)],
    };
    let mut facts = Facts {
        mode: Mode::Worker,
        scope: &scope,
        workdir_in_repo: "",
        changes: &changes,
        agent: ok_agent(&["src/a.py"]),
        git_dir_tampered: vec![],
        objects_overwritten: vec![],
        main_checkout_changed: vec![],
        sensitive: vec![],
        verification_failed: None,
        network: Some(network),
    };
    let mut verdict = Verdict::default();
    judge(&mut verdict, &facts);
    assert!(verdict.offered, "a refused connection alone is no violation");
    assert_eq!(
        verdict.messages,
        ["WARNING: the network policy refused 3 connection attempts of the agent: evil.example:443 (2 times), \
          127.0.0.1:9 (see network.jsonl)."]
    );
    facts.network.as_mut().expect("network").strict = true;
    let mut verdict = Verdict::default();
    judge(&mut verdict, &facts);
    assert!(!verdict.offered && verdict.policy_violation);
    assert_eq!(verdict.exit_code, 3);
    assert!(
        verdict.messages[0].starts_with("POLICY VIOLATION: the network policy refused 3"),
        "{:?}",
        verdict.messages
    );
    facts.network = Some(crate::policy::NetworkFacts { strict: true, ..Default::default() });
    let mut verdict = Verdict::default();
    judge(&mut verdict, &facts);
    assert!(verdict.offered && verdict.messages.is_empty(), "nothing refused: nothing to say");
}
