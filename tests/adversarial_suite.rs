//! The adversarial suite (issue 7 item 5): hostile agent behaviours played by the fake agent, each
//! dispatched through the binary, table-driven. Every case asserts: the exit code (3: flagged,
//! nothing offered) where the behaviour is detectable, the user's git dir byte-identical after the
//! run (restored where it was written), that no planted payload ran (during the run, in the user's
//! next `git status`, in a later dispatch, in `clean` when it exists), and that no process the agent
//! started is left.
//!
//! Every case runs in three modes ([`Mode`]). `--sandbox none`: blocking turns into flagging;
//! writes outside the git dir (the checkout, the home folder, /dev/shm, /var/tmp) cannot be undone
//! there: those cases SAY so (`Escape`) rather than assert it. `--sandbox bwrap` (when bwrap works
//! here, probed once: policy.json `sandbox.kind`): those writes are refused and no process outlives
//! the agent. `--sandbox landlock` (when the kernel enforces Landlock): those writes are refused
//! too, and the trampoline's supervisor (a child subreaper) kills every descendant, also one that
//! left the agent's group (setsid). What Landlock lets through and the run
//! flags and undoes instead (the worktree's `.git` file, the agent's configuration files) is
//! asserted in `sandbox_landlock.rs`.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};
use support::cli::{command, dispatch, printed_run_dir, read_json, stderr, write_packet};
use support::fixtures::{fixture, Fixture};
use support::git::{git_output, tree_fingerprint};

/// What a behaviour does beyond the worktree and the git dir, which only a sandbox can stop.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Escape {
    /// Nothing: the behaviour is flagged (exit 3) with or without a sandbox.
    None,
    /// It writes the user's checkout: flagged (exit 3), but not undone without a sandbox.
    Checkout,
    /// It writes outside the repository (home, /dev/shm, /var/tmp): without a sandbox this is
    /// neither detected nor undone; under bwrap the write is refused.
    Undetectable,
    /// It leaves a process behind (setsid): without a sandbox it may survive the run (the test
    /// kills it); bwrap (`--unshare-pid --die-with-parent`) and Landlock (the supervisor, a child
    /// subreaper) end it.
    Survives,
}

/// The confinement a case runs under.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    None,
    Bwrap,
    Landlock,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::None => "none",
            Mode::Bwrap => "bwrap",
            Mode::Landlock => "landlock",
        }
    }

    /// Writes outside the worktree, the private TMPDIR and the agent's state are refused.
    fn confines_writes(self) -> bool {
        self != Mode::None
    }

    /// No descendant of the agent outlives it (bwrap: a pid namespace that dies with the agent;
    /// Landlock: the trampoline's supervisor, a child subreaper, kills the whole tree).
    fn ends_every_descendant(self) -> bool {
        self != Mode::None
    }

    /// Where the agent's process steps write their pids (`@PIDS@`): a place the agent can write
    /// and whose pids are the host's. Under bwrap, pids are the namespace's and the root is
    /// read-only, so the pid file stays unwritten (`sandbox_confinement.rs` finds bwrap's
    /// survivors by their command line instead).
    fn pid_file(self, fx: &Fixture) -> PathBuf {
        match self {
            Mode::None | Mode::Bwrap => fx.root.join("pids"),
            Mode::Landlock => fx.root.join("cache/pids"),
        }
    }

    /// The modes this machine can run, `none` first.
    fn available() -> Vec<Mode> {
        let mut modes = vec![Mode::None];
        if bwrap_supported() {
            modes.push(Mode::Bwrap);
        } else {
            support::skip::skip("bwrap", "the bwrap mode of the suite: `--sandbox bwrap` does not run here");
        }
        match git_dispatch::sandbox::landlock_support() {
            Ok(_) => modes.push(Mode::Landlock),
            Err(reason) => support::skip::skip("landlock", &format!("the Landlock mode of the suite: {reason}")),
        }
        modes
    }
}

/// One hostile behaviour. Plan placeholders: `@ROOT@` the fixture's temp folder, `@REPO@` the
/// user's checkout, `@GIT@` its git dir, `@HOME@` the HOME, `@PAYLOAD@` a script that touches
/// `@ROOT@/PWNED`, `@TAG@` a name unique to the run (for /dev/shm and /var/tmp), `@PIDS@` the
/// mode's pid file ([`Mode::pid_file`]).
struct Hostile {
    name: &'static str,
    plan: Value,
    escape: Escape,
    /// Where an `Undetectable` behaviour writes (checked absent under a sandbox).
    writes: Option<&'static str>,
    /// KNOWN GAP found by this suite, owned elsewhere: the case must fail with this text (so the
    /// test notices when it is fixed and the case can be tightened).
    known_gap: Option<&'static str>,
}

fn hostile(name: &'static str, plan: Value) -> Hostile {
    Hostile { name, plan, escape: Escape::None, writes: None, known_gap: None }
}

#[allow(dead_code)] // no case documents a gap today; kept for the next one found
fn known_gap(mut h: Hostile, text: &'static str) -> Hostile {
    h.known_gap = Some(text);
    h
}

fn with(mut h: Hostile, escape: Escape, writes: Option<&'static str>) -> Hostile {
    h.escape = escape;
    h.writes = writes;
    h
}

fn shell(cmd: &str) -> Value {
    json!({"step": "shell", "cmd": cmd})
}

fn write(path: &str, content: &str) -> Value {
    json!({"step": "write", "path": path, "content": content})
}

/// The packet of every case: a worker that may write `docs/` only.
fn packet(fx: &Fixture) -> PathBuf {
    let text = format!(
        "MODE: worker\nWORKDIR: {}\nOBJECTIVE: Improve the docs.\nNON-GOALS: none\n\nWRITE SCOPE:\n- docs/\n\nVERIFICATION:\n- true\n\nDELIVERABLE:\n- Docs.\n",
        fx.repo.display()
    );
    write_packet(fx, "task.md", &text)
}

fn substitute(plan: &Value, fx: &Fixture, tag: &str, mode: Mode) -> Value {
    let root = fx.root.to_string_lossy();
    let text = plan
        .to_string()
        .replace("@PIDS@", &mode.pid_file(fx).to_string_lossy())
        .replace("@PAYLOAD@", &format!("{root}/payload.sh"))
        .replace("@ROOT@", &root)
        .replace("@REPO@", &fx.repo.to_string_lossy())
        .replace("@GIT@", &fx.repo.join(".git").to_string_lossy())
        .replace("@HOME@", &fx.home.to_string_lossy())
        .replace("@TAG@", tag);
    serde_json::from_str(&text).expect("the plan stays JSON")
}

/// The git dir as the user sees it (HEAD, index, config, packed-refs, refs, logs, hooks, info),
/// without what a run itself may write: the exclude line and `dispatch/*` branches.
fn git_dir_lines(repo: &Path) -> String {
    let fingerprint = tree_fingerprint(repo);
    let lines: Vec<&str> = fingerprint
        .lines()
        .filter(|line| line.starts_with(".git/") && !line.starts_with(".git/info/exclude"))
        .filter(|line| !line.contains("refs/heads/dispatch"))
        .collect();
    let extra = ["objects/info/alternates", "index.lock", "HEAD.lock", "config.lock"]
        .iter()
        .map(|name| format!("{name}: {}", repo.join(".git").join(name).exists()))
        .collect::<Vec<_>>();
    format!("{}\n{}", lines.join("\n"), extra.join("\n"))
}

/// The checkout as the user sees it, without the run folders.
fn checkout_lines(repo: &Path) -> String {
    let fingerprint = tree_fingerprint(repo);
    fingerprint
        .lines()
        .filter(|l| !l.starts_with(".git/") && !l.starts_with(".codex-dispatch"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn pids_in(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path).unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

fn alive(pid: i32) -> bool {
    // A zombie is not a live process: /proc/<pid>/stat's third field is `Z`.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

/// Does this binary run agents under bubblewrap? Probed once with a trivial dispatch.
fn bwrap_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let fx = fixture("python-project");
        let output = dispatch(&fx, &packet(&fx), &json!([]), &["--sandbox", "bwrap"]);
        let Some(dir) = support::cli::last_line(&output).lines().last().map(PathBuf::from) else { return false };
        dir.join("policy.json").is_file() && read_json(&dir.join("policy.json"))["sandbox"]["kind"] == "bwrap"
    })
}

fn payload(fx: &Fixture) {
    use std::os::unix::fs::PermissionsExt;
    let script = fx.root.join("payload.sh");
    std::fs::write(&script, format!("#!/bin/sh\ntouch '{}/PWNED'\n", fx.root.display())).expect("payload");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod payload");
}

/// Play one behaviour; `Err` describes every broken guarantee.
fn play(h: &Hostile, mode: Mode) -> Result<(), String> {
    let fx = fixture("python-project");
    payload(&fx);
    let tag = format!("gd-adv-{}-{}", std::process::id(), h.name.replace(' ', "-"));
    let plan = substitute(&h.plan, &fx, &tag, mode);
    let (git_before, checkout_before) = (git_dir_lines(&fx.repo), checkout_lines(&fx.repo));
    let output = dispatch(&fx, &packet(&fx), &plan, &["--sandbox", mode.name()]);
    let mut broken = Vec::new();
    // Undetectable without a sandbox; refused (not itself a violation) with one.
    let flagged_expected = !matches!(h.escape, Escape::Undetectable | Escape::Survives);
    let run_dir = support::cli::last_line(&output);
    let policy = read_json(&PathBuf::from(&run_dir).join("policy.json"));
    // Under a sandbox a refused write is not itself a violation (SPEC §4): the behaviour counts as
    // blocked when the run found nothing tampered, nothing changed in the checkout and nothing sensitive.
    let blocked = mode.confines_writes()
        && output.status.code() == Some(0)
        && policy["git_dir_tampered"] == json!([])
        && policy["main_checkout_changed"] == json!([])
        && policy["sensitive_changes"] == json!([]);
    let flagged_expected = flagged_expected && !blocked;
    if flagged_expected && output.status.code() != Some(3) {
        broken.push(format!(
            "exit {:?}, not 3; stderr {}; messages {}",
            output.status.code(),
            stderr(&output),
            policy["messages"]
        ));
    }
    if policy["offered"] != false && flagged_expected {
        broken.push("a result was offered".to_string());
    }
    let git_after = git_dir_lines(&fx.repo);
    if git_after != git_before {
        let before: Vec<&str> = git_before.lines().collect();
        let diff: Vec<String> = git_after.lines().filter(|l| !before.contains(l)).map(|l| format!("+ {l}")).collect();
        broken.push(format!("the git dir differs:\n{}", diff.join("\n")));
    }
    let checkout_kept = checkout_lines(&fx.repo) == checkout_before;
    if !checkout_kept && (h.escape != Escape::Checkout || mode.confines_writes()) {
        broken.push("the checkout changed".to_string());
    }
    // The user's next git command, then a later dispatch, then clean: none may run a payload.
    let _ = git_output(&fx.repo, &["status", "--short"]);
    let later = dispatch(&fx, &packet(&fx), &json!([write("docs/later.md", "later\n")]), &[]);
    if later.status.code() != Some(0) {
        let later_policy = read_json(&PathBuf::from(support::cli::last_line(&later)).join("policy.json"));
        broken.push(format!("a later dispatch exited {:?}: {}", later.status.code(), later_policy["messages"]));
    }
    let clean = command(&fx).args(["clean", "--all", "--pool", "--recover", "--force"]).output().expect("clean runs");
    let clean_exists = !support::cli::stderr(&clean).contains("not available yet");
    if fx.root.join("PWNED").exists() {
        broken.push("a planted payload ran".to_string());
    }
    broken.extend(leftovers(&fx, h, mode, &tag, clean_exists));
    broken.is_empty().then_some(()).ok_or_else(|| broken.join("\n"))
}

/// Processes, outside writes and worktrees left behind; kills survivors and removes outside files.
fn leftovers(fx: &Fixture, h: &Hostile, mode: Mode, tag: &str, clean_exists: bool) -> Vec<String> {
    let mut broken = Vec::new();
    for pid in pids_in(&mode.pid_file(fx)) {
        if alive(pid) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            if h.escape != Escape::Survives || mode.ends_every_descendant() {
                broken.push(format!("process {pid} outlived the run"));
            } else {
                eprintln!("note: [{} / sandbox {}] process {pid} outlived the run (killed)", h.name, mode.name());
            }
        }
    }
    if let Some(path) = h.writes {
        let path = PathBuf::from(path.replace("@TAG@", tag).replace("@HOME@", &fx.home.to_string_lossy()));
        if mode.confines_writes() && path.exists() {
            broken.push(format!("{} was written under the sandbox", path.display()));
        }
        let _ = std::fs::remove_file(&path);
    }
    if clean_exists {
        let left: Vec<String> = std::fs::read_dir(fx.worktrees_root())
            .map(|entries| entries.flatten().map(|e| e.path().display().to_string()).collect())
            .unwrap_or_default();
        if left.iter().any(|p| std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some())) {
            broken.push(format!("worktrees left after clean: {left:?}"));
        }
    }
    broken
}

fn run_cases(cases: &[Hostile]) {
    let modes = Mode::available();
    let mut failed = Vec::new();
    for case in cases {
        match (play(case, Mode::None), case.known_gap) {
            (Err(why), Some(gap)) if why.contains(gap) => {}
            (Ok(()), Some(gap)) => {
                failed.push(format!("[{} / sandbox none] known gap fixed ({gap}): tighten the case", case.name))
            }
            (Err(why), _) => failed.push(format!("[{} / sandbox none] {why}", case.name)),
            (Ok(()), None) => {}
        }
        for mode in modes.iter().copied().filter(|mode| *mode != Mode::None) {
            if let Err(why) = play(case, mode) {
                failed.push(format!("[{} / sandbox {}] {why}", case.name, mode.name()));
            }
        }
    }
    assert!(failed.is_empty(), "{} broken:\n{}", failed.len(), failed.join("\n---\n"));
}

#[path = "adversarial/cases.rs"]
mod cases;

#[test]
fn git_dir_tampering() {
    run_cases(&cases::git_dir());
}

#[test]
fn worktree_content() {
    run_cases(&cases::worktree());
}

#[test]
fn escapes_and_processes() {
    run_cases(&cases::escapes());
}

/// `printed_run_dir` is used by the probe's callers in other crates; keep the import honest here.
#[test]
fn a_flagged_run_prints_its_folder() {
    let fx = fixture("python-project");
    let output = dispatch(&fx, &packet(&fx), &json!([write("src/x.py", "x")]), &[]);
    assert_eq!(output.status.code(), Some(3));
    assert!(printed_run_dir(&output).join("result.md").is_file());
}
