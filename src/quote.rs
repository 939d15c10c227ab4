//! Path quoting as git prints paths (git's `quote_c_style`), the one implementation for the patch,
//! the status snapshots and the diff stats: a path is put in double quotes, with C escapes, when a
//! byte is `"`, `\`, a control character or, with `core.quotePath` (the default), 0x80 or above;
//! `git status --short` also quotes (without escaping) a path that contains a space.

/// How a path is quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoting {
    /// `core.quotePath`: escape bytes >= 0x80 (default `true`).
    pub quote_high_bytes: bool,
    /// Quote (without escaping) a path that contains a space, as `git status --short` does.
    pub quote_space: bool,
}

impl Quoting {
    /// The repository's `core.quotePath` (default `true`); `quote_space` for the short status.
    pub fn of(repo: &gix::Repository, quote_space: bool) -> Quoting {
        let quote_high_bytes = repo.config_snapshot().boolean("core.quotePath").unwrap_or(true);
        Quoting { quote_high_bytes, quote_space }
    }
}

/// `path` as git would print it, as bytes (a path that needs no quoting is returned as it is,
/// invalid UTF-8 included, as git writes it into a patch).
pub fn quote(path: &[u8], quoting: Quoting) -> Vec<u8> {
    let must_escape = path.iter().any(|b| escape_of(*b, quoting.quote_high_bytes).is_some());
    if !must_escape {
        return if quoting.quote_space && path.contains(&b' ') {
            [b"\"".as_slice(), path, b"\""].concat()
        } else {
            path.to_vec()
        };
    }
    let mut out = Vec::with_capacity(path.len() + 2);
    out.push(b'"');
    for byte in path {
        match escape_of(*byte, quoting.quote_high_bytes) {
            Some(escape) => out.extend_from_slice(escape.as_bytes()),
            None => out.push(*byte),
        }
    }
    out.push(b'"');
    out
}

/// [`quote`] as text (for the status snapshots; invalid UTF-8 is replaced where it was not escaped).
pub fn quote_path(path: &[u8], quoting: Quoting) -> String {
    String::from_utf8_lossy(&quote(path, quoting)).into_owned()
}

/// git's `cq_lookup`: the escape for one byte, or `None` if it is printed as it is.
fn escape_of(byte: u8, quote_high_bytes: bool) -> Option<String> {
    let letter = match byte {
        0x07 => 'a',
        0x08 => 'b',
        b'\t' => 't',
        b'\n' => 'n',
        0x0b => 'v',
        0x0c => 'f',
        b'\r' => 'r',
        b'"' => '"',
        b'\\' => '\\',
        0x00..=0x1f | 0x7f => return Some(format!("\\{byte:03o}")),
        0x80..=0xff if quote_high_bytes => return Some(format!("\\{byte:03o}")),
        _ => return None,
    };
    Some(format!("\\{letter}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: Quoting = Quoting { quote_high_bytes: true, quote_space: true };
    const PLAIN: Quoting = Quoting { quote_high_bytes: true, quote_space: false };

    #[test]
    fn quotes_like_git() {
        assert_eq!(quote_path(b"src/a.rs", STATUS), "src/a.rs");
        assert_eq!(quote_path(b"a b.txt", STATUS), "\"a b.txt\"");
        assert_eq!(quote_path(b"a b.txt", PLAIN), "a b.txt");
        assert_eq!(quote_path("été.txt".as_bytes(), PLAIN), "\"\\303\\251t\\303\\251.txt\"");
        assert_eq!(quote_path(b"tab\there \"q\"", STATUS), "\"tab\\there \\\"q\\\"\"");
        assert_eq!(quote_path(b"x\x01\x7f", PLAIN), "\"x\\001\\177\"");
        let unquoted = Quoting { quote_high_bytes: false, quote_space: false };
        assert_eq!(quote_path("été".as_bytes(), unquoted), "été");
        assert_eq!(quote(b"a\xffb", unquoted), b"a\xffb".to_vec(), "bytes pass through as they are");
        assert_eq!(quote(b"quote\"d", PLAIN), b"\"quote\\\"d\"".to_vec());
    }
}
