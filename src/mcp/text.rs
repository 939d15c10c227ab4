//! The words a client's model reads: the server's instructions and each tool's description.
//! They must be enough to use the tools right without the skill: what a task packet is, the four
//! modes, that a run is detached and waited for in bounded calls, and that nothing reaches the
//! user's checkout before `apply`.

/// The server's `instructions` (sent at initialization).
pub const INSTRUCTIONS: &str = "git-dispatch hands a bounded coding task to a coding-agent CLI \
(Codex or Claude Code) in an isolated git worktree of the user's repository, checks every changed \
path against the task's WRITE SCOPE and a set of safety rules, and offers the result back only \
after review. Flow: `dispatch` a task packet (returns a run_id at once; the run goes on in the \
background, also after this server exits), then call `wait` with that run_id again and again \
while it answers state `still_running` (each call is bounded), then `review` the run, and only \
if the user wants it, `apply` it. Nothing is ever written to the user's checkout except by \
`apply`. `status`, `list` and `cancel` manage runs. The working repository is this server's \
working directory unless a call gives `workdir`.";

/// The `dispatch` tool.
pub const DISPATCH: &str = "Start a detached git-dispatch run of one task packet and return at \
once with {run_id, run_dir, state}. Then call `wait` with the run_id until it is no longer \
`still_running`, then `review`. Nothing is applied to the user's checkout by a run: only `apply` \
does that.\n\n\
A task packet is Markdown with uppercase field headers, `KEY: value` or `KEY:` followed by \
`- item` bullets. Required: MODE, WORKDIR, OBJECTIVE, WRITE SCOPE, NON-GOALS, VERIFICATION, \
DELIVERABLE. Optional: CONTEXT, AGENT (codex|claude), BASE, SETUP, TIMEOUT SEC, ALLOW, \
ALLOW DIRTY OVERLAP. MODE is one of: `worker` (implements a bounded change; may change only the paths WRITE SCOPE \
covers; the only mode whose result can be applied), `verifier` (proves or disproves a claim with \
fresh command evidence), `reviewer` (reviews a diff or design, findings by severity), \
`synthesizer` (reconciles conflicting findings); the last three are read-only: any changed path \
is a violation. WORKDIR is the repository (or a folder in it); a \
relative WORKDIR is resolved against the packet file's folder, or for inline `packet` text \
against `workdir`. WRITE SCOPE lists repository-relative globs (`src/a.py`, `tests/`, `docs/**`, \
`!secret.txt`), or `none` for read-only modes.\n\n\
Example packet:\nMODE: worker\nWORKDIR: .\nOBJECTIVE: Add a unit test for parse_date.\n\
WRITE SCOPE:\n- tests/\nNON-GOALS:\n- changing src/\nVERIFICATION:\n- pytest -q\n\
DELIVERABLE: the new test file.\n\n\
Give exactly one of `packet_path` (a file) or `packet` (the text). A bad packet is a tool error \
naming the field and its line.";

/// The `status` tool.
pub const STATUS: &str = "Where runs are, without waiting: for each run its state (queued, \
running, finished, cancelled, died), pipeline stage, what the agent is doing now, elapsed \
seconds, and once finished its exit_code, verdict and offered flag. Without run_id: the runs \
still going, else the newest run. Same fields as `git dispatch status --json`.";

/// The `wait` tool.
pub const WAIT: &str = "Wait for runs to finish, at most timeout_sec seconds per call (default \
50, capped at 55 so a call never hits the client's tool timeout). Answers state `finished` with \
each run's verdict and exit_code (0 offered or ok, 2 blocked before the agent ran, 3 failed or \
violated policy: nothing offered), or the literal state `still_running`: then simply call `wait` \
again with the same run_ids. With any=true it returns as soon as one run is over. Sends progress \
notifications while waiting when the call has a progressToken.";

/// The `review` tool.
pub const REVIEW: &str = "Review a finished run before deciding to apply it: its verdict, \
whether it is offered, exit_code, policy messages, every changed path with its WRITE SCOPE mark \
(in_scope), sensitive changes (symlinks, submodules, exec bits, ...), claims_mismatch between \
what the agent said it changed and what it changed, and the patch text (truncated above a size \
limit with a marker; `patch_path` is the full patch). A run still going has no verdict yet: wait \
for it first.";

/// The `apply` tool.
pub const APPLY: &str = "Hand an offered run's result back to the user's checkout: as a patch \
(3-way, nothing staged or committed; the default) or with merge=true by merging the run's scratch \
branch into the current branch. This is the only tool that changes the user's files: use it \
only after `review`, when the user wants the change. Refused (a tool error with the reason) when \
the run was not offered (a violation, a read-only mode, a failed run), was already applied, or \
its recorded result no longer matches the object store.";

/// The `cancel` tool.
pub const CANCEL: &str = "Stop queued or running runs: the agent's whole process tree is \
stopped, the run's verdict becomes `cancelled` (exit 3) and nothing is offered. Give run_ids, or \
all=true for every run still going in the repository. Waits up to wait_sec (default 30, at most \
55) for each to stop. A run already over is left as it is.";

/// The `list` tool.
pub const LIST: &str = "The runs of the repository, newest first: run_id, mode, state, verdict, \
offered, applied, exit_code, run_dir. Read-only.";
