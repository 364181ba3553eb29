//! Two-sample comparison statistics for `benchmark compare` and `run --baseline`: the
//! Mann–Whitney U test, Welch's t-test, the Hodges–Lehmann shift with its distribution-free
//! confidence interval, Benjamini–Hochberg q-values and the verdict rule. Pure.
//!
//! Every function takes samples as `&[f64]` and touches no clock, process or file. Empty
//! samples and samples holding a NaN or an infinity have no comparison (`None`), as in
//! [`summarize`](super::summarize); no input makes a function panic.
//!
//! # The tests
//!
//! - [`mann_whitney`] matches `scipy.stats.mannwhitneyu(x, y)` with its defaults
//!   (`use_continuity=True`, `alternative="two-sided"`, `method="auto"`): the *exact* null
//!   distribution when either sample has at most 8 values and no value occurs twice in the
//!   pooled samples; otherwise the normal approximation with the tie correction and the
//!   continuity correction. One deviation: when the exact table would exceed
//!   [`EXACT_MAX_PAIRS`] pairs (only with one sample of at most 8 and the other of more
//!   than 131 072 values), the normal approximation is used, which is then accurate.
//! - [`welch`] matches `scipy.stats.ttest_ind(x, y, equal_var=False)`, including its edge
//!   cases: a sample of one value has no variance (`None`); when both variances are zero,
//!   different means give `p = 0` and equal means `None`.
//!
//! # The change and its interval
//!
//! [`hodges_lehmann`] estimates the shift Δ with `NEW ≈ BASE + Δ` as the median of all
//! `m·n` differences `new_j − base_i`, and its confidence interval by inverting the
//! Mann–Whitney test (Lehmann 1963; Bauer 1972; R's `wilcox.test(conf.int = TRUE)`): with
//! `D(1) ≤ … ≤ D(mn)` the sorted differences and `C` the smallest `q` with
//! `P(U ≤ q) ≥ (1 − confidence)/2` under the null distribution of U, the interval is
//! `[D(C), D(mn + 1 − C)]`. The null distribution is the one [`mann_whitney`] uses for the
//! same samples (exact, or normal with ties and continuity), so the interval and the p-value
//! agree. The interval covers at least the requested confidence; with very few samples no
//! interval reaches it (e.g. 3 vs 3 reach at most 90%), and then `C = 1`, the interval is
//! the whole range of differences and [`Shift::confidence`] says what it does reach.
//! The differences are never materialised: order statistics are found by bisection over
//! the `f64` values with an `O(m + n)` count, so 10⁵ × 10⁵ samples cost no memory.
//!
//! A bootstrap was considered and not used: for the 3–30 runs a benchmark has, percentile
//! bootstrap intervals are too narrow (they under-cover), they need a seed to be
//! reproducible, and the Hodges–Lehmann interval is exact without assuming a distribution.
//! It applies to every pair of non-empty samples, so there is no case left for a bootstrap.
//!
//! [`Comparison`] expresses the shift and its interval in percent of the *base median*
//! (its absolute value, so a positive change always means NEW is larger). When the base
//! median is zero, a shift of exactly zero is 0% and any other has no percentage (`None`).
//!
//! # The verdict
//!
//! [`verdict`] judges an interval `[lo, hi]` of the change in percent, a p-value `p` (or
//! a Benjamini–Hochberg q-value when a family of measures is judged together) and a
//! [`VerdictRule`] `{alpha, noise_band_pct: b, direction}`:
//!
//! 1. **unchanged** when the whole interval lies inside the noise band: `−b ≤ lo` and
//!    `hi ≤ b`, whatever `p` is (a change that is certainly smaller than the noise);
//! 2. otherwise **regressed** or **improved** when the change is significant, `p < alpha`,
//!    and the whole interval lies beyond the band on one side: `lo > b` or `hi < −b`. With
//!    [`Direction::LowerIsBetter`] (times, bytes), `lo > b` is a regression and `hi < −b` an
//!    improvement; [`Direction::HigherIsBetter`] (throughput) swaps them;
//! 3. otherwise **inconclusive**: the interval straddles an edge of the band, or the change
//!    is beyond the band but not significant, or the interval or `p` is missing or not a
//!    number, or the rule itself is invalid (`alpha` outside `(0, 1)`, `b` negative or NaN).
//!
//! So with a band of 5%: `[1%, 3%]` is unchanged even when significant, `[6%, 12%]` with
//! `p = 0.01` regressed, `[3%, 12%]` inconclusive, `[−8%, 9%]` inconclusive. A significant
//! result needs enough runs: two-sided exact Mann–Whitney p-values cannot go below
//! `2 / C(m + n, m)`, 0.1 for 3 vs 3 and 0.029 for 4 vs 4.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::beta::checked_beta_reg;
use statrs::function::erf::erfc;

use super::{Moments, Scale, percentile_sorted};

/// The significance level verdicts use unless told otherwise.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// The confidence level of the change's interval unless told otherwise.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// The largest `m·n` for which the exact Mann–Whitney distribution is tabulated; beyond it
/// the normal approximation is used even where scipy's `auto` would pick `exact`.
pub const EXACT_MAX_PAIRS: usize = 1 << 20;

/// Samples no larger than this (in either sample, without ties) get the exact test; as
/// scipy's `method="auto"`.
const EXACT_MAX_SMALLER: usize = 8;

/// How a Mann–Whitney p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// From the exact null distribution of U (no ties, a small sample).
    Exact,
    /// From the normal approximation with tie and continuity corrections.
    Asymptotic,
}

/// The result of a two-sided Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// The U statistic of the first sample (scipy's `statistic`): the number of pairs in
    /// which the first sample's value is larger, ties counting one half.
    pub u: f64,
    /// Two-sided p-value, in `[0, 1]`.
    pub p: f64,
    /// How `p` was computed.
    pub method: Method,
}

/// The two-sided Mann–Whitney U test of `x` against `y`, as `scipy.stats.mannwhitneyu(x, y)`
/// with its defaults (see the [module documentation](self)).
///
/// `None` when either sample is empty or holds a non-finite value.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let null = Null::of(x, y)?;
    let (m, n) = (x.len() as f64, y.len() as f64);
    let u1 = null.rank_sum_x - m * (m + 1.0) / 2.0;
    let u2 = m * n - u1;
    let u = u1.max(u2);
    let p = match &null.dist {
        Dist::Exact(table) => {
            // P(U ≥ u) = P(U ≤ mn − u) by symmetry; mn − u ≤ mn/2 lies in the table.
            let k = (m * n - u).round() as usize;
            2.0 * table.cdf(k)
        }
        Dist::Normal { sigma } => {
            let z = (u - m * n / 2.0 - 0.5) / sigma;
            if z.is_nan() {
                // σ = 0: every value is the same, U is its mean, nothing to test.
                1.0
            } else {
                // 2·Φ(−z) = erfc(z/√2); erfc(−∞) = 2.
                erfc(z / std::f64::consts::SQRT_2)
            }
        }
    };
    Some(MannWhitney {
        u: u1,
        p: p.clamp(0.0, 1.0),
        method: null.method(),
    })
}

/// The result of Welch's unequal-variances t-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    /// `(mean(x) − mean(y)) / √(s²x/m + s²y/n)`; infinite when both variances are zero.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom (1 when both variances are zero, as scipy).
    pub df: f64,
    /// Two-sided p-value, in `[0, 1]`.
    pub p: f64,
}

/// Welch's two-sided t-test of `x` against `y`, as
/// `scipy.stats.ttest_ind(x, y, equal_var=False)`.
///
/// `None` when either sample has fewer than two values or holds a non-finite value, and
/// when both samples are constant with the same value (t is 0/0).
pub fn welch(x: &[f64], y: &[f64]) -> Option<Welch> {
    if x.len() < 2 || y.len() < 2 || !all_finite(x) || !all_finite(y) {
        return None;
    }
    // t and df do not change when both samples are scaled by the same factor.
    let scale = Scale::of_all(&[x, y]);
    let mx = Moments::of(&scale.down_all(x));
    let my = Moments::of(&scale.down_all(y));
    let (m, n) = (x.len() as f64, y.len() as f64);
    let vm = mx.stddev? * mx.stddev? / m;
    let vn = my.stddev? * my.stddev? / n;
    let diff = mx.mean - my.mean;
    let denom = (vm + vn).sqrt();
    let t = diff / denom;
    if t.is_nan() {
        return None;
    }
    let df = (vm + vn) * (vm + vn) / (vm * vm / (m - 1.0) + vn * vn / (n - 1.0));
    let df = if df.is_nan() { 1.0 } else { df };
    // Two-sided p = 2·sf(|t|) = I_{df/(df+t²)}(df/2, 1/2), without the cancellation of
    // 1 − cdf.
    let p = if t.is_infinite() {
        0.0
    } else {
        let x = df / (df + t * t);
        checked_beta_reg(df / 2.0, 0.5, x).ok()?
    };
    Some(Welch {
        t,
        df,
        p: p.clamp(0.0, 1.0),
    })
}

/// A location shift `NEW ≈ BASE + estimate` with its confidence interval, in the unit of
/// the samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    /// The Hodges–Lehmann estimate: the median of all differences `new_j − base_i`.
    pub estimate: f64,
    /// Lower bound of the interval.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
    /// The confidence the interval reaches: at least the requested one, unless the samples
    /// are too few for it (see the [module documentation](self)).
    pub confidence: f64,
}

/// The Hodges–Lehmann shift of `new` against `base` with its distribution-free interval at
/// `confidence` (e.g. [`DEFAULT_CONFIDENCE`]).
///
/// `None` when either sample is empty or holds a non-finite value, when `confidence` is not
/// in `(0, 1)`, or when a bound does not fit an `f64` (differences of values near
/// `±f64::MAX`).
pub fn hodges_lehmann(base: &[f64], new: &[f64], confidence: f64) -> Option<Shift> {
    let scaled = ScaledShift::of(base, new, confidence)?;
    let up = |v: f64| Some(scaled.scale.up(v)).filter(|v| v.is_finite());
    Some(Shift {
        estimate: up(scaled.estimate)?,
        low: up(scaled.low)?,
        high: up(scaled.high)?,
        confidence: scaled.confidence,
    })
}

/// Everything `compare` and `run --baseline` report for one measure: NEW against BASE.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The Hodges–Lehmann shift in the unit of the samples; `None` only when it does not
    /// fit an `f64` (the percentages may still exist).
    pub shift: Option<Shift>,
    /// The shift in percent of the base median's absolute value.
    pub change_pct: Option<f64>,
    /// Lower bound of the shift's interval, in percent of the base median.
    pub ci_low_pct: Option<f64>,
    /// Upper bound of the shift's interval, in percent of the base median.
    pub ci_high_pct: Option<f64>,
    /// The confidence the interval reaches (see [`Shift::confidence`]).
    pub confidence: f64,
    /// Mann–Whitney U test of BASE against NEW (U is BASE's).
    pub mann_whitney: MannWhitney,
    /// Welch's t-test of BASE against NEW; `None` with fewer than two values on a side.
    pub welch: Option<Welch>,
}

impl Comparison {
    /// The interval in percent, when both bounds exist.
    pub fn interval_pct(&self) -> Option<(f64, f64)> {
        Some((self.ci_low_pct?, self.ci_high_pct?))
    }

    /// The verdict on this comparison with `p` its Mann–Whitney p-value, or `q` (a
    /// Benjamini–Hochberg q-value) when it is one of a family.
    pub fn verdict(&self, p: Option<f64>, rule: &VerdictRule) -> Verdict {
        verdict(self.interval_pct(), p, rule)
    }
}

/// Compares `new` against `base`: the shift and its interval at `confidence` (absolute and
/// in percent of the base median), the Mann–Whitney and Welch p-values.
///
/// `None` when either sample is empty or holds a non-finite value, or when `confidence`
/// is not in `(0, 1)`.
pub fn compare(base: &[f64], new: &[f64], confidence: f64) -> Option<Comparison> {
    let scaled = ScaledShift::of(base, new, confidence)?;
    let mut sorted_base = scaled.scale.down_all(base);
    sorted_base.sort_by(f64::total_cmp);
    let base_median = percentile_sorted(&sorted_base, 0.5).abs();
    let pct = |v: f64| {
        if base_median == 0.0 {
            (v == 0.0).then_some(0.0)
        } else {
            Some(100.0 * (v / base_median)).filter(|p| p.is_finite())
        }
    };
    Some(Comparison {
        shift: hodges_lehmann(base, new, confidence),
        change_pct: pct(scaled.estimate),
        ci_low_pct: pct(scaled.low),
        ci_high_pct: pct(scaled.high),
        confidence: scaled.confidence,
        mann_whitney: mann_whitney(base, new)?,
        welch: welch(base, new),
    })
}

/// Benjamini–Hochberg q-values (false-discovery-rate adjusted p-values) of a family, in the
/// order given, as `scipy.stats.false_discovery_control(ps, method="bh")`.
///
/// The family is the p-values that are numbers in `[0, 1]`; the others (`None`, NaN, out of
/// range) are not counted and get `None`. `q(i) = min over j with p(j) ≥ p(i) of
/// p(j)·m/rank(j)`, at most 1.
pub fn benjamini_hochberg(p_values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut family: Vec<(usize, f64)> = p_values
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.filter(|p| (0.0..=1.0).contains(p)).map(|p| (i, p)))
        .collect();
    family.sort_by(|a, b| a.1.total_cmp(&b.1));
    let m = family.len() as f64;
    let mut q = vec![None; p_values.len()];
    let mut running = 1.0_f64;
    for (rank, &(i, p)) in family.iter().enumerate().rev() {
        running = running.min(p * (m / (rank + 1) as f64));
        q[i] = Some(running.clamp(0.0, 1.0));
    }
    q
}

/// Which way a measure gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Smaller is better: times, CPU, memory, bytes.
    LowerIsBetter,
    /// Larger is better: throughput, operations per second.
    HigherIsBetter,
}

/// The outcome of comparing a measure, NEW against BASE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly better, by more than the noise band.
    Improved,
    /// Significantly worse, by more than the noise band.
    Regressed,
    /// The whole interval lies within the noise band.
    Unchanged,
    /// Neither: more runs, or a wider band, are needed to decide.
    Inconclusive,
}

impl Verdict {
    /// The lowercase name used in receipts and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::Unchanged => "unchanged",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// How [`verdict`] decides (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerdictRule {
    /// Significance level: `p < alpha` is significant.
    pub alpha: f64,
    /// Half-width of the noise band in percent: changes within `±noise_band_pct` are
    /// noise.
    pub noise_band_pct: f64,
    /// Which way is better.
    pub direction: Direction,
}

impl VerdictRule {
    /// A rule at [`DEFAULT_ALPHA`].
    pub fn new(direction: Direction, noise_band_pct: f64) -> Self {
        Self {
            alpha: DEFAULT_ALPHA,
            noise_band_pct,
            direction,
        }
    }
}

/// The verdict on a change whose interval in percent is `interval_pct` (`(low, high)`) with
/// p-value (or q-value) `p`, by the rule in the [module documentation](self).
pub fn verdict(interval_pct: Option<(f64, f64)>, p: Option<f64>, rule: &VerdictRule) -> Verdict {
    let band = rule.noise_band_pct;
    let rule_valid = rule.alpha > 0.0 && rule.alpha < 1.0 && band >= 0.0;
    let Some((lo, hi)) = interval_pct.filter(|&(lo, hi)| lo <= hi && rule_valid) else {
        return Verdict::Inconclusive;
    };
    if -band <= lo && hi <= band {
        return Verdict::Unchanged;
    }
    let significant = p.is_some_and(|p| p < rule.alpha);
    let (worse, better) = match rule.direction {
        Direction::LowerIsBetter => (lo > band, hi < -band),
        Direction::HigherIsBetter => (hi < -band, lo > band),
    };
    match (significant, worse, better) {
        (true, true, _) => Verdict::Regressed,
        (true, _, true) => Verdict::Improved,
        _ => Verdict::Inconclusive,
    }
}

fn all_finite(xs: &[f64]) -> bool {
    xs.iter().all(|x| x.is_finite())
}

/// The null distribution of U for two samples, as the test picks it.
#[derive(Debug)]
struct Null {
    rank_sum_x: f64,
    dist: Dist,
}

#[derive(Debug)]
enum Dist {
    Exact(ExactTable),
    /// Standard deviation of U with the tie correction; 0 when every value is the same.
    Normal {
        sigma: f64,
    },
}

impl Null {
    fn of(x: &[f64], y: &[f64]) -> Option<Self> {
        if x.is_empty() || y.is_empty() || !all_finite(x) || !all_finite(y) {
            return None;
        }
        let (m, n) = (x.len(), y.len());
        let mut pooled: Vec<(f64, bool)> = x
            .iter()
            .map(|&v| (v, true))
            .chain(y.iter().map(|&v| (v, false)))
            .collect();
        pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Average ranks (1-based) and the tie term Σ(t³ − t) over groups of equal values.
        let mut rank_sum_x = 0.0;
        let mut tie_term = 0.0;
        let mut start = 0;
        while start < pooled.len() {
            let mut end = start + 1;
            while end < pooled.len() && pooled[end].0 == pooled[start].0 {
                end += 1;
            }
            let t = (end - start) as f64;
            let rank = (start + 1 + end) as f64 / 2.0;
            let in_x = pooled[start..end].iter().filter(|v| v.1).count();
            rank_sum_x += rank * in_x as f64;
            tie_term += t * t * t - t;
            start = end;
        }
        let ties = tie_term > 0.0;
        let exact = !ties
            && m.min(n) <= EXACT_MAX_SMALLER
            && m.checked_mul(n).is_some_and(|mn| mn <= EXACT_MAX_PAIRS);
        let dist = match exact.then(|| ExactTable::new(m, n)).flatten() {
            Some(table) => Dist::Exact(table),
            None => {
                let (mf, nf) = (m as f64, n as f64);
                let total = mf + nf;
                let var = mf * nf / 12.0 * ((total + 1.0) - tie_term / (total * (total - 1.0)));
                Dist::Normal {
                    sigma: var.max(0.0).sqrt(),
                }
            }
        };
        Some(Self { rank_sum_x, dist })
    }

    fn method(&self) -> Method {
        match self.dist {
            Dist::Exact(_) => Method::Exact,
            Dist::Normal { .. } => Method::Asymptotic,
        }
    }

    /// The smallest `q` with `P(U ≤ q) ≥ tail`, at least 1 (R's `qwilcox`, then
    /// `if (qu == 0) qu <- 1`), and the confidence `1 − 2·P(U ≤ q − 1)` the interval
    /// `[D(q), D(mn + 1 − q)]` reaches.
    fn interval_rank(&self, mn: u64, tail: f64) -> (u64, f64) {
        match &self.dist {
            Dist::Exact(table) => {
                let q = table.quantile(tail).max(1);
                let below = table.cdf(q as usize - 1);
                (q, (1.0 - 2.0 * below).clamp(0.0, 1.0))
            }
            Dist::Normal { sigma } => {
                if *sigma <= 0.0 {
                    // Every value equal: every difference is zero, the shift certainly 0.
                    return (mn.div_ceil(2).max(1), 1.0);
                }
                let normal = Normal::standard();
                let z = normal.inverse_cdf(1.0 - tail);
                // P(U ≤ q) ≈ Φ((q + ½ − mn/2)/σ) ≥ tail  ⇔  q ≥ mn/2 − ½ − zσ.
                let q = (mn as f64 / 2.0 - 0.5 - z * sigma).ceil();
                let q = if q.is_finite() && q >= 1.0 {
                    (q as u64).min(mn.div_ceil(2))
                } else {
                    1
                };
                let below = normal.cdf((q as f64 - 0.5 - mn as f64 / 2.0) / sigma);
                (q, (1.0 - 2.0 * below).clamp(0.0, 1.0))
            }
        }
    }
}

/// The exact null distribution of U for samples of `m` and `n` distinct values, as its
/// cumulative distribution function over `0..=⌊mn/2⌋` (the rest follows by symmetry).
#[derive(Debug)]
struct ExactTable {
    cdf: Vec<f64>,
}

impl ExactTable {
    /// The counts of U are the coefficients of the Gaussian binomial coefficient
    /// `[m+n choose m]_q = Π_{k=1..m} (1 − q^(n+k)) / (1 − q^k)`, built one factor at a
    /// time: dividing by `(1 − q^k)` is a running sum with stride `k`, multiplying by
    /// `(1 − q^(n+k))` a subtraction with stride `n + k`. Counted exactly in `u128`
    /// (`C(m+n, m)` fits for every table [`EXACT_MAX_PAIRS`] allows); `None` on overflow.
    fn new(m: usize, n: usize) -> Option<Self> {
        let (small, large) = (m.min(n), m.max(n));
        let half = small.checked_mul(large)? / 2;
        let mut counts = vec![0_u128; half + 1];
        counts[0] = 1;
        let mut total: u128 = 1;
        for k in 1..=small {
            for j in k..=half {
                counts[j] = counts[j].checked_add(counts[j - k])?;
            }
            for j in (large + k..=half).rev() {
                counts[j] = counts[j].checked_sub(counts[j - large - k])?;
            }
            // C(large + k, k) = C(large + k − 1, k − 1)·(large + k)/k, exact.
            total = total.checked_mul((large + k) as u128)? / k as u128;
        }
        let total_f = total as f64;
        let mut running: u128 = 0;
        let cdf = counts
            .iter()
            .map(|&c| {
                running = running.saturating_add(c);
                running as f64 / total_f
            })
            .collect();
        Some(Self { cdf })
    }

    /// `P(U ≤ k)`; `k` beyond the table (only `k ≥ mn/2`) uses the symmetry.
    fn cdf(&self, k: usize) -> f64 {
        match self.cdf.get(k) {
            Some(&p) => p,
            None => 1.0,
        }
    }

    /// The smallest `q` with `P(U ≤ q) ≥ tail`, for `tail ≤ ½`.
    fn quantile(&self, tail: f64) -> u64 {
        self.cdf.partition_point(|&p| p < tail) as u64
    }
}

/// The Hodges–Lehmann shift computed on both samples scaled by one power of two into
/// `[-1, 1]`, so that no difference overflows.
#[derive(Debug)]
struct ScaledShift {
    scale: Scale,
    estimate: f64,
    low: f64,
    high: f64,
    confidence: f64,
}

impl ScaledShift {
    fn of(base: &[f64], new: &[f64], confidence: f64) -> Option<Self> {
        if !(confidence > 0.0 && confidence < 1.0) {
            return None;
        }
        let null = Null::of(base, new)?;
        let scale = Scale::of_all(&[base, new]);
        let mut xs = scale.down_all(base);
        let mut ys = scale.down_all(new);
        xs.sort_by(f64::total_cmp);
        ys.sort_by(f64::total_cmp);
        let diffs = Differences { xs: &xs, ys: &ys };
        let mn = (xs.len() as u64).checked_mul(ys.len() as u64)?;
        let estimate = if mn % 2 == 1 {
            diffs.kth(mn.div_ceil(2))
        } else {
            let (a, b) = (diffs.kth(mn / 2), diffs.kth(mn / 2 + 1));
            a / 2.0 + b / 2.0
        };
        let (q, reached) = null.interval_rank(mn, (1.0 - confidence) / 2.0);
        Some(Self {
            scale,
            estimate,
            low: diffs.kth(q),
            high: diffs.kth(mn + 1 - q),
            confidence: reached,
        })
    }
}

/// The `m·n` differences `y_j − x_i` of two ascending samples, never materialised.
#[derive(Debug)]
struct Differences<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
}

impl Differences<'_> {
    /// How many differences are `≤ d`. `fl(y − x)` falls as `x` grows and rises with `y`,
    /// so one pass with two pointers counts them.
    fn count_at_most(&self, d: f64) -> u64 {
        let mut i = 0;
        let mut count = 0_u64;
        for &y in self.ys {
            while i < self.xs.len() && y - self.xs[i] > d {
                i += 1;
            }
            count += (self.xs.len() - i) as u64;
        }
        count
    }

    /// The `k`-th smallest difference, `1 ≤ k ≤ m·n`: the smallest `f64` at which the count
    /// reaches `k`, by bisection over the ordered bit patterns of the `f64`s (at most 64
    /// counts). Every count step is at a difference, so the result is one.
    fn kth(&self, k: u64) -> f64 {
        let (x_first, x_last) = (self.xs[0], self.xs[self.xs.len() - 1]);
        let (y_first, y_last) = (self.ys[0], self.ys[self.ys.len() - 1]);
        let (mut lo, mut hi) = (order_key(y_first - x_last), order_key(y_last - x_first));
        // Invariant: count(from_key(hi)) ≥ k; the answer lies in [lo, hi].
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.count_at_most(from_order_key(mid)) >= k {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        from_order_key(hi)
    }
}

/// A key whose unsigned order is the numeric order of finite `f64`s (−0 just below +0).
fn order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn from_order_key(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values computed by scipy (tests/fixtures/stats/reference.py).
    const REFERENCE: &str = include_str!("../../tests/fixtures/stats/reference.json");

    fn reference() -> serde_json::Value {
        serde_json::from_str(REFERENCE).unwrap()
    }

    fn f(v: &serde_json::Value) -> f64 {
        v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
    }

    fn samples(v: &serde_json::Value) -> Vec<f64> {
        v.as_array().unwrap().iter().map(f).collect()
    }

    #[track_caller]
    fn close(got: f64, want: f64, rel: f64, what: &str) {
        let tol = rel * want.abs().max(1e-300);
        assert!(
            (got - want).abs() <= tol || got == want,
            "{what}: got {got:e}, scipy {want:e}"
        );
    }

    #[test]
    fn mann_whitney_matches_scipy() {
        let r = reference();
        for c in r["cases"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let (x, y) = (samples(&c["base"]), samples(&c["new"]));
            let want = &c["mann_whitney"];
            let got = mann_whitney(&x, &y).unwrap_or_else(|| panic!("{name}: no test"));
            close(got.u, f(&want["u"]), 1e-12, &format!("{name}: U"));
            let method = match got.method {
                Method::Exact => "exact",
                Method::Asymptotic => "asymptotic",
            };
            assert_eq!(method, want["method"], "{name}: method");
            // Exact p-values are ratios of counts; asymptotic ones go through erfc.
            let rel = if method == "exact" { 1e-9 } else { 1e-7 };
            close(got.p, f(&want["p"]), rel, &format!("{name}: p"));
        }
    }

    #[test]
    fn welch_matches_scipy() {
        let r = reference();
        let mut checked = 0;
        for c in r["cases"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let (x, y) = (samples(&c["base"]), samples(&c["new"]));
            let got = welch(&x, &y);
            if x.len() < 2 || y.len() < 2 {
                assert!(got.is_none(), "{name}: a sample of one has no variance");
                continue;
            }
            // Null: scipy has no finite answer (see the generator); not a reference.
            let Some(want) = c["welch"].as_object() else {
                continue;
            };
            let got = got.unwrap_or_else(|| panic!("{name}: no test"));
            close(got.t, f(&want["t"]), 1e-9, &format!("{name}: t"));
            close(got.df, f(&want["df"]), 1e-9, &format!("{name}: df"));
            close(got.p, f(&want["p"]), 1e-7, &format!("{name}: p"));
            checked += 1;
        }
        assert!(checked >= 15, "only {checked} Welch cases checked");
    }

    #[test]
    fn hodges_lehmann_and_its_interval_match_the_reference() {
        let r = reference();
        let confidence = f(&r["confidence"]);
        for c in r["cases"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let (x, y) = (samples(&c["base"]), samples(&c["new"]));
            let want = &c["hodges_lehmann"];
            let s =
                hodges_lehmann(&x, &y, confidence).unwrap_or_else(|| panic!("{name}: no shift"));
            for (got, key) in [(s.estimate, "estimate"), (s.low, "low"), (s.high, "high")] {
                close(got, f(&want[key]), 1e-12, &format!("{name}: {key}"));
            }
            close(
                s.confidence,
                f(&want["confidence"]),
                1e-9,
                &format!("{name}: reached"),
            );
            let cmp = compare(&x, &y, confidence).unwrap();
            for (got, key) in [
                (cmp.change_pct, "change_pct"),
                (cmp.ci_low_pct, "ci_low_pct"),
                (cmp.ci_high_pct, "ci_high_pct"),
            ] {
                match want[key].as_f64() {
                    Some(w) => close(got.unwrap(), w, 1e-9, &format!("{name}: {key}")),
                    None => assert_eq!(got, None, "{name}: {key}"),
                }
            }
        }
    }

    #[test]
    fn benjamini_hochberg_matches_scipy() {
        let r = reference();
        for fam in r["benjamini_hochberg"].as_array().unwrap() {
            let p: Vec<Option<f64>> = samples(&fam["p"]).into_iter().map(Some).collect();
            let q = benjamini_hochberg(&p);
            for (got, want) in q.iter().zip(samples(&fam["q"])) {
                close(got.unwrap(), want, 1e-12, "q");
            }
        }
        assert_eq!(
            benjamini_hochberg(&[None, Some(f64::NAN), Some(0.01)]),
            [None, None, Some(0.01)]
        );
    }

    #[test]
    fn the_verdict_rule_as_documented() {
        let lower = VerdictRule::new(Direction::LowerIsBetter, 5.0);
        let higher = VerdictRule::new(Direction::HigherIsBetter, 5.0);
        let v = |lo, hi, p, rule: &VerdictRule| verdict(Some((lo, hi)), Some(p), rule);
        assert_eq!(v(1.0, 3.0, 0.001, &lower), Verdict::Unchanged);
        assert_eq!(v(6.0, 12.0, 0.01, &lower), Verdict::Regressed);
        assert_eq!(v(6.0, 12.0, 0.01, &higher), Verdict::Improved);
        assert_eq!(v(-12.0, -6.0, 0.01, &lower), Verdict::Improved);
        assert_eq!(v(6.0, 12.0, 0.2, &lower), Verdict::Inconclusive);
        assert_eq!(v(3.0, 12.0, 0.01, &lower), Verdict::Inconclusive);
        assert_eq!(v(-8.0, 9.0, 0.5, &lower), Verdict::Inconclusive);
        assert_eq!(verdict(None, Some(0.01), &lower), Verdict::Inconclusive);
        let bad = VerdictRule {
            alpha: 1.5,
            ..lower
        };
        assert_eq!(v(6.0, 12.0, 0.01, &bad), Verdict::Inconclusive);
    }

    #[test]
    fn no_input_panics() {
        let odd = [
            vec![],
            vec![f64::NAN],
            vec![f64::INFINITY, 1.0],
            vec![f64::MAX, -f64::MAX],
            vec![0.0; 3],
            vec![-0.0, 0.0],
            vec![1e-320, 2e-320],
        ];
        for x in &odd {
            for y in &odd {
                let _ = mann_whitney(x, y);
                let _ = welch(x, y);
                let _ = hodges_lehmann(x, y, 0.95);
                let _ = compare(x, y, 0.95);
                let _ = compare(x, y, 1.5);
            }
        }
        assert!(mann_whitney(&[], &[1.0]).is_none());
        assert!(compare(&[1.0, f64::NAN], &[1.0], 0.95).is_none());
    }
}
