//! How numbers are written for people: durations, sizes and plain values. One place, so
//! the console table, the progress lines, warnings and control lines agree. Pure.

/// Milliseconds with a unit that keeps 3–4 significant digits: `812.0 µs`, `1.42 ms`,
/// `2.500 s`, `1.5 min`.
pub fn ms(v: f64) -> String {
    let a = v.abs();
    if a >= 60_000.0 {
        format!("{:.1} min", v / 60_000.0)
    } else if a >= 1000.0 {
        format!("{:.3} s", v / 1000.0)
    } else if a >= 1.0 {
        format!("{v:.2} ms")
    } else {
        format!("{:.1} µs", v * 1000.0)
    }
}

/// A size in binary units: `512 B`, `3.0 GiB`.
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// Four significant digits, no exponent in the usual range, no trailing zeros: `205`,
/// `1.25`, `0.01235`, `2.500e10`. For reading.
pub fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    if v.abs() >= 1e9 || v.abs() < 1e-3 {
        return format!("{v:.3e}");
    }
    let s = fixed4(v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// At least four significant digits, never an exponent, trailing zeros kept: `812.4`,
/// `0.003127`, `23457`, `1.000`. For machine-read text (control lines).
pub fn fixed4(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 12) as usize;
    format!("{v:.decimals$}")
}

/// A receipt's timestamp: ISO 8601 UTC with microseconds.
pub fn iso(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_readable_units() {
        assert_eq!(ms(0.8123), "812.3 µs");
        assert_eq!(ms(1.4215), "1.42 ms");
        assert_eq!(ms(2500.0), "2.500 s");
        assert_eq!(ms(90_000.0), "1.5 min");
        assert_eq!(ms(-2.0), "-2.00 ms");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(bytes(u64::MAX), "16777216.0 TiB");
    }

    #[test]
    fn numbers_drop_trailing_zeros() {
        assert_eq!(num(205.0), "205");
        assert_eq!(num(1.25), "1.25");
        assert_eq!(num(1313.94), "1314");
        assert_eq!(num(500.799), "500.8");
        assert_eq!(num(0.012345), "0.01235");
        assert_eq!(num(12_345_678.0), "12345678");
        assert_eq!(num(2.5e10), "2.500e10");
        assert_eq!(num(f64::NAN), "NaN");
    }

    #[test]
    fn fixed_keeps_four_digits_without_exponent() {
        assert_eq!(fixed4(812.4123), "812.4");
        assert_eq!(fixed4(23456.7), "23457");
        assert_eq!(fixed4(0.0031274), "0.003127");
        assert_eq!(fixed4(1.0), "1.000");
        assert_eq!(fixed4(0.0), "0");
        assert_eq!(fixed4(1e-300), "0.000000000000");
    }
}
