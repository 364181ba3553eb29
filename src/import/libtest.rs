//! `cargo bench` with libtest's harness: its text lines (`test NAME ... bench: 1,234.56
//! ns/iter (+/- 78) = 910 MB/s`) and its JSON lines (`--format json`, `"type": "bench"`).
//! libtest reports one median per benchmark, and its `±` (JSON `deviation`) is the range
//! max − min of its winsorized samples, not a deviation: both are kept as the tool's
//! estimates, with a note saying so. Pure.

use super::{Benchmark, ImportError, Imported, Kind, Measure, number};
use crate::receipt::Estimate;

const HELP: &str = "give what `cargo bench` printed on stdout: lines `test NAME ... bench: \
                    1,234 ns/iter (+/- 56)`, or with `-- -Z unstable-options --format json` \
                    JSON lines";

/// What the receipt says about libtest's numbers.
pub const NOTE: &str = "libtest reports one median per benchmark; its `+/-` (JSON \
                        `deviation`) is max − min of its samples, not a standard deviation \
                        (estimates.range)";

const MB_NOTE: &str = "libtest's MB/s (JSON `mib_per_second`, the same number) is bytes per \
                       iteration over the median time, in 10^6 bytes per second";

pub fn parse(text: &str, file: &str) -> Result<Imported, ImportError> {
    let mut benchmarks: Vec<Benchmark> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let found = if trimmed.starts_with('{') {
            json_line(trimmed).map_err(|(col, message)| {
                ImportError::new(file, message, HELP).at(line_no, indent + col)
            })?
        } else {
            text_line(line).map_err(|(offset, message)| {
                let column = line[..offset].chars().count() + 1;
                ImportError::new(file, message, HELP).at(line_no, column)
            })?
        };
        let Some(r) = found else { continue };
        if benchmarks.iter().any(|b| b.name == r.name) {
            return Err(ImportError::new(
                file,
                format!("benchmark `{}` is reported twice", r.name),
                "import one `cargo bench` invocation per file (libtest reports each \
                 benchmark once)",
            )
            .at(line_no, 1));
        }
        let mut b = Benchmark::new(&r.name, file);
        let mut m = Measure::new("ns_per_iter", Some("ns"), Some("ns/iter"));
        m.samples.push(r.median);
        m.estimates.insert("median".into(), point(r.median));
        m.estimates.insert("range".into(), point(r.range));
        m.note = Some(NOTE.to_owned());
        b.measures.push(m);
        if let Some(mbs) = r.mb_per_s {
            let mut m = Measure::new("MB_per_s", Some("MB/s"), None);
            m.samples.push(mbs);
            m.note = Some(MB_NOTE.to_owned());
            b.measures.push(m);
        }
        benchmarks.push(b);
    }
    if benchmarks.is_empty() {
        return Err(ImportError::new(
            file,
            "no benchmark results in it (no `test NAME ... bench:` line, no JSON line of \
             `\"type\": \"bench\"`)",
            HELP,
        ));
    }
    Ok(Imported {
        kind: Kind::Libtest,
        version: None,
        benchmarks,
        warnings: Vec::new(),
    })
}

fn point(v: f64) -> Estimate {
    Estimate {
        point: v,
        ci_low: None,
        ci_high: None,
        confidence_level: None,
        standard_error: None,
    }
}

/// One benchmark's result.
#[derive(Debug, PartialEq)]
struct Reported {
    name: String,
    median: f64,
    range: f64,
    mb_per_s: Option<f64>,
}

/// A text line: `None` unless it is a bench result; an error (byte offset, message) when
/// it is one that does not read.
fn text_line(line: &str) -> Result<Option<Reported>, (usize, String)> {
    let Some(rest) = line.strip_prefix("test ") else {
        return Ok(None);
    };
    let Some((name, result)) = rest.split_once(" ... bench:") else {
        return Ok(None);
    };
    let start = line.len() - result.len();
    let result_trim = result.trim_start();
    let at = start + (result.len() - result_trim.len());
    let form = "a result reads `1,234.56 ns/iter (+/- 78)`, optionally followed by `= 910 MB/s`";
    let (median_text, after) = result_trim.split_once(" ns/iter (+/- ").ok_or_else(|| {
        (
            at,
            format!("`{}` is not a bench result: {form}", result_trim.trim()),
        )
    })?;
    let median = number(median_text.trim())
        .ok_or_else(|| (at, format!("`{median_text}` is not a number of ns/iter")))?;
    let range_at = at + median_text.len() + " ns/iter (+/- ".len();
    let (range_text, tail) = after
        .split_once(')')
        .ok_or_else(|| (range_at, format!("no `)` after `(+/- {after}`: {form}")))?;
    let range = number(range_text.trim()).ok_or_else(|| {
        (
            range_at,
            format!("`{range_text}` is not a number (the +/- range)"),
        )
    })?;
    let tail_at = range_at + range_text.len() + 1;
    let tail = tail.trim();
    let mb_per_s = if tail.is_empty() {
        None
    } else {
        let value = tail
            .strip_prefix('=')
            .and_then(|t| t.trim().strip_suffix("MB/s"))
            .and_then(|v| number(v.trim()))
            .ok_or_else(|| (tail_at + 1, format!("`{tail}` is not `= N MB/s`: {form}")))?;
        Some(value)
    };
    Ok(Some(Reported {
        name: name.to_owned(),
        median,
        range,
        mb_per_s,
    }))
}

/// A JSON line: `None` unless it is a bench event; an error (1-based column, message).
fn json_line(line: &str) -> Result<Option<Reported>, (usize, String)> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
        (
            e.column().max(1),
            format!(
                "not a JSON line libtest writes: {}",
                super::json_message(&e)
            ),
        )
    })?;
    if v.get("type").and_then(|t| t.as_str()) != Some("bench") {
        return Ok(None);
    }
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
    let name = v.get("name").and_then(|n| n.as_str());
    match (name, field("median"), field("deviation")) {
        (Some(name), Some(median), Some(range)) => Ok(Some(Reported {
            name: name.to_owned(),
            median,
            range,
            mb_per_s: field("mib_per_second"),
        })),
        _ => Err((
            1,
            "a bench event without `name`, `median` and `deviation` (numbers)".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::tests::fixture;

    #[test]
    fn the_real_text_fixture() {
        let text = fixture("libtest/bench.txt");
        let imp = crate::import::parse(Kind::Libtest, &text, "bench.txt").unwrap();
        // Read independently: every `bench:` line, split by hand.
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(" ... bench:")).collect();
        assert_eq!(imp.benchmarks.len(), lines.len());
        assert_eq!(lines.len(), 3);
        for (b, line) in imp.benchmarks.iter().zip(&lines) {
            let name = line["test ".len()..line.find(" ... ").unwrap()].to_owned();
            assert_eq!(b.name, name);
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "bench:").unwrap();
            let num = |w: &str| {
                w.replace(',', "")
                    .trim_end_matches(')')
                    .parse::<f64>()
                    .unwrap()
            };
            let ns = &b.measures[0];
            assert_eq!(ns.samples, [num(words[at + 1])]);
            assert_eq!(ns.estimates["median"].point, num(words[at + 1]));
            assert_eq!(ns.estimates["range"].point, num(words[at + 4]));
            assert_eq!(ns.unit.as_deref(), Some("ns"));
            assert!(
                ns.note
                    .as_deref()
                    .unwrap()
                    .contains("not a standard deviation")
            );
            if let Some(eq) = words.iter().position(|w| *w == "=") {
                assert_eq!(b.measures[1].samples, [num(words[eq + 1])]);
                assert_eq!(b.measures[1].unit.as_deref(), Some("MB/s"));
            } else {
                assert_eq!(b.measures.len(), 1);
            }
        }
        assert_eq!(imp.benchmarks[1].id, "benches__fib_22");
        assert_eq!(imp.benchmarks[1].measures[0].samples, [203_381.02]);
        assert_eq!(
            imp.benchmarks[1].measures[0].estimates["range"].point,
            130_187.96
        );
    }

    #[test]
    fn the_real_json_fixture() {
        let text = fixture("libtest/bench.json");
        let imp = crate::import::parse(Kind::Libtest, &text, "bench.json").unwrap();
        let events: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &serde_json::Value| v["type"] == "bench")
            .collect();
        assert_eq!(imp.benchmarks.len(), events.len());
        for (b, e) in imp.benchmarks.iter().zip(&events) {
            assert_eq!(b.name, e["name"].as_str().unwrap());
            assert_eq!(b.measures[0].samples, [e["median"].as_f64().unwrap()]);
            assert_eq!(
                b.measures[0].estimates["range"].point,
                e["deviation"].as_f64().unwrap()
            );
            match e.get("mib_per_second") {
                Some(v) => assert_eq!(b.measures[1].samples, [v.as_f64().unwrap()]),
                None => assert_eq!(b.measures.len(), 1),
            }
        }
    }

    #[test]
    fn integer_and_decimal_forms_with_separators() {
        let r = text_line("test a ... bench:       1,234 ns/iter (+/- 56)").unwrap();
        assert_eq!(r.map(|r| (r.median, r.range)), Some((1234.0, 56.0)));
        let r = text_line("test b::c ... bench:   12,345,678.90 ns/iter (+/- 1,000.5) = 12 MB/s")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.median, r.range, r.mb_per_s),
            (12_345_678.9, 1000.5, Some(12.0))
        );
        assert_eq!(text_line("test x ... ok").unwrap(), None);
    }

    #[test]
    fn invalid_input_says_where_and_what() {
        let err = |text: &str| parse(text, "b.txt").unwrap_err().to_string();
        assert_eq!(
            err("running 1 test\ntest a ... bench:   lots ns/iter (+/- 1)\n")
                .lines()
                .next(),
            Some("b.txt:2:21: `lots` is not a number of ns/iter")
        );
        assert_eq!(
            err("test a ... bench: 12 ns/iter (+/- x)\n").lines().next(),
            Some("b.txt:1:35: `x` is not a number (the +/- range)")
        );
        assert_eq!(
            err("test a ... bench: 12 ns/iter (+/- 1) = fast\n")
                .lines()
                .next(),
            Some(
                "b.txt:1:38: `= fast` is not `= N MB/s`: a result reads `1,234.56 ns/iter \
                 (+/- 78)`, optionally followed by `= 910 MB/s`"
            )
        );
        assert_eq!(
            err("{ \"type\": \"bench\", \"name\": \"a\", \"median\": }\n")
                .lines()
                .next(),
            Some("b.txt:1:43: not a JSON line libtest writes: expected value")
        );
        assert_eq!(
            err("{ \"type\": \"bench\", \"name\": \"a\" }")
                .lines()
                .next(),
            Some("b.txt:1:1: a bench event without `name`, `median` and `deviation` (numbers)")
        );
        assert!(err("test result: ok.\n").starts_with("b.txt: no benchmark results in it"));
        assert!(
            err("test a ... bench: 1 ns/iter (+/- 1)\ntest a ... bench: 1 ns/iter (+/- 1)\n")
                .starts_with("b.txt:2:1: benchmark `a` is reported twice")
        );
    }
}
