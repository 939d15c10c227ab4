//! The `--since` argument: a duration back from now (`45s`, `30m`, `12h`, `7d`, `2w`) or a date
//! (`2026-01-02`, local midnight), a local time (`2026-01-02 15:04[:05]`, `T` also accepted) or an
//! RFC 3339 time with its offset.

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, TimeZone};

/// The time `text` names, relative to `now` for a duration.
pub fn parse_since(text: &str, now: DateTime<Local>) -> anyhow::Result<DateTime<FixedOffset>> {
    let text = text.trim();
    if let Some(seconds) = duration_seconds(text)? {
        let back = chrono::Duration::try_seconds(seconds as i64)
            .ok_or_else(|| anyhow::anyhow!("--since: `{text}` is too long ago"))?;
        return Ok((now - back).fixed_offset());
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time);
    }
    let local =
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|date| date.and_hms_opt(0, 0, 0)).or_else(|| {
            ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        });
    let Some(local) = local else {
        anyhow::bail!(
            "--since: expected a duration (30m, 12h, 7d, 2w) or a date (2026-01-02, 2026-01-02 15:04), not `{text}`"
        )
    };
    Local
        .from_local_datetime(&local)
        .earliest()
        .map(|time| time.fixed_offset())
        .ok_or_else(|| anyhow::anyhow!("--since: `{text}` does not exist in the local time zone"))
}

/// `Some(seconds)` when `text` is a number with an optional unit s, m, h, d or w.
fn duration_seconds(text: &str) -> anyhow::Result<Option<u64>> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<u64>() else { return Ok(None) };
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        // A date starts with digits too.
        _ if unit.starts_with('-') => return Ok(None),
        other => anyhow::bail!("--since: unknown unit `{other}` in `{text}`; use s, m, h, d or w"),
    };
    Ok(Some(number.saturating_mul(scale)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Local> {
        Local.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).earliest().expect("a local time")
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse_since("90m", now()).expect("90m"), (now() - chrono::Duration::minutes(90)).fixed_offset());
        assert_eq!(parse_since("2d", now()).expect("2d"), (now() - chrono::Duration::days(2)).fixed_offset());
        assert_eq!(parse_since("30", now()).expect("30"), (now() - chrono::Duration::seconds(30)).fixed_offset());
    }

    #[test]
    fn dates_and_times() {
        let midnight = Local.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).earliest().expect("local").fixed_offset();
        assert_eq!(parse_since("2026-03-01", now()).expect("date"), midnight);
        let afternoon = Local.with_ymd_and_hms(2026, 3, 1, 15, 4, 0).earliest().expect("local").fixed_offset();
        assert_eq!(parse_since("2026-03-01 15:04", now()).expect("time"), afternoon);
        assert_eq!(parse_since("2026-03-01T15:04:00", now()).expect("T"), afternoon);
        let utc = parse_since("2026-03-01T15:04:05+00:00", now()).expect("rfc3339");
        assert_eq!(utc.to_rfc3339(), "2026-03-01T15:04:05+00:00");
    }

    #[test]
    fn nonsense_is_an_error_naming_the_flag() {
        let err = parse_since("yesterday", now()).expect_err("not a time");
        assert!(err.to_string().starts_with("--since: expected a duration"), "{err}");
        let err = parse_since("3y", now()).expect_err("no unit y");
        assert_eq!(err.to_string(), "--since: unknown unit `y` in `3y`; use s, m, h, d or w");
    }
}
