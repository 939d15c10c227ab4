//! Files in which a written line becomes a command or an instruction for the user's next codex,
//! claude or git session (`~/.codex/config.toml`, `~/.claude/settings.json`, `~/.gitconfig`, ...;
//! see `sandbox/paths.rs`): their state before the agent runs, put back after it when the agent
//! changed, replaced, removed or created them. Kept for the files the agent could write (all of
//! them without a sandbox, those inside a writable path under one), so a change never outlives
//! the run.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// What was at a guarded path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Before {
    Absent,
    File { bytes: Vec<u8>, permissions: std::fs::Permissions },
    Symlink { target: PathBuf },
}

/// One guarded path as it was before the agent ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardedFile {
    path: PathBuf,
    before: Before,
}

impl GuardedFile {
    /// `paths` as they are now; for a symlink, also the file it leads to (a write through the
    /// link changes that file). Folders are left out (nothing of ours is one).
    pub fn capture_all(paths: &[PathBuf]) -> anyhow::Result<Vec<GuardedFile>> {
        let mut files: Vec<GuardedFile> = Vec::new();
        let mut pending: Vec<PathBuf> = paths.to_vec();
        while let Some(path) = pending.pop() {
            if files.iter().any(|file| file.path == path) {
                continue;
            }
            let before = match std::fs::symlink_metadata(&path) {
                Err(_) => Before::Absent,
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target = std::fs::read_link(&path).with_context(|| format!("reading {}", path.display()))?;
                    if let Ok(resolved) = std::fs::canonicalize(&path) {
                        pending.push(resolved);
                    }
                    Before::Symlink { target }
                }
                Ok(meta) if meta.is_file() => {
                    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                    Before::File { bytes, permissions: meta.permissions() }
                }
                Ok(_) => continue,
            };
            files.push(GuardedFile { path, before });
        }
        Ok(files)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts the path back when it differs (content, kind, permissions) from what was captured;
    /// true when it did.
    pub fn restore(&self) -> anyhow::Result<bool> {
        if self.unchanged() {
            return Ok(false);
        }
        let path = &self.path;
        match std::fs::symlink_metadata(path) {
            Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(path),
            Ok(_) => std::fs::remove_file(path),
            Err(_) => Ok(()),
        }
        .with_context(|| format!("removing the agent's {}", path.display()))?;
        match &self.before {
            Before::Absent => {}
            Before::File { bytes, permissions } => {
                std::fs::write(path, bytes).with_context(|| format!("putting back {}", path.display()))?;
                std::fs::set_permissions(path, permissions.clone())
                    .with_context(|| format!("putting back the mode of {}", path.display()))?;
            }
            Before::Symlink { target } => std::os::unix::fs::symlink(target, path)
                .with_context(|| format!("putting back the symlink {}", path.display()))?,
        }
        Ok(true)
    }

    fn unchanged(&self) -> bool {
        let now = std::fs::symlink_metadata(&self.path);
        match (&self.before, now) {
            (Before::Absent, now) => now.is_err(),
            (Before::File { bytes, permissions }, Ok(meta)) => {
                meta.is_file()
                    && meta.permissions() == *permissions
                    && std::fs::read(&self.path).is_ok_and(|now| now == *bytes)
            }
            (Before::Symlink { target }, Ok(meta)) => {
                meta.file_type().is_symlink() && std::fs::read_link(&self.path).is_ok_and(|now| now == *target)
            }
            (_, Err(_)) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_replaced_removed_and_created_files_are_put_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config.toml");
        let settings = dir.path().join("settings.json");
        std::fs::write(&config, "model = \"x\"\n").expect("config");
        std::fs::write(&settings, "{}\n").expect("settings");
        let missing = dir.path().join("AGENTS.md");
        let files = GuardedFile::capture_all(&[config.clone(), settings.clone(), missing.clone()]).expect("capture");
        assert_eq!(files.len(), 3);
        assert!(files.iter().all(|file| !file.restore().expect("restore")), "nothing to do while unchanged");

        std::fs::write(&config, "notify = [\"evil\"]\n").expect("rewrite");
        std::fs::remove_file(&settings).expect("remove");
        std::os::unix::fs::symlink("/etc/passwd", &settings).expect("symlink");
        std::fs::write(&missing, "obey me\n").expect("create");
        assert!(files.iter().all(|file| file.restore().expect("restore")));
        assert_eq!(std::fs::read_to_string(&config).expect("config"), "model = \"x\"\n");
        assert!(std::fs::symlink_metadata(&settings).expect("settings").is_file());
        assert_eq!(std::fs::read_to_string(&settings).expect("settings"), "{}\n");
        assert!(!missing.exists(), "a created file is removed");
    }

    #[test]
    fn a_symlinked_file_is_guarded_with_its_target() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dir = std::fs::canonicalize(dir.path()).expect("canonical");
        let real = dir.join("dotfiles-gitconfig");
        std::fs::write(&real, "[user]\n").expect("real");
        let link = dir.join(".gitconfig");
        std::os::unix::fs::symlink(&real, &link).expect("link");
        let files = GuardedFile::capture_all(std::slice::from_ref(&link)).expect("capture");
        assert_eq!(files.len(), 2);
        std::fs::write(&link, "[filter \"x\"]\n").expect("write through the link");
        let restored: Vec<bool> = files.iter().map(|file| file.restore().expect("restore")).collect();
        assert_eq!(restored, vec![false, true]);
        assert_eq!(std::fs::read_to_string(&real).expect("real"), "[user]\n");
        assert_eq!(std::fs::read_link(&link).expect("still a link"), real);
    }
}
