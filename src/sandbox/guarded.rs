//! Configuration files a sandbox cannot keep read-only (Landlock: they sit in a state folder the
//! agent must be able to write): their content before the agent runs, put back after it when the
//! agent changed, replaced or removed them. They name commands the user's next unconfined agent
//! session would run (codex `notify`, claude hooks), so a change must not outlive the run.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// One configuration file as it was before the agent ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardedFile {
    path: PathBuf,
    bytes: Vec<u8>,
    permissions: std::fs::Permissions,
}

impl GuardedFile {
    /// The regular files among `paths` as they are now (missing ones and symlinks are left out,
    /// as bubblewrap leaves them writable).
    pub fn capture_all(paths: &[PathBuf]) -> anyhow::Result<Vec<GuardedFile>> {
        let mut files = Vec::new();
        for path in paths {
            let Ok(metadata) = std::fs::symlink_metadata(path) else { continue };
            if !metadata.is_file() {
                continue;
            }
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            files.push(GuardedFile { path: path.clone(), bytes, permissions: metadata.permissions() });
        }
        Ok(files)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts the file back when it differs (content, kind, permissions) from what was captured;
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
        std::fs::write(path, &self.bytes).with_context(|| format!("putting back {}", path.display()))?;
        std::fs::set_permissions(path, self.permissions.clone())
            .with_context(|| format!("putting back the mode of {}", path.display()))?;
        Ok(true)
    }

    fn unchanged(&self) -> bool {
        let Ok(metadata) = std::fs::symlink_metadata(&self.path) else { return false };
        metadata.is_file()
            && metadata.permissions() == self.permissions
            && std::fs::read(&self.path).is_ok_and(|bytes| bytes == self.bytes)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn changed_replaced_and_removed_files_are_put_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config.toml");
        let settings = dir.path().join("settings.json");
        std::fs::write(&config, "model = \"x\"\n").expect("config");
        std::fs::write(&settings, "{}\n").expect("settings");
        let missing = dir.path().join("absent.toml");
        let files = GuardedFile::capture_all(&[config.clone(), settings.clone(), missing.clone()]).expect("capture");
        assert_eq!(files.len(), 2);
        assert!(!files[0].restore().expect("restore"), "nothing to do while unchanged");

        std::fs::write(&config, "notify = [\"evil\"]\n").expect("rewrite");
        std::fs::remove_file(&settings).expect("remove");
        std::os::unix::fs::symlink("/etc/passwd", &settings).expect("symlink");
        assert!(files[0].restore().expect("restore"));
        assert!(files[1].restore().expect("restore"));
        assert_eq!(std::fs::read_to_string(&config).expect("config"), "model = \"x\"\n");
        assert!(std::fs::symlink_metadata(&settings).expect("settings").is_file());
        assert_eq!(std::fs::read_to_string(&settings).expect("settings"), "{}\n");
        assert!(!missing.exists());
    }
}
