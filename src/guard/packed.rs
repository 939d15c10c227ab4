//! `packed-refs` seen without git-dispatch's own scratch branches (`refs/heads/dispatch/*`), which
//! parallel runs may pack or unpack: comparison ignores them, and restoration keeps the current
//! ones while putting every other entry back as it was before the run.

use super::gitdir::Content;

/// The file's name in the common dir.
pub(crate) const FILE_NAME: &str = "packed-refs";
const OWN_PREFIX: &[u8] = b"refs/heads/dispatch/";

/// One ref line with its peeled (`^<oid>`) lines, terminators included.
struct Entry<'a> {
    name: &'a [u8],
    lines: Vec<&'a [u8]>,
}

struct Parsed<'a> {
    header: Vec<&'a [u8]>,
    entries: Vec<Entry<'a>>,
}

impl Entry<'_> {
    fn is_own(&self) -> bool {
        self.name.starts_with(OWN_PREFIX)
    }
}

fn parse(bytes: &[u8]) -> Parsed<'_> {
    let mut parsed = Parsed { header: Vec::new(), entries: Vec::new() };
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"#") && parsed.entries.is_empty() {
            parsed.header.push(line);
        } else if let (true, Some(last)) = (line.starts_with(b"^"), parsed.entries.last_mut()) {
            last.lines.push(line);
        } else {
            parsed.entries.push(Entry { name: ref_name(line), lines: vec![line] });
        }
    }
    parsed
}

/// The ref name of `<oid> <name>\n`; an unparsable line is its own name (and never git-dispatch's).
fn ref_name(line: &[u8]) -> &[u8] {
    let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    match trimmed.iter().position(|b| *b == b' ') {
        Some(space) => &trimmed[space + 1..],
        None => trimmed,
    }
}

/// What must stay equal across a run: mode, header and every entry that is not git-dispatch's.
/// `None` when the file is absent or holds nothing but git-dispatch's own entries.
pub(crate) fn comparable(content: Option<&Content>) -> Option<Vec<u8>> {
    match content? {
        Content::File { bytes, mode } => {
            let parsed = parse(bytes);
            let foreign: Vec<u8> =
                parsed.entries.iter().filter(|e| !e.is_own()).flat_map(|e| e.lines.concat()).collect();
            if foreign.is_empty() {
                return None;
            }
            let mut out = format!("{mode:o}\n").into_bytes();
            out.extend(parsed.header.concat());
            out.extend(foreign);
            Some(out)
        }
        Content::Symlink { target } => Some(format!("symlink {}", target.display()).into_bytes()),
        Content::Special => Some(b"special".to_vec()),
    }
}

/// The file to write back: the header and foreign entries of `before`, plus git-dispatch's own
/// entries of `current`, sorted by ref name. `None` when the file should not exist.
pub(crate) fn merged(before: Option<&[u8]>, current: Option<&[u8]>) -> Option<Vec<u8>> {
    let before = before.map(parse);
    let current = current.map(parse);
    let mut entries: Vec<&Entry<'_>> = Vec::new();
    entries.extend(before.iter().flat_map(|p| p.entries.iter()).filter(|e| !e.is_own()));
    entries.extend(current.iter().flat_map(|p| p.entries.iter()).filter(|e| e.is_own()));
    if entries.is_empty() && before.is_none() {
        return None;
    }
    entries.sort_by(|a, b| a.name.cmp(b.name));
    let header = before.as_ref().or(current.as_ref()).map(|p| p.header.concat()).unwrap_or_default();
    let mut out = header;
    for entry in entries {
        out.extend(entry.lines.concat());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "# pack-refs with: peeled fully-peeled sorted \n";

    fn file(text: &str) -> Content {
        Content::File { bytes: text.as_bytes().to_vec(), mode: 0o644 }
    }

    #[test]
    fn own_entries_do_not_count() {
        let before = format!("{HEADER}1111 refs/heads/main\n");
        let after = format!("{HEADER}2222 refs/heads/dispatch/run-1\n1111 refs/heads/main\n");
        assert_eq!(comparable(Some(&file(&before))), comparable(Some(&file(&after))));
        let only_own = format!("{HEADER}2222 refs/heads/dispatch/run-1\n");
        assert_eq!(comparable(Some(&file(&only_own))), None);
    }

    #[test]
    fn foreign_changes_count() {
        let before = format!("{HEADER}1111 refs/heads/main\n");
        let moved = format!("{HEADER}3333 refs/heads/main\n");
        let peeled = format!("{HEADER}1111 refs/heads/main\n^4444\n");
        assert_ne!(comparable(Some(&file(&before))), comparable(Some(&file(&moved))));
        assert_ne!(comparable(Some(&file(&before))), comparable(Some(&file(&peeled))));
    }

    #[test]
    fn merge_keeps_current_own_entries() {
        let before = format!("{HEADER}1111 refs/heads/main\n5555 refs/tags/v1\n^6666\n");
        let current = format!("{HEADER}2222 refs/heads/dispatch/run-1\n9999 refs/heads/main\n");
        let merged = merged(Some(before.as_bytes()), Some(current.as_bytes())).expect("a file to write");
        let expected =
            format!("{HEADER}2222 refs/heads/dispatch/run-1\n1111 refs/heads/main\n5555 refs/tags/v1\n^6666\n");
        assert_eq!(String::from_utf8(merged).expect("utf-8"), expected);
    }

    #[test]
    fn merge_removes_a_created_file() {
        let current = format!("{HEADER}9999 refs/heads/main\n");
        assert_eq!(merged(None, Some(current.as_bytes())), None);
    }
}
