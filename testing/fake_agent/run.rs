//! Runs a plan: executes the steps in order, emits their events, then hands back the structured
//! result in the agent's style (codex: the `-o` file; claude: the final `result` event).

use std::collections::BTreeSet;
use std::io;
use std::process::Child;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::events::{Activity, Emitter};
use crate::fs_steps::{self, FileOutcome, Workspace};
use crate::invocation::{Invocation, Style};
use crate::plan::{payload, Step};
use crate::proc_steps;

/// The result the agent hands back at the end.
#[derive(Debug, Clone)]
enum FinalResult {
    /// The default: a valid result listing the files the steps touched.
    Default,
    Json(Value),
    Raw(String),
    Nothing,
}

/// How the step loop ended.
enum Flow {
    Continue,
    Exit { code: i32, abrupt: bool },
    Failed(String),
}

/// The state of one run.
pub struct Runner {
    invocation: Invocation,
    workspace: Workspace,
    emitter: Emitter,
    touched: BTreeSet<String>,
    result: FinalResult,
    children: Vec<Child>,
    /// Connections a `net` step keeps open until the agent exits.
    held: Vec<std::net::TcpStream>,
    steps_run: usize,
}

impl Runner {
    pub fn new(invocation: Invocation) -> Self {
        let emitter = Emitter::new(invocation.style, &invocation.cwd, invocation.schema_offered);
        let workspace = Workspace { cwd: invocation.cwd.clone() };
        Runner {
            invocation,
            workspace,
            emitter,
            touched: BTreeSet::new(),
            result: FinalResult::Default,
            children: Vec::new(),
            held: Vec::new(),
            steps_run: 0,
        }
    }

    /// Runs every step and the closing events; returns the process exit code.
    pub fn run(mut self, steps: &[Step]) -> Result<i32> {
        self.touch_output_file()?;
        self.emitter.start().context("writing to stdout")?;
        let mut flow = Flow::Continue;
        for (index, step) in steps.iter().enumerate() {
            self.steps_run = index + 1;
            flow = match self.step(step) {
                Ok(flow) => flow,
                Err(error) => {
                    eprintln!("fake-agent: step {index} ({}) failed: {error:#}", step.kind());
                    Flow::Continue
                }
            };
            if !matches!(flow, Flow::Continue) {
                break;
            }
        }
        match flow {
            Flow::Continue => self.finish(0),
            Flow::Exit { code, abrupt: false } => self.finish(code),
            Flow::Exit { code, abrupt: true } => Ok(code),
            Flow::Failed(message) => {
                self.emitter.fail(&message).context("writing to stdout")?;
                Ok(1)
            }
        }
    }

    /// codex creates a missing `-o` file empty when it starts (and leaves an existing one alone
    /// until it has a final message), so a failed run leaves an empty file behind.
    fn touch_output_file(&self) -> Result<()> {
        if let (Style::Codex, Some(path)) = (self.invocation.style, &self.invocation.output_file) {
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .with_context(|| format!("creating the result file {}", path.display()))?;
        }
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<Flow> {
        let ws = &self.workspace;
        match step {
            Step::Write { path, content, base64, count } => {
                let outcome = fs_steps::write(ws, path, content.as_deref(), base64.as_deref(), *count, false)?;
                self.file_outcome(outcome)?;
            }
            Step::Append { path, content, base64, count } => {
                let outcome = fs_steps::write(ws, path, content.as_deref(), base64.as_deref(), *count, true)?;
                self.file_outcome(outcome)?;
            }
            Step::Delete { path } => self.file_outcome(fs_steps::delete(ws, path)?)?,
            Step::Rename { from, to } => self.file_outcome(fs_steps::rename(ws, from, to)?)?,
            Step::Chmod { path, mode } => self.file_outcome(fs_steps::chmod(ws, path, mode)?)?,
            Step::Symlink { target, path } => self.file_outcome(fs_steps::symlink(ws, target, path)?)?,
            Step::Hardlink { target, path } => self.file_outcome(fs_steps::hardlink(ws, target, path)?)?,
            Step::Mkdir { path } => self.activity(fs_steps::mkdir(ws, path)?)?,
            Step::Special { path, kind } => self.file_outcome(fs_steps::special(ws, path, *kind)?)?,
            Step::Commit { message } => self.activity(fs_steps::commit(ws, message))?,
            Step::Git { args } => self.activity(fs_steps::git(ws, args))?,
            Step::Checkout { rev } => self.activity(fs_steps::git(ws, &["checkout".into(), rev.clone()]))?,
            Step::Detach { rev } => {
                let mut args = vec!["checkout".to_owned(), "--detach".to_owned()];
                args.extend(rev.iter().cloned());
                self.activity(fs_steps::git(ws, &args))?;
            }
            Step::Shell { cmd } => self.activity(fs_steps::shell(ws, cmd))?,
            Step::Message { text } => self.activity(Activity::Message(text.clone()))?,
            other => return self.output_or_process_step(other),
        }
        Ok(Flow::Continue)
    }

    fn output_or_process_step(&mut self, step: &Step) -> Result<Flow> {
        match step {
            Step::Emit { line, json } => {
                let text = match (line, json) {
                    (Some(line), _) => line.clone(),
                    (None, Some(value)) => value.to_string(),
                    (None, None) => String::new(),
                };
                self.emitter.line(&text).context("writing to stdout")?;
            }
            Step::Stdout { bytes, base64, count } => {
                let data = payload(bytes.as_deref(), base64.as_deref())?;
                write_repeated(&mut |chunk| self.emitter.raw(chunk), &data, *count).context("writing to stdout")?;
            }
            Step::Stderr { text, count } => {
                let mut stderr = io::stderr();
                write_repeated(&mut |chunk| io::Write::write_all(&mut stderr, chunk), text.as_bytes(), *count)
                    .context("writing to stderr")?;
            }
            Step::Sleep { ms } => thread::sleep(Duration::from_millis(*ms)),
            Step::Hang => proc_steps::hang(),
            Step::SpawnChild { sleep_secs, pidfile, stdio } => {
                let pidfile = pidfile.as_ref().map(|path| self.workspace.resolve(path)).transpose()?;
                proc_steps::spawn_child(*sleep_secs, pidfile.as_deref(), *stdio, &mut self.children)?;
            }
            Step::SetsidDaemon { pidfile, sleep_secs, stdio } => {
                let pidfile = self.workspace.resolve(pidfile)?;
                proc_steps::daemon(&pidfile, *sleep_secs, *stdio, proc_steps::Detach::Session)?;
            }
            Step::GroupDaemon { pidfile, sleep_secs, stdio } => {
                let pidfile = self.workspace.resolve(pidfile)?;
                proc_steps::daemon(&pidfile, *sleep_secs, *stdio, proc_steps::Detach::Group)?;
            }
            Step::ForkBomb { max, sleep_secs, pidfile } => {
                let pidfile = pidfile.as_ref().map(|path| self.workspace.resolve(path)).transpose()?;
                proc_steps::fork_bomb(*max, *sleep_secs, pidfile.as_deref(), &mut self.children)?;
            }
            Step::KillParent { signal } => proc_steps::kill_parent(signal.as_deref())?,
            Step::Result { value } => self.result = FinalResult::Json(value.clone()),
            Step::ResultRaw { text } => self.result = FinalResult::Raw(text.clone()),
            Step::NoResult => self.result = FinalResult::Nothing,
            Step::Exit { code, abrupt } => return Ok(Flow::Exit { code: *code, abrupt: *abrupt }),
            Step::Fail { message } => return Ok(Flow::Failed(message.clone())),
            Step::Record { path, env } => self.record(&self.workspace.resolve(path)?, env)?,
            Step::Net { probe, host, port, name, count, at_once } => {
                let args = crate::net_steps::NetArgs {
                    host: host.clone(),
                    port: *port,
                    name: name.clone(),
                    count: *count,
                    at_once: *at_once,
                };
                let text = crate::net_steps::run(*probe, &args, &mut self.held);
                self.activity(Activity::Message(text))?;
            }
            other => unreachable!("step {} is handled in Runner::step", other.kind()),
        }
        Ok(Flow::Continue)
    }

    fn activity(&mut self, activity: Activity) -> Result<()> {
        self.emitter.activity(&activity).context("writing to stdout")
    }

    fn file_outcome(&mut self, outcome: FileOutcome) -> Result<()> {
        if let Activity::FileChange { error: Some(error), .. } = &outcome.activity {
            eprintln!("fake-agent: step {} failed: {error}", self.steps_run - 1);
        }
        for path in &outcome.touched {
            if let Some(relative) = self.workspace.relative(path) {
                self.touched.insert(relative);
            }
        }
        self.activity(outcome.activity)
    }

    /// Writes argv, cwd, style, pids and the named environment variables as JSON.
    fn record(&self, path: &std::path::Path, names: &[String]) -> Result<()> {
        let env: serde_json::Map<String, Value> =
            names.iter().map(|name| (name.clone(), std::env::var(name).map_or(Value::Null, Value::String))).collect();
        let record = json!({
            "argv": self.invocation.argv, "cwd": self.invocation.cwd.to_string_lossy(), "style": self.invocation.style.name(),
            "prompt": self.invocation.prompt, "schema_offered": self.invocation.schema_offered,
            "pid": std::process::id(), "ppid": nix::unistd::getppid().as_raw(), "env": env,
        });
        std::fs::write(path, format!("{record:#}\n")).with_context(|| format!("writing {}", path.display()))
    }

    fn default_result(&self) -> Value {
        json!({
            "result": "done",
            "summary": format!("fake agent ran {} step(s)", self.steps_run),
            "changed_files": self.touched,
            "verification_run": [], "evidence": [], "findings": [], "risks": [], "next": [],
        })
    }

    /// Hands back the result and writes the closing events; returns `code`.
    fn finish(&mut self, code: i32) -> Result<i32> {
        let (text, structured) = match &self.result {
            FinalResult::Default => {
                let value = self.default_result();
                (Some(value.to_string()), Some(value))
            }
            FinalResult::Json(value) => (Some(value.to_string()), Some(value.clone())),
            FinalResult::Raw(text) => (Some(text.clone()), None),
            FinalResult::Nothing => (None, None),
        };
        if let (Style::Codex, Some(path), Some(text)) = (self.invocation.style, &self.invocation.output_file, &text) {
            std::fs::write(path, text).with_context(|| format!("writing the result to {}", path.display()))?;
        }
        self.emitter.finish(text.as_deref(), structured.as_ref()).context("writing to stdout")?;
        Ok(code)
    }
}

/// Writes `data` `count` times through `sink`, in chunks of about 64 KiB.
fn write_repeated(sink: &mut dyn FnMut(&[u8]) -> io::Result<()>, data: &[u8], count: u64) -> io::Result<()> {
    if data.is_empty() || count == 0 {
        return Ok(());
    }
    let per_chunk = (65536 / data.len()).max(1) as u64;
    let chunk = data.repeat(per_chunk.min(count) as usize);
    let mut left = count;
    while left >= per_chunk {
        sink(&chunk)?;
        left -= per_chunk;
    }
    if left > 0 {
        sink(&data.repeat(left as usize))?;
    }
    Ok(())
}
