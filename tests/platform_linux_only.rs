//! git-dispatch is Linux only (README "Platforms"): no source file under src/ carries a branch for
//! another platform (`cfg(unix)`, `cfg(windows)`, `cfg(not(target_os = "linux"))`, ...), which
//! could only return made-up answers, and the library refuses to build elsewhere.

use std::path::Path;

#[path = "support/sources.rs"]
mod sources;
use sources::sources;

#[test]
fn no_source_file_has_a_branch_for_another_platform() {
    let platform_cfg = [
        "cfg(unix",
        "cfg(windows",
        "cfg(not(unix",
        "cfg(not(windows",
        "cfg(target_os",
        "cfg(not(target_os",
        "cfg(any(unix",
        "cfg(all(unix",
    ];
    let mut offenders = Vec::new();
    for (rela, text) in sources("src") {
        for (number, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if platform_cfg.iter().any(|cfg| code.contains(cfg)) {
                offenders.push(format!("{rela}:{}: {code}", number + 1));
            }
        }
    }
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).expect("lib.rs");
    let guard = lib.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    assert!(guard.contains("compile_error!"), "lib.rs refuses other targets");
    offenders.retain(|line| !line.starts_with("lib.rs:"));
    assert_eq!(offenders, Vec::<String>::new(), "platform branches in src/");
}
