//! A criterion.rs output tree (`target/criterion`, or `$CRITERION_HOME`): per benchmark
//! directory, `new/sample.json` (`times[i]` nanoseconds for `iters[i]` iterations: each
//! sample is `times[i] / iters[i]` ns per iteration), `new/estimates.json` (criterion's
//! bootstrap estimates with their intervals), `new/benchmark.json` (its name and
//! throughput) and `change/estimates.json` (the change against its previous run).
//!
//! The format is undocumented and has changed between releases, so a missing file is a
//! warning, not an error; a file that is there but does not read is an error. The walk is
//! the only I/O; [`benchmark`] is pure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Benchmark, ImportError, Imported, Kind, Measure};
use crate::receipt::Estimate;
use crate::stats::compare::Direction;

const HELP: &str = "give the directory criterion wrote (`target/criterion`, or \
                    `$CRITERION_HOME`) after `cargo bench`; regenerate a damaged file by \
                    running the benchmark again";

/// The files of one benchmark directory, as text; `None` for a missing file.
#[derive(Debug, Default, Clone, Copy)]
pub struct Files<'a> {
    pub benchmark: Option<&'a str>,
    pub estimates: Option<&'a str>,
    pub sample: Option<&'a str>,
    pub change: Option<&'a str>,
}

#[derive(Deserialize)]
struct RawBenchmark {
    full_id: Option<String>,
    #[serde(default)]
    throughput: Option<BTreeMap<String, f64>>,
}

#[derive(Deserialize)]
struct RawSample {
    iters: Vec<f64>,
    times: Vec<f64>,
}

#[derive(Deserialize)]
struct RawEstimate {
    point_estimate: f64,
    standard_error: Option<f64>,
    confidence_interval: Option<RawInterval>,
}

#[derive(Deserialize)]
struct RawInterval {
    confidence_level: Option<f64>,
    lower_bound: Option<f64>,
    upper_bound: Option<f64>,
}

impl From<RawEstimate> for Estimate {
    fn from(r: RawEstimate) -> Self {
        let ci = r.confidence_interval;
        Estimate {
            point: r.point_estimate,
            ci_low: ci.as_ref().and_then(|c| c.lower_bound),
            ci_high: ci.as_ref().and_then(|c| c.upper_bound),
            confidence_level: ci.as_ref().and_then(|c| c.confidence_level),
            standard_error: r.standard_error,
        }
    }
}

fn json<'a, T: Deserialize<'a>>(text: &'a str, file: &str) -> Result<T, ImportError> {
    serde_json::from_str(text).map_err(|e| ImportError::json(file, &e, HELP))
}

/// One benchmark from its files. `dir` is the benchmark's directory, for messages and its
/// name when `benchmark.json` is missing; `rel` its path under the tree's root. Missing
/// files are pushed to `warnings`; `None` when there is nothing to import.
pub fn benchmark(
    files: Files<'_>,
    dir: &str,
    rel: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<Benchmark>, ImportError> {
    let path = |f: &str| format!("{dir}/{f}");
    let info: Option<RawBenchmark> = files
        .benchmark
        .map(|t| json(t, &path("new/benchmark.json")))
        .transpose()?;
    let estimates: Option<BTreeMap<String, RawEstimate>> = files
        .estimates
        .map(|t| json(t, &path("new/estimates.json")))
        .transpose()?;
    let change: Option<BTreeMap<String, RawEstimate>> = files
        .change
        .map(|t| json(t, &path("change/estimates.json")))
        .transpose()?;
    let samples = match files.sample {
        None => None,
        Some(t) => {
            let file = path("new/sample.json");
            let s: RawSample = json(t, &file)?;
            if s.iters.len() != s.times.len() {
                return Err(ImportError::new(
                    &file,
                    format!(
                        "{} `iters` but {} `times`: each sample is a time for a number of \
                         iterations",
                        s.iters.len(),
                        s.times.len()
                    ),
                    HELP,
                ));
            }
            if let Some(i) = s.iters.iter().position(|n| n.is_nan() || *n <= 0.0) {
                return Err(ImportError::new(
                    &file,
                    format!("sample {} has {} iterations", i + 1, s.iters[i]),
                    HELP,
                ));
            }
            Some(
                s.times
                    .iter()
                    .zip(&s.iters)
                    .map(|(t, n)| t / n)
                    .collect::<Vec<f64>>(),
            )
        }
    };
    let missing = |f: &str, what: &str| format!("criterion: {dir}/{f} is missing: {what}");
    if files.benchmark.is_none() {
        warnings.push(missing(
            "new/benchmark.json",
            "its name is taken from the directory, its throughput is unknown",
        ));
    }
    let (samples, sample_note) = match (samples, &estimates) {
        (Some(s), _) => (s, None),
        (None, Some(e)) if e.contains_key("mean") => {
            warnings.push(missing(
                "new/sample.json",
                "criterion's mean estimate is its only sample",
            ));
            (
                vec![e["mean"].point_estimate],
                Some("sample.json was missing: the mean estimate is the only sample"),
            )
        }
        (None, _) => {
            warnings.push(missing(
                "new/sample.json and new/estimates.json",
                "the benchmark is left out",
            ));
            return Ok(None);
        }
    };
    if estimates.is_none() {
        warnings.push(missing(
            "new/estimates.json",
            "criterion's own estimates are not recorded",
        ));
    }
    let name = info
        .as_ref()
        .and_then(|i| i.full_id.clone())
        .unwrap_or_else(|| rel.to_owned());
    let mut b = Benchmark::new(&name, dir);
    let mut time = Measure::new("ns_per_iter", Some("ns"), Some("ns/iter"));
    time.estimates = estimates
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, v.into()))
        .collect();
    time.change = change
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, v.into()))
        .collect();
    time.note = sample_note.map(str::to_owned);
    // Throughput per sample: the amount per iteration over the sample's time per iteration.
    let throughput = info.and_then(|i| i.throughput).and_then(|t| {
        t.into_iter().find_map(|(kind, amount)| {
            let unit = match kind.as_str() {
                "Bytes" | "BytesDecimal" => "B/s",
                "Elements" => "elem/s",
                _ => return None,
            };
            Some((unit, amount))
        })
    });
    if let Some((unit, amount)) = throughput {
        let mut m = Measure::new("throughput", Some(unit), None);
        m.direction = Direction::HigherIsBetter;
        m.samples = samples.iter().map(|ns| amount / (ns * 1e-9)).collect();
        time.samples = samples;
        b.measures.push(time);
        b.measures.push(m);
    } else {
        time.samples = samples;
        b.measures.push(time);
    }
    Ok(Some(b))
}

/// Every benchmark under `root`: each directory with a `new/` directory, in path order;
/// `report/` directories (criterion's HTML) are skipped.
pub fn read_tree(root: &Path) -> Result<Imported, ImportError> {
    let shown = root.display().to_string();
    if !root.is_dir() {
        return Err(ImportError::new(
            &shown,
            if root.exists() {
                "not a directory"
            } else {
                "no such directory"
            },
            "give criterion's output directory (`target/criterion`, or `$CRITERION_HOME`); \
             run `cargo bench` first",
        ));
    }
    let mut dirs = Vec::new();
    walk(root, 0, &mut dirs).map_err(|e| {
        ImportError::new(&shown, format!("cannot list it: {e}"), "make it readable")
    })?;
    dirs.sort();
    let mut benchmarks = Vec::new();
    let mut warnings = Vec::new();
    for dir in dirs {
        let read = |rel: &str| -> Result<Option<String>, ImportError> {
            let p = dir.join(rel);
            match std::fs::read_to_string(&p) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(ImportError::new(
                    &p.display().to_string(),
                    format!("cannot read it: {e}"),
                    "make it readable",
                )),
            }
        };
        let (bench, est, sample, change) = (
            read("new/benchmark.json")?,
            read("new/estimates.json")?,
            read("new/sample.json")?,
            read("change/estimates.json")?,
        );
        let rel = dir
            .strip_prefix(root)
            .unwrap_or(&dir)
            .to_string_lossy()
            .into_owned();
        let files = Files {
            benchmark: bench.as_deref(),
            estimates: est.as_deref(),
            sample: sample.as_deref(),
            change: change.as_deref(),
        };
        if let Some(b) = benchmark(files, &dir.display().to_string(), &rel, &mut warnings)? {
            benchmarks.push(b);
        }
    }
    if benchmarks.is_empty() {
        return Err(ImportError::new(
            &shown,
            "no criterion benchmark in it (no directory with `new/sample.json` or \
             `new/estimates.json`)",
            "give criterion's output directory (`target/criterion`, or `$CRITERION_HOME`); \
             run `cargo bench` first",
        ));
    }
    Ok(Imported {
        kind: Kind::Criterion,
        version: None,
        benchmarks,
        warnings,
    })
}

/// Directories that hold a `new/` directory, at most 16 levels down, symlinks not followed.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > 16 {
        return Ok(());
    }
    if dir.join("new").is_dir() {
        out.push(dir.to_owned());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !entry.file_type()?.is_dir()
            || ["report", "new", "base", "change"].contains(&name.to_string_lossy().as_ref())
        {
            continue;
        }
        walk(&entry.path(), depth + 1, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::tests::{close, fixture};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/criterion/criterion")
    }

    #[test]
    fn the_real_tree_every_figure_from_its_file() {
        let imp = crate::import::read(Kind::Criterion, &root()).unwrap();
        let names: Vec<&str> = imp.benchmarks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["checksum/16KiB", "fib/10", "fib/5", "fib 15"]);
        let ids: Vec<&str> = imp.benchmarks.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["checksum-16KiB", "fib-10", "fib-5", "fib_15"]);
        assert!(imp.warnings.is_empty(), "{:?}", imp.warnings);
        for b in &imp.benchmarks {
            let dir = format!("criterion/criterion/{}", b.name);
            let v = |f: &str| -> serde_json::Value {
                serde_json::from_str(&fixture(&format!("{dir}/{f}"))).unwrap()
            };
            let sample = v("new/sample.json");
            let per_iter: Vec<f64> = sample["times"]
                .as_array()
                .unwrap()
                .iter()
                .zip(sample["iters"].as_array().unwrap())
                .map(|(t, n)| t.as_f64().unwrap() / n.as_f64().unwrap())
                .collect();
            let t = &b.measures[0];
            assert_eq!(
                (t.name.as_str(), t.unit.as_deref()),
                ("ns_per_iter", Some("ns"))
            );
            assert_eq!(t.samples, per_iter, "{}", b.name);
            let est = v("new/estimates.json");
            for k in ["mean", "median", "std_dev", "median_abs_dev", "slope"] {
                let e = &t.estimates[k];
                assert_eq!(e.point, est[k]["point_estimate"].as_f64().unwrap(), "{k}");
                let ci = &est[k]["confidence_interval"];
                assert_eq!(e.ci_low, ci["lower_bound"].as_f64(), "{k}");
                assert_eq!(e.ci_high, ci["upper_bound"].as_f64(), "{k}");
                assert_eq!(e.confidence_level, Some(0.95));
                assert_eq!(e.standard_error, est[k]["standard_error"].as_f64());
            }
            let change = v("change/estimates.json");
            for k in ["mean", "median"] {
                assert_eq!(
                    t.change[k].point,
                    change[k]["point_estimate"].as_f64().unwrap()
                );
            }
            // criterion's mean estimate is the mean of the same per-iteration samples.
            let s = crate::stats::summarize(&t.samples).unwrap();
            close(s.mean, est["mean"]["point_estimate"].as_f64().unwrap());
            let info = v("new/benchmark.json");
            match info["throughput"]["Bytes"].as_f64() {
                Some(bytes) => {
                    let tp = &b.measures[1];
                    assert_eq!(tp.unit.as_deref(), Some("B/s"));
                    assert_eq!(tp.direction, Direction::HigherIsBetter);
                    for (x, ns) in tp.samples.iter().zip(&per_iter) {
                        close(*x, bytes / ns * 1e9);
                    }
                }
                None => assert_eq!(b.measures.len(), 1, "{}", b.name),
            }
        }
    }

    #[test]
    fn missing_files_are_warnings() {
        let est = fixture("criterion/criterion/fib/5/new/estimates.json");
        let mut w = Vec::new();
        let b = benchmark(
            Files {
                estimates: Some(&est),
                ..Files::default()
            },
            "t/fib/5",
            "fib/5",
            &mut w,
        )
        .unwrap()
        .unwrap();
        assert_eq!(b.name, "fib/5");
        assert_eq!(b.measures[0].samples.len(), 1);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("criterion: t/fib/5/new/benchmark.json is missing"));
        assert!(w[1].contains("sample.json is missing: criterion's mean estimate"));
        let mut w = Vec::new();
        assert_eq!(
            benchmark(Files::default(), "t/x", "x", &mut w).unwrap(),
            None
        );
        assert!(w.last().unwrap().contains("the benchmark is left out"));
    }

    #[test]
    fn invalid_input_says_where_and_what() {
        let mut w = Vec::new();
        let e = benchmark(
            Files {
                sample: Some("{\"iters\": [1.0],\n \"times\": [1.0, 2.0]}"),
                ..Files::default()
            },
            "t/a",
            "a",
            &mut w,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string().lines().next(),
            Some(
                "t/a/new/sample.json: 1 `iters` but 2 `times`: each sample is a time for a \
                 number of iterations"
            )
        );
        let e = benchmark(
            Files {
                estimates: Some("{\"mean\": {\"point_estimate\": \"x\"}}"),
                ..Files::default()
            },
            "t/a",
            "a",
            &mut w,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t/a/new/estimates.json:1:31: not valid JSON here: invalid type: string \"x\", expected f64\n"),
            "{e}"
        );
        let e = read_tree(Path::new("/nonexistent/criterion")).unwrap_err();
        assert_eq!(
            e.to_string().lines().next(),
            Some("/nonexistent/criterion: no such directory")
        );
        let empty = tempfile::tempdir().unwrap();
        let e = read_tree(empty.path()).unwrap_err();
        assert!(e.message.starts_with("no criterion benchmark in it"), "{e}");
    }
}
