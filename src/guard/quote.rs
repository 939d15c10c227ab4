//! Path quoting as git prints paths: C-style quotes with octal escapes for control characters and
//! (with `core.quotePath`, the default) every byte from 0x80 up; `git status --short` also puts
//! paths that contain a space in quotes.

/// How a path is quoted.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quoting {
    /// `core.quotePath`: escape bytes >= 0x80 (default `true`).
    pub(crate) quote_high_bytes: bool,
    /// Quote (without escaping) a path that contains a space, as `git status --short` does.
    pub(crate) quote_space: bool,
}

/// `path` as git would print it.
pub(crate) fn quote_path(path: &[u8], quoting: Quoting) -> String {
    let must_quote = path.iter().any(|b| escape_of(*b, quoting.quote_high_bytes).is_some());
    if !must_quote {
        let text = String::from_utf8_lossy(path);
        return if quoting.quote_space && path.contains(&b' ') { format!("\"{text}\"") } else { text.into_owned() };
    }
    let mut out = String::with_capacity(path.len() + 2);
    out.push('"');
    let mut plain_start = 0;
    for (i, byte) in path.iter().enumerate() {
        if let Some(escape) = escape_of(*byte, quoting.quote_high_bytes) {
            out.push_str(&String::from_utf8_lossy(&path[plain_start..i]));
            out.push_str(&escape);
            plain_start = i + 1;
        }
    }
    out.push_str(&String::from_utf8_lossy(&path[plain_start..]));
    out.push('"');
    out
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
    }
}
