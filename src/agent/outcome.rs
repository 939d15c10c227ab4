//! Judging what an agent gave as its result, and the `blocked` record written in its place.

use serde_json::{json, Value};

use super::StructuredResult;

/// A judged result and the raw text to keep beside it (`result.raw.txt`) when it was unusable.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Judged {
    pub(crate) result: StructuredResult,
    pub(crate) raw: Option<Vec<u8>>,
}

impl Judged {
    pub(crate) fn blocked(reason: impl Into<String>, raw: Option<Vec<u8>>) -> Judged {
        Judged { result: StructuredResult::Blocked { reason: reason.into() }, raw }
    }

    /// The result text was empty (or only whitespace).
    pub(crate) fn is_empty(&self) -> bool {
        matches!(&self.result, StructuredResult::Blocked { reason } if reason == EMPTY_RESULT)
    }
}

/// The reason given for an empty result text.
pub(crate) const EMPTY_RESULT: &str = "the agent's result is empty";

/// Judges a result given as text: it must be a JSON object.
pub(crate) fn judge_result_text(bytes: &[u8]) -> Judged {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Judged::blocked(EMPTY_RESULT, None);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => judge_value(value),
        Err(error) => Judged::blocked(format!("the agent's result is not JSON ({error})"), Some(bytes.to_vec())),
    }
}

/// Judges a result given as JSON: it must be an object.
pub(crate) fn judge_value(value: Value) -> Judged {
    match value {
        Value::Object(_) => Judged { result: StructuredResult::Valid(value), raw: None },
        Value::Null => Judged::blocked("the agent's result is null", None),
        other => Judged::blocked("the agent's result is not a JSON object", Some(other.to_string().into_bytes())),
    }
}

/// The `result.json` written when the agent gave no usable result: every field of the result
/// schema, `"result": "blocked"` and the reason as summary.
pub fn blocked_record(reason: &str) -> Value {
    json!({
        "result": "blocked",
        "summary": reason,
        "changed_files": [],
        "verification_run": [],
        "evidence": [],
        "findings": [],
        "risks": [],
        "next": "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(judged: &Judged) -> &str {
        match &judged.result {
            StructuredResult::Blocked { reason } => reason,
            StructuredResult::Valid(value) => panic!("unexpectedly valid: {value}"),
        }
    }

    #[test]
    fn an_object_is_valid() {
        let judged = judge_result_text(br#"{"result":"done"}"#);
        assert_eq!(judged.result, StructuredResult::Valid(json!({"result": "done"})));
        assert_eq!(judged.raw, None);
    }

    #[test]
    fn empty_text_is_blocked() {
        let judged = judge_result_text(b" \n");
        assert_eq!(reason(&judged), "the agent's result is empty");
        assert_eq!(judged.raw, None);
    }

    #[test]
    fn prose_is_blocked_and_kept() {
        let judged = judge_result_text(b"All done!");
        assert_eq!(reason(&judged), "the agent's result is not JSON (expected value at line 1 column 1)");
        assert_eq!(judged.raw.as_deref(), Some(&b"All done!"[..]));
    }

    #[test]
    fn null_and_scalars_are_blocked() {
        assert_eq!(reason(&judge_result_text(b"null")), "the agent's result is null");
        let judged = judge_result_text(b"[1, 2]");
        assert_eq!(reason(&judged), "the agent's result is not a JSON object");
        assert_eq!(judged.raw.as_deref(), Some(&b"[1,2]"[..]));
    }
}
