//! File and git steps of the fake agent: each does its work in the agent's cwd (relative paths) or
//! anywhere (absolute paths, for hostile plans) and reports what it did as an [`Activity`].
//! A failing step is reported, not fatal: real agents go on after a refused write.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use crate::events::{Activity, ChangeKind};
use crate::plan::{payload, Mode, PathArg, SpecialKind};

/// Fixed identity and dates for the agent's own commits when the environment gives none.
const GIT_DEFAULTS: &[(&str, &str)] = &[
    ("GIT_AUTHOR_NAME", "fake-agent"),
    ("GIT_AUTHOR_EMAIL", "fake-agent@example.invalid"),
    ("GIT_AUTHOR_DATE", "2000-01-01T00:00:00Z"),
    ("GIT_COMMITTER_NAME", "fake-agent"),
    ("GIT_COMMITTER_EMAIL", "fake-agent@example.invalid"),
    ("GIT_COMMITTER_DATE", "2000-01-01T00:00:00Z"),
];

/// The cwd that relative step paths resolve against.
pub struct Workspace {
    pub cwd: PathBuf,
}

impl Workspace {
    /// Relative paths are joined to the cwd; `.` components are dropped, so `"."` is the cwd itself.
    pub fn resolve(&self, path: &PathArg) -> Result<PathBuf> {
        Ok(self.cwd.join(path.to_path()?).components().collect())
    }

    /// The path relative to the cwd when it lies below it (for `changed_files`).
    pub fn relative(&self, path: &Path) -> Option<String> {
        let relative = path.strip_prefix(&self.cwd).ok()?;
        let text = relative.to_str()?;
        (!text.is_empty()).then(|| text.to_owned())
    }
}

/// A file step's outcome: its activity and the paths it touched.
pub struct FileOutcome {
    pub activity: Activity,
    pub touched: Vec<PathBuf>,
}

fn file_outcome(
    changes: Vec<(PathBuf, ChangeKind)>,
    command: String,
    written: Option<(PathBuf, String)>,
    result: Result<()>,
) -> FileOutcome {
    let touched = changes.iter().map(|(path, _)| path.clone()).collect();
    let error = result.err().map(|error| format!("{error:#}"));
    FileOutcome { activity: Activity::FileChange { changes, command, written, error }, touched }
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    text.into_owned()
}

/// `write` (replace) or `append`: the payload `count` times.
pub fn write(
    ws: &Workspace,
    path: &PathArg,
    text: Option<&str>,
    base64: Option<&str>,
    count: u64,
    append: bool,
) -> Result<FileOutcome> {
    let target = ws.resolve(path)?;
    let data = payload(text, base64)?;
    let existed = target.symlink_metadata().is_ok();
    let result = write_repeated(&target, &data, count, append);
    let kind = if existed { ChangeKind::Update } else { ChangeKind::Add };
    let verb = if append { ">>" } else { ">" };
    let command = format!("printf %s ... {verb} {}", quote(&target));
    let written = (!append).then(|| (target.clone(), preview(&data)));
    Ok(file_outcome(vec![(target, kind)], command, written, result))
}

fn write_repeated(target: &Path, data: &[u8], count: u64, append: bool) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(target)
        .with_context(|| format!("opening {}", target.display()))?;
    for _ in 0..count {
        file.write_all(data).with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(())
}

/// Removes a file or symlink (not followed), or a directory with everything below it.
pub fn delete(ws: &Workspace, path: &PathArg) -> Result<FileOutcome> {
    let target = ws.resolve(path)?;
    let result = match target.symlink_metadata() {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(&target),
        _ => fs::remove_file(&target),
    }
    .with_context(|| format!("deleting {}", target.display()));
    let command = format!("rm -rf {}", quote(&target));
    Ok(file_outcome(vec![(target, ChangeKind::Delete)], command, None, result))
}

pub fn rename(ws: &Workspace, from: &PathArg, to: &PathArg) -> Result<FileOutcome> {
    let (from, to) = (ws.resolve(from)?, ws.resolve(to)?);
    let result = fs::rename(&from, &to).with_context(|| format!("renaming {} to {}", from.display(), to.display()));
    let command = format!("mv {} {}", quote(&from), quote(&to));
    let changes = vec![(from, ChangeKind::Delete), (to, ChangeKind::Add)];
    Ok(file_outcome(changes, command, None, result))
}

pub fn chmod(ws: &Workspace, path: &PathArg, mode: &Mode) -> Result<FileOutcome> {
    let target = ws.resolve(path)?;
    let bits = mode.bits()?;
    let result = fs::set_permissions(&target, fs::Permissions::from_mode(bits))
        .with_context(|| format!("chmod {bits:o} {}", target.display()));
    let command = format!("chmod {bits:o} {}", quote(&target));
    Ok(file_outcome(vec![(target, ChangeKind::Update)], command, None, result))
}

pub fn symlink(ws: &Workspace, target: &PathArg, path: &PathArg) -> Result<FileOutcome> {
    let (pointee, link) = (target.to_path()?, ws.resolve(path)?);
    let result = std::os::unix::fs::symlink(&pointee, &link)
        .with_context(|| format!("symlinking {} -> {}", link.display(), pointee.display()));
    let command = format!("ln -s {} {}", quote(&pointee), quote(&link));
    Ok(file_outcome(vec![(link, ChangeKind::Add)], command, None, result))
}

pub fn hardlink(ws: &Workspace, target: &PathArg, path: &PathArg) -> Result<FileOutcome> {
    let (original, link) = (ws.resolve(target)?, ws.resolve(path)?);
    let result = fs::hard_link(&original, &link)
        .with_context(|| format!("hard-linking {} to {}", link.display(), original.display()));
    let command = format!("ln {} {}", quote(&original), quote(&link));
    Ok(file_outcome(vec![(link, ChangeKind::Add)], command, None, result))
}

pub fn special(ws: &Workspace, path: &PathArg, kind: SpecialKind) -> Result<FileOutcome> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let target = ws.resolve(path)?;
    let (result, command) = match kind {
        SpecialKind::Fifo => {
            (nix::unistd::mkfifo(&target, Mode::S_IRUSR | Mode::S_IWUSR).map_err(anyhow::Error::from), "mkfifo")
        }
        SpecialKind::Socket => {
            (std::os::unix::net::UnixListener::bind(&target).map(drop).map_err(anyhow::Error::from), "socket")
        }
        SpecialKind::Device => (
            mknod(&target, SFlag::S_IFCHR, Mode::S_IRUSR | Mode::S_IWUSR, makedev(1, 3)).map_err(anyhow::Error::from),
            "mknod c 1 3",
        ),
    };
    let result = result.with_context(|| format!("creating {}", target.display()));
    let command = format!("{command} {}", quote(&target));
    Ok(file_outcome(vec![(target, ChangeKind::Add)], command, None, result))
}

pub fn mkdir(ws: &Workspace, path: &PathArg) -> Result<Activity> {
    let target = ws.resolve(path)?;
    let command = format!("mkdir -p {}", quote(&target));
    Ok(match fs::create_dir_all(&target) {
        Ok(()) => Activity::Command { command, output: String::new(), exit_code: 0 },
        Err(error) => Activity::Command { command, output: error.to_string(), exit_code: 1 },
    })
}

/// Runs a program in the cwd with stdin from /dev/null; output is stdout then stderr.
fn run_captured(ws: &Workspace, mut command: Command, shown: String) -> Activity {
    command.current_dir(&ws.cwd).stdin(Stdio::null());
    for (name, value) in GIT_DEFAULTS {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    match command.output() {
        Ok(output) => {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            let exit_code = output.status.code().unwrap_or(-1);
            Activity::Command { command: shown, output: text, exit_code }
        }
        Err(error) => Activity::Command { command: shown, output: error.to_string(), exit_code: 127 },
    }
}

pub fn shell(ws: &Workspace, cmd: &str) -> Activity {
    let mut command = Command::new("sh");
    command.arg("-c").arg(cmd);
    run_captured(ws, command, cmd.to_owned())
}

pub fn git(ws: &Workspace, args: &[String]) -> Activity {
    let mut command = Command::new("git");
    command.args(args);
    run_captured(ws, command, format!("git {}", args.join(" ")))
}

/// `git add -A && git commit -q -m message`.
pub fn commit(ws: &Workspace, message: &str) -> Activity {
    let add = git(ws, &["add".to_owned(), "-A".to_owned()]);
    if let Activity::Command { exit_code, .. } = &add {
        if *exit_code != 0 {
            return add;
        }
    }
    let args = ["commit", "-q", "-m", message].map(str::to_owned);
    match git(ws, &args) {
        Activity::Command { output, exit_code, .. } => {
            Activity::Command { command: format!("git add -A && git commit -q -m {message:?}"), output, exit_code }
        }
        other => other,
    }
}
