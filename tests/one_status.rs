//! One status of a checkout (issue 21 item 2): every gix status pass of git-dispatch (the guard's
//! audit, the workspace's scans, the hand-back's dirty paths) goes through `src/checkout_status.rs`,
//! with the options each caller needs; no other file starts one (nor a gix directory walk alone).

use std::path::Path;

#[path = "support/sources.rs"]
mod sources;
use sources::rust_files;

#[test]
fn every_status_pass_goes_through_checkout_status() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut offenders = Vec::new();
    for file in &files {
        let rela = file.strip_prefix(&src).expect("below src").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).expect("source file");
        if rela != "checkout_status.rs" && (text.contains(".status(gix::progress") || text.contains(".dirwalk(")) {
            offenders.push(rela);
        }
    }
    assert!(offenders.is_empty(), "use crate::checkout_status for a status pass: {offenders:?}");
}
