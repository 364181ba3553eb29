//! A receipt in Bencher Metric Format (BMF) JSON, for `bencher run --adapter json`: per
//! benchmark (a step, a step's phase) its measures, each the mean with its 95% interval.
//! Times are `latency` in nanoseconds, Bencher's built-in measure; the others are named
//! by slug in their own unit (bytes, a metric's unit). A load scenario is a benchmark
//! `SUITE::load::ID` with its `throughput` (operations per second, Bencher's built-in
//! higher-is-better measure: the mean over runs with its interval), and each of its
//! phases `SUITE::load::ID::PHASE` its `latency`: the p95 over every run's operations,
//! bounded by the lowest and highest run's p95. Pure.

use serde_json::{Map, Value, json};

use crate::stats::Stats;

/// `--format bmf`.
#[derive(Debug)]
pub struct Exporter;

impl super::Exporter for Exporter {
    fn receipts(&self, receipts: &[super::Receipt]) -> Vec<u8> {
        super::json(&render(&receipts[0].summary))
    }
}

/// `{value, lower_value, upper_value}`: the mean and its 95% interval, scaled; the
/// interval not below zero for a measure that never is (CPU time, bytes).
fn metric(s: &Stats, scale: f64) -> Value {
    let mut m = Map::new();
    m.insert("value".into(), json!(s.mean * scale));
    if let (Some(lo), Some(hi)) = (s.ci95_low, s.ci95_high) {
        let lo = if s.min >= 0.0 { lo.max(0.0) } else { lo };
        m.insert("lower_value".into(), json!(lo * scale));
        m.insert("upper_value".into(), json!(hi * scale));
    }
    Value::Object(m)
}

/// A measure's slug: lowercase letters, digits and dashes.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

pub fn render(s: &crate::receipt::Summary) -> Value {
    const NS_PER_MS: f64 = 1e6;
    let mut benches = Map::new();
    for st in &s.steps {
        let key = crate::compare::step_key(st);
        let mut measures = Map::new();
        let mut put = |name: &str, stats: Option<&Stats>, scale: f64| {
            if let Some(stats) = stats {
                measures.insert(name.to_owned(), metric(stats, scale));
            }
        };
        put("latency", st.wall_ms.as_ref(), NS_PER_MS);
        put("cpu-user-time", st.cpu_user_ms.as_ref(), NS_PER_MS);
        put("cpu-system-time", st.cpu_sys_ms.as_ref(), NS_PER_MS);
        put("peak-rss", st.peak_rss_bytes.as_ref(), 1.0);
        put("memory-peak", st.cgroup_memory_peak_bytes.as_ref(), 1.0);
        for (name, m) in &st.metrics {
            put(&slug(name), Some(&m.stats), 1.0);
        }
        if !measures.is_empty() {
            benches.insert(format!("{}::{key}", s.suite.name), Value::Object(measures));
        }
        for p in &st.phases {
            benches.insert(
                format!("{}::{key}::{}", s.suite.name, p.name),
                json!({ "latency": metric(&p.duration_ms, NS_PER_MS) }),
            );
        }
    }
    for l in &s.load {
        let key = format!("{}::load::{}", s.suite.name, l.id);
        if let Some(t) = &l.throughput_per_s {
            benches.insert(key.clone(), json!({ "throughput": metric(t, 1.0) }));
        }
        for p in &l.phases {
            // Whole nanoseconds: the histograms keep microseconds.
            let ns = |v: f64| (v * NS_PER_MS).round();
            let mut m = Map::new();
            m.insert("value".into(), json!(ns(p.latency.p95_ms)));
            if p.p95_ms.n > 1 {
                m.insert("lower_value".into(), json!(ns(p.p95_ms.min)));
                m.insert("upper_value".into(), json!(ns(p.p95_ms.max)));
            }
            benches.insert(
                format!("{key}::{}", p.name),
                json!({ "latency": Value::Object(m) }),
            );
        }
    }
    Value::Object(benches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bmf_snapshot() {
        insta::assert_json_snapshot!(render(&crate::report::fixture::receipt().summary));
    }

    #[test]
    fn load_bmf_snapshot() {
        insta::assert_json_snapshot!(render(&crate::report::fixture::load_receipt().summary));
    }

    #[test]
    fn slugs_are_lowercase_and_dashed() {
        assert_eq!(slug("Display MiB/s"), "display-mib-s");
    }
}
