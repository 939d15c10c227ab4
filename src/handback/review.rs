//! The review text of a run: the verdict first, then the changed paths with their scope marks
//! (✓ in scope, ✗ out of scope), then the patch, optionally with ANSI colours.
//!
//! Review reads the run folder as it is; `apply` is the step that re-checks the patch against the
//! object store. Everything shown that came from the run folder (ids, messages, paths, the patch's
//! lines) is escaped ([`crate::escape`]), so a control sequence planted in a file name or a file's
//! content cannot clear the screen above the verdict, retitle the terminal or set the clipboard.

use std::io::Write;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::runs::RunRecord;

const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

/// One entry of `changes.json` as review needs it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChangeEntry {
    pub path: String,
    pub status: String,
    #[serde(default)]
    pub old_path: Option<String>,
    #[serde(default)]
    pub in_scope: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct ChangesFile {
    #[serde(default)]
    changes: Vec<ChangeEntry>,
}

/// A few words for a run's verdict ([`crate::policy::outcome_label`]), or `unreadable` when its
/// policy.json could not be read.
pub fn verdict_label(run: &RunRecord) -> String {
    if run.problem.is_some() {
        return "unreadable".to_string();
    }
    crate::policy::outcome_label(&run.policy)
}

/// Write the review of `run` to `out`; `color` adds ANSI colours.
pub fn review(run: &RunRecord, color: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    write_verdict(run, out).context("cannot write the review")?;
    write_changes(run, color, out)?;
    writeln!(out).context("cannot write the review")?;
    match std::fs::read(run.file("result.patch")) {
        Ok(patch) if patch.is_empty() => writeln!(out, "(the patch is empty)")?,
        Ok(patch) if color => write_colored_patch(&patch, out)?,
        Ok(patch) => write_patch(&patch, out)?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => writeln!(out, "(no result.patch)")?,
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", run.file("result.patch").display())),
    }
    Ok(())
}

fn write_verdict(run: &RunRecord, out: &mut dyn Write) -> std::io::Result<()> {
    use crate::escape::line;
    let policy = &run.policy;
    writeln!(out, "run:      {}", line(&run.id))?;
    writeln!(out, "verdict:  {}", verdict_label(run))?;
    if let Some(problem) = &run.problem {
        writeln!(out, "problem:  {}", line(problem))?;
    }
    writeln!(out, "mode:     {}    exit code: {}", line(or_dash(&policy.mode)), policy.exit_code)?;
    if policy.mode == "worker" {
        let scope = if policy.write_scope.is_empty() { "none".to_string() } else { policy.write_scope.join(", ") };
        writeln!(out, "scope:    {}", line(&scope))?;
    }
    if let Some(sandbox) = &policy.sandbox {
        let abi = sandbox.abi.map(|abi| format!(" (ABI {abi})")).unwrap_or_default();
        writeln!(out, "sandbox:  {}{abi}", line(&sandbox.kind))?;
    }
    if let Some(verification) = verification_line(run) {
        writeln!(out, "verify:   {}", line(&verification))?;
    }
    let commit = |id: &Option<String>| line(id.as_deref().map(short_id).unwrap_or("-")).into_owned();
    writeln!(out, "base:     {}    result: {}", commit(&policy.base_commit), commit(&policy.result_commit))?;
    if let Some(branch) = &policy.branch {
        writeln!(out, "branch:   {}", line(branch))?;
    }
    if let Some(applied) = &run.applied {
        let commit = applied.commit.as_deref().map(|id| format!(" (commit {})", short_id(id))).unwrap_or_default();
        writeln!(out, "applied:  {}", line(&format!("{} by {}{commit}", applied.applied_at, applied.how)))?;
    }
    if !policy.messages.is_empty() {
        writeln!(out, "messages:")?;
        for message in &policy.messages {
            writeln!(out, "  - {}", line(message))?;
        }
    }
    Ok(())
}

/// `--verify`'s outcome from verification.json: passed, or the first command that failed.
fn verification_line(run: &RunRecord) -> Option<String> {
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(run.file("verification.json")).ok()?).ok()?;
    let commands = file["commands"].as_array().cloned().unwrap_or_default();
    if file["passed"] == true {
        return Some(format!("passed ({} command{})", commands.len(), if commands.len() == 1 { "" } else { "s" }));
    }
    let failed = commands.iter().find(|command| command["passed"] != true)?;
    let how = match (failed["exit_code"].as_i64(), failed["killed"].as_str()) {
        (_, Some(killed)) => format!("stopped: {killed}"),
        (Some(code), None) => format!("exit {code}"),
        (None, None) => "died".to_string(),
    };
    Some(format!("FAILED: `{}` ({how})", failed["command"].as_str().unwrap_or("?")))
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() {
        "-"
    } else {
        text
    }
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The changed paths from changes.json, else (an older or partial run) policy.json's list unmarked
/// (`in_scope` unknown).
pub fn load_changes(run: &RunRecord) -> anyhow::Result<Vec<ChangeEntry>> {
    let path = run.file("changes.json");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let file: ChangesFile =
                serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid", path.display()))?;
            Ok(file.changes)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(run
            .policy
            .changed_paths
            .iter()
            .map(|path| ChangeEntry { path: path.clone(), status: "changed".into(), old_path: None, in_scope: None })
            .collect()),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_changes(run: &RunRecord, color: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    use crate::escape::line;
    let changes = load_changes(run)?;
    writeln!(out, "changed paths ({}):", changes.len())?;
    for change in &changes {
        let (mark, paint) = match change.in_scope {
            Some(true) => ("✓", GREEN),
            Some(false) => ("✗", RED),
            None => ("?", ""),
        };
        let mark = if color && !paint.is_empty() { format!("{paint}{mark}{RESET}") } else { mark.to_string() };
        let from = change.old_path.as_deref().map(|old| format!(" (from {})", line(old))).unwrap_or_default();
        let outside = if change.in_scope == Some(false) { "  <- outside WRITE SCOPE" } else { "" };
        writeln!(out, "  {mark} {:<12} {}{from}{outside}", line(&change.status), line(&change.path))?;
    }
    Ok(())
}

/// Where a patch line sits: in a header, or inside a hunk with lines left on each side.
#[derive(Default)]
struct HunkState {
    old_left: u64,
    new_left: u64,
}

impl HunkState {
    fn in_hunk(&self) -> bool {
        self.old_left > 0 || self.new_left > 0
    }

    /// The colour of a line inside a hunk, or None when the line ends the hunk.
    fn hunk_line(&mut self, line: &[u8]) -> Option<&'static str> {
        match line.first() {
            Some(b' ') => {
                self.old_left = self.old_left.saturating_sub(1);
                self.new_left = self.new_left.saturating_sub(1);
                Some("")
            }
            Some(b'-') => {
                self.old_left = self.old_left.saturating_sub(1);
                Some(RED)
            }
            Some(b'+') => {
                self.new_left = self.new_left.saturating_sub(1);
                Some(GREEN)
            }
            Some(b'\\') => Some(""),
            _ => {
                *self = HunkState::default();
                None
            }
        }
    }

    /// Start a hunk from its `@@ -a,b +c,d @@` line; false when the line is no hunk header.
    fn start(&mut self, line: &[u8]) -> bool {
        let Some(rest) = line.strip_prefix(b"@@ -") else { return false };
        let text = String::from_utf8_lossy(rest);
        let mut ranges = text.split(' ');
        let old = ranges.next().map(range_length);
        let new = ranges.next().and_then(|range| range.strip_prefix('+')).map(range_length);
        match (old, new) {
            (Some(Some(old_left)), Some(Some(new_left))) => {
                *self = HunkState { old_left, new_left };
                true
            }
            _ => false,
        }
    }
}

/// `a,b` -> b, `a` -> 1.
fn range_length(range: &str) -> Option<u64> {
    match range.split_once(',') {
        Some((_, length)) => length.parse().ok(),
        None => range.parse::<u64>().ok().map(|_| 1),
    }
}

const HEADER_PREFIXES: &[&[u8]] = &[
    b"diff --git ",
    b"index ",
    b"--- ",
    b"+++ ",
    b"old mode ",
    b"new mode ",
    b"deleted file mode ",
    b"new file mode ",
    b"similarity index ",
    b"dissimilarity index ",
    b"rename from ",
    b"rename to ",
    b"copy from ",
    b"copy to ",
    b"Binary files ",
    b"GIT binary patch",
];

/// The lines a patch adds and removes (inside its hunks; binary changes count none).
pub fn patch_size(patch: &[u8]) -> (u64, u64) {
    let (mut state, mut added, mut removed) = (HunkState::default(), 0, 0);
    for line in patch.split(|byte| *byte == b'\n') {
        let paint = if state.in_hunk() { state.hunk_line(line) } else { None };
        match paint {
            Some(GREEN) => added += 1,
            Some(RED) => removed += 1,
            Some(_) => {}
            None => {
                state.start(line);
            }
        }
    }
    (added, removed)
}

/// Write `patch` for reading: its lines with control characters escaped (tab and newline kept).
pub fn write_patch(patch: &[u8], out: &mut dyn Write) -> std::io::Result<()> {
    for line in patch.split_inclusive(|byte| *byte == b'\n') {
        out.write_all(crate::escape::bytes_text(line).as_bytes())?;
    }
    Ok(())
}

/// Write `patch` with `+` lines green, `-` lines red, `@@` lines cyan and file headers bold, its
/// lines escaped as [`write_patch`] escapes them.
pub fn write_colored_patch(patch: &[u8], out: &mut dyn Write) -> std::io::Result<()> {
    let mut state = HunkState::default();
    for line in patch.split_inclusive(|byte| *byte == b'\n') {
        let (text, newline) = match line.strip_suffix(b"\n") {
            Some(text) => (text, &b"\n"[..]),
            None => (line, &b""[..]),
        };
        let in_hunk_paint = if state.in_hunk() { state.hunk_line(text) } else { None };
        let paint = match in_hunk_paint {
            Some(paint) => paint,
            None if state.start(text) => CYAN,
            None if HEADER_PREFIXES.iter().any(|prefix| text.starts_with(prefix)) => BOLD,
            None => "",
        };
        let shown = crate::escape::bytes_text(text);
        if paint.is_empty() {
            out.write_all(shown.as_bytes())?;
        } else {
            out.write_all(paint.as_bytes())?;
            out.write_all(shown.as_bytes())?;
            out.write_all(RESET.as_bytes())?;
        }
        out.write_all(newline)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colored(patch: &str) -> String {
        let mut out = Vec::new();
        write_colored_patch(patch.as_bytes(), &mut out).expect("writes to a Vec");
        String::from_utf8(out)
            .expect("utf-8")
            .replace(BOLD, "<b>")
            .replace(RED, "<r>")
            .replace(GREEN, "<g>")
            .replace(CYAN, "<c>")
            .replace(RESET, "</>")
    }

    #[test]
    fn colours_follow_hunk_counts() {
        let patch = "diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n--- old\n keep\n+++ new\n\\ No newline at end of file\ndiff --git a/y b/y\n";
        assert_eq!(
            colored(patch),
            "<b>diff --git a/x b/x</>\n<b>index 1..2 100644</>\n<b>--- a/x</>\n<b>+++ b/x</>\n<c>@@ -1,2 +1,2 @@</>\n<r>--- old</>\n keep\n<g>+++ new</>\n\\ No newline at end of file\n<b>diff --git a/y b/y</>\n"
        );
    }

    #[test]
    fn control_characters_in_a_patch_are_shown_not_sent() {
        assert_eq!(colored("@@ -0,0 +1 @@\n+\x1b]0;t\x07\n"), "<c>@@ -0,0 +1 @@</>\n<g>+\\x1b]0;t\\x07</>\n");
        let mut plain = Vec::new();
        write_patch(b"+tab\there\x1b[2J\r\n", &mut plain).expect("writes to a Vec");
        assert_eq!(plain, b"+tab\there\\x1b[2J\\r\n");
    }

    #[test]
    fn patch_sizes_count_hunk_lines_only() {
        let patch = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,3 @@\n--- old\n+++ new\n+more\n keep\n";
        assert_eq!(patch_size(patch.as_bytes()), (2, 1));
        assert_eq!(patch_size(b""), (0, 0));
    }

    #[test]
    fn single_line_ranges() {
        assert_eq!(colored("@@ -1 +1 @@\n-a\n+b\n"), "<c>@@ -1 +1 @@</>\n<r>-a</>\n<g>+b</>\n");
        assert_eq!(colored("@@ -0,0 +1 @@\n+a\nplain"), "<c>@@ -0,0 +1 @@</>\n<g>+a</>\nplain");
    }
}
