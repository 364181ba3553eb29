//! The gates of a summary for people: one line per gate in the form
//! `DISPLAY: 205 MiB/s (SLO 80 MiB/s, +156.2%) pass`, then the targets table
//! (Operation | Target | Current | Status). Pure.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::verdict::slo::{GateResult, GateStatus, Severity};

fn status(g: &GateResult) -> &'static str {
    match (g.status, g.severity) {
        (GateStatus::Pass, _) => "pass",
        (GateStatus::Fail, Severity::Fail) => "FAIL",
        (GateStatus::Fail, Severity::Warn) => "fail (warn)",
        (GateStatus::NotMeasured, _) => "not measured",
        (GateStatus::Inconclusive, _) => "inconclusive",
    }
}

/// Nothing when there are no gates.
pub fn render(gates: &[GateResult]) -> String {
    if gates.is_empty() {
        return String::new();
    }
    let mut s = String::from("gates:\n");
    for g in gates {
        s.push_str(&format!("  {}\n", g.line()));
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(["Operation", "Target", "Current", "Status"]);
    for g in gates {
        let target = g
            .expr
            .find(['<', '>'])
            .map_or_else(|| g.expr.clone(), |i| g.expr[i..].trim().to_owned());
        let unit = g.unit.as_deref().unwrap_or("");
        let current = g.observed.map_or_else(
            || "—".to_owned(),
            |o| {
                format!("{} {unit}", crate::format::num(o))
                    .trim_end()
                    .to_owned()
            },
        );
        t.add_row([g.name.clone(), target, current, status(g).to_owned()]);
    }
    let failed = gates.iter().filter(|g| g.fails_the_run()).count();
    s.push_str(&format!("{t}\n"));
    if failed > 0 {
        s.push_str(&format!("{failed} gate(s) failed\n"));
    }
    s
}
