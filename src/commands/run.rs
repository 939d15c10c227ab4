//! `git dispatch run`: load every packet first (a bad one stops everything before anything is
//! created), then dispatch each, and print each run folder's path (or a JSON summary).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::agent::AgentKind;
use crate::artifacts::{self, RunDir};
use crate::cli::{RunArgs, SandboxChoice, DEFAULT_HEARTBEAT_SEC, DEFAULT_TIMEOUT_SEC};
use crate::packet::{self, Packet};
use crate::policy::{exit, Verdict};
use crate::prompt;
use crate::scope::Scope;

/// Everything one dispatch needs, resolved from the command line, the packet and the defaults.
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub packet_path: PathBuf,
    pub packet_text: String,
    pub packet: Packet,
    pub scope: Scope,
    /// The user's repository: its worktree root and common git dir.
    pub repo_root: PathBuf,
    pub common_dir: PathBuf,
    /// WORKDIR relative to `repo_root` (`""` at the root), `/`-separated.
    pub workdir_in_repo: String,
    pub agent: AgentKind,
    pub base: Option<String>,
    pub timeout_sec: u64,
    pub heartbeat_sec: u64,
    pub allow_dirty_overlap: bool,
    pub allow: Vec<String>,
    /// The agent program when not located by name (the demo's built-in replay agent).
    pub agent_program: Option<PathBuf>,
    /// Extra environment for the agent process.
    pub agent_env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    /// Skip the quota gate (the demo never contacts a network endpoint).
    pub skip_quota: bool,
    /// Where worktrees go, over `GIT_DISPATCH_WORKTREES` (the demo keeps them in its own folder).
    pub worktrees_root: Option<PathBuf>,
}

/// The JSON summary printed with `--json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub run_id: String,
    pub run_dir: String,
    pub mode: String,
    pub exit_code: i32,
    pub policy_violation: bool,
    pub offered: bool,
    pub messages: Vec<String>,
}

pub fn cmd_run(args: &RunArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let dispatches = super::dispatch::timing::span("resolve", || {
        args.tasks.iter().map(|path| resolve(path, args)).collect::<anyhow::Result<Vec<_>>>()
    })?;
    if !args.dry_run {
        for dispatch in &dispatches {
            super::dispatch::timing::span("locate", || crate::agent::locate(dispatch.agent))?;
        }
        crate::process::install_interrupt_handler()?;
        probe_sandbox_early(args.sandbox);
    }
    let outcomes = super::dispatch::timing::span("dispatch-all", || run_all(&dispatches, args));
    let mut worst = exit::OK;
    let mut summaries = Vec::new();
    for outcome in outcomes {
        let (run_dir, verdict) = outcome?;
        if verdict.exit_code == exit::CANNOT_START {
            if let Some(message) = verdict.messages.iter().rev().find(|m| m.starts_with("ERROR")) {
                eprintln!("error: {message} (run folder {})", run_dir.path.display());
            }
        }
        worst = worst.max(verdict.exit_code);
        summaries.push(Summary {
            run_id: run_dir.id.clone(),
            run_dir: run_dir.path.display().to_string(),
            mode: verdict.mode.clone(),
            exit_code: verdict.exit_code,
            policy_violation: verdict.policy_violation,
            offered: verdict.offered,
            messages: verdict.messages.clone(),
        });
    }
    if summaries.len() > 1 {
        eprint!("{}", summary_table(&summaries));
    }
    print_summaries(&summaries, args.json, stdout)?;
    Ok(worst)
}

/// Starts the once-per-process bubblewrap probe on a thread of its own when the run may use
/// bubblewrap, so that its process runs while the dispatch audits the checkout and prepares the
/// worktree; the sandbox stage then finds the answer ready (or waits for it).
fn probe_sandbox_early(choice: SandboxChoice) {
    if matches!(choice, SandboxChoice::Auto | SandboxChoice::Bwrap) {
        std::thread::spawn(|| {
            let _probed = crate::sandbox::bwrap_usable();
        });
    }
}

/// Run every dispatch, at most `args.jobs` at once; results in packet order.
/// One finished dispatch: its run folder and verdict.
type Finished = anyhow::Result<(RunDir, Verdict)>;

fn run_all(dispatches: &[Dispatch], args: &RunArgs) -> Vec<Finished> {
    let run_one = |dispatch: &Dispatch| {
        if args.dry_run {
            dry_run(dispatch, args)
        } else {
            super::dispatch::dispatch(dispatch, args)
        }
    };
    let jobs = args.jobs.max(1).min(dispatches.len().max(1));
    if jobs == 1 {
        return dispatches.iter().map(run_one).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Finished>>> =
        dispatches.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(dispatch) = dispatches.get(index) else { break };
                let outcome = run_one(dispatch);
                *slots[index].lock().expect("a slot is only written by one thread") = Some(outcome);
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| Err(anyhow::anyhow!("a dispatch thread panicked")))
        })
        .collect()
}

/// One line per run: id, mode, exit code, verdict.
fn summary_table(summaries: &[Summary]) -> String {
    let width = summaries.iter().map(|s| s.run_id.len()).max().unwrap_or(6).max(6);
    let mut out = format!("{:<width$}  {:<11}  {:>4}  {}\n", "RUN", "MODE", "EXIT", "VERDICT");
    for summary in summaries {
        let verdict = match summary.exit_code {
            0 if summary.offered => "offered",
            0 => "ok, nothing offered",
            2 => "blocked",
            1 => "could not start",
            _ => "violation",
        };
        out.push_str(&format!(
            "{:<width$}  {:<11}  {:>4}  {}\n",
            summary.run_id, summary.mode, summary.exit_code, verdict
        ));
    }
    out
}

fn print_summaries(summaries: &[Summary], json: bool, stdout: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        let value =
            if summaries.len() == 1 { serde_json::to_value(&summaries[0])? } else { serde_json::to_value(summaries)? };
        writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        for summary in summaries {
            writeln!(stdout, "{}", summary.run_dir)?;
        }
    }
    Ok(())
}

/// Load and check one packet, and settle every setting of its dispatch.
pub fn resolve(packet_path: &Path, args: &RunArgs) -> anyhow::Result<Dispatch> {
    let packet = packet::load(packet_path)?;
    let packet_text = std::fs::read_to_string(packet_path)
        .with_context(|| format!("cannot read task packet {}", packet_path.display()))?;
    let repo = gix::discover(&packet.workdir)
        .with_context(|| format!("WORKDIR {} is not inside a git repository", packet.workdir.display()))?;
    let repo_root = repo.workdir().map(Path::to_path_buf).with_context(|| {
        format!("WORKDIR {} is inside a bare repository; expected a checkout", packet.workdir.display())
    })?;
    let repo_root =
        std::fs::canonicalize(&repo_root).with_context(|| format!("cannot resolve {}", repo_root.display()))?;
    let common_dir = std::fs::canonicalize(repo.common_dir())
        .with_context(|| format!("cannot resolve {}", repo.common_dir().display()))?;
    let workdir_in_repo = packet
        .workdir
        .strip_prefix(&repo_root)
        .map(|rel| rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"))
        .unwrap_or_default();
    let scope = Scope::compile(&packet.write_scope)
        .map_err(|err| anyhow::anyhow!("task packet {}: WRITE SCOPE: {err}", packet_path.display()))?
        .within(&workdir_in_repo);
    let mut allow = packet.allow.clone();
    for kind in &args.allow {
        let kind = kind.to_ascii_lowercase();
        if !packet::ALLOW_KINDS.contains(&kind.as_str()) {
            anyhow::bail!("--allow: unknown kind `{kind}`; expected one of {}", packet::ALLOW_KINDS.join(", "));
        }
        allow.push(kind);
    }
    Ok(Dispatch {
        packet_path: std::path::absolute(packet_path).unwrap_or_else(|_| packet_path.to_path_buf()),
        agent: args.agent.or(packet.agent).unwrap_or_default(),
        base: args.base.clone().or_else(|| packet.base.clone()),
        timeout_sec: args.timeout_sec.or(packet.timeout_sec).unwrap_or(DEFAULT_TIMEOUT_SEC),
        heartbeat_sec: args.heartbeat_sec.or(packet.heartbeat_sec).unwrap_or(DEFAULT_HEARTBEAT_SEC),
        allow_dirty_overlap: args.allow_dirty_overlap || packet.allow_dirty_overlap,
        allow,
        agent_program: None,
        agent_env: Vec::new(),
        skip_quota: false,
        worktrees_root: None,
        packet_text,
        scope,
        repo_root,
        common_dir,
        workdir_in_repo,
        packet,
    })
}

/// Create the run folder (and the `.codex-dispatch/` exclude line when it is inside the repository).
pub fn create_run_dir(dispatch: &Dispatch, args: &RunArgs) -> anyhow::Result<RunDir> {
    let root = artifacts::runs_root(&dispatch.packet.workdir, args.output_dir.as_deref());
    if root.starts_with(&dispatch.repo_root) {
        artifacts::exclude_run_folders(&dispatch.common_dir)?;
    }
    let branch_taken = |id: &str| dispatch.common_dir.join("refs/heads/dispatch").join(id).exists();
    artifacts::create_run_dir(&root, dispatch.packet.mode, &dispatch.packet.objective, &branch_taken)
}

/// The seed's verdict fields filled from the dispatch.
pub fn initial_verdict(dispatch: &Dispatch, run_dir: &RunDir) -> Verdict {
    Verdict {
        mode: dispatch.packet.mode.to_string(),
        workdir: dispatch.packet.workdir.display().to_string(),
        write_scope: dispatch.packet.write_scope.clone(),
        run_dir: run_dir.path.display().to_string(),
        agent: dispatch.agent.program_name().to_string(),
        scope_ok: true,
        structured_result_ok: true,
        stage: "created".to_string(),
        ..Verdict::default()
    }
}

/// `--dry-run`: the run folder with the packet, the prompt, the schema, a dry-run result and a verdict.
pub fn dry_run(dispatch: &Dispatch, args: &RunArgs) -> anyhow::Result<(RunDir, Verdict)> {
    let run_dir = create_run_dir(dispatch, args)?;
    write_inputs(dispatch, &run_dir)?;
    let result = serde_json::json!({
        "result": "done",
        "summary": "Dry run only. The agent was not called.",
        "changed_files": [],
        "verification_run": [],
        "evidence": [format!("Prompt written to {}", run_dir.file("prompt.md").display())],
        "findings": [],
        "risks": [],
        "next": "Run without --dry-run to dispatch the agent.",
        "dry_run": true,
    });
    run_dir.write_json("result.json", &result)?;
    let mut verdict = initial_verdict(dispatch, &run_dir);
    verdict.dry_run = true;
    verdict.stage = "done".to_string();
    verdict.messages.push("Dry run: no worktree was created and no agent was called.".to_string());
    run_dir.write_json("policy.json", &verdict)?;
    run_dir.write("result.md", artifacts::render_result_md(&verdict, &[], &result).as_bytes())?;
    Ok((run_dir, verdict))
}

/// task.md (verbatim), prompt.md and result.schema.json.
pub fn write_inputs(dispatch: &Dispatch, run_dir: &RunDir) -> anyhow::Result<()> {
    let original = std::fs::read(&dispatch.packet_path)
        .with_context(|| format!("cannot read {}", dispatch.packet_path.display()))?;
    run_dir.write("task.md", &original)?;
    run_dir.write("prompt.md", prompt::render(&dispatch.packet, &dispatch.packet_text).as_bytes())?;
    run_dir.write("result.schema.json", prompt::RESULT_SCHEMA.as_bytes())
}
