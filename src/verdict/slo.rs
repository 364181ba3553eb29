//! SLO gates: `metric.display_mibps.median >= 80 MiB/s`, parsed, checked against the
//! suite, and judged against a summary. Pure.
//!
//! Grammar: `SELECTOR OP THRESHOLD`.
//! - SELECTOR: `step.ID.MEASURE.STAT` with MEASURE one of `wall cpu_user cpu_sys
//!   peak_rss memory io_read io_write`; `step.ID.phase.NAME.STAT`;
//!   `step.ID.metric.NAME.STAT`; `metric.NAME.STAT` (the first step that reports NAME);
//!   `load.NAME.PHASE.STAT` and `load.NAME.throughput` (load scenarios).
//! - STAT: `mean median min max stddev cv p50 p90 p95 p99 pNN ci95_low ci95_high`
//!   (`pNN` any percentile from 0 to 100, `p99.9` too).
//! - OP: `<`, `<=`, `>`, `>=` (equality has no meaning for measured values).
//! - THRESHOLD: a number with a unit of the measure's dimension (`7s`, `500 ms`, `2 GiB`,
//!   `80 MiB/s`, `5/s`), converted; `cv` takes a plain number or a percentage; a metric's
//!   threshold takes the metric's own unit or one of its dimension, known when judged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, StudentsT};

use super::quantity::{Dimension, Unit};
use crate::receipt::{StepSummary, Summary};
use crate::stats::Stats;

/// A parsed gate expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub selector: Selector,
    pub op: Op,
    pub threshold: Threshold,
}

/// What a gate looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Step {
        step: String,
        measure: Measure,
        stat: Stat,
    },
    /// `metric.NAME.STAT` (`step: None`: the first step reporting it) or
    /// `step.ID.metric.NAME.STAT`.
    Metric {
        step: Option<String>,
        name: String,
        stat: Stat,
    },
    /// `load.NAME.PHASE.STAT` / `load.NAME.throughput`: a `[[load]]` scenario.
    Load { name: String, what: String },
}

impl Selector {
    /// The step a selector names, if it names one.
    pub fn step(&self) -> Option<&str> {
        match self {
            Selector::Step { step, .. } => Some(step),
            Selector::Metric { step, .. } => step.as_deref(),
            Selector::Load { .. } => None,
        }
    }
}

/// A measure of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    Wall,
    CpuUser,
    CpuSys,
    PeakRss,
    Memory,
    IoRead,
    IoWrite,
    Phase(String),
}

impl Measure {
    fn dimension(&self) -> Dimension {
        match self {
            Measure::Wall | Measure::CpuUser | Measure::CpuSys | Measure::Phase(_) => {
                Dimension::Time
            }
            _ => Dimension::Bytes,
        }
    }
}

/// A statistic over the runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    Mean,
    Median,
    Min,
    Max,
    Stddev,
    Cv,
    /// A percentile, 0–100.
    P(f64),
    Ci95Low,
    Ci95High,
}

const STATS: [&str; 13] = [
    "mean",
    "median",
    "min",
    "max",
    "stddev",
    "cv",
    "p50",
    "p90",
    "p95",
    "p99",
    "pNN",
    "ci95_low",
    "ci95_high",
];
const MEASURES: [&str; 9] = [
    "wall", "cpu_user", "cpu_sys", "peak_rss", "memory", "io_read", "io_write", "phase", "metric",
];
const ROOTS: [&str; 3] = ["step", "metric", "load"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
        }
    }

    fn upper_bound(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }
}

/// The threshold as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub value: f64,
    /// The unit as written (empty: none).
    pub unit: String,
}

impl Threshold {
    fn text(&self) -> String {
        let v = crate::format::num(self.value);
        match self.unit.as_str() {
            "" => v,
            u if u.starts_with('/')
                || u == "%"
                || Unit::parse(u).is_some_and(|u| u.dimension == Dimension::Time) =>
            {
                format!("{v}{u}")
            }
            u => format!("{v} {u}"),
        }
    }
}

/// A parse error: what was expected, at a 1-based character column of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

fn err(column: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        column,
        message: message.into(),
    }
}

/// The closest of `options` to `word`, when it is close.
fn did_you_mean(word: &str, options: &[&str]) -> String {
    options
        .iter()
        .map(|o| (strsim::damerau_levenshtein(word, o), *o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 3))
        .min()
        .map(|(_, o)| format!("; did you mean `{o}`?"))
        .unwrap_or_default()
}

/// Parse an expression.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let col = |byte: usize| text[..byte].chars().count() + 1;
    let start = text.len() - text.trim_start().len();
    let Some(op_at) = text.find(['<', '>', '=', '!']) else {
        return Err(err(
            col(text.trim_end().len()),
            "expected a comparison: `SELECTOR <= THRESHOLD` (or <, >, >=)",
        ));
    };
    let rest = &text[op_at..];
    let (op, len) = if rest.starts_with("<=") {
        (Op::Le, 2)
    } else if rest.starts_with(">=") {
        (Op::Ge, 2)
    } else if rest.starts_with('<') {
        (Op::Lt, 1)
    } else if rest.starts_with('>') {
        (Op::Gt, 1)
    } else {
        return Err(err(
            col(op_at),
            "`==` and `!=` have no meaning for measured values: use <, <=, > or >=",
        ));
    };
    let selector_text = text[start..op_at].trim_end();
    if selector_text.is_empty() {
        return Err(err(
            col(start),
            "expected a selector, e.g. `step.build.wall.p95`",
        ));
    }
    if let Some(sp) = selector_text.find(char::is_whitespace) {
        return Err(err(
            col(start + sp),
            "a selector has no spaces: write it as `step.ID.wall.p95`",
        ));
    }
    let selector = parse_selector(selector_text, start, &col)?;
    let after = op_at + len;
    let threshold = parse_threshold(&text[after..], after, &col)?;
    check_dimension(
        &selector,
        &threshold,
        after + (text[after..].len() - text[after..].trim_start().len()),
        &col,
    )?;
    Ok(Expr {
        selector,
        op,
        threshold,
    })
}

fn parse_selector(
    s: &str,
    offset: usize,
    col: &dyn Fn(usize) -> usize,
) -> Result<Selector, ParseError> {
    // Segments with their byte offsets; a percentile `p99.9` keeps its dot.
    let mut parts: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for p in s.split('.') {
        parts.push((offset + at, p));
        at += p.len() + 1;
    }
    if let Some(i) = parts.len().checked_sub(2)
        && parts[i].1.starts_with('p')
        && parts[i].1[1..].chars().all(|c| c.is_ascii_digit())
        && !parts[i].1[1..].is_empty()
        && parts[i + 1].1.chars().all(|c| c.is_ascii_digit())
        && !parts[i + 1].1.is_empty()
    {
        let merged = &s[parts[i].0 - offset..];
        parts.truncate(i);
        parts.push((offset + (s.len() - merged.len()), merged));
    }
    let end = offset + s.len();
    let word = |i: usize, what: &str| -> Result<(usize, &str), ParseError> {
        match parts.get(i) {
            Some(&(at, w)) if !w.is_empty() => Ok((at, w)),
            Some(&(at, _)) => Err(err(col(at), format!("expected {what}"))),
            None => Err(err(col(end), format!("expected `.` and {what}"))),
        }
    };
    let name = |i: usize, what: &str| -> Result<String, ParseError> {
        let (at, w) = word(i, what)?;
        if !crate::control::valid_name(w) {
            return Err(err(
                col(at),
                format!("`{w}` is not a valid {what}: letters, digits, `_` and `-`"),
            ));
        }
        Ok(w.to_owned())
    };
    let stat = |i: usize| -> Result<Stat, ParseError> {
        let (at, w) = word(i, "a statistic (median, p95, mean, …)")?;
        let st = parse_stat(w).ok_or_else(|| {
            err(
                col(at),
                format!(
                    "unknown statistic `{w}`: expected one of {}{}",
                    STATS.join(" "),
                    did_you_mean(w, &STATS)
                ),
            )
        })?;
        if let Some(&(at, _)) = parts.get(i + 1) {
            return Err(err(col(at - 1), "unexpected text after the statistic"));
        }
        Ok(st)
    };
    let (root_at, root) = word(0, "`step`, `metric` or `load`")?;
    match root {
        "step" => {
            let step = name(1, "step id")?;
            let (m_at, m) = word(
                2,
                "a measure (wall, cpu_user, cpu_sys, peak_rss, memory, io_read, io_write, phase, metric)",
            )?;
            let measure = match m {
                "wall" => Measure::Wall,
                "cpu_user" => Measure::CpuUser,
                "cpu_sys" => Measure::CpuSys,
                "peak_rss" => Measure::PeakRss,
                "memory" => Measure::Memory,
                "io_read" => Measure::IoRead,
                "io_write" => Measure::IoWrite,
                "phase" => Measure::Phase(name(3, "phase name")?),
                "metric" => {
                    return Ok(Selector::Metric {
                        step: Some(step),
                        name: name(3, "metric name")?,
                        stat: stat(4)?,
                    });
                }
                other => {
                    return Err(err(
                        col(m_at),
                        format!(
                            "unknown measure `{other}`: expected one of {}{}",
                            MEASURES.join(" "),
                            did_you_mean(other, &MEASURES)
                        ),
                    ));
                }
            };
            let i = if matches!(measure, Measure::Phase(_)) {
                4
            } else {
                3
            };
            Ok(Selector::Step {
                step,
                measure,
                stat: stat(i)?,
            })
        }
        "metric" => Ok(Selector::Metric {
            step: None,
            name: name(1, "metric name")?,
            stat: stat(2)?,
        }),
        "load" => {
            let scenario = name(1, "load scenario")?;
            let (_, what) = word(2, "`throughput` or a phase and a statistic")?;
            let what = if what == "throughput" {
                what.to_owned()
            } else {
                format!("{what}.{}", word(3, "a statistic").map(|(_, w)| w)?)
            };
            Ok(Selector::Load {
                name: scenario,
                what,
            })
        }
        other => Err(err(
            col(root_at),
            format!(
                "a selector starts with `step`, `metric` or `load`, not `{other}`{}",
                did_you_mean(other, &ROOTS)
            ),
        )),
    }
}

fn parse_stat(w: &str) -> Option<Stat> {
    Some(match w {
        "mean" => Stat::Mean,
        "median" => Stat::Median,
        "min" => Stat::Min,
        "max" => Stat::Max,
        "stddev" => Stat::Stddev,
        "cv" => Stat::Cv,
        "ci95_low" => Stat::Ci95Low,
        "ci95_high" => Stat::Ci95High,
        p if p.starts_with('p') => {
            let v: f64 = p[1..].parse().ok()?;
            if !(0.0..=100.0).contains(&v) || p[1..].starts_with(['+', '-']) {
                return None;
            }
            Stat::P(v)
        }
        _ => return None,
    })
}

fn parse_threshold(
    s: &str,
    offset: usize,
    col: &dyn Fn(usize) -> usize,
) -> Result<Threshold, ParseError> {
    let lead = s.len() - s.trim_start().len();
    let t = s.trim();
    let at = offset + lead;
    if t.is_empty() {
        return Err(err(
            col(at),
            "expected a threshold, e.g. `7s` or `80 MiB/s`",
        ));
    }
    let num_len = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E' | '_')))
        .unwrap_or(t.len());
    // `e` of a unit (`5e`?) is rare; back off until the number parses.
    let mut n = num_len;
    let value = loop {
        if n == 0 {
            return Err(err(
                col(at),
                format!("`{t}` does not start with a number: write e.g. `7s` or `80 MiB/s`"),
            ));
        }
        if let Ok(v) = t[..n].replace('_', "").parse::<f64>() {
            break v;
        }
        n -= 1;
    };
    if !value.is_finite() {
        return Err(err(col(at), "the threshold must be a finite number"));
    }
    let unit = t[n..].trim();
    if unit.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(
            col(at + n),
            format!(
                "unexpected text after the threshold: `{}`",
                crate::control::printable(unit)
            ),
        ));
    }
    Ok(Threshold {
        value,
        unit: unit.to_owned(),
    })
}

/// The threshold's unit must fit the measure (a metric's unit is known only when judged).
fn check_dimension(
    sel: &Selector,
    th: &Threshold,
    at: usize,
    col: &dyn Fn(usize) -> usize,
) -> Result<(), ParseError> {
    let want = match sel {
        Selector::Step { stat: Stat::Cv, .. } | Selector::Metric { stat: Stat::Cv, .. } => {
            Dimension::Ratio
        }
        Selector::Step { measure, .. } => measure.dimension(),
        Selector::Metric { .. } | Selector::Load { .. } => return Ok(()),
    };
    let unit = Unit::parse(&th.unit);
    match unit {
        Some(u) if u.dimension == want && !(want != Dimension::Ratio && th.unit.is_empty()) => {
            Ok(())
        }
        _ => Err(err(
            col(at),
            format!(
                "`{}` is not {want}: the threshold needs a unit of the measure, e.g. {}",
                th.text(),
                match want {
                    Dimension::Time => "`500ms` or `7s`",
                    Dimension::Bytes => "`512 MiB` or `2 GB`",
                    _ => "`0.05` or `5%`",
                }
            ),
        )),
    }
}

/// `fail` (the default) or `warn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Fail,
    Warn,
}

/// A gate of the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub name: String,
    pub text: String,
    pub expr: Expr,
    /// Decide on the whole confidence interval of the statistic at this level.
    pub confidence: Option<f64>,
    pub severity: Severity,
}

/// What a gate decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GateStatus {
    Pass,
    Fail,
    NotMeasured,
    /// With `confidence`: the interval straddles the threshold.
    Inconclusive,
}

/// One entry of perf.json's `slos[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GateResult {
    pub name: String,
    pub expr: String,
    pub status: GateStatus,
    pub severity: Severity,
    /// The observed statistic, in `unit`.
    pub observed: Option<f64>,
    /// Its confidence interval, in `unit`, when the gate has a `confidence`.
    #[serde(default)]
    pub interval: Option<(f64, f64)>,
    pub threshold: f64,
    /// The threshold's unit as written (the metric's, when it has none).
    pub unit: Option<String>,
    /// Headroom in percent of the threshold: positive passes, negative fails.
    pub margin_pct: Option<f64>,
    /// Why it was not measured, or how it was judged.
    #[serde(default)]
    pub note: Option<String>,
}

impl GateResult {
    /// A gate that failed and fails the run (not `severity = "warn"`): exit 1.
    pub fn fails_the_run(&self) -> bool {
        self.status == GateStatus::Fail && self.severity == Severity::Fail
    }

    /// `DISPLAY: 205.0 MiB/s (SLO 80 MiB/s, +156.2%)`.
    pub fn line(&self) -> String {
        let unit = self.unit.as_deref().unwrap_or("");
        let th = Threshold {
            value: self.threshold,
            unit: unit.to_owned(),
        };
        let status = match self.status {
            GateStatus::Pass => "pass",
            GateStatus::Fail if self.severity == Severity::Warn => "FAIL (warn)",
            GateStatus::Fail => "FAIL",
            GateStatus::NotMeasured => "not measured",
            GateStatus::Inconclusive => "inconclusive",
        };
        match (self.observed, self.margin_pct) {
            (Some(o), Some(m)) => format!(
                "{}: {} (SLO {}, {m:+.1}%) {status}",
                self.name,
                Threshold {
                    value: o,
                    unit: unit.to_owned()
                }
                .text(),
                th.text()
            ),
            _ => format!(
                "{}: {status} (SLO {}){}",
                self.name,
                th.text(),
                self.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// Judge every gate against a summary.
pub fn evaluate_all(gates: &[Gate], summary: &Summary) -> Vec<GateResult> {
    gates.iter().map(|g| evaluate(g, summary)).collect()
}

/// Judge one gate.
pub fn evaluate(gate: &Gate, summary: &Summary) -> GateResult {
    let e = &gate.expr;
    let mut result = GateResult {
        name: gate.name.clone(),
        expr: gate.text.clone(),
        status: GateStatus::NotMeasured,
        severity: gate.severity,
        observed: None,
        interval: None,
        threshold: e.threshold.value,
        unit: (!e.threshold.unit.is_empty()).then(|| e.threshold.unit.clone()),
        margin_pct: None,
        note: None,
    };
    let found = match lookup(&e.selector, summary) {
        Ok(f) => f,
        Err(note) => {
            result.note = Some(note);
            return result;
        }
    };
    // The factor from the measure's unit to the threshold's.
    let factor = match to_threshold_unit(&e.selector, &found.unit, &e.threshold.unit) {
        Ok(f) => f,
        Err(note) => {
            result.note = Some(note);
            return result;
        }
    };
    if result.unit.is_none() {
        result.unit = found.unit.clone().filter(|u| !u.is_empty());
    }
    let stat = selector_stat(&e.selector);
    let Some(point) = stat_value(&found.stats, stat) else {
        result.note = Some("the statistic needs more runs".into());
        return result;
    };
    let observed = point * factor;
    let th = e.threshold.value;
    result.observed = Some(observed);
    result.margin_pct = (th != 0.0).then(|| {
        let headroom = if e.op.upper_bound() {
            th - observed
        } else {
            observed - th
        };
        100.0 * headroom / th.abs()
    });
    let pass = e.op.holds(observed, th);
    result.status = if pass {
        GateStatus::Pass
    } else {
        GateStatus::Fail
    };
    if let Some(c) = gate.confidence {
        match interval(&found.stats, stat, c) {
            Some((lo, hi)) => {
                let (lo, hi) = (lo * factor, hi * factor);
                result.interval = Some((lo, hi));
                let (all, none) = (
                    e.op.holds(lo, th) && e.op.holds(hi, th),
                    !e.op.holds(lo, th) && !e.op.holds(hi, th),
                );
                result.status = if all {
                    GateStatus::Pass
                } else if none {
                    GateStatus::Fail
                } else {
                    GateStatus::Inconclusive
                };
                result.note = Some(format!(
                    "decided on the {:.0}% interval [{}, {}]",
                    c * 100.0,
                    crate::format::num(lo),
                    crate::format::num(hi)
                ));
            }
            None => {
                result.note = Some(
                    "confidence applies to mean, median and percentiles with 2+ runs; judged on the value"
                        .into(),
                )
            }
        }
    }
    result
}

struct Found<'a> {
    /// A load phase's statistic is one value of the pooled distribution: a stats object
    /// of that one sample.
    stats: std::borrow::Cow<'a, Stats>,
    /// The unit the stats are in (`ms`, `B`, a metric's own).
    unit: Option<String>,
}

fn selector_stat(sel: &Selector) -> Stat {
    match sel {
        Selector::Step { stat, .. } | Selector::Metric { stat, .. } => *stat,
        Selector::Load { .. } => Stat::Median,
    }
}

fn lookup<'a>(sel: &Selector, s: &'a Summary) -> Result<Found<'a>, String> {
    let step = |id: &str| -> Result<&'a StepSummary, String> {
        s.steps
            .iter()
            .find(|st| st.id == id && st.parent.is_none())
            .or_else(|| s.steps.iter().find(|st| st.id == id))
            .ok_or_else(|| format!("step `{id}` did not run"))
    };
    let none = |what: &str| format!("{what} was not measured in any successful run");
    match sel {
        Selector::Step {
            step: id, measure, ..
        } => {
            let st = step(id)?;
            let (stats, unit) = match measure {
                Measure::Wall => (st.wall_ms.as_ref(), "ms"),
                Measure::CpuUser => (st.cpu_user_ms.as_ref(), "ms"),
                Measure::CpuSys => (st.cpu_sys_ms.as_ref(), "ms"),
                Measure::PeakRss => (st.peak_rss_bytes.as_ref(), "B"),
                Measure::Memory => (st.cgroup_memory_peak_bytes.as_ref(), "B"),
                Measure::IoRead => (st.cgroup_io_read_bytes.as_ref(), "B"),
                Measure::IoWrite => (st.cgroup_io_write_bytes.as_ref(), "B"),
                Measure::Phase(p) => (
                    st.phases
                        .iter()
                        .find(|ph| &ph.name == p)
                        .map(|ph| &ph.duration_ms),
                    "ms",
                ),
            };
            stats
                .map(|stats| Found {
                    stats: std::borrow::Cow::Borrowed(stats),
                    unit: Some(unit.to_owned()),
                })
                .ok_or_else(|| none(&format!("{measure:?} of step `{id}`").to_lowercase()))
        }
        Selector::Metric { step: id, name, .. } => {
            let m = match id {
                Some(id) => step(id)?.metrics.get(name),
                None => s.steps.iter().find_map(|st| st.metrics.get(name)),
            };
            m.map(|m| Found {
                stats: std::borrow::Cow::Borrowed(&m.stats),
                unit: m.unit.clone(),
            })
            .ok_or_else(|| none(&format!("metric `{name}`")))
        }
        Selector::Load { name, what } => {
            let l = s.load.iter().find(|l| &l.id == name).ok_or_else(|| {
                format!("load scenario `{name}` did not run to its end in any measured run")
            })?;
            if what == "throughput" {
                return l
                    .throughput_per_s
                    .as_ref()
                    .map(|t| Found {
                        stats: std::borrow::Cow::Borrowed(t),
                        unit: Some("/s".into()),
                    })
                    .ok_or_else(|| none(&format!("the throughput of load `{name}`")));
            }
            let (phase, stat) = what.split_once('.').unwrap_or((what.as_str(), "p50"));
            let p = l.phases.iter().find(|p| p.name == phase).ok_or_else(|| {
                let known: Vec<&str> = l.phases.iter().map(|p| p.name.as_str()).collect();
                format!(
                    "no operation of load `{name}` reached phase `{phase}` successfully{}",
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (its phases: {})", known.join(", "))
                    }
                )
            })?;
            let value = p
                .latency
                .get(stat)
                .ok_or_else(|| format!("`{stat}` is not a statistic of a load phase"))?;
            let stats = crate::stats::summarize(&[value])
                .ok_or_else(|| none(&format!("phase `{phase}` of load `{name}`")))?;
            Ok(Found {
                stats: std::borrow::Cow::Owned(stats),
                unit: Some(if stat == "count" {
                    String::new()
                } else {
                    "ms".into()
                }),
            })
        }
    }
}

/// The factor that converts the measure's values into the threshold's unit.
fn to_threshold_unit(
    sel: &Selector,
    measure_unit: &Option<String>,
    threshold_unit: &str,
) -> Result<f64, String> {
    if matches!(selector_stat(sel), Stat::Cv) {
        // A fraction; `5%` is 0.05.
        return Ok(1.0 / Unit::parse(threshold_unit).map_or(1.0, |u| u.to_base));
    }
    let mu = measure_unit.as_deref().unwrap_or("");
    if threshold_unit.is_empty() || threshold_unit == mu {
        return Ok(1.0);
    }
    match (Unit::parse(mu), Unit::parse(threshold_unit)) {
        (Some(m), Some(t)) if m.dimension == t.dimension && !mu.is_empty() => {
            Ok(m.to_base / t.to_base)
        }
        _ => Err(format!(
            "the measure is in `{}` and the threshold in `{threshold_unit}`: give the threshold in its unit",
            if mu.is_empty() { "no unit" } else { mu }
        )),
    }
}

fn stat_value(s: &Stats, stat: Stat) -> Option<f64> {
    Some(match stat {
        Stat::Mean => s.mean,
        Stat::Median => s.median,
        Stat::Min => s.min,
        Stat::Max => s.max,
        Stat::Stddev => s.stddev?,
        Stat::Cv => s.cv?,
        Stat::Ci95Low => s.ci95_low?,
        Stat::Ci95High => s.ci95_high?,
        Stat::P(p) => match p {
            50.0 => s.p50,
            90.0 => s.p90,
            95.0 => s.p95,
            99.0 => s.p99,
            _ => {
                if s.samples.is_empty() {
                    return None;
                }
                let mut v = s.samples.clone();
                v.sort_by(f64::total_cmp);
                crate::stats::percentile_sorted(&v, p / 100.0)
            }
        },
    })
}

/// A `confidence` interval of the statistic: Student's t for the mean; for the median and
/// percentiles the distribution-free interval between order statistics (binomial).
fn interval(s: &Stats, stat: Stat, confidence: f64) -> Option<(f64, f64)> {
    let n = s.samples.len();
    if n < 2 {
        return None;
    }
    match stat {
        Stat::Mean => {
            let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
                .ok()?
                .inverse_cdf(0.5 + confidence / 2.0);
            let half = t * s.stddev? / (n as f64).sqrt();
            Some((s.mean - half, s.mean + half))
        }
        Stat::Median | Stat::P(_) => {
            let p = match stat {
                Stat::P(p) => p / 100.0,
                _ => 0.5,
            };
            let b = Binomial::new(p, n as u64).ok()?;
            let tail = (1.0 - confidence) / 2.0;
            // B, the number of samples below the true percentile, is Binomial(n, p); the
            // order statistics x(l) ≤ x(u) cover it with P(l ≤ B < u): l the largest rank
            // with P(B < l) ≤ tail, u the smallest with P(B < u) ≥ 1 − tail.
            let ranks = 0..n as u64;
            let l = ranks
                .clone()
                .rev()
                .find(|&k| b.cdf(k) <= tail)
                .map_or(1, |k| k + 1);
            let u = ranks
                .filter(|&k| b.cdf(k) >= 1.0 - tail)
                .map(|k| k + 1)
                .next()
                .unwrap_or(n as u64);
            let mut v = s.samples.clone();
            v.sort_by(f64::total_cmp);
            let at = |r: u64| v[(r as usize).clamp(1, n) - 1];
            Some((at(l), at(u)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
