//! Showing text that came from an agent or a worktree (paths, the agent's summary and claims,
//! policy messages, events, error chains) without letting it drive the terminal: every C0 and C1
//! control character, DEL, and the invisible format characters that reorder or hide text (bidi
//! overrides and isolates, zero-width characters, line and paragraph separators) are written as
//! visible escapes (`\x1b`, `\u{9b}`, `\u{202e}`). An OSC 52 clipboard write, a screen clear or a
//! title change in a file name or a summary then shows as text.
//!
//! [`line`] is for one-line places (a path, a list row, a message, the status line): newline,
//! carriage return and tab are escaped too. [`text`] is for multi-line prose (the summary in
//! `result.md`, the patch in `review`): it keeps newline and tab. [`bytes`] and [`bytes_text`] do
//! the same for text that may not be UTF-8, with each invalid byte as `\xNN`. All of them use the
//! same rule ([`escape_char`]).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Format characters that reorder or hide text (Unicode `Cf`/`Zl`/`Zp` the terminal does not show).
const INVISIBLE: &[(u32, u32)] = &[
    (0x00ad, 0x00ad),
    (0x061c, 0x061c),
    (0x180e, 0x180e),
    (0x200b, 0x200f),
    (0x2028, 0x202e),
    (0x2060, 0x2064),
    (0x2066, 0x206f),
    (0xfeff, 0xfeff),
    (0xfff9, 0xfffb),
];

/// Does `c` need an escape? `keep_layout` keeps newline and tab (multi-line text).
fn needs_escape(c: char, keep_layout: bool) -> bool {
    if keep_layout && (c == '\n' || c == '\t') {
        return false;
    }
    c.is_control() || INVISIBLE.iter().any(|(low, high)| (*low..=*high).contains(&(c as u32)))
}

/// Writes `c` as shown: itself, or `\n`, `\r`, `\t`, `\xNN` (other ASCII controls), `\u{NNNN}`.
pub fn escape_char(out: &mut String, c: char, keep_layout: bool) {
    if !needs_escape(c, keep_layout) {
        out.push(c);
        return;
    }
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

fn escape(text: &str, keep_layout: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| needs_escape(c, keep_layout)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        escape_char(&mut out, c, keep_layout);
    }
    Cow::Owned(out)
}

/// `text` for a one-line place: every control (newline, tab included) and invisible format
/// character escaped.
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// `text` for multi-line prose: as [`line`], but newline and tab are kept.
pub fn text(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// A byte string (a path) for a one-line place: as [`line`], with bytes that are not UTF-8 as `\xNN`.
pub fn bytes(raw: &[u8]) -> String {
    escape_bytes(raw, false)
}

/// Multi-line bytes (a patch) as [`text`] shows prose, with bytes that are not UTF-8 as `\xNN`.
pub fn bytes_text(raw: &[u8]) -> String {
    escape_bytes(raw, true)
}

fn escape_bytes(raw: &[u8], keep_layout: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            escape_char(&mut out, c, keep_layout);
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// An output whose every write is shown as [`bytes_text`] shows it: for commands whose whole
/// output is plain text lines (`clean`, `doctor`), so nothing they print can drive the terminal.
pub struct Writer<'a> {
    inner: &'a mut dyn std::io::Write,
}

impl<'a> Writer<'a> {
    pub fn new(inner: &'a mut dyn std::io::Write) -> Writer<'a> {
        Writer { inner }
    }
}

impl std::io::Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write_all(bytes_text(buf).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Does `text` hold anything [`line`] would escape?
pub fn has_control(text: &str) -> bool {
    text.chars().any(|c| needs_escape(c, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_become_visible() {
        assert_eq!(line("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        assert_eq!(line("\x1b[2J clear"), "\\x1b[2J clear");
        assert_eq!(line("\x1b]52;c;ZWNobw==\x1b\\"), "\\x1b]52;c;ZWNobw==\\x1b\\");
        assert_eq!(line("a\u{9b}31mb"), "a\\u{9b}31mb");
        assert_eq!(line("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(line("del\x7f"), "del\\x7f");
        assert_eq!(line("a\nb\tc\rd"), "a\\nb\\tc\\rd");
    }

    #[test]
    fn plain_text_is_borrowed_and_prose_keeps_its_lines() {
        assert!(matches!(line("src/café ☃.rs"), Cow::Borrowed(_)));
        assert_eq!(text("one\n\ttwo\x1b[1m\r\n"), "one\n\ttwo\\x1b[1m\\r\n");
        assert!(has_control("x\x1by") && !has_control("plain"));
    }

    #[test]
    fn the_writer_escapes_everything_it_passes_on() {
        use std::io::Write as _;
        let mut out = Vec::new();
        let id = "run\x1b[2J";
        writeln!(Writer::new(&mut out), "kept {id}: ok").expect("writes to a Vec");
        assert_eq!(out, b"kept run\\x1b[2J: ok\n");
    }

    #[test]
    fn bytes_that_are_not_utf8_show_as_hex() {
        assert_eq!(bytes(b"bad\xff\x1b.md"), "bad\\xff\\x1b.md");
        assert_eq!(bytes("ok/é".as_bytes()), "ok/é");
        assert_eq!(bytes_text(b"+\tline\x1b[2J\xe9\r\n"), "+\tline\\x1b[2J\\xe9\\r\n");
    }
}
