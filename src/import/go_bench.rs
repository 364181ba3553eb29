//! `go test -bench` output, per the Go benchmark data format (golang.org/design/14313):
//! configuration lines `key: value`, result lines `BenchmarkName-N  iterations  value
//! unit …`, and benchfmt's `Unit UNIT better=higher|lower` lines. Repeated results of one
//! name (`-count N`) are the samples of its measures. Pure.

use std::collections::BTreeMap;

use super::{Benchmark, ImportError, Imported, Kind, Measure, measure_name, number};
use crate::stats::compare::Direction;
use crate::verdict::quantity::{Dimension, Unit};

const HELP: &str = "give the text `go test -bench` printed, e.g. `go test -run '^$' -bench . \
                    -benchmem > bench.txt`; a result line is `BenchmarkName-8  1000  123 ns/op  \
                    45 B/op`";

pub fn parse(text: &str, file: &str) -> Result<Imported, ImportError> {
    let mut config: BTreeMap<String, String> = BTreeMap::new();
    let mut benchmarks: Vec<Benchmark> = Vec::new();
    let mut better: BTreeMap<String, Direction> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let at = |offset: usize, message: String| {
            let column = line[..offset].chars().count() + 1;
            ImportError::new(file, message, HELP).at(line_no, column)
        };
        if let Some(rest) = line.strip_prefix("Unit ") {
            let mut words = rest.split_whitespace();
            let Some(unit) = words.next() else { continue };
            for kv in words {
                match kv.split_once('=') {
                    Some(("better", "higher")) => {
                        better.insert(unit.to_owned(), Direction::HigherIsBetter);
                    }
                    Some(("better", "lower")) => {
                        better.insert(unit.to_owned(), Direction::LowerIsBetter);
                    }
                    Some(("better", other)) => {
                        return Err(at(
                            line.find(kv).unwrap_or(0),
                            format!("`better={other}`: a unit is better `higher` or `lower`"),
                        ));
                    }
                    _ => {}
                }
            }
            continue;
        }
        if is_result(line) {
            let fields = fields(line);
            // A name alone is the line Go prints before a benchmark's log output.
            if fields.len() < 2 {
                continue;
            }
            let (_, name) = fields[0];
            let (n_at, n) = fields[1];
            if n.parse::<u64>().is_err() {
                return Err(at(
                    n_at,
                    format!("`{n}` is not an iteration count (a whole number) after `{name}`"),
                ));
            }
            let pairs = &fields[2..];
            if pairs.len() % 2 == 1 {
                let (last_at, last) = pairs[pairs.len() - 1];
                return Err(at(
                    last_at,
                    format!("`{last}` has no unit: each value is followed by its unit"),
                ));
            }
            // `go test ./...` prints several packages: one name in two is two benchmarks.
            let pkg = config.get("pkg");
            let b = match benchmarks
                .iter()
                .position(|b| b.name == name && b.config.get("pkg") == pkg)
            {
                Some(i) => &mut benchmarks[i],
                None => {
                    let mut b = Benchmark::new(name, file);
                    b.config = config.clone();
                    b.config.insert("gomaxprocs".into(), procs(name).to_owned());
                    benchmarks.push(b);
                    benchmarks.last_mut().expect("just pushed")
                }
            };
            for pair in pairs.chunks(2) {
                let [(v_at, v), (_, unit)] = [pair[0], pair[1]];
                let value = number(v).ok_or_else(|| {
                    at(
                        v_at,
                        format!("`{v}` is not a number (the value of `{unit}`)"),
                    )
                })?;
                let (mname, runit) = receipt_unit(unit);
                b.measure(&mname, || Measure::new(&mname, Some(&runit), Some(unit)))
                    .samples
                    .push(value);
            }
            continue;
        }
        if let Some((k, v)) = config_line(line) {
            config.insert(k.to_owned(), v.to_owned());
        }
    }
    if benchmarks.is_empty() {
        return Err(ImportError::new(
            file,
            "no benchmark results in it (no line `BenchmarkName  N  value unit …`)",
            HELP,
        ));
    }
    // A name in several packages is told apart by its package.
    let names: Vec<String> = benchmarks.iter().map(|b| b.name.clone()).collect();
    for b in &mut benchmarks {
        if names.iter().filter(|n| **n == b.name).count() > 1
            && let Some(pkg) = b.config.get("pkg")
        {
            b.name = format!("{pkg}/{}", b.name);
        }
        for m in &mut b.measures {
            let written = m.written.clone().or_else(|| m.unit.clone());
            if let Some(d) = written.and_then(|w| better.get(&w)) {
                m.direction = *d;
            }
        }
    }
    let version = ["goversion", "go"]
        .iter()
        .find_map(|k| benchmarks[0].config.get(*k).cloned());
    Ok(Imported {
        kind: Kind::GoBench,
        version,
        benchmarks,
        warnings: Vec::new(),
    })
}

/// `Benchmark` followed by the end or a character that is not a lower-case letter.
fn is_result(line: &str) -> bool {
    line.strip_prefix("Benchmark")
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_lowercase()))
}

/// A configuration line: a key that starts with a lower-case letter and has no space or
/// upper-case letter, a colon, a value.
fn config_line(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.split_once(':')?;
    let ok = k.starts_with(|c: char| c.is_lowercase())
        && !k.chars().any(|c| c.is_whitespace() || c.is_uppercase());
    ok.then(|| (k, v.trim()))
}

/// Whitespace-separated fields with their byte offsets.
fn fields(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

/// The GOMAXPROCS of a result's name: its `-N` suffix; none means 1.
fn procs(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((_, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => n,
        _ => "1",
    }
}

/// The metric name and receipt unit of a Go unit: a time or size per operation is in that
/// time or size (`ns/op` → `ns_per_op` in `ns`), so gates can convert it; others as written.
fn receipt_unit(unit: &str) -> (String, String) {
    let name = measure_name(unit);
    if let Some(per) = unit.strip_suffix("/op")
        && let Some(u) = Unit::parse(per)
        && matches!(u.dimension, Dimension::Time | Dimension::Bytes)
        && !per.is_empty()
    {
        return (name, per.to_owned());
    }
    (name, unit.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::tests::fixture;

    /// The results of the fixture read independently: name → unit → values.
    fn independent(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<f64>>> {
        let mut out: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
        for line in text.lines().filter(|l| l.starts_with("Benchmark")) {
            let f: Vec<&str> = line.split_whitespace().collect();
            for p in f[2..].chunks(2) {
                out.entry(f[0].to_owned())
                    .or_default()
                    .entry(p[1].to_owned())
                    .or_default()
                    .push(p[0].parse().unwrap());
            }
        }
        out
    }

    #[test]
    fn the_real_fixture_every_value_unit_pair_as_samples() {
        let text = fixture("go-bench/bench.txt");
        let imp = crate::import::parse(Kind::GoBench, &text, "bench.txt").unwrap();
        let want = independent(&text);
        assert_eq!(imp.benchmarks.len(), want.len());
        assert_eq!(imp.benchmarks.len(), 10, "5 benchmarks × -cpu 1,2");
        for b in &imp.benchmarks {
            let units = &want[&b.name];
            assert_eq!(b.measures.len(), units.len(), "{}", b.name);
            for m in &b.measures {
                let written = m.written.as_deref().or(m.unit.as_deref()).unwrap();
                assert_eq!(m.samples, units[written], "{} {written}", b.name);
                assert_eq!(m.samples.len(), 3, "-count 3");
            }
            assert_eq!(b.config["goos"], "linux");
            assert_eq!(b.config["goarch"], "amd64");
            assert_eq!(b.config["pkg"], "example.com/benchmark-fixture");
            assert_eq!(b.config["cpu"], "Intel(R) Xeon(R) Processor");
        }
        let by_name = |n: &str| imp.benchmarks.iter().find(|b| b.name == n).unwrap();
        let sort2 = by_name("BenchmarkSort/size=100-2");
        assert_eq!(sort2.id, "BenchmarkSort-size_100-2");
        assert_eq!(sort2.config["gomaxprocs"], "2");
        assert_eq!(by_name("BenchmarkSort/size=100").config["gomaxprocs"], "1");
        let ns = &sort2.measures[0];
        assert_eq!(
            (ns.name.as_str(), ns.unit.as_deref(), ns.written.as_deref()),
            ("ns_per_op", Some("ns"), Some("ns/op"))
        );
        assert_eq!(ns.samples, [20476.0, 12574.0, 18587.0]);
        assert_eq!(ns.direction, Direction::LowerIsBetter);
        let hash = by_name("BenchmarkHash");
        let mbs = hash.measures.iter().find(|m| m.name == "MB_per_s").unwrap();
        assert_eq!(mbs.unit.as_deref(), Some("MB/s"));
        assert_eq!(mbs.direction, Direction::HigherIsBetter);
        assert_eq!(mbs.samples, [74.14, 68.25, 73.84]);
        let b_op = hash.measures.iter().find(|m| m.name == "B_per_op").unwrap();
        assert_eq!(b_op.unit.as_deref(), Some("B"));
        let allocs = hash
            .measures
            .iter()
            .find(|m| m.name == "allocs_per_op")
            .unwrap();
        assert_eq!(allocs.unit.as_deref(), Some("allocs/op"));
        assert_eq!(allocs.direction, Direction::LowerIsBetter);
        // `Unit frames/op better=higher` turns a custom unit's direction around.
        let frames = by_name("BenchmarkFrames-2")
            .measures
            .iter()
            .find(|m| m.name == "frames_per_op")
            .unwrap();
        assert_eq!(frames.direction, Direction::HigherIsBetter);
        assert_eq!(frames.samples, [3.0, 3.0, 3.0]);
        assert_eq!(
            by_name("BenchmarkAlloc").measures[0].samples,
            [129.4, 63.73, 64.30]
        );
    }

    #[test]
    fn invalid_input_says_where_and_what() {
        let err = |text: &str| parse(text, "b.txt").unwrap_err().to_string();
        assert!(
            err("PASS\nok x 1s\n").starts_with("b.txt: no benchmark results in it"),
            "{}",
            err("PASS\n")
        );
        assert_eq!(
            err("goos: linux\nBenchmarkA-8   many   12 ns/op\n")
                .lines()
                .next(),
            Some(
                "b.txt:2:16: `many` is not an iteration count (a whole number) after `BenchmarkA-8`"
            )
        );
        assert_eq!(
            err("BenchmarkA 10 12 ns/op 7\n").lines().next(),
            Some("b.txt:1:24: `7` has no unit: each value is followed by its unit")
        );
        assert_eq!(
            err("BenchmarkA 10 1x2 ns/op\n").lines().next(),
            Some("b.txt:1:15: `1x2` is not a number (the value of `ns/op`)")
        );
        assert_eq!(
            err("Unit x/op better=sideways\nBenchmarkA 1 1 ns/op\n")
                .lines()
                .next(),
            Some("b.txt:1:11: `better=sideways`: a unit is better `higher` or `lower`")
        );
        assert!(err("x").contains("help: give the text `go test -bench` printed"));
    }

    #[test]
    fn one_name_in_two_packages_is_two_benchmarks() {
        let imp = crate::import::parse(
            Kind::GoBench,
            "pkg: example.com/a\nBenchmarkX 1 10 ns/op\nBenchmarkX 1 11 ns/op\n\
             pkg: example.com/b\nBenchmarkX 1 90 ns/op\n",
            "b",
        )
        .unwrap();
        let got: Vec<(&str, &str, &[f64])> = imp
            .benchmarks
            .iter()
            .map(|b| {
                (
                    b.name.as_str(),
                    b.id.as_str(),
                    b.measures[0].samples.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "example.com/a/BenchmarkX",
                    "example_com-a-BenchmarkX",
                    &[10.0, 11.0][..]
                ),
                (
                    "example.com/b/BenchmarkX",
                    "example_com-b-BenchmarkX",
                    &[90.0][..]
                ),
            ]
        );
    }

    #[test]
    fn name_only_lines_and_lower_case_benchmarks_are_not_results() {
        let imp = parse(
            "BenchmarkA\n    a_test.go:9: log\nBenchmarks are fun\nBenchmarkA-4 5 2.5 ns/op\n",
            "b",
        )
        .unwrap();
        assert_eq!(imp.benchmarks.len(), 1);
        assert_eq!(imp.benchmarks[0].measures[0].samples, [2.5]);
    }
}
