//! The one place that decides whether a test may skip. A test that cannot run here (no Landlock,
//! no pty, no PowerShell, not root) calls [`skip`] with a key and the reason: it prints
//! `SKIPPED: <key>: <reason>` and returns, so the test can `return`. Under `CI=true` a skip is a
//! failure unless `tests/ci-allowed-skips.txt` lists its key for the pass that runs (the root pass,
//! or the non-root pass `.ci/run` makes with `GIT_DISPATCH_TEST_PASS=nonroot`), with the reason.

#![allow(dead_code)]

use std::path::Path;

/// The test pass `.ci/run` says this is: `root` (the default) or `nonroot`.
pub fn pass() -> String {
    std::env::var("GIT_DISPATCH_TEST_PASS").unwrap_or_else(|_| "root".to_string())
}

/// Whether the allow-list lets `key` skip in `pass`: a line `<key> <pass|any> <reason...>`.
pub fn allowed(list: &str, key: &str, pass: &str) -> bool {
    list.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).any(|line| {
        let mut fields = line.split_whitespace();
        let (listed_key, listed_pass) = (fields.next(), fields.next());
        let has_reason = fields.next().is_some();
        listed_key == Some(key) && has_reason && matches!(listed_pass, Some(p) if p == "any" || p == pass)
    })
}

/// Skips the calling test: says why on stderr; under `CI=true` panics unless the allow-list has
/// `key` for this pass.
pub fn skip(key: &str, reason: &str) {
    eprintln!("SKIPPED: {key}: {reason}");
    if std::env::var("CI").as_deref() != Ok("true") {
        return;
    }
    let list_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ci-allowed-skips.txt");
    let list = std::fs::read_to_string(&list_path).unwrap_or_default();
    let pass = pass();
    assert!(
        allowed(&list, key, &pass),
        "CI=true: the test skipped ({key}: {reason}) and {} does not allow `{key}` in the {pass} pass",
        list_path.display()
    );
}

/// True when this process runs as root; otherwise skips with the key `not-root`.
pub fn require_root(what: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        skip("not-root", &format!("{what} needs root"));
    }
    root
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn the_allow_list_names_key_pass_and_reason() {
        let list = "# comment\npowershell any no pwsh here\nnot-root nonroot the root cases\nbare root\n";
        assert!(allowed(list, "powershell", "root"));
        assert!(allowed(list, "not-root", "nonroot"));
        assert!(!allowed(list, "not-root", "root"), "root-only skips fail in the root pass");
        assert!(!allowed(list, "bare", "root"), "a line without a reason allows nothing");
        assert!(!allowed(list, "landlock", "root"));
    }
}
