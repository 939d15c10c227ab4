//! File metadata for the guard: permission bits, file identity (device, inode, ctime, mtime) and
//! symlinks, in one place (Linux; see the README on platforms).

use std::fs::Metadata;
use std::io;
use std::path::Path;

/// Permission bits of a file (`st_mode & 0o7777`).
pub(crate) fn permission_bits(meta: &Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

/// Sets the permission bits recorded by [`permission_bits`].
pub(crate) fn set_permission_bits(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// What tells one on-disk file apart from another with the same name: device, inode, ctime and mtime
/// in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) ctime_ns: i128,
    pub(crate) mtime_ns: i128,
}

impl Identity {
    pub(crate) fn of(meta: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }

    /// [`Identity::of`] from a raw `lstat` record.
    pub(crate) fn of_stat(stat: &nix::sys::stat::FileStat) -> Self {
        Identity {
            dev: stat.st_dev,
            ino: stat.st_ino,
            ctime_ns: i128::from(stat.st_ctime) * 1_000_000_000 + i128::from(stat.st_ctime_nsec),
            mtime_ns: i128::from(stat.st_mtime) * 1_000_000_000 + i128::from(stat.st_mtime_nsec),
        }
    }
}

/// Creates a symlink at `link` pointing to `target`.
pub(crate) fn create_symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}
