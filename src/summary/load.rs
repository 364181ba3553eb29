//! Load scenarios over the measured runs: each phase's histograms merged (exact: the
//! distribution of every run's operations together), each run's throughput and
//! percentiles as samples. Pure.

use std::collections::BTreeMap;

use crate::load::engine::MAX_FAILURE_SAMPLES;
use crate::load::{Latency, LoadPhaseSummary, LoadRecord, LoadSummary};
use crate::receipt::{RunReceipt, Warning, WarningCode};
use crate::stats::summarize;

/// Every scenario in the order it first ran; interrupted runs of it are left out.
pub fn summarize_loads(runs: &[RunReceipt]) -> (Vec<LoadSummary>, Vec<Warning>) {
    let mut order: Vec<&str> = Vec::new();
    for r in runs {
        for l in &r.load {
            if !order.contains(&l.id.as_str()) {
                order.push(&l.id);
            }
        }
    }
    let mut warnings = Vec::new();
    let summaries = order
        .into_iter()
        .filter_map(|id| {
            let records: Vec<(u32, &LoadRecord)> = runs
                .iter()
                .flat_map(|r| r.load.iter().map(move |l| (r.run, l)))
                .filter(|(_, l)| l.id == id && !l.interrupted)
                .collect();
            summarize_load(&records, &mut warnings)
        })
        .collect();
    (summaries, warnings)
}

/// One scenario's records, each with its run's number.
fn summarize_load(
    numbered: &[(u32, &LoadRecord)],
    warnings: &mut Vec<Warning>,
) -> Option<LoadSummary> {
    let records: Vec<&LoadRecord> = numbered.iter().map(|(_, r)| *r).collect();
    let first = *records.first()?;
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut failure_samples = Vec::new();
    for (run, r) in numbered {
        for (cause, n) in &r.failures {
            *failures.entry(cause.clone()).or_default() += n;
        }
        for s in &r.failure_samples {
            if failure_samples.len() < MAX_FAILURE_SAMPLES {
                failure_samples.push(format!("run {run}: {s}"));
            }
        }
    }
    // Phases in the order they first appeared, `complete` last.
    let mut names: Vec<&str> = Vec::new();
    for r in &records {
        for p in &r.phases {
            if !names.contains(&p.name.as_str()) {
                names.push(&p.name);
            }
        }
    }
    if let Some(i) = names.iter().position(|n| *n == crate::load::COMPLETE) {
        let c = names.remove(i);
        names.push(c);
    }
    let mut undecodable = false;
    let mut decode = |text: &str| match Latency::decode(text) {
        Ok(l) => Some(l),
        Err(_) => {
            undecodable = true;
            None
        }
    };
    let mut phases = Vec::new();
    for name in names {
        let mut merged = Latency::new();
        let (mut p50, mut p95, mut p99) = (Vec::new(), Vec::new(), Vec::new());
        for r in &records {
            let Some(p) = r.phases.iter().find(|p| p.name == name) else {
                continue;
            };
            if let Some(l) = decode(&p.histogram) {
                merged.merge(&l);
            }
            p50.push(p.latency.p50_ms);
            p95.push(p.latency.p95_ms);
            p99.push(p.latency.p99_ms);
        }
        let (Some(latency), Some(p50_ms), Some(p95_ms), Some(p99_ms)) = (
            merged.stats(),
            summarize(&p50),
            summarize(&p95),
            summarize(&p99),
        ) else {
            continue;
        };
        phases.push(LoadPhaseSummary {
            name: name.to_owned(),
            latency,
            histogram: merged.encode(),
            p50_ms,
            p95_ms,
            p99_ms,
        });
    }
    let mut lag = Latency::new();
    let mut any_lag = false;
    for r in &records {
        if let Some(l) = r.start_lag.as_ref().and_then(|p| decode(&p.histogram)) {
            lag.merge(&l);
            any_lag = true;
        }
    }
    if undecodable {
        warnings.push(Warning::new(
            WarningCode::Other,
            format!(
                "load scenario `{}`: a run receipt's histogram could not be read; its percentiles over all runs leave that run out",
                first.id
            ),
        ));
    }
    let throughput: Vec<f64> = records
        .iter()
        .filter(|r| r.elapsed_ms > 0.0)
        .map(|r| r.throughput_per_s)
        .collect();
    let at_capacity: Vec<f64> = records.iter().map(|r| r.at_capacity_ms).collect();
    Some(LoadSummary {
        id: first.id.clone(),
        name: first.name.clone(),
        operation: first.operation.clone(),
        model: first.model,
        concurrency: first.concurrency,
        rate_per_s: first.rate_per_s,
        runs: records.len() as u32,
        ops: records.iter().map(|r| r.ops).sum(),
        succeeded: records.iter().map(|r| r.succeeded).sum(),
        failed: records.iter().map(|r| r.failed).sum(),
        failures,
        failure_samples,
        throughput_per_s: summarize(&throughput),
        phases,
        max_in_flight: records.iter().map(|r| r.max_in_flight).max().unwrap_or(0),
        at_capacity_ms: summarize(&at_capacity),
        backlog_max: records.iter().filter_map(|r| r.backlog_max).max(),
        start_lag: if any_lag { lag.stats() } else { None },
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::{LoadPhase, Model};
    use crate::receipt::{SCHEMA_VERSION, Status};

    fn phase(name: &str, ms: &[u64]) -> LoadPhase {
        let mut l = Latency::new();
        for v in ms {
            l.record(Duration::from_millis(*v));
        }
        LoadPhase {
            name: name.into(),
            latency: l.stats().unwrap(),
            histogram: l.encode(),
        }
    }

    pub(crate) fn record(id: &str, complete: &[u64], failures: &[(&str, u64)]) -> LoadRecord {
        let failed: u64 = failures.iter().map(|(_, n)| n).sum();
        LoadRecord {
            id: id.into(),
            name: id.into(),
            operation: "command".into(),
            model: Model::Closed,
            concurrency: 2,
            rate_per_s: None,
            started_at: String::new(),
            finished_at: String::new(),
            interrupted: false,
            warmup_ops: 0,
            ops: complete.len() as u64 + failed,
            succeeded: complete.len() as u64,
            failed,
            elapsed_ms: 1000.0,
            throughput_per_s: complete.len() as f64,
            failures: failures
                .iter()
                .map(|(c, n)| ((*c).to_owned(), *n))
                .collect(),
            failure_samples: vec![format!("{id} failed")],
            max_in_flight: 2,
            at_capacity_ms: 900.0,
            backlog_max: None,
            start_lag: None,
            phases: vec![
                phase(
                    "schedule",
                    &complete.iter().map(|c| c / 2).collect::<Vec<_>>(),
                ),
                phase("complete", complete),
            ],
            timeline: vec![],
            cpu_user_ms: None,
            cpu_sys_ms: None,
            harness_cpu_ms: None,
            resources: Default::default(),
            containers: None,
        }
    }

    fn run(n: u32, load: Vec<LoadRecord>) -> RunReceipt {
        RunReceipt {
            schema_version: SCHEMA_VERSION,
            suite: "s".into(),
            run: n,
            mode: None,
            started_at: String::new(),
            finished_at: String::new(),
            status: Status::Ok,
            steps: vec![],
            load,
            warnings: vec![],
        }
    }

    #[test]
    fn runs_merge_into_one_distribution_per_phase() {
        let runs = [
            run(1, vec![record("a", &[10, 20, 30], &[("exit:1", 1)])]),
            run(
                2,
                vec![record("a", &[40, 50], &[("exit:1", 2), ("timeout", 1)])],
            ),
        ];
        let (s, w) = summarize_loads(&runs);
        assert!(w.is_empty());
        let a = &s[0];
        assert_eq!((a.runs, a.ops, a.succeeded, a.failed), (2, 9, 5, 4));
        assert_eq!(a.failures.get("exit:1"), Some(&3));
        assert_eq!(a.failures.get("timeout"), Some(&1));
        assert_eq!(a.failure_samples, ["run 1: a failed", "run 2: a failed"]);
        let names: Vec<&str> = a.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["schedule", "complete"]);
        let c = &a.phases[1];
        assert_eq!(c.latency.count, 5);
        assert!((c.latency.min_ms - 10.0).abs() < 0.02 && (c.latency.max_ms - 50.0).abs() < 0.06);
        assert!((c.latency.p50_ms - 30.0).abs() < 0.04, "{:?}", c.latency);
        assert_eq!(c.p95_ms.n, 2);
        assert_eq!(a.throughput_per_s.as_ref().unwrap().samples, [3.0, 2.0]);
        // The merged histogram is the union of the runs'.
        assert_eq!(Latency::decode(&c.histogram).unwrap().count(), 5);
    }

    #[test]
    fn interrupted_runs_and_unreadable_histograms() {
        let mut broken = record("a", &[10], &[]);
        broken.phases[1].histogram = "garbage".into();
        let mut interrupted = record("a", &[99_000], &[]);
        interrupted.interrupted = true;
        let runs = [
            run(1, vec![record("a", &[10, 20], &[]), record("b", &[1], &[])]),
            run(2, vec![broken]),
            run(3, vec![interrupted]),
        ];
        let (s, w) = summarize_loads(&runs);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].runs, 2);
        assert_eq!(s[0].phases[1].latency.count, 2);
        assert!(s[0].phases[1].latency.max_ms < 100.0);
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("could not be read"));
        assert_eq!(s[1].id, "b");
    }
}
