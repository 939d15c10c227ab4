//! Checks on path names alone: `.git` components in any disguise (case, HFS+ ignorable code points,
//! NTFS short names and trailing dots), control characters, names that are not UTF-8, and the
//! case-folded key that finds paths colliding on a case-insensitive filesystem.

use gix::bstr::{BStr, ByteSlice};

/// The code points HFS+ ignores when it compares names (git's `is_hfs_dotgit` list).
const IGNORABLE: &[u32] = &[
    0x200c, 0x200d, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x206a, 0x206b, 0x206c, 0x206d, 0x206e,
    0x206f, 0xfeff,
];

fn is_ignorable(c: char) -> bool {
    IGNORABLE.contains(&(c as u32))
}

/// The components of a tree path; `\` separates too, as it does on Windows.
fn components(path: &BStr) -> impl Iterator<Item = &BStr> {
    path.split(|b| *b == b'/' || *b == b'\\').map(|c| c.as_bstr())
}

/// Is this one component a `.git` directory on some filesystem (`.GIT`, `.g\u{200c}it`, `git~1`,
/// `.git.`, `.git::$INDEX_ALLOCATION`)?
pub fn is_dot_git(component: &BStr) -> bool {
    use gix::validate::path::component::{Error, Options};
    let options = Options { protect_windows: false, protect_hfs: true, protect_ntfs: true };
    let stream = component.get(..5).is_some_and(|head| head.eq_ignore_ascii_case(b".git:"));
    stream || matches!(gix::validate::path::component(component, None, options), Err(Error::DotGitDir))
}

/// Why `path` is a `git-path` change, if it is: a `.git` component in any disguise, or a component
/// with code points HFS+ ignores.
pub fn git_path_problem(path: &BStr) -> Option<String> {
    for component in components(path) {
        if is_dot_git(component) {
            return Some(format!("`{}` has a `.git` component (`{}`)", show(path), show(component)));
        }
    }
    let ignorable = path.chars().find(|c| is_ignorable(*c))?;
    Some(format!(
        "`{}` contains the ignorable code point U+{:04X}, which HFS+ drops from names",
        show(path),
        ignorable as u32
    ))
}

/// Why `path` is a `control-char` change, if it is: a control character in it (C0 such as NUL,
/// CR, LF, tab or ESC, DEL, or C1), or bytes that are not UTF-8.
pub fn control_char_problem(path: &BStr) -> Option<String> {
    let named = [(b'\0', "NUL"), (b'\r', "CR"), (b'\n', "LF")];
    if let Some((_, name)) = named.iter().find(|(byte, _)| path.contains(byte)) {
        return Some(format!("`{}` contains a {name} character", show(path)));
    }
    if let Some(control) = path.to_str_lossy().chars().find(|c| c.is_control()) {
        let mut shown = String::new();
        crate::escape::escape_char(&mut shown, control, false);
        return Some(format!("`{}` contains the control character {shown}", show(path)));
    }
    path.to_str().is_err().then(|| format!("`{}` is not valid UTF-8", show(path)))
}

/// Is the last component of `path` equal to `name` on a case-insensitive or NTFS filesystem
/// (case, trailing dots and spaces, HFS+ ignorable code points, the 8.3 short name `short`)?
pub fn is_special_file(path: &BStr, name: &str, short: &str) -> bool {
    let last = components(path).last().unwrap_or_default();
    let cleaned: String = last.to_str_lossy().chars().filter(|c| !is_ignorable(*c)).collect();
    let trimmed = cleaned.trim_end_matches([' ', '.']);
    trimmed.eq_ignore_ascii_case(name) || trimmed.eq_ignore_ascii_case(short)
}

/// The key two paths share when a case-insensitive filesystem sees them as one name.
pub fn fold(path: &BStr) -> String {
    path.to_str_lossy().chars().filter(|c| !is_ignorable(*c)).flat_map(char::to_lowercase).collect()
}

/// `path` for a one-line message: control and invisible characters escaped, bytes that are not
/// UTF-8 as `\xNN` ([`crate::escape::bytes`]).
pub fn show(path: &BStr) -> String {
    crate::escape::bytes(path)
}
