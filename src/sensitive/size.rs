//! Kind `oversized`: a file larger than `--max-file-size` (left out of the result by the snapshot,
//! which never reads it), or a change whose new content adds up to more than `--max-change-size`.
//! Never allowed by `ALLOW:`; a larger limit is the way to let one through.

use anyhow::Context as _;

use crate::changes::{ChangeStatus, RawChange};
use crate::policy::SensitiveChange;

/// A size as a person writes it: `1048576`, `50M`, `50MiB`, `50 MB`, `1.5G`, `2T` (every unit a
/// power of 1024; `K`, `M`, `G`, `T`, optionally followed by `B` or `iB`, any case).
pub fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    let unit = unit.to_ascii_lowercase();
    let unit = unit.strip_suffix("ib").or_else(|| unit.strip_suffix('b')).unwrap_or(&unit);
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(format!("`{text}` is not a size (expected e.g. 50M, 1G or a number of bytes)")),
    };
    let value: f64 =
        number.parse().map_err(|_| format!("`{text}` is not a size (expected e.g. 50M, 1G or a number of bytes)"))?;
    let bytes = value * scale as f64;
    if !(1.0..1.8e19).contains(&bytes) {
        return Err(format!("`{text}` is not a positive size"));
    }
    Ok(bytes as u64)
}

/// `1.5 GiB`, `50 MiB`, `12 KiB`, `300 B`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    format!("{} {}", text.trim_end_matches(".0"), UNITS[unit])
}

/// One `oversized` finding per file the snapshot left out for its size.
pub fn oversized_files(files: &[(String, u64)], limit: u64) -> Vec<SensitiveChange> {
    files
        .iter()
        .map(|(path, size)| SensitiveChange {
            path: path.clone(),
            kind: super::OVERSIZED.to_string(),
            reason: format!(
                "`{}` is {} ({size} bytes), over --max-file-size {}: it was not read and is not part of the result",
                crate::escape::line(path),
                human(*size),
                human(limit)
            ),
            allowed: false,
        })
        .collect()
}

/// The bytes of new content the change brings: the blob size of every added, modified, renamed or
/// type-changed result entry (read from the object headers, not the objects).
pub fn change_size(repo: &gix::Repository, raw: &[RawChange]) -> anyhow::Result<u64> {
    let mut total = 0u64;
    for change in raw.iter().filter(|change| change.status != ChangeStatus::Deleted) {
        let Some(new) = &change.new else { continue };
        if !new.mode.is_blob_or_symlink() || change.old.as_ref().is_some_and(|old| old.id == new.id) {
            continue;
        }
        let header = repo.find_header(new.id).with_context(|| format!("reading the size of {}", new.path))?;
        total = total.saturating_add(header.size());
    }
    Ok(total)
}

/// An `oversized` finding (path `.`, the whole change) when `total` is over `limit`.
pub fn oversized_change(total: u64, limit: u64) -> Option<SensitiveChange> {
    (total > limit).then(|| SensitiveChange {
        path: ".".to_string(),
        kind: super::OVERSIZED.to_string(),
        reason: format!(
            "the change brings {} of new content ({total} bytes), over --max-change-size {}",
            human(total),
            human(limit)
        ),
        allowed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(300), "300 B");
        assert_eq!(human(50 * 1024 * 1024), "50 MiB");
        assert_eq!(human(1536 * 1024 * 1024), "1.5 GiB");
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse("1048576"), Ok(1 << 20));
        assert_eq!(parse("50M"), Ok(50 << 20));
        assert_eq!(parse("50 MiB"), Ok(50 << 20));
        assert_eq!(parse("1.5g"), Ok(3 << 29));
        assert_eq!(parse("2TB"), Ok(2 << 40));
        assert!(parse("lots").is_err() && parse("0").is_err() && parse("5X").is_err() && parse("").is_err());
    }

    #[test]
    fn findings_name_the_path_and_the_limit() {
        let found = oversized_files(&[("big.bin".into(), 300_000_000)], 50 * 1024 * 1024);
        assert_eq!(found[0].kind, "oversized");
        assert!(found[0].reason.starts_with("`big.bin` is 286.1 MiB (300000000 bytes), over --max-file-size 50 MiB"));
        assert!(oversized_change(10, 10).is_none());
        assert_eq!(oversized_change(11, 10).expect("over").path, ".");
    }
}
