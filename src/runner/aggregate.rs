//! From measured runs to per-step statistics and variance warnings. Pure.

use std::collections::BTreeMap;

use crate::receipt::{
    ContainerStats, MetricSummary, PhaseSummary, ResourceStats, RunReceipt, Status, StepRecord,
    StepSummary,
};
use crate::stats::{self, Stats};

/// Coefficient of variation above which a measure is called noisy.
pub const HIGH_CV: f64 = 0.10;

/// Aggregate every step over the runs, in first-seen order. Failed samples are counted
/// in `failures` and kept out of the statistics.
pub fn summarize_steps(runs: &[RunReceipt]) -> (Vec<StepSummary>, Vec<String>) {
    // A step is known by its parent (for `benchmark step` records) and its id.
    type Key = (Option<String>, String);
    let mut order: Vec<Key> = Vec::new();
    let mut by_key: BTreeMap<Key, Vec<(u32, &StepRecord)>> = BTreeMap::new();
    for run in runs {
        for s in &run.steps {
            let key = (s.parent.clone(), s.id.clone());
            if !by_key.contains_key(&key) {
                order.push(key.clone());
            }
            by_key.entry(key).or_default().push((run.run, s));
        }
    }
    let mut warnings = Vec::new();
    let steps = order
        .into_iter()
        .map(|key| {
            let records = &by_key[&key];
            let summary = summarize_step(records);
            if !summary.outlier_runs.is_empty() {
                let runs: Vec<String> = summary.outlier_runs.iter().map(u32::to_string).collect();
                warnings.push(format!(
                    "step `{}`: run(s) {} are wall-time outliers (modified z-score > 3.5) — \
                     something else may have run at the same time",
                    summary.id,
                    runs.join(", ")
                ));
            }
            if let Some(w) = summary.wall_ms.as_ref()
                && stats::high_variance(w, HIGH_CV)
            {
                warnings.push(format!(
                    "step `{}`: wall time varies by {:.1}% (CV) over {} runs — treat its numbers as noisy; \
                     quiet the machine (see other warnings) or raise --runs",
                    summary.id,
                    w.cv.unwrap_or(0.0) * 100.0,
                    w.n
                ));
            }
            summary
        })
        .collect();
    (steps, warnings)
}

fn summarize_step(records: &[(u32, &StepRecord)]) -> StepSummary {
    let (_, first) = records[0];
    let ok: Vec<(u32, &StepRecord)> = records
        .iter()
        .copied()
        .filter(|(_, s)| s.status == Status::Ok)
        .collect();
    let of = |f: &dyn Fn(&StepRecord) -> Option<f64>| -> Option<Stats> {
        let v: Vec<f64> = ok.iter().filter_map(|(_, s)| f(s)).collect();
        stats::summarize(&v)
    };
    let wall: Vec<f64> = ok.iter().map(|(_, s)| s.wall_ms).collect();
    let outlier_runs = stats::outliers(&wall)
        .into_iter()
        .map(|i| ok[i].0)
        .collect();

    let mut metric_values: BTreeMap<&str, (Option<String>, Vec<f64>)> = BTreeMap::new();
    // Phases keep the order they first appeared in: (name, starts, durations).
    let mut phase_values: Vec<(&str, Vec<f64>, Vec<f64>)> = Vec::new();
    for (_, s) in &ok {
        for m in &s.metrics {
            let e = metric_values
                .entry(&m.name)
                .or_insert_with(|| (m.unit.clone(), Vec::new()));
            e.1.push(m.value);
        }
        for p in &s.phases {
            let i = match phase_values.iter().position(|(n, _, _)| *n == p.name) {
                Some(i) => i,
                None => {
                    phase_values.push((&p.name, Vec::new(), Vec::new()));
                    phase_values.len() - 1
                }
            };
            phase_values[i].1.push(p.start_ms);
            phase_values[i].2.push(p.duration_ms);
        }
    }
    StepSummary {
        id: first.id.clone(),
        name: first.name.clone(),
        parent: first.parent.clone(),
        failures: (records.len() - ok.len()) as u32,
        wall_ms: stats::summarize(&wall),
        cpu_user_ms: of(&|s| s.cpu_user_ms),
        cpu_sys_ms: of(&|s| s.cpu_sys_ms),
        peak_rss_bytes: of(&|s| s.peak_rss_bytes.map(|b| b as f64)),
        cgroup_memory_peak_bytes: of(&|s| {
            s.cgroup
                .as_ref()
                .and_then(|c| c.memory_peak_bytes)
                .map(|b| b as f64)
        }),
        resources: ResourceStats {
            cpu_avg_pct: of(&|s| s.resources.cpu_avg_pct),
            cpu_peak_pct: of(&|s| s.resources.cpu_peak_pct),
            mem_peak_bytes: of(&|s| s.resources.mem_peak_bytes.map(|b| b as f64)),
            disk_read_bytes: of(&|s| s.resources.disk_read_bytes.map(|b| b as f64)),
            disk_write_bytes: of(&|s| s.resources.disk_write_bytes.map(|b| b as f64)),
        },
        containers: of(&|s| s.containers.map(|c| c.containers_peak as f64)).map(|peak| {
            ContainerStats {
                containers_peak: peak,
                cpu_avg_pct: of(&|s| s.containers.and_then(|c| c.cpu_avg_pct)),
                cpu_peak_pct: of(&|s| s.containers.and_then(|c| c.cpu_peak_pct)),
                mem_peak_bytes: of(&|s| {
                    s.containers
                        .and_then(|c| c.mem_peak_bytes)
                        .map(|b| b as f64)
                }),
            }
        }),
        metrics: metric_values
            .into_iter()
            .filter_map(|(name, (unit, v))| {
                Some((
                    name.to_owned(),
                    MetricSummary {
                        unit,
                        stats: stats::summarize(&v)?,
                    },
                ))
            })
            .collect(),
        phases: phase_values
            .into_iter()
            .filter_map(|(name, starts, durations)| {
                Some(PhaseSummary {
                    name: name.to_owned(),
                    start_ms: stats::summarize(&starts)?,
                    duration_ms: stats::summarize(&durations)?,
                })
            })
            .collect(),
        outlier_runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::{Metric, Phase, SCHEMA_VERSION};

    fn step(id: &str, wall: f64, status: Status) -> StepRecord {
        StepRecord {
            id: id.into(),
            name: id.to_uppercase(),
            parent: None,
            status,
            exit_code: if status == Status::Ok { 0 } else { 1 },
            signal: None,
            started_at: String::new(),
            finished_at: String::new(),
            wall_ms: wall,
            cpu_user_ms: Some(wall / 2.0),
            cpu_sys_ms: Some(1.0),
            peak_rss_bytes: Some(1000),
            cgroup: None,
            measurement: "wait4".into(),
            resources: Default::default(),
            containers: None,
            metrics: vec![Metric {
                name: "ops".into(),
                value: wall * 10.0,
                unit: Some("op/s".into()),
            }],
            phases: vec![Phase {
                name: "p".into(),
                start_ms: 0.0,
                duration_ms: wall / 4.0,
            }],
            leftover_processes: None,
            log: None,
            harness: None,
        }
    }

    fn run(n: u32, steps: Vec<StepRecord>) -> RunReceipt {
        RunReceipt {
            schema_version: SCHEMA_VERSION,
            suite: "s".into(),
            run: n,
            mode: None,
            started_at: String::new(),
            finished_at: String::new(),
            status: Status::Ok,
            steps,
            warnings: vec![],
        }
    }

    #[test]
    fn aggregates_in_order_and_keeps_failures_out_of_the_stats() {
        let runs = vec![
            run(
                1,
                vec![step("b", 10.0, Status::Ok), step("a", 100.0, Status::Ok)],
            ),
            run(
                2,
                vec![
                    step("b", 12.0, Status::Ok),
                    step("a", 999.0, Status::Failed),
                ],
            ),
            run(
                3,
                vec![step("b", 11.0, Status::Ok), step("a", 102.0, Status::Ok)],
            ),
        ];
        let (steps, warnings) = summarize_steps(&runs);
        assert_eq!(
            steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        let b = &steps[0];
        assert_eq!(b.name, "B");
        assert_eq!(b.failures, 0);
        let w = b.wall_ms.as_ref().unwrap();
        assert_eq!((w.n, w.mean, w.min, w.max), (3, 11.0, 10.0, 12.0));
        assert_eq!(b.metrics["ops"].stats.mean, 110.0);
        assert_eq!(b.metrics["ops"].unit.as_deref(), Some("op/s"));
        assert_eq!(b.phases[0].name, "p");
        assert_eq!(b.phases[0].duration_ms.mean, 2.75);
        let a = &steps[1];
        assert_eq!(a.failures, 1);
        assert_eq!(a.wall_ms.as_ref().unwrap().n, 2);
        assert_eq!(a.wall_ms.as_ref().unwrap().max, 102.0);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn warns_on_high_variance() {
        let runs: Vec<_> = [10.0, 20.0, 10.0, 20.0]
            .iter()
            .enumerate()
            .map(|(i, w)| run(i as u32 + 1, vec![step("x", *w, Status::Ok)]))
            .collect();
        let (_, warnings) = summarize_steps(&runs);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("step `x`: wall time varies by 38.5% (CV) over 4 runs"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn flags_outlier_runs() {
        let runs: Vec<_> = [10.0, 10.1, 9.9, 10.0, 10.2, 9.8, 30.0]
            .iter()
            .enumerate()
            .map(|(i, w)| run(i as u32 + 1, vec![step("x", *w, Status::Ok)]))
            .collect();
        let (steps, warnings) = summarize_steps(&runs);
        assert_eq!(steps[0].outlier_runs, [7]);
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("step `x`: run(s) 7 are wall-time outliers")),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_step_that_always_failed_has_no_stats() {
        let runs = vec![run(1, vec![step("x", 5.0, Status::TimedOut)])];
        let (steps, _) = summarize_steps(&runs);
        assert_eq!(steps[0].failures, 1);
        assert!(steps[0].wall_ms.is_none() && steps[0].metrics.is_empty());
    }
}
