//! Comparing two summaries (`benchmark compare`, `run --baseline`): what differs between
//! their environments, and per step and measure whether the change is real. Pure.
//!
//! Each measure both summaries have samples of is compared with
//! [`crate::stats::compare`]: the Hodges–Lehmann change of NEW against BASE in percent of
//! the base median with its 95% interval, the Mann–Whitney and Welch p-values. With many
//! measures some would look significant by chance, so the verdicts use Benjamini–Hochberg
//! q-values over the whole family (all measures of the comparison) instead of the p-values.
//!
//! The noise band — changes within it are `unchanged` — comes from, in order: the command
//! line (`--noise`), a calibration (the measure's observed A/A spread), or else the
//! measure's own run-to-run spread in the two summaries: twice the larger robust
//! coefficient of variation of the two ([`crate::stats::robust_cv`]: the scaled median
//! absolute deviation over the median, which a few runs slowed by a busy machine move
//! little, as they move the rank tests little; the CV where a receipt keeps no samples),
//! in percent, and never less than [`MIN_NOISE_PCT`]. The spread within one invocation
//! says nothing about how far two invocations drift apart — the machine changes between
//! them (measured here, `sleep 0.01` A/A on a loaded 2-core VM: medians 6% and 13% apart,
//! with a robust spread of 1.4%) — so without a calibration a change must be larger than
//! that floor to be called a regression. `benchmark calibrate` measures the drift and
//! lets smaller changes through.

pub mod calibrate;
pub mod env;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::receipt::{StepSummary, Summary};
use crate::stats::Stats;
use crate::stats::compare::{self as test, Direction, Verdict, VerdictRule};
use crate::verdict::quantity::{Dimension, Unit};
pub use env::EnvDifference;

/// The smallest noise band, in percent, when neither the command line nor a calibration
/// gives one: what two invocations on a shared machine drift apart by without any change.
pub const MIN_NOISE_PCT: f64 = 10.0;

/// How to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Significance level of the q-values.
    pub alpha: f64,
    /// A noise band for every measure, in percent (`--noise`).
    pub noise_pct: Option<f64>,
    /// Noise bands by `(step key, measure)` from a calibration.
    pub calibration: BTreeMap<(String, String), f64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha: test::DEFAULT_ALPHA,
            noise_pct: None,
            calibration: BTreeMap::new(),
        }
    }
}

/// The comparison of two summaries: `compare --format json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Where BASE and NEW came from (paths, or `this run`).
    pub base: String,
    pub new: String,
    pub alpha: f64,
    pub environment_differences: Vec<EnvDifference>,
    pub measures: Vec<MeasureComparison>,
}

impl Report {
    /// The measures that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &MeasureComparison> {
        self.measures
            .iter()
            .filter(|m| m.verdict == Verdict::Regressed)
    }

    /// Environment differences that can move the numbers.
    pub fn flagged(&self) -> impl Iterator<Item = &EnvDifference> {
        self.environment_differences.iter().filter(|d| d.flagged)
    }
}

/// Where a measure's noise band came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoiseSource {
    /// `--noise`.
    Given,
    /// `calibration.json`.
    Calibration,
    /// The measure's own spread in the two summaries.
    Spread,
}

/// One measure of one step, NEW against BASE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MeasureComparison {
    /// The step (`parent/id` for a `benchmark step` sub-step; `load.ID` for a load
    /// scenario).
    pub step: String,
    /// `wall`, `cpu_user`, `cpu_sys`, `peak_rss`, `memory`, `phase.NAME`, `metric.NAME`.
    pub measure: String,
    pub unit: Option<String>,
    pub direction: Direction,
    pub base: Option<Stats>,
    pub new: Option<Stats>,
    /// The Hodges–Lehmann change in percent of the base median; positive: NEW is larger.
    pub change_pct: Option<f64>,
    pub ci95_low_pct: Option<f64>,
    pub ci95_high_pct: Option<f64>,
    pub p_mann_whitney: Option<f64>,
    pub p_welch: Option<f64>,
    /// Benjamini–Hochberg q-value over every measure of this comparison.
    pub q: Option<f64>,
    pub noise_band_pct: f64,
    pub noise_source: NoiseSource,
    pub verdict: Verdict,
    /// Why there is no test, when there is none (a step or samples missing on one side).
    pub note: Option<String>,
}

/// Compare NEW against BASE.
pub fn compare(base: &Summary, new: &Summary, names: (&str, &str), opts: &Options) -> Report {
    let base_steps: BTreeMap<String, &StepSummary> =
        base.steps.iter().map(|s| (step_key(s), s)).collect();
    let mut measures = Vec::new();
    for n in &new.steps {
        let key = step_key(n);
        let b = base_steps.get(&key).copied();
        for m in measures_of(n) {
            let base_stats = b.and_then(|b| find(b, &m.name).map(|x| x.stats));
            measures.push(judge(&key, m, base_stats, b.is_none(), opts));
        }
    }
    for n in &new.load {
        let key = load_key(&n.id);
        let b = base.load.iter().find(|b| b.id == n.id);
        for m in load_measures_of(n) {
            let base_stats = b.and_then(|b| {
                load_measures_of(b)
                    .into_iter()
                    .find(|x| x.name == m.name)
                    .map(|x| x.stats)
            });
            measures.push(judge(&key, m, base_stats, b.is_none(), opts));
        }
    }
    // The family's q-values, then the verdicts on them.
    let q = test::benjamini_hochberg(
        &measures
            .iter()
            .map(|m: &MeasureComparison| m.p_mann_whitney)
            .collect::<Vec<_>>(),
    );
    for (m, q) in measures.iter_mut().zip(q) {
        m.q = q;
        let rule = VerdictRule {
            alpha: opts.alpha,
            noise_band_pct: m.noise_band_pct,
            direction: m.direction,
        };
        let interval = m.ci95_low_pct.zip(m.ci95_high_pct);
        m.verdict = test::verdict(interval, q, &rule);
    }
    Report {
        base: names.0.to_owned(),
        new: names.1.to_owned(),
        alpha: opts.alpha,
        environment_differences: env::differences(base, new),
        measures,
    }
}

/// A step's key across summaries: its id, after its parent's for a sub-step.
pub fn step_key(s: &StepSummary) -> String {
    match &s.parent {
        Some(p) => format!("{p}/{}", s.id),
        None => s.id.clone(),
    }
}

/// A load scenario's key where a comparison names steps: `load.ID` (step ids have no
/// dots, so it names no step).
pub fn load_key(id: &str) -> String {
    format!("load.{id}")
}

/// Every measure of a load scenario with a sample per run: `throughput`, and each
/// phase's `PHASE.p50`, `PHASE.p95` and `PHASE.p99` (each run's percentile).
pub fn load_measures_of(l: &crate::load::LoadSummary) -> Vec<Measure<'_>> {
    let mut out = Vec::new();
    if let Some(t) = &l.throughput_per_s {
        out.push(Measure {
            name: "throughput".into(),
            unit: Some("/s".into()),
            direction: Direction::HigherIsBetter,
            stats: t,
        });
    }
    for p in &l.phases {
        for (stat, stats) in [("p50", &p.p50_ms), ("p95", &p.p95_ms), ("p99", &p.p99_ms)] {
            out.push(Measure {
                name: format!("{}.{stat}", p.name),
                unit: Some("ms".into()),
                direction: Direction::LowerIsBetter,
                stats,
            });
        }
    }
    out
}

/// One measure of a step summary (`wall`, `cpu_user`, …, `phase.NAME`, `metric.NAME`):
/// what `compare` compares and the reports list.
#[derive(Debug, Clone)]
pub struct Measure<'a> {
    pub name: String,
    /// `ms`, `B`, or a metric's own unit.
    pub unit: Option<String>,
    pub direction: Direction,
    pub stats: &'a Stats,
}

/// Every measure a step has statistics of, in a fixed order.
pub fn measures_of<'a>(s: &'a StepSummary) -> Vec<Measure<'a>> {
    let mut out: Vec<Measure<'a>> = Vec::new();
    let mut push = |name: String, unit: Option<&str>, direction, stats: Option<&'a Stats>| {
        if let Some(stats) = stats {
            out.push(Measure {
                name,
                unit: unit.map(str::to_owned),
                direction,
                stats,
            });
        }
    };
    let lo = Direction::LowerIsBetter;
    push("wall".into(), Some("ms"), lo, s.wall_ms.as_ref());
    push("cpu_user".into(), Some("ms"), lo, s.cpu_user_ms.as_ref());
    push("cpu_sys".into(), Some("ms"), lo, s.cpu_sys_ms.as_ref());
    push("peak_rss".into(), Some("B"), lo, s.peak_rss_bytes.as_ref());
    push(
        "memory".into(),
        Some("B"),
        lo,
        s.cgroup_memory_peak_bytes.as_ref(),
    );
    for p in &s.phases {
        push(
            format!("phase.{}", p.name),
            Some("ms"),
            lo,
            Some(&p.duration_ms),
        );
    }
    for (name, m) in &s.metrics {
        push(
            format!("metric.{name}"),
            m.unit.as_deref(),
            m.direction
                .unwrap_or_else(|| direction_of(m.unit.as_deref())),
            Some(&m.stats),
        );
    }
    out
}

/// How much faster the fastest step of a summary is than another, by wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct Relative {
    pub fastest: String,
    pub other: String,
    /// `other`'s time over `fastest`'s (Hodges–Lehmann), with its 95% interval.
    pub ratio: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub p: f64,
}

/// For ad-hoc commands: the fastest top-level step by median wall time, and each other
/// step's ratio to it, from the samples of one summary (runs interleaved, so that both
/// saw the same machine).
pub fn relative_to_fastest(summary: &Summary) -> Vec<Relative> {
    let steps: Vec<(&str, &Stats)> = summary
        .steps
        .iter()
        .filter(|s| s.parent.is_none())
        .filter_map(|s| Some((s.id.as_str(), s.wall_ms.as_ref()?)))
        .filter(|(_, w)| !w.samples.is_empty())
        .collect();
    let Some(&(fastest, f)) = steps
        .iter()
        .min_by(|a, b| a.1.median.total_cmp(&b.1.median))
    else {
        return Vec::new();
    };
    steps
        .iter()
        .filter(|(id, _)| *id != fastest)
        .filter_map(|&(id, w)| {
            let c = test::compare(&f.samples, &w.samples, test::DEFAULT_CONFIDENCE)?;
            let ratio = |pct: f64| 1.0 + pct / 100.0;
            Some(Relative {
                fastest: fastest.to_owned(),
                other: id.to_owned(),
                ratio: ratio(c.change_pct?),
                low: c.ci_low_pct.map(ratio),
                high: c.ci_high_pct.map(ratio),
                p: c.mann_whitney.p,
            })
        })
        .collect()
}

/// The statistics of measure `name` of the step or load scenario a comparison calls
/// `key` ([`step_key`], [`load_key`]).
pub fn measure_stats<'a>(s: &'a Summary, key: &str, name: &str) -> Option<&'a Stats> {
    if let Some(id) = key.strip_prefix("load.") {
        let l = s.load.iter().find(|l| l.id == id)?;
        return load_measures_of(l)
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| m.stats);
    }
    let st = s.steps.iter().find(|st| step_key(st) == key)?;
    find(st, name).map(|m| m.stats)
}

fn find<'a>(s: &'a StepSummary, name: &str) -> Option<Measure<'a>> {
    measures_of(s).into_iter().find(|m| m.name == name)
}

/// Which way a metric gets better: rates (`/s`, `MiB/s`, `ops/s`) higher, everything
/// else (times, sizes, counts per operation) lower.
pub fn direction_of(unit: Option<&str>) -> Direction {
    let rate = unit.is_some_and(|u| {
        matches!(
            Unit::parse(u).map(|u| u.dimension),
            Some(Dimension::Rate | Dimension::ByteRate)
        ) || u.ends_with("/s")
            || u.ends_with("/sec")
    });
    if rate {
        Direction::HigherIsBetter
    } else {
        Direction::LowerIsBetter
    }
}

fn judge(
    step: &str,
    m: Measure<'_>,
    base: Option<&Stats>,
    step_missing: bool,
    opts: &Options,
) -> MeasureComparison {
    let new = m.stats;
    let note = match base {
        None if step_missing && step.starts_with("load.") => {
            Some("the load scenario is not in BASE".to_owned())
        }
        None if step_missing => Some("the step is not in BASE".to_owned()),
        None => Some("the measure is not in BASE".to_owned()),
        Some(b) if b.samples.is_empty() || new.samples.is_empty() => Some(
            "no samples to test (a receipt of schema version 1: rerun it with this release)"
                .to_owned(),
        ),
        Some(_) => None,
    };
    let result = base
        .filter(|_| note.is_none())
        .and_then(|b| test::compare(&b.samples, &new.samples, test::DEFAULT_CONFIDENCE));
    let key = (step.to_owned(), m.name.clone());
    let (noise_band_pct, noise_source) = match (opts.noise_pct, opts.calibration.get(&key)) {
        (Some(n), _) => (n, NoiseSource::Given),
        (None, Some(&c)) => (c, NoiseSource::Calibration),
        (None, None) => {
            let cv = |s: Option<&Stats>| {
                s.and_then(|s| crate::stats::robust_cv(&s.samples).or(s.cv))
                    .unwrap_or(0.0)
                    * 100.0
            };
            (
                (2.0 * cv(base).max(cv(Some(new)))).max(MIN_NOISE_PCT),
                NoiseSource::Spread,
            )
        }
    };
    MeasureComparison {
        step: step.to_owned(),
        measure: m.name,
        unit: m.unit,
        direction: m.direction,
        base: base.cloned(),
        new: Some(new.clone()),
        change_pct: result.as_ref().and_then(|r| r.change_pct),
        ci95_low_pct: result.as_ref().and_then(|r| r.ci_low_pct),
        ci95_high_pct: result.as_ref().and_then(|r| r.ci_high_pct),
        p_mann_whitney: result.as_ref().map(|r| r.mann_whitney.p),
        p_welch: result.as_ref().and_then(|r| r.welch.as_ref().map(|w| w.p)),
        q: None,
        noise_band_pct,
        noise_source,
        verdict: Verdict::Inconclusive,
        note,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn summary_with(walls: &[(&str, &[f64])]) -> Summary {
        let mut s: Summary = crate::receipt::read::parse(include_bytes!(
            "../../tests/fixtures/receipts/summary-v1.json"
        ))
        .unwrap();
        let template = s.steps[0].clone();
        s.steps = walls
            .iter()
            .map(|(id, w)| StepSummary {
                id: (*id).to_owned(),
                wall_ms: crate::stats::summarize(w),
                cpu_user_ms: None,
                cpu_sys_ms: None,
                peak_rss_bytes: None,
                cgroup_memory_peak_bytes: None,
                metrics: BTreeMap::new(),
                phases: Vec::new(),
                ..template.clone()
            })
            .collect();
        s
    }

    const A: [f64; 10] = [10.1, 10.3, 9.9, 10.0, 10.2, 10.4, 9.8, 10.1, 10.0, 10.2];

    /// A summary with one load scenario `l`: per-run throughputs, and `complete` p95s.
    fn with_load(throughput: &[f64], p95: &[f64]) -> Summary {
        let stats = |v: &[f64]| crate::stats::summarize(v).unwrap();
        let mut lat = crate::load::Latency::new();
        lat.record(std::time::Duration::from_millis(5));
        let mut s = summary_with(&[("a", &A)]);
        s.load = vec![crate::load::LoadSummary {
            id: "l".into(),
            name: "l".into(),
            operation: "command".into(),
            model: crate::load::Model::Closed,
            concurrency: 2,
            rate_per_s: None,
            runs: throughput.len() as u32,
            ops: 100,
            succeeded: 100,
            failed: 0,
            failures: BTreeMap::new(),
            failure_samples: vec![],
            throughput_per_s: Some(stats(throughput)),
            phases: vec![crate::load::LoadPhaseSummary {
                name: "complete".into(),
                latency: lat.stats().unwrap(),
                histogram: lat.encode(),
                p50_ms: stats(p95),
                p95_ms: stats(p95),
                p99_ms: stats(p95),
            }],
            max_in_flight: 2,
            at_capacity_ms: None,
            backlog_max: None,
            start_lag: None,
        }];
        s
    }

    #[test]
    fn load_scenarios_are_compared_in_their_direction_and_calibrated() {
        let half: Vec<f64> = A.iter().map(|x| x * 50.0).collect();
        let full: Vec<f64> = A.iter().map(|x| x * 100.0).collect();
        // Throughput halved and latency doubled: both regressed.
        let base = with_load(&full, &A);
        let slower: Vec<f64> = A.iter().map(|x| x * 2.0).collect();
        let new = with_load(&half, &slower);
        let r = compare(&base, &new, ("base", "new"), &Options::default());
        let get = |m: &str| {
            r.measures
                .iter()
                .find(|x| x.step == "load.l" && x.measure == m)
                .unwrap()
        };
        assert_eq!(get("throughput").direction, Direction::HigherIsBetter);
        assert_eq!(get("throughput").verdict, Verdict::Regressed);
        assert_eq!(get("complete.p95").verdict, Verdict::Regressed);
        // Throughput doubled: improved.
        let r = compare(&new, &base, ("", ""), &Options::default());
        let t = r
            .measures
            .iter()
            .find(|x| x.measure == "throughput")
            .unwrap();
        assert_eq!(t.verdict, Verdict::Improved);
        // A scenario missing in BASE says so.
        let mut none = base.clone();
        none.load.clear();
        let r = compare(&none, &new, ("", ""), &Options::default());
        let t = r
            .measures
            .iter()
            .find(|x| x.measure == "throughput")
            .unwrap();
        assert_eq!(t.note.as_deref(), Some("the load scenario is not in BASE"));
        // Calibration finds each round's load measures.
        let c = calibrate::calibrate(&[base.clone(), base.clone()], 0.05).unwrap();
        let t = c
            .measures
            .iter()
            .find(|m| m.step == "load.l" && m.measure == "throughput");
        assert!(t.is_some_and(|t| t.spread_pct > 0.0), "{:?}", c.measures);
    }

    #[test]
    fn a_doubled_time_regressed_and_the_same_is_unchanged() {
        let slower: Vec<f64> = A.iter().map(|x| x * 2.0).collect();
        let base = summary_with(&[("a", &A), ("b", &A)]);
        let new = summary_with(&[("a", &slower), ("b", &A)]);
        let r = compare(&base, &new, ("base", "new"), &Options::default());
        assert_eq!(r.measures.len(), 2);
        let (a, b) = (&r.measures[0], &r.measures[1]);
        assert_eq!((a.step.as_str(), a.measure.as_str()), ("a", "wall"));
        assert_eq!(a.verdict, Verdict::Regressed, "{a:?}");
        assert!((a.change_pct.unwrap() - 100.0).abs() < 5.0, "{a:?}");
        assert!(a.q.unwrap() < 0.05 && a.q.unwrap() >= a.p_mann_whitney.unwrap());
        assert_eq!(b.verdict, Verdict::Unchanged, "{b:?}");
        assert_eq!(b.change_pct, Some(0.0));
        assert_eq!(b.noise_source, NoiseSource::Spread);
        assert_eq!(r.regressions().count(), 1);
        assert!(r.environment_differences.is_empty());
    }

    #[test]
    fn faster_is_improved_and_a_given_band_wins() {
        let faster: Vec<f64> = A.iter().map(|x| x * 0.8).collect();
        let base = summary_with(&[("a", &A)]);
        let new = summary_with(&[("a", &faster)]);
        let r = compare(&base, &new, ("b", "n"), &Options::default());
        assert_eq!(r.measures[0].verdict, Verdict::Improved);
        let wide = Options {
            noise_pct: Some(50.0),
            ..Options::default()
        };
        let r = compare(&base, &new, ("b", "n"), &wide);
        assert_eq!(r.measures[0].verdict, Verdict::Unchanged);
        assert_eq!(r.measures[0].noise_source, NoiseSource::Given);
    }

    #[test]
    fn missing_steps_and_version_1_receipts_are_inconclusive_with_a_note() {
        let v1: Summary = crate::receipt::read::parse(include_bytes!(
            "../../tests/fixtures/receipts/summary-v1.json"
        ))
        .unwrap();
        let r = compare(&v1, &v1, ("v1", "v1"), &Options::default());
        assert!(!r.measures.is_empty());
        assert!(r.measures.iter().all(|m| m.verdict == Verdict::Inconclusive
            && m.note.as_deref().unwrap().contains("schema version 1")));
        let base = summary_with(&[("a", &A)]);
        let new = summary_with(&[("z", &A)]);
        let r = compare(&base, &new, ("b", "n"), &Options::default());
        assert_eq!(
            r.measures[0].note.as_deref(),
            Some("the step is not in BASE")
        );
    }

    #[test]
    fn the_fastest_command_is_named_with_its_ratio() {
        let slower: Vec<f64> = A.iter().map(|x| x * 1.5).collect();
        let s = summary_with(&[("slow", &slower), ("quick", &A)]);
        let r = relative_to_fastest(&s);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].fastest.as_str(), r[0].other.as_str()),
            ("quick", "slow")
        );
        assert!((r[0].ratio - 1.5).abs() < 0.05, "{r:?}");
        assert!(r[0].low.unwrap() <= r[0].ratio && r[0].ratio <= r[0].high.unwrap());
        assert!(r[0].p < 0.001);
    }

    #[test]
    fn rates_are_better_higher() {
        assert_eq!(direction_of(Some("MiB/s")), Direction::HigherIsBetter);
        assert_eq!(direction_of(Some("Mops/s")), Direction::HigherIsBetter);
        assert_eq!(direction_of(Some("ops/sec")), Direction::HigherIsBetter);
        assert_eq!(direction_of(Some("ns")), Direction::LowerIsBetter);
        assert_eq!(direction_of(Some("B/op")), Direction::LowerIsBetter);
        assert_eq!(direction_of(None), Direction::LowerIsBetter);
    }
}
