//! The task packet: parse the Markdown contract into a typed, validated [`Packet`].
//!
//! Parsing is pure (no I/O); [`load`] adds the file read and the WORKDIR checks. The grammar is the
//! seed's, with its quirks accepted and its two parser bugs fixed:
//! - a header is a line `KEY: value` or `KEY:` with KEY in upper case (`A-Z 0-9 space _ -`), optionally
//!   followed by a parenthetical (`WRITE SCOPE (repo-relative):`), optionally as a Markdown heading
//!   (`## KEY:`) or in bold (`**KEY:**`); the seed dropped the list after such a parenthetical;
//! - the lines below a header, up to the next header, belong to it; `- `, `* `, `+ ` and `1. `
//!   bullets are stripped for list fields, blank lines and `#` comment lines are skipped;
//! - a trailing per-line annotation such as `(NEW)`, `(MODIFY)` or `(NEW, optional)` is a comment,
//!   and so are surrounding backticks (the seed kept them and then matched no path);
//! - `none`, `read-only`, `readonly` and `no writes` as the only WRITE SCOPE entry mean an empty scope;
//! - CRLF line endings are accepted.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::agent::AgentKind;

mod near;
mod values;
use near::{canonical_field, near_misses};
use values::{
    agent_value, allow_hosts_value, allow_value, attempts_value, bool_value, join_text, list_value, network_value,
    scope_entries, seconds_value, single_value, size_value, split_top_level_commas, strip_bullet, text_value,
};
pub use values::{strip_annotation, MAX_ATTEMPTS};

/// The role a dispatch plays; only `Worker` may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Worker,
    Verifier,
    Reviewer,
    Synthesizer,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Worker, Mode::Verifier, Mode::Reviewer, Mode::Synthesizer];

    pub fn parse(text: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|mode| mode.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Worker => "worker",
            Mode::Verifier => "verifier",
            Mode::Reviewer => "reviewer",
            Mode::Synthesizer => "synthesizer",
        }
    }

    pub fn is_read_only(self) -> bool {
        self != Mode::Worker
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated task packet.
#[derive(Debug, Clone, Serialize)]
pub struct Packet {
    pub mode: Mode,
    /// WORKDIR as written (resolved by [`load`] into `workdir`).
    pub workdir_text: String,
    /// Absolute WORKDIR; equal to `workdir_text` until [`load`] resolves it.
    pub workdir: PathBuf,
    pub objective: String,
    /// WRITE SCOPE entries, annotations stripped; empty for `none` and read-only words.
    pub write_scope: Vec<String>,
    pub non_goals: Vec<String>,
    pub verification: Vec<String>,
    pub deliverable: String,
    pub context: Option<String>,
    pub allow_dirty_overlap: bool,
    pub agent: Option<AgentKind>,
    pub base: Option<String>,
    pub setup: Vec<String>,
    pub timeout_sec: Option<u64>,
    pub heartbeat_sec: Option<u64>,
    pub writable: Vec<String>,
    pub readable: Vec<String>,
    pub allow: Vec<String>,
    /// `MAX FILE SIZE:` in bytes (`50M`, `1G`, `1048576`).
    pub max_file_size: Option<u64>,
    /// `ATTEMPTS:`: how many times to dispatch the packet (best of N).
    pub attempts: Option<u32>,
    /// `NETWORK:` (`allow`, `api`, `strict`, `none`).
    pub network: Option<crate::egress::NetworkChoice>,
    /// `ALLOW HOSTS:` entries (`HOST[:PORT]`), checked.
    pub allow_hosts: Vec<String>,
    /// Near misses of the text that are no error: a header that looks like a known field with a
    /// typo (`TIMEOUT:`, `NON-GOALZ:`), which is ignored. One line each, naming the line.
    pub warnings: Vec<String>,
}

/// A packet problem, naming the field and, where it applies, the packet line (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("missing required field {field} (expected a line `{field}: ...`)")]
    Missing { field: &'static str },
    #[error("line {line}: field {field} is empty; {expected}")]
    Empty { field: &'static str, line: usize, expected: &'static str },
    #[error("line {line}: field {field} is given twice (first on line {first})")]
    Duplicate { field: &'static str, line: usize, first: usize },
    #[error("line {line}: {field}: {message}")]
    Invalid { field: &'static str, line: usize, message: String },
}

/// The known fields: canonical name and whether it is required.
const FIELDS: &[(&str, bool)] = &[
    ("MODE", true),
    ("WORKDIR", true),
    ("OBJECTIVE", true),
    ("WRITE SCOPE", true),
    ("NON-GOALS", true),
    ("VERIFICATION", true),
    ("DELIVERABLE", true),
    ("CONTEXT", false),
    ("ALLOW DIRTY OVERLAP", false),
    ("AGENT", false),
    ("BASE", false),
    ("SETUP", false),
    ("TIMEOUT SEC", false),
    ("HEARTBEAT SEC", false),
    ("WRITABLE", false),
    ("READABLE", false),
    ("ALLOW", false),
    ("MAX FILE SIZE", false),
    ("ATTEMPTS", false),
    ("NETWORK", false),
    ("ALLOW HOSTS", false),
];

/// Words that, as the only WRITE SCOPE entry, mean "no writes".
const EMPTY_SCOPE_WORDS: &[&str] = &["none", "no writes", "read-only", "readonly", "no-writes"];

/// Sensitive-change kinds a packet's ALLOW field may name.
pub const ALLOW_KINDS: &[&str] = crate::sensitive::ALLOWABLE;

/// One field as found in the text: its header line and the lines of its body.
#[derive(Debug, Default, Clone)]
struct RawField {
    line: usize,
    inline: Option<(usize, String)>,
    body: Vec<(usize, String)>,
}

impl RawField {
    /// Non-blank lines of the field, the key-line value first.
    fn lines(&self) -> impl Iterator<Item = &(usize, String)> {
        self.inline.iter().chain(self.body.iter()).filter(|(_, text)| !text.trim().is_empty())
    }
}

/// Parse packet text. Relative WORKDIRs are left as written; [`load`] resolves them.
pub fn parse(text: &str) -> Result<Packet, PacketError> {
    let fields = split_fields(text)?;
    let field = |name: &'static str| fields.iter().find(|(key, _)| *key == name).map(|(_, raw)| raw);
    for (name, required) in FIELDS {
        if *required && field(name).is_none() {
            return Err(PacketError::Missing { field: name });
        }
    }
    let require = |name: &'static str| field(name).expect("required fields were checked above");

    let mode_raw = require("MODE");
    let (mode_line, mode_text) =
        single_value(mode_raw, "MODE", "expected one of worker, verifier, reviewer, synthesizer")?;
    let mode = Mode::parse(&mode_text).ok_or_else(|| PacketError::Invalid {
        field: "MODE",
        line: mode_line,
        message: format!("unknown mode `{mode_text}`; expected one of worker, verifier, reviewer, synthesizer"),
    })?;
    let (_, workdir_text) = single_value(require("WORKDIR"), "WORKDIR", "expected the path of a git repository")?;
    let objective = text_value(require("OBJECTIVE"), "OBJECTIVE", "expected one sentence saying what to achieve")?;
    let write_scope = scope_entries(require("WRITE SCOPE"), "WRITE SCOPE")?;
    if mode == Mode::Worker && write_scope.is_empty() {
        return Err(PacketError::Invalid {
            field: "WRITE SCOPE",
            line: require("WRITE SCOPE").line,
            message: "a worker must be allowed to write something (give paths; a task that writes nothing is a verifier, reviewer or synthesizer)".to_string(),
        });
    }
    let non_goals = list_value(require("NON-GOALS"), "NON-GOALS", "expected `- ` bullets saying what must not change")?;
    let verification = list_value(
        require("VERIFICATION"),
        "VERIFICATION",
        "expected `- ` bullets with commands or evidence to gather",
    )?;
    let deliverable = text_value(require("DELIVERABLE"), "DELIVERABLE", "expected the result to return")?;

    let optional_text = |name: &'static str| field(name).map(join_text).filter(|text| !text.is_empty());
    let packet = Packet {
        mode,
        workdir: PathBuf::from(&workdir_text),
        workdir_text,
        objective,
        write_scope,
        non_goals,
        verification,
        deliverable,
        context: optional_text("CONTEXT"),
        allow_dirty_overlap: field("ALLOW DIRTY OVERLAP")
            .map(|raw| bool_value(raw, "ALLOW DIRTY OVERLAP"))
            .transpose()?
            .unwrap_or(false),
        agent: field("AGENT").map(agent_value).transpose()?,
        base: field("BASE")
            .map(|raw| single_value(raw, "BASE", "expected a revision"))
            .transpose()?
            .map(|(_, rev)| rev),
        setup: field("SETUP").map(|raw| list_items(raw).map(|(_, item)| item).collect()).unwrap_or_default(),
        timeout_sec: field("TIMEOUT SEC").map(|raw| seconds_value(raw, "TIMEOUT SEC")).transpose()?,
        heartbeat_sec: field("HEARTBEAT SEC").map(|raw| seconds_value(raw, "HEARTBEAT SEC")).transpose()?,
        writable: field("WRITABLE")
            .map(|raw| path_items(raw).into_iter().map(|(_, item)| item).collect())
            .unwrap_or_default(),
        readable: field("READABLE")
            .map(|raw| path_items(raw).into_iter().map(|(_, item)| item).collect())
            .unwrap_or_default(),
        allow: field("ALLOW").map(allow_value).transpose()?.unwrap_or_default(),
        max_file_size: field("MAX FILE SIZE").map(|raw| size_value(raw, "MAX FILE SIZE")).transpose()?,
        attempts: field("ATTEMPTS").map(attempts_value).transpose()?,
        network: field("NETWORK").map(network_value).transpose()?,
        allow_hosts: field("ALLOW HOSTS").map(allow_hosts_value).transpose()?.unwrap_or_default(),
        warnings: near_misses(text),
    };
    Ok(packet)
}

/// Read, parse and resolve a packet file: WORKDIR is made absolute (relative to the packet's folder,
/// `~` expanded) and must be an existing directory inside a git repository.
pub fn load(path: &Path) -> anyhow::Result<Packet> {
    from_text(&read_text(path)?, path)
}

/// The text of a packet file (it must be UTF-8).
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read task packet {}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("task packet {} is not valid UTF-8", path.display()))
}

/// Parse and resolve packet `text` as if it were the file `path` (named in errors; a relative
/// WORKDIR is resolved against its folder), as [`load`] does for a file.
pub fn from_text(text: &str, path: &Path) -> anyhow::Result<Packet> {
    let mut packet = parse(text).map_err(|err| anyhow::anyhow!("task packet {}: {err}", path.display()))?;
    let line = workdir_line(text);
    let packet_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let absolute = resolve_workdir(&packet.workdir_text, &packet_dir);
    let workdir = std::fs::canonicalize(&absolute).map_err(|_| {
        anyhow::anyhow!(
            "task packet {}: line {line}: WORKDIR {} does not exist (expected the path of a git repository)",
            path.display(),
            absolute.display()
        )
    })?;
    if !workdir.is_dir() {
        anyhow::bail!("task packet {}: line {line}: WORKDIR {} is not a directory", path.display(), workdir.display());
    }
    if gix::discover(&workdir).is_err() {
        anyhow::bail!(
            "task packet {}: line {line}: WORKDIR {} is not inside a git repository",
            path.display(),
            workdir.display()
        );
    }
    packet.workdir = workdir;
    Ok(packet)
}

fn workdir_line(text: &str) -> usize {
    text.lines().position(|line| header(line).is_some_and(|(key, _)| key == "WORKDIR")).map_or(0, |index| index + 1)
}

fn resolve_workdir(text: &str, packet_dir: &Path) -> PathBuf {
    let expanded = match text.strip_prefix("~/").or(if text == "~" { Some("") } else { None }) {
        Some(rest) => std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(rest),
        None => PathBuf::from(text),
    };
    if expanded.is_absolute() {
        expanded
    } else {
        let base = if packet_dir.as_os_str().is_empty() { Path::new(".") } else { packet_dir };
        std::path::absolute(base.join(&expanded)).unwrap_or_else(|_| base.join(expanded))
    }
}

/// Split the text into known fields. Unknown upper-case headers end the previous field and are ignored.
fn split_fields(text: &str) -> Result<Vec<(&'static str, RawField)>, PacketError> {
    let mut fields: Vec<(&'static str, RawField)> = Vec::new();
    let mut current: Option<usize> = None;
    for (index, raw_line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if let Some((key, value)) = header(line) {
            current = None;
            let Some(name) = canonical_field(&key) else { continue };
            if let Some((_, first)) = fields.iter().find(|(existing, _)| *existing == name) {
                return Err(PacketError::Duplicate { field: name, line: line_no, first: first.line });
            }
            let inline = (!value.is_empty()).then_some((line_no, value));
            fields.push((name, RawField { line: line_no, inline, body: Vec::new() }));
            current = Some(fields.len() - 1);
            continue;
        }
        if let Some(position) = current {
            fields[position].1.body.push((line_no, line.to_string()));
        }
    }
    Ok(fields)
}

/// Recognise a header line: `KEY: value`, `KEY (note): value`, `## KEY:`, `**KEY:** value`.
fn header(line: &str) -> Option<(String, String)> {
    let trimmed = line.trim_end();
    let unheaded = trimmed.trim_start_matches('#');
    let unheaded = if unheaded.len() != trimmed.len() { unheaded.trim_start() } else { trimmed };
    let (bold, rest) = match unheaded.strip_prefix("**") {
        Some(rest) => (true, rest),
        None => (false, unheaded),
    };
    let key_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b' ' | b'_' | b'-'))
        .count();
    if key_len == 0 || !rest.as_bytes()[0].is_ascii_uppercase() {
        return None;
    }
    let key = rest[..key_len].trim_end().to_string();
    let mut after = rest[key_len..].trim_start();
    if let Some(paren) = after.strip_prefix('(') {
        after = paren.split_once(')')?.1.trim_start();
    }
    let mut value = after.strip_prefix(':')?;
    if bold {
        value = value.strip_prefix("**").unwrap_or(value);
    }
    let value = value.trim();
    let value = if bold { value.strip_prefix("**").unwrap_or(value).trim() } else { value };
    Some((key, value.to_string()))
}

fn is_comment(text: &str) -> bool {
    let text = text.trim();
    text.starts_with('#') || text.starts_with("<!--") || text.starts_with("```")
}

/// The items of a list field: bullets stripped, blank and comment lines skipped.
fn list_items(raw: &RawField) -> impl Iterator<Item = (usize, String)> + '_ {
    raw.lines()
        .filter(|(_, text)| !is_comment(text))
        .map(|(line, text)| (*line, strip_bullet(text).to_string()))
        .filter(|(_, item)| !item.is_empty())
}

/// Path-like items: annotations and backticks removed; a key-line value may list several, comma-separated.
fn path_items(raw: &RawField) -> Vec<(usize, String)> {
    let mut items = Vec::new();
    for (line, item) in list_items(raw) {
        let pieces = if raw.inline.as_ref().is_some_and(|(inline_line, _)| *inline_line == line) {
            split_top_level_commas(&item)
        } else {
            vec![item]
        };
        items.extend(
            pieces.into_iter().map(|piece| (line, strip_annotation(&piece))).filter(|(_, piece)| !piece.is_empty()),
        );
    }
    items
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
