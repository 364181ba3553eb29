//! A receipt as OpenMetrics text, readable by Prometheus' text parser too, so that
//! `promtool check metrics` accepts it and node_exporter's textfile collector can serve
//! it (no timestamps, one family per name, `# EOF` last). Base units only: seconds, not
//! milliseconds; bytes; ratios, not percentages. Each measure is a summary with the
//! receipt's quantiles, `_sum` and `_count`. A load scenario's latency is a summary per
//! phase (`benchmark_load_latency_seconds`, quantiles over every run's operations), its
//! throughput, operations and failures by cause gauges (values of one receipt, not
//! counters that only grow: promtool would also refuse a counter's `_total` sample under
//! its OpenMetrics family name). Pure.

use std::fmt::Write as _;

use crate::stats::Stats;
use crate::verdict::quantity::{Dimension, Unit};
use crate::verdict::slo::{GateStatus, Severity};

/// `--format openmetrics`.
#[derive(Debug)]
pub struct Exporter;

impl super::Exporter for Exporter {
    fn receipts(&self, receipts: &[super::Receipt]) -> Vec<u8> {
        render(&receipts[0].summary).into_bytes()
    }
}

/// A label value, escaped as both formats require.
fn label(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A sample value: Rust's shortest round-trip form, which never uses an exponent.
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// One metric family being written: its header once, then its samples.
struct Family {
    name: String,
    kind: &'static str,
    help: String,
    unit: Option<&'static str>,
    samples: Vec<String>,
}

impl Family {
    fn new(name: &str, kind: &'static str, unit: Option<&'static str>, help: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            help: help.to_owned(),
            unit,
            samples: Vec::new(),
        }
    }

    fn gauge(&mut self, pairs: &[(&str, &str)], v: f64) {
        self.samples
            .push(format!("{}{} {}", self.name, labels(pairs), value(v)));
    }

    /// A summary of `stats`, scaled to the base unit by `scale`.
    fn summary(&mut self, pairs: &[(&str, &str)], s: &Stats, scale: f64) {
        for (q, v) in [
            ("0.5", s.p50),
            ("0.9", s.p90),
            ("0.95", s.p95),
            ("0.99", s.p99),
        ] {
            let mut with = pairs.to_vec();
            with.push(("quantile", q));
            self.samples.push(format!(
                "{}{} {}",
                self.name,
                labels(&with),
                value(v * scale)
            ));
        }
        let sum = if s.samples.is_empty() {
            s.mean * s.n as f64
        } else {
            s.samples.iter().sum()
        };
        self.samples.push(format!(
            "{}_sum{} {}",
            self.name,
            labels(pairs),
            value(sum * scale)
        ));
        self.samples
            .push(format!("{}_count{} {}", self.name, labels(pairs), s.n));
    }

    /// A summary of a load phase's latency (milliseconds) in seconds, with its tail.
    fn latency(&mut self, pairs: &[(&str, &str)], x: &crate::load::LatencyStats) {
        const S: f64 = 1e-3;
        for (q, v) in [
            ("0.5", x.p50_ms),
            ("0.9", x.p90_ms),
            ("0.95", x.p95_ms),
            ("0.99", x.p99_ms),
            ("0.999", x.p999_ms),
        ] {
            let mut with = pairs.to_vec();
            with.push(("quantile", q));
            self.samples
                .push(format!("{}{} {}", self.name, labels(&with), value(v * S)));
        }
        self.samples.push(format!(
            "{}_sum{} {}",
            self.name,
            labels(pairs),
            value(x.mean_ms * x.count as f64 * S)
        ));
        self.samples
            .push(format!("{}_count{} {}", self.name, labels(pairs), x.count));
    }

    fn write(&self, out: &mut String) {
        if self.samples.is_empty() {
            return;
        }
        let help = self.help.replace('\\', r"\\").replace('\n', r"\n");
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        if let Some(u) = self.unit {
            let _ = writeln!(out, "# UNIT {} {u}", self.name);
        }
        let _ = writeln!(out, "# HELP {} {help}", self.name);
        for s in &self.samples {
            out.push_str(s);
            out.push('\n');
        }
    }
}

/// A value in `unit` as `(factor to the base unit, the base unit's name suffix)`.
fn base(unit: Option<&str>) -> (f64, &'static str) {
    let Some(u) = unit.and_then(Unit::parse) else {
        return (1.0, "");
    };
    match u.dimension {
        Dimension::Time => (u.to_base / 1000.0, "seconds"),
        Dimension::Bytes => (u.to_base, "bytes"),
        Dimension::Rate => (u.to_base, "per_second"),
        Dimension::ByteRate => (u.to_base, "bytes_per_second"),
        Dimension::Ratio => (u.to_base, if u.symbol == "%" { "ratio" } else { "" }),
    }
}

/// Seconds since the epoch of an ISO 8601 timestamp.
pub(crate) fn epoch(iso: &str) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(iso.trim_end_matches('Z'))
        .or_else(|_| humantime::parse_rfc3339(iso))
        .ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}

/// The OpenMetrics text of one summary.
pub fn render(s: &crate::receipt::Summary) -> String {
    let suite = s.suite.name.as_str();
    let e = &s.environment;
    let mut info = Family::new(
        "benchmark_info",
        "gauge",
        None,
        "The receipt's suite, harness and environment, as labels (value 1).",
    );
    info.gauge(
        &[
            ("suite", suite),
            ("version", &s.tool.version),
            ("os", &e.os),
            ("arch", &e.arch),
            ("nix_system", &e.nix_system),
            ("cpu_model", e.cpu_model.as_deref().unwrap_or("")),
            ("kernel", e.kernel.as_deref().unwrap_or("")),
            ("measurement", &e.measurement.method),
        ],
        1.0,
    );
    let mut finished = Family::new(
        "benchmark_finished_timestamp_seconds",
        "gauge",
        Some("seconds"),
        "When the invocation finished, seconds since the Unix epoch.",
    );
    if let Some(t) = epoch(&s.finished_at) {
        finished.gauge(&[("suite", suite)], t);
    }
    let mut runs = Family::new("benchmark_runs", "gauge", None, "Measured runs completed.");
    runs.gauge(&[("suite", suite)], f64::from(s.runs));
    let failed_gate = s.slos.iter().any(|g| g.fails_the_run());
    let mut success = Family::new(
        "benchmark_success",
        "gauge",
        None,
        "1 when every step succeeded and no gate of severity fail failed, else 0.",
    );
    success.gauge(
        &[("suite", suite)],
        if s.status == crate::receipt::Status::Ok && !failed_gate {
            1.0
        } else {
            0.0
        },
    );

    let mut wall = Family::new(
        "benchmark_step_wall_seconds",
        "summary",
        Some("seconds"),
        "Wall time of a step per successful run.",
    );
    let mut user = Family::new(
        "benchmark_step_cpu_user_seconds",
        "summary",
        Some("seconds"),
        "User CPU time of a step's process tree per run.",
    );
    let mut sys = Family::new(
        "benchmark_step_cpu_system_seconds",
        "summary",
        Some("seconds"),
        "System CPU time of a step's process tree per run.",
    );
    let mut rss = Family::new(
        "benchmark_step_peak_rss_bytes",
        "summary",
        Some("bytes"),
        "Largest resident set of a single process of the step per run.",
    );
    let mut tree = Family::new(
        "benchmark_step_memory_peak_bytes",
        "summary",
        Some("bytes"),
        "Peak memory of the step's whole process tree (its cgroup) per run.",
    );
    let mut phase = Family::new(
        "benchmark_step_phase_seconds",
        "summary",
        Some("seconds"),
        "Duration of a phase of a step per run.",
    );
    let mut failures = Family::new(
        "benchmark_step_failures",
        "gauge",
        None,
        "Runs in which the step failed or timed out.",
    );
    let mut metrics: Vec<Family> = Vec::new();
    for st in &s.steps {
        let key = crate::compare::step_key(st);
        let l = [("suite", suite), ("step", key.as_str())];
        let ms = 1e-3;
        if let Some(w) = &st.wall_ms {
            wall.summary(&l, w, ms);
        }
        if let Some(c) = &st.cpu_user_ms {
            user.summary(&l, c, ms);
        }
        if let Some(c) = &st.cpu_sys_ms {
            sys.summary(&l, c, ms);
        }
        if let Some(b) = &st.peak_rss_bytes {
            rss.summary(&l, b, 1.0);
        }
        if let Some(b) = &st.cgroup_memory_peak_bytes {
            tree.summary(&l, b, 1.0);
        }
        for p in &st.phases {
            phase.summary(
                &[("suite", suite), ("step", &key), ("phase", &p.name)],
                &p.duration_ms,
                ms,
            );
        }
        failures.gauge(&l, f64::from(st.failures));
        for (name, m) in &st.metrics {
            let (factor, suffix) = base(m.unit.as_deref());
            let family = if suffix.is_empty() {
                "benchmark_step_metric".to_owned()
            } else {
                format!("benchmark_step_metric_{suffix}")
            };
            let f = match metrics.iter_mut().position(|f| f.name == family) {
                Some(i) => &mut metrics[i],
                None => {
                    let unit = match suffix {
                        "seconds" => Some("seconds"),
                        "bytes" => Some("bytes"),
                        "ratio" => Some("ratio"),
                        _ => None,
                    };
                    metrics.push(Family::new(
                        &family,
                        "summary",
                        unit,
                        &if suffix.is_empty() {
                            "A custom metric of a step (::bench:: metric), in its own unit (label unit).".to_owned()
                        } else {
                            format!(
                                "A custom metric of a step (::bench:: metric), converted to {}.",
                                suffix.replace('_', " ")
                            )
                        },
                    ));
                    metrics.last_mut().expect("just pushed")
                }
            };
            let unit = m.unit.as_deref().unwrap_or("");
            if suffix.is_empty() {
                f.summary(
                    &[
                        ("suite", suite),
                        ("step", &key),
                        ("metric", name),
                        ("unit", unit),
                    ],
                    &m.stats,
                    factor,
                );
            } else {
                f.summary(
                    &[("suite", suite), ("step", &key), ("metric", name)],
                    &m.stats,
                    factor,
                );
            }
        }
    }

    let mut passed = Family::new(
        "benchmark_slo_passed",
        "gauge",
        None,
        "1 when the gate passed, 0 when it failed; absent when not measured or inconclusive.",
    );
    let mut margin = Family::new(
        "benchmark_slo_margin_ratio",
        "gauge",
        Some("ratio"),
        "Headroom of a gate as a fraction of its threshold: positive passes.",
    );
    let mut observed = Family::new(
        "benchmark_slo_observed",
        "gauge",
        None,
        "The statistic a gate judged, in base units (label unit).",
    );
    let mut threshold = Family::new(
        "benchmark_slo_threshold",
        "gauge",
        None,
        "A gate's threshold, in base units (label unit).",
    );
    for g in &s.slos {
        let severity = match g.severity {
            Severity::Fail => "fail",
            Severity::Warn => "warn",
        };
        let l = [
            ("suite", suite),
            ("slo", g.name.as_str()),
            ("severity", severity),
        ];
        match g.status {
            GateStatus::Pass => passed.gauge(&l, 1.0),
            GateStatus::Fail => passed.gauge(&l, 0.0),
            _ => {}
        }
        if let Some(m) = g.margin_pct {
            margin.gauge(&l, m / 100.0);
        }
        let (factor, suffix) = base(g.unit.as_deref());
        let unit = if suffix.is_empty() {
            g.unit.as_deref().unwrap_or("")
        } else {
            suffix
        };
        let lu = [("suite", suite), ("slo", g.name.as_str()), ("unit", unit)];
        if let Some(o) = g.observed {
            observed.gauge(&lu, o * factor);
        }
        threshold.gauge(&lu, g.threshold * factor);
    }

    let mut warnings = Family::new(
        "benchmark_warnings",
        "gauge",
        None,
        "Warnings in the receipt, by code.",
    );
    let mut codes: std::collections::BTreeMap<String, usize> = Default::default();
    for w in &s.warnings {
        let code = serde_json::to_value(w.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        *codes.entry(code).or_default() += 1;
    }
    for (code, n) in &codes {
        warnings.gauge(&[("suite", suite), ("code", code)], *n as f64);
    }

    let load = load(s);
    let mut out = String::new();
    for f in [
        &info, &finished, &runs, &success, &wall, &user, &sys, &rss, &tree, &phase, &failures,
    ]
    .into_iter()
    .chain(metrics.iter())
    .chain(load.iter())
    .chain([&passed, &margin, &observed, &threshold, &warnings])
    {
        f.write(&mut out);
    }
    out.push_str("# EOF\n");
    out
}

/// The load scenarios' families; none without load scenarios.
fn load(s: &crate::receipt::Summary) -> Vec<Family> {
    let suite = s.suite.name.as_str();
    let mut latency = Family::new(
        "benchmark_load_latency_seconds",
        "summary",
        Some("seconds"),
        "Latency of a load scenario's successful operations from their start to a phase (complete: their end), over every run's operations.",
    );
    let mut start_lag = Family::new(
        "benchmark_load_start_lag_seconds",
        "summary",
        Some("seconds"),
        "Open loop: how late a load scenario's operations started after they were due.",
    );
    let mut throughput = Family::new(
        "benchmark_load_throughput",
        "gauge",
        None,
        "Successful operations per second of a load scenario, the median over runs.",
    );
    let mut operations = Family::new(
        "benchmark_load_operations",
        "gauge",
        None,
        "Measured operations of a load scenario over every run, by outcome.",
    );
    let mut failures = Family::new(
        "benchmark_load_failures",
        "gauge",
        None,
        "Failed operations of a load scenario over every run, by cause (exit:N, signal:N, timeout, spawn, http:NNN, connect, io).",
    );
    let mut in_flight = Family::new(
        "benchmark_load_max_in_flight",
        "gauge",
        None,
        "Most operations of a load scenario in flight at once.",
    );
    let mut capacity = Family::new(
        "benchmark_load_concurrency",
        "gauge",
        None,
        "Most operations a load scenario allows in flight at once.",
    );
    let mut backlog = Family::new(
        "benchmark_load_backlog_max",
        "gauge",
        None,
        "Open loop: most operations of a load scenario due but not yet started at once.",
    );
    for l in &s.load {
        let l_ = [("suite", suite), ("scenario", l.id.as_str())];
        for p in &l.phases {
            latency.latency(
                &[("suite", suite), ("scenario", &l.id), ("phase", &p.name)],
                &p.latency,
            );
        }
        if let Some(x) = &l.start_lag {
            start_lag.latency(&l_, x);
        }
        if let Some(t) = super::load::throughput(l) {
            throughput.gauge(&l_, t);
        }
        for (outcome, n) in [("succeeded", l.succeeded), ("failed", l.failed)] {
            operations.gauge(
                &[("suite", suite), ("scenario", &l.id), ("outcome", outcome)],
                n as f64,
            );
        }
        for (cause, n) in &l.failures {
            failures.gauge(
                &[("suite", suite), ("scenario", &l.id), ("cause", cause)],
                *n as f64,
            );
        }
        in_flight.gauge(&l_, l.max_in_flight as f64);
        capacity.gauge(&l_, f64::from(l.concurrency));
        if let Some(b) = l.backlog_max {
            backlog.gauge(&l_, b as f64);
        }
    }
    vec![
        latency, start_lag, throughput, operations, failures, in_flight, capacity, backlog,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_snapshot() {
        insta::assert_snapshot!(render(&crate::report::fixture::receipt().summary));
    }

    #[test]
    fn load_openmetrics_snapshot() {
        insta::assert_snapshot!(render(&crate::report::fixture::load_receipt().summary));
    }

    #[test]
    fn units_become_base_units() {
        assert_eq!(base(Some("ms")), (1e-3, "seconds"));
        assert_eq!(base(Some("MiB/s")), (1_048_576.0, "bytes_per_second"));
        assert_eq!(base(Some("%")).1, "ratio");
        assert_eq!(base(Some("widgets")), (1.0, ""));
        assert_eq!(label("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
    }

    #[test]
    fn timestamps_are_seconds_since_the_epoch() {
        assert_eq!(epoch("1970-01-01T00:01:00.500000Z"), Some(60.5));
    }
}
