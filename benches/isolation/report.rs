//! Output of the benchmark: a text table with ratios to git, a CSV of every sample, a Markdown
//! table for BENCH.md, and an SVG chart of median cost against repository size.

use crate::ops::Sample;
use std::fmt::Write as _;

/// The git baseline each git-dispatch operation is compared with.
fn baselines(op: &str) -> &'static [&'static str] {
    match op {
        "cold create" | "warm reuse" => &["git", "git (parallel checkout)"],
        "snapshot+changes+patch" | "removal" => &["git"],
        _ => &[],
    }
}

fn baseline_op(op: &str) -> &str {
    if op == "warm reuse" {
        "cold create"
    } else {
        op
    }
}

fn find<'a>(samples: &'a [Sample], size: usize, op: &str, tool: &str) -> Option<&'a Sample> {
    samples.iter().find(|s| s.size == size && s.op == op && s.tool == tool)
}

/// One git-dispatch operation at one size with its comparisons.
struct Row {
    size: usize,
    op: &'static str,
    ours: f64,
    /// `(baseline tool, its median, ours / baseline)`
    vs: Vec<(&'static str, f64, f64)>,
    peak: Option<f64>,
}

fn ratio_rows(samples: &[Sample]) -> Vec<Row> {
    let mut rows = Vec::new();
    for s in samples.iter().filter(|s| s.tool == "git-dispatch" && !s.op.starts_with("breakdown")) {
        let ours = s.median();
        let vs = baselines(s.op)
            .iter()
            .filter_map(|tool| {
                find(samples, s.size, baseline_op(s.op), tool).map(|g| (*tool, g.median(), ours / g.median()))
            })
            .collect();
        rows.push(Row { size: s.size, op: s.op, ours, vs, peak: s.peak_mib });
    }
    rows
}

/// The human-readable summary printed at the end.
pub fn text(samples: &[Sample]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>7}  {:<24} {:>10}  {:<28} {:>10} {:>7}  {:>9}",
        "files", "operation", "ours (s)", "vs", "git (s)", "ratio", "peak MiB"
    );
    for Row { size, op, ours, vs, peak } in ratio_rows(samples) {
        let peak = peak.map_or("-".to_string(), |p| format!("{p:.0}"));
        if vs.is_empty() {
            let _ = writeln!(out, "{size:>7}  {op:<24} {ours:>10.3}  {:<28} {:>10} {:>7}  {peak:>9}", "-", "-", "-");
        }
        for (tool, git, ratio) in vs {
            let _ = writeln!(out, "{size:>7}  {op:<24} {ours:>10.3}  {tool:<28} {git:>10.3} {ratio:>7.2}  {peak:>9}");
        }
    }
    for s in samples.iter().filter(|s| s.op.starts_with("breakdown")) {
        let _ = writeln!(out, "{:>7}  {:<52} {:>10.3}", s.size, s.op, s.median());
    }
    out
}

/// Every sample: `size,op,tool,median_s,min_s,max_s,reps,peak_mib`.
pub fn csv(samples: &[Sample]) -> String {
    let mut out = String::from("size,op,tool,median_s,min_s,max_s,reps,peak_mib\n");
    for s in samples {
        let min = s.secs.iter().copied().fold(f64::INFINITY, f64::min);
        let max = s.secs.iter().copied().fold(0.0, f64::max);
        let peak = s.peak_mib.map_or(String::new(), |p| format!("{p:.1}"));
        let _ =
            writeln!(out, "{},{},{},{:.6},{min:.6},{max:.6},{},{peak}", s.size, s.op, s.tool, s.median(), s.secs.len());
    }
    out
}

/// A Markdown table of the ratios, for BENCH.md / the README.
pub fn markdown(samples: &[Sample]) -> String {
    let mut out = String::from("| files | operation | git-dispatch (s) | git baseline | git (s) | ratio | peak MiB |\n|---:|---|---:|---|---:|---:|---:|\n");
    for Row { size, op, ours, vs, peak } in ratio_rows(samples) {
        let peak = peak.map_or("-".to_string(), |p| format!("{p:.0}"));
        if vs.is_empty() {
            let _ = writeln!(out, "| {size} | {op} | {ours:.3} | - | - | - | {peak} |");
        }
        for (tool, git, ratio) in vs {
            let tool = if op == "warm reuse" { format!("{tool} worktree add") } else { tool.to_string() };
            let _ = writeln!(out, "| {size} | {op} | {ours:.3} | {tool} | {git:.3} | {ratio:.2} | {peak} |");
        }
    }
    out
}

/// Log-log chart: median seconds against file count, one line per (operation, tool).
pub fn svg(samples: &[Sample]) -> String {
    let (w, h, left, right, top, bottom) = (900.0, 560.0, 70.0, 300.0, 20.0, 50.0);
    let series: Vec<(&str, &str)> = {
        let mut keys: Vec<(&str, &str)> =
            samples.iter().filter(|s| !s.op.starts_with("breakdown")).map(|s| (s.op, s.tool)).collect();
        keys.dedup();
        keys.sort();
        keys.dedup();
        keys
    };
    let xs: Vec<f64> = samples.iter().map(|s| (s.size as f64).log10()).collect();
    let ys: Vec<f64> = samples.iter().map(|s| s.median().max(1e-4).log10()).collect();
    let (x0, x1) =
        (xs.iter().copied().fold(f64::INFINITY, f64::min), xs.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let (y0, y1) = (
        ys.iter().copied().fold(f64::INFINITY, f64::min).floor(),
        ys.iter().copied().fold(f64::NEG_INFINITY, f64::max).ceil(),
    );
    let px = |x: f64| left + (x - x0) / (x1 - x0).max(1e-9) * (w - left - right);
    let py = |y: f64| h - bottom - (y - y0) / (y1 - y0).max(1e-9) * (h - top - bottom);
    let colors =
        ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
    let mut out = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    let mut y = y0;
    while y <= y1 {
        let _ = writeln!(out, "<line x1=\"{left}\" x2=\"{}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}s</text>", w - right, left - 6.0, py(y) + 4.0, 10f64.powf(y), py = py(y));
        y += 1.0;
    }
    let mut sizes: Vec<usize> = samples.iter().map(|s| s.size).collect();
    sizes.sort();
    sizes.dedup();
    for size in &sizes {
        let x = px((*size as f64).log10());
        let _ = writeln!(out, "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{size} files</text>", h - bottom, h - bottom + 18.0);
    }
    for (i, (op, tool)) in series.iter().enumerate() {
        let color = colors[i % colors.len()];
        let dash = if *tool == "git-dispatch" { "" } else { " stroke-dasharray=\"6 3\"" };
        let points: Vec<String> = samples
            .iter()
            .filter(|s| s.op == *op && s.tool == *tool)
            .map(|s| format!("{:.1},{:.1}", px((s.size as f64).log10()), py(s.median().max(1e-4).log10())))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
            points.join(" ")
        );
        let ly = top + 16.0 * i as f64 + 10.0;
        let _ = writeln!(out, "<line x1=\"{}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/><text x=\"{}\" y=\"{}\">{op} - {tool}</text>", w - right + 10.0, w - right + 34.0, w - right + 40.0, ly + 4.0);
    }
    out.push_str("</svg>\n");
    out
}
