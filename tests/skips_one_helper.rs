//! Tests that skip go through one helper (tests/support/skip.rs), which makes a skip under `CI=true`
//! a failure unless tests/ci-allowed-skips.txt allows it: no test prints its own `SKIPPED` line.
//! (The real agent CLIs' finder in support/real_cli.rs fails under CI=true by itself.)

#[path = "support/sources.rs"]
mod sources;
use sources::sources;

#[test]
fn no_test_prints_its_own_skip() {
    let allowed = ["support/skip.rs", "support/real_cli.rs", "skips_one_helper.rs"];
    let offenders: Vec<String> = sources("tests")
        .into_iter()
        .filter(|(rela, _)| !allowed.contains(&rela.as_str()))
        .filter(|(_, text)| text.lines().any(|line| line.contains("println!(\"SKIPPED")))
        .map(|(rela, _)| rela)
        .collect();
    assert_eq!(offenders, Vec::<String>::new(), "skip through support::skip::skip");
}
