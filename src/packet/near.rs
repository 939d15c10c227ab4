//! Near misses of the packet grammar: a header that is no known field but looks like one with a
//! typo (`TIMEOUT:`, `NON-GOALZ:`) is ignored with a warning naming the field it probably means.

use super::{header, FIELDS};

/// Headers that are no known field but look like one with a typo: a warning each, naming the line
/// and the field it probably means.
pub(super) fn near_misses(text: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let Some((key, _)) = header(line) else { continue };
        if canonical_field(&key).is_some() {
            continue;
        }
        if let Some(meant) = likely_field(&key) {
            warnings.push(format!("line {}: unknown field `{key}` is ignored; did you mean `{meant}`?", index + 1));
        }
    }
    warnings
}

/// The known field `key` most probably means: one it starts (`TIMEOUT` for `TIMEOUT SEC`), or one
/// at most two letters away.
fn likely_field(key: &str) -> Option<&'static str> {
    let normal = |text: &str| text.replace(['_', '-'], " ").split_whitespace().collect::<Vec<_>>().join(" ");
    let key = normal(key);
    if key.len() < 3 {
        return None;
    }
    FIELDS.iter().map(|(name, _)| *name).find(|name| {
        let name_normal = normal(name);
        (name_normal.starts_with(&key) && name_normal[key.len()..].starts_with(' '))
            || edit_distance(&key, &name_normal) <= 2.min(name_normal.len() / 3)
    })
}

/// The Levenshtein distance of two short ASCII strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<u8> = b.bytes().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// Map a header key to a known field name (`NON GOALS`, `NON_GOALS` and `non-goals` are one field).
pub(super) fn canonical_field(key: &str) -> Option<&'static str> {
    let normal = |text: &str| text.replace(['_', '-'], " ").split_whitespace().collect::<Vec<_>>().join(" ");
    let wanted = normal(key);
    FIELDS.iter().map(|(name, _)| *name).find(|name| normal(name) == wanted)
}
