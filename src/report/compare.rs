//! A comparison as text: the console table and GitHub-flavoured Markdown. Pure.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::compare::{MeasureComparison, Report};
use crate::format::{bytes, ms, num};
use crate::stats::compare::Verdict;

/// A value in its measure's unit, for people.
fn value(v: f64, unit: Option<&str>) -> String {
    match unit {
        Some("ms") => ms(v),
        Some("B") if v >= 0.0 => bytes(v.round() as u64),
        Some(u) if !u.is_empty() => format!("{} {}", num(v), crate::control::printable(u)),
        _ => num(v),
    }
}

fn median(s: Option<&crate::stats::Stats>, unit: Option<&str>) -> String {
    s.map_or_else(|| "—".to_owned(), |s| value(s.median, unit))
}

/// `+12.3% [+8.1%, +16.0%]`.
fn change(m: &MeasureComparison) -> String {
    match (m.change_pct, m.ci95_low_pct, m.ci95_high_pct) {
        (Some(c), Some(lo), Some(hi)) => format!("{c:+.1}% [{lo:+.1}%, {hi:+.1}%]"),
        (Some(c), _, _) => format!("{c:+.1}%"),
        _ => "—".to_owned(),
    }
}

fn q(m: &MeasureComparison) -> String {
    match m.q {
        Some(q) if q < 0.001 => "<0.001".to_owned(),
        Some(q) => format!("{q:.3}"),
        None => "—".to_owned(),
    }
}

fn verdict(m: &MeasureComparison) -> String {
    let word = match m.verdict {
        Verdict::Regressed => "REGRESSED",
        v => v.as_str(),
    };
    match &m.note {
        Some(n) => format!("{word} ({n})"),
        None => word.to_owned(),
    }
}

const HEADER: [&str; 7] = [
    "step",
    "measure",
    "base",
    "new",
    "change [95% CI]",
    "q",
    "verdict",
];

fn row(m: &MeasureComparison) -> [String; 7] {
    [
        m.step.clone(),
        m.measure.clone(),
        median(m.base.as_ref(), m.unit.as_deref()),
        median(m.new.as_ref(), m.unit.as_deref()),
        change(m),
        q(m),
        verdict(m),
    ]
}

/// The closing lines: regressions, improvements, and what differs between environments.
fn tally(r: &Report) -> String {
    let count = |v| r.measures.iter().filter(|m| m.verdict == v).count();
    let mut s = format!(
        "{} measure(s): {} regressed, {} improved, {} unchanged, {} inconclusive (medians; change of NEW against BASE; q: Benjamini–Hochberg over all measures, alpha {})\n",
        r.measures.len(),
        count(Verdict::Regressed),
        count(Verdict::Improved),
        count(Verdict::Unchanged),
        count(Verdict::Inconclusive),
        r.alpha
    );
    for d in &r.environment_differences {
        s.push_str(&format!(
            "{}: environment differs: {} is {} in BASE, {} in NEW\n",
            if d.flagged { "warning" } else { "note" },
            d.field,
            d.base.as_deref().unwrap_or("unknown"),
            d.new.as_deref().unwrap_or("unknown")
        ));
    }
    s
}

/// The console table.
pub fn table(r: &Report) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(HEADER);
    for m in &r.measures {
        t.add_row(row(m));
    }
    for i in 2..6 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!("BASE {}\nNEW  {}\n{t}\n{}", r.base, r.new, tally(r))
}

/// GitHub-flavoured Markdown (a step summary).
pub fn markdown(r: &Report) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut s = format!(
        "### Comparison\n\nBASE `{}` → NEW `{}`\n\n| {} |\n|{}|\n",
        r.base,
        r.new,
        HEADER.join(" | "),
        ["---", "---", "---:", "---:", "---:", "---:", "---"].join("|")
    );
    for m in &r.measures {
        let cells: Vec<String> = row(m).iter().map(|c| cell(c)).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s.push('\n');
    for line in tally(r).lines() {
        s.push_str(&format!("- {line}\n"));
    }
    s
}

/// A calibration's table: per measure its spread, drift, false alarms and noise band.
pub fn calibration(c: &crate::compare::calibrate::Calibration) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header([
            "step",
            "measure",
            "spread (CV)",
            "drift",
            "false alarms",
            "noise band",
        ]);
    for m in &c.measures {
        t.add_row([
            m.step.clone(),
            m.measure.clone(),
            format!("{:.1}%", m.spread_pct),
            format!("{:.1}%", m.drift_pct),
            format!(
                "{}/{} ({:.0}%)",
                m.false_alarms,
                m.pairs,
                m.false_alarm_rate * 100.0
            ),
            format!("±{:.1}%", m.noise_band_pct),
        ]);
    }
    for i in 2..6 {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!(
        "{t}\n{} rounds of {} runs; false alarms: A/A pairs with p < {} (what a test without a band would report); noise band: the smallest change these runs can tell from noise here\n",
        c.rounds, c.runs, c.alpha
    )
}

/// `quick is 1.52x faster than slow [1.47x, 1.58x], p < 0.001`, one line per other step.
pub fn faster_lines(rel: &[crate::compare::Relative]) -> String {
    let mut s = String::new();
    for r in rel {
        let interval = match (r.low, r.high) {
            (Some(lo), Some(hi)) => format!(" [{lo:.2}x, {hi:.2}x]"),
            _ => String::new(),
        };
        let p = if r.p < 0.001 {
            "p < 0.001".to_owned()
        } else {
            format!("p = {:.3}", r.p)
        };
        let judged = if r.p < crate::stats::compare::DEFAULT_ALPHA {
            p
        } else {
            format!("{p}: not significant, more runs may tell")
        };
        s.push_str(&format!(
            "{} is {:.2}x faster than {}{interval}, {judged}\n",
            r.fastest, r.ratio, r.other
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_use_their_units() {
        assert_eq!(value(12.345, Some("ms")), "12.35 ms");
        assert_eq!(value(1536.0, Some("B")), "1.5 KiB");
        assert_eq!(value(205.0, Some("MiB/s")), "205 MiB/s");
        assert_eq!(value(3.0, None), "3");
    }

    #[test]
    fn faster_lines_say_ratio_interval_and_significance() {
        let r = crate::compare::Relative {
            fastest: "a".into(),
            other: "b".into(),
            ratio: 1.234,
            low: Some(1.18),
            high: Some(1.29),
            p: 0.0001,
        };
        assert_eq!(
            faster_lines(std::slice::from_ref(&r)),
            "a is 1.23x faster than b [1.18x, 1.29x], p < 0.001\n"
        );
        let weak = crate::compare::Relative { p: 0.2, ..r };
        assert!(
            faster_lines(&[weak]).ends_with("p = 0.200: not significant, more runs may tell\n")
        );
    }
}
