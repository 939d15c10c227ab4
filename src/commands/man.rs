//! `git dispatch man`: the man page, `git-dispatch(1)`, that `git dispatch --help` shows once it is
//! installed (install.sh puts it in `~/.local/share/man/man1`). clap_mangen renders the synopsis,
//! the options and the command list; this file adds each command's own options, the task packet,
//! the exit status, the environment and the files.

use std::io::Write;

use clap::CommandFactory;
use clap_mangen::roff::{bold, italic, roman, Roff};

use crate::cli::Cli;

pub fn cmd_man(stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let command = Cli::command().name("git-dispatch").bin_name("git dispatch");
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(stdout)?;
    man.render_name_section(stdout)?;
    man.render_synopsis_section(stdout)?;
    man.render_description_section(stdout)?;
    man.render_options_section(stdout)?;
    commands_section(&command).to_writer(stdout)?;
    stdout.write_all(SECTIONS.as_bytes())?;
    man.render_version_section(stdout)?;
    Ok(0)
}

/// `COMMANDS`: each visible command with its usage and its own options.
fn commands_section(command: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let mut sub = sub.clone().bin_name(format!("git dispatch {}", sub.get_name()));
        let usage = sub.render_usage().to_string();
        roff.control("SS", [format!("git dispatch {}", sub.get_name()).as_str()]);
        roff.text([roman(usage.trim_start_matches("Usage: "))]);
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            roff.control("PP", []).text([roman(about.to_string())]);
        }
        for arg in sub.get_arguments().filter(|arg| !arg.is_hide_set() && arg.get_id() != "help") {
            roff.control("TP", []).text(arg_label(arg));
            if let Some(help) = arg.get_long_help().or(arg.get_help()) {
                roff.text([roman(help.to_string())]);
            }
        }
    }
    roff
}

/// `-C, --repo DIR`, `--json`, `RUN`.
fn arg_label(arg: &clap::Arg) -> Vec<clap_mangen::roff::Inline> {
    let value = arg.get_value_names().map(|names| names.join(" ")).unwrap_or_else(|| arg.get_id().to_string());
    let mut flags: Vec<String> = arg.get_short().map(|short| format!("-{short}")).into_iter().collect();
    flags.extend(arg.get_long().map(|long| format!("--{long}")));
    if flags.is_empty() {
        return vec![italic(value.to_uppercase())];
    }
    let mut label = vec![bold(flags.join(", "))];
    if arg.get_action().takes_values() {
        label.extend([roman(" "), italic(value)]);
    }
    label
}

/// The sections clap cannot know about, in roff.
const SECTIONS: &str = r#".SH "TASK PACKET"
A task packet is a Markdown file of upper-case fields: a header line \fBKEY: value\fR, or \fBKEY:\fR
followed by \fB\- item\fR bullets. A parenthetical after the key (\fBWRITE SCOPE (repo-relative):\fR),
Markdown headings and bold keys are accepted; unknown upper-case keys are ignored; a field given
twice is an error.
.TP
\fBMODE\fR (required)
\fBworker\fR (may write inside WRITE SCOPE), \fBverifier\fR, \fBreviewer\fR or \fBsynthesizer\fR
(may write nothing).
.TP
\fBWORKDIR\fR (required)
The folder the agent works in: a git repository or a folder inside one; absolute, \fB~/...\fR or
relative to the packet's folder.
.TP
\fBOBJECTIVE\fR, \fBNON-GOALS\fR, \fBVERIFICATION\fR, \fBDELIVERABLE\fR (required)
What to achieve, what must not happen, the commands or evidence to gather (run by git-dispatch
itself with \fB--verify\fR), and what to return.
.TP
\fBWRITE SCOPE\fR (required)
Globs relative to WORKDIR (\fB*\fR does not cross \fB/\fR, \fB**\fR does): a plain path covers itself
and everything below it, \fBdir/\fR everything below dir, \fB!entry\fR excludes; \fBnone\fR for
read-only modes. Annotations such as \fB(NEW)\fR are comments. A rename is in scope only if both
paths are.
.TP
\fBCONTEXT\fR, \fBAGENT\fR, \fBBASE\fR, \fBSETUP\fR, \fBTIMEOUT SEC\fR, \fBHEARTBEAT SEC\fR, \fBALLOW DIRTY OVERLAP\fR, \fBWRITABLE\fR, \fBREADABLE\fR, \fBALLOW\fR, \fBNETWORK\fR, \fBALLOW HOSTS\fR, \fBATTEMPTS\fR (optional)
Background for the agent; \fBcodex\fR or \fBclaude\fR; the base revision; commands run in the
worktree before the agent; the limits in seconds; \fBtrue\fR to dispatch over uncommitted changes
in scope; extra writable paths for the sandbox; hidden secrets the agent may read;
sensitive-change kinds allowed (\fBsymlink\fR, \fBsubmodule\fR, \fBgitattributes\fR,
\fBexec-bit\fR); the network (\fBapi\fR: only the model API and the allow-list, through
git-dispatch's proxy; \fBstrict\fR: the same, a refused connection a violation; \fBnone\fR;
\fBallow\fR: everything); extra hosts the proxy lets through (\fBHOST[:PORT]\fR); how many attempts to dispatch at once as
one group (best of N, 1 to 20). The command line wins over the packet, which wins over the
defaults.
.PP
Errors name the field and the packet's line, exit 1, and create nothing. The full reference is
docs/packet.md.
.SH "EXIT STATUS"
.TP
\fB0\fR
Dispatched with no policy violation; a worker's result is offered when it changed something.
.TP
\fB1\fR
Could not start: a bad packet or flag, WORKDIR not in a git repository, the agent not found, an
internal error before the agent ran. One line on stderr names the problem. Every refusal of
\fBapply\fR is 1 too.
.TP
\fB2\fR
Blocked before the agent ran: dirty overlap, the quota gate, a failing SETUP command.
.TP
\fB3\fR
The agent ran and the run failed or violated policy: out of scope, a read-only mode wrote, the
watchdog, a non-zero agent exit, no usable structured result, \fB--verify\fR failed, the git dir
tampered with, your checkout changed, a sensitive change. Nothing is offered.
.TP
\fB4\fR
\fBwait\fR only: a run was still going when \fB--timeout\fR passed.
.PP
With several packets the exit status is the highest of the runs'; the attempts of a group (best
of N) count as one, with their best (lowest) code, for \fBrun\fR and \fBwait\fR alike. On success
or violation the last line on stdout is the run folder.
.SH ENVIRONMENT
.TP
\fBCODEX_DISPATCH_TIMEOUT_SEC\fR, \fBCODEX_DISPATCH_HEARTBEAT_SEC\fR, \fBCODEX_DISPATCH_QUOTA_GATE\fR
Defaults of \fB--timeout-sec\fR (1800), \fB--heartbeat-sec\fR (300) and \fB--quota-gate\fR (85).
.TP
\fBGIT_DISPATCH_AGENT\fR, \fBGIT_DISPATCH_SANDBOX\fR, \fBGIT_DISPATCH_NETWORK\fR
Defaults of \fB--agent\fR, \fB--sandbox\fR and \fB--network\fR.
.TP
\fBGIT_DISPATCH_CODEX_BIN\fR, \fBGIT_DISPATCH_CLAUDE_BIN\fR
The agent programs (else \fBcodex\fR and \fBclaude\fR on PATH).
.TP
\fBGIT_DISPATCH_WORKTREES\fR
The root of the worktree folders (default \fB${XDG_CACHE_HOME:-~/.cache}/git-dispatch/worktrees\fR).
.TP
\fBGIT_DISPATCH_POOL_SIZE\fR
How many finished worktrees each repository keeps for warm starts (default 2; 0 keeps none).
.TP
\fBGIT_DISPATCH_USAGE_URL\fR
The Codex usage endpoint the quota gate asks (for tests: a server on 127.0.0.1).
.TP
\fBGIT_DISPATCH_BWRAP\fR, \fBGIT_DISPATCH_NO_LANDLOCK\fR
The bubblewrap program; \fB1\fR treats Landlock as unsupported.
.TP
\fBGIT_DISPATCH_CHANGE_JOURNAL\fR
\fBoff\fR: the snapshot scans every file instead of trusting the inotify change journal.
.TP
\fBGIT_DISPATCH_CGROUP\fR
\fBoff\fR: no cgroup of its own for each child (by default made where a cgroup v2 is writable).
\fBGIT_DISPATCH_CGROUP_PROCS\fR is set by git-dispatch for the child (internal).
.TP
\fBGIT_DISPATCH_TRACE_TIMING\fR
Print the time of each pipeline step on stderr.
.TP
\fBCODEX_HOME\fR
Where the quota gate reads Codex's \fBauth.json\fR (default \fB~/.codex\fR).
.TP
\fBIS_SANDBOX\fR
Claude Code refuses \fB--dangerously-skip-permissions\fR as root unless \fBIS_SANDBOX=1\fR;
git-dispatch says so and never sets it.
.TP
\fBGIT_COMMITTER_NAME\fR, \fBGIT_COMMITTER_EMAIL\fR, \fBuser.name\fR, \fBuser.email\fR
The identity of git-dispatch's own commits and reflog entries; with none configured it is
\fBgit-dispatch <git-dispatch@localhost>\fR.
.PP
Set by git-dispatch for the agent and SETUP of an attempt of a group: \fBGIT_DISPATCH_ATTEMPT\fR
(its number, from 1) and \fBGIT_DISPATCH_GROUP\fR (the group id).
.PP
Set by git-dispatch for its own use (not to be set by hand): \fBGIT_DISPATCH_RUN_MARKER\fR (marks
a run's processes), \fBGIT_DISPATCH_SUPERVISOR_PID\fR (the process supervisor's pid, checked by the
supervised program), \fBGIT_DISPATCH_REPLAY_AGENT\fR and \fBGIT_DISPATCH_REPLAY_DELAY_MS\fR (the
demo's replay agent), \fBGIT_DISPATCH_TEST_PAUSE_AT\fR and \fBGIT_DISPATCH_TEST_PAUSE_FILE\fR (the
crash tests).
.SH FILES
.TP
\fI<WORKDIR>\fB/.codex-dispatch/runs/\fI<run-id>\fB/\fR
A run folder (or \fB--output-dir\fR): task.md, prompt.md, result.schema.json, events.jsonl,
stderr.txt, result.json, result.md, pre-status.txt, post-status.txt, pre-diff-stat.txt,
post-diff-stat.txt, post-diff-name-only.txt, changes.json, result.patch, policy.json (the verdict,
docs/policy.md), run.json (timings and tokens, docs/run.md), state.json (queued, running,
finished, ...), verification.json with \fB--verify\fR, applied.json once applied,
superseded.json in the other attempts of a group once one was applied, tampered/ when
the git dir was restored; a detached run's first folder also holds supervisor.json and
supervisor.log.
.TP
\fB.git/info/exclude\fR
Gets the line \fB.codex-dispatch/\fR so run folders are never untracked files.
.TP
\fB${XDG_CACHE_HOME:-~/.cache}/git-dispatch/\fR
\fBworktrees/\fI<repo>-<hash>\fB/\fR (the worktrees, the warm pool and the journal of runs in
progress) and \fBagent-versions/\fR (remembered \fB--version\fR answers).
.TP
\fBrefs/heads/dispatch/\fI<run-id>\fR
The scratch branch, kept while its result is offered.
.TP
\fB~/.local/share/man/man1/git-dispatch.1\fR, \fB${CLAUDE_SKILLS_DIR:-~/.claude/skills}/git-dispatch/\fR
This page and the Claude Code skill, as install.sh puts them.
"#;
