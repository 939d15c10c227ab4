//! The hostile behaviours of the adversarial suite, in three tables (run as three tests so they
//! share the machine's cores): the shared git dir, the worktree's content, escapes and processes.

use super::{hostile, shell, with, write, Escape, Hostile};
use serde_json::json;

/// A copy of the shared git dir at `@ROOT@/evil.git` that runs `@PAYLOAD@` as a clean filter for
/// every file, as fsmonitor and as hooks.
const EVIL_COPY: &str = "cp -r @GIT@ @ROOT@/evil.git && git --git-dir=@ROOT@/evil.git config filter.evil.clean @PAYLOAD@ && \
    git --git-dir=@ROOT@/evil.git config filter.evil.required true && git --git-dir=@ROOT@/evil.git config core.fsmonitor @PAYLOAD@ && \
    echo '* filter=evil' > @ROOT@/evil.git/info/attributes && cp @PAYLOAD@ @ROOT@/evil.git/hooks/post-checkout && \
    cp @PAYLOAD@ @ROOT@/evil.git/hooks/post-commit";

/// A commit on top of the base made with plumbing (the agent's own `git commit` may be refused).
const NEW_COMMIT: &str = "$(git commit-tree $(git write-tree) -p HEAD -m evil)";

pub fn git_dir() -> Vec<Hostile> {
    vec![
        hostile("core.fsmonitor in the shared config", json!([shell("git config core.fsmonitor @PAYLOAD@")])),
        hostile("core.hooksPath in the shared config", json!([shell("mkdir -p @ROOT@/h && cp @PAYLOAD@ @ROOT@/h/post-checkout && git config core.hooksPath @ROOT@/h")])),
        hostile("include.path to a planted config", json!([shell("printf '[core]\\n\\tfsmonitor = @PAYLOAD@\\n' > @ROOT@/evil.cfg && git config include.path @ROOT@/evil.cfg")])),
        hostile("write a hook", json!([shell("cp @PAYLOAD@ @GIT@/hooks/post-checkout && cp @PAYLOAD@ @GIT@/hooks/pre-commit")])),
        hostile("info/attributes with a filter driver", json!([shell("echo '* filter=evil' > @GIT@/info/attributes && git config filter.evil.clean @PAYLOAD@ && git config filter.evil.smudge @PAYLOAD@"), write("docs/a.md", "a\n")])),
        hostile("move refs/heads/main", json!([shell(&format!("git update-ref refs/heads/main {NEW_COMMIT}"))])),
        hostile("create a branch", json!([shell("git branch evil HEAD")])),
        hostile("delete a branch", json!([shell("git update-ref refs/heads/main HEAD && git update-ref -d refs/heads/main")])),
        hostile("edit the reflogs", json!([shell("echo evil >> @GIT@/logs/HEAD && cp @GIT@/logs/HEAD @GIT@/logs/refs/heads/evil && : > @GIT@/logs/refs/heads/main")])),
        hostile("edit packed-refs", json!([shell("echo \"$(git rev-parse HEAD) refs/heads/packed-evil\" >> @GIT@/packed-refs")])),
        hostile("objects/info/alternates", json!([shell("mkdir -p @ROOT@/alt && echo @ROOT@/alt >> @GIT@/objects/info/alternates")])),
        hostile("stale index.lock", json!([shell("touch @GIT@/index.lock @GIT@/HEAD.lock")])),
        hostile("point the user's HEAD elsewhere", json!([shell("echo 'ref: refs/heads/evil' > @GIT@/HEAD")])),
        hostile("rewrite the worktree's .git file", json!([shell("git init -q --bare @ROOT@/evil.git && git -C @ROOT@/evil.git config core.fsmonitor @PAYLOAD@ && echo 'gitdir: @ROOT@/evil.git' > .git")])),
        // A copy of the git dir with a filter driver, fsmonitor and hooks; the admin dir's
        // `commondir` pointed at it: git-dispatch's snapshot would read it (and filter docs/a.md).
        hostile("redirect the worktree's commondir", json!([write("docs/a.md", "a\n"), shell(&format!("{EVIL_COPY} && echo @ROOT@/evil.git > \"$(git rev-parse --git-dir)/commondir\""))])),
        hostile("rewrite the worktree's gitdir link", json!([shell("echo @ROOT@/elsewhere/.git > \"$(git rev-parse --git-dir)/gitdir\"")])),
        hostile("config.worktree in the worktree's admin dir", json!([write("docs/a.md", "a\n"), shell("git config extensions.worktreeConfig true && printf '[filter \"evil\"]\\n\\tclean = @PAYLOAD@\\n[core]\\n\\tfsmonitor = @PAYLOAD@\\n' > \"$(git rev-parse --git-dir)/config.worktree\" && echo '* filter=evil' > docs/.gitattributes")])),
    ]
}

pub fn worktree() -> Vec<Hostile> {
    vec![
        hostile(
            "plant a bare repository",
            json!([shell("git init -q --bare docs/planted && git -C docs/planted config core.fsmonitor @PAYLOAD@")]),
        ),
        hostile(
            "embedded repository with a payload",
            json!([shell(
                "git init -q docs/inner && git -C docs/inner config core.fsmonitor @PAYLOAD@ && echo x > docs/inner/f"
            )]),
        ),
        // A failed or violating run's worktree is never pooled: the nested repository goes with it.
        hostile(
            ".git component on disk",
            json!([
                {"step": "mkdir", "path": "docs/.GIT"},
                {"step": "mkdir", "path": "docs/sub/.git/hooks"},
                write("docs/.GIT/config", "[core]\n\tfsmonitor = @PAYLOAD@\n"),
                write("docs/sub/.git/hooks/post-checkout", "#!/bin/sh\n")
            ]),
        ),
        hostile("ignorable unicode .git", json!([write("docs/.g\u{200c}it", "gitdir: @ROOT@\n")])),
        hostile("case collision", json!([write("docs/Readme.md", "a"), write("docs/README.md", "b")])),
        hostile(
            "symlink escaping by ..",
            json!([{"step": "symlink", "target": "../../../../../../etc/passwd", "path": "docs/p"}]),
        ),
        hostile("symlink absolute", json!([{"step": "symlink", "target": "@HOME@", "path": "docs/home"}])),
        hostile(
            "gitattributes with a filter driver",
            json!([
                write("docs/.gitattributes", "* filter=evil\n"),
                shell("git config filter.evil.clean @PAYLOAD@"),
                write("docs/x.md", "x\n")
            ]),
        ),
        hostile(
            ".gitmodules",
            json!([write("docs/.gitmodules", "[submodule \"x\"]\n\tpath = x\n\turl = @ROOT@/evil.git\n")]),
        ),
        hostile(
            "exec bit",
            json!([write("docs/run.sh", "#!/bin/sh\n"), {"step": "chmod", "path": "docs/run.sh", "mode": "755"}]),
        ),
        hostile("non-UTF-8 names", json!([{"step": "write", "path": {"b64": "ZG9jcy9iYWT/Lm1k"}, "content": "x"}])),
        hostile("CR in a name", json!([write("docs/a\rb.md", "x")])),
        hostile(
            "rename storm out of scope",
            json!([shell(
                "for f in src/app/*.py; do for i in $(seq 1 200); do mv \"$f\" \"$f.$i\" && f=\"$f.$i\"; done; done"
            )]),
        ),
        hostile("delete the worktree itself", json!([shell("rm -rf \"$PWD\"")])),
    ]
}

pub fn escapes() -> Vec<Hostile> {
    vec![
        with(
            hostile("write the checkout by absolute path", json!([shell("echo pwned >> @REPO@/README.md")])),
            Escape::Checkout,
            None,
        ),
        with(
            hostile(
                "write the checkout through a symlink",
                json!([{"step": "symlink", "target": "@REPO@/README.md", "path": "docs/r"}, shell("echo pwned >> docs/r")]),
            ),
            Escape::Checkout,
            None,
        ),
        // A violating run's worktree is never pooled, so the hard link does not reach a later run.
        with(
            hostile(
                "hardlink out of the worktree",
                json!([{"step": "hardlink", "target": "@REPO@/README.md", "path": "docs/h"}, shell("echo pwned >> docs/h")]),
            ),
            Escape::Checkout,
            None,
        ),
        with(
            hostile("append to ~/.bashrc", json!([shell("echo 'touch @ROOT@/PWNED-later' >> @HOME@/.bashrc")])),
            Escape::Undetectable,
            Some("@HOME@/.bashrc"),
        ),
        with(
            hostile("write /dev/shm", json!([shell("echo x > /dev/shm/@TAG@")])),
            Escape::Undetectable,
            Some("/dev/shm/@TAG@"),
        ),
        with(
            hostile("write /var/tmp", json!([shell("echo x > /var/tmp/@TAG@")])),
            Escape::Undetectable,
            Some("/var/tmp/@TAG@"),
        ),
        with(
            hostile(
                "setsid daemon",
                json!([{"step": "setsid_daemon", "pidfile": "@PIDS@", "stdio": "null", "sleep_secs": 60}]),
            ),
            Escape::Survives,
            None,
        ),
        with(
            hostile(
                "bounded fork bomb",
                json!([{"step": "fork_bomb", "max": 40, "sleep_secs": 60, "pidfile": "@PIDS@"}]),
            ),
            Escape::Survives,
            None,
        ),
        with(
            hostile("100 MB in one line", json!([{"step": "stdout", "bytes": "x", "count": 100_000_000}])),
            Escape::Undetectable,
            None,
        ),
        hostile(
            "kill its parent (TERM)",
            json!([{"step": "kill_parent", "signal": "TERM"}, {"step": "sleep", "ms": 2000}]),
        ),
    ]
}
