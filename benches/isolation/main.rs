//! The isolation benchmark (issue 3 item 9): synthetic repositories of 1k/10k/100k files, and for
//! each, several repetitions (median) of cold worktree creation, warm reuse, snapshot + changed
//! set + patch after 30 edits and removal, against the git CLI measured in the same run; peak
//! memory; a CSV, a Markdown table and an SVG chart. Run it with `scripts/bench` (see BENCH.md).
//!
//! `cargo bench --bench isolation -- [--sizes 1000,10000,100000] [--reps N] [--out DIR] [--work DIR]
//! [--ops cold,warm,snapshot,removal,breakdown]`

mod gitcli;
mod measure;
mod ops;
mod report;
mod synth;

use std::path::PathBuf;

struct Args {
    sizes: Vec<usize>,
    reps: usize,
    out: PathBuf,
    work: Option<PathBuf>,
    /// Only the operations whose name contains one of these (all when empty).
    ops: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        sizes: vec![1_000, 10_000, 100_000],
        reps: 5,
        out: PathBuf::from("target/bench-isolation"),
        work: None,
        ops: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--sizes" => args.sizes = value().split(',').map(|s| s.trim().parse().expect("a file count")).collect(),
            "--reps" => args.reps = value().parse().expect("a repetition count"),
            "--out" => args.out = PathBuf::from(value()),
            "--work" => args.work = Some(PathBuf::from(value())),
            "--ops" => args.ops = value().split(',').map(str::to_string).collect(),
            "--bench" => {}
            other => panic!("unknown argument {other}; see benches/isolation/main.rs"),
        }
    }
    assert!(args.reps >= 1, "--reps must be at least 1");
    args
}

fn main() {
    let args = parse_args();
    let scratch = match &args.work {
        Some(dir) => {
            std::fs::create_dir_all(dir).expect("create work dir");
            tempfile::tempdir_in(dir).expect("temp dir")
        }
        None => tempfile::tempdir().expect("temp dir"),
    };
    let home = scratch.path().join("home");
    std::fs::create_dir_all(&home).expect("create home");
    gitcli::make_env_hermetic(&home);
    let mut samples = Vec::new();
    for &size in &args.sizes {
        let work = scratch.path().join(format!("n{size}"));
        eprintln!("[bench] {size} files: generating");
        let (main, next) = synth::create_repo(&work.join("repo"), size);
        // Large repositories take minutes per repetition: at most three there.
        let reps = if size >= 50_000 { args.reps.min(3) } else { args.reps };
        let bench = ops::Bench { size, repo: work.join("repo"), work: work.clone(), main, next, reps };
        for (name, op) in [
            ("cold create", ops::cold_create as fn(&ops::Bench) -> Vec<ops::Sample>),
            ("cold create breakdown", ops::cold_breakdown),
            ("warm reuse", ops::warm_reuse),
            ("snapshot", ops::snapshot_after_edits),
            ("removal", ops::removal),
        ] {
            if !args.ops.is_empty() && !args.ops.iter().any(|o| name.contains(o.as_str())) {
                continue;
            }
            eprintln!("[bench] {size} files: {name}");
            samples.extend(op(&bench));
        }
        std::fs::remove_dir_all(&work).expect("clean up");
    }
    std::fs::create_dir_all(&args.out).expect("create output dir");
    std::fs::write(args.out.join("isolation.csv"), report::csv(&samples)).expect("write csv");
    std::fs::write(args.out.join("isolation.md"), report::markdown(&samples)).expect("write markdown");
    std::fs::write(args.out.join("isolation.svg"), report::svg(&samples)).expect("write svg");
    println!("{}", report::text(&samples));
    println!("wrote {}/isolation.{{csv,md,svg}}", args.out.display());
}
