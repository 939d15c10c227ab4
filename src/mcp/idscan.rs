//! Finding the `id` of a JSON-RPC message that is too long to keep: a byte-at-a-time scanner of
//! JSON that keeps only its nesting, whether it is inside a string, the last top-level key and the
//! bytes of the top-level `id` value (a few hundred at most), so that the error answering the
//! message can name the request it refuses. It does not validate the JSON.

use serde_json::Value;

/// The most bytes kept of a key or of the id's value.
const KEEP: usize = 256;

/// The scanner's state across chunks.
#[derive(Debug, Default)]
pub struct IdScanner {
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// At depth 1, the next string is a key.
    expect_key: bool,
    /// Collecting the current top-level key.
    in_key: bool,
    key: Vec<u8>,
    /// Collecting the top-level `id` value.
    in_id: bool,
    value: Vec<u8>,
    id: Option<Vec<u8>>,
}

impl IdScanner {
    /// Scans the next bytes of the message.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.step(byte);
        }
    }

    /// The top-level `id` when one was seen and is a number or a string.
    pub fn id(&self) -> Option<Value> {
        let raw = self.id.as_ref()?;
        let value: Value = serde_json::from_slice(raw.trim_ascii()).ok()?;
        (value.is_i64() || value.is_string()).then_some(value)
    }

    fn step(&mut self, byte: u8) {
        if self.in_id {
            self.keep_id_byte(byte);
        }
        if self.in_string {
            self.string_byte(byte);
            return;
        }
        match byte {
            b'"' => {
                self.in_string = true;
                self.in_key = self.depth == 1 && self.expect_key;
                if self.in_key {
                    self.key.clear();
                }
            }
            b'{' | b'[' => {
                self.depth += 1;
                self.expect_key = self.depth == 1 && byte == b'{';
            }
            b'}' | b']' => {
                if self.depth == 1 {
                    self.end_id();
                }
                self.depth = self.depth.saturating_sub(1);
            }
            b':' if self.depth == 1 => {
                self.in_id = self.key == b"id" && self.id.is_none();
                self.value.clear();
            }
            b',' if self.depth == 1 => {
                self.end_id();
                self.expect_key = true;
            }
            _ => {}
        }
    }

    fn string_byte(&mut self, byte: u8) {
        if self.escaped {
            self.escaped = false;
        } else if byte == b'\\' {
            self.escaped = true;
        } else if byte == b'"' {
            self.in_string = false;
            if self.in_key {
                self.in_key = false;
                self.expect_key = false;
            }
            return;
        }
        if self.in_key && self.key.len() < KEEP {
            self.key.push(byte);
        }
    }

    fn keep_id_byte(&mut self, byte: u8) {
        let ends = !self.in_string && self.depth == 1 && matches!(byte, b',' | b'}');
        if !ends && self.value.len() < KEEP {
            self.value.push(byte);
        }
    }

    fn end_id(&mut self) {
        if self.in_id {
            self.in_id = false;
            self.id = Some(std::mem::take(&mut self.value));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn id_of(text: &str) -> Option<Value> {
        let mut scanner = IdScanner::default();
        for chunk in text.as_bytes().chunks(3) {
            scanner.feed(chunk);
        }
        scanner.id()
    }

    #[test]
    fn finds_the_top_level_id_before_or_after_the_params() {
        assert_eq!(id_of(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"x":"y"}}"#), Some(json!(7)));
        assert_eq!(id_of(r#"{"method":"m","params":{"id":1,"a":[{"id":2}]},"id":"abc"}"#), Some(json!("abc")));
        assert_eq!(id_of(r#"{ "id" : 42 , "method": "x"}"#), Some(json!(42)));
        assert_eq!(id_of(r#"{"method":"m","id":9}"#), Some(json!(9)));
    }

    #[test]
    fn ignores_ids_inside_strings_and_nested_values() {
        assert_eq!(id_of(r#"{"method":"m","params":{"text":"\"id\":5, \\"}}"#), None);
        assert_eq!(id_of(r#"{"params":{"id":3},"note":"id"}"#), None);
        assert_eq!(id_of(r#"{"idx":1,"params":[1,2]}"#), None);
        assert_eq!(id_of(r#"{"id":{"nested":1}}"#), None);
        assert_eq!(id_of(r#"{"id":null}"#), None);
        assert_eq!(id_of("not json at all"), None);
    }

    #[test]
    fn a_huge_value_keeps_memory_bounded() {
        let mut scanner = IdScanner::default();
        scanner.feed(br#"{"jsonrpc":"2.0","method":"tools/call","params":{"arguments":{"packet":""#);
        let filler = vec![b'x'; 1 << 20];
        for _ in 0..8 {
            scanner.feed(&filler);
        }
        scanner.feed(br#""}},"id":12}"#);
        assert_eq!(scanner.id(), Some(json!(12)));
        assert!(scanner.key.capacity() <= 1024 && scanner.value.capacity() <= 1024);
    }
}
