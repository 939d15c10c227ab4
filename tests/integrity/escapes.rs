//! Issue 19 item 1: terminal escapes from the agent (a file name, file content, its summary and
//! risks) and from a run folder (a forged verdict) reach no terminal raw: `review` (plain and
//! coloured), `show`, `list`, `result.md` and error messages show them as `\x1b`; a path with a
//! control character is a `control-char` change, never allowed.

use serde_json::json;

use crate::common::{dispatched, id_of, sensitive};
use crate::support::cli::{run, stderr, stdout};
use crate::support::fixtures::fixture;

const NAME: &str = "tests/\u{1b}]0;pwned\u{7}.txt";
const SUMMARY: &str = "Done.\u{1b}[2J\u{1b}]52;c;ZXZpbA==\u{7} All good.\nSecond line.";

/// No ESC (or BEL, or C1 CSI) left once our own colour codes are taken out.
fn assert_no_raw_escape(what: &str, text: &str) {
    let mut plain = text.to_string();
    for code in ["\u{1b}[1m", "\u{1b}[31m", "\u{1b}[32m", "\u{1b}[36m", "\u{1b}[0m"] {
        plain = plain.replace(code, "");
    }
    for raw in ['\u{1b}', '\u{7}', '\u{9b}'] {
        assert!(!plain.contains(raw), "{what} carries a raw {raw:?}: {plain:?}");
    }
}

#[test]
fn escapes_from_the_agent_are_shown_not_sent() {
    let fx = fixture("python-project");
    let plan = json!([
        {"step": "write", "path": NAME, "content": "x\n"},
        {"step": "write", "path": "tests/content.txt", "content": "\u{1b}]52;c;ZXZpbA==\u{7}\n"},
        {"step": "result", "value": {"result": "done", "summary": SUMMARY, "changed_files": [NAME, "tests/content.txt"],
            "verification_run": [], "evidence": ["\u{1b}[1Abold claim"], "findings": [], "risks": ["\u{9b}2J risk"], "next": []}},
    ]);
    let (run_dir, policy) = dispatched(&fx, "", &plan, &[], 3);
    let found = sensitive(&policy);
    assert!(found.contains(&(NAME.to_string(), "control-char".to_string(), false)), "{found:?}");

    let result_md = std::fs::read_to_string(run_dir.join("result.md")).expect("result.md");
    assert_no_raw_escape("result.md", &result_md);
    assert!(result_md.contains("Done.\\x1b[2J\\x1b]52;c;ZXZpbA==\\x07 All good.\nSecond line."), "{result_md}");
    assert!(result_md.contains("tests/\\x1b]0;pwned\\x07.txt"), "{result_md}");
    assert!(result_md.contains("\\u{9b}2J risk"), "{result_md}");

    let id = id_of(&run_dir);
    for args in [vec!["review", &id], vec!["review", "--color", "always", &id], vec!["show", &id], vec!["list"]] {
        let output = run(&fx, &args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert_no_raw_escape(&format!("{args:?}"), &stdout(&output));
    }
    let review = stdout(&run(&fx, &["review", &id]));
    assert!(review.contains("+\\x1b]52;c;ZXZpbA==\\x07"), "the patch line is shown escaped: {review}");
    assert!(stdout(&run(&fx, &["show", &id])).contains("tests/\\x1b]0;pwned\\x07.txt"));

    // A run folder whose verdict an agent forged, and an error naming what the user typed.
    let forged = run_dir.parent().expect("runs").join("20990101-000000-worker-forged");
    std::fs::create_dir_all(&forged).expect("forged");
    std::fs::write(
        forged.join("policy.json"),
        "{\"mode\": \"\\u001b[2Jworker\", \"messages\": [\"\\u001b]0;x\\u0007\"]}",
    )
    .expect("forged policy");
    for args in [vec!["list"], vec!["show", "20990101"], vec!["review", "20990101"]] {
        let output = run(&fx, &args);
        assert_no_raw_escape(&format!("{args:?}"), &stdout(&output));
    }
    assert!(stdout(&run(&fx, &["list"])).contains("\\x1b[2Jworker"));
    let error = run(&fx, &["show", "\u{1b}[2Jnope"]);
    assert_eq!(error.status.code(), Some(1));
    assert_no_raw_escape("an error", &stderr(&error));
    assert!(stderr(&error).contains("\\x1b[2Jnope"), "{}", stderr(&error));
}
