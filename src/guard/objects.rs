//! The loose objects of the shared git dir that existed before an unconfined run (`--sandbox
//! none`), verified unchanged after it: an agent there could overwrite `objects/ab/cdef...` of the
//! base commit with other content under the same name, and every later read of that object would
//! see the agent's version. Before the run each loose object's identity (inode, size, times) is
//! recorded; after it, every one whose identity moved is read again and hashed (a rewrite with
//! the same content, as an object store does when it writes an object twice, is fine). One that is
//! gone must still be in the object store (a `git gc` packs and removes loose objects). Packs are
//! not verified (their names are their checksums; reading them again would cost a full pass).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::fsmeta::Identity;
use crate::walk::{Step, Walk};

/// The loose objects at one moment: `ab/cdef...` -> size and identity.
#[derive(Clone, Debug, Default)]
pub struct LooseObjects {
    objects: BTreeMap<String, (u64, Identity)>,
}

/// Records the loose objects of `common_dir/objects`.
pub fn capture(common_dir: &Path) -> LooseObjects {
    let mut found = LooseObjects::default();
    let objects = common_dir.join("objects");
    let is_hex = |name: &str| name.bytes().all(|b| b.is_ascii_hexdigit());
    Walk::new(&objects).max_depth(2).each(|entry| {
        let Ok(entry) = entry else { return Step::Continue };
        let name = entry.name().to_string_lossy();
        if entry.depth() == 1 {
            let fanout = name.len() == 2 && is_hex(&name);
            return if fanout { Step::Continue } else { Step::Prune };
        }
        if is_hex(&name) {
            if let Ok(meta) = entry.metadata() {
                let dir = entry.rela().parent().unwrap_or(Path::new("")).to_string_lossy();
                found.objects.insert(format!("{dir}/{name}"), (meta.len(), Identity::of(&meta)));
            }
        }
        Step::Continue
    });
    found
}

/// The objects of `before` that no longer hold what their name says (`objects/ab/cdef...`),
/// or that are gone from the object store altogether.
pub fn overwritten(before: &LooseObjects, common_dir: &Path) -> Vec<String> {
    let objects = common_dir.join("objects");
    let store = gix::open(common_dir).ok();
    let mut bad = Vec::new();
    for (name, recorded) in &before.objects {
        let path = objects.join(name);
        let now = path.symlink_metadata().ok().map(|meta| (meta.len(), Identity::of(&meta)));
        let intact = match now {
            Some(now) if now == *recorded => true,
            Some(_) => holds_its_name(&path, name),
            None => store.as_ref().zip(id_of(name)).is_some_and(|(repo, id)| repo.has_object(id)),
        };
        if !intact {
            bad.push(format!("objects/{name}"));
        }
    }
    bad
}

fn id_of(name: &str) -> Option<gix::ObjectId> {
    gix::ObjectId::from_hex(name.replace('/', "").as_bytes()).ok()
}

/// Does the loose object file at `path` (a regular file) inflate to content whose hash is `name`?
fn holds_its_name(path: &PathBuf, name: &str) -> bool {
    let Some(expected) = id_of(name) else { return false };
    let Ok(meta) = path.symlink_metadata() else { return false };
    if !meta.is_file() {
        return false;
    }
    let Ok(file) = std::fs::File::open(path) else { return false };
    let mut inflated = flate2::read::ZlibDecoder::new(file);
    let mut hasher = gix::hash::hasher(expected.kind());
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match inflated.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => hasher.update(&buffer[..read]),
            Err(_) => return false,
        }
    }
    hasher.try_finalize().is_ok_and(|id| id == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_loose_object_is_found_and_a_rewrite_with_the_same_content_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = gix::init(dir.path()).expect("init");
        let kept = repo.write_blob(b"kept\n").expect("blob").detach();
        let victim = repo.write_blob(b"base content\n").expect("blob").detach();
        let common = repo.common_dir().to_path_buf();
        let before = capture(&common);
        let path_of = |id: gix::ObjectId| {
            let hex = id.to_hex().to_string();
            common.join("objects").join(&hex[..2]).join(&hex[2..])
        };
        // The same bytes written again (a new inode), and other content under the victim's name.
        let same = std::fs::read(path_of(kept)).expect("read");
        std::fs::remove_file(path_of(kept)).expect("remove");
        std::fs::write(path_of(kept), same).expect("rewrite");
        let forged = std::fs::read(path_of(repo.write_blob(b"payload\n").expect("blob").detach())).expect("read");
        std::fs::remove_file(path_of(victim)).expect("remove");
        std::fs::write(path_of(victim), forged).expect("overwrite");
        let hex = victim.to_hex().to_string();
        assert_eq!(overwritten(&before, &common), [format!("objects/{}/{}", &hex[..2], &hex[2..])]);
    }
}
