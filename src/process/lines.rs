//! Splitting a byte stream into lines with a cap on the memory one line may take.

/// Collects bytes into lines; a line longer than the cap keeps its first `cap` bytes.
pub(super) struct LineSplitter {
    line: Vec<u8>,
    cap: usize,
    overflowed: bool,
    truncated_lines: usize,
}

impl LineSplitter {
    pub(super) fn new(cap: usize) -> LineSplitter {
        LineSplitter { line: Vec::new(), cap, overflowed: false, truncated_lines: 0 }
    }

    /// Feeds `chunk`; every completed line (without its `\n`) goes to `emit`.
    pub(super) fn feed(&mut self, chunk: &[u8], emit: &mut dyn FnMut(&[u8])) {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&byte| byte == b'\n') {
            self.push(&rest[..end]);
            self.emit_line(emit);
            rest = &rest[end + 1..];
        }
        self.push(rest);
    }

    /// Emits a last line that had no `\n`.
    pub(super) fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.line.is_empty() || self.overflowed {
            self.emit_line(emit);
        }
    }

    pub(super) fn truncated_lines(&self) -> usize {
        self.truncated_lines
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = self.cap.saturating_sub(self.line.len());
        if bytes.len() > room {
            self.overflowed = true;
        }
        self.line.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    fn emit_line(&mut self, emit: &mut dyn FnMut(&[u8])) {
        emit(&self.line);
        if self.overflowed {
            self.truncated_lines += 1;
        }
        self.line.clear();
        self.overflowed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::LineSplitter;

    fn split(chunks: &[&[u8]], cap: usize) -> (Vec<Vec<u8>>, usize) {
        let mut splitter = LineSplitter::new(cap);
        let mut lines = Vec::new();
        let mut emit = |line: &[u8]| lines.push(line.to_vec());
        for chunk in chunks {
            splitter.feed(chunk, &mut emit);
        }
        splitter.finish(&mut emit);
        (lines, splitter.truncated_lines())
    }

    #[test]
    fn lines_across_chunks_are_joined() {
        let (lines, truncated) = split(&[b"ab", b"c\nd", b"e\n\nf"], 100);
        assert_eq!(lines, vec![b"abc".to_vec(), b"de".to_vec(), b"".to_vec(), b"f".to_vec()]);
        assert_eq!(truncated, 0);
    }

    #[test]
    fn a_line_beyond_the_cap_is_cut_and_counted() {
        let (lines, truncated) = split(&[b"0123", b"456789\nok\n"], 4);
        assert_eq!(lines, vec![b"0123".to_vec(), b"ok".to_vec()]);
        assert_eq!(truncated, 1);
    }

    #[test]
    fn no_trailing_newline_means_no_empty_last_line() {
        let (lines, _) = split(&[b"a\n"], 10);
        assert_eq!(lines, vec![b"a".to_vec()]);
    }
}
