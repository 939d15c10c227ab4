//! Unified-diff hunks over raw lines (line terminators kept, so CRLF and a missing final
//! newline survive), three lines of context, hunks closer than six lines merged, as git does.

use gix::diff::blob::{sources::byte_lines, Algorithm, Diff, Hunk, InternedInput};

const CONTEXT: u32 = 3;

/// Appends the `@@` hunks turning `old` into `new`.
pub fn write_hunks(out: &mut Vec<u8>, old: &[u8], new: &[u8]) {
    let input = InternedInput::new(byte_lines(old), byte_lines(new));
    let mut diff = Diff::compute(Algorithm::Myers, &input);
    diff.postprocess_lines(&input);
    let hunks: Vec<Hunk> = diff.hunks().collect();
    for group in group_hunks(&hunks) {
        write_group(out, &input, group);
    }
}

/// Splits hunks into groups whose gaps are at most two contexts long.
fn group_hunks(hunks: &[Hunk]) -> Vec<&[Hunk]> {
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=hunks.len() {
        let split = i == hunks.len() || hunks[i].before.start - hunks[i - 1].before.end > 2 * CONTEXT;
        if split {
            groups.push(&hunks[start..i]);
            start = i;
        }
    }
    groups
}

fn write_group(out: &mut Vec<u8>, input: &InternedInput<&[u8]>, group: &[Hunk]) {
    let (first, last) = (&group[0], &group[group.len() - 1]);
    let old_start = first.before.start.saturating_sub(CONTEXT);
    let new_start = first.after.start - (first.before.start - old_start);
    let old_end = (last.before.end + CONTEXT).min(input.before.len() as u32);
    let new_end = last.after.end + (old_end - last.before.end);
    out.extend_from_slice(
        format!("@@ -{} +{} @@\n", range(old_start, old_end - old_start), range(new_start, new_end - new_start))
            .as_bytes(),
    );
    let mut pos = old_start;
    for hunk in group {
        for i in pos..hunk.before.start {
            write_line(out, b' ', input.interner[input.before[i as usize]]);
        }
        for i in hunk.before.clone() {
            write_line(out, b'-', input.interner[input.before[i as usize]]);
        }
        for i in hunk.after.clone() {
            write_line(out, b'+', input.interner[input.after[i as usize]]);
        }
        pos = hunk.before.end;
    }
    for i in pos..old_end {
        write_line(out, b' ', input.interner[input.before[i as usize]]);
    }
}

/// `start,len` in git's form: 1-based; `,1` omitted; an empty range names the line before it.
fn range(start: u32, len: u32) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        n => format!("{},{n}", start + 1),
    }
}

fn write_line(out: &mut Vec<u8>, marker: u8, text: &[u8]) {
    out.push(marker);
    out.extend_from_slice(text);
    if !text.ends_with(b"\n") {
        out.extend_from_slice(b"\n\\ No newline at end of file\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunks(old: &str, new: &str) -> String {
        let mut out = Vec::new();
        write_hunks(&mut out, old.as_bytes(), new.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn single_change_with_context() {
        assert_eq!(hunks("a\nb\nc\n", "a\nB\nc\n"), "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
    }

    #[test]
    fn additions_to_empty_and_missing_newline() {
        assert_eq!(hunks("", "x\n"), "@@ -0,0 +1 @@\n+x\n");
        assert_eq!(hunks("x", "x\n"), "@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+x\n");
    }

    #[test]
    fn distant_changes_make_two_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new = old.replace("2\n", "two\n").replace("19\n", "nineteen\n");
        let out = hunks(&old, &new);
        assert_eq!(out.matches("@@ -").count(), 2, "{out}");
        assert!(out.starts_with("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"), "{out}");
    }
}
