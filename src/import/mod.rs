//! Other tools' results in: criterion trees, `go test -bench` text, hyperfine JSON and
//! libtest bench output become the summary receipt the runner writes (`benchmark import`),
//! or a step's metrics (a step's `import`), so gates, `compare` and reports work on them
//! unchanged.
//!
//! Each kind is a pure parser from text to an [`Imported`] (criterion's directory walk is
//! the only I/O, at the edge in [`read`]); [`summary`] and [`metrics`] turn that into the
//! receipt's forms, with the statistics of [`crate::stats`].

pub mod criterion;
#[cfg(test)]
mod fuzz;
pub mod go_bench;
pub mod hyperfine;
pub mod libtest;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::format::iso;
use crate::measure::platform::Platform;
use crate::receipt::{
    self, Environment, Estimate, Measurement, Metric, MetricSummary, Options, Origin, Status,
    StepSummary, SuiteInfo, Summary, Tool, Warning, WarningCode,
};
use crate::stats::{self, compare::Direction};
use crate::summary::aggregate::HIGH_CV;

/// The tools whose output can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A criterion.rs output tree (`target/criterion`, or `$CRITERION_HOME`).
    Criterion,
    /// The text `go test -bench` prints (the Go benchmark data format).
    GoBench,
    /// hyperfine's `--export-json` file.
    Hyperfine,
    /// `cargo bench` with libtest's harness: its text, or its JSON lines
    /// (`-Z unstable-options --format json`).
    Libtest,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Criterion,
        Kind::GoBench,
        Kind::Hyperfine,
        Kind::Libtest,
    ];

    /// The name used on the command line, in suites and in receipts.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Criterion => "criterion",
            Kind::GoBench => "go-bench",
            Kind::Hyperfine => "hyperfine",
            Kind::Libtest => "libtest",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a tool's output said, before it is a receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub kind: Kind,
    /// The tool's version, when its output says.
    pub version: Option<String>,
    pub benchmarks: Vec<Benchmark>,
    /// What could not be read but did not stop the import (criterion's missing files).
    pub warnings: Vec<String>,
}

/// One benchmark of the tool's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Benchmark {
    /// A valid id made from `name` ([`id_of`], made unique among the file's benchmarks).
    pub id: String,
    /// The name as the tool wrote it.
    pub name: String,
    /// The file it was read from (criterion: the benchmark's directory).
    pub file: String,
    pub config: BTreeMap<String, String>,
    pub exit_codes: Vec<i32>,
    /// Wall time of each run, milliseconds (hyperfine).
    pub wall_ms: Vec<f64>,
    /// Peak resident set of each run, bytes (hyperfine's `memory_usage_byte`).
    pub peak_rss_bytes: Vec<f64>,
    pub measures: Vec<Measure>,
}

impl Benchmark {
    pub fn new(name: &str, file: &str) -> Self {
        Self {
            id: String::new(),
            name: name.to_owned(),
            file: file.to_owned(),
            config: BTreeMap::new(),
            exit_codes: Vec::new(),
            wall_ms: Vec::new(),
            peak_rss_bytes: Vec::new(),
            measures: Vec::new(),
        }
    }

    /// The measure called `name`, made with `make` when it is new.
    pub fn measure(&mut self, name: &str, make: impl FnOnce() -> Measure) -> &mut Measure {
        match self.measures.iter().position(|m| m.name == name) {
            Some(i) => &mut self.measures[i],
            None => {
                self.measures.push(make());
                self.measures.last_mut().expect("just pushed")
            }
        }
    }
}

/// One measure of a benchmark: its samples and what the tool estimated.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// The metric's name in the receipt (`ns_per_op`).
    pub name: String,
    /// The receipt's unit (`ns`), convertible where this tool knows the unit.
    pub unit: Option<String>,
    /// The unit as the tool wrote it, where it differs (`ns/op`).
    pub written: Option<String>,
    pub direction: Direction,
    pub samples: Vec<f64>,
    pub estimates: BTreeMap<String, Estimate>,
    pub change: BTreeMap<String, Estimate>,
    pub note: Option<String>,
}

impl Measure {
    pub fn new(name: &str, unit: Option<&str>, written: Option<&str>) -> Self {
        Self {
            name: name.to_owned(),
            unit: unit.map(str::to_owned),
            written: written.filter(|w| Some(*w) != unit).map(str::to_owned),
            direction: crate::compare::direction_of(unit),
            samples: Vec::new(),
            estimates: BTreeMap::new(),
            change: BTreeMap::new(),
            note: None,
        }
    }
}

/// Input that cannot be imported: where, what, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ImportError {
    pub file: String,
    /// 1-based line and column, where the input has them.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub help: String,
}

impl ImportError {
    pub fn new(file: &str, message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            column: None,
            message: message.into(),
            help: help.into(),
        }
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// A JSON syntax or shape error of `file`, at serde's line and column.
    pub fn json(file: &str, e: &serde_json::Error, help: impl Into<String>) -> Self {
        let err = Self::new(
            file,
            format!("not valid JSON here: {}", json_message(e)),
            help,
        );
        if e.line() > 0 {
            err.at(e.line(), e.column().max(1))
        } else {
            err
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}\n  help: {}", self.message, self.help)
    }
}

/// serde_json's message without the position it appends (the error shows it first).
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// Parse a text kind's output (`file` names it in messages and origins).
pub fn parse(kind: Kind, text: &str, file: &str) -> Result<Imported, ImportError> {
    let mut imported = match kind {
        Kind::GoBench => go_bench::parse(text, file)?,
        Kind::Hyperfine => hyperfine::parse(text, file)?,
        Kind::Libtest => libtest::parse(text, file)?,
        Kind::Criterion => {
            return Err(ImportError::new(
                file,
                "criterion writes a directory tree, not one output",
                "give the tree's path: `benchmark import criterion target/criterion`, or in a \
                 step `import = { kind = \"criterion\", path = \"target/criterion\" }`",
            ));
        }
    };
    assign_ids(&mut imported.benchmarks);
    finite(&imported, file)?;
    Ok(imported)
}

/// Every figure of an import is a finite number: statistics of an infinity mean nothing,
/// and JSON cannot carry one, so the receipt could not be written. A value the tool's
/// output holds that overflows once converted (hyperfine's `1e308` seconds in ms) is
/// refused here, for every kind at once.
fn finite(imported: &Imported, file: &str) -> Result<(), ImportError> {
    for b in &imported.benchmarks {
        let figures = [
            ("the wall times", &b.wall_ms),
            ("the peak RSS", &b.peak_rss_bytes),
        ]
        .into_iter()
        .chain(b.measures.iter().map(|m| (m.name.as_str(), &m.samples)));
        for (what, values) in figures {
            if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                return Err(ImportError::new(
                    file,
                    format!(
                        "benchmark `{}`: {what} hold {v}, not a finite number (after conversion to the receipt's unit)",
                        b.name
                    ),
                    "check the tool's output for a corrupted or overflowing value",
                ));
            }
        }
    }
    Ok(())
}

/// Read `path` (a file, or criterion's directory) and parse it.
pub fn read(kind: Kind, path: &Path) -> Result<Imported, ImportError> {
    let file = path.display().to_string();
    if kind == Kind::Criterion {
        let mut imported = criterion::read_tree(path)?;
        assign_ids(&mut imported.benchmarks);
        finite(&imported, &file)?;
        return Ok(imported);
    }
    let bytes = std::fs::read(path).map_err(|e| {
        ImportError::new(
            &file,
            format!("cannot read it: {e}"),
            if path.is_dir() {
                format!("{kind} output is a file: give the file, not a directory")
            } else {
                format!("give the file {kind}'s output was saved to")
            },
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ImportError::new(
            &file,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            format!("give the text {kind} printed, as it printed it"),
        )
    })?;
    parse(kind, &text, &file)
}

/// SHA-256 of what an import reads: a file's bytes; for a directory (criterion's), every
/// file's path and bytes in path order, its HTML `report/` directories left out.
pub fn fingerprint(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    if path.is_dir() {
        let mut files = Vec::new();
        list_files(path, 0, &mut files)?;
        files.sort();
        for f in files {
            let rel = f.strip_prefix(path).unwrap_or(&f);
            hash.update(rel.to_string_lossy().as_bytes());
            hash.update([0]);
            hash.update(std::fs::read(&f)?);
        }
    } else {
        hash.update(std::fs::read(path)?);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn list_files(dir: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    if depth > 16 {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() && entry.file_name() != "report" {
            list_files(&entry.path(), depth + 1, out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// A valid id (`[A-Za-z0-9_-]+`) for a tool's benchmark name, the same for the same name:
/// `/` becomes `-`, every other character outside the set `_` (`Sort/size=100` →
/// `Sort-size_100`, `benches::fib` → `benches__fib`, `fib 15` → `fib_15`).
pub fn id_of(name: &str) -> String {
    let id: String = name
        .trim()
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => c,
            '/' => '-',
            _ => '_',
        })
        .collect();
    if id.is_empty() {
        "benchmark".to_owned()
    } else {
        id
    }
}

/// Give every benchmark its id; two names that map to one id get `-2`, `-3`, … in order.
fn assign_ids(benchmarks: &mut [Benchmark]) {
    let mut taken: BTreeMap<String, u32> = BTreeMap::new();
    for b in benchmarks {
        let base = id_of(&b.name);
        let mut id = base.clone();
        let mut n = 1;
        while taken.contains_key(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        taken.insert(id.clone(), n);
        b.id = id;
    }
}

fn origin(imported: &Imported, b: &Benchmark, unit: Option<&str>) -> Origin {
    Origin {
        tool: imported.kind.name().to_owned(),
        version: imported.version.clone(),
        file: b.file.clone(),
        benchmark: b.name.clone(),
        unit: unit.map(str::to_owned),
        config: b.config.clone(),
        exit_codes: b.exit_codes.clone(),
    }
}

/// The per-step statistics of an import, one step per benchmark, with the variance
/// warnings the runner would give.
pub fn steps(imported: &Imported) -> (Vec<StepSummary>, Vec<Warning>) {
    let mut warnings = Vec::new();
    let steps = imported
        .benchmarks
        .iter()
        .map(|b| {
            let mut metrics = BTreeMap::new();
            for m in &b.measures {
                let Some(stats) = stats::summarize(&m.samples) else {
                    continue;
                };
                if stats::high_variance(&stats, HIGH_CV) {
                    warnings.push(Warning::step(
                        WarningCode::HighVariance,
                        &b.id,
                        format!(
                            "step `{}`: {} varies by {:.1}% (CV) over {} samples — treat its \
                             numbers as noisy",
                            b.id,
                            m.name,
                            stats.cv.unwrap_or(0.0) * 100.0,
                            stats.n
                        ),
                    ));
                }
                let mut summary = MetricSummary::new(m.unit.clone(), stats);
                summary.direction = Some(m.direction);
                summary.origin = Some(Origin {
                    config: BTreeMap::new(),
                    exit_codes: Vec::new(),
                    ..origin(imported, b, m.written.as_deref())
                });
                summary.estimates = m.estimates.clone();
                summary.change = m.change.clone();
                summary.note = m.note.clone();
                metrics.insert(m.name.clone(), summary);
            }
            let wall_ms = stats::summarize(&b.wall_ms);
            if let Some(w) = &wall_ms
                && stats::high_variance(w, HIGH_CV)
            {
                warnings.push(Warning::step(
                    WarningCode::HighVariance,
                    &b.id,
                    format!(
                        "step `{}`: wall time varies by {:.1}% (CV) over {} runs — treat its \
                         numbers as noisy",
                        b.id,
                        w.cv.unwrap_or(0.0) * 100.0,
                        w.n
                    ),
                ));
            }
            let failures = b.exit_codes.iter().filter(|c| **c != 0).count();
            if failures > 0 {
                warnings.push(Warning::step(
                    WarningCode::Import,
                    &b.id,
                    format!(
                        "step `{}`: `{}` exited non-zero in {failures} of {} runs \
                         ({} kept their times; so does this receipt)",
                        b.id,
                        b.name,
                        b.exit_codes.len(),
                        imported.kind
                    ),
                ));
            }
            StepSummary {
                id: b.id.clone(),
                name: b.name.clone(),
                parent: None,
                failures: failures as u32,
                outlier_runs: stats::outliers(&b.wall_ms)
                    .into_iter()
                    .map(|i| i as u32 + 1)
                    .collect(),
                wall_ms,
                cpu_user_ms: None,
                cpu_sys_ms: None,
                peak_rss_bytes: stats::summarize(&b.peak_rss_bytes),
                cgroup_memory_peak_bytes: None,
                cgroup_io_read_bytes: None,
                cgroup_io_write_bytes: None,
                resources: Default::default(),
                containers: None,
                metrics,
                phases: Vec::new(),
                origin: Some(origin(imported, b, None)),
            }
        })
        .collect();
    (steps, warnings)
}

/// Where and when an import was made, for its receipt.
#[derive(Debug, Clone)]
pub struct Context {
    /// What was imported, as given.
    pub path: String,
    /// SHA-256 of what was read.
    pub sha256: String,
    pub reproduce: String,
    pub at: std::time::SystemTime,
    pub platform: Platform,
}

/// The summary receipt of an import: one step per benchmark.
pub fn summary(imported: &Imported, ctx: Context) -> Summary {
    let (steps, variance) = steps(imported);
    let kind = imported.kind;
    let mut warnings = vec![Warning::new(
        WarningCode::Import,
        format!(
            "imported from {kind} output ({}): measured by {kind}, not by benchmark; the \
             environment recorded is the importing machine's",
            ctx.path
        ),
    )];
    warnings.extend(
        imported
            .warnings
            .iter()
            .map(|w| Warning::new(WarningCode::Import, w.clone())),
    );
    warnings.extend(variance);
    let runs = steps
        .iter()
        .flat_map(|s| {
            s.wall_ms
                .iter()
                .map(|w| w.n)
                .chain(s.metrics.values().map(|m| m.stats.n))
        })
        .max()
        .unwrap_or(0);
    let p = ctx.platform;
    Summary {
        schema_version: receipt::SCHEMA_VERSION,
        tool: Tool::this(),
        suite: SuiteInfo {
            name: format!("import-{kind}"),
            description: Some(format!("{kind} results imported from {}", ctx.path)),
            file: Some(ctx.path.clone()),
            sha256: ctx.sha256,
        },
        reproduce: ctx.reproduce,
        environment: Environment {
            os: p.os,
            arch: p.arch,
            nix_system: p.nix_system,
            is_wsl: p.is_wsl,
            docker_arch: p.docker_arch,
            cpu_model: p.cpu_model,
            cores: p.cores,
            physical_cores: p.physical_cores,
            memory_bytes: p.memory_bytes,
            kernel: p.kernel,
            virtualization: p.virtualization,
            container: p.container,
            hostname: p.hostname,
            measurement: Measurement {
                method: "imported".into(),
                note: Some(format!("measured by {kind}")),
            },
            sampler: None,
            docker: None,
            docker_monitor: None,
            env: BTreeMap::new(),
            image: None,
        },
        options: Options {
            mode: None,
            runs: runs as u32,
            warmup: 0,
            keep_logs: false,
            shuffle_seed: None,
        },
        started_at: iso(ctx.at),
        finished_at: iso(ctx.at),
        status: Status::Ok,
        runs: runs as u32,
        warnings,
        slos: Vec::new(),
        load: Vec::new(),
        steps,
    }
}

/// An import as a step's metrics in one run: `BENCHMARK-MEASURE` per sample (hyperfine's
/// times as `BENCHMARK-wall`, its memory as `BENCHMARK-peak_rss`). The tool's own estimates
/// stay with `benchmark import`.
pub fn metrics(imported: &Imported) -> Vec<Metric> {
    let mut out = Vec::new();
    for b in &imported.benchmarks {
        let base = |m: &str| format!("{}-{m}", b.id);
        let mut push = |name: String, unit: Option<&str>, direction, written, samples: &[f64]| {
            for &value in samples {
                out.push(Metric {
                    name: name.clone(),
                    value,
                    unit: unit.map(str::to_owned),
                    direction: Some(direction),
                    origin: Some(origin(imported, b, written)),
                });
            }
        };
        push(
            base("wall"),
            Some("ms"),
            Direction::LowerIsBetter,
            None,
            &b.wall_ms,
        );
        push(
            base("peak_rss"),
            Some("B"),
            Direction::LowerIsBetter,
            None,
            &b.peak_rss_bytes,
        );
        for m in &b.measures {
            push(
                base(&m.name),
                m.unit.as_deref(),
                m.direction,
                m.written.as_deref(),
                &m.samples,
            );
        }
    }
    out
}

/// The metric name for a tool's unit: `ns/op` → `ns_per_op`, `MB/s` → `MB_per_s`.
pub fn measure_name(unit: &str) -> String {
    id_of(&unit.replace('/', "_per_"))
}

/// A number as tools print it: `1,234.5`, `-0.3`, `1e9`.
pub fn number(text: &str) -> Option<f64> {
    let plain: String = text.chars().filter(|c| *c != ',').collect();
    plain.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixture of `tests/fixtures/import/`.
    pub(crate) fn fixture(rel: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/import")
            .join(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// `a` and `b` equal to the last few bits (a division and a scaling apart).
    #[track_caller]
    pub(crate) fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-9 * a.abs().max(b.abs()), "{a} != {b}");
    }

    #[test]
    fn ids_are_valid_deterministic_and_distinct() {
        assert_eq!(
            id_of("BenchmarkSort/size=100-2"),
            "BenchmarkSort-size_100-2"
        );
        assert_eq!(id_of("benches::fib_10"), "benches__fib_10");
        assert_eq!(id_of("fib 15"), "fib_15");
        assert_eq!(id_of("sleep 0.01"), "sleep_0_01");
        assert_eq!(id_of("  "), "benchmark");
        let mut b = vec![
            Benchmark::new("a/b", "f"),
            Benchmark::new("a-b", "f"),
            Benchmark::new("a b", "f"),
            Benchmark::new("a_b", "f"),
        ];
        assign_ids(&mut b);
        let ids: Vec<&str> = b.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["a-b", "a-b-2", "a_b", "a_b-2"]);
        assert!(ids.iter().all(|id| crate::suite::valid_id(id)));
    }

    #[test]
    fn numbers_and_measure_names_as_tools_write_them() {
        assert_eq!(number("203,381.02"), Some(203_381.02));
        assert_eq!(number("1,409"), Some(1409.0));
        assert_eq!(number("nan"), None);
        assert_eq!(number("x"), None);
        assert_eq!(measure_name("ns/op"), "ns_per_op");
        assert_eq!(measure_name("MB/s"), "MB_per_s");
    }

    #[test]
    fn errors_name_the_file_line_and_column_and_what_to_do() {
        let e = ImportError::new("bench.txt", "bad", "fix it").at(3, 7);
        assert_eq!(e.to_string(), "bench.txt:3:7: bad\n  help: fix it");
        let e = ImportError::new("x.json", "bad", "fix it");
        assert_eq!(e.to_string(), "x.json: bad\n  help: fix it");
        let e = parse(Kind::Criterion, "", "-").unwrap_err();
        assert!(e.message.contains("directory tree"), "{e}");
    }

    fn context() -> Context {
        Context {
            path: "bench.txt".into(),
            sha256: "0".into(),
            reproduce: "benchmark import go-bench bench.txt".into(),
            at: std::time::SystemTime::UNIX_EPOCH,
            platform: crate::measure::platform::detect(),
        }
    }

    #[test]
    fn the_summary_is_schema_valid_with_origins_and_directions() {
        let imp = parse(Kind::GoBench, &fixture("go-bench/bench.txt"), "bench.txt").unwrap();
        let s = summary(&imp, context());
        let v = serde_json::to_value(&s).unwrap();
        let schema = receipt::schema(receipt::SchemaKind::Summary);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(s.steps.len(), 10);
        assert_eq!(s.runs, 3);
        assert_eq!(s.environment.measurement.method, "imported");
        assert_eq!(s.warnings[0].code, WarningCode::Import);
        let frames = &s.steps[8];
        assert_eq!(frames.name, "BenchmarkFrames");
        let m = &frames.metrics["frames_per_op"];
        assert_eq!(m.direction, Some(Direction::HigherIsBetter));
        let o = m.origin.as_ref().unwrap();
        assert_eq!(
            (o.tool.as_str(), o.file.as_str(), o.benchmark.as_str()),
            ("go-bench", "bench.txt", "BenchmarkFrames")
        );
        let ns = &frames.metrics["ns_per_op"];
        assert_eq!(ns.origin.as_ref().unwrap().unit.as_deref(), Some("ns/op"));
        assert_eq!(ns.stats.samples, [1.824, 1.814, 1.415]);
        assert_eq!(
            frames.origin.as_ref().unwrap().config["cpu"],
            "Intel(R) Xeon(R) Processor"
        );
    }

    #[test]
    fn a_figure_that_overflows_is_refused_not_imported_as_infinity() {
        // Found by the importers' fuzz target: hyperfine's 1e308 s is infinite in ms.
        let json = r#"{"results": [{"command": "x", "times": [0.5, 1e308]}]}"#;
        let e = parse(Kind::Hyperfine, json, "h.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("benchmark `x`: the wall times hold inf, not a finite number"),
            "{e}"
        );
        // The go parser refuses it itself, at its line and column.
        let e = parse(Kind::GoBench, "BenchmarkF 100 1e309 ns/op\n", "b.txt")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("b.txt:1:16: `1e309` is not a number"), "{e}");
    }

    #[test]
    fn compare_judges_an_imported_measure_by_its_direction() {
        use crate::stats::compare::Verdict;
        // Ten samples each, so that the test has the power to call a change.
        // Both twice the base, well outside a noise band of a few percent.
        let text: String = (0..10)
            .map(|i| {
                format!(
                    "BenchmarkF 100 {} ns/op {} frames/op\n",
                    100 + i % 3,
                    30 + i % 3
                )
            })
            .collect();
        let faster: String = (0..10)
            .map(|i| {
                format!(
                    "BenchmarkF 100 {} ns/op {} frames/op\n",
                    200 + i % 3,
                    60 + i % 3
                )
            })
            .collect();
        let unit = "Unit frames/op better=higher\n";
        let base = summary(
            &parse(Kind::GoBench, &format!("{unit}{text}"), "a").unwrap(),
            context(),
        );
        let new = summary(
            &parse(Kind::GoBench, &format!("{unit}{faster}"), "b").unwrap(),
            context(),
        );
        let r = crate::compare::compare(&base, &new, ("a", "b"), &Default::default());
        let verdict = |m: &str| r.measures.iter().find(|x| x.measure == m).unwrap().verdict;
        assert_eq!(verdict("metric.ns_per_op"), Verdict::Regressed);
        assert_eq!(verdict("metric.frames_per_op"), Verdict::Improved);
    }

    #[test]
    fn as_a_steps_metrics_every_sample_with_its_origin() {
        let imp = parse(Kind::Hyperfine, &fixture("hyperfine/basic.json"), "h.json").unwrap();
        let m = metrics(&imp);
        let wall: Vec<&Metric> = m.iter().filter(|m| m.name == "sleep_0_01-wall").collect();
        assert_eq!(wall.len(), 10);
        assert_eq!(wall[0].value, imp.benchmarks[0].wall_ms[0]);
        assert_eq!(wall[0].unit.as_deref(), Some("ms"));
        assert_eq!(wall[0].origin.as_ref().unwrap().tool, "hyperfine");
        assert!(
            m.iter().all(|m| crate::control::valid_name(&m.name)),
            "{m:?}"
        );
    }

    #[test]
    fn kinds_by_name() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(k));
        }
        assert_eq!(Kind::from_name("gobench"), None);
    }
}
