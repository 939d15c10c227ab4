//! Deterministic synthetic repositories for the benchmark: `n` text files (~800 bytes each on
//! average, 16 per directory, two directory levels) imported with `git fast-import` as one
//! commit on `main`, plus a second commit `next` that changes 30 of them. The main checkout is
//! left unpopulated (the benchmark never reads it).

use crate::gitcli::{git, git_stdin};
use std::fmt::Write as _;
use std::path::Path;

/// Files per directory.
const PER_DIR: usize = 16;

/// Path of file `i`.
pub fn file_path(i: usize) -> String {
    let dir = i / PER_DIR;
    format!("m{:03}/d{:03}/f{:06}.txt", dir / 64, dir % 64, i)
}

/// A small deterministic PRNG (64-bit LCG).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

const WORDS: &[&str] = &[
    "fn", "let", "mut", "self", "value", "index", "tree", "commit", "worktree", "status", "return", "match", "error",
    "path", "config", "branch", "result", "change", "patch", "state",
];

/// Content of file `i` (revision `rev`): 4..36 lines of 6..12 words, ~800 bytes on average.
pub fn content(i: usize, rev: u32) -> String {
    let mut rng = Lcg::new((i as u64) << 8 | u64::from(rev));
    let lines = 4 + rng.next() % 33;
    let mut out = String::new();
    for line in 0..lines {
        let words = 6 + rng.next() % 7;
        let _ = write!(out, "{line:03}");
        for _ in 0..words {
            out.push(' ');
            out.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
        }
        out.push('\n');
    }
    if rev > 0 {
        let _ = writeln!(out, "revision {rev}");
    }
    out
}

/// Creates the repository at `dir` with `n` files; returns `(main, next)` commit ids.
pub fn create_repo(dir: &Path, n: usize) -> (String, String) {
    std::fs::create_dir_all(dir).expect("create repo dir");
    git(dir, &["init", "-q", "-b", "main", "."]);
    let mut stream = Vec::with_capacity(n * 900);
    for i in 0..n {
        blob(&mut stream, i + 1, content(i, 0).as_bytes());
    }
    commit(&mut stream, "refs/heads/main", "synthetic base", None, (0..n).map(|i| (file_path(i), i + 1)));
    let changed: Vec<usize> = (0..30).map(|k| (k * 7919 + 13) % n).collect();
    for (k, i) in changed.iter().enumerate() {
        blob(&mut stream, n + 1 + k, content(*i, 1).as_bytes());
    }
    let edits = changed.iter().enumerate().map(|(k, i)| (file_path(*i), n + 1 + k));
    commit(&mut stream, "refs/heads/next", "thirty edits", Some("refs/heads/main"), edits);
    git_stdin(dir, &["fast-import", "--quiet"], &stream);
    let main = git(dir, &["rev-parse", "main"]).trim().to_string();
    let next = git(dir, &["rev-parse", "next"]).trim().to_string();
    (main, next)
}

fn blob(out: &mut Vec<u8>, mark: usize, data: &[u8]) {
    out.extend_from_slice(format!("blob\nmark :{mark}\ndata {}\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.push(b'\n');
}

fn commit(
    out: &mut Vec<u8>,
    reference: &str,
    message: &str,
    from: Option<&str>,
    files: impl Iterator<Item = (String, usize)>,
) {
    let who = "Bench <bench@localhost> 1767225600 +0000";
    out.extend_from_slice(
        format!("commit {reference}\nauthor {who}\ncommitter {who}\ndata {}\n{message}\n", message.len()).as_bytes(),
    );
    if let Some(from) = from {
        out.extend_from_slice(format!("from {from}\n").as_bytes());
    }
    for (path, mark) in files {
        out.extend_from_slice(format!("M 100644 :{mark} {path}\n").as_bytes());
    }
    out.push(b'\n');
}
