//! What every reporter says of a load scenario (`[[load]]`): its arrival, failures,
//! throughput and capacity in words and numbers, and its rows for the console and
//! Markdown tables. Pure; the load types stay in `crate::load`.

use crate::format::{ms, num};
use crate::load::{LoadPhaseSummary, LoadSummary, Model};

/// `closed` or `open 150/s`.
pub(crate) fn arrival(l: &LoadSummary) -> String {
    match (l.model, l.rate_per_s) {
        (Model::Open, Some(r)) => format!("open {}/s", num(r)),
        (Model::Open, None) => "open".to_owned(),
        (Model::Closed, _) => "closed".to_owned(),
    }
}

/// `0`, or `3 (exit:3 ×2, timeout ×1)`.
pub(crate) fn failed(l: &LoadSummary) -> String {
    if l.failed == 0 {
        return "0".to_owned();
    }
    format!("{} ({})", l.failed, causes(l))
}

/// `exit:3 ×2, timeout ×1`, as the run's warnings and progress lines say it.
pub(crate) fn causes(l: &LoadSummary) -> String {
    l.failures
        .iter()
        .map(|(c, n)| format!("{c} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Successful operations per second, the median over runs.
pub(crate) fn throughput(l: &LoadSummary) -> Option<f64> {
    l.throughput_per_s.as_ref().map(|t| t.median)
}

/// Time every slot was busy, the median over runs, milliseconds.
pub(crate) fn at_capacity_ms(l: &LoadSummary) -> Option<f64> {
    l.at_capacity_ms.as_ref().map(|t| t.median)
}

/// Whether operations waited for a slot: a backlog formed, or every slot was busy for a
/// while (a closed loop with more operations than workers always is).
pub(crate) fn queued_at_capacity(l: &LoadSummary) -> bool {
    at_capacity_ms(l).is_some_and(|t| t > 0.0) || l.backlog_max.is_some_and(|b| b > 0)
}

/// The columns of [`rows`].
pub(crate) const HEADER: [&str; 13] = [
    "load",
    "arrival",
    "ops",
    "failed",
    "throughput",
    "phase",
    "p50",
    "p95",
    "p99",
    "max",
    "max in flight",
    "backlog max",
    "start lag p99",
];

/// One row per phase of each scenario; the scenario's own cells on its first row only.
/// Latencies are over every run's operations; throughput is the median over runs.
pub(crate) fn rows(l: &LoadSummary, label: &str) -> Vec<Vec<String>> {
    let dash = || "—".to_owned();
    let head = vec![
        label.to_owned(),
        arrival(l),
        l.ops.to_string(),
        failed(l),
        throughput(l).map_or_else(dash, |t| format!("{}/s", num(t))),
    ];
    let tail = vec![
        format!("{} of {}", l.max_in_flight, l.concurrency),
        l.backlog_max.map_or_else(dash, |b| b.to_string()),
        l.start_lag.as_ref().map_or_else(dash, |s| ms(s.p99_ms)),
    ];
    let phase = |p: Option<&LoadPhaseSummary>| -> Vec<String> {
        match p {
            Some(p) => vec![
                p.name.clone(),
                ms(p.latency.p50_ms),
                ms(p.latency.p95_ms),
                ms(p.latency.p99_ms),
                ms(p.latency.max_ms),
            ],
            None => vec![
                crate::load::COMPLETE.to_owned(),
                dash(),
                dash(),
                dash(),
                dash(),
            ],
        }
    };
    if l.phases.is_empty() {
        // No operation succeeded: nothing timed.
        return vec![[head, phase(None), tail].concat()];
    }
    l.phases
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i == 0 {
                [head.clone(), phase(Some(p)), tail.clone()].concat()
            } else {
                let blank = |n: usize| vec![String::new(); n];
                [blank(head.len()), phase(Some(p)), blank(tail.len())].concat()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_reads_in_words() {
        let s = crate::report::fixture::load_receipt().summary;
        let (closed, open) = (&s.load[0], &s.load[1]);
        assert_eq!(arrival(closed), "closed");
        assert_eq!(arrival(open), "open 150/s");
        assert_eq!(failed(closed), "3 (exit:3 ×3)");
        assert_eq!(failed(open), "0");
        assert!(queued_at_capacity(open) && open.backlog_max == Some(30));
        assert_eq!(closed.phases.last().map(|p| p.latency.count), Some(297));
        // A row per phase; the scenario's cells once.
        let r = rows(closed, "create-runs");
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|row| row.len() == HEADER.len()));
        assert_eq!(r[1][0], "");
        assert_eq!(r[2][5], "complete");
    }
}
