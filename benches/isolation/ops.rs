//! The measured operations, each for git-dispatch (in-process gix) and for the git CLI:
//! (a) cold worktree creation, (b) warm reuse from the pool, (c) snapshot + changed set + patch
//! after 30 edits, (d) removal; plus a breakdown of where cold checkout time goes.

use crate::gitcli::{git, sh};
use crate::measure::{median, peak_mib, reset_peak, settle, time};
use crate::synth::file_path;
use git_dispatch::workspace::{self, Base, Release, WorkspaceOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// The timings of one operation by one implementation at one size.
#[derive(Debug, Clone)]
pub struct Sample {
    pub size: usize,
    pub op: &'static str,
    pub tool: &'static str,
    pub secs: Vec<f64>,
    pub peak_mib: Option<f64>,
}

impl Sample {
    pub fn median(&self) -> f64 {
        median(&self.secs)
    }
}

/// One synthetic repository under test.
pub struct Bench {
    pub size: usize,
    pub repo: PathBuf,
    pub work: PathBuf,
    pub main: String,
    pub next: String,
    pub reps: usize,
}

impl Bench {
    fn base(&self, commit: &str) -> Base {
        let id = gix::ObjectId::from_hex(commit.as_bytes()).expect("a full hex id");
        Base { commit: id, head: Some(id), includes_uncommitted: false, dirty_paths: Vec::new() }
    }

    fn options(&self, fresh: bool, pool_size: usize) -> WorkspaceOptions {
        WorkspaceOptions { worktrees_root: Some(self.work.join("wts")), fresh, pool_size }
    }

    fn git_path(&self, name: &str) -> PathBuf {
        self.work.join("git-wts").join(name)
    }

    fn sample(&self, op: &'static str, tool: &'static str, secs: Vec<f64>, peak_mib: Option<f64>) -> Sample {
        Sample { size: self.size, op, tool, secs, peak_mib }
    }
}

fn max_peak(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// (a) cold creation: git-dispatch, `git worktree add`, `git -c checkout.workers=0 worktree add`,
/// interleaved per repetition so that load from other processes hits all three alike.
pub fn cold_create(b: &Bench) -> Vec<Sample> {
    let opts = b.options(true, 0);
    let (mut ours, mut plain, mut parallel, mut peak) = (Vec::new(), Vec::new(), Vec::new(), None);
    for r in 0..b.reps {
        settle();
        reset_peak();
        let (secs, ws) =
            time(|| workspace::create(&b.repo, &format!("cold-{r}"), &b.base(&b.main), &opts).expect("create"));
        peak = max_peak(peak, peak_mib());
        ours.push(secs);
        workspace::release(&ws, Release::DeleteBranch, &opts).expect("release");
        plain.push(git_worktree_add(b, &format!("cold-{r}"), None));
        parallel.push(git_worktree_add(b, &format!("cold-par-{r}"), Some("checkout.workers=0")));
    }
    vec![
        b.sample("cold create", "git-dispatch", ours, peak),
        b.sample("cold create", "git", plain, None),
        b.sample("cold create", "git (parallel checkout)", parallel, None),
    ]
}

/// Times `git [-c config] worktree add -b <branch> <path> main`, then removes it (untimed).
fn git_worktree_add(b: &Bench, name: &str, config: Option<&str>) -> f64 {
    let path = b.git_path(name);
    let path = path.to_str().expect("utf-8 path");
    let branch = format!("g{name}");
    let mut args: Vec<&str> = Vec::new();
    if let Some(config) = config {
        args.extend(["-c", config]);
    }
    args.extend(["worktree", "add", "-q", "-b", &branch, path, &b.main]);
    settle();
    let secs = time(|| git(&b.repo, &args)).0;
    git(&b.repo, &["worktree", "remove", "--force", path]);
    git(&b.repo, &["branch", "-q", "-D", &branch]);
    secs
}

/// (b) warm reuse: a pooled worktree moved to the other base (30 files differ), and returning it.
pub fn warm_reuse(b: &Bench) -> Vec<Sample> {
    let opts = b.options(false, 1);
    let prime = workspace::create(&b.repo, "warm-prime", &b.base(&b.main), &opts).expect("create");
    workspace::release(&prime, Release::DeleteBranch, &opts).expect("release");
    let (mut take, mut park, mut peak) = (Vec::new(), Vec::new(), None);
    for r in 0..b.reps {
        let commit = if r % 2 == 0 { &b.next } else { &b.main };
        settle();
        reset_peak();
        let (secs, ws) =
            time(|| workspace::create(&b.repo, &format!("warm-{r}"), &b.base(commit), &opts).expect("create"));
        assert!(ws.warm, "the pooled worktree is reused");
        take.push(secs);
        std::fs::write(ws.path.join(file_path(r)), format!("run {r} leaves this behind\n")).expect("write");
        std::fs::write(ws.path.join(format!("untracked-{r}.txt")), "x\n").expect("write");
        settle();
        park.push(time(|| workspace::release(&ws, Release::DeleteBranch, &opts).expect("release")).0);
        peak = max_peak(peak, peak_mib());
    }
    assert_eq!(workspace::clear_pool(&b.repo, &opts).expect("clear pool"), 1);
    vec![b.sample("warm reuse", "git-dispatch", take, peak), b.sample("return to pool", "git-dispatch", park, None)]
}

/// Applies edit round `round` (20 modified, 5 added, 5 deleted files) to a worktree.
fn thirty_edits(dir: &Path, round: usize, n: usize) {
    for k in 0..20 {
        let path = dir.join(file_path((round * 977 + k * 131 + 1) % n));
        if path.exists() {
            let mut text = std::fs::read_to_string(&path).expect("read");
            text.push_str(&format!("edit {round} {k}\n"));
            std::fs::write(&path, text).expect("write");
        }
    }
    let new_dir = dir.join(format!("new/r{round}"));
    std::fs::create_dir_all(&new_dir).expect("mkdir");
    for k in 0..5 {
        std::fs::write(new_dir.join(format!("f{k}.txt")), crate::synth::content(n + round * 5 + k, 0)).expect("write");
    }
    for k in 0..5 {
        let path = dir.join(file_path((round * 5 + k) * 104_729 % n));
        let _ = std::fs::remove_file(path);
    }
}

/// (c) snapshot + changed set + patch after 30 edits vs `git add -A && git write-tree && git diff --binary -M`.
pub fn snapshot_after_edits(b: &Bench) -> Vec<Sample> {
    let opts = b.options(true, 0);
    let ws = workspace::create(&b.repo, "snap", &b.base(&b.main), &opts).expect("create");
    let gpath = b.git_path("snap");
    git(&b.repo, &["worktree", "add", "-q", "-b", "gsnap", gpath.to_str().expect("utf-8"), &b.main]);
    let repo = gix::open(&b.repo).expect("open");
    let base = b.base(&b.main).commit;
    let script = format!("git add -A && tree=$(git write-tree) && git diff --binary -M {} $tree > /dev/null", b.main);
    let (mut ours, mut theirs, mut peak) = (Vec::new(), Vec::new(), None);
    let mut parts: Vec<(&'static str, Vec<f64>)> = [
        "open worktree",
        "full scan (status + hash; for comparison, not part of the total)",
        "snapshot",
        "changed set",
        "patch",
    ]
    .into_iter()
    .map(|name| (name, Vec::new()))
    .collect();
    for r in 0..b.reps {
        thirty_edits(&ws.path, r, b.size);
        thirty_edits(&gpath, r, b.size);
        settle();
        let (open_secs, wt) = time(|| gix::open(&ws.path).expect("open"));
        parts[0].1.push(open_secs);
        let options = workspace::scan::ScanOptions { list_ignored: true, ..Default::default() };
        parts[1].1.push(time(|| workspace::scan::scan(&wt, options).expect("scan")).0);
        drop(wt);
        reset_peak();
        let (secs, patch_len) = time(|| {
            let (snap_secs, snap) = time(|| workspace::snapshot(&ws).expect("snapshot"));
            let (changes_secs, (raw, changes)) = time(|| {
                let raw = git_dispatch::changes::raw_changes(&repo, base, snap.result_commit).expect("changes");
                let changes = git_dispatch::changes::from_raw(&raw);
                (raw, changes)
            });
            let (patch_secs, patch) = time(|| git_dispatch::patch::render_raw(&repo, &raw).expect("patch"));
            parts[2].1.push(snap_secs);
            parts[3].1.push(changes_secs);
            parts[4].1.push(patch_secs);
            assert!(changes.len() >= 30);
            patch.len()
        });
        assert!(patch_len > 0);
        peak = max_peak(peak, peak_mib());
        ours.push(secs);
        settle();
        theirs.push(time(|| sh(&gpath, &script)).0);
    }
    workspace::release(&ws, Release::DeleteBranch, &opts).expect("release");
    git(&b.repo, &["worktree", "remove", "--force", gpath.to_str().expect("utf-8")]);
    git(&b.repo, &["branch", "-q", "-D", "gsnap"]);
    let mut out = vec![
        b.sample("snapshot+changes+patch", "git-dispatch", ours, peak),
        b.sample("snapshot+changes+patch", "git", theirs, None),
    ];
    for (name, secs) in parts {
        out.push(b.sample(leak(format!("breakdown: snapshot / {name}")), "git-dispatch", secs, None));
    }
    out
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// (d) removal vs `git worktree remove --force`.
pub fn removal(b: &Bench) -> Vec<Sample> {
    let opts = b.options(true, 0);
    let (mut ours, mut theirs, mut peak) = (Vec::new(), Vec::new(), None);
    for r in 0..b.reps {
        let ws = workspace::create(&b.repo, &format!("rm-{r}"), &b.base(&b.main), &opts).expect("create");
        settle();
        reset_peak();
        ours.push(time(|| workspace::release(&ws, Release::DeleteBranch, &opts).expect("release")).0);
        peak = max_peak(peak, peak_mib());
        let path = b.git_path(&format!("rm-{r}"));
        let path = path.to_str().expect("utf-8");
        git(&b.repo, &["worktree", "add", "-q", "-b", &format!("grm-{r}"), path, &b.main]);
        settle();
        theirs.push(time(|| git(&b.repo, &["worktree", "remove", "--force", path])).0);
        git(&b.repo, &["branch", "-q", "-D", &format!("grm-{r}")]);
    }
    vec![b.sample("removal", "git-dispatch", ours, peak), b.sample("removal", "git", theirs, None)]
}

/// Where cold creation time goes: gix's steps one by one, and plain file writes as a floor.
pub fn cold_breakdown(b: &Bench) -> Vec<Sample> {
    let repo = gix::open(&b.repo).expect("open");
    let tree = repo.find_commit(b.base(&b.main).commit).expect("commit").tree_id().expect("tree").detach();
    let dest = b.work.join("breakdown");
    let interrupt = AtomicBool::new(false);
    settle();
    let (prepare, prepared) = time(|| {
        repo.prepare_add_worktree(&dest, gix::worktree::add::Head::Detached(b.base(&b.main).commit), &interrupt)
            .expect("prepare")
    });
    let wt = prepared.persist().expect("persist");
    let (index_secs, mut index) = time(|| wt.index_from_tree(&tree).expect("index"));
    let mut options = wt.checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping).expect("options");
    options.destination_is_initially_empty = true;
    let objects = wt.objects.clone().into_arc().expect("arc");
    let (checkout, _) = time(|| {
        gix::worktree::state::checkout(
            &mut index,
            &dest,
            objects,
            &gix::progress::Discard,
            &gix::progress::Discard,
            &interrupt,
            options,
        )
        .expect("checkout")
    });
    let (write, _) = time(|| index.write(Default::default()).expect("write index"));
    repo.remove_worktree(&dest, gix::worktree::remove::Force::DiscardChanges, gix::progress::Discard).expect("remove");
    let floor_dir = b.work.join("floor");
    settle();
    let (floor, _) = time(|| {
        for i in 0..b.size {
            let path = floor_dir.join(file_path(i));
            if i % 16 == 0 {
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            }
            std::fs::write(&path, crate::synth::content(i, 0)).expect("write");
        }
    });
    std::fs::remove_dir_all(&floor_dir).expect("cleanup");
    [
        ("breakdown: register worktree", prepare),
        ("breakdown: index from tree", index_secs),
        ("breakdown: checkout files", checkout),
        ("breakdown: write index", write),
        ("breakdown: plain sequential file writes", floor),
    ]
    .into_iter()
    .map(|(op, secs)| b.sample(op, "git-dispatch", vec![secs], None))
    .collect()
}
