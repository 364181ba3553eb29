//! A/A calibration (`benchmark calibrate`): the same suite run several times on this
//! machine, every pair of rounds compared as if one were a change, to measure each
//! measure's own noise instead of guessing a threshold. Pure: the rounds' summaries in,
//! `calibration.json` out.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Options, compare};
use crate::receipt::{Environment, Summary};

/// Bumped on any incompatible change to `calibration.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// `calibration.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Calibration {
    pub schema_version: u32,
    pub suite: String,
    /// Rounds (whole invocations of the suite) and measured runs in each.
    pub rounds: u32,
    pub runs: u32,
    pub alpha: f64,
    /// The machine it was measured on (its first round's).
    pub environment: Environment,
    pub measures: Vec<MeasureNoise>,
}

impl Calibration {
    /// The noise bands by `(step, measure)`, for [`Options::calibration`].
    pub fn bands(&self) -> BTreeMap<(String, String), f64> {
        self.measures
            .iter()
            .map(|m| ((m.step.clone(), m.measure.clone()), m.noise_band_pct))
            .collect()
    }
}

/// One measure's noise on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MeasureNoise {
    pub step: String,
    pub measure: String,
    pub unit: Option<String>,
    /// The mean coefficient of variation within a round, percent: run-to-run spread.
    pub spread_pct: f64,
    /// The coefficient of variation of the rounds' medians, percent: drift between
    /// invocations.
    pub drift_pct: f64,
    /// Pairs of rounds compared.
    pub pairs: u32,
    /// Pairs whose Mann–Whitney p fell below alpha although nothing changed.
    pub false_alarms: u32,
    /// `false_alarms / pairs`: what a test without a noise band would cry wolf at.
    pub false_alarm_rate: f64,
    /// The band that makes every A/A pair `unchanged`: the largest interval bound, in
    /// absolute percent, of any pair's change. Also the smallest change this suite, with
    /// its run count, can tell from noise on this machine.
    pub noise_band_pct: f64,
}

/// Calibrate from the summaries of the rounds (at least two).
pub fn calibrate(rounds: &[Summary], alpha: f64) -> Option<Calibration> {
    let first = rounds.first()?;
    if rounds.len() < 2 {
        return None;
    }
    // Per (step, measure): the comparisons of every pair, and each round's stats.
    let mut pairs: BTreeMap<(String, String), Vec<super::MeasureComparison>> = BTreeMap::new();
    let opts = Options {
        alpha,
        noise_pct: Some(0.0),
        ..Options::default()
    };
    for i in 0..rounds.len() {
        for j in i + 1..rounds.len() {
            let r = compare(&rounds[i], &rounds[j], ("", ""), &opts);
            for m in r.measures {
                pairs
                    .entry((m.step.clone(), m.measure.clone()))
                    .or_default()
                    .push(m);
            }
        }
    }
    let measures = pairs
        .into_iter()
        .filter_map(|((step, measure), ms)| {
            let tested: Vec<_> = ms.iter().filter(|m| m.p_mann_whitney.is_some()).collect();
            if tested.is_empty() {
                return None;
            }
            let band = tested
                .iter()
                .filter_map(|m| Some(m.ci95_low_pct?.abs().max(m.ci95_high_pct?.abs())))
                .fold(0.0_f64, f64::max);
            let false_alarms = tested
                .iter()
                .filter(|m| m.p_mann_whitney.is_some_and(|p| p < alpha))
                .count() as u32;
            // Each round's own stats of this measure.
            let per_round: Vec<&crate::stats::Stats> = rounds
                .iter()
                .filter_map(|r| super::measure_stats(r, &step, &measure))
                .collect();
            let spread = per_round
                .iter()
                .map(|s| s.cv.unwrap_or(0.0) * 100.0)
                .sum::<f64>()
                / per_round.len().max(1) as f64;
            let medians: Vec<f64> = per_round.iter().map(|s| s.median).collect();
            let drift = crate::stats::summarize(&medians)
                .and_then(|s| s.cv)
                .unwrap_or(0.0)
                * 100.0;
            Some(MeasureNoise {
                unit: tested[0].unit.clone(),
                step,
                measure,
                spread_pct: spread,
                drift_pct: drift,
                pairs: tested.len() as u32,
                false_alarms,
                false_alarm_rate: f64::from(false_alarms) / tested.len() as f64,
                noise_band_pct: band,
            })
        })
        .collect();
    Some(Calibration {
        schema_version: SCHEMA_VERSION,
        suite: first.suite.name.clone(),
        rounds: rounds.len() as u32,
        runs: first.runs,
        alpha,
        environment: first.environment.clone(),
        measures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::tests::summary_with;

    #[test]
    fn the_band_covers_every_aa_pair_and_counts_false_alarms() {
        let r1: Vec<f64> = (0..10).map(|i| 10.0 + f64::from(i) * 0.1).collect();
        let r2: Vec<f64> = r1.iter().map(|x| x * 1.04).collect();
        let r3: Vec<f64> = r1.iter().map(|x| x * 0.99).collect();
        let rounds = [
            summary_with(&[("a", &r1)]),
            summary_with(&[("a", &r2)]),
            summary_with(&[("a", &r3)]),
        ];
        let c = calibrate(&rounds, 0.05).unwrap();
        assert_eq!(c.rounds, 3);
        let wall = c.measures.iter().find(|m| m.measure == "wall").unwrap();
        assert_eq!(wall.pairs, 3);
        // 1.04x and 0.99x: the band reaches past the 5% between rounds 2 and 3.
        assert!(
            wall.noise_band_pct > 5.0 && wall.noise_band_pct < 10.0,
            "{wall:?}"
        );
        assert!(wall.drift_pct > 2.0 && wall.drift_pct < 3.0, "{wall:?}");
        assert!(wall.false_alarms >= 1, "{wall:?}");
        // With that band, no pair of rounds is a change.
        let opts = Options {
            calibration: c.bands(),
            ..Options::default()
        };
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let r = compare(&rounds[i], &rounds[j], ("", ""), &opts);
            let w = r.measures.iter().find(|m| m.measure == "wall").unwrap();
            assert_eq!(
                w.verdict,
                crate::stats::compare::Verdict::Unchanged,
                "{w:?}"
            );
            assert_eq!(w.noise_source, crate::compare::NoiseSource::Calibration);
        }
    }

    #[test]
    fn one_round_is_not_a_calibration() {
        let r = [summary_with(&[("a", &[1.0, 2.0])])];
        assert!(calibrate(&r, 0.05).is_none());
        assert!(calibrate(&[], 0.05).is_none());
    }
}
