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
    if let Some(unit) = unit.as_deref().filter(|u| u.chars().any(char::is_control)) {
        return Err(format!(
            "metric `{name}`: unit `{}` contains control characters (an escape sequence?); \
             write the unit in printable characters, e.g. `ms` or `MiB/s`",
            printable(unit)
        ));
    }
    if words.next().is_some() {
        return Err(format!("metric `{name}`: too many words; {FORM}"));
    }
    Ok(Control::Metric {
        name: name.to_owned(),
        value,
        unit,
    })
}

/// Names (step ids, metrics, phases) are what selectors address (`metric.NAME.p95`):
/// letters, digits, `_` and `-`. No dots, so that a selector is never ambiguous.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// A valid name close to `name`: every other character becomes `_` (`db.query` →
/// `db_query`).
pub fn suggest_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "name".to_owned() } else { s }
}

/// `text` safe to print on a terminal: control characters (escape sequences, carriage
/// returns, …) are shown escaped (`\u{1b}`), never sent raw.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

fn bad_name(name: &str) -> String {
    format!(
        "`{}` is not a valid name: use letters, digits, `_` and `-` (names appear in gate \
         selectors such as `metric.NAME.p95`), e.g. `{}`",
        printable(name),
        suggest_name(name)
    )
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

/// Finds the control lines in a stream of chunks without looking at every line: only
/// lines whose first non-blank bytes are [`PREFIX`] reach `each`, found with a vectorised
/// substring search, so a step that prints gigabytes of ordinary output costs a scan of
/// its bytes and nothing per line.
#[derive(Debug)]
pub struct ControlScanner {
    finder: memchr::memmem::Finder<'static>,
    /// The current unterminated line while it may still be a control line.
    partial: Vec<u8>,
    /// The current unterminated line is known not to be one (or grew too long to keep).
    skip: bool,
}

impl Default for ControlScanner {
    fn default() -> Self {
        Self {
            finder: memchr::memmem::Finder::new(PREFIX.as_bytes()),
            partial: Vec::new(),
            skip: false,
        }
    }
}

/// Longest unterminated line kept while it may be a control line.
const MAX_PARTIAL: usize = 64 * 1024;

impl ControlScanner {
    /// Feed a chunk; `each` gets every completed control line (without the newline).
    pub fn feed(&mut self, data: &[u8], at: Instant, mut each: impl FnMut(&str, Instant)) {
        let mut rest = data;
        if self.skip || !self.partial.is_empty() {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                self.carry(rest);
                return;
            };
            self.carry(&rest[..end]);
            if self.is_control() {
                each(&String::from_utf8_lossy(strip_cr(&self.partial)), at);
            }
            self.partial.clear();
            self.skip = false;
            rest = &rest[end + 1..];
        }
        // `rest` starts at the beginning of a line; `done` is the start of the first line
        // not yet looked at.
        let mut done = 0;
        let mut from = 0;
        while let Some(hit) = self.finder.find(&rest[from..]).map(|i| from + i) {
            let start = memchr::memrchr(b'\n', &rest[done..hit]).map_or(done, |i| done + i + 1);
            let Some(len) = memchr::memchr(b'\n', &rest[hit..]) else {
                // The last, unterminated line: kept below if it starts with the prefix.
                break;
            };
            let end = hit + len;
            if rest[start..hit].iter().all(u8::is_ascii_whitespace) {
                each(&String::from_utf8_lossy(strip_cr(&rest[start..end])), at);
            }
            done = end + 1;
            from = done;
        }
        let last = memchr::memrchr(b'\n', &rest[done..]).map_or(done, |i| done + i + 1);
        self.carry(&rest[last..]);
    }

    /// The unterminated last line, if it is a control line.
    pub fn finish(&mut self, at: Instant, mut each: impl FnMut(&str, Instant)) {
        if self.is_control() {
            each(&String::from_utf8_lossy(strip_cr(&self.partial)), at);
        }
        self.partial.clear();
        self.skip = false;
    }

    /// The kept line starts with the prefix (it may only be a beginning of it).
    fn is_control(&self) -> bool {
        !self.skip
            && self
                .partial
                .trim_ascii_start()
                .starts_with(PREFIX.as_bytes())
    }

    /// Extend the current unterminated line, keeping it only while it can still be a
    /// control line.
    fn carry(&mut self, bytes: &[u8]) {
        if self.skip || bytes.is_empty() {
            return;
        }
        if self.partial.len() + bytes.len() > MAX_PARTIAL {
            self.partial.clear();
            self.skip = true;
            return;
        }
        self.partial.extend_from_slice(bytes);
        let head = self.partial.trim_ascii_start();
        let n = head.len().min(PREFIX.len());
        if head[..n] != PREFIX.as_bytes()[..n] {
            self.partial.clear();
            self.skip = true;
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
        // Dots would make `metric.db.query.p95` ambiguous.
        assert!(err("::bench:: metric db.query 1").contains("e.g. `db_query`"));
        assert!(err("::bench:: phase a/b").contains("e.g. `a_b`"));
        assert!(err("::bench:: phase").contains("phase NAME"));
        assert!(err("::bench:: phase a b").contains("phase NAME"));
        assert!(err("::bench:: bogus").contains("unknown control `bogus`"));
        assert!(err("::bench::").contains("empty control line"));
    }

    #[test]
    fn control_characters_in_a_unit_or_name_are_rejected_and_never_echoed_raw() {
        let err = |l| parse(l).unwrap().unwrap_err();
        let e = err("::bench:: metric x 1 \x1b[31mms");
        assert!(
            e.contains("unit `\\u{1b}[31mms` contains control characters"),
            "{e}"
        );
        assert!(!e.contains('\x1b'), "{e:?}");
        let e = err("::bench:: metric x\x1b[2J 1 ms");
        assert!(e.contains("`x\\u{1b}[2J` is not a valid name"), "{e}");
        assert!(!e.contains('\x1b'), "{e:?}");
        assert!(!err("::bench:: phase p\x07").contains('\x07'));
    }

    #[test]
    fn printable_escapes_control_characters_only() {
        assert_eq!(printable("MiB/s µs"), "MiB/s µs");
        assert_eq!(printable("a\x1b[0m\r\u{9b}b"), "a\\u{1b}[0m\\r\\u{9b}b");
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

    /// The scanner yields exactly the control lines the plain splitter would, however
    /// the stream is cut into chunks.
    #[test]
    fn scanner_agrees_with_the_splitter_for_every_chunking() {
        let text: &[u8] = b"a\n::bench:: metric x 1 ms\r\n  ::bench:: phase p\nno ::bench:: here\n\
            ::bench::\n::be\n::bench:: metric y 2";
        let t = Instant::now();
        let reference = {
            let mut s = LineSplitter::default();
            let mut out = Vec::new();
            let mut keep = |l: &str, _| {
                if parse(l).is_some() {
                    out.push(l.to_owned());
                }
            };
            s.feed(text, t, &mut keep);
            s.finish(t, &mut keep);
            out
        };
        assert_eq!(reference.len(), 4, "{reference:?}");
        for a in 0..=text.len() {
            for b in a..=text.len() {
                let mut s = ControlScanner::default();
                let mut out = Vec::new();
                for chunk in [&text[..a], &text[a..b], &text[b..]] {
                    s.feed(chunk, t, |l, _| out.push(l.to_owned()));
                }
                s.finish(t, |l, _| out.push(l.to_owned()));
                assert_eq!(out, reference, "cut at {a} and {b}");
            }
        }
    }

    #[test]
    fn scanner_keeps_nothing_of_long_ordinary_lines() {
        let mut s = ControlScanner::default();
        let big = vec![b'y'; 1 << 20];
        s.feed(&big, Instant::now(), |_, _| panic!("no control line"));
        s.feed(b"\n::bench:: phase p\n", Instant::now(), |l, _| {
            assert_eq!(l, "::bench:: phase p")
        });
        assert!(s.partial.capacity() < 1024, "{}", s.partial.capacity());
    }

    #[test]
    fn splitter_bounds_memory_on_endless_lines() {
        let mut s = LineSplitter::default();
        let big = vec![b'x'; 100 * 1024];
        s.feed(&big, Instant::now(), |_, _| panic!("no line expected"));
        assert!(s.partial.is_empty());
    }
}
