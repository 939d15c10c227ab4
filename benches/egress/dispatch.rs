//! Whole-dispatch overhead of `--network api` over `--network allow`: a warm dispatch (a worktree
//! from the pool) of a small repository with the no-op fake agent, under bubblewrap and under
//! Landlock (each where it works), the four variants interleaved `reps` times; medians of the
//! wall time and of run.json's `sandbox` (plan and proxy start) and `agent` stages.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// A hermetic command of the binary under test.
fn git_dispatch(root: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_git-dispatch"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root.join("home"))
        .env("XDG_CACHE_HOME", root.join("cache"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_DISPATCH_WORKTREES", root.join("worktrees"))
        .env("GIT_DISPATCH_CODEX_BIN", env!("CARGO_BIN_EXE_fake-agent"))
        .env("GIT_DISPATCH_USAGE_URL", "http://127.0.0.1:9/unreachable")
        .current_dir(root.join("repo"));
    command
}

fn git(repo: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=Bench", "-c", "user.email=bench@example.test"])
        .args(args)
        .current_dir(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn setup(root: &Path) -> std::path::PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(repo.join("src")).expect("repo");
    std::fs::create_dir_all(root.join("home")).expect("home");
    for i in 0..8 {
        std::fs::write(repo.join(format!("src/f{i}.txt")), format!("file {i}\n")).expect("file");
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    let packet = root.join("task.md");
    let text = format!(
        "MODE: worker\nWORKDIR: {}\nOBJECTIVE: Nothing.\n\nWRITE SCOPE:\n- src/\n\nNON-GOALS:\n- None.\n\n\
         VERIFICATION:\n- true\n\nDELIVERABLE:\n- Nothing.\n",
        repo.display()
    );
    std::fs::write(&packet, text).expect("packet");
    packet
}

/// One dispatch: wall milliseconds, and run.json's `sandbox` and `agent` stage milliseconds.
fn once(root: &Path, packet: &Path, sandbox: &str, network: &str) -> (f64, f64, f64) {
    let started = Instant::now();
    let output = git_dispatch(root)
        .args(["run", "--quiet", "--sandbox", sandbox, "--network", network, "--task"])
        .arg(packet)
        .output()
        .expect("git-dispatch runs");
    let wall = started.elapsed().as_secs_f64() * 1e3;
    assert!(output.status.code().is_some_and(|code| code <= 3), "{}", String::from_utf8_lossy(&output.stderr));
    let run_dir = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_string();
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(&run_dir).join("run.json")).expect("run.json")).expect("JSON");
    let stage = |name: &str| run["durations_ms"][name].as_f64().unwrap_or(0.0);
    (wall, stage("sandbox"), stage("agent"))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

pub fn overhead(reps: usize) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let packet = setup(dir.path());
    let mut sandboxes = Vec::new();
    if git_dispatch::sandbox::bwrap_usable().is_ok() {
        sandboxes.push("bwrap");
    }
    if git_dispatch::sandbox::landlock_support().is_ok_and(|abi| abi >= 4) {
        sandboxes.push("landlock");
    }
    let variants: Vec<(&str, &str)> =
        sandboxes.iter().flat_map(|sandbox| [(*sandbox, "allow"), (*sandbox, "api")]).collect();
    for (sandbox, network) in &variants {
        once(dir.path(), &packet, sandbox, network); // the pool filled, the caches warm
    }
    let mut samples: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); variants.len()];
    for _ in 0..reps {
        for (index, (sandbox, network)) in variants.iter().enumerate() {
            samples[index].push(once(dir.path(), &packet, sandbox, network));
        }
    }
    let mut out = format!(
        "Whole dispatch, warm, small repository, no-op fake agent, medians of {reps} interleaved runs, \
         milliseconds:\n\n| sandbox | network | dispatch | sandbox stage | agent stage |\n|---|---|---:|---:|---:|\n"
    );
    for ((sandbox, network), runs) in variants.iter().zip(samples) {
        let column = |pick: fn(&(f64, f64, f64)) -> f64| median(&mut runs.iter().map(pick).collect::<Vec<_>>());
        out.push_str(&format!(
            "| {sandbox} | {network} | {:.1} | {:.1} | {:.1} |\n",
            column(|run| run.0),
            column(|run| run.1),
            column(|run| run.2)
        ));
    }
    out
}
