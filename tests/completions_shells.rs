//! `git dispatch completions SHELL` completes `git dispatch ...` through git's own completion:
//! bash by sourcing this machine's git-completion.bash and asking it to complete `git dispatch ...`
//! lines; fish by `complete -C` with fish's git completion; zsh by checking that `_git-dispatch`,
//! the function zsh's `_git` hands `git dispatch` to, is what the script registers. A missing
//! shell or git completion prints `SKIPPED: ...`, a failure under `CI=true`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use pretty_assertions::assert_eq;

use support::cli::binary;

/// Where distributions put git's bash completion.
const GIT_COMPLETION_BASH: [&str; 5] = [
    "/usr/share/bash-completion/completions/git",
    "/usr/share/git/completion/git-completion.bash",
    "/usr/share/git-core/contrib/completion/git-completion.bash",
    "/etc/bash_completion.d/git",
    "/usr/local/etc/bash_completion.d/git-completion.bash",
];

fn skip(reason: &str) {
    support::skip::skip("shell", reason);
}

fn found(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// A folder with the completion script for `shell` written as `name`, and `git-dispatch` (fish
/// finds git's custom commands on PATH).
fn script_dir(shell: &str, name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(binary()).args(["completions", shell]).output().expect("git-dispatch runs");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::write(dir.path().join(name), &output.stdout).expect("write the script");
    std::os::unix::fs::symlink(binary(), dir.path().join("git-dispatch")).expect("link the binary");
    dir
}

fn shell_output(command: &mut Command) -> String {
    let output = command.output().expect("the shell runs");
    assert!(output.status.success(), "{:?}: {}", command, String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// What bash offers for `line` (the cursor at its end), completed the way an interactive shell
/// does: through the function `complete -p` names for the first word.
fn bash_completes(git_completion: &Path, scripts: &Path, line: &str) -> Vec<String> {
    let program = r#"source "$GIT_COMPLETION" && source "$SCRIPTS/git-dispatch.bash" || exit 9
read -ra COMP_WORDS <<<"$LINE"
[[ $LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_LINE=$LINE COMP_POINT=${#LINE}
spec=$(complete -p "${COMP_WORDS[0]}") && function=${spec##*-F } && function=${function%% *}
"$function" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s|\n' "${COMPREPLY[@]}""#;
    let text = shell_output(
        Command::new("bash")
            .args(["--norc", "--noprofile", "-c", program])
            .env("GIT_COMPLETION", git_completion)
            .env("SCRIPTS", scripts)
            .env("LINE", line)
            .current_dir(scripts),
    );
    let mut offered: Vec<String> = text.lines().map(|l| l.strip_suffix('|').unwrap_or(l).to_string()).collect();
    offered.sort();
    offered
}

#[test]
fn bash_completes_git_dispatch_through_gits_completion() {
    let Some(git_completion) = GIT_COMPLETION_BASH.iter().map(PathBuf::from).find(|path| path.is_file()) else {
        return skip("git's bash completion (git-completion.bash) is not installed");
    };
    let scripts = script_dir("bash", "git-dispatch.bash");
    let dir = scripts.path();
    assert_eq!(bash_completes(&git_completion, dir, "git dispatch re"), ["review "]);
    assert_eq!(bash_completes(&git_completion, dir, "git dispatch sta"), ["stats ", "status "]);
    assert_eq!(bash_completes(&git_completion, dir, "git -C . dispatch app"), ["apply "], "git's own options first");
    assert_eq!(bash_completes(&git_completion, dir, "git dispatch run --ag"), ["--agent "]);
    assert_eq!(bash_completes(&git_completion, dir, "git dispatch run --agent "), ["claude ", "codex "]);
    let commands = bash_completes(&git_completion, dir, "git dispatch ");
    for command in ["run ", "review ", "apply ", "list ", "stats ", "clean ", "man "] {
        assert!(commands.iter().any(|c| c == command), "{command:?} in {commands:?}");
    }
    // git's own subcommands still complete, and so does the binary's own name.
    assert!(bash_completes(&git_completion, dir, "git stat").iter().any(|c| c.starts_with("status")));
    assert_eq!(bash_completes(&git_completion, dir, "git-dispatch re"), ["review"]);
    assert_eq!(bash_completes(&git_completion, dir, "git-dispatch run --ag"), ["--agent"]);
}

#[test]
fn fish_completes_git_dispatch_through_gits_completion() {
    if found("fish").is_none() {
        return skip("fish is not installed");
    }
    let scripts = script_dir("fish", "git-dispatch.fish");
    let dir = scripts.path();
    let home = dir.join("home");
    let complete = |line: &str| {
        let program = format!("source {}/git-dispatch.fish; complete -C '{line}'", dir.display());
        let path = std::env::join_paths(
            std::iter::once(dir.to_path_buf())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .expect("PATH");
        let text = shell_output(
            Command::new("fish")
                .args(["-c", &program])
                .env("HOME", &home)
                .env("XDG_CONFIG_HOME", home.join(".config"))
                .env("PATH", path),
        );
        text.lines().map(|line| line.split('\t').next().unwrap_or_default().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(complete("git dispatch re"), ["review"]);
    assert_eq!(complete("git dispatch run --ag"), ["--agent"]);
    assert_eq!(complete("git-dispatch re"), ["review"]);
    assert!(complete("git stat").iter().any(|c| c == "status"), "git's own completion still works");
}

#[test]
fn zsh_hands_git_dispatch_to_the_generated_function() {
    if found("zsh").is_none() {
        return skip("zsh is not installed");
    }
    let scripts = script_dir("zsh", "_git-dispatch");
    let dir = scripts.path();
    // zsh's `_git` completes `git dispatch ...` with `_git-dispatch` when that function exists
    // (`_call_function ret _git-$words[1]`); the script must register exactly that name.
    let program = format!(
        r#"fpath=({dir} $fpath); autoload -U compinit; compinit -u -d {dir}/zcompdump
print -r -- "comp: $_comps[git-dispatch]"
autoload +X _git-dispatch && print -r -- "defined: $+functions[_git-dispatch]"
autoload +X _git 2>/dev/null && print -r -- "hook: ${{#${{(M)${{(f)functions[_git]}}:#*_call_function ret _git-\$words\[1\]*}}}}""#,
        dir = dir.display()
    );
    let text = shell_output(Command::new("zsh").args(["-f", "-c", &program]).env("HOME", dir));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..2], ["comp: _git-dispatch", "defined: 1"], "{text}");
    match lines.get(2) {
        Some(hook) => assert_ne!(*hook, "hook: 0", "zsh's _git no longer calls _git-<command>: {text}"),
        None => skip("zsh's _git completion is not installed"),
    }
}
