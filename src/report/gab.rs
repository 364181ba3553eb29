//! A receipt as github-action-benchmark input: the `customSmallerIsBetter` array (times,
//! CPU, memory, and metrics where lower is better) or the `customBiggerIsBetter` array
//! (rate metrics: MiB/s, ops/s). Each entry is a measure's mean, `± stddev` as its range,
//! and the median, interval and n in `extra`. A load scenario gives each phase's p95 over
//! every run's operations (smaller is better; p50, p99, max and the count in `extra`) and
//! its throughput (bigger is better, over runs like a step's measures). Pure.

use serde_json::{Value, json};

use crate::format::num;
use crate::stats::compare::Direction;

/// `--format gab` (smaller is better) and `--format gab-bigger`.
#[derive(Debug)]
pub struct Exporter(pub Direction);

impl super::Exporter for Exporter {
    fn receipts(&self, receipts: &[super::Receipt]) -> Vec<u8> {
        super::json(&render(&receipts[0].summary, self.0))
    }
}

pub fn render(s: &crate::receipt::Summary, direction: Direction) -> Value {
    let mut out = Vec::new();
    for st in &s.steps {
        let key = crate::compare::step_key(st);
        for m in crate::compare::measures_of(st) {
            if m.direction != direction {
                continue;
            }
            let x = m.stats;
            let unit = m.unit.clone().unwrap_or_default();
            let mut entry = json!({
                "name": format!("{} {key} {}", s.suite.name, m.name),
                "unit": unit,
                "value": x.mean,
            });
            if let Some(sd) = x.stddev {
                entry["range"] = json!(format!("± {}", num(sd)));
            }
            let interval = match (x.ci95_low, x.ci95_high) {
                (Some(l), Some(h)) => format!(", 95% CI of mean {} – {}", num(l), num(h)),
                _ => String::new(),
            };
            entry["extra"] = json!(format!(
                "median {} {unit}, n={}{interval}",
                num(x.median),
                x.n
            ));
            out.push(entry);
        }
    }
    for l in &s.load {
        let name = format!("{} load {}", s.suite.name, l.id);
        match direction {
            Direction::LowerIsBetter => {
                for p in &l.phases {
                    let x = &p.latency;
                    out.push(json!({
                        "name": format!("{name} {} p95", p.name),
                        "unit": "ms",
                        "value": x.p95_ms,
                        "extra": format!(
                            "p50 {} ms, p99 {} ms, max {} ms, n={} operations over {} run(s)",
                            num(x.p50_ms),
                            num(x.p99_ms),
                            num(x.max_ms),
                            x.count,
                            l.runs
                        ),
                    }));
                }
            }
            Direction::HigherIsBetter => {
                if let Some(x) = &l.throughput_per_s {
                    let mut entry = json!({
                        "name": format!("{name} throughput"),
                        "unit": "ops/s",
                        "value": x.mean,
                        "extra": format!(
                            "median {} ops/s, n={} run(s), {} of {} operations failed",
                            num(x.median),
                            x.n,
                            l.failed,
                            l.ops
                        ),
                    });
                    if let Some(sd) = x.stddev {
                        entry["range"] = json!(format!("± {}", num(sd)));
                    }
                    out.push(entry);
                }
            }
        }
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gab_snapshot() {
        let s = crate::report::fixture::receipt().summary;
        insta::assert_json_snapshot!("smaller", render(&s, Direction::LowerIsBetter));
        insta::assert_json_snapshot!("bigger", render(&s, Direction::HigherIsBetter));
    }

    #[test]
    fn load_gab_snapshot() {
        let s = crate::report::fixture::load_receipt().summary;
        insta::assert_json_snapshot!("load_smaller", render(&s, Direction::LowerIsBetter));
        insta::assert_json_snapshot!("load_bigger", render(&s, Direction::HigherIsBetter));
    }
}
