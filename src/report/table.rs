//! The console table of a summary: one row per step. Pure.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::receipt::{StepSummary, Summary};
use crate::runner::preflight::bytes;
use crate::stats::Stats;

/// Format milliseconds with a unit that keeps 3–4 significant digits.
pub fn ms(v: f64) -> String {
    let a = v.abs();
    if a >= 60_000.0 {
        format!("{:.1} min", v / 60_000.0)
    } else if a >= 1000.0 {
        format!("{:.3} s", v / 1000.0)
    } else if a >= 1.0 {
        format!("{v:.2} ms")
    } else {
        format!("{:.1} µs", v * 1000.0)
    }
}

fn opt(s: Option<&Stats>, f: impl Fn(&Stats) -> String) -> String {
    s.map_or_else(|| "—".to_owned(), f)
}

/// The per-step table: wall time statistics, CPU, peak RSS, failures.
pub fn render(summary: &Summary) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "step", "n", "mean", "median", "min", "max", "stddev", "CV", "user CPU", "sys CPU",
            "peak RSS", "failed",
        ]);
    for s in &summary.steps {
        t.add_row(row(s));
    }
    for i in 1..12 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = t.to_string();
    out.push('\n');
    let metrics = metrics(summary);
    if !metrics.is_empty() {
        out.push_str(&metrics);
    }
    out
}

fn row(s: &StepSummary) -> Vec<String> {
    let w = s.wall_ms.as_ref();
    let id = match &s.parent {
        Some(p) => format!("{p} › {}", s.id),
        None => s.id.clone(),
    };
    vec![
        id,
        w.map_or(0, |w| w.n).to_string(),
        opt(w, |w| ms(w.mean)),
        opt(w, |w| ms(w.median)),
        opt(w, |w| ms(w.min)),
        opt(w, |w| ms(w.max)),
        opt(w, |w| w.stddev.map_or("—".into(), ms)),
        opt(w, |w| {
            w.cv.map_or("—".into(), |c| format!("{:.1}%", c * 100.0))
        }),
        opt(s.cpu_user_ms.as_ref(), |c| ms(c.mean)),
        opt(s.cpu_sys_ms.as_ref(), |c| ms(c.mean)),
        opt(s.peak_rss_bytes.as_ref(), |r| bytes(r.max as u64)),
        s.failures.to_string(),
    ]
}

/// Custom metrics and phases, one line each: `step  name  mean ± stddev unit (n)`.
fn metrics(summary: &Summary) -> String {
    let mut out = String::new();
    for s in &summary.steps {
        for (name, m) in &s.metrics {
            let unit = m
                .unit
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default();
            let sd = m
                .stats
                .stddev
                .map(|d| format!(" ± {}", num(d)))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {} · metric {name}: {}{sd}{unit} (n={})\n",
                s.id,
                num(m.stats.mean),
                m.stats.n
            ));
        }
        for (name, p) in &s.phases {
            out.push_str(&format!(
                "  {} · phase {name}: median {} (p95 {}, n={})\n",
                s.id,
                ms(p.median),
                ms(p.p95),
                p.n
            ));
        }
    }
    out
}

fn num(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        format!("{:.3}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_readable_units() {
        assert_eq!(ms(0.0123), "12.3 µs");
        assert_eq!(ms(12.345), "12.35 ms");
        assert_eq!(ms(1234.5), "1.234 s");
        assert_eq!(ms(90_000.0), "1.5 min");
    }

    #[test]
    fn numbers_drop_trailing_zeros() {
        assert_eq!(num(205.0), "205");
        assert_eq!(num(1.25), "1.25");
        assert_eq!(num(12_345_678.0), "1.235e7");
    }
}
