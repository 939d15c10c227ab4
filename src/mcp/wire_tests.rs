//! Unit tests of the stdio transport's reading side: lines, their limit, and the answer to each
//! kind of bad line.

use serde_json::{json, Value};

use super::*;

fn lines(input: &[u8], max: usize) -> Vec<Line> {
    let mut reader = LineReader::new(input, max);
    let mut found = Vec::new();
    while let Some(line) = reader.next_line().expect("reads") {
        found.push(line);
    }
    found
}

fn reply_of(line: &[u8]) -> Value {
    match classify(Line::Whole(line.to_vec())) {
        Incoming::Reply(bytes) => serde_json::from_slice(&bytes).expect("a JSON reply"),
        other => panic!("expected a reply to {}, got {other:?}", String::from_utf8_lossy(line)),
    }
}

#[test]
fn lines_are_split_and_a_last_line_without_newline_counts() {
    let found = lines(b"{\"a\":1}\n\n{\"b\":2}", 100);
    assert_eq!(
        found,
        vec![Line::Whole(b"{\"a\":1}".to_vec()), Line::Whole(Vec::new()), Line::Whole(b"{\"b\":2}".to_vec())]
    );
    assert!(lines(b"", 100).is_empty());
}

#[test]
fn a_line_over_the_limit_is_skipped_with_its_id_and_the_next_line_is_read() {
    let mut input = br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"packet":""#.to_vec();
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend_from_slice(b"\"}}\n{\"next\":true}\n");
    let found = lines(&input, 1000);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0], Line::TooLong { bytes: input.len() - b"{\"next\":true}\n".len() - 1, id: Some(json!(5)) });
    assert_eq!(found[1], Line::Whole(b"{\"next\":true}".to_vec()));
}

#[test]
fn too_long_is_an_invalid_request_naming_the_id() {
    let Incoming::Reply(bytes) = classify(Line::TooLong { bytes: 50_000_000, id: Some(json!("r1")) }) else {
        panic!("a reply");
    };
    let reply: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!((reply["id"].clone(), reply["error"]["code"].clone()), (json!("r1"), json!(-32600)));
    assert!(reply["error"]["message"].as_str().expect("message").contains("50000000 bytes"));
    assert!(bytes.ends_with(b"\n"));
}

#[test]
fn not_json_is_a_parse_error_with_a_null_id() {
    let reply = reply_of(b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    assert_eq!((reply["id"].clone(), reply["error"]["code"].clone()), (Value::Null, json!(-32700)));
    assert_eq!(reply_of(b"hello")["error"]["code"], json!(-32700));
}

#[test]
fn json_that_is_no_message_is_an_invalid_request() {
    let reply = reply_of(br#"{"jsonrpc":"2.0","id":3}"#);
    assert_eq!((reply["id"].clone(), reply["error"]["code"].clone()), (json!(3), json!(-32600)));
    assert_eq!(reply_of(b"[1,2,3]")["error"]["code"], json!(-32600));
    assert_eq!(reply_of(b"42")["id"], Value::Null);
}

#[test]
fn messages_pass_and_blank_lines_and_unknown_notifications_are_ignored() {
    let request = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    assert!(matches!(classify(Line::Whole(request.to_vec())), Incoming::Message(_)));
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), request].concat();
    assert!(matches!(classify(Line::Whole(with_bom)), Incoming::Message(_)));
    assert!(matches!(classify(Line::Whole(b"  \r".to_vec())), Incoming::Ignore));
    let odd = br#"{"jsonrpc":"2.0","method":"notifications/whatever","params":5}"#;
    assert!(matches!(classify(Line::Whole(odd.to_vec())), Incoming::Ignore | Incoming::Message(_)));
}
