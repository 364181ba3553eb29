//! A receipt as CSV (RFC 4180): one row per step and measure, its statistics in columns,
//! numbers in the measure's own unit, unrounded. A load scenario's rows follow, its id in
//! the `step` column and measures named as its gates name them: `load.PHASE` (latency
//! over every run's operations: `n` the operations timed, `median` their p50; no
//! interval), `load.start_lag` (open loop), `load.throughput` and `load.at_capacity`
//! (one sample per run); `failures` is its failed operations. Pure.

use crate::stats::Stats;

/// `--format csv`.
#[derive(Debug)]
pub struct Exporter;

const HEADER: &str = "suite,step,parent,measure,unit,n,mean,median,min,max,stddev,cv,p50,p90,p95,p99,ci95_low,ci95_high,failures";

impl super::Exporter for Exporter {
    fn receipts(&self, receipts: &[super::Receipt]) -> Vec<u8> {
        let s = &receipts[0].summary;
        let mut out = format!("{HEADER}\n");
        for step in &s.steps {
            for m in crate::compare::measures_of(step) {
                let row = [
                    field(&s.suite.name),
                    field(&step.id),
                    field(step.parent.as_deref().unwrap_or("")),
                    field(&m.name),
                    field(m.unit.as_deref().unwrap_or("")),
                    stats(m.stats),
                    step.failures.to_string(),
                ];
                out.push_str(&row.join(","));
                out.push('\n');
            }
        }
        for l in &s.load {
            let row = |measure: &str, unit: &str, stats: String| {
                [
                    field(&s.suite.name),
                    field(&l.id),
                    String::new(),
                    field(measure),
                    field(unit),
                    stats,
                    l.failed.to_string(),
                ]
                .join(",")
            };
            let lags = l.start_lag.iter().map(|x| ("start_lag", x));
            for (name, x) in l
                .phases
                .iter()
                .map(|p| (p.name.as_str(), &p.latency))
                .chain(lags)
            {
                out.push_str(&row(&format!("load.{name}"), "ms", latency(x)));
                out.push('\n');
            }
            if let Some(t) = &l.throughput_per_s {
                out.push_str(&row("load.throughput", "ops/s", stats(t)));
                out.push('\n');
            }
            if let Some(t) = &l.at_capacity_ms {
                out.push_str(&row("load.at_capacity", "ms", stats(t)));
                out.push('\n');
            }
        }
        out.into_bytes()
    }

    fn comparison(&self, r: &crate::compare::Report) -> Option<Vec<u8>> {
        let mut out = String::from(
            "step,measure,unit,direction,base_median,new_median,change_pct,ci95_low_pct,ci95_high_pct,p_mann_whitney,p_welch,q,noise_band_pct,verdict\n",
        );
        for m in &r.measures {
            let row = [
                field(&m.step),
                field(&m.measure),
                field(m.unit.as_deref().unwrap_or("")),
                match m.direction {
                    crate::stats::compare::Direction::LowerIsBetter => "lower_is_better",
                    crate::stats::compare::Direction::HigherIsBetter => "higher_is_better",
                }
                .to_owned(),
                opt(m.base.as_ref().map(|s| s.median)),
                opt(m.new.as_ref().map(|s| s.median)),
                opt(m.change_pct),
                opt(m.ci95_low_pct),
                opt(m.ci95_high_pct),
                opt(m.p_mann_whitney),
                opt(m.p_welch),
                opt(m.q),
                m.noise_band_pct.to_string(),
                m.verdict.as_str().to_owned(),
            ];
            out.push_str(&row.join(","));
            out.push('\n');
        }
        Some(out.into_bytes())
    }
}

/// Quoted when it holds a comma, a quote or a line break; quotes doubled.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn stats(s: &Stats) -> String {
    [
        s.n.to_string(),
        s.mean.to_string(),
        s.median.to_string(),
        s.min.to_string(),
        s.max.to_string(),
        opt(s.stddev),
        opt(s.cv),
        s.p50.to_string(),
        s.p90.to_string(),
        s.p95.to_string(),
        s.p99.to_string(),
        opt(s.ci95_low),
        opt(s.ci95_high),
    ]
    .join(",")
}

/// A latency distribution in the columns of [`stats`]: the median is its p50, and it has
/// no interval of a mean.
fn latency(x: &crate::load::LatencyStats) -> String {
    let cv = (x.mean_ms != 0.0).then(|| x.stddev_ms / x.mean_ms);
    [
        x.count.to_string(),
        x.mean_ms.to_string(),
        x.p50_ms.to_string(),
        x.min_ms.to_string(),
        x.max_ms.to_string(),
        x.stddev_ms.to_string(),
        opt(cv),
        x.p50_ms.to_string(),
        x.p90_ms.to_string(),
        x.p95_ms.to_string(),
        x.p99_ms.to_string(),
        String::new(),
        String::new(),
    ]
    .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Exporter as _;

    #[test]
    fn csv_snapshot() {
        let out = Exporter.receipts(&[crate::report::fixture::receipt()]);
        let text = String::from_utf8(out).unwrap();
        let columns = HEADER.split(',').count();
        for line in text.lines() {
            assert_eq!(line.split(',').count(), columns, "{line}");
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn load_csv_snapshot() {
        let out = Exporter.receipts(&[crate::report::fixture::load_receipt()]);
        let text = String::from_utf8(out).unwrap();
        let columns = HEADER.split(',').count();
        for line in text.lines() {
            assert_eq!(line.split(',').count(), columns, "{line}");
        }
        assert!(
            text.contains("\napi,create-runs,,load.complete,ms,297,"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn fields_are_quoted_when_they_must_be() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("plain"), "plain");
    }
}
