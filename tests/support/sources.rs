//! The source files the source-checking tests read (one status, one walker, one spawner, one skip
//! helper, Linux only): every `.rs` file below a folder of the crate, with its text, found by a
//! plain recursive listing (these tests read the repository's own tree, not a user's).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Every `.rs` file below `folder` of the crate (`src`, `tests`): its path relative to that
/// folder (with `/`) and its text, sorted by path.
pub fn sources(folder: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .iter()
        .map(|file| {
            let relative = file.strip_prefix(&root).expect("below the folder").to_string_lossy().into_owned();
            (relative, std::fs::read_to_string(file).expect("a source file"))
        })
        .collect()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source folder") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}
