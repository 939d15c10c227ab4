//! `result.patch`: the base..result changes rendered as a `git apply`-able patch, byte-exact
//! (`git diff --binary --full-index -M` style): git headers with modes, renames and full index
//! lines, C-quoted odd paths, `\ No newline at end of file`, CRLF kept as bytes, binary files
//! as `GIT binary patch`, submodules as `Subproject commit` lines, type changes as delete + add.
//!
//! Content beyond [`INLINE_LIMIT`] (both sides of a file together) is not written into the patch:
//! the file's block ends with git's `Binary files a/x and b/x differ` after its full `index` line,
//! which `git apply` resolves from the object store (the result commit holds the blob), and which
//! `apply` never needs (it merges the commits). Such content is never loaded either: a multi-GB
//! file makes neither a multi-GB patch nor a multi-GB buffer.

mod binary;
mod hunks;

use crate::changes::{self, ChangeStatus, RawChange, Side};
use crate::quote::{quote, Quoting};
use anyhow::Context as _;
use gix::bstr::{BStr, ByteSlice};
use gix::objs::tree::EntryKind;
use gix::ObjectId;

/// The most content (old and new side of one file, in bytes) written into the patch; more is
/// left to the object store.
pub const INLINE_LIMIT: u64 = 8 * 1024 * 1024;

/// Renders the patch from `base` to `result` (commits or trees).
pub fn render(repo: &gix::Repository, base: ObjectId, result: ObjectId) -> anyhow::Result<Vec<u8>> {
    render_raw(repo, &changes::raw_changes(repo, base, result)?)
}

/// Renders already computed changes (from [`changes::raw_changes`], so the tree diff with rename
/// detection runs once for both the changed set and the patch).
pub fn render_raw(repo: &gix::Repository, changes: &[RawChange]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    // Paths are quoted as the repository's `git diff` quotes them (`core.quotePath`).
    let quoting = Quoting::of(repo, false);
    for change in changes {
        render_change(repo, change, quoting, &mut out)?;
    }
    Ok(out)
}

fn render_change(repo: &gix::Repository, change: &RawChange, q: Quoting, out: &mut Vec<u8>) -> anyhow::Result<()> {
    match (change.status, &change.old, &change.new) {
        (ChangeStatus::TypeChanged, Some(old), Some(new)) => {
            render_pair(repo, Some(old), None, None, q, out)?;
            render_pair(repo, None, Some(new), None, q, out)
        }
        (ChangeStatus::Renamed, old, new) => render_pair(repo, old.as_ref(), new.as_ref(), change.similarity, q, out),
        (_, old, new) => render_pair(repo, old.as_ref(), new.as_ref(), None, q, out),
    }
}

/// One `diff --git` block. A missing side is `/dev/null`; `similarity` marks a rename.
fn render_pair(
    repo: &gix::Repository,
    old: Option<&Side>,
    new: Option<&Side>,
    similarity: Option<u8>,
    quoting: Quoting,
    out: &mut Vec<u8>,
) -> anyhow::Result<()> {
    let path_a = old.or(new).map(|s| s.path.as_bstr()).expect("a change has a side");
    let path_b = new.or(old).map(|s| s.path.as_bstr()).expect("a change has a side");
    let name_a = quote_with_prefix("a/", path_a, quoting);
    let name_b = quote_with_prefix("b/", path_b, quoting);
    line(out, &[b"diff --git ", &name_a, b" ", &name_b]);
    write_mode_lines(old, new, out);
    if let (Some(pct), Some(o), Some(n)) = (similarity, old, new) {
        line(out, &[format!("similarity index {pct}%").as_bytes()]);
        line(out, &[b"rename from ", &quote(&o.path, quoting)]);
        line(out, &[b"rename to ", &quote(&n.path, quoting)]);
    }
    let old_id = old.map(|s| s.id);
    let new_id = new.map(|s| s.id);
    if old_id == new_id {
        return Ok(());
    }
    let null = ObjectId::null(gix::hash::Kind::Sha1);
    let mut index = format!("index {}..{}", old_id.unwrap_or(null), new_id.unwrap_or(null));
    if let (Some(o), Some(n)) = (old, new) {
        if o.mode == n.mode {
            index.push_str(&format!(" {}", changes::mode_string(o.mode)));
        }
    }
    line(out, &[index.as_bytes()]);
    let label_a = if old.is_some() { name_a } else { b"/dev/null".to_vec() };
    let label_b = if new.is_some() { name_b } else { b"/dev/null".to_vec() };
    if size_of(repo, old)?.saturating_add(size_of(repo, new)?) > INLINE_LIMIT {
        line(out, &[b"Binary files ", &label_a, b" and ", &label_b, b" differ"]);
        return Ok(());
    }
    let old_data = content(repo, old)?;
    let new_data = content(repo, new)?;
    if is_binary(&old_data) || is_binary(&new_data) {
        binary::write_binary_patch(out, &old_data, &new_data);
        return Ok(());
    }
    if old_data.is_empty() && new_data.is_empty() {
        return Ok(());
    }
    file_label(out, b"--- ", &label_a);
    file_label(out, b"+++ ", &label_b);
    hunks::write_hunks(out, &old_data, &new_data);
    Ok(())
}

fn write_mode_lines(old: Option<&Side>, new: Option<&Side>, out: &mut Vec<u8>) {
    match (old, new) {
        (None, Some(n)) => line(out, &[b"new file mode ", changes::mode_string(n.mode).as_bytes()]),
        (Some(o), None) => line(out, &[b"deleted file mode ", changes::mode_string(o.mode).as_bytes()]),
        (Some(o), Some(n)) if o.mode != n.mode => {
            line(out, &[b"old mode ", changes::mode_string(o.mode).as_bytes()]);
            line(out, &[b"new mode ", changes::mode_string(n.mode).as_bytes()]);
        }
        _ => {}
    }
}

/// `--- a/name`, with git's trailing tab when the name contains a space.
fn file_label(out: &mut Vec<u8>, marker: &[u8], name: &[u8]) {
    out.extend_from_slice(marker);
    out.extend_from_slice(name);
    if name.contains(&b' ') {
        out.push(b'\t');
    }
    out.push(b'\n');
}

fn line(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        out.extend_from_slice(part);
    }
    out.push(b'\n');
}

/// The size of a side's blob from its object header (0 for a gitlink or a missing side).
fn size_of(repo: &gix::Repository, side: Option<&Side>) -> anyhow::Result<u64> {
    match side {
        Some(side) if side.mode.kind() != EntryKind::Commit => Ok(repo
            .find_header(side.id)
            .with_context(|| format!("reading the size of blob {} of {}", side.id, side.path))?
            .size()),
        _ => Ok(0),
    }
}

/// The bytes a side contributes to the diff: blob data, or `Subproject commit <id>` for gitlinks.
fn content(repo: &gix::Repository, side: Option<&Side>) -> anyhow::Result<Vec<u8>> {
    let Some(side) = side else {
        return Ok(Vec::new());
    };
    if side.mode.kind() == EntryKind::Commit {
        return Ok(format!("Subproject commit {}\n", side.id).into_bytes());
    }
    let object = repo.find_object(side.id).with_context(|| format!("reading blob {} of {}", side.id, side.path))?;
    Ok(object.detach().data)
}

/// Content that cannot travel as text lines: any NUL byte.
fn is_binary(data: &[u8]) -> bool {
    data.contains(&0)
}

/// `prefix + path`, C-quoted as a whole when the path needs it (git's `quote_two`).
fn quote_with_prefix(prefix: &str, path: &BStr, quoting: Quoting) -> Vec<u8> {
    let mut joined = prefix.as_bytes().to_vec();
    joined.extend_from_slice(path);
    quote(&joined, quoting)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_with_their_prefix_as_git_quotes_them() {
        let quoted = Quoting { quote_high_bytes: true, quote_space: false };
        let q =
            |s: &[u8], quoting| String::from_utf8_lossy(&quote_with_prefix("a/", s.as_bstr(), quoting)).into_owned();
        assert_eq!(q(b"plain/path with space.txt", quoted), "a/plain/path with space.txt");
        assert_eq!(q(b"x\ty", quoted), "\"a/x\\ty\"");
        assert_eq!(q("caf\u{e9}".as_bytes(), quoted), "\"a/caf\\303\\251\"");
        let raw = Quoting { quote_high_bytes: false, quote_space: false };
        assert_eq!(q("caf\u{e9}".as_bytes(), raw), "a/caf\u{e9}", "core.quotePath=false");
    }

    #[test]
    fn labels_with_spaces_get_a_tab() {
        let mut out = Vec::new();
        file_label(&mut out, b"--- ", b"a/read me.txt");
        file_label(&mut out, b"+++ ", b"b/x");
        assert_eq!(out, b"--- a/read me.txt\t\n+++ b/x\n");
    }
}
