//! Hashing worktree files into blobs as `git add` would (clean filters, `core.autocrlf`,
//! `core.fileMode`), streaming large files into the object store so that memory stays bounded
//! whatever their size, and leaving out what cannot or must not be recorded: special files, and
//! files over the size limit (never read).

use anyhow::Context as _;
use gix::bstr::{BStr, ByteSlice};
use gix::objs::tree::EntryKind;
use gix::ObjectId;

use super::scan::{join, stat_of, Edit, Hashed, LeftOut};

/// Files above this size are streamed into the object store instead of read whole.
const STREAM_ABOVE: u64 = 8 * 1024 * 1024;

/// Hashes worktree files into blobs as `git add` would (filters, `core.autocrlf`, `core.fileMode`),
/// leaving out what cannot or must not be recorded ([`LeftOut`]).
pub struct Hasher<'repo> {
    repo: &'repo gix::Repository,
    pipeline: gix::filter::Pipeline<'repo>,
    trust_exec_bit: bool,
    workdir: std::path::PathBuf,
    max_file_size: Option<u64>,
    /// The paths left out so far.
    pub left_out: LeftOut,
}

impl<'repo> Hasher<'repo> {
    pub fn new(repo: &'repo gix::Repository, max_file_size: Option<u64>) -> anyhow::Result<Hasher<'repo>> {
        let trust_exec_bit = repo.filesystem_options().context("reading filesystem options")?.executable_bit;
        let (pipeline, _) = repo.filter_pipeline(None).context("preparing the filter pipeline")?;
        let workdir = repo.workdir().context("the repository has no working tree")?.to_owned();
        Ok(Hasher { repo, pipeline, trust_exec_bit, workdir, max_file_size, left_out: LeftOut::default() })
    }

    /// The blob for the file at `path` (written to the object database): `Some(None)` when it is
    /// gone, `None` when it is left out (a special file, or over the size limit; see `left_out`).
    pub fn hash(&mut self, path: &BStr, index: &gix::index::File) -> anyhow::Result<Option<Edit>> {
        let abs = join(&self.workdir, path);
        let md = match std::fs::symlink_metadata(&abs) {
            Ok(md) => md,
            Err(err) if matches!(err.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
                return Ok(Some(None))
            }
            Err(err) => return Err(err).with_context(|| format!("reading worktree file {path}")),
        };
        if is_special(&md) {
            self.left_out.special.push(path.to_str_lossy().into_owned());
            return Ok(None);
        }
        if md.is_file() && self.max_file_size.is_some_and(|max| md.len() > max) {
            self.left_out.oversized.push((path.to_str_lossy().into_owned(), md.len()));
            return Ok(None);
        }
        // Stat before hashing: a file changed in between then looks modified next time.
        let stat = stat_of(&self.workdir, path);
        let hashed = if md.is_file() && md.len() > STREAM_ABOVE {
            let kind = if gix::fs::is_executable(&md) { EntryKind::BlobExecutable } else { EntryKind::Blob };
            Some((self.stream_file(path, &abs, md.len(), index)?, kind))
        } else {
            let hashed = self
                .pipeline
                .worktree_file_to_object(path, index)
                .with_context(|| format!("hashing worktree file {path}"))?;
            hashed.map(|(id, kind, _)| (id, kind))
        };
        Ok(Some(hashed.map(|(id, kind)| {
            let kind = if self.trust_exec_bit { kind } else { kind_without_exec_bit(index, path, kind) };
            Hashed { kind, id, stat }
        })))
    }

    /// Writes the large regular file at `abs` (`size` bytes when stat'ed) as a blob, streaming it
    /// when no filter converts it.
    fn stream_file(
        &mut self,
        path: &BStr,
        abs: &std::path::Path,
        size: u64,
        index: &gix::index::File,
    ) -> anyhow::Result<ObjectId> {
        use gix::filter::plumbing::pipeline::convert::ToGitOutcome;
        use gix::objs::Write as _;
        let file = std::fs::File::open(abs).with_context(|| format!("opening worktree file {path}"))?;
        let rela = gix::path::from_bstr(path).map_err(|err| anyhow::anyhow!("{path}: {err}"))?;
        let converted =
            self.pipeline.convert_to_git(file, &rela, index).with_context(|| format!("filtering {path}"))?;
        let id = match converted {
            ToGitOutcome::Unchanged(file) => {
                let mut exact = Exact { inner: std::io::Read::take(file, size), left: size };
                let id = self
                    .repo
                    .objects
                    .write_stream(gix::objs::Kind::Blob, size, &mut exact)
                    .map_err(|err| anyhow::anyhow!("{err}"))
                    .with_context(|| format!("writing the blob of {path}"))?;
                anyhow::ensure!(exact.left == 0, "worktree file {path} shrank while it was hashed");
                id
            }
            ToGitOutcome::Buffer(buf) => {
                self.repo.write_blob(buf).with_context(|| format!("writing the blob of {path}"))?.detach()
            }
            ToGitOutcome::Process(read) => {
                self.repo.write_blob_stream(read).with_context(|| format!("writing the blob of {path}"))?.detach()
            }
        };
        Ok(id)
    }
}

/// A reader that counts what is left of the bytes it should give.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.left -= read as u64;
        Ok(read)
    }
}

/// A FIFO, socket or device node: nothing git can record.
pub fn is_special(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = md.file_type();
    kind.is_fifo() || kind.is_socket() || kind.is_block_device() || kind.is_char_device()
}

/// With `core.fileMode=false` the executable bit on disk means nothing: keep the index's.
fn kind_without_exec_bit(index: &gix::index::File, path: &BStr, kind: EntryKind) -> EntryKind {
    if !matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable) {
        return kind;
    }
    match index.entry_by_path(path).map(|e| e.mode) {
        Some(mode) if mode == gix::index::entry::Mode::FILE_EXECUTABLE => EntryKind::BlobExecutable,
        _ => EntryKind::Blob,
    }
}
