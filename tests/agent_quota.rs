//! The quota gate against a tiny HTTP server on 127.0.0.1: under, over, a garbage answer, an
//! HTTP error, an unreachable endpoint, a server that never answers, and a missing login.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use git_dispatch::agent::quota::{check_quota_with, QuotaSource, QuotaVerdict};

/// Serves one request with `status` and `body`; sends the request head back to the test.
fn serve_once(status: &str, body: &str) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("http://{}/backend-api/wham/usage", listener.local_addr().expect("addr"));
    let (sender, receiver) = mpsc::channel();
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let _ = sender.send(head);
        let mut stream = stream;
        let _ = stream.write_all(response.as_bytes());
    });
    (url, receiver)
}

fn auth_file(token: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("auth.json");
    let auth = serde_json::json!({"OPENAI_API_KEY": null, "tokens": {"access_token": token}});
    std::fs::write(&path, auth.to_string()).expect("auth.json");
    (dir, path)
}

fn source(auth: PathBuf, url: String) -> QuotaSource {
    QuotaSource { auth_file: Some(auth), url, timeout: Duration::from_secs(5) }
}

fn skipped_reason(verdict: QuotaVerdict) -> String {
    match verdict {
        QuotaVerdict::Skipped { reason, .. } => reason,
        other => panic!("not skipped: {other:?}"),
    }
}

#[test]
fn under_the_gate_goes_on_and_sends_the_bearer_token() {
    let (_home, auth) = auth_file("tok-123");
    let body = r#"{"plan_type":"plus","rate_limit":{"primary_window":{"used_percent":42,"reset_after_seconds":600}}}"#;
    let (url, request) = serve_once("200 OK", body);
    let verdict = check_quota_with(85.0, &source(auth, url));
    assert_eq!(verdict, QuotaVerdict::Under { used_percent: 42.0 });
    let head = request.recv().expect("the server saw a request");
    assert!(head.starts_with("GET /backend-api/wham/usage HTTP/1.1\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains("authorization: bearer tok-123\r\n"), "{head}");
}

#[test]
fn at_or_over_the_gate_is_over_with_the_reset_time() {
    let (_home, auth) = auth_file("tok");
    let body = r#"{"rate_limit":{"primary_window":{"used_percent":85.0,"reset_after_seconds":3900}}}"#;
    let (url, _request) = serve_once("200 OK", body);
    let verdict = check_quota_with(85.0, &source(auth, url));
    assert_eq!(verdict, QuotaVerdict::Over { used_percent: 85.0, reset_after_seconds: Some(3900) });
    assert_eq!(
        verdict.message(85.0),
        "Codex 5h window at 85% (>= 85% gate); reset in 1h 05m. Use --force to override."
    );
}

#[test]
fn a_garbage_answer_skips_the_gate() {
    let (_home, auth) = auth_file("tok");
    let (url, _request) = serve_once("200 OK", "<html>sign in</html>");
    let reason = skipped_reason(check_quota_with(85.0, &source(auth, url)));
    assert!(reason.starts_with("the usage answer is not JSON"), "{reason}");
}

#[test]
fn an_answer_without_the_window_skips_the_gate() {
    let (_home, auth) = auth_file("tok");
    let (url, _request) = serve_once("200 OK", r#"{"rate_limit":null}"#);
    let reason = skipped_reason(check_quota_with(85.0, &source(auth, url)));
    assert_eq!(reason, "the usage answer has no rate_limit.primary_window.used_percent");
}

#[test]
fn an_http_error_skips_the_gate() {
    let (_home, auth) = auth_file("tok");
    let (url, _request) = serve_once("401 Unauthorized", "{}");
    let reason = skipped_reason(check_quota_with(85.0, &source(auth, url.clone())));
    assert!(reason.starts_with(&format!("asking {url}")), "{reason}");
    assert!(reason.contains("401"), "{reason}");
}

#[test]
fn an_unreachable_endpoint_skips_the_gate() {
    let (_home, auth) = auth_file("tok");
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}/usage");
    let verdict = check_quota_with(85.0, &source(auth, url.clone()));
    assert!(skipped_reason(verdict).starts_with(&format!("asking {url}")));
}

#[test]
fn a_server_that_never_answers_is_given_up_on() {
    let (_home, auth) = auth_file("tok");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/usage", listener.local_addr().expect("addr"));
    let mut silent = source(auth, url);
    silent.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let verdict = check_quota_with(85.0, &silent);
    assert!(matches!(verdict, QuotaVerdict::Skipped { .. }), "{verdict:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    drop(listener);
}

#[test]
fn no_login_skips_the_gate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("auth.json");
    let verdict = check_quota_with(85.0, &source(missing.clone(), "http://127.0.0.1:9/".into()));
    let reason = skipped_reason(verdict);
    assert!(reason.starts_with(&format!("reading {}", missing.display())), "{reason}");

    std::fs::write(&missing, r#"{"OPENAI_API_KEY":"sk-x"}"#).expect("auth.json");
    let verdict = check_quota_with(85.0, &source(missing.clone(), "http://127.0.0.1:9/".into()));
    assert_eq!(skipped_reason(verdict), format!("{} has no tokens.access_token", missing.display()));
}

#[test]
fn a_gate_of_zero_is_off() {
    let verdict = check_quota_with(0.0, &source("/nonexistent".into(), String::new()));
    assert_eq!(skipped_reason(verdict), "the gate is off (0%)");
}

#[test]
fn the_environment_chooses_the_files_and_endpoint() {
    // The only test here that reads the process environment (so no other test races it).
    let (home, _auth) = auth_file("tok");
    std::env::set_var("CODEX_HOME", home.path());
    std::env::set_var("GIT_DISPATCH_USAGE_URL", "http://127.0.0.1:1/usage");
    let from_env = QuotaSource::from_env();
    assert_eq!(from_env.auth_file, Some(home.path().join("auth.json")));
    assert_eq!(from_env.url, "http://127.0.0.1:1/usage");
    assert_eq!(from_env.timeout, Duration::from_secs(5));
    std::env::remove_var("GIT_DISPATCH_USAGE_URL");
    assert_eq!(QuotaSource::from_env().url, "https://chatgpt.com/backend-api/wham/usage");
}
