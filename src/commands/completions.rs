//! `git dispatch completions <shell>`: generated from the clap definition.
//!
//! Completions cover `git-dispatch ...` and, through the hook of git's own completion in each
//! shell, `git dispatch ...`: bash's git-completion.bash calls `_git_dispatch` (added here), zsh's
//! `_git` calls `_git-dispatch` (the function clap generates), fish's `git.fish` hands a custom
//! command to `__fish_git_complete_custom_command` (registered here for `dispatch`, as fish 3.6's
//! own loop misses it).

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs};

/// The name the bash script is generated for: clap_complete 4.6 names a subcommand's `case` label
/// after the binary with `-` spelt `__subcmd__` but looks it up with `-` spelt `__`, so a binary
/// whose name has a `-` never completes a subcommand's options. The script is made for a name
/// without one, then registered for `git-dispatch`.
const BASH_NAME: &str = "gitdispatch";

pub fn cmd_completions(args: &CompletionsArgs, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let name = if args.shell == Shell::Bash { BASH_NAME } else { "git-dispatch" };
    let mut command = Cli::command().bin_name(name);
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    let script = String::from_utf8(script).context("the generated completion script is not UTF-8")?;
    match args.shell {
        Shell::Bash => stdout.write_all(bash_script(&script)?.as_bytes())?,
        Shell::Fish => stdout.write_all(format!("{script}{FISH_GIT_HOOK}").as_bytes())?,
        _ => stdout.write_all(script.as_bytes())?,
    }
    Ok(0)
}

/// clap's script registered for `git-dispatch`, plus `_git_dispatch` for git-completion.bash: the
/// words after `dispatch` handed to clap's function as if `git-dispatch` had been typed, with the
/// trailing space git's `-o nospace` leaves out.
fn bash_script(script: &str) -> anyhow::Result<String> {
    let function = script
        .lines()
        .find_map(|line| line.trim().strip_prefix("complete -F ")?.split_whitespace().next())
        .context("the generated bash completion registers no function")?
        .to_string();
    let suffix = format!(" {BASH_NAME}");
    let mut out = String::new();
    for line in script.lines() {
        match line.strip_suffix(&suffix) {
            Some(start) if line.trim_start().starts_with("complete -F ") => {
                out.push_str(&format!("{start} git-dispatch"))
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out.push_str(&BASH_GIT_HOOK.replace("@FUNCTION@", &function));
    Ok(out)
}

const BASH_GIT_HOOK: &str = r#"
# `git dispatch ...`: git's completion (git-completion.bash) calls _git_dispatch.
_git_dispatch() {
    local i at=0 words reply
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} == dispatch ]]; then at=$i; break; fi
    done
    ((at > 0)) || return 0
    words=(git-dispatch "${COMP_WORDS[@]:at+1}")
    local COMP_CWORD=$((COMP_CWORD - at))
    local COMP_WORDS=("${words[@]}")
    @FUNCTION@ git-dispatch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    for i in "${!COMPREPLY[@]}"; do
        reply=${COMPREPLY[i]}
        [[ -d $reply || $reply == *= ]] || COMPREPLY[i]="$reply "
    done
}
"#;

const FISH_GIT_HOOK: &str = r#"
# `git dispatch ...`: fish's git completion hands a custom command to its own completions.
complete -c git -f -n 'functions -q __fish_git_complete_custom_command; and __fish_git_using_command dispatch' -a '(__fish_git_complete_custom_command dispatch)'
"#;
