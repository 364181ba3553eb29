//! Human units in suite files: durations ("30m", "1h 30m", "250ms", or seconds as a
//! number) and byte sizes ("10 GiB", "512MB", or bytes as a number). Pure.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// The longest duration a suite may name (a timeout, an interval, a grace period): far
/// beyond any benchmark, and far from where adding it to a clock reading overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// The largest size a suite may name (1 EiB).
pub const MAX_BYTES: u64 = 1 << 60;

/// Parse a duration: a humantime string or a non-negative number of seconds, at most
/// [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let d = if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs > MAX_DURATION.as_secs_f64() {
            return Err(too_long(s));
        }
        Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("`{s}` is not a valid number of seconds (0 to 365 days)"))?
    } else {
        humantime::parse_duration(t).map_err(|e| {
            if matches!(e, humantime::DurationError::NumberOverflow) {
                return too_long(s);
            }
            format!(
                "`{s}` is not a duration ({e}): write e.g. \"90s\", \"5m\", \"1h 30m\" or \"250ms\""
            )
        })?
    };
    bounded(d, s)
}

/// A timeout: a duration of at least 1ms (`0s` would fail every step at once).
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    check_range(d, Duration::from_millis(1), MAX_DURATION)
        .map_err(|range| format!("`{s}` is not a valid timeout: it must be {range}"))
}

fn bounded(d: Duration, s: &str) -> Result<Duration, String> {
    if d > MAX_DURATION {
        Err(too_long(s))
    } else {
        Ok(d)
    }
}

fn too_long(s: &str) -> String {
    format!("`{s}` is too long: durations are at most 365 days")
}

/// A limit in words: whole days as days (humantime counts a year as 365.25 days).
fn words(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 86_400 && secs.is_multiple_of(86_400) && d.subsec_nanos() == 0 {
        format!("{} days", secs / 86_400)
    } else {
        humantime::format_duration(d).to_string()
    }
}

/// `Err(the allowed range, in words)` when `d` is outside `min..=max`.
pub fn check_range(d: Duration, min: Duration, max: Duration) -> Result<Duration, String> {
    if d < min || d > max {
        Err(format!("between {} and {}", words(min), words(max)))
    } else {
        Ok(d)
    }
}

/// Parse a byte size: `10 GiB`, `512MB`, `1.5G` (binary), `4096`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| {
        format!("`{s}` is not a size: write e.g. \"10 GiB\", \"512 MiB\" or \"4096\"")
    })?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        "t" | "tib" => 1024f64.powi(4),
        "tb" => 1e12,
        other => {
            return Err(format!(
                "`{other}` is not a size unit: use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)"
            ));
        }
    };
    let bytes = num * mult;
    if !bytes.is_finite() || bytes < 0.0 || bytes > MAX_BYTES as f64 {
        return Err(format!("`{s}` is out of range: sizes are 0 to 1 EiB"));
    }
    Ok(bytes.round() as u64)
}

/// A duration deserialized from a string or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> serde::Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"5m\", \"90s\", \"250ms\", or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_duration(v).map(HumanDuration).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                let secs =
                    u64::try_from(v).map_err(|_| E::custom("a duration cannot be negative"))?;
                bounded(Duration::from_secs(secs), &v.to_string())
                    .map(HumanDuration)
                    .map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                parse_duration(&v.to_string())
                    .map(HumanDuration)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A byte size deserialized from a string or a number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanBytes(pub u64);

impl<'de> serde::Deserialize<'de> for HumanBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"10 GiB\" or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_bytes(v).map(HumanBytes).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Err(_) => Err(E::custom("a size cannot be negative")),
                    Ok(b) if b > MAX_BYTES => Err(E::custom(format!(
                        "`{v}` is out of range: sizes are 0 to 1 EiB"
                    ))),
                    Ok(b) => Ok(HumanBytes(b)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("\"5m\""));
        assert!(parse_duration("-3").is_err());
    }

    #[test]
    fn durations_near_the_clocks_limit_are_rejected_with_the_range() {
        for s in [
            "9223372036854775807",
            "292277024626y",
            "1e19",
            "366days",
            "1e300",
        ] {
            let e = parse_duration(s).unwrap_err();
            assert!(e.contains("at most 365 days"), "{s}: {e}");
        }
        assert_eq!(parse_duration("365days"), Ok(MAX_DURATION));
        assert!(
            parse_timeout("0s")
                .unwrap_err()
                .contains("between 1ms and 365 days")
        );
        assert_eq!(parse_timeout("1ms"), Ok(Duration::from_millis(1)));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("10 GiB"), Ok(10 << 30));
        assert_eq!(parse_bytes("512MB"), Ok(512_000_000));
        assert_eq!(parse_bytes("1.5G"), Ok(3 << 29));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(
            parse_bytes("10 GiBs")
                .unwrap_err()
                .contains("not a size unit")
        );
        assert!(parse_bytes("lots").unwrap_err().contains("not a size"));
        assert!(parse_bytes("2 EiB").is_err());
        assert!(
            parse_bytes("99999999 TiB")
                .unwrap_err()
                .contains("0 to 1 EiB")
        );
    }
}
