//! WRITE SCOPE: the packet's scope entries compiled with globset into a matcher of repository paths.
//!
//! Meanings (the seed's, extended with globs):
//! - a plain path covers itself and everything below it (`src/app` covers `src/app/x.py`);
//! - `dir/` covers everything below `dir`;
//! - a glob (`*`, `?`, `[...]`, `{a,b}`, `**`) is anchored at WORKDIR, `*` does not cross `/`, and a
//!   directory it matches is covered with everything below it; `**/*.py` matches at any depth;
//! - an entry starting with `!` excludes what it matches, whatever the order of the entries;
//! - matching is case-sensitive, as git is;
//! - entries are relative to WORKDIR: with WORKDIR a subdirectory of the repository, a path outside
//!   that subdirectory is out of scope.
//!
//! An entry that is absolute, contains a `..` component, NUL or CR, or is not a valid glob is rejected.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// Why a scope entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("`{entry}` is an absolute path; expected a path relative to WORKDIR")]
    Absolute { entry: String },
    #[error("`{entry}` contains `..`; expected a path inside WORKDIR")]
    ParentDir { entry: String },
    #[error("`{entry}` contains a NUL or carriage-return character")]
    ControlCharacter { entry: String },
    #[error("`{entry}` is empty")]
    Empty { entry: String },
    #[error("`{entry}` is not a valid glob: {reason}")]
    InvalidGlob { entry: String, reason: String },
}

/// A compiled WRITE SCOPE.
#[derive(Debug, Clone)]
pub struct Scope {
    entries: Vec<String>,
    /// WORKDIR relative to the repository root, with a trailing `/`, or empty.
    prefix: String,
    includes: Matcher,
    excludes: Matcher,
}

/// Globs plus the literal spellings of the entries (so `src/[id].tsx` also matches itself).
#[derive(Debug, Clone)]
struct Matcher {
    globs: GlobSet,
    literals: Vec<String>,
}

impl Matcher {
    fn build(patterns: &[String]) -> Result<Matcher, ScopeError> {
        let mut builder = GlobSetBuilder::new();
        let mut literals = Vec::new();
        for pattern in patterns {
            let base = pattern.trim_end_matches('/');
            literals.push(base.to_string());
            builder.add(glob(pattern, base)?);
            builder.add(glob(pattern, &format!("{base}/**"))?);
        }
        let globs = builder
            .build()
            .map_err(|err| ScopeError::InvalidGlob { entry: patterns.join(", "), reason: err.to_string() })?;
        Ok(Matcher { globs, literals })
    }

    fn matches(&self, path: &str) -> bool {
        self.globs.is_match(path)
            || self.literals.iter().any(|literal| {
                path == literal || path.strip_prefix(literal.as_str()).is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

fn glob(entry: &str, pattern: &str) -> Result<Glob, ScopeError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|err| ScopeError::InvalidGlob { entry: entry.to_string(), reason: err.kind().to_string() })
}

/// Check one entry the way [`Scope::compile`] does, without building a matcher.
pub fn validate_entry(entry: &str) -> Result<(), ScopeError> {
    let pattern = normalize(entry)?;
    glob(entry, pattern.trim_end_matches('/')).map(|_| ())
}

/// Strip `!` and `./`, reject what cannot be a relative path inside WORKDIR.
fn normalize(entry: &str) -> Result<String, ScopeError> {
    let owned = || entry.to_string();
    if entry.contains(['\0', '\r']) {
        return Err(ScopeError::ControlCharacter { entry: owned() });
    }
    let body = entry.trim().strip_prefix('!').unwrap_or(entry.trim());
    let mut body = body.trim();
    while let Some(rest) = body.strip_prefix("./") {
        body = rest;
    }
    if body.is_empty() || body == "." {
        return Err(ScopeError::Empty { entry: owned() });
    }
    let windows_absolute = body.len() >= 2 && body.as_bytes()[1] == b':' && body.as_bytes()[0].is_ascii_alphabetic();
    if body.starts_with('/') || body.starts_with('\\') || body.starts_with('~') || windows_absolute {
        return Err(ScopeError::Absolute { entry: owned() });
    }
    if body.split(['/', '\\']).any(|component| component == "..") {
        return Err(ScopeError::ParentDir { entry: owned() });
    }
    Ok(body.to_string())
}

impl Scope {
    /// Compile scope entries (relative to WORKDIR). An empty list is the empty (read-only) scope.
    pub fn compile(entries: &[String]) -> Result<Scope, ScopeError> {
        let mut includes = Vec::new();
        let mut excludes = Vec::new();
        for entry in entries {
            let pattern = normalize(entry)?;
            if entry.trim().starts_with('!') {
                excludes.push(pattern);
            } else {
                includes.push(pattern);
            }
        }
        Ok(Scope {
            entries: entries.to_vec(),
            prefix: String::new(),
            includes: Matcher::build(&includes)?,
            excludes: Matcher::build(&excludes)?,
        })
    }

    /// Anchor the scope at WORKDIR's path inside the repository (`""` for the root).
    pub fn within(mut self, workdir_in_repo: &str) -> Scope {
        let trimmed = workdir_in_repo.trim_matches('/');
        self.prefix = if trimmed.is_empty() || trimmed == "." { String::new() } else { format!("{trimmed}/") };
        self
    }

    /// The entries as written in the packet.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// True when nothing may be written.
    pub fn is_empty(&self) -> bool {
        self.includes.literals.is_empty()
    }

    /// Is this repository-relative path inside the scope?
    pub fn contains(&self, repo_path: &str) -> bool {
        let Some(path) = repo_path.strip_prefix(self.prefix.as_str()) else { return false };
        if path.is_empty() {
            return false;
        }
        self.includes.matches(path) && !self.excludes.matches(path)
    }
}

#[cfg(test)]
#[path = "scope_tests.rs"]
mod tests;
