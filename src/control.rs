//! The control-line protocol: `::bench:: metric NAME VALUE [UNIT]` and
//! `::bench:: phase NAME` lines on a step's stdout or `$BENCHMARK_CONTROL`. Pure.

use std::time::Instant;

/// The prefix that marks a control line.
pub const PREFIX: &str = "::bench::";

/// One parsed control line.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Metric {
        name: String,
        value: f64,
        unit: Option<String>,
    },
    Phase {
        name: String,
    },
}

/// Parse one line. `None` when it is not a control line; `Some(Err)` when it is one but
/// malformed (the message says what is wrong and what the form is).
pub fn parse(line: &str) -> Option<Result<Control, String>> {
    let rest = line.trim().strip_prefix(PREFIX)?;
    let mut words = rest.split_whitespace();
    Some(match words.next() {
        Some("metric") => parse_metric(words),
        Some("phase") => match (words.next(), words.next()) {
            (Some(name), None) if valid_name(name) => Ok(Control::Phase {
                name: name.to_owned(),
            }),
            (Some(name), None) => Err(bad_name(name)),
            _ => Err("expected `::bench:: phase NAME`".to_owned()),
        },
        Some(other) => Err(format!(
            "unknown control `{other}`: expected `metric` or `phase`"
        )),
        None => Err(
            "empty control line: expected `::bench:: metric …` or `::bench:: phase …`".to_owned(),
        ),
    })
}

fn parse_metric<'a>(mut words: impl Iterator<Item = &'a str>) -> Result<Control, String> {
    const FORM: &str = "expected `::bench:: metric NAME VALUE [UNIT]`";
    let (Some(name), Some(value)) = (words.next(), words.next()) else {
        return Err(FORM.to_owned());
    };
    if !valid_name(name) {
        return Err(bad_name(name));
    }
    let value: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("metric `{name}`: `{value}` is not a finite number"))?;
    let unit = words.next().map(str::to_owned);
    if words.next().is_some() {
        return Err(format!("metric `{name}`: too many words; {FORM}"));
    }
    Ok(Control::Metric {
        name: name.to_owned(),
        value,
        unit,
    })
}

/// Names are what selectors can address: letters, digits, `_`, `-`, `.`, `/`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
}

fn bad_name(name: &str) -> String {
    format!("`{name}` is not a valid name: use letters, digits, `_`, `-`, `.` or `/`")
}

/// Splits a byte stream into lines, stamping each with the arrival of its last chunk.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feed a chunk; `each` gets every completed line (without the newline).
    pub fn feed(&mut self, data: &[u8], at: Instant, mut each: impl FnMut(&str, Instant)) {
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(pos);
            if self.partial.is_empty() {
                each(&String::from_utf8_lossy(strip_cr(head)), at);
            } else {
                self.partial.extend_from_slice(head);
                each(&String::from_utf8_lossy(strip_cr(&self.partial)), at);
                self.partial.clear();
            }
            rest = &tail[1..];
        }
        // Bound memory for binary output without newlines: only control lines matter,
        // and they are short.
        const MAX_PARTIAL: usize = 64 * 1024;
        if self.partial.len() + rest.len() <= MAX_PARTIAL {
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.clear();
        }
    }

    /// The unterminated last line, if any.
    pub fn finish(&mut self, at: Instant, mut each: impl FnMut(&str, Instant)) {
        if !self.partial.is_empty() {
            each(&String::from_utf8_lossy(strip_cr(&self.partial)), at);
            self.partial.clear();
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metrics_with_and_without_unit() {
        assert_eq!(
            parse("::bench:: metric display_mibps 205.0 MiB/s"),
            Some(Ok(Control::Metric {
                name: "display_mibps".into(),
                value: 205.0,
                unit: Some("MiB/s".into())
            }))
        );
        assert_eq!(
            parse("  ::bench:: metric ops 12e3"),
            Some(Ok(Control::Metric {
                name: "ops".into(),
                value: 12000.0,
                unit: None
            }))
        );
    }

    #[test]
    fn parses_phases() {
        assert_eq!(
            parse("::bench:: phase schedule"),
            Some(Ok(Control::Phase {
                name: "schedule".into()
            }))
        );
    }

    #[test]
    fn ordinary_lines_are_not_control_lines() {
        assert_eq!(parse("hello ::bench:: metric a 1"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn malformed_control_lines_say_what_is_wrong() {
        let err = |l| parse(l).unwrap().unwrap_err();
        assert!(err("::bench:: metric x").contains("NAME VALUE"));
        assert!(err("::bench:: metric x NaN").contains("not a finite number"));
        assert!(err("::bench:: metric x abc").contains("not a finite number"));
        assert!(err("::bench:: metric x 1 ms extra").contains("too many words"));
        assert!(err("::bench:: metric x$ 1").contains("not a valid name"));
        assert!(err("::bench:: phase").contains("phase NAME"));
        assert!(err("::bench:: phase a b").contains("phase NAME"));
        assert!(err("::bench:: bogus").contains("unknown control `bogus`"));
        assert!(err("::bench::").contains("empty control line"));
    }

    #[test]
    fn splitter_joins_chunks_and_stamps_completion() {
        let t0 = Instant::now();
        let t1 = t0 + std::time::Duration::from_millis(5);
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.feed(b"a\r\nbc", t0, |l, at| out.push((l.to_owned(), at)));
        s.feed(b"d\n\nlast", t1, |l, at| out.push((l.to_owned(), at)));
        s.finish(t1, |l, at| out.push((l.to_owned(), at)));
        assert_eq!(
            out,
            vec![
                ("a".into(), t0),
                ("bcd".into(), t1),
                ("".into(), t1),
                ("last".into(), t1)
            ]
        );
    }

    #[test]
    fn splitter_bounds_memory_on_endless_lines() {
        let mut s = LineSplitter::default();
        let big = vec![b'x'; 100 * 1024];
        s.feed(&big, Instant::now(), |_, _| panic!("no line expected"));
        assert!(s.partial.is_empty());
    }
}
