//! `git dispatch demo`: a complete dispatch on a throw-away repository with the replay agent built
//! into the binary (a recorded Codex session of events and file edits): no API key, no network.
//! It shows the live status, the verdict, the `review` output, and the next commands to try.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::Parser;

use crate::agent::replay;
use crate::cli::{Cli, Command, DemoArgs, RunArgs};
use crate::handback;

pub fn cmd_demo(args: &DemoArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let scratch =
        tempfile::Builder::new().prefix("git-dispatch-demo-").tempdir().context("cannot create a temporary folder")?;
    let root = std::fs::canonicalize(scratch.path()).context("cannot resolve the temporary folder")?;
    let repo_dir = root.join("slugs");
    create_demo_repo(&repo_dir)?;
    let packet_path = root.join("task.md");
    std::fs::write(&packet_path, replay::demo_packet(&repo_dir.display().to_string()))
        .context("cannot write the demo packet")?;

    writeln!(stdout, "git-dispatch demo: a throw-away repository at {}", repo_dir.display())?;
    writeln!(stdout, "task packet: {}", packet_path.display())?;
    writeln!(
        stdout,
        "agent: a recorded Codex session, replayed by git-dispatch itself (no model, no API key, no network)\n"
    )?;
    let options = super::run::run_options(&demo_run_args(&packet_path, args.quiet)?)?;
    let mut dispatch = crate::pipeline::resolve(&packet_path, &options)?;
    let binary = std::env::current_exe().context("cannot find the git-dispatch binary")?;
    dispatch.agent_program = Some(replay::replay_agent_link(&binary, &root.join("bin"))?);
    dispatch.skip_quota = true;
    dispatch.worktrees_root = Some(root.join("worktrees"));
    crate::process::install_interrupt_handler()?;
    let (run_dir, verdict) = crate::pipeline::dispatch(&dispatch, &options)?;

    writeln!(
        stdout,
        "verdict: exit {} ({})",
        verdict.exit_code,
        if verdict.offered { "offered" } else { "not offered" }
    )?;
    writeln!(stdout, "run folder: {}\n", run_dir.path.display())?;
    writeln!(stdout, "$ git dispatch review")?;
    let run = handback::RunRecord::load(&run_dir.path);
    handback::review(&run, false, stdout)?;
    writeln!(stdout)?;
    if args.keep {
        let kept = scratch.keep();
        writeln!(stdout, "The demo repository is kept at {}. Try, from there:", kept.join("slugs").display())?;
        writeln!(stdout, "  cd {}", kept.join("slugs").display())?;
        writeln!(stdout, "  git dispatch list\n  git dispatch show\n  git dispatch apply\n  git dispatch clean --all --force --artifacts")?;
    } else {
        writeln!(stdout, "Next, on your own repository:")?;
        writeln!(stdout, "  git dispatch run --task your-task.md --dry-run   # see the prompt and the run folder")?;
        writeln!(stdout, "  git dispatch run --task your-task.md             # dispatch codex (or --agent claude)")?;
        writeln!(stdout, "  git dispatch review && git dispatch apply        # read, then hand the result back")?;
        writeln!(
            stdout,
            "  git dispatch demo --keep                         # keep this demo repository to try apply"
        )?;
    }
    Ok(verdict.exit_code)
}

/// The run arguments of the demo: a fresh worktree, the default sandbox (`--sandbox` /
/// `GIT_DISPATCH_SANDBOX` as for any run).
fn demo_run_args(packet: &Path, quiet: bool) -> anyhow::Result<RunArgs> {
    let mut argv = vec!["git-dispatch".to_string(), "run".into(), "--task".into(), packet.display().to_string()];
    argv.extend(["--fresh".to_string(), "--timeout-sec".into(), "120".into()]);
    if quiet {
        argv.push("--quiet".into());
    }
    match Cli::try_parse_from(argv)?.command {
        Some(Command::Run(args)) => Ok(args),
        _ => anyhow::bail!("the demo's run arguments do not parse"),
    }
}

/// A one-commit repository with the demo project, its index matching HEAD.
fn create_demo_repo(dir: &Path) -> anyhow::Result<()> {
    gix::init(dir).with_context(|| format!("cannot create a repository in {}", dir.display()))?;
    // A throw-away repository gets its own identity, so the demo works where git has none configured.
    let config_path = dir.join(".git/config");
    let mut config = std::fs::read_to_string(&config_path).context("cannot read the demo repository's config")?;
    config.push_str("[user]\n\tname = git-dispatch demo\n\temail = demo@git-dispatch.invalid\n");
    std::fs::write(&config_path, config).context("cannot write the demo repository's config")?;
    let repo = gix::open(dir).context("cannot open the demo repository")?;
    let empty = repo.empty_tree().id;
    let mut editor = repo.edit_tree(empty)?;
    for (path, content) in replay::demo_repo_files() {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap_or(dir))
            .with_context(|| format!("cannot create {}", file.display()))?;
        std::fs::write(&file, content).with_context(|| format!("cannot write {}", file.display()))?;
        let blob = repo.write_blob(content.as_bytes())?.detach();
        editor.upsert(path, gix::object::tree::EntryKind::Blob, blob)?;
    }
    let tree = editor.write()?.detach();
    repo.commit("HEAD", "The slugs project", tree, gix::commit::NO_PARENT_IDS)?;
    let mut index = repo.index_from_tree(&tree)?;
    index.write(Default::default())?;
    Ok(())
}
