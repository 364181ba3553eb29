//! A receipt's load scenarios in the shape of the kruntimes load report: one JSON
//! document, `{"scenarios": [...]}`, each scenario with its operations, concurrency,
//! latency per phase (`schedule` and `dispatch` when the operation reports them,
//! `complete` always, with a count of 0 and null values when no operation succeeded),
//! throughput, capacity and failures; camelCase keys, milliseconds.
//! A receipt without `[[load]]` has nothing to export and is refused. Pure.
//!
//! ```json
//! {"scenarios": [{
//!   "name": "create-runs", "operations": 300, "concurrency": 4, "runs": 3,
//!   "model": "closed", "ratePerSecond": null,
//!   "latency": {"complete": {"count": 297, "minMs": 22.1, "p50Ms": 26.1, "p95Ms": 36.2, "maxMs": 44.5}},
//!   "throughput": {"opsPerSecond": 141.5, "perRun": [136.0, 147.0, 141.5]},
//!   "capacity": {"maxObserved": 4, "queuedAtCapacity": true, "atCapacityMs": 670.8, "backlogMax": null},
//!   "failures": {"count": 3, "byCause": {"exit:3": 3}, "samples": ["operation 7: exit:3: exited with 3"]}
//! }]}
//! ```
//!
//! Latencies are over every run's operations (their histograms merged); `opsPerSecond`
//! is the median of the runs' throughputs, `atCapacityMs` the median of their time with
//! every slot busy.

use serde_json::{Map, Value, json};

use crate::load::LoadSummary;

/// `--format kruntimes`.
#[derive(Debug)]
pub struct Exporter;

impl super::Exporter for Exporter {
    fn receipts(&self, receipts: &[super::Receipt]) -> Vec<u8> {
        super::json(&render(&receipts[0].summary))
    }

    fn refuse(&self, receipt: &super::Receipt) -> Option<super::ReportError> {
        receipt
            .summary
            .load
            .is_empty()
            .then(|| super::ReportError::NoLoad {
                format: super::Format::Kruntimes.name(),
                receipt: receipt.source.clone(),
            })
    }
}

pub fn render(s: &crate::receipt::Summary) -> Value {
    json!({ "scenarios": s.load.iter().map(scenario).collect::<Vec<_>>() })
}

fn scenario(l: &LoadSummary) -> Value {
    let mut latency = Map::new();
    for p in &l.phases {
        let x = &p.latency;
        latency.insert(
            p.name.clone(),
            json!({
                "count": x.count,
                "minMs": x.min_ms,
                "p50Ms": x.p50_ms,
                "p95Ms": x.p95_ms,
                "maxMs": x.max_ms,
            }),
        );
    }
    // `complete` always: with no successful operation, a count of 0 and no values.
    if !latency.contains_key(crate::load::COMPLETE) {
        latency.insert(
            crate::load::COMPLETE.to_owned(),
            json!({"count": 0, "minMs": null, "p50Ms": null, "p95Ms": null, "maxMs": null}),
        );
    }
    let per_run = l
        .throughput_per_s
        .as_ref()
        .map(|t| t.samples.clone())
        .unwrap_or_default();
    json!({
        "name": l.id,
        "operations": l.ops,
        "concurrency": l.concurrency,
        "runs": l.runs,
        "model": l.model,
        "ratePerSecond": l.rate_per_s,
        "latency": latency,
        "throughput": {
            "opsPerSecond": super::load::throughput(l),
            "perRun": per_run,
        },
        "capacity": {
            "maxObserved": l.max_in_flight,
            "queuedAtCapacity": super::load::queued_at_capacity(l),
            "atCapacityMs": super::load::at_capacity_ms(l),
            "backlogMax": l.backlog_max,
        },
        "failures": {
            "count": l.failed,
            "byCause": l.failures,
            "samples": l.failure_samples,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Exporter as _;

    #[test]
    fn kruntimes_snapshot() {
        insta::assert_json_snapshot!(render(&crate::report::fixture::load_receipt().summary));
    }

    #[test]
    fn every_phase_is_there() {
        let v = render(&crate::report::fixture::load_receipt().summary);
        let create = &v["scenarios"][0];
        let phases: Vec<&String> = create["latency"].as_object().unwrap().keys().collect();
        assert_eq!(phases, ["complete", "dispatch", "schedule"]);
        assert_eq!(v["scenarios"][1]["latency"].as_object().unwrap().len(), 1);
        assert_eq!(create["latency"]["complete"]["count"], 297);
        let poll = &v["scenarios"][1];
        assert_eq!(poll["capacity"]["queuedAtCapacity"], true);
        assert_eq!(poll["capacity"]["backlogMax"], 30);
        assert_eq!(poll["throughput"]["perRun"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn complete_is_there_when_nothing_succeeded() {
        let mut s = crate::report::fixture::load_receipt().summary;
        s.load[1].phases.clear();
        let v = render(&s);
        assert_eq!(
            v["scenarios"][1]["latency"],
            json!({"complete": {"count": 0, "minMs": null, "p50Ms": null, "p95Ms": null, "maxMs": null}})
        );
    }

    #[test]
    fn a_receipt_without_load_is_refused_by_name() {
        let r = crate::report::fixture::receipt();
        let e = Exporter.refuse(&r).expect("refused");
        assert_eq!(
            e.to_string(),
            "bench-out/perf.json has no [[load]] scenario: --format kruntimes exports load scenarios; run a suite with [[load]], or use another format"
        );
    }
}
