//! `git dispatch doctor`: what is installed and usable, one line per check, each `ok`, `warn` or
//! `missing`: git-dispatch itself (on PATH, so that `git dispatch` works), git, the repository
//! (the current directory or `-C`), the agent CLIs and their versions, the Codex quota endpoint
//! (not asked with `--offline`), sandbox support (bubblewrap with the very probe the sandbox uses,
//! Landlock with the ABI the kernel enforces, the kind `--sandbox auto` picks from them, and the
//! `--network` modes it can enforce), the worktree pool's size on disk, and the shared git lock files present (git-dispatch never
//! removes one: the line says how to, by hand).
//!
//! The exit code is 0 unless git itself is missing (1): everything else only limits what a
//! dispatch can do. Every program is run through [`crate::process`] with a timeout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::agent::quota::{check_quota_with, QuotaSource, QuotaVerdict};
use crate::agent::{locate, AgentKind};
use crate::cli::{DoctorArgs, DEFAULT_QUOTA_GATE};
use crate::process::{self, ProcessSpec};

#[path = "doctor_sandbox.rs"]
mod sandbox_checks;

/// How long a probed program (`git --version`, `codex --version`, `bwrap ... true`) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Missing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Missing => "missing",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check { name, status, detail: detail.into() }
    }

    /// `ok      git          git version 2.43.0`
    pub fn line(&self) -> String {
        format!("{:<8}{:<13}{}", self.status.as_str(), self.name, self.detail)
    }
}

pub fn cmd_doctor(args: &DoctorArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let mut escaped = crate::escape::Writer::new(out);
    let out: &mut dyn Write = &mut escaped;
    let checks = run_checks(args);
    for check in &checks {
        writeln!(out, "{}", check.line())?;
    }
    let git_missing = checks.iter().any(|check| check.name == "git" && check.status == Status::Missing);
    Ok(if git_missing { crate::policy::exit::CANNOT_START } else { crate::policy::exit::OK })
}

/// Every check, in the order shown.
pub fn run_checks(args: &DoctorArgs) -> Vec<Check> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::env::temp_dir());
    let repo_dir = args.repo.clone().unwrap_or_else(|| cwd.clone());
    vec![
        check_self(),
        check_git(&cwd),
        check_repository(&repo_dir),
        check_agent(AgentKind::Codex, &cwd),
        check_agent(AgentKind::Claude, &cwd),
        check_quota_endpoint(args.offline),
        sandbox_checks::check_bwrap(),
        sandbox_checks::check_landlock(),
        sandbox_checks::check_sandbox(),
        sandbox_checks::check_processes(),
        sandbox_checks::check_network(),
    ]
    .into_iter()
    .chain(sandbox_checks::check_root())
    .chain([check_pool()])
    .chain(check_git_locks(&repo_dir))
    .collect()
}

/// One `warn` per shared git lock present in the repository (never removed by git-dispatch),
/// with the command to remove it by hand.
fn check_git_locks(dir: &Path) -> Vec<Check> {
    let root = gix::discover(dir).ok().and_then(|repo| repo.workdir().map(Path::to_path_buf));
    let locks = root.and_then(|root| crate::journal::shared_locks_of(&root).ok()).unwrap_or_default();
    locks.iter().map(|lock| Check::new("git lock", Status::Warn, crate::journal::describe_shared_lock(lock))).collect()
}

/// The first non-empty line of `program args...`, or why there is none.
fn probe(program: impl Into<std::ffi::OsString>, args: &[&str], cwd: &Path) -> Result<String, String> {
    let spec = ProcessSpec::new(program, cwd).args(args).timeout(PROBE_TIMEOUT).grace(Duration::from_secs(1));
    let captured = process::run_captured(&spec).map_err(|error| format!("{error:#}"))?;
    let first_line = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes).lines().map(str::trim).find(|line| !line.is_empty()).map(str::to_string)
    };
    if let Some(reason) = captured.outcome.killed {
        return Err(format!("stopped: {reason}"));
    }
    match captured.outcome.exit_code {
        Some(0) => Ok(first_line(&captured.stdout).unwrap_or_default()),
        code => {
            let code = code.map_or_else(|| "a signal".to_string(), |code| format!("exit {code}"));
            Err(match first_line(&captured.stderr) {
                Some(line) => format!("{code}: {line}"),
                None => code,
            })
        }
    }
}

/// `name` in one of PATH's folders, as an executable file.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    crate::agent::find_on_path(name)
}

fn check_self() -> Check {
    let version = env!("CARGO_PKG_VERSION");
    let exe = std::env::current_exe().map(|exe| exe.display().to_string()).unwrap_or_else(|_| "?".to_string());
    match find_on_path("git-dispatch") {
        Some(found) => {
            Check::new("git-dispatch", Status::Ok, format!("{version} ({exe}), on PATH as {}", found.display()))
        }
        None => Check::new(
            "git-dispatch",
            Status::Warn,
            format!("{version} ({exe}), not on PATH: `git dispatch` will not find it; add its folder to PATH"),
        ),
    }
}

fn check_git(cwd: &Path) -> Check {
    match probe("git", &["--version"], cwd) {
        Ok(version) => Check::new("git", Status::Ok, version),
        Err(_) if find_on_path("git").is_none() => {
            Check::new("git", Status::Missing, "git not found on PATH: install git (https://git-scm.com)")
        }
        Err(reason) => Check::new("git", Status::Missing, format!("`git --version` failed: {reason}")),
    }
}

fn check_repository(dir: &Path) -> Check {
    let repo = match gix::discover(dir) {
        Ok(repo) => repo,
        Err(_) => {
            return Check::new(
                "repository",
                Status::Warn,
                format!("{} is not inside a git repository (dispatch needs one; use -C DIR)", dir.display()),
            )
        }
    };
    let Some(root) = repo.workdir().map(Path::to_path_buf) else {
        return Check::new(
            "repository",
            Status::Warn,
            format!("{} is a bare repository: dispatch needs a checkout", repo.git_dir().display()),
        );
    };
    let head = match repo.head() {
        Ok(head) => head,
        Err(error) => {
            return Check::new("repository", Status::Warn, format!("{}: cannot read HEAD: {error}", root.display()))
        }
    };
    let on = match head.referent_name() {
        Some(name) => name.shorten().to_string(),
        None => "a detached HEAD".to_string(),
    };
    match head.id() {
        Some(id) => {
            Check::new("repository", Status::Ok, format!("{} on {on} at {}", root.display(), id.shorten_or_id()))
        }
        None => Check::new(
            "repository",
            Status::Warn,
            format!("{} on {on} has no commit yet: dispatch needs one", root.display()),
        ),
    }
}

fn check_agent(kind: AgentKind, cwd: &Path) -> Check {
    let name = kind.program_name();
    let program = match locate(kind) {
        Ok(program) => program,
        Err(error) => return Check::new(name, Status::Missing, error.to_string()),
    };
    match probe(&program, &["--version"], cwd) {
        Ok(version) if !version.is_empty() => {
            Check::new(name, Status::Ok, format!("{version} ({})", program.display()))
        }
        Ok(_) => Check::new(name, Status::Warn, format!("{}: `--version` printed nothing", program.display())),
        Err(reason) => Check::new(name, Status::Warn, format!("{}: `--version` failed: {reason}", program.display())),
    }
}

fn check_quota_endpoint(offline: bool) -> Check {
    if offline {
        return Check::new("quota", Status::Ok, "not checked (--offline)");
    }
    match check_quota_with(DEFAULT_QUOTA_GATE, &QuotaSource::from_env()) {
        verdict @ QuotaVerdict::Under { .. } => {
            Check::new("quota", Status::Ok, format!("reachable: {}", verdict.message(DEFAULT_QUOTA_GATE)))
        }
        verdict @ QuotaVerdict::Over { .. } => {
            Check::new("quota", Status::Warn, format!("reachable: {}", verdict.message(DEFAULT_QUOTA_GATE)))
        }
        QuotaVerdict::Skipped { reason, .. } => {
            Check::new("quota", Status::Warn, format!("not reachable, the gate will be skipped: {reason}"))
        }
    }
}

/// `$GIT_DISPATCH_WORKTREES`, else `${XDG_CACHE_HOME:-~/.cache}/git-dispatch/worktrees`.
pub fn worktrees_root() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    non_empty("GIT_DISPATCH_WORKTREES").or_else(|| {
        non_empty("XDG_CACHE_HOME")
            .or_else(|| non_empty("HOME").map(|home| home.join(".cache")))
            .map(|cache| cache.join("git-dispatch").join("worktrees"))
    })
}

/// What the worktrees root holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Per-repository folders (`<repo-name>-<hash>`).
    pub repositories: usize,
    /// Worktree checkouts (`<repo folder>/wt/<name>`).
    pub worktrees: usize,
    /// Idle worktrees (`<repo folder>/pool/<name>` markers).
    pub idle: usize,
    /// Bytes of every file below the root (symlinks not followed).
    pub bytes: u64,
}

/// Counts and sizes what is below `root` (which exists).
pub fn pool_usage(root: &Path) -> std::io::Result<PoolUsage> {
    let mut usage = PoolUsage::default();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        // Hidden entries (`.unconfined`, the markers of runs without a sandbox) are no repository.
        if !entry.file_type()?.is_dir() || entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        usage.repositories += 1;
        usage.worktrees += count_entries(&entry.path().join("wt"))?;
        usage.idle += count_entries(&entry.path().join("pool"))?;
    }
    usage.bytes = disk_use(root)?;
    Ok(usage)
}

fn count_entries(dir: &Path) -> std::io::Result<usize> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| entry.map(|entry| !entry.file_name().to_string_lossy().starts_with('.')))
            .try_fold(0, |count, visible| visible.map(|visible| count + usize::from(visible))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(error) => Err(error),
    }
}

/// The sum of file lengths below `root`, without following symlinks.
fn disk_use(root: &Path) -> std::io::Result<u64> {
    let sizes = crate::walk::Walk::new(root).parallel().try_collect(|entry, sizes| {
        let entry = entry?;
        if !entry.is_dir() {
            sizes.push(entry.metadata()?.len());
        }
        Ok(crate::walk::Step::Continue)
    });
    sizes.map(|sizes| sizes.iter().sum()).map_err(std::io::Error::other)
}

/// `512 B`, `1.5 KiB`, `12.3 MiB`, `2.0 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn check_pool() -> Check {
    let Some(root) = worktrees_root() else {
        return Check::new("pool", Status::Warn, "no cache folder: set XDG_CACHE_HOME, HOME or GIT_DISPATCH_WORKTREES");
    };
    if !root.exists() {
        return Check::new("pool", Status::Ok, format!("empty: {} does not exist yet", root.display()));
    }
    match pool_usage(&root) {
        Ok(usage) => Check::new(
            "pool",
            Status::Ok,
            format!(
                "{} ({} idle) in {}, {} in {}",
                plural(usage.worktrees, "worktree", "worktrees"),
                usage.idle,
                plural(usage.repositories, "repository folder", "repository folders"),
                human_bytes(usage.bytes),
                root.display()
            ),
        ),
        Err(error) => Check::new("pool", Status::Warn, format!("cannot read {}: {error}", root.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12_897_485), "12.3 MiB");
        assert_eq!(human_bytes(2 * 1024 * 1024 * 1024), "2.0 GiB");
    }

    #[test]
    fn pool_usage_counts_worktrees_idle_markers_and_bytes() {
        let root = tempfile::tempdir().expect("temp dir");
        let repo = root.path().join("app-1a2b3c4d");
        for dir in ["wt/one/src", "wt/two", "pool", "busy"] {
            std::fs::create_dir_all(repo.join(dir)).expect("mkdir");
        }
        std::fs::write(repo.join("wt/one/src/a.py"), vec![b'a'; 100]).expect("write");
        std::fs::write(repo.join("wt/two/b.py"), vec![b'b'; 50]).expect("write");
        std::fs::write(repo.join("pool/two"), "pool\n").expect("write");
        std::fs::write(repo.join("busy/one"), "run\n").expect("write");
        std::fs::write(repo.join("pool/.two.tmp"), "").expect("write");
        std::fs::create_dir_all(root.path().join("other-99/wt")).expect("mkdir");
        std::fs::write(root.path().join("stray-file"), "xy").expect("write");
        std::os::unix::fs::symlink("/", repo.join("wt/one/link")).expect("symlink");

        let usage = pool_usage(root.path()).expect("readable");
        assert_eq!(
            usage,
            PoolUsage { repositories: 2, worktrees: 2, idle: 1, bytes: 100 + 50 + 5 + 4 + 2 + link_len() }
        );
    }

    /// A symlink's own length (its target's), counted without following it.
    fn link_len() -> u64 {
        if cfg!(unix) {
            1
        } else {
            0
        }
    }

    #[test]
    fn lines_have_aligned_columns() {
        let check = Check::new("git", Status::Missing, "git not found");
        assert_eq!(check.line(), "missing git          git not found");
        assert_eq!(Check::new("pool", Status::Ok, "x").line(), "ok      pool         x");
    }
}
