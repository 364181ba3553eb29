//! The console table of a summary: one row per step. Pure.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::format::{bytes, ms, num};
use crate::receipt::{StepSummary, Summary};
use crate::stats::Stats;

/// `--format table`: the table, the gates and the warnings, as `run` prints them.
#[derive(Debug)]
pub struct Exporter;

impl super::Exporter for Exporter {
    fn receipts(&self, receipts: &[super::Receipt]) -> Vec<u8> {
        let summary = &receipts[0].summary;
        let mut text = render(summary);
        text.push_str(&super::gates::render(&summary.slos));
        for w in &summary.warnings {
            text.push_str(&format!("warning: {w}\n"));
        }
        text.into_bytes()
    }

    fn comparison(&self, report: &crate::compare::Report) -> Option<Vec<u8>> {
        Some(super::compare::table(report).into_bytes())
    }
}

fn opt(s: Option<&Stats>, f: impl Fn(&Stats) -> String) -> String {
    s.map_or_else(|| "—".to_owned(), f)
}

/// The per-step table, then the load table when the suite has load scenarios.
pub fn render(summary: &Summary) -> String {
    let mut out = if summary.steps.is_empty() && !summary.load.is_empty() {
        String::new()
    } else {
        steps(summary)
    };
    out.push_str(&load(&summary.load));
    out
}

/// The load scenarios, a row per phase: operations, failures by cause, throughput
/// (median over runs), latency percentiles (over every run's operations), capacity.
/// Nothing when there are none.
pub fn load(load: &[crate::load::LoadSummary]) -> String {
    if load.is_empty() {
        return String::new();
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(super::load::HEADER.to_vec());
    for l in load {
        for row in super::load::rows(l, &l.id) {
            t.add_row(row);
        }
    }
    for i in [2, 4, 6, 7, 8, 9, 10, 11, 12] {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!(
        "load:\n{t}\n  latency over every run's operations from each one's start (open loop: from when it was due); throughput: median over runs\n"
    )
}

/// The per-step table: wall time statistics, CPU, peak memory, failures; then the custom
/// metrics and phases. Steps nothing timed (another tool's results, imported: only
/// metrics) get no row of dashes: a receipt of only those shows its metrics alone.
fn steps(summary: &Summary) -> String {
    if !summary.steps.is_empty()
        && summary
            .steps
            .iter()
            .all(|s| s.wall_ms.is_none() && s.failures == 0)
    {
        return metrics(summary);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "step",
            "n",
            "mean",
            "median",
            "min",
            "max",
            "stddev",
            "CV",
            "user CPU",
            "sys CPU",
            "peak memory",
            "failed",
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
    let tree = summary
        .steps
        .iter()
        .any(|s| s.cgroup_memory_peak_bytes.is_some());
    let proc = summary
        .steps
        .iter()
        .any(|s| s.cgroup_memory_peak_bytes.is_none() && s.peak_rss_bytes.is_some());
    let unknown = summary.steps.iter().any(|s| {
        s.cgroup_memory_peak_bytes.is_none()
            && s.peak_rss_bytes.is_none()
            && s.cpu_user_ms.is_some()
    });
    let legend: Vec<&str> = [
        (tree, "tree = the whole process tree (its cgroup)"),
        (
            proc,
            "proc = its largest single process (RSS; no cgroup measured it)",
        ),
        (
            unknown,
            "— = no cgroup, and no process above the harness's own RSS, which the kernel counts into every step's",
        ),
    ]
    .into_iter()
    .filter_map(|(on, text)| on.then_some(text))
    .collect();
    if !legend.is_empty() {
        out.push_str(&format!("  peak memory: {}\n", legend.join("; ")));
    }
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
        peak_memory(s),
        s.failures.to_string(),
    ]
}

/// The step's whole tree when a cgroup measured it, else its largest process.
fn peak_memory(s: &StepSummary) -> String {
    match (&s.cgroup_memory_peak_bytes, &s.peak_rss_bytes) {
        (Some(tree), _) => format!("{} tree", bytes(tree.max as u64)),
        (None, Some(rss)) => format!("{} proc", bytes(rss.max as u64)),
        (None, None) => "—".to_owned(),
    }
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
        for p in &s.phases {
            let d = &p.duration_ms;
            out.push_str(&format!(
                "  {} · phase {}: median {} (p95 {}, n={}), starts at {}\n",
                s.id,
                p.name,
                ms(d.median),
                ms(d.p95),
                d.n,
                ms(p.start_ms.median)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::receipt::{MetricSummary, ResourceStats, StepSummary};
    use crate::stats::summarize;

    fn step(id: &str, parent: Option<&str>, wall: &[f64], failures: u32) -> StepSummary {
        StepSummary {
            id: id.into(),
            name: id.into(),
            parent: parent.map(Into::into),
            failures,
            wall_ms: summarize(wall),
            cpu_user_ms: summarize(&wall.iter().map(|w| w * 0.9).collect::<Vec<_>>()),
            cpu_sys_ms: summarize(&[1.5, 1.7]),
            peak_rss_bytes: summarize(&[4.0 * 1048576.0, 5.0 * 1048576.0]),
            cgroup_memory_peak_bytes: None,
            cgroup_io_read_bytes: None,
            cgroup_io_write_bytes: None,
            resources: ResourceStats::default(),
            containers: None,
            metrics: [(
                "throughput".to_owned(),
                MetricSummary::new(Some("MiB/s".into()), summarize(&[200.0, 210.0]).unwrap()),
            )]
            .into_iter()
            .filter(|_| parent.is_none() && failures == 0)
            .collect(),
            phases: Default::default(),
            outlier_runs: vec![],
            origin: None,
        }
    }

    #[test]
    fn report_table_snapshot() {
        use crate::report::Exporter as _;
        let out = Exporter.receipts(&[crate::report::fixture::receipt()]);
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn load_table_snapshot() {
        use crate::report::Exporter as _;
        let out = Exporter.receipts(&[crate::report::fixture::load_receipt()]);
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn table_snapshot() {
        let v = serde_json::json!({
            "schema_version": 1,
            "tool": {"name": "benchmark", "version": "0"},
            "suite": {"name": "s", "description": null, "file": null, "sha256": ""},
            "reproduce": "", "started_at": "", "finished_at": "", "status": "ok", "runs": 3,
            "warnings": [], "steps": [],
            "options": {"mode": null, "runs": 3, "warmup": 0, "keep_logs": false},
            "environment": {"os": "linux", "arch": "x86_64", "nix_system": "x86_64-linux",
                "is_wsl": false, "docker_arch": "linux/amd64", "cpu_model": null, "cores": 2,
                "physical_cores": null, "memory_bytes": null, "kernel": null,
                "virtualization": null, "container": null, "hostname": null,
                "measurement": {"method": "wait4", "note": null}, "sampler": null, "env": {},
                "docker": null, "docker_monitor": null}
        });
        let mut summary: Summary = serde_json::from_value(v).unwrap();
        summary.steps = vec![
            step("kind-create", None, &[12_345.0, 12_800.5, 13_001.0], 0),
            step("cni", Some("kind-create"), &[850.25, 900.0, 870.0], 0),
            step("flaky", None, &[0.0123], 2),
            step("never-ok", None, &[], 3),
        ];
        // A cgroup measured this one's whole tree.
        summary.steps[0].cgroup_memory_peak_bytes = summarize(&[210.7 * 1048576.0]);
        insta::assert_snapshot!(render(&summary));
    }
}
