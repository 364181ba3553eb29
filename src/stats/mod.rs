//! Statistics over samples: the stats object, outliers, confidence intervals, and in
//! [`compare`] the two-sample tests, shift and verdict of comparisons. Pure.
//!
//! Everything here takes `&[f64]` and touches no clock, process or file. The arithmetic
//! is done on samples scaled by a power of two into `[-1, 1]` (an exact operation), so
//! neither huge magnitudes (`1e308`, whose sum overflows) nor tiny ones (`1e-200`, whose
//! squares underflow) corrupt the mean, the standard deviation or the outlier scores.

pub mod compare;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The stats object of the receipt contract: a summary of one measure over `n` samples.
///
/// All values are in the unit of the samples (the receipt field's name carries it, e.g.
/// `wall_ms`), except `n` (a count) and `cv` (a dimensionless fraction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Stats {
    /// Number of samples.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median; always equal to `p50`.
    pub median: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Sample standard deviation (divisor `n - 1`); `null` when `n < 2`.
    pub stddev: Option<f64>,
    /// Coefficient of variation, `stddev / |mean|`, as a fraction (`0.1` is 10%);
    /// `null` when `stddev` is `null` or the mean is zero.
    pub cv: Option<f64>,
    /// 50th percentile (linear interpolation between closest ranks, R type 7).
    pub p50: f64,
    /// 90th percentile (R type 7).
    pub p90: f64,
    /// 95th percentile (R type 7).
    pub p95: f64,
    /// 99th percentile (R type 7).
    pub p99: f64,
    /// Lower bound of the 95% confidence interval of the mean (Student's t);
    /// `null` when `n < 2`.
    pub ci95_low: Option<f64>,
    /// Upper bound of the 95% confidence interval of the mean (Student's t);
    /// `null` when `n < 2`.
    pub ci95_high: Option<f64>,
    /// Every sample, in the order given (a receipt's: by run), so that a stored receipt
    /// can be tested against another. Empty in receipts of schema version 1.
    #[serde(default)]
    pub samples: Vec<f64>,
}

/// Summarises `samples` (in any order) into a [`Stats`].
///
/// Returns `None` when `samples` is empty or any sample is NaN or infinite: there is no
/// meaningful summary of such data, and the receipt's JSON cannot carry non-finite numbers.
///
/// - `stddev` is the sample standard deviation (divisor `n - 1`), `None` for `n < 2`.
/// - `cv` is `stddev / |mean|` as a fraction, `None` when `stddev` is `None` or the mean
///   is exactly zero.
/// - Percentiles interpolate linearly between closest ranks (R type 7, numpy's default):
///   for probability `p` the rank is `h = (n - 1)·p` over the sorted samples, and the
///   value is `x[⌊h⌋] + (h - ⌊h⌋)·(x[⌊h⌋ + 1] - x[⌊h⌋])`. `median` is `p50`.
/// - The 95% confidence interval of the mean is `mean ± t(0.975, n - 1)·stddev/√n`,
///   `None` for `n < 2`. It is symmetric and may extend beyond `[min, max]` for small `n`.
/// - A value that would overflow `f64` (only possible within a factor of ~10 of
///   `f64::MAX`) is reported as `None` rather than as infinity.
pub fn summarize(samples: &[f64]) -> Option<Stats> {
    if samples.is_empty() || samples.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let n = samples.len();
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (min, max) = (sorted[0], sorted[n - 1]);

    let scale = Scale::of(samples);
    let scaled: Vec<f64> = samples.iter().map(|&x| scale.down(x)).collect();
    let moments = Moments::of(&scaled);
    // Rounding may put the mean a hair outside the range of the samples; it never is.
    let mean = scale.up(moments.mean).clamp(min, max);

    let stddev_scaled = moments.stddev;
    let stddev = stddev_scaled.map(|s| scale.up(s)).filter(|s| s.is_finite());
    // The ratio is scale-free, so it is taken in the scaled domain where it cannot
    // spuriously overflow or underflow.
    let cv = stddev
        .and(stddev_scaled)
        .filter(|_| moments.mean != 0.0)
        .map(|s| s / moments.mean.abs())
        .filter(|cv| cv.is_finite());

    let (ci95_low, ci95_high) = match stddev_scaled.and_then(|s| {
        let half = t_975(n - 1)? * s / (n as f64).sqrt();
        let (low, high) = (scale.up(moments.mean - half), scale.up(moments.mean + half));
        (low.is_finite() && high.is_finite()).then_some((low, high))
    }) {
        Some((low, high)) => (Some(low), Some(high)),
        None => (None, None),
    };

    let p50 = percentile_sorted(&sorted, 0.50);
    Some(Stats {
        n,
        mean,
        median: p50,
        min,
        max,
        stddev,
        cv,
        p50,
        p90: percentile_sorted(&sorted, 0.90),
        p95: percentile_sorted(&sorted, 0.95),
        p99: percentile_sorted(&sorted, 0.99),
        ci95_low,
        ci95_high,
        samples: samples.to_vec(),
    })
}

/// The modified z-score above which a sample is an outlier (Iglewicz & Hoaglin).
const OUTLIER_Z: f64 = 3.5;
/// `Φ⁻¹(0.75)`: makes the median absolute deviation a consistent estimator of σ.
const MAD_FACTOR: f64 = 0.6745;
/// `√(π/2)`: makes the mean absolute deviation a consistent estimator of σ.
const MEAN_AD_FACTOR: f64 = 1.253314;

/// Indices (ascending, into `samples`) of the samples that are outliers.
///
/// A sample `x` is an outlier when its modified z-score
/// `|0.6745·(x - median) / MAD|` exceeds 3.5, where MAD is the median absolute deviation
/// from the median (Iglewicz & Hoaglin, as hyperfine does).
///
/// When more than half of the samples are equal, MAD is zero and the score is undefined.
/// Then the score is `|x - median| / (1.253314·MeanAD)` instead, with MeanAD the mean
/// absolute deviation from the median (the usual fallback, e.g. in IBM SPSS): a lone
/// sample far from a crowd of equal ones is flagged, a small step is not. When MeanAD is
/// zero as well, every sample equals the median and none is an outlier.
///
/// Returns no indices when `samples` is empty or any sample is NaN or infinite (see
/// [`summarize`]).
pub fn outliers(samples: &[f64]) -> Vec<usize> {
    if samples.is_empty() || samples.iter().any(|x| !x.is_finite()) {
        return Vec::new();
    }
    // The score is a ratio of deviations, so it can be computed on scaled samples.
    let scale = Scale::of(samples);
    let scaled: Vec<f64> = samples.iter().map(|&x| scale.down(x)).collect();
    let median = median_unsorted(&scaled);
    let deviations: Vec<f64> = scaled.iter().map(|x| (x - median).abs()).collect();
    let mad = median_unsorted(&deviations);
    let spread = if mad > 0.0 {
        mad / MAD_FACTOR
    } else {
        MEAN_AD_FACTOR * deviations.iter().sum::<f64>() / deviations.len() as f64
    };
    if spread <= 0.0 {
        return Vec::new();
    }
    deviations
        .iter()
        .enumerate()
        .filter(|&(_, d)| d / spread > OUTLIER_Z)
        .map(|(i, _)| i)
        .collect()
}

/// Whether the measure varies more than `threshold`, a fraction of the mean (the runner
/// warns at `0.10`, i.e. CV > 10%). False when the CV is unknown (`n < 2`, zero mean).
pub fn high_variance(stats: &Stats, threshold: f64) -> bool {
    stats.cv.is_some_and(|cv| cv > threshold)
}

/// The 0.975 quantile of Student's t distribution with `df` degrees of freedom.
fn t_975(df: usize) -> Option<f64> {
    let t = StudentsT::new(0.0, 1.0, df as f64).ok()?.inverse_cdf(0.975);
    (t.is_finite() && t > 0.0).then_some(t)
}

/// R type 7 percentile of non-empty, ascending, finite samples; `p` in `[0, 1]`.
pub(crate) fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    let a = sorted[lo];
    let Some(&b) = sorted.get(lo + 1) else {
        return a;
    };
    if frac == 0.0 || a == b {
        return a;
    }
    let gap = b - a;
    if gap.is_finite() {
        a + frac * gap
    } else {
        // Samples near ±f64::MAX: the gap overflows, the weighted sum does not.
        a * (1.0 - frac) + b * frac
    }
}

/// 1 / Φ⁻¹(3/4): scales a median absolute deviation to a normal distribution's standard
/// deviation (scipy's `median_abs_deviation(scale="normal")`).
const MAD_TO_SD: f64 = 1.482_602_218_505_602;

/// The robust coefficient of variation of finite samples: the median absolute deviation,
/// scaled by 1.4826 to estimate a normal distribution's standard deviation, over the
/// median. One run slowed 10x by a busy machine moves it little, where it doubles the
/// CV. `None` for fewer than two samples or a median of zero.
pub fn robust_cv(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let median = median_unsorted(xs);
    if median == 0.0 {
        return None;
    }
    let deviations: Vec<f64> = xs.iter().map(|x| (x - median).abs()).collect();
    Some(MAD_TO_SD * median_unsorted(&deviations) / median.abs())
}

/// Median of non-empty, finite samples in any order.
fn median_unsorted(xs: &[f64]) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile_sorted(&sorted, 0.5)
}

/// Mean and sample standard deviation of samples already scaled into `[-1, 1]`.
#[derive(Debug)]
struct Moments {
    mean: f64,
    stddev: Option<f64>,
}

impl Moments {
    fn of(xs: &[f64]) -> Self {
        let n = xs.len() as f64;
        // Shifting by one of the samples makes constant input exact (mean equal to the
        // value, deviation 0) and limits cancellation; in the scaled domain the shifted
        // values stay within [-2, 2].
        let origin = xs[0];
        let shifted_mean = xs.iter().map(|x| x - origin).sum::<f64>() / n;
        let mean = origin + shifted_mean;
        let stddev = (xs.len() >= 2).then(|| {
            // Two-pass with the compensation term (Chan, Golub & LeVeque): the second
            // sum is zero in exact arithmetic and removes the first's rounding error.
            let (sq, lin) = xs.iter().fold((0.0, 0.0), |(sq, lin), x| {
                let d = (x - origin) - shifted_mean;
                (sq + d * d, lin + d)
            });
            ((sq - lin * lin / n) / (n - 1.0)).max(0.0).sqrt()
        });
        Self { mean, stddev }
    }
}

/// An exact rescaling by a power of two that brings the largest magnitude into `[0.5, 1)`.
#[derive(Debug, Clone, Copy)]
struct Scale {
    exponent: i32,
}

impl Scale {
    fn of(xs: &[f64]) -> Self {
        let largest = xs.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        Self {
            exponent: binary_exponent(largest),
        }
    }

    /// The scale of several samples together.
    fn of_all(samples: &[&[f64]]) -> Self {
        let largest = samples
            .iter()
            .flat_map(|xs| xs.iter())
            .fold(0.0_f64, |m, x| m.max(x.abs()));
        Self {
            exponent: binary_exponent(largest),
        }
    }

    fn down_all(self, xs: &[f64]) -> Vec<f64> {
        xs.iter().map(|&x| self.down(x)).collect()
    }

    fn down(self, x: f64) -> f64 {
        mul_pow2(x, -self.exponent)
    }

    fn up(self, x: f64) -> f64 {
        mul_pow2(x, self.exponent)
    }
}

/// `e` such that `|x|` lies in `[2^(e-1), 2^e)`; 0 for zero. `x` finite.
fn binary_exponent(x: f64) -> i32 {
    if x == 0.0 {
        return 0;
    }
    let biased = ((x.to_bits() >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: normalise first (2^64 is exact).
        binary_exponent(x * f64::from_bits(((64 + 1023) as u64) << 52)) - 64
    } else {
        biased - 1022
    }
}

/// `x · 2^e`, exact unless the result itself over- or underflows. Exponents here lie in
/// `[-1074, 1024]`, beyond one normal power of two, so the factor is applied in three parts.
fn mul_pow2(x: f64, e: i32) -> f64 {
    let third = e / 3;
    let rest = e - 2 * third;
    x * pow2(third) * pow2(third) * pow2(rest)
}

/// `2^e` for `e` in `[-1022, 1023]` (a normal `f64`).
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_cv_matches_scipy_and_shrugs_off_an_outlier() {
        // scipy 1.17: median_abs_deviation(x, scale="normal") / median(x)
        let with_outlier = robust_cv(&[10.0, 11.0, 12.0, 13.0, 100.0]).unwrap();
        assert!(
            (with_outlier - 0.123_550_184_875_466_83).abs() < 1e-12,
            "{with_outlier}"
        );
        let even = robust_cv(&[10.2, 10.1, 10.5, 10.3]).unwrap();
        assert!((even - 0.014_464_411_887_859_609).abs() < 1e-12, "{even}");
        assert_eq!(robust_cv(&[5.0]), None);
        assert_eq!(robust_cv(&[0.0, 0.0, 1.0]), None, "median zero");
    }

    /// Reference values below were computed independently in Python with exact rational
    /// arithmetic (`fractions`, `decimal` at 50 digits) and cross-checked against
    /// `statistics.quantiles(method="inclusive")` (R type 7). t quantiles are table
    /// values: t(0.975, 1) = 12.70620474, t(0.975, 4) = 2.776445105,
    /// t(0.975, 9) = 2.262157163.
    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(f64::MIN_POSITIVE)
    }

    #[track_caller]
    fn assert_close(actual: f64, expected: f64) {
        assert!(
            close(actual, expected, 1e-9),
            "expected {expected:e}, got {actual:e}"
        );
    }

    #[track_caller]
    fn assert_close_opt(actual: Option<f64>, expected: f64, rel: f64) {
        let actual = actual.unwrap_or_else(|| panic!("expected {expected:e}, got None"));
        assert!(
            close(actual, expected, rel),
            "expected {expected:e}, got {actual:e}"
        );
    }

    #[test]
    fn five_unsorted_samples_match_reference() {
        let s = summarize(&[12.5, 10.0, 11.0, 14.0, 10.5]).unwrap();
        assert_eq!(s.n, 5);
        assert_close(s.mean, 11.6);
        assert_eq!((s.min, s.max), (10.0, 14.0));
        assert_close(s.median, 11.0);
        assert_eq!(s.median, s.p50);
        assert_close(s.p90, 13.4);
        assert_close(s.p95, 13.7);
        assert_close(s.p99, 13.94);
        assert_close_opt(s.stddev, 1.6355427233796127, 1e-12);
        assert_close_opt(s.cv, 0.14099506236031142, 1e-12);
        // The table t is given to 10 digits, so the bounds agree to ~1e-9.
        assert_close_opt(s.ci95_low, 9.56920548300007, 1e-8);
        assert_close_opt(s.ci95_high, 13.630794516999929, 1e-8);
    }

    #[test]
    fn ten_samples_with_an_outlier_match_reference() {
        let xs = [
            101.2, 98.7, 100.4, 99.9, 102.3, 97.8, 100.1, 150.0, 99.5, 100.8,
        ];
        let s = summarize(&xs).unwrap();
        assert_eq!(s.n, 10);
        assert_close(s.mean, 105.07);
        assert_eq!((s.min, s.max), (97.8, 150.0));
        assert_close(s.median, 100.25);
        assert_close(s.p90, 107.07);
        assert_close(s.p95, 128.535);
        assert_close(s.p99, 145.707);
        assert_close_opt(s.stddev, 15.836950464025579, 1e-12);
        assert_close_opt(s.cv, 0.15072761458099912, 1e-12);
        assert_close_opt(s.ci95_low, 93.74092811503337, 1e-8);
        assert_close_opt(s.ci95_high, 116.39907188496663, 1e-8);
        // Modified z-score of 150.0 is 39.5; the next largest is 1.9.
        assert_eq!(outliers(&xs), vec![7]);
        assert!(high_variance(&s, 0.10));
        assert!(!high_variance(&s, 0.20));
    }

    #[test]
    fn two_samples_use_one_degree_of_freedom() {
        let s = summarize(&[3.0, 1.0]).unwrap();
        assert_close(s.mean, 2.0);
        assert_close(s.median, 2.0);
        assert_close(s.p90, 2.8);
        assert_close(s.p95, 2.9);
        assert_close(s.p99, 2.98);
        assert_close_opt(s.stddev, std::f64::consts::SQRT_2, 1e-12);
        assert_close_opt(s.cv, std::f64::consts::FRAC_1_SQRT_2, 1e-12);
        assert_close_opt(s.ci95_low, -10.70620474, 1e-8);
        assert_close_opt(s.ci95_high, 14.70620474, 1e-8);
        assert!(outliers(&[3.0, 1.0]).is_empty());
    }

    #[test]
    fn students_t_quantiles_match_tables() {
        assert!(close(t_975(1).unwrap(), 12.70620474, 1e-8));
        assert!(close(t_975(4).unwrap(), 2.776445105, 1e-8));
        assert!(close(t_975(9).unwrap(), 2.262157163, 1e-8));
        assert_eq!(t_975(0), None);
    }

    #[test]
    fn one_sample_has_no_spread() {
        let s = summarize(&[42.0]).unwrap();
        let expected = Stats {
            n: 1,
            mean: 42.0,
            median: 42.0,
            min: 42.0,
            max: 42.0,
            stddev: None,
            cv: None,
            p50: 42.0,
            p90: 42.0,
            p95: 42.0,
            p99: 42.0,
            ci95_low: None,
            ci95_high: None,
            samples: vec![42.0],
        };
        assert_eq!(s, expected);
        assert!(!high_variance(&s, 0.10));
        assert!(outliers(&[42.0]).is_empty());
    }

    #[test]
    fn constant_samples_are_exact() {
        // 0.1 + 0.1 + 0.1 != 0.3 in floating point; the summary must still be exact.
        let s = summarize(&[0.1; 7]).unwrap();
        assert_eq!(s.mean, 0.1);
        assert_eq!(s.median, 0.1);
        assert_eq!((s.p90, s.p99), (0.1, 0.1));
        assert_eq!(s.stddev, Some(0.0));
        assert_eq!(s.cv, Some(0.0));
        assert_eq!((s.ci95_low, s.ci95_high), (Some(0.1), Some(0.1)));
        assert!(outliers(&[0.1; 7]).is_empty());
    }

    #[test]
    fn zero_mean_has_no_cv() {
        let s = summarize(&[-1.0, 1.0]).unwrap();
        assert_eq!(s.mean, 0.0);
        assert_close_opt(s.stddev, std::f64::consts::SQRT_2, 1e-12);
        assert_eq!(s.cv, None);
        assert!(!high_variance(&s, 0.10));
    }

    #[test]
    fn huge_magnitudes_do_not_overflow() {
        // A naive sum (and Python's statistics.quantiles) overflows here.
        let s = summarize(&[1.7e308, 1e308, 1.5e308]).unwrap();
        assert_close(s.mean, 1.4e308);
        assert_close(s.median, 1.5e308);
        assert_close(s.p90, 1.66e308);
        assert_close(s.p95, 1.68e308);
        assert_close(s.p99, 1.696e308);
        assert_close_opt(s.stddev, 3.605551275463989e307, 1e-12);
        assert_close_opt(s.cv, 0.25753937681885636, 1e-12);
        // mean + t(0.975, 2)·s/√3 ≈ 1.4e308 + 8.96e307 overflows: no interval.
        assert_eq!((s.ci95_low, s.ci95_high), (None, None));
    }

    #[test]
    fn extreme_spread_reports_overflowing_values_as_none() {
        let s = summarize(&[-f64::MAX, f64::MAX]).unwrap();
        assert_eq!(s.mean, 0.0);
        assert_eq!(s.median, 0.0);
        assert_close(s.p90, 0.8 * f64::MAX);
        assert_eq!(s.stddev, None);
        assert_eq!(s.cv, None);
        assert_eq!(s.ci95_low, None);
    }

    #[test]
    fn tiny_magnitudes_do_not_underflow() {
        // Squared deviations of 1e-200 underflow to zero without rescaling.
        let s = summarize(&[3e-200, 1e-200, 2e-200]).unwrap();
        assert_close(s.mean, 2e-200);
        assert_close(s.p90, 2.8e-200);
        assert_close_opt(s.stddev, 1e-200, 1e-12);
        assert_close_opt(s.cv, 0.5, 1e-12);
        assert!(s.ci95_low.is_some());

        let sub = summarize(&[5e-324, 1e-323, 1.5e-323]).unwrap();
        assert_eq!(sub.mean, 1e-323);
        assert_close_opt(sub.stddev, 5e-324, 1e-12);
        assert_close_opt(sub.cv, 0.5, 1e-12);
    }

    #[test]
    fn non_finite_or_empty_input_has_no_summary() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[1.0, f64::NAN, 3.0]), None);
        assert_eq!(summarize(&[1.0, f64::INFINITY]), None);
        assert_eq!(summarize(&[f64::NEG_INFINITY]), None);
        assert!(outliers(&[]).is_empty());
        assert!(outliers(&[1.0, 1.0, 1.0, f64::NAN, 1e9]).is_empty());
    }

    #[test]
    fn outliers_use_the_modified_z_score() {
        // Scores: 1.012, -0.674, 0, 2.023, -0.337 — nothing beyond 3.5.
        assert!(outliers(&[12.5, 10.0, 11.0, 14.0, 10.5]).is_empty());
        // Both tails are flagged; indices follow the input order.
        let xs = [5.0, 100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 180.0];
        assert_eq!(outliers(&xs), vec![0, 7]);
        // Scale does not matter.
        let huge: Vec<f64> = xs.iter().map(|x| x * 1e305).collect();
        assert_eq!(outliers(&huge), vec![0, 7]);
        let tiny: Vec<f64> = xs.iter().map(|x| x * 1e-310).collect();
        assert_eq!(outliers(&tiny), vec![0, 7]);
    }

    #[test]
    fn outliers_fall_back_to_mean_absolute_deviation_when_mad_is_zero() {
        // MAD = 0; MeanAD = 40/6, score of 50 = 40 / (1.253314·6.667) = 4.787.
        assert_eq!(outliers(&[10.0, 10.0, 50.0, 10.0, 10.0, 10.0]), vec![2]);
        // MAD = 0; MeanAD = 0.25, score of 11 = 3.192: a small step is not an outlier.
        assert!(outliers(&[10.0, 10.0, 10.0, 11.0]).is_empty());
    }

    #[test]
    fn high_variance_is_strictly_above_the_threshold() {
        let mut s = summarize(&[1.0, 2.0]).unwrap();
        s.cv = Some(0.10);
        assert!(!high_variance(&s, 0.10));
        s.cv = Some(0.1000001);
        assert!(high_variance(&s, 0.10));
        s.cv = None;
        assert!(!high_variance(&s, 0.0));
    }

    #[test]
    fn serializes_with_the_contract_field_names() {
        let s = summarize(&[42.0]).unwrap();
        let json = serde_json::to_value(&s).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "ci95_high",
                "ci95_low",
                "cv",
                "max",
                "mean",
                "median",
                "min",
                "n",
                "p50",
                "p90",
                "p95",
                "p99",
                "samples",
                "stddev"
            ]
        );
        assert_eq!(json["stddev"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Stats>(json.clone()).unwrap(), s);

        // Read tolerantly, published strictly.
        let mut extra = json;
        extra["stdev"] = serde_json::json!(1.0);
        assert_eq!(serde_json::from_value::<Stats>(extra).unwrap(), s);
        let schema = serde_json::to_value(schemars::schema_for!(Stats)).unwrap();
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn exponent_helpers_are_exact() {
        for x in [1.0, 0.75, 3.0, 1e308, f64::MAX, 1e-300, 5e-324, 2.2e-308] {
            let e = binary_exponent(x);
            let m = mul_pow2(x, -e);
            assert!((0.5..1.0).contains(&m), "{x:e} scaled to {m}");
            assert_eq!(mul_pow2(m, e), x);
        }
        assert_eq!(binary_exponent(0.0), 0);
    }
}
