//! `GIT binary patch` hunks: zlib-deflated content, base85-encoded in lines of up to 52 bytes,
//! as `git diff --binary` writes them (literal form, forward and reverse).

use std::io::Write as _;

const EN85: &[u8; 85] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";

/// Appends `GIT binary patch` with a literal forward hunk (`new`) and reverse hunk (`old`).
pub fn write_binary_patch(out: &mut Vec<u8>, old: &[u8], new: &[u8]) {
    out.extend_from_slice(b"GIT binary patch\n");
    write_literal(out, new);
    write_literal(out, old);
}

fn write_literal(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("literal {}\n", data.len()).as_bytes());
    for chunk in deflate(data).chunks(52) {
        out.push(length_char(chunk.len()));
        encode_85(out, chunk);
        out.push(b'\n');
    }
    out.push(b'\n');
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// `A`..`Z` for 1..26 bytes, `a`..`z` for 27..52.
fn length_char(len: usize) -> u8 {
    debug_assert!((1..=52).contains(&len));
    if len <= 26 {
        b'A' + len as u8 - 1
    } else {
        b'a' + (len - 26) as u8 - 1
    }
}

/// git's base85: each group of 4 bytes (zero-padded) becomes 5 characters.
fn encode_85(out: &mut Vec<u8>, data: &[u8]) {
    for group in data.chunks(4) {
        let mut acc: u32 = 0;
        for (i, byte) in group.iter().enumerate() {
            acc |= u32::from(*byte) << (24 - 8 * i);
        }
        let mut chars = [0u8; 5];
        for slot in chars.iter_mut().rev() {
            *slot = EN85[(acc % 85) as usize];
            acc /= 85;
        }
        out.extend_from_slice(&chars);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_literal_matches_git() {
        let mut out = Vec::new();
        write_literal(&mut out, b"");
        assert_eq!(String::from_utf8(out).unwrap(), "literal 0\nHcmV?d00001\n\n");
    }

    #[test]
    fn base85_of_known_bytes() {
        let mut out = Vec::new();
        encode_85(&mut out, &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(out, b"00000|NsC0");
        assert_eq!(length_char(1), b'A');
        assert_eq!(length_char(26), b'Z');
        assert_eq!(length_char(27), b'a');
        assert_eq!(length_char(52), b'z');
    }
}
