//! Latency distributions of load operations: HDR histograms (the `hdrhistogram` crate),
//! whose memory does not grow with the number of operations and which merge exactly
//! across workers, runs and invocations. Pure.
//!
//! Values are recorded in microseconds from 1 µs to one hour with three significant
//! digits: any recorded value is reported within 0.1% of itself (at most 1 µs below
//! 1 ms). A histogram of this range takes about 180 KiB whatever the count; in a receipt
//! it is stored in HdrHistogram's own interchange form (V2, deflate-compressed, base64),
//! which the HdrHistogram libraries of Java, Go, Python and JavaScript decode.

use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest value recorded, microseconds (one hour); longer ones are clamped to it.
pub const MAX_US: u64 = 3_600_000_000;
const SIGFIG: u8 = 3;

/// A latency distribution.
#[derive(Clone)]
pub struct Latency {
    h: Histogram<u64>,
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latency")
            .field("count", &self.h.len())
            .finish_non_exhaustive()
    }
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for Latency {
    fn eq(&self, other: &Self) -> bool {
        self.h == other.h
    }
}

impl Latency {
    pub fn new() -> Self {
        Self {
            h: Histogram::new_with_bounds(1, MAX_US, SIGFIG).expect("valid bounds"),
        }
    }

    /// Record one value (a duration under 1 µs counts as 1 µs, one over an hour as an
    /// hour).
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        self.h.saturating_record(us);
    }

    /// Add another distribution's values.
    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.h.add(&other.h);
    }

    pub fn count(&self) -> u64 {
        self.h.len()
    }

    pub fn is_empty(&self) -> bool {
        self.h.is_empty()
    }

    /// The value at quantile `q` (0 to 1), milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        us_to_ms(self.h.value_at_quantile(q))
    }

    /// Count, min, mean, percentiles and max; `None` when nothing was recorded.
    pub fn stats(&self) -> Option<LatencyStats> {
        if self.h.is_empty() {
            return None;
        }
        let h = &self.h;
        Some(LatencyStats {
            count: h.len(),
            min_ms: us_to_ms(h.min()),
            mean_ms: round_us(h.mean() / 1e3),
            stddev_ms: round_us(h.stdev() / 1e3),
            p50_ms: us_to_ms(h.value_at_quantile(0.50)),
            p90_ms: us_to_ms(h.value_at_quantile(0.90)),
            p95_ms: us_to_ms(h.value_at_quantile(0.95)),
            p99_ms: us_to_ms(h.value_at_quantile(0.99)),
            p999_ms: us_to_ms(h.value_at_quantile(0.999)),
            max_ms: us_to_ms(h.max()),
        })
    }

    /// HdrHistogram's V2 deflate interchange form, base64.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.h, &mut bytes)
            .expect("serializing into memory cannot fail");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Read [`Latency::encode`]'s form (or any V2 histogram, compressed or not); values
    /// outside this range are clamped into it.
    pub fn decode(text: &str) -> Result<Latency, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("not an HdrHistogram: {e:?}"))?;
        let mut out = Latency::new();
        if out.h.add(&h).is_err() {
            for v in h.iter_recorded() {
                let us = v.value_iterated_to().clamp(1, MAX_US);
                out.h.saturating_record_n(us, v.count_at_value());
            }
        }
        Ok(out)
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1e3
}

/// Milliseconds to the microsecond (a mean's and a deviation's digits beyond the
/// histogram's resolution say nothing).
fn round_us(ms: f64) -> f64 {
    (ms * 1e3).round() / 1e3
}

/// A latency distribution's summary, milliseconds (microsecond resolution, each value
/// within 0.1% of what was recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LatencyStats {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub stddev_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencyStats {
    /// A statistic by its selector name (`count`, `min`, `mean`, `stddev`, `p50`,
    /// `median`, `p90`, `p95`, `p99`, `p999`, `max`).
    pub fn get(&self, stat: &str) -> Option<f64> {
        Some(match stat {
            "count" | "n" => self.count as f64,
            "min" => self.min_ms,
            "mean" => self.mean_ms,
            "stddev" => self.stddev_ms,
            "p50" | "median" => self.p50_ms,
            "p90" => self.p90_ms,
            "p95" => self.p95_ms,
            "p99" => self.p99_ms,
            "p999" | "p99.9" => self.p999_ms,
            "max" => self.max_ms,
            _ => return None,
        })
    }

    /// The statistics [`LatencyStats::get`] knows, for messages.
    pub const NAMES: &'static [&'static str] = &[
        "count", "min", "mean", "stddev", "p50", "median", "p90", "p95", "p99", "p999", "max",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn percentiles_are_within_a_tenth_of_a_percent() {
        let mut l = Latency::new();
        for v in 1..=1000 {
            l.record(ms(v));
        }
        let s = l.stats().unwrap();
        assert_eq!(s.count, 1000);
        assert_eq!(s.min_ms, 1.0);
        for (got, want) in [
            (s.p50_ms, 500.0),
            (s.p90_ms, 900.0),
            (s.p95_ms, 950.0),
            (s.p99_ms, 990.0),
            (s.p999_ms, 999.0),
            (s.max_ms, 1000.0),
            (s.mean_ms, 500.5),
        ] {
            assert!((got - want).abs() <= want * 1e-3, "{got} vs {want}");
        }
        // The population deviation of 1..=1000 ms.
        assert!((s.stddev_ms - 288.675).abs() < 0.5, "{}", s.stddev_ms);
    }

    #[test]
    fn sub_millisecond_values_keep_their_microseconds() {
        let mut l = Latency::new();
        l.record(Duration::from_micros(123));
        l.record(Duration::from_nanos(10)); // below the floor: 1 µs
        let s = l.stats().unwrap();
        assert_eq!(s.min_ms, 0.001);
        assert_eq!(s.max_ms, 0.123);
    }

    #[test]
    fn values_beyond_an_hour_are_clamped_not_lost() {
        let mut l = Latency::new();
        l.record(Duration::from_secs(7200));
        assert_eq!(l.count(), 1);
        assert!((l.stats().unwrap().max_ms - 3_600_000.0).abs() < 3_600.0);
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (Latency::new(), Latency::new(), Latency::new());
        for v in 1..=500 {
            a.record(ms(v));
            all.record(ms(v));
        }
        for v in 400..=2000 {
            b.record(ms(v));
            all.record(ms(v));
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(a.stats(), all.stats());
    }

    #[test]
    fn the_encoded_form_round_trips() {
        let mut l = Latency::new();
        for v in [1, 5, 5, 70, 900, 12_000] {
            l.record(ms(v));
        }
        let text = l.encode();
        assert!(text.starts_with("HISTFAA"), "V2 deflate, base64: {text}");
        assert_eq!(Latency::decode(&text).unwrap(), l);
        assert!(Latency::decode("not base64!").is_err());
        assert!(Latency::decode("aGVsbG8=").is_err());
    }

    #[test]
    fn an_empty_distribution_has_no_stats() {
        assert!(Latency::new().stats().is_none());
        assert_eq!(
            Latency::decode(&Latency::new().encode()).unwrap().count(),
            0
        );
    }

    #[test]
    fn stats_by_name() {
        let mut l = Latency::new();
        l.record(ms(10));
        let s = l.stats().unwrap();
        // The highest value of its bucket, as HdrHistogram reports percentiles.
        assert!((s.get("p95").unwrap() - 10.0).abs() <= 0.01);
        assert_eq!(s.get("count"), Some(1.0));
        assert_eq!(s.get("median"), s.get("p50"));
        assert_eq!(s.get("p42"), None);
        assert!(LatencyStats::NAMES.iter().all(|n| s.get(n).is_some()));
    }
}
