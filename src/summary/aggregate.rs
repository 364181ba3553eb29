//! From measured runs to per-step statistics and variance warnings. Pure.

use std::collections::BTreeMap;

use crate::receipt::{
    ContainerStats, Metric, MetricSummary, PhaseSummary, ResourceStats, RunReceipt, Status,
    StepRecord, StepSummary, Warning, WarningCode,
};
use crate::stats::{self, Stats};
use crate::verdict::quantity::Unit;

/// Coefficient of variation above which a measure is called noisy.
pub const HIGH_CV: f64 = 0.10;

/// Aggregate every step over the runs, in first-seen order. Failed samples are counted
/// in `failures` and kept out of the statistics.
pub fn summarize_steps(runs: &[RunReceipt]) -> (Vec<StepSummary>, Vec<Warning>) {
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
            let (summary, unit_warnings) = summarize_step(records);
            warnings.extend(unit_warnings);
            if !summary.outlier_runs.is_empty() {
                let runs: Vec<String> = summary.outlier_runs.iter().map(u32::to_string).collect();
                warnings.push(Warning::step(
                    WarningCode::HighVariance,
                    &summary.id,
                    format!(
                        "step `{}`: run(s) {} are wall-time outliers (modified z-score > 3.5) — \
                         something else may have run at the same time",
                        summary.id,
                        runs.join(", ")
                    ),
                ));
            }
            if let Some(w) = summary.wall_ms.as_ref()
                && stats::high_variance(w, HIGH_CV)
            {
                warnings.push(Warning::step(
                    WarningCode::HighVariance,
                    &summary.id,
                    format!(
                        "step `{}`: wall time varies by {:.1}% (CV) over {} runs — treat its numbers \
                         as noisy; quiet the machine (see other warnings) or raise --runs",
                        summary.id,
                        w.cv.unwrap_or(0.0) * 100.0,
                        w.n
                    ),
                ));
            }
            summary
        })
        .collect();
    (steps, warnings)
}

fn summarize_step(records: &[(u32, &StepRecord)]) -> (StepSummary, Vec<Warning>) {
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

    // Every value of a metric with the run it came from and the unit it was written in.
    let mut metric_values: BTreeMap<&str, Vec<Reported<'_>>> = BTreeMap::new();
    // An imported metric's direction and origin, from its first value.
    let mut metric_first: BTreeMap<&str, &Metric> = BTreeMap::new();
    // Phases keep the order they first appeared in: (name, starts, durations).
    let mut phase_values: Vec<(&str, Vec<f64>, Vec<f64>)> = Vec::new();
    for (run, s) in &ok {
        for m in &s.metrics {
            metric_first.entry(&m.name).or_insert(m);
            metric_values
                .entry(&m.name)
                .or_default()
                .push((*run, m.value, m.unit.as_deref()));
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
    let mut warnings = Vec::new();
    let metrics = metric_values
        .into_iter()
        .filter_map(|(name, values)| {
            let (unit, v, rejected) = in_first_unit(&values);
            warnings.extend(rejected.iter().map(|r| {
                Warning::step(
                    WarningCode::MetricUnit,
                    &first.id,
                    r.warning(&first.id, name, unit),
                )
            }));
            let first = metric_first.get(name);
            Some((
                name.to_owned(),
                MetricSummary {
                    unit: unit.map(str::to_owned),
                    stats: stats::summarize(&v)?,
                    direction: first.and_then(|m| m.direction),
                    origin: first.and_then(|m| m.origin.clone()),
                    estimates: BTreeMap::new(),
                    change: BTreeMap::new(),
                    note: None,
                },
            ))
        })
        .collect();
    let summary = StepSummary {
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
        cgroup_io_read_bytes: of(&|s| {
            s.cgroup
                .as_ref()
                .and_then(|c| c.io_read_bytes)
                .map(|b| b as f64)
        }),
        cgroup_io_write_bytes: of(&|s| {
            s.cgroup
                .as_ref()
                .and_then(|c| c.io_write_bytes)
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
        metrics,
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
        origin: None,
    };
    (summary, warnings)
}

/// One value of a metric: the run it came from, the value, the unit it was written in.
type Reported<'a> = (u32, f64, Option<&'a str>);

/// Values of one metric written in a unit that cannot be converted to its first one.
#[derive(Debug, Clone, PartialEq)]
struct Rejected<'a> {
    unit: Option<&'a str>,
    runs: Vec<u32>,
}

impl Rejected<'_> {
    fn warning(&self, step: &str, metric: &str, first: Option<&str>) -> String {
        let shown = |u: Option<&str>| match u {
            Some(u) => format!("`{}`", crate::control::printable(u)),
            None => "no unit".to_owned(),
        };
        let why = match (first.map(Unit::parse), self.unit.map(Unit::parse)) {
            (None, _) | (_, None) => "a value with a unit and one without".to_owned(),
            (Some(None), _) => format!("{} is not a unit this tool converts", shown(first)),
            (_, Some(None)) => format!("{} is not a unit this tool converts", shown(self.unit)),
            (Some(Some(a)), Some(Some(b))) => format!(
                "{} is {} but {} is {}",
                shown(first),
                a.dimension,
                shown(self.unit),
                b.dimension
            ),
        };
        let runs: Vec<String> = self.runs.iter().map(u32::to_string).collect();
        format!(
            "step `{step}`: metric `{metric}` is reported in {} and, in run(s) {}, in {} ({why}) \
             — those values are left out of its statistics; report one metric name in one \
             unit, or in units of one dimension",
            shown(first),
            runs.join(", "),
            shown(self.unit),
        )
    }
}

/// A metric's values in the unit it was first reported in: values in another unit of the
/// same dimension (`2 s` after `1 ms`) are converted; the others are rejected, by unit.
fn in_first_unit<'a>(values: &[Reported<'a>]) -> (Option<&'a str>, Vec<f64>, Vec<Rejected<'a>>) {
    let none_if_empty = |u: Option<&'a str>| u.filter(|u| !u.is_empty());
    let first = values.first().and_then(|&(_, _, u)| none_if_empty(u));
    let first_unit = first.and_then(Unit::parse);
    let mut kept = Vec::with_capacity(values.len());
    let mut rejected: Vec<Rejected<'a>> = Vec::new();
    for &(run, value, unit) in values {
        let unit = none_if_empty(unit);
        if unit == first {
            kept.push(value);
            continue;
        }
        let to = unit.and_then(Unit::parse);
        if let (Some(a), Some(b)) = (&first_unit, &to)
            && a.dimension == b.dimension
        {
            kept.push(value * b.to_base / a.to_base);
            continue;
        }
        match rejected.iter_mut().find(|r| r.unit == unit) {
            Some(r) if r.runs.last() != Some(&run) => r.runs.push(run),
            Some(_) => {}
            None => rejected.push(Rejected {
                unit,
                runs: vec![run],
            }),
        }
    }
    (first, kept, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::{Phase, SCHEMA_VERSION};

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
                direction: None,
                origin: None,
            }],
            phases: vec![Phase {
                name: "p".into(),
                start_ms: 0.0,
                duration_ms: wall / 4.0,
            }],
            leftover_processes: None,
            log: None,
            output_tail: None,
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
            load: vec![],
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
            warnings[0]
                .message
                .starts_with("step `x`: wall time varies by 38.5% (CV) over 4 runs"),
            "{}",
            warnings[0].message
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
            warnings.iter().any(|w| w
                .message
                .starts_with("step `x`: run(s) 7 are wall-time outliers")),
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

    fn with_metric(n: u32, value: f64, unit: Option<&str>) -> RunReceipt {
        let mut s = step("x", 10.0, Status::Ok);
        s.metrics = vec![Metric {
            name: "lat".into(),
            value,
            unit: unit.map(str::to_owned),
            direction: None,
            origin: None,
        }];
        run(n, vec![s])
    }

    #[test]
    fn one_metric_in_two_units_of_one_dimension_is_converted_to_the_first() {
        let runs = vec![
            with_metric(1, 1.0, Some("ms")),
            with_metric(2, 2.0, Some("s")),
            with_metric(3, 3000.0, Some("us")),
        ];
        let (steps, warnings) = summarize_steps(&runs);
        let m = &steps[0].metrics["lat"];
        assert_eq!(m.unit.as_deref(), Some("ms"));
        assert_eq!((m.stats.n, m.stats.min, m.stats.max), (3, 1.0, 2000.0));
        assert_eq!(m.stats.mean, 668.0, "(1 + 2000 + 3) / 3");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn a_unit_of_another_dimension_or_none_is_left_out_with_a_warning() {
        let runs = vec![
            with_metric(1, 1.0, Some("ms")),
            with_metric(2, 5.0, Some("kB")),
            with_metric(3, 2.0, Some("ms")),
            with_metric(4, 7.0, None),
            with_metric(5, 8.0, Some("kB")),
            with_metric(6, 9.0, Some("furlongs")),
        ];
        let (steps, warnings) = summarize_steps(&runs);
        let m = &steps[0].metrics["lat"];
        assert_eq!((m.stats.n, m.stats.mean), (2, 1.5));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].message.starts_with(
                "step `x`: metric `lat` is reported in `ms` and, in run(s) 2, 5, in `kB` \
                 (`ms` is a time"
            ),
            "{}",
            warnings[0].message
        );
        assert!(warnings[0].message.contains("left out of its statistics"));
        assert!(
            warnings[1]
                .message
                .contains("in run(s) 4, in no unit (a value with a unit and one without)"),
            "{}",
            warnings[1].message
        );
        assert!(
            warnings[2]
                .message
                .contains("`furlongs` is not a unit this tool converts"),
            "{}",
            warnings[2].message
        );
    }

    #[test]
    fn the_same_unknown_unit_throughout_is_kept() {
        let runs = vec![
            with_metric(1, 1.0, Some("widgets")),
            with_metric(2, 3.0, Some("widgets")),
        ];
        let (steps, warnings) = summarize_steps(&runs);
        assert_eq!(steps[0].metrics["lat"].stats.mean, 2.0);
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
