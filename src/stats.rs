//! Statistics over samples: the stats object, outliers, confidence intervals. Pure.

/// The stats object of the receipt contract (field names fixed by the design).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub stddev: Option<f64>,
    pub cv: Option<f64>,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
}

pub fn summarize(_samples: &[f64]) -> Option<Stats> {
    unimplemented!()
}

pub fn outliers(_samples: &[f64]) -> Vec<usize> {
    unimplemented!()
}

pub fn high_variance(_stats: &Stats, _threshold: f64) -> bool {
    unimplemented!()
}
