//! Small gix helpers shared by the workspace steps: opening, commit identity, writing commits,
//! creating/deleting the scratch branch and pointing a worktree's HEAD.

use anyhow::Context as _;
use gix::bstr::BString;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use gix::ObjectId;
use std::path::Path;

/// The identity used for dispatch commits when git has none configured.
pub const FALLBACK_NAME: &str = "git-dispatch";
/// The e-mail of the fallback identity.
pub const FALLBACK_EMAIL: &str = "git-dispatch@localhost";

/// Opens the repository whose working tree (or git dir) is `path`, with [`FALLBACK_NAME`] and
/// [`FALLBACK_EMAIL`] as the last-resort identity: the user's own (environment, `committer.*`,
/// `author.*`, `user.*`) wins where it is set, and with none git-dispatch's commits and reflog
/// entries (including those gix writes itself, such as a new worktree's HEAD) still have one.
pub fn open(path: &Path) -> anyhow::Result<gix::Repository> {
    let options = gix::open::Options::default().config_overrides(fallback_identity());
    gix::open_opts(path, options).with_context(|| format!("opening git repository at {}", path.display()))
}

/// `gitoxide.{committer,author}.{name,email}Fallback` set to the fallback identity, as overrides
/// for [`gix::open::Options::config_overrides`] (a repository reopened from its options keeps them).
pub fn fallback_identity() -> [String; 4] {
    [
        format!("gitoxide.committer.nameFallback={FALLBACK_NAME}"),
        format!("gitoxide.committer.emailFallback={FALLBACK_EMAIL}"),
        format!("gitoxide.author.nameFallback={FALLBACK_NAME}"),
        format!("gitoxide.author.emailFallback={FALLBACK_EMAIL}"),
    ]
}

/// Opens a dispatch worktree only after putting its `.git` file back to what git-dispatch wrote
/// (`gitdir: <common>/worktrees/<name>`): an agent may have replaced it (a file pointing at a git dir
/// it built, with filter drivers or `core.worktree`, or a whole directory), and opening through that
/// would run what it planted.
pub fn open_worktree(path: &Path, common_dir: &Path, name: &str) -> anyhow::Result<gix::Repository> {
    restore_dot_git(path, common_dir, name)?;
    restore_admin_links(path, common_dir, name)?;
    open(path)
}

/// Puts the links of a dispatch worktree's admin dir (`<common>/worktrees/<name>`) back where gix
/// made them point when an agent changed them: `commondir` must lead to `common_dir` (a redirect
/// to a git dir the agent built would have git-dispatch read its config, filters included),
/// `gitdir` must name the worktree's `.git` file, and there is no `config.worktree` (git-dispatch
/// never writes one; it would be read as this worktree's config). Returns what it put back, as
/// paths relative to the common dir. An admin dir that is no longer a folder is an error.
pub fn restore_admin_links(path: &Path, common_dir: &Path, name: &str) -> anyhow::Result<Vec<String>> {
    let admin = common_dir.join("worktrees").join(name);
    let is_dir = std::fs::symlink_metadata(&admin).is_ok_and(|meta| meta.is_dir());
    anyhow::ensure!(is_dir, "the worktree's admin folder {} was replaced or removed", admin.display());
    let resolves_to = |file: &str, expected: &Path| {
        let link = admin.join(file);
        let is_file = std::fs::symlink_metadata(&link).is_ok_and(|meta| meta.is_file());
        let target = std::fs::read_to_string(&link).ok().map(|text| admin.join(text.trim_end_matches(['\n', '\r'])));
        let canonical = |path: &Path| std::fs::canonicalize(path).ok();
        is_file
            && target.is_some_and(|target| canonical(&target).is_some() && canonical(&target) == canonical(expected))
    };
    let mut restored = Vec::new();
    let dot_git = path.join(".git");
    for (file, expected, content) in [
        ("commondir", common_dir.to_path_buf(), "../..\n".to_string()),
        ("gitdir", dot_git.clone(), format!("{}\n", dot_git.display())),
    ] {
        if !resolves_to(file, &expected) {
            replace_with_file(&admin.join(file), content.as_bytes())?;
            restored.push(format!("worktrees/{name}/{file}"));
        }
    }
    let worktree_config = admin.join("config.worktree");
    if std::fs::symlink_metadata(&worktree_config).is_ok() {
        remove_any(&worktree_config)?;
        restored.push(format!("worktrees/{name}/config.worktree"));
    }
    Ok(restored)
}

fn replace_with_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_ok() {
        remove_any(path)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("restoring {}", path.display()))
}

fn remove_any(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        _ => std::fs::remove_file(path),
    }
    .with_context(|| format!("removing the planted {}", path.display()))
}

/// Rewrite `<worktree>/.git` as the link to its admin dir if it is anything else.
pub fn restore_dot_git(path: &Path, common_dir: &Path, name: &str) -> anyhow::Result<bool> {
    let dot_git = path.join(".git");
    let expected = format!("gitdir: {}\n", common_dir.join("worktrees").join(name).display());
    let meta = std::fs::symlink_metadata(&dot_git).ok();
    let intact = meta.as_ref().is_some_and(|m| m.is_file())
        && std::fs::read(&dot_git).is_ok_and(|bytes| bytes == expected.as_bytes());
    if intact {
        return Ok(false);
    }
    match meta {
        Some(m) if m.is_dir() => std::fs::remove_dir_all(&dot_git),
        Some(_) => std::fs::remove_file(&dot_git),
        None => Ok(()),
    }
    .with_context(|| format!("removing the replaced {}", dot_git.display()))?;
    std::fs::write(&dot_git, expected).with_context(|| format!("restoring {}", dot_git.display()))?;
    Ok(true)
}

/// `refs/heads/dispatch/<run_id>`
pub fn branch_name(run_id: &str) -> anyhow::Result<FullName> {
    let name = format!("refs/heads/dispatch/{run_id}");
    FullName::try_from(name.as_str()).with_context(|| format!("invalid branch name {name}"))
}

/// The committer (and author) for dispatch commits: git's configured identity, else the fallback.
pub fn signatures(repo: &gix::Repository) -> (gix::actor::Signature, gix::actor::Signature) {
    let fallback = || gix::actor::Signature {
        name: FALLBACK_NAME.into(),
        email: FALLBACK_EMAIL.into(),
        time: gix::date::Time::now_local_or_utc(),
    };
    let configured = |sig: Option<gix::Result<gix::actor::SignatureRef<'_>>>| {
        sig.and_then(Result::ok).and_then(|s| s.to_owned().ok())
    };
    let committer = configured(repo.committer()).unwrap_or_else(fallback);
    let author = configured(repo.author()).unwrap_or_else(|| committer.clone());
    (committer, author)
}

/// Writes a commit object (no ref is touched).
pub fn write_commit(
    repo: &gix::Repository,
    tree: ObjectId,
    parents: &[ObjectId],
    message: &str,
) -> anyhow::Result<ObjectId> {
    let (committer, author) = signatures(repo);
    let commit = gix::objs::Commit {
        tree,
        parents: parents.iter().copied().collect(),
        author,
        committer,
        encoding: None,
        message: BString::from(message),
        extra_headers: Vec::new(),
    };
    Ok(repo.write_object(&commit).context("writing commit object")?.detach())
}

fn edit(repo: &gix::Repository, edit: RefEdit) -> anyhow::Result<()> {
    let (committer, _) = signatures(repo);
    let mut buf = gix::date::parse::TimeBuf::default();
    repo.edit_references_as(Some(edit), Some(committer.to_ref(&mut buf))).map(|_| ()).map_err(anyhow::Error::from)
}

/// Sets `name` to `target`, with the given expectation about its previous value.
pub fn set_ref(
    repo: &gix::Repository,
    name: &FullName,
    target: ObjectId,
    expected: PreviousValue,
    message: &str,
) -> anyhow::Result<()> {
    edit(
        repo,
        RefEdit {
            change: Change::Update {
                log: LogChange { mode: RefLog::AndReference, force_create_reflog: false, message: message.into() },
                expected,
                new: Target::Object(target),
            },
            name: name.clone(),
            deref: false,
        },
    )
    .with_context(|| format!("updating {}", name.as_bstr()))
}

/// Deletes `name` (and its reflog); a missing ref is not an error.
pub fn delete_ref(repo: &gix::Repository, name: &FullName) -> anyhow::Result<bool> {
    if repo.try_find_reference(name.as_ref()).context("looking up reference")?.is_none() {
        return Ok(false);
    }
    edit(
        repo,
        RefEdit {
            change: Change::Delete { expected: PreviousValue::Any, log: RefLog::AndReference },
            name: name.clone(),
            deref: false,
        },
    )
    .with_context(|| format!("deleting {}", name.as_bstr()))?;
    Ok(true)
}

/// Current target of `name`, if it exists and points to an object.
pub fn ref_target(repo: &gix::Repository, name: &FullName) -> anyhow::Result<Option<ObjectId>> {
    let found = repo.try_find_reference(name.as_ref()).context("looking up reference")?;
    Ok(found.and_then(|r| r.target().try_id().map(ToOwned::to_owned)))
}

/// Points the (worktree) repository's HEAD symbolically at `branch`.
pub fn attach_head(wt: &gix::Repository, branch: &FullName) -> anyhow::Result<()> {
    head_edit(wt, Target::Symbolic(branch.clone()), "git-dispatch: attach")
}

/// Detaches the (worktree) repository's HEAD at `commit`.
pub fn detach_head(wt: &gix::Repository, commit: ObjectId) -> anyhow::Result<()> {
    head_edit(wt, Target::Object(commit), "git-dispatch: detach")
}

fn head_edit(wt: &gix::Repository, new: Target, message: &str) -> anyhow::Result<()> {
    edit(
        wt,
        RefEdit {
            change: Change::Update {
                log: LogChange { mode: RefLog::AndReference, force_create_reflog: false, message: message.into() },
                expected: PreviousValue::Any,
                new,
            },
            name: FullName::try_from("HEAD").expect("HEAD is a valid reference name"),
            deref: false,
        },
    )
    .context("updating the worktree's HEAD")
}

/// The branch HEAD points to symbolically, if any.
pub fn head_branch(wt: &gix::Repository) -> anyhow::Result<Option<FullName>> {
    let head = wt.head().context("reading HEAD")?;
    Ok(head.referent_name().map(|n| n.to_owned()))
}

/// The tree of `commit`.
pub fn commit_tree(repo: &gix::Repository, commit: ObjectId) -> anyhow::Result<ObjectId> {
    let commit = repo.find_commit(commit).with_context(|| format!("reading commit {commit}"))?;
    Ok(commit.tree_id().context("reading commit tree")?.detach())
}

/// True when `ancestor` is `descendant` or one of its ancestors.
pub fn is_ancestor(repo: &gix::Repository, ancestor: ObjectId, descendant: ObjectId) -> anyhow::Result<bool> {
    if ancestor == descendant {
        return Ok(true);
    }
    let base = repo.merge_base(ancestor, descendant).context("computing merge base")?;
    Ok(base.is_some_and(|b| b.detach() == ancestor))
}
