//! A receipt as GitHub-flavoured Markdown, for a job's step summary: the targets table
//! (gates), the steps, the warnings, the environment. Pure; [`fit`] keeps it within the
//! step summary's size limit.

use crate::format::{bytes, ms, num};
use crate::receipt::{StepSummary, Summary};
use crate::verdict::slo::{GateResult, GateStatus, Severity};

/// GitHub refuses a step summary larger than this (1 MiB).
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// `--format markdown`.
#[derive(Debug)]
pub struct Exporter;

impl super::Exporter for Exporter {
    fn receipts(&self, receipts: &[super::Receipt]) -> Vec<u8> {
        render(&receipts[0]).into_bytes()
    }

    fn comparison(&self, report: &crate::compare::Report) -> Option<Vec<u8>> {
        Some(super::compare::markdown(report).into_bytes())
    }
}

/// A table cell: no pipe or line break may end it early.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn table(header: &[&str], align: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|{}|\n", header.join(" | "), align.join("|"));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}

fn gate_status(g: &GateResult) -> &'static str {
    match (g.status, g.severity) {
        (GateStatus::Pass, _) => "✅ pass",
        (GateStatus::Fail, Severity::Fail) => "❌ FAIL",
        (GateStatus::Fail, Severity::Warn) => "⚠️ fail (warn)",
        (GateStatus::NotMeasured, _) => "➖ not measured",
        (GateStatus::Inconclusive, _) => "❔ inconclusive",
    }
}

/// The threshold side of a gate's expression: `< 500ms`.
pub(crate) fn target(g: &GateResult) -> String {
    g.expr
        .find(['<', '>', '='])
        .map_or_else(|| g.expr.clone(), |i| g.expr[i..].trim().to_owned())
}

/// A gate's observed value in its unit.
pub(crate) fn observed(g: &GateResult) -> String {
    let unit = g.unit.as_deref().unwrap_or("");
    match g.observed {
        Some(o) if unit == "ms" => ms(o),
        // Load gates judge latency in seconds.
        Some(o) if unit == "s" => ms(o * 1000.0),
        Some(o) => format!("{} {unit}", num(o)).trim_end().to_owned(),
        None => "—".to_owned(),
    }
}

fn stat(s: Option<&crate::stats::Stats>, f: impl Fn(&crate::stats::Stats) -> String) -> String {
    s.map_or_else(|| "—".to_owned(), f)
}

fn step_row(s: &StepSummary) -> Vec<String> {
    let w = s.wall_ms.as_ref();
    let memory = match (&s.cgroup_memory_peak_bytes, &s.peak_rss_bytes) {
        (Some(t), _) => format!("{} tree", bytes(t.max as u64)),
        (None, Some(p)) => format!("{} proc", bytes(p.max as u64)),
        _ => "—".to_owned(),
    };
    vec![
        format!("`{}`", super::step_label(s)),
        w.map_or(0, |w| w.n).to_string(),
        stat(w, |w| ms(w.median)),
        stat(w, |w| ms(w.mean)),
        stat(w, |w| match (w.ci95_low, w.ci95_high) {
            (Some(l), Some(h)) => format!("{} – {}", ms(l), ms(h)),
            _ => "—".to_owned(),
        }),
        stat(w, |w| format!("{} – {}", ms(w.min), ms(w.max))),
        stat(w, |w| {
            w.cv.map_or("—".into(), |c| format!("{:.1}%", c * 100.0))
        }),
        stat(s.cpu_user_ms.as_ref(), |c| ms(c.mean)),
        stat(s.cpu_sys_ms.as_ref(), |c| ms(c.mean)),
        memory,
        if s.failures > 0 {
            format!("❌ {}", s.failures)
        } else {
            "0".to_owned()
        },
    ]
}

/// The whole step summary of one receipt.
pub fn render(r: &super::Receipt) -> String {
    let s = &r.summary;
    let failed_gates = s.slos.iter().filter(|g| g.fails_the_run()).count();
    let failed_steps = s.steps.iter().filter(|st| st.failures > 0).count();
    let verdict = match s.status {
        crate::receipt::Status::Ok if failed_gates == 0 => "✅ ok".to_owned(),
        crate::receipt::Status::Ok => format!("❌ {failed_gates} gate(s) failed"),
        crate::receipt::Status::Failed => "❌ a step failed".to_owned(),
        crate::receipt::Status::TimedOut => "❌ a step timed out".to_owned(),
        crate::receipt::Status::Interrupted => "⚠️ interrupted".to_owned(),
    };
    let mut out = format!(
        "## Benchmark `{}`: {verdict}\n\n{} measured run(s), {} warm-up · {} step(s){}{} · {} → {} · benchmark {}\n\n",
        cell(&s.suite.name),
        s.runs,
        s.options.warmup,
        s.steps.len(),
        if failed_steps > 0 {
            format!(", {failed_steps} with failures")
        } else {
            String::new()
        },
        if s.load.is_empty() {
            String::new()
        } else {
            format!(" · {} load scenario(s)", s.load.len())
        },
        s.started_at,
        s.finished_at,
        s.tool.version
    );
    if !s.slos.is_empty() {
        out.push_str("### Targets\n\n");
        let rows: Vec<Vec<String>> = s
            .slos
            .iter()
            .map(|g| {
                vec![
                    g.name.clone(),
                    format!("`{}`", target(g)),
                    observed(g),
                    g.margin_pct.map_or("—".into(), |m| format!("{m:+.1}%")),
                    gate_status(g).to_owned(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["Operation", "Target", "Current", "Margin", "Status"],
            &["---", "---", "---:", "---:", "---"],
            &rows,
        ));
        out.push('\n');
    }
    // A suite of load scenarios alone has no steps to show.
    if !s.steps.is_empty() || s.load.is_empty() {
        out.push_str("### Steps\n\n");
        let rows: Vec<Vec<String>> = s.steps.iter().map(step_row).collect();
        out.push_str(&table(
            &[
                "step",
                "n",
                "median",
                "mean",
                "95% CI of mean",
                "min – max",
                "CV",
                "user CPU",
                "sys CPU",
                "peak memory",
                "failed",
            ],
            &[
                "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:",
                "---:",
            ],
            &rows,
        ));
        out.push('\n');
    }
    let extra: Vec<Vec<String>> = s
        .steps
        .iter()
        .flat_map(|st| {
            let label = super::step_label(st);
            let phases = st.phases.iter().map({
                let label = label.clone();
                move |p| {
                    vec![
                        format!("`{label}`"),
                        format!("phase `{}`", p.name),
                        ms(p.duration_ms.median),
                        ms(p.duration_ms.p95),
                        p.duration_ms.n.to_string(),
                    ]
                }
            });
            let metrics = st.metrics.iter().map(move |(name, m)| {
                let unit = m.unit.as_deref().unwrap_or("");
                let v = |x: f64| format!("{} {unit}", num(x)).trim_end().to_owned();
                vec![
                    format!("`{label}`"),
                    format!("metric `{name}`"),
                    v(m.stats.median),
                    v(m.stats.p95),
                    m.stats.n.to_string(),
                ]
            });
            phases.chain(metrics).collect::<Vec<_>>()
        })
        .collect();
    if !extra.is_empty() {
        out.push_str(&table(
            &["step", "measure", "median", "p95", "n"],
            &["---", "---", "---:", "---:", "---:"],
            &extra,
        ));
        out.push('\n');
    }
    out.push_str(&load(s));
    let failing: Vec<String> = s
        .steps
        .iter()
        .filter_map(|st| {
            let (run, rec) = super::failures(r, st).next()?;
            let tail = rec.output_tail.as_deref().unwrap_or_default().join("\n");
            Some(format!(
                "<details><summary><code>{}</code> failed in run {run} with exit status {}</summary>\n\n```text\n{}\n```\n\n</details>\n",
                html_escape(&super::step_label(st)),
                rec.exit_code,
                tail.replace("```", "'''")
            ))
        })
        .collect();
    for f in failing {
        out.push_str(&f);
    }
    if !s.warnings.is_empty() {
        out.push_str(&format!("\n### Warnings ({})\n\n", s.warnings.len()));
        for (w, count) in grouped(&s.warnings) {
            let times = if count > 1 {
                format!(" (and {} more like it)", count - 1)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "- `{}`: {}{times}\n",
                serde_json::to_value(w.code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                w.message.replace('\n', " ")
            ));
        }
    }
    out.push_str("\n<details><summary>Environment</summary>\n\n");
    out.push_str(&table(
        &["", ""],
        &["---", "---"],
        &environment(s)
            .into_iter()
            .map(|(k, v)| vec![k.to_owned(), v])
            .collect::<Vec<_>>(),
    ));
    out.push_str(&format!(
        "\nReproduce: `{}`\n\n</details>\n",
        s.reproduce.replace('`', "'")
    ));
    out
}

/// The load table, a row per phase, and what the failed operations said; nothing
/// without load scenarios.
fn load(s: &Summary) -> String {
    if s.load.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = s
        .load
        .iter()
        .flat_map(|l| super::load::rows(l, &format!("`{}`", l.id)))
        .collect();
    let mut out = String::from("### Load\n\n");
    out.push_str(&table(
        &super::load::HEADER,
        &[
            "---", "---", "---:", "---:", "---:", "---", "---:", "---:", "---:", "---:", "---:",
            "---:", "---:",
        ],
        &rows,
    ));
    out.push_str(
        "\nLatency over every run's operations, from each one's start (open loop: from when it was due); throughput: the median over runs.\n\n",
    );
    for l in s.load.iter().filter(|l| l.failed > 0) {
        let mut samples: Vec<&str> = Vec::new();
        for f in &l.failure_samples {
            if !samples.contains(&f.as_str()) {
                samples.push(f);
            }
        }
        out.push_str(&format!(
            "<details><summary><code>{}</code>: {} of {} operation(s) failed ({})</summary>\n\n```text\n{}\n```\n\n</details>\n",
            html_escape(&l.id),
            l.failed,
            l.ops,
            html_escape(&super::load::causes(l)),
            samples.join("\n").replace("```", "'''")
        ));
    }
    out
}

/// Warnings of one code and step said once, with how many more there were.
pub(crate) fn grouped(ws: &[crate::receipt::Warning]) -> Vec<(&crate::receipt::Warning, usize)> {
    let mut out: Vec<(&crate::receipt::Warning, usize)> = Vec::new();
    for w in ws {
        match out
            .iter_mut()
            .find(|(g, _)| g.code == w.code && g.step == w.step && g.step.is_some())
        {
            Some((_, n)) => *n += 1,
            None => out.push((w, 1)),
        }
    }
    out
}

/// The environment fingerprint as `(field, value)` rows.
pub(crate) fn environment(s: &Summary) -> Vec<(&'static str, String)> {
    let e = &s.environment;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    vec![
        ("OS", format!("{} ({})", e.os, e.arch)),
        ("Nix system", e.nix_system.clone()),
        ("CPU", opt(&e.cpu_model)),
        (
            "cores",
            match e.physical_cores {
                Some(p) => format!("{} ({p} physical)", e.cores),
                None => e.cores.to_string(),
            },
        ),
        ("memory", e.memory_bytes.map_or("unknown".into(), bytes)),
        ("kernel", opt(&e.kernel)),
        ("virtualization", opt(&e.virtualization)),
        ("container", opt(&e.container)),
        (
            "measurement",
            match &e.measurement.note {
                Some(n) => format!("{} ({n})", e.measurement.method),
                None => e.measurement.method.clone(),
            },
        ),
        (
            "benchmark",
            match &s.tool.revision {
                Some(r) => format!("{} ({r})", s.tool.version),
                None => s.tool.version.clone(),
            },
        ),
    ]
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What to append to a step summary that already holds `existing` bytes: `text`, or as
/// much of it as fits in whole lines under [`STEP_SUMMARY_LIMIT`], with a note saying
/// where the rest is.
pub fn fit(existing: u64, text: &str, rest_in: &str) -> String {
    let room = (STEP_SUMMARY_LIMIT as u64).saturating_sub(existing) as usize;
    if text.len() <= room {
        return text.to_owned();
    }
    let note = format!(
        "\n\n> **Truncated**: the step summary is limited to 1 MiB; the whole report is in {rest_in}.\n"
    );
    let budget = room.saturating_sub(note.len());
    let cut = text[..budget.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    if cut == 0 && room < note.len() {
        return String::new();
    }
    format!("{}{note}", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_snapshot() {
        insta::assert_snapshot!(render(&crate::report::fixture::receipt()));
    }

    #[test]
    fn load_markdown_snapshot() {
        insta::assert_snapshot!(render(&crate::report::fixture::load_receipt()));
    }

    #[test]
    fn load_alone_shows_no_empty_steps_table() {
        let mut r = crate::report::fixture::load_receipt();
        r.summary.steps.clear();
        let md = render(&r);
        assert!(!md.contains("### Steps") && md.contains("### Load"), "{md}");
    }

    #[test]
    fn a_step_summary_keeps_under_its_limit() {
        let line = "x".repeat(99) + "\n";
        let text = line.repeat(20_000); // 2 MB
        let out = fit(0, &text, "perf.json");
        assert!(out.len() <= STEP_SUMMARY_LIMIT, "{}", out.len());
        assert!(out.ends_with("the whole report is in perf.json.\n"));
        assert!(out.starts_with(&line));
        // Whole lines only, then the note.
        let body = out.split("\n\n> **Truncated**").next().unwrap();
        assert!(body.lines().all(|l| l.len() == 99));
        // What fits is left alone; a full summary gets nothing.
        assert_eq!(fit(10, "short\n", "x"), "short\n");
        assert_eq!(fit(STEP_SUMMARY_LIMIT as u64, &text, "x"), "");
        let nearly = fit(STEP_SUMMARY_LIMIT as u64 - 1000, &text, "x");
        assert!(
            nearly.len() <= 1000 && nearly.contains("Truncated"),
            "{nearly}"
        );
    }

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
