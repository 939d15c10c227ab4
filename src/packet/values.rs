//! The values of the packet's fields: scope entries, lists, free text, single values, booleans,
//! seconds, sizes, the agent and the `ALLOW:` kinds, each checked with an error naming the field
//! and the line.

use super::{list_items, path_items, PacketError, RawField, ALLOW_KINDS, EMPTY_SCOPE_WORDS};
use crate::agent::AgentKind;
use crate::scope;

/// Split on commas outside `{...}` (so `src/{a,b}.rs` stays one glob).
pub(super) fn split_top_level_commas(text: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut depth = 0usize;
    for ch in text.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                pieces.push(String::new());
                continue;
            }
            _ => {}
        }
        pieces.last_mut().expect("pieces always has one element").push(ch);
    }
    pieces.into_iter().map(|piece| piece.trim().to_string()).collect()
}

/// Remove a trailing `(NEW)`-style annotation and surrounding backticks or quotes.
pub fn strip_annotation(item: &str) -> String {
    let mut text = item.trim();
    while let Some(open) = text.rfind(" (").filter(|_| text.ends_with(')')) {
        text = text[..open].trim_end();
    }
    for quote in ['`', '"', '\''] {
        if text.len() >= 2 && text.starts_with(quote) && text.ends_with(quote) {
            text = &text[1..text.len() - 1];
        }
    }
    text.trim().to_string()
}

pub(super) fn scope_entries(raw: &RawField, field: &'static str) -> Result<Vec<String>, PacketError> {
    let items = path_items(raw);
    if items.is_empty() {
        return Err(PacketError::Empty { field, line: raw.line, expected: "expected `- path` bullets or `none`" });
    }
    if items.iter().all(|(_, item)| EMPTY_SCOPE_WORDS.contains(&item.to_ascii_lowercase().as_str())) {
        return Ok(Vec::new());
    }
    for (line, item) in &items {
        if EMPTY_SCOPE_WORDS.contains(&item.to_ascii_lowercase().as_str()) {
            return Err(PacketError::Invalid {
                field,
                line: *line,
                message: format!("`{item}` cannot be combined with paths"),
            });
        }
        scope::validate_entry(item).map_err(|err| PacketError::Invalid {
            field,
            line: *line,
            message: err.to_string(),
        })?;
    }
    Ok(items.into_iter().map(|(_, item)| item).collect())
}

pub(super) fn list_value(
    raw: &RawField,
    field: &'static str,
    expected: &'static str,
) -> Result<Vec<String>, PacketError> {
    let items: Vec<String> = list_items(raw).map(|(_, item)| item).collect();
    if items.is_empty() {
        return Err(PacketError::Empty { field, line: raw.line, expected });
    }
    Ok(items)
}

/// A free-text field: lines joined with newlines, bullets kept, outer blank lines dropped.
pub(super) fn join_text(raw: &RawField) -> String {
    let lines: Vec<&str> = raw.inline.iter().chain(raw.body.iter()).map(|(_, text)| text.trim_end()).collect();
    lines.join("\n").trim().to_string()
}

pub(super) fn text_value(raw: &RawField, field: &'static str, expected: &'static str) -> Result<String, PacketError> {
    let text = join_text(raw);
    if text.is_empty() {
        return Err(PacketError::Empty { field, line: raw.line, expected });
    }
    Ok(text)
}

/// A field with exactly one value, on the key line or as the single line below it.
pub(super) fn single_value(
    raw: &RawField,
    field: &'static str,
    expected: &'static str,
) -> Result<(usize, String), PacketError> {
    let mut items = list_items(raw).map(|(line, item)| (line, strip_annotation(&item)));
    let Some(first) = items.next() else {
        return Err(PacketError::Empty { field, line: raw.line, expected });
    };
    if let Some((line, extra)) = items.next() {
        return Err(PacketError::Invalid {
            field,
            line,
            message: format!("expected one value, found another: `{extra}`"),
        });
    }
    Ok(first)
}

pub(super) fn bool_value(raw: &RawField, field: &'static str) -> Result<bool, PacketError> {
    let (line, text) = single_value(raw, field, "expected true or false")?;
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(PacketError::Invalid { field, line, message: format!("`{text}` is not true or false") }),
    }
}

pub(super) fn seconds_value(raw: &RawField, field: &'static str) -> Result<u64, PacketError> {
    let (line, text) = single_value(raw, field, "expected a number of seconds")?;
    match text.parse::<u64>() {
        Ok(seconds) if seconds > 0 => Ok(seconds),
        _ => {
            Err(PacketError::Invalid { field, line, message: format!("`{text}` is not a positive number of seconds") })
        }
    }
}

pub(super) fn agent_value(raw: &RawField) -> Result<AgentKind, PacketError> {
    let (line, text) = single_value(raw, "AGENT", "expected codex or claude")?;
    AgentKind::parse(&text).ok_or_else(|| PacketError::Invalid {
        field: "AGENT",
        line,
        message: format!("unknown agent `{text}`; expected codex or claude"),
    })
}

pub(super) fn allow_value(raw: &RawField) -> Result<Vec<String>, PacketError> {
    let mut kinds = Vec::new();
    for (line, item) in path_items(raw) {
        let kind = item.to_ascii_lowercase();
        if kind == "none" {
            continue;
        }
        if !ALLOW_KINDS.contains(&kind.as_str()) {
            return Err(PacketError::Invalid {
                field: "ALLOW",
                line,
                message: format!("unknown kind `{item}`; expected one of {}", ALLOW_KINDS.join(", ")),
            });
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

/// A size in bytes: a number with an optional unit (`K`, `M`, `G`, `T`, with or without `iB`/`B`,
/// all powers of 1024).
pub(super) fn size_value(raw: &RawField, field: &'static str) -> Result<u64, PacketError> {
    let (line, text) = single_value(raw, field, "expected a size such as 50M or 1G")?;
    crate::sensitive::size::parse(&text).map_err(|message| PacketError::Invalid { field, line, message })
}

pub(super) fn network_value(raw: &RawField) -> Result<crate::egress::NetworkChoice, PacketError> {
    let (line, text) = single_value(raw, "NETWORK", "expected allow, api, strict or none")?;
    crate::egress::NetworkChoice::parse(&text).ok_or_else(|| PacketError::Invalid {
        field: "NETWORK",
        line,
        message: format!("unknown network mode `{text}`; expected allow, api, strict or none"),
    })
}

/// `ALLOW HOSTS:` entries, each `HOST[:PORT]` (`none` for no entry).
pub(super) fn allow_hosts_value(raw: &RawField) -> Result<Vec<String>, PacketError> {
    let mut hosts = Vec::new();
    for (line, item) in path_items(raw) {
        if item.eq_ignore_ascii_case("none") {
            continue;
        }
        crate::egress::HostRule::parse(&item).map_err(|message| PacketError::Invalid {
            field: "ALLOW HOSTS",
            line,
            message,
        })?;
        hosts.push(item);
    }
    Ok(hosts)
}

/// The most attempts one packet may ask for (`ATTEMPTS:`, `--attempts`).
pub const MAX_ATTEMPTS: u32 = 20;

/// `ATTEMPTS:`: a whole number from 1 to [`MAX_ATTEMPTS`].
pub(super) fn attempts_value(raw: &RawField) -> Result<u32, PacketError> {
    let (line, text) = single_value(raw, "ATTEMPTS", "expected a number of attempts (1 or more)")?;
    match text.parse::<u32>() {
        Ok(count) if (1..=MAX_ATTEMPTS).contains(&count) => Ok(count),
        _ => Err(PacketError::Invalid {
            field: "ATTEMPTS",
            line,
            message: format!("`{text}` is not a number of attempts from 1 to {MAX_ATTEMPTS}"),
        }),
    }
}

/// Strip a list bullet (`- `, `* `, `+ `, `1. `, `1) `).
pub(super) fn strip_bullet(text: &str) -> &str {
    let text = text.trim();
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = text.strip_prefix(bullet) {
            return rest.trim();
        }
    }
    if matches!(text, "-" | "*" | "+") {
        return "";
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        let rest = &text[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return rest.trim();
        }
    }
    text
}
