//! Numbers with units of a dimension (`30s`, `80 MiB/s`, `5/s`, `10%`), converted to the
//! base unit the receipts use: milliseconds, bytes, per second, bytes per second, and
//! fractions for percentages.

use std::fmt;

/// What a unit measures; values of one dimension convert into each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Base unit: milliseconds (the receipts' `_ms` fields).
    Time,
    /// Base unit: bytes.
    Bytes,
    /// Events per second (`5/s`, `300/min`).
    Rate,
    /// Bytes per second (`80 MiB/s`).
    ByteRate,
    /// A plain number; `%` is a hundredth (`10%` is `0.1`).
    Ratio,
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dimension::Time => "a time (ns, us, ms, s, min, h)",
            Dimension::Bytes => "a size (B, KB, MB, GB, KiB, MiB, GiB)",
            Dimension::Rate => "a rate (/s, /min, /h)",
            Dimension::ByteRate => "a data rate (B/s, MB/s, MiB/s, …)",
            Dimension::Ratio => "a plain number or a percentage (%)",
        })
    }
}

/// A unit as written, with its dimension and its factor to the dimension's base unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub symbol: String,
    pub dimension: Dimension,
    pub to_base: f64,
}

const TIME: [(&str, f64); 8] = [
    ("ns", 1e-6),
    ("us", 1e-3),
    ("µs", 1e-3),
    ("ms", 1.0),
    ("s", 1e3),
    ("m", 60e3),
    ("min", 60e3),
    ("h", 3600e3),
];

const BYTES: [(&str, f64); 11] = [
    ("B", 1.0),
    ("kB", 1e3),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
    ("KiB", 1024.0),
    ("MiB", 1_048_576.0),
    ("GiB", 1_073_741_824.0),
    ("TiB", 1_099_511_627_776.0),
    ("bytes", 1.0),
];

/// Per-second factors of the time units after a `/`.
const PER: [(&str, f64); 4] = [
    ("s", 1.0),
    ("sec", 1.0),
    ("min", 1.0 / 60.0),
    ("h", 1.0 / 3600.0),
];

impl Unit {
    /// The unit of a plain number.
    pub fn none() -> Unit {
        Unit {
            symbol: String::new(),
            dimension: Dimension::Ratio,
            to_base: 1.0,
        }
    }

    /// Parses a unit symbol; `None` when it is not one this module knows.
    pub fn parse(symbol: &str) -> Option<Unit> {
        let unit = |dimension, to_base| {
            Some(Unit {
                symbol: symbol.to_owned(),
                dimension,
                to_base,
            })
        };
        if symbol.is_empty() {
            return Some(Unit::none());
        }
        if symbol == "%" {
            return unit(Dimension::Ratio, 0.01);
        }
        if let Some(&(_, f)) = TIME.iter().find(|(s, _)| *s == symbol) {
            return unit(Dimension::Time, f);
        }
        if let Some(&(_, f)) = BYTES.iter().find(|(s, _)| *s == symbol) {
            return unit(Dimension::Bytes, f);
        }
        let (numerator, per) = symbol.split_once('/')?;
        let &(_, per) = PER.iter().find(|(s, _)| *s == per)?;
        if numerator.is_empty() || ["ops", "op", "req", "reqs"].contains(&numerator) {
            return unit(Dimension::Rate, per);
        }
        let &(_, f) = BYTES.iter().find(|(s, _)| *s == numerator)?;
        unit(Dimension::ByteRate, f * per)
    }

    /// Every symbol [`Unit::parse`] accepts for a dimension, for suggestions.
    pub fn symbols(dimension: Dimension) -> Vec<String> {
        match dimension {
            Dimension::Time => TIME.iter().map(|(s, _)| s.to_string()).collect(),
            Dimension::Bytes => BYTES.iter().map(|(s, _)| s.to_string()).collect(),
            Dimension::Rate => PER.iter().map(|(s, _)| format!("/{s}")).collect(),
            Dimension::ByteRate => BYTES
                .iter()
                .flat_map(|(b, _)| PER.iter().map(move |(p, _)| format!("{b}/{p}")))
                .collect(),
            Dimension::Ratio => vec!["%".to_owned()],
        }
    }
}

/// A value with the unit it was written in.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub unit: Unit,
}

impl Quantity {
    /// The value in the base unit of its dimension.
    pub fn base_value(&self) -> f64 {
        self.value * self.unit.to_base
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sym = &self.unit.symbol;
        // `80 MiB/s` but `30s`, `5/s` and `10%`, as people write them.
        let spaced =
            sym.len() > 1 && !sym.starts_with('/') && self.unit.dimension != Dimension::Time;
        write!(f, "{}{}{sym}", self.value, if spaced { " " } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(symbol: &str) -> (Dimension, f64) {
        let u = Unit::parse(symbol).unwrap_or_else(|| panic!("{symbol}"));
        (u.dimension, u.to_base)
    }

    #[test]
    fn units_convert_to_the_receipts_base_units() {
        assert_eq!(base("s"), (Dimension::Time, 1000.0));
        assert_eq!(base("µs"), (Dimension::Time, 0.001));
        assert_eq!(base("min"), (Dimension::Time, 60_000.0));
        assert_eq!(base("MiB"), (Dimension::Bytes, 1_048_576.0));
        assert_eq!(base("KB"), (Dimension::Bytes, 1000.0));
        assert_eq!(base("/s"), (Dimension::Rate, 1.0));
        assert_eq!(base("ops/min"), (Dimension::Rate, 1.0 / 60.0));
        assert_eq!(base("MiB/s"), (Dimension::ByteRate, 1_048_576.0));
        assert_eq!(base("%"), (Dimension::Ratio, 0.01));
        assert_eq!(base(""), (Dimension::Ratio, 1.0));
        for bad in ["sec", "Mib", "MiB/", "/fortnight", "x/s", "ms/s"] {
            assert!(Unit::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn quantities_print_as_people_write_them() {
        let q = |v: f64, s: &str| Quantity {
            value: v,
            unit: Unit::parse(s).unwrap(),
        };
        assert_eq!(q(80.0, "MiB/s").to_string(), "80 MiB/s");
        assert_eq!(q(30.0, "s").to_string(), "30s");
        assert_eq!(q(5.0, "/s").to_string(), "5/s");
        assert_eq!(q(10.0, "%").to_string(), "10%");
        assert_eq!(q(2.5, "").to_string(), "2.5");
        assert_eq!(q(0.5, "s").base_value(), 500.0);
    }
}
