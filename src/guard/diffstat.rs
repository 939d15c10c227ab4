//! `git diff --stat` (worktree against index) of a checkout, computed with gix: line counts per
//! changed file, `Bin X -> Y bytes` for binary files, laid out in 80 columns as git lays out a
//! stat that does not go to a terminal, and the summary line.

use std::path::Path;

use anyhow::{Context, Result};
use gix::diff::blob::pipeline::{Mode, WorktreeRoots};
use gix::diff::blob::platform::prepare_diff::Operation;
use gix::diff::blob::platform::resource::Data;
use gix::diff::blob::{Diff, InternedInput, ResourceKind};
use gix::object::tree::EntryKind;

use super::status::{quoting, WorktreeChange, WorktreeKind};
use crate::quote::quote_path;

/// Total width git uses for a stat when stdout is not a terminal.
const STAT_WIDTH: i64 = 80;

/// What one line of the stat shows.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Counts {
    Lines { added: u64, deleted: u64 },
    Binary { old_size: u64, new_size: u64 },
    Unmerged,
}

#[derive(Clone, Debug)]
struct StatLine {
    name: String,
    counts: Counts,
}

/// `git diff --stat` of the checkout at `repo_root`; empty when nothing differs from the index.
pub fn diff_stat(repo_root: &Path) -> Result<String> {
    Ok(super::status::audit(repo_root)?.diff_stat)
}

/// The stat of `changes`, the worktree changes of `repo` (from [`super::status::audit`]).
pub(crate) fn render_stat(repo: &gix::Repository, changes: &[WorktreeChange]) -> Result<String> {
    let quoting = quoting(repo, false);
    if changes.is_empty() {
        return Ok(String::new());
    }
    let workdir = repo.workdir().context("the repository has no working tree")?.to_owned();
    let roots = WorktreeRoots { old_root: None, new_root: Some(workdir.clone()) };
    let mut cache = repo.diff_resource_cache(Mode::ToGit, roots).context("preparing the blob diff")?;
    let mut lines = Vec::with_capacity(changes.len());
    for change in changes {
        let counts = counts_of(repo, &mut cache, &workdir, change)
            .with_context(|| format!("diffing {}", String::from_utf8_lossy(&change.path)))?;
        lines.push(StatLine { name: quote_path(&change.path, quoting), counts });
        cache.clear_resource_cache_keep_allocation();
    }
    Ok(render(&lines))
}

fn counts_of(
    repo: &gix::Repository,
    cache: &mut gix::diff::blob::Platform,
    workdir: &Path,
    change: &WorktreeChange,
) -> Result<Counts> {
    let index_kind = change.index_mode.to_tree_entry_mode().map_or(EntryKind::Blob, |m| m.kind());
    match change.kind {
        WorktreeKind::Conflicted(_) => return Ok(Counts::Unmerged),
        // Other commit: `-Subproject commit a` `+Subproject commit b`; dirty content alone: 0.
        WorktreeKind::Submodule('M') => return Ok(Counts::Lines { added: 1, deleted: 1 }),
        WorktreeKind::Submodule(_) => return Ok(Counts::Lines { added: 0, deleted: 0 }),
        _ if index_kind == EntryKind::Commit => return Ok(Counts::Lines { added: 1, deleted: 1 }),
        _ => {}
    }
    let null = gix::ObjectId::null(repo.object_hash());
    let old_id = if change.kind == WorktreeKind::IntentToAdd { null } else { change.index_id };
    let new_kind = match change.kind {
        WorktreeKind::TypeChanged => match gix::path::from_bstr(&change.path) {
            Ok(rela_path) => worktree_kind(&workdir.join(rela_path)),
            Err(_) => index_kind,
        },
        _ => index_kind,
    };
    let path = change.path.as_ref();
    cache
        .set_resource(old_id, index_kind, path, ResourceKind::OldOrSource, &repo.objects)
        .map_err(|e| e.into_error())?;
    // A null id makes the resource cache read the worktree file (or find it missing: deleted).
    cache
        .set_resource(null, new_kind, path, ResourceKind::NewOrDestination, &repo.objects)
        .map_err(|e| e.into_error())?;
    let prepared = cache.prepare_diff().map_err(|e| e.into_error())?;
    let (old, new) = (prepared.old.data, prepared.new.data);
    if prepared.operation == Operation::SourceOrDestinationIsBinary {
        return Ok(Counts::Binary { old_size: size_of(old), new_size: size_of(new) });
    }
    let input = InternedInput::new(
        gix::diff::blob::sources::byte_lines(old.as_slice().unwrap_or_default()),
        gix::diff::blob::sources::byte_lines(new.as_slice().unwrap_or_default()),
    );
    let algorithm = match prepared.operation {
        Operation::InternalDiff { algorithm } => algorithm,
        _ => gix::diff::blob::Algorithm::Myers,
    };
    let diff = Diff::compute(algorithm, &input);
    Ok(Counts::Lines { added: u64::from(diff.count_additions()), deleted: u64::from(diff.count_removals()) })
}

fn worktree_kind(path: &Path) -> EntryKind {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => EntryKind::Link,
        _ => EntryKind::Blob,
    }
}

fn size_of(data: Data<'_>) -> u64 {
    match data {
        Data::Missing => 0,
        Data::Buffer { buf, .. } => buf.len() as u64,
        Data::Binary { size } => size,
    }
}

/// Lays the lines out as git's `show_stats` does for a given total width.
fn render(lines: &[StatLine]) -> String {
    let layout = Layout::of(lines, STAT_WIDTH);
    let mut out = String::new();
    for line in lines {
        let (prefix, name, padding) = fit_name(&line.name, layout.name_width);
        out.push_str(&format!(" {prefix}{name}{:padding$} | ", "", padding = padding));
        let number_width = layout.number_width;
        match line.counts {
            Counts::Unmerged => out.push_str(&format!("{:>number_width$}\n", "Unmerged")),
            Counts::Binary { old_size, new_size } => {
                out.push_str(&format!("{:>number_width$}", "Bin"));
                if old_size != 0 || new_size != 0 {
                    out.push_str(&format!(" {old_size} -> {new_size} bytes"));
                }
                out.push('\n');
            }
            Counts::Lines { added, deleted } => {
                let (plus, minus) = layout.scale(added, deleted);
                let total = added + deleted;
                out.push_str(&format!("{total:>number_width$}{}", if total > 0 { " " } else { "" }));
                out.push_str(&"+".repeat(plus as usize));
                out.push_str(&"-".repeat(minus as usize));
                out.push('\n');
            }
        }
    }
    out.push_str(&summary(lines));
    out
}

/// Column widths of the name, the number and the graph.
struct Layout {
    name_width: usize,
    number_width: usize,
    graph_width: u64,
    max_change: u64,
}

impl Layout {
    fn of(lines: &[StatLine], width: i64) -> Layout {
        let max_len = lines.iter().map(|l| l.name.chars().count()).max().unwrap_or(0) as i64;
        let mut max_change = 0u64;
        let mut bin_width = 0i64;
        let mut number_width = 0i64;
        for line in lines {
            match line.counts {
                Counts::Unmerged => bin_width = bin_width.max(8),
                Counts::Binary { old_size, new_size } => {
                    bin_width = bin_width.max(14 + decimal_width(old_size) + decimal_width(new_size));
                    number_width = 3;
                }
                Counts::Lines { added, deleted } => max_change = max_change.max(added + deleted),
            }
        }
        number_width = number_width.max(decimal_width(max_change));
        let width = width.max(16 + 6 + number_width);
        let mut graph_width = if max_change as i64 + 4 > bin_width { max_change as i64 } else { bin_width - 4 };
        let mut name_width = max_len;
        if name_width + number_width + 6 + graph_width > width {
            let graph_limit = width * 3 / 8 - number_width - 6;
            if graph_width > graph_limit {
                graph_width = graph_limit.max(6);
            }
            if name_width > width - number_width - 6 - graph_width {
                name_width = width - number_width - 6 - graph_width;
            } else {
                graph_width = width - number_width - 6 - name_width;
            }
        }
        Layout {
            name_width: name_width.max(0) as usize,
            number_width: number_width as usize,
            graph_width: graph_width.max(0) as u64,
            max_change,
        }
    }

    /// How many `+` and `-` to draw for a file.
    fn scale(&self, added: u64, deleted: u64) -> (u64, u64) {
        if self.graph_width > self.max_change {
            return (added, deleted);
        }
        let scale = |it: u64| if it == 0 { 0 } else { 1 + it * (self.graph_width - 1) / self.max_change };
        let mut total = scale(added + deleted);
        if total < 2 && added > 0 && deleted > 0 {
            total = 2;
        }
        if added < deleted {
            let plus = scale(added);
            (plus, total - plus)
        } else {
            let minus = scale(deleted);
            (total - minus, minus)
        }
    }
}

/// A name cut to `width` columns as git cuts it: `...` and the rest from the next `/`.
fn fit_name(name: &str, width: usize) -> (&'static str, String, usize) {
    let name_len = name.chars().count();
    if name_len <= width {
        return ("", name.to_string(), width - name_len);
    }
    let room = width.saturating_sub(3);
    let mut tail: String = name.chars().skip(name_len - room.min(name_len)).collect();
    if let Some(slash) = tail.find('/') {
        tail = tail[slash..].to_string();
    }
    let padding = room.saturating_sub(tail.chars().count());
    ("...", tail, padding)
}

fn summary(lines: &[StatLine]) -> String {
    let (mut files, mut insertions, mut deletions) = (0u64, 0u64, 0u64);
    for line in lines {
        match line.counts {
            Counts::Unmerged => {}
            Counts::Binary { .. } => files += 1,
            Counts::Lines { added, deleted } => {
                files += 1;
                insertions += added;
                deletions += deleted;
            }
        }
    }
    if files == 0 {
        return " 0 files changed\n".to_string();
    }
    let mut out = format!(" {files} file{} changed", if files == 1 { "" } else { "s" });
    if insertions > 0 || deletions == 0 {
        out.push_str(&format!(", {insertions} insertion{}(+)", if insertions == 1 { "" } else { "s" }));
    }
    if deletions > 0 || insertions == 0 {
        out.push_str(&format!(", {deletions} deletion{}(-)", if deletions == 1 { "" } else { "s" }));
    }
    out.push('\n');
    out
}

fn decimal_width(n: u64) -> i64 {
    n.checked_ilog10().map_or(1, |digits| i64::from(digits) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, counts: Counts) -> StatLine {
        StatLine { name: name.to_string(), counts }
    }

    #[test]
    fn small_stat_is_unscaled() {
        let lines = [
            line("a.txt", Counts::Lines { added: 2, deleted: 1 }),
            line("bin.dat", Counts::Binary { old_size: 10, new_size: 12 }),
            line("gone.txt", Counts::Lines { added: 0, deleted: 3 }),
        ];
        let expected = " a.txt    |   3 ++-\n bin.dat  | Bin 10 -> 12 bytes\n gone.txt |   3 ---\n \
                        3 files changed, 2 insertions(+), 4 deletions(-)\n";
        assert_eq!(render(&lines), expected);
    }

    #[test]
    fn large_changes_are_scaled() {
        let lines = [line("big.txt", Counts::Lines { added: 1000, deleted: 0 })];
        let out = render(&lines);
        let graph = out.lines().next().expect("a line").split(" | ").nth(1).expect("a graph");
        assert_eq!(graph, format!("1000 {}", "+".repeat(80 - 7 - 4 - 6)));
    }
}
