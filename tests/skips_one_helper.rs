//! Tests that skip go through one helper (tests/support/skip.rs), which makes a skip under `CI=true`
//! a failure unless tests/ci-allowed-skips.txt allows it: no test prints its own `SKIPPED` line.
//! (The real agent CLIs' finder in support/real_cli.rs fails under CI=true by itself.)

use std::path::Path;

#[path = "support/sources.rs"]
mod sources;
use sources::rust_files;

#[test]
fn no_test_prints_its_own_skip() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = Vec::new();
    rust_files(&tests, &mut files);
    let allowed = [tests.join("support/skip.rs"), tests.join("support/real_cli.rs"), tests.join("skips_one_helper.rs")];
    let offenders: Vec<String> = files
        .iter()
        .filter(|file| !allowed.contains(file))
        .filter(|file| {
            let text = std::fs::read_to_string(file).expect("test file");
            text.lines().any(|line| line.contains("println!(\"SKIPPED"))
        })
        .map(|file| file.strip_prefix(&tests).expect("under tests").display().to_string())
        .collect();
    assert_eq!(offenders, Vec::<String>::new(), "skip through support::skip::skip");
}
