//! The agent's version (`<program> --version`, first line), remembered between runs once a cache
//! folder is given ([`remember_versions_in`]; a dispatch gives [`default_cache_dir`],
//! `${XDG_CACHE_HOME:-~/.cache}/git-dispatch/agent-versions/`): a run reads it there when the
//! same kind of agent and the same program file (its resolved path, size, inode, modification and
//! change times) were probed there less than [`CACHE_MAX_AGE`] ago, and spawns the probe only
//! otherwise. A probe that timed out or could not start is not remembered; a definite answer (a
//! version, or a failing exit) is.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::process::{self, ProcessSpec};

/// How long `<program> --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a remembered answer is trusted (a wrapper script may start a program updated since).
pub const CACHE_MAX_AGE: Duration = Duration::from_secs(3600);

/// What the cache file holds when the probe answered with a failing exit (no version).
const NO_VERSION: &str = "-\n";

/// Where this process remembers versions (`None`: it probes every time, as without a cache).
static CACHE_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Remember the agents' versions in `dir` from now on in this process (`None`: never).
pub fn remember_versions_in(dir: Option<PathBuf>) {
    if let Ok(mut cache) = CACHE_DIR.lock() {
        *cache = dir;
    }
}

/// How the probe is started: confined like the agent (the program is the agent's, which may be
/// hostile), with the agent's variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct Probe<'a> {
    /// The sandbox's argv prefix; empty for none.
    pub wrapper: &'a [OsString],
    pub env: &'a [(OsString, OsString)],
}

/// The first line of `<program> --version` (run in `cwd`, started as `how` says) for agent
/// `kind`, from the cache when it is fresh.
pub fn version(kind: &str, program: &Path, cwd: &Path, how: &Probe<'_>) -> Option<String> {
    let cache = CACHE_DIR.lock().ok().and_then(|dir| dir.clone());
    version_cached_in(cache.as_deref(), kind, program, cwd, how)
}

fn version_cached_in(
    cache_dir: Option<&Path>,
    kind: &str,
    program: &Path,
    cwd: &Path,
    how: &Probe<'_>,
) -> Option<String> {
    let cache = cache_dir.and_then(|dir| cache_file(dir, kind, program));
    if let Some(remembered) = cache.as_deref().and_then(read_fresh) {
        return remembered;
    }
    let (answer, definite) = probe(program, cwd, how);
    if let (Some(cache), true) = (cache, definite) {
        remember(&cache, answer.as_deref());
    }
    answer
}

/// Runs the probe: the version if any, and whether the answer is definite (the program ran to its end).
fn probe(program: &Path, cwd: &Path, how: &Probe<'_>) -> (Option<String>, bool) {
    let mut argv: Vec<OsString> = how.wrapper.to_vec();
    argv.extend([program.as_os_str().to_owned(), "--version".into()]);
    let mut spec =
        ProcessSpec::new(argv.remove(0), cwd).args(argv).timeout(VERSION_TIMEOUT).grace(Duration::from_secs(1));
    spec.env = how.env.to_vec();
    let Ok(captured) = process::run_captured(&spec) else { return (None, false) };
    if captured.outcome.killed.is_some() {
        return (None, false);
    }
    if !captured.outcome.success() {
        return (None, true);
    }
    let text = String::from_utf8_lossy(&captured.stdout);
    let line = text.lines().map(str::trim).find(|line| !line.is_empty()).map(str::to_string);
    (line, true)
}

/// The cache file in `dir` for agent `kind` and the program file as it is now; `None` when the
/// program file cannot be found.
fn cache_file(dir: &Path, kind: &str, program: &Path) -> Option<PathBuf> {
    let resolved = std::fs::canonicalize(program).ok()?;
    let meta = std::fs::metadata(&resolved).ok()?;
    let key = format!(
        "{kind}\0{}\0{}\0{}\0{}.{}\0{}.{}",
        resolved.display(),
        meta.len(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    let name = format!("{:x}", Sha256::digest(key.as_bytes()));
    Some(dir.join(&name[..32]))
}

/// `${XDG_CACHE_HOME:-~/.cache}/git-dispatch/agent-versions`, if there is a cache folder.
pub fn default_cache_dir() -> Option<PathBuf> {
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    Some(cache.join("git-dispatch").join("agent-versions"))
}

/// The remembered answer, if the file is younger than [`CACHE_MAX_AGE`] and reads as one.
fn read_fresh(path: &Path) -> Option<Option<String>> {
    let age = SystemTime::now().duration_since(std::fs::metadata(path).ok()?.modified().ok()?).ok()?;
    if age > CACHE_MAX_AGE {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    if text == NO_VERSION {
        return Some(None);
    }
    let line = text.strip_suffix('\n')?;
    (!line.is_empty() && !line.contains('\n')).then(|| Some(line.to_string()))
}

/// Remembers an answer; a cache that cannot be written is no error (the next run probes again).
fn remember(path: &Path, answer: Option<&str>) {
    let text = answer.map_or_else(|| NO_VERSION.to_string(), |line| format!("{line}\n"));
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .map_err(anyhow::Error::from)
        .and_then(|()| crate::artifacts::write_replace(path, text.as_bytes()));
    drop(written);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A program printing `version <n>` and counting its runs in `<dir>/count`.
    fn counting_program(dir: &Path, body: &str) -> PathBuf {
        let program = dir.join("agent");
        let script = format!("#!/bin/sh\necho x >> '{}/count'\n{body}\n", dir.display());
        std::fs::write(&program, script).expect("write program");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        program
    }

    fn runs(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("count")).map(|t| t.lines().count()).unwrap_or(0)
    }

    fn probe_in(cache: &Path, program: &Path, dir: &Path) -> Option<String> {
        version_cached_in(Some(cache), "codex", program, dir, &Probe::default())
    }

    fn cache_file_in(cache: &Path, program: &Path) -> Option<PathBuf> {
        cache_file(cache, "codex", program)
    }

    #[test]
    fn a_version_is_probed_once_until_the_program_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache");
        let program = counting_program(dir.path(), "echo '  '\necho 'agent 1.2.3'");
        assert_eq!(probe_in(&cache, &program, dir.path()).as_deref(), Some("agent 1.2.3"));
        assert_eq!(probe_in(&cache, &program, dir.path()).as_deref(), Some("agent 1.2.3"));
        assert_eq!(runs(dir.path()), 1, "the second answer came from the cache");
        std::thread::sleep(Duration::from_millis(20));
        let updated = counting_program(dir.path(), "echo 'agent 1.3.0'");
        assert_eq!(probe_in(&cache, &updated, dir.path()).as_deref(), Some("agent 1.3.0"));
        assert_eq!(runs(dir.path()), 2, "a changed program is probed again");
        assert_eq!(
            version_cached_in(Some(&cache), "claude", &updated, dir.path(), &Probe::default()).as_deref(),
            Some("agent 1.3.0")
        );
        assert_eq!(runs(dir.path()), 3, "another kind of agent is probed apart");
    }

    #[test]
    fn a_failing_probe_is_remembered_as_no_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("cache");
        let program = counting_program(dir.path(), "exit 2");
        assert_eq!(probe_in(&cache, &program, dir.path()), None);
        assert_eq!(probe_in(&cache, &program, dir.path()), None);
        assert_eq!(runs(dir.path()), 1);
        assert_eq!(std::fs::read_to_string(cache_file_in(&cache, &program).expect("key")).expect("cached"), NO_VERSION);
    }

    #[test]
    fn an_old_or_broken_cache_file_is_not_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("entry");
        std::fs::write(&file, "agent 1.0\n").expect("write");
        assert_eq!(read_fresh(&file), Some(Some("agent 1.0".to_string())));
        for broken in ["", "agent 1.0", "two\nlines\n"] {
            std::fs::write(&file, broken).expect("write");
            assert_eq!(read_fresh(&file), None, "{broken:?}");
        }
        std::fs::write(&file, "agent 1.0\n").expect("write");
        let old = SystemTime::now() - CACHE_MAX_AGE - Duration::from_secs(60);
        std::fs::File::options().write(true).open(&file).expect("open").set_modified(old).expect("set mtime");
        assert_eq!(read_fresh(&file), None, "too old");
    }
}
