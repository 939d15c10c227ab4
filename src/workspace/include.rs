//! `.worktreeinclude` (gitignore syntax, the Claude Code convention): the ignored files of the
//! user's checkout that match it (`.env`, dependency folders) are copied into the worktree,
//! with reflinks where the filesystem has them, keeping modes, symlinks and mtimes. A file whose
//! copy is already there with the same size and mtime (warm worktree) is not copied again.

use anyhow::Context as _;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::glob::pattern::Case;
use std::path::Path;

use crate::walk::{Step, Walk};

/// The file listing what to bring in, at the root of the user's checkout.
pub const INCLUDE_FILE: &str = ".worktreeinclude";

/// Copies the ignored files of `user_repo`'s checkout that match its `.worktreeinclude` into
/// `dest`. Returns the matched top-level entries (directories with a trailing `/`), sorted.
pub fn copy_includes(user_repo: &gix::Repository, dest: &Path) -> anyhow::Result<Vec<String>> {
    let Some(src_root) = user_repo.workdir() else {
        return Ok(Vec::new());
    };
    let Some(matcher) = Matcher::load(src_root)? else {
        return Ok(Vec::new());
    };
    let mut included = Vec::new();
    for (rela, is_dir) in crate::checkout_status::ignored_entries(user_repo)? {
        collect_matches(src_root, rela.as_bstr(), is_dir, &matcher, &mut included)?;
    }
    included.sort();
    for rela in &included {
        copy_tree(&super::scan::join(src_root, rela.as_bstr()), &super::scan::join(dest, rela.as_bstr()))?;
    }
    Ok(included
        .into_iter()
        .map(|p| {
            let is_dir = super::scan::join(src_root, p.as_bstr()).is_dir();
            let mut s = p.to_str_lossy().into_owned();
            if is_dir {
                s.push('/');
            }
            s
        })
        .collect())
}

/// The parsed `.worktreeinclude` patterns.
pub struct Matcher {
    search: gix::ignore::Search,
}

impl Matcher {
    /// Reads `<root>/.worktreeinclude`; `None` when there is none.
    pub fn load(root: &Path) -> anyhow::Result<Option<Self>> {
        let path = root.join(INCLUDE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Some(Self::from_bytes(&bytes, root)?))
    }

    /// Parses patterns (gitignore syntax) relative to `root`.
    pub fn from_bytes(bytes: &[u8], root: &Path) -> anyhow::Result<Self> {
        let mut search = gix::ignore::Search::default();
        search
            .add_patterns_buffer(bytes, root.join(INCLUDE_FILE), Some(root), gix::ignore::search::Ignore::default())
            .context("parsing .worktreeinclude")?;
        Ok(Matcher { search })
    }

    /// `Some(true)` if the path itself matches positively, `Some(false)` if a negation matches.
    fn own_match(&self, rela: &BStr, is_dir: bool) -> Option<bool> {
        self.search
            .pattern_matching_relative_path(rela, Some(is_dir), Case::Sensitive)
            .map(|m| !m.pattern.is_negative())
    }

    /// Whether `rela` is included: its own match decides, else its nearest matching ancestor.
    pub fn is_included(&self, rela: &BStr, is_dir: bool) -> bool {
        if let Some(decision) = self.own_match(rela, is_dir) {
            return decision;
        }
        let mut end = rela.len();
        while let Some(slash) = rela[..end].rfind_byte(b'/') {
            if let Some(decision) = self.own_match(rela[..slash].as_bstr(), true) {
                return decision;
            }
            end = slash;
        }
        false
    }

    /// Whether some pattern could match a path below directory `dir` (conservative).
    fn may_match_below(&self, dir: &BStr) -> bool {
        let prefix: BString = [dir.as_bytes(), b"/"].concat().into();
        self.search.patterns.iter().flat_map(|list| list.patterns.iter()).any(|mapping| {
            let pattern = &mapping.pattern;
            if pattern.is_negative() {
                return false;
            }
            if pattern.mode.contains(gix::glob::pattern::Mode::NO_SUB_DIR) {
                return true;
            }
            let text = pattern.text.as_bstr();
            let literal = &text[..pattern.first_wildcard_pos.unwrap_or(text.len())];
            literal.starts_with(&prefix) || prefix.starts_with(literal)
        })
    }
}

/// Adds `rela` to `out` if included, or looks below it, as deep as something may be.
fn collect_matches(
    root: &Path,
    rela: &BStr,
    is_dir: bool,
    matcher: &Matcher,
    out: &mut Vec<BString>,
) -> anyhow::Result<()> {
    if matcher.is_included(rela, is_dir) {
        out.push(rela.to_owned());
        return Ok(());
    }
    if !is_dir || !matcher.may_match_below(rela) {
        return Ok(());
    }
    let dir = super::scan::join(root, rela);
    let found = Walk::new(&dir).try_collect(|entry, found| {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let below = gix::path::os_str_into_bstr(entry.rela().as_os_str())
            .map(ToOwned::to_owned)
            .unwrap_or_else(|_| entry.rela().to_string_lossy().into_owned().into());
        let child_rela: BString = [rela.as_bytes(), b"/", below.as_bytes()].concat().into();
        let child_is_dir = entry.is_dir();
        if matcher.is_included(child_rela.as_bstr(), child_is_dir) {
            found.push(child_rela);
            return Ok(Step::Prune);
        }
        let deeper = child_is_dir && matcher.may_match_below(child_rela.as_bstr());
        Ok(if deeper { Step::Continue } else { Step::Prune })
    })?;
    out.extend(found);
    Ok(())
}

/// Copies a file, symlink or directory tree from `src` to `dst`.
pub fn copy_tree(src: &Path, dst: &Path) -> anyhow::Result<()> {
    let md = std::fs::symlink_metadata(src).with_context(|| format!("reading {}", src.display()))?;
    if !md.is_dir() {
        return copy_one(src, dst, &md);
    }
    copy_dir(dst, &md)?;
    Walk::new(src).try_collect(|entry, _: &mut Vec<()>| {
        let entry = entry.with_context(|| format!("listing {}", src.display()))?;
        let md = entry.metadata().with_context(|| format!("reading {}", entry.path().display()))?;
        let target = dst.join(entry.rela());
        if md.is_dir() {
            copy_dir(&target, &md)?;
        } else {
            copy_one(entry.path(), &target, &md)?;
        }
        Ok(Step::Continue)
    })?;
    Ok(())
}

fn copy_dir(dst: &Path, md: &std::fs::Metadata) -> anyhow::Result<()> {
    std::fs::create_dir_all(dst).with_context(|| format!("creating {}", dst.display()))?;
    std::fs::set_permissions(dst, md.permissions()).with_context(|| format!("chmod {}", dst.display()))
}

/// Copies a file or a symlink.
fn copy_one(src: &Path, dst: &Path, md: &std::fs::Metadata) -> anyhow::Result<()> {
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    if md.file_type().is_symlink() {
        return copy_symlink(src, dst);
    }
    copy_file(src, dst, md)
}

fn copy_symlink(src: &Path, dst: &Path) -> anyhow::Result<()> {
    let target = std::fs::read_link(src).with_context(|| format!("reading link {}", src.display()))?;
    if std::fs::read_link(dst).is_ok_and(|t| t == target) {
        return Ok(());
    }
    remove_existing(dst)?;
    std::os::unix::fs::symlink(&target, dst).with_context(|| format!("creating link {}", dst.display()))
}

fn copy_file(src: &Path, dst: &Path, md: &std::fs::Metadata) -> anyhow::Result<()> {
    if let Ok(existing) = std::fs::symlink_metadata(dst) {
        let same = existing.is_file()
            && existing.len() == md.len()
            && existing.modified().ok() == md.modified().ok()
            && existing.permissions() == md.permissions();
        if same {
            return Ok(());
        }
        remove_existing(dst)?;
    }
    reflink_copy::reflink_or_copy(src, dst)
        .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
    std::fs::set_permissions(dst, md.permissions()).with_context(|| format!("chmod {}", dst.display()))?;
    if let Ok(mtime) = md.modified() {
        let file =
            std::fs::File::options().write(true).open(dst).with_context(|| format!("opening {}", dst.display()))?;
        file.set_modified(mtime).with_context(|| format!("setting mtime of {}", dst.display()))?;
    }
    Ok(())
}

fn remove_existing(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    }
    .with_context(|| format!("removing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(text: &str) -> Matcher {
        Matcher::from_bytes(text.as_bytes(), Path::new("/r")).expect("valid patterns")
    }

    #[test]
    fn gitignore_semantics() {
        let m = matcher(".env\nnode_modules/\n/config/*.local\n!.env.example\n.env*\n!.env.sample\n");
        assert!(m.is_included(b".env".as_bstr(), false));
        assert!(m.is_included(b"sub/.env".as_bstr(), false));
        assert!(m.is_included(b"node_modules".as_bstr(), true));
        assert!(!m.is_included(b"node_modules".as_bstr(), false));
        assert!(m.is_included(b"web/node_modules/x/y.js".as_bstr(), false));
        assert!(m.is_included(b"config/a.local".as_bstr(), false));
        assert!(!m.is_included(b"sub/config/a.local".as_bstr(), false));
        assert!(m.is_included(b".env.example".as_bstr(), false), "a later positive pattern wins");
        assert!(!m.is_included(b".env.sample".as_bstr(), false));
        assert!(!m.is_included(b"build/out".as_bstr(), false));
    }

    #[test]
    fn descends_only_where_something_may_match() {
        let m = matcher("/build/keep.txt\n");
        assert!(m.may_match_below(b"build".as_bstr()));
        assert!(!m.may_match_below(b"target".as_bstr()));
        assert!(matcher("*.env\n").may_match_below(b"target".as_bstr()));
    }
}
