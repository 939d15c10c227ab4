//! One status of a checkout (issue 21 item 2): every gix status pass of git-dispatch (the guard's
//! audit, the workspace's scans, the hand-back's dirty paths) goes through `src/checkout_status.rs`,
//! with the options each caller needs; no other file starts one (nor a gix directory walk alone).

#[path = "support/sources.rs"]
mod sources;
use sources::sources;

#[test]
fn every_status_pass_goes_through_checkout_status() {
    let mut offenders = Vec::new();
    for (rela, text) in sources("src") {
        if rela != "checkout_status.rs" && (text.contains(".status(gix::progress") || text.contains(".dirwalk(")) {
            offenders.push(rela);
        }
    }
    assert!(offenders.is_empty(), "use crate::checkout_status for a status pass: {offenders:?}");
}
