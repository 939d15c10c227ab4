//! Unit tests of the packet grammar: every quirk the seed accepts, every error.

use super::*;

const MINIMAL: &str = "MODE: worker
WORKDIR: /tmp/project
OBJECTIVE: Add a test.

WRITE SCOPE:
- tests/test_utils.py

NON-GOALS:
- Do not modify utils.py.

VERIFICATION:
- python -m pytest tests/test_utils.py -v

DELIVERABLE:
- A passing test.
";

fn with(field: &str, replacement: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in MINIMAL.lines() {
        if line.starts_with(field) {
            out.push(replacement.to_string());
            skipping = true;
            continue;
        }
        if skipping && (line.starts_with("- ") || line.is_empty()) && !line.is_empty() {
            continue;
        }
        skipping = false;
        out.push(line.to_string());
    }
    out.join("\n") + "\n"
}

#[test]
fn minimal_packet_parses() {
    let packet = parse(MINIMAL).expect("valid");
    assert_eq!(packet.mode, Mode::Worker);
    assert_eq!(packet.workdir_text, "/tmp/project");
    assert_eq!(packet.objective, "Add a test.");
    assert_eq!(packet.write_scope, vec!["tests/test_utils.py"]);
    assert_eq!(packet.non_goals, vec!["Do not modify utils.py."]);
    assert_eq!(packet.verification, vec!["python -m pytest tests/test_utils.py -v"]);
    assert_eq!(packet.deliverable, "- A passing test.");
    assert!(!packet.allow_dirty_overlap);
    assert_eq!(packet.agent, None);
}

#[test]
fn crlf_packet_parses_the_same() {
    let crlf = MINIMAL.replace('\n', "\r\n");
    let packet = parse(&crlf).expect("valid");
    assert_eq!(packet.write_scope, vec!["tests/test_utils.py"]);
    assert_eq!(packet.objective, "Add a test.");
    assert_eq!(packet.verification, vec!["python -m pytest tests/test_utils.py -v"]);
}

#[test]
fn parenthetical_after_write_scope_keeps_the_list() {
    // Seed bug 1: `WRITE SCOPE (repo-relative):` was not a header, so the list was lost.
    let text = with("WRITE SCOPE:", "WRITE SCOPE (repo-relative):\n- src/a.py\n- src/b/");
    assert_eq!(parse(&text).expect("valid").write_scope, vec!["src/a.py", "src/b/"]);
}

#[test]
fn per_line_annotations_are_comments() {
    // Seed bug 2: `src/a.py (NEW)` was kept verbatim and matched no path.
    let text = with(
        "WRITE SCOPE:",
        "WRITE SCOPE:\n- src/a.py (NEW)\n- src/b.py (MODIFY)\n- src/c.py (NEW, optional)\n- `docs/read me.txt`\n- src/d.py (new) (optional)",
    );
    assert_eq!(
        parse(&text).expect("valid").write_scope,
        vec!["src/a.py", "src/b.py", "src/c.py", "docs/read me.txt", "src/d.py"]
    );
}

#[test]
fn empty_scope_words() {
    for word in ["none", "None", "read-only", "readonly", "no writes", "NO WRITES"] {
        let with = |old: &str, new: &str| with(old, new).replace("MODE: worker", "MODE: reviewer");
        let bullet = with("WRITE SCOPE:", &format!("WRITE SCOPE:\n- {word}"));
        assert!(parse(&bullet).expect(word).write_scope.is_empty(), "{word}");
        let inline = with("WRITE SCOPE:", &format!("WRITE SCOPE: {word}"));
        assert!(parse(&inline).expect(word).write_scope.is_empty(), "{word}");
    }
}

#[test]
fn values_on_the_key_line_and_as_bullets() {
    let text = with("WRITE SCOPE:", "WRITE SCOPE: src/a.py, src/{b,c}.py\n- tests/");
    assert_eq!(parse(&text).expect("valid").write_scope, vec!["src/a.py", "src/{b,c}.py", "tests/"]);
    let text = MINIMAL.replace("MODE: worker", "MODE:\n- Verifier").replace("- tests/test_utils.py", "- none");
    assert_eq!(parse(&text).expect("valid").mode, Mode::Verifier);
}

#[test]
fn other_bullet_styles_and_comments() {
    let text = with("VERIFICATION:", "VERIFICATION:\n* cargo test\n+ cargo clippy\n1. make lint\n2) make docs\n# a comment\n<!-- note -->\n\nplain command");
    assert_eq!(
        parse(&text).expect("valid").verification,
        vec!["cargo test", "cargo clippy", "make lint", "make docs", "plain command"]
    );
}

#[test]
fn headers_as_markdown_headings_or_bold() {
    let text = MINIMAL
        .replace("MODE: worker", "## MODE: worker")
        .replace("OBJECTIVE: Add a test.", "**OBJECTIVE:** Add a test.");
    let packet = parse(&text).expect("valid");
    assert_eq!(packet.mode, Mode::Worker);
    assert_eq!(packet.objective, "Add a test.");
}

#[test]
fn key_spellings_are_one_field() {
    let text = MINIMAL.replace("NON-GOALS:", "NON_GOALS:");
    assert_eq!(parse(&text).expect("valid").non_goals, vec!["Do not modify utils.py."]);
    let text = MINIMAL.replace("NON-GOALS:", "NON GOALS:");
    assert_eq!(parse(&text).expect("valid").non_goals, vec!["Do not modify utils.py."]);
}

#[test]
fn multi_line_objective_and_unknown_headers() {
    let text = MINIMAL.replace(
        "OBJECTIVE: Add a test.",
        "OBJECTIVE: Add a test.\nCover the empty string.\nNOTE: ignored field\nstill the note",
    );
    let packet = parse(&text).expect("valid");
    assert_eq!(packet.objective, "Add a test.\nCover the empty string.");
}

#[test]
fn optional_fields() {
    let text = format!(
        "{MINIMAL}\nCONTEXT:\nThe utils module is old.\n\nALLOW DIRTY OVERLAP: true\nAGENT: claude\nBASE: main~1\nSETUP:\n- pip install -e .\nTIMEOUT SEC: 60\nHEARTBEAT SEC (seconds): 10\nWRITABLE:\n- ~/.cache/pip\nREADABLE:\n- ~/.ssh/known_hosts\nALLOW: symlink, exec-bit, automation\nMAX FILE SIZE: 2G\nNETWORK: Strict\nALLOW HOSTS: pypi.org, *.pythonhosted.org\n"
    );
    let packet = parse(&text).expect("valid");
    assert_eq!(packet.context.as_deref(), Some("The utils module is old."));
    assert!(packet.allow_dirty_overlap);
    assert_eq!(packet.agent, Some(AgentKind::Claude));
    assert_eq!(packet.base.as_deref(), Some("main~1"));
    assert_eq!(packet.setup, vec!["pip install -e ."]);
    assert_eq!(packet.timeout_sec, Some(60));
    assert_eq!(packet.heartbeat_sec, Some(10));
    assert_eq!(packet.writable, vec!["~/.cache/pip"]);
    assert_eq!(packet.readable, vec!["~/.ssh/known_hosts"]);
    assert_eq!(packet.allow, vec!["symlink", "exec-bit", "automation"]);
    assert_eq!(packet.max_file_size, Some(2 << 30));
    assert_eq!(packet.network, Some(crate::egress::NetworkChoice::Strict));
    assert_eq!(packet.allow_hosts, vec!["pypi.org", "*.pythonhosted.org"]);
    let listed =
        parse(&format!("{MINIMAL}ALLOW HOSTS:\n- 127.0.0.1:8080\n- [::1]:9000 (local model)\n")).expect("valid");
    assert_eq!(listed.allow_hosts, vec!["127.0.0.1:8080", "[::1]:9000"]);
}

#[test]
fn missing_required_fields_are_named() {
    for field in ["MODE", "WORKDIR", "OBJECTIVE", "WRITE SCOPE", "NON-GOALS", "VERIFICATION", "DELIVERABLE"] {
        let text: String =
            MINIMAL.lines().filter(|line| !line.starts_with(field)).map(|line| format!("{line}\n")).collect();
        let err = parse(&text).expect_err(field);
        assert_eq!(err, PacketError::Missing { field: canonical_field(field).expect("known") }, "{field}");
        assert!(err.to_string().contains(field));
    }
}

#[test]
fn errors_name_field_and_line() {
    let cases: Vec<(String, &str)> = vec![
        (MINIMAL.replace("MODE: worker", "MODE: builder"), "line 1: MODE: unknown mode `builder`"),
        (MINIMAL.replace("MODE: worker", "MODE:"), "line 1: field MODE is empty"),
        (MINIMAL.replace("OBJECTIVE: Add a test.", "OBJECTIVE:"), "line 3: field OBJECTIVE is empty"),
        (with("WRITE SCOPE:", "WRITE SCOPE:"), "line 5: field WRITE SCOPE is empty"),
        (
            with("WRITE SCOPE:", "WRITE SCOPE:\n- src/\n- /etc/passwd"),
            "line 7: WRITE SCOPE: `/etc/passwd` is an absolute path",
        ),
        (with("WRITE SCOPE:", "WRITE SCOPE:\n- ../x"), "line 6: WRITE SCOPE: `../x` contains `..`"),
        (with("WRITE SCOPE:", "WRITE SCOPE:\n- src/[a"), "line 6: WRITE SCOPE: `src/[a` is not a valid glob"),
        (with("WRITE SCOPE:", "WRITE SCOPE:\n- none\n- src/"), "line 6: WRITE SCOPE: `none` cannot be combined"),
        (with("NON-GOALS:", "NON-GOALS:"), "field NON-GOALS is empty"),
        (format!("{MINIMAL}MODE: reviewer\n"), "line 16: field MODE is given twice (first on line 1)"),
        (format!("{MINIMAL}AGENT: gemini\n"), "line 16: AGENT: unknown agent `gemini`"),
        (format!("{MINIMAL}TIMEOUT SEC: soon\n"), "line 16: TIMEOUT SEC: `soon` is not a positive number"),
        (
            format!("{MINIMAL}ALLOW DIRTY OVERLAP: maybe\n"),
            "line 16: ALLOW DIRTY OVERLAP: `maybe` is not true or false",
        ),
        (format!("{MINIMAL}ALLOW: everything\n"), "line 16: ALLOW: unknown kind `everything`"),
        (format!("{MINIMAL}MAX FILE SIZE: huge\n"), "line 16: MAX FILE SIZE: `huge` is not a size"),
        (format!("{MINIMAL}NETWORK: open\n"), "line 16: NETWORK: unknown network mode `open`"),
        (
            format!("{MINIMAL}ALLOW HOSTS:\n- ok.example\n- bad host:1\n"),
            "line 18: ALLOW HOSTS: `bad host:1` is not a host name or address",
        ),
        (
            format!("{MINIMAL}ALLOW HOSTS: x.example:99999\n"),
            "line 16: ALLOW HOSTS: `x.example:99999`: `99999` is not a port",
        ),
        (MINIMAL.replace("WORKDIR: /tmp/project", "WORKDIR:\n- /a\n- /b"), "line 4: WORKDIR: expected one value"),
    ];
    for (text, expected) in cases {
        let err = parse(&text).expect_err(expected).to_string();
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
    }
}

#[test]
fn mode_read_only() {
    assert!(!Mode::Worker.is_read_only());
    for mode in [Mode::Verifier, Mode::Reviewer, Mode::Synthesizer] {
        assert!(mode.is_read_only());
    }
    assert_eq!(Mode::parse(" REVIEWER "), Some(Mode::Reviewer));
}

#[test]
fn header_recognition() {
    assert_eq!(header("WRITE SCOPE (repo-relative): x"), Some(("WRITE SCOPE".into(), "x".into())));
    assert_eq!(header("Note: lower case is text"), None);
    assert_eq!(header("- MODE: bullet is text"), None);
    assert_eq!(header("**MODE:** worker"), Some(("MODE".into(), "worker".into())));
    assert_eq!(header("### DELIVERABLE:"), Some(("DELIVERABLE".into(), String::new())));
    assert_eq!(header("URL http://x"), None);
}

#[test]
fn near_misses_of_known_fields_are_warnings() {
    let text = format!("{MINIMAL}\nTIMEOUT: 60\nNON-GOALZ:\n- x\nNOTES:\n- free text\nCONTEX: more\n");
    let packet = parse(&text).expect("still a packet");
    assert_eq!(
        packet.warnings,
        vec![
            "line 17: unknown field `TIMEOUT` is ignored; did you mean `TIMEOUT SEC`?".to_string(),
            "line 18: unknown field `NON-GOALZ` is ignored; did you mean `NON-GOALS`?".to_string(),
            "line 22: unknown field `CONTEX` is ignored; did you mean `CONTEXT`?".to_string(),
        ]
    );
    assert!(parse(MINIMAL).expect("minimal").warnings.is_empty());
}

#[test]
fn a_worker_with_an_empty_scope_is_an_error() {
    let text = MINIMAL.replace("- tests/test_utils.py", "- none");
    let err = parse(&text).expect_err("a worker that may write nothing");
    assert!(err.to_string().starts_with("line 5: WRITE SCOPE: a worker must be allowed to write something"), "{err}");
    assert!(parse(&text.replace("MODE: worker", "MODE: reviewer")).is_ok());
}
