//! The source files the source-checking tests read (one status, one walker, one spawner, one skip
//! helper, Linux only): every `.rs` file below a folder, found by a plain recursive listing (these
//! tests read the repository's own tree, not a user's).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Appends every `.rs` file below `dir` to `found`.
pub fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source folder") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}
