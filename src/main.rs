//! The `git-dispatch` binary: parse the command line, run the command, map errors to exit code 1.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The Landlock sandbox's trampoline: this binary re-executed as a hidden stage.
    if let Some(code) = git_dispatch::sandbox::run_hidden_stage(&std::env::args_os().skip(1).collect::<Vec<_>>()) {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // Orphans of what git-dispatch starts (a daemon that left the agent's process group) become
    // its children, and are killed once no child of its own is left (see `process`).
    if let Err(err) = git_dispatch::process::become_subreaper() {
        eprintln!("warning: {err:#}");
    }
    // `git dispatch demo` runs this binary as its agent, under the replay agent's name: the
    // built-in replay of a Codex session.
    let mut argv = std::env::args_os();
    if argv.next().is_some_and(|argv0| git_dispatch::agent::replay::started_as_replay_agent(&argv0)) {
        let args: Vec<String> = argv.map(|arg| arg.to_string_lossy().into_owned()).collect();
        std::process::exit(git_dispatch::agent::replay::run_replay(&args));
    }
    let cli = match git_dispatch::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Help and version are successes; every usage error is "could not start" (exit 1).
            return if err.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match git_dispatch::commands::execute(cli, &mut out) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => 0,
        Err(err) => {
            let _ = out.flush();
            // Error chains carry paths and messages from the worktree or a run folder.
            eprintln!("error: {}", git_dispatch::escape::line(&format!("{err:#}")));
            git_dispatch::policy::exit::CANNOT_START
        }
    };
    let _ = out.flush();
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
