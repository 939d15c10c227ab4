//! The three faces of the statistics: a short table for people, one JSON object, and CSV with one
//! row per counted run (for a spreadsheet).

use std::io::Write;

use crate::escape::line as shown;

use super::{Spread, Stats, Totals};

/// The columns of `--csv`, in order.
pub const CSV_COLUMNS: [&str; 14] = [
    "run_id",
    "started_at",
    "agent",
    "mode",
    "exit_code",
    "offered",
    "applied",
    "violations",
    "agent_s",
    "overhead_s",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
];

/// `stats` as one pretty JSON object and a newline.
pub fn write_json(stats: &Stats, out: &mut dyn Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, stats)?;
    writeln!(out)?;
    Ok(())
}

/// A header line and one line per counted run, oldest first; `violations` joined by `;`.
pub fn write_csv(stats: &Stats, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "{}", CSV_COLUMNS.join(","))?;
    for run in &stats.counted {
        let seconds = |ms: Option<u64>| ms.map(|ms| format!("{:.3}", ms as f64 / 1000.0)).unwrap_or_default();
        let fields = [
            run.run_id.clone(),
            run.started_at.map(|time| time.to_rfc3339()).unwrap_or_default(),
            run.agent.clone(),
            run.mode.clone(),
            run.exit_code.to_string(),
            run.offered.to_string(),
            run.applied.to_string(),
            run.violations.join(";"),
            seconds(run.agent_ms),
            seconds(run.overhead_ms),
            run.tokens.input_tokens.to_string(),
            run.tokens.output_tokens.to_string(),
            run.tokens.cached_input_tokens.to_string(),
            run.tokens.reasoning_output_tokens.to_string(),
        ];
        let quoted: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        writeln!(out, "{}", quoted.join(","))?;
    }
    Ok(())
}

/// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// The human summary: counts, violations, then one line per group with times and tokens.
pub fn write_table(stats: &Stats, out: &mut dyn Write) -> anyhow::Result<()> {
    let totals = &stats.totals;
    writeln!(out, "runs folder: {}", shown(&stats.runs_root))?;
    writeln!(
        out,
        "runs {}  offered {}  applied {}  dry runs {}  unfinished {}  unreadable {}",
        totals.runs,
        totals.offered,
        totals.applied,
        stats.dry_runs,
        stats.unfinished.len(),
        stats.unreadable.len()
    )?;
    if !totals.exit_codes.is_empty() {
        let codes: Vec<String> = totals.exit_codes.iter().map(|(code, n)| format!("{code}: {n}")).collect();
        writeln!(out, "exit codes: {}", codes.join(", "))?;
    }
    if !totals.violations.is_empty() {
        writeln!(out, "\nviolations (runs):")?;
        let kinds: Vec<(String, usize)> = totals.violations.iter().map(|(k, n)| (shown(k).into_owned(), *n)).collect();
        let width = kinds.iter().map(|(kind, _)| kind.len()).max().unwrap_or(0);
        for (kind, n) in kinds {
            writeln!(out, "  {kind:<width$}  {n}")?;
        }
    }
    if totals.runs > 0 {
        writeln!(out)?;
        write_groups(stats, out)?;
    }
    if !stats.unfinished.is_empty() {
        let ids: Vec<_> = stats.unfinished.iter().map(|id| shown(id)).collect();
        writeln!(out, "\nunfinished (running, or their process died): {}", ids.join(", "))?;
    }
    if !stats.unreadable.is_empty() {
        writeln!(out, "\nunreadable:")?;
        for run in &stats.unreadable {
            writeln!(out, "  {}: {}", shown(&run.run_id), shown(&run.problem))?;
        }
    }
    Ok(())
}

fn write_groups(stats: &Stats, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut rows: Vec<(String, &Totals)> = vec![("all".to_string(), &stats.totals)];
    rows.extend(stats.by_agent.iter().map(|(agent, totals)| (format!("agent {}", shown(agent)), totals)));
    rows.extend(stats.by_mode.iter().map(|(mode, totals)| (format!("mode {}", shown(mode)), totals)));
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    writeln!(
        out,
        "{:<width$}  {:>5}  {:>7}  {:>7}  {:>9}  {:>9}  {:>12}  {:>12}  {:>10}  {:>10}  {:>10}",
        "",
        "RUNS",
        "OFFERED",
        "APPLIED",
        "AGENT MED",
        "AGENT P90",
        "OVERHEAD MED",
        "OVERHEAD P90",
        "TOKENS IN",
        "TOKENS OUT",
        "CACHED"
    )?;
    for (name, totals) in rows {
        let (agent, overhead) = (&totals.duration_s.agent, &totals.duration_s.overhead);
        writeln!(
            out,
            "{name:<width$}  {:>5}  {:>7}  {:>7}  {:>9}  {:>9}  {:>12}  {:>12}  {:>10}  {:>10}  {:>10}",
            totals.runs,
            totals.offered,
            totals.applied,
            time(agent, |s| s.median),
            time(agent, |s| s.p90),
            time(overhead, |s| s.median),
            time(overhead, |s| s.p90),
            totals.tokens.input,
            totals.tokens.output,
            totals.tokens.cached
        )?;
    }
    Ok(())
}

fn time(spread: &Spread, pick: impl Fn(&Spread) -> Option<f64>) -> String {
    pick(spread).map(|seconds| format!("{seconds:.2}s")).unwrap_or_else(|| "-".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
