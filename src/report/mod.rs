//! Reporters: pure functions from receipts (and comparisons) to bytes, each behind one
//! trait, [`Exporter`] (hyperfine's `Exporter`); [`output`] owns the files they go to.
//! Progress display lives in [`progress`].
//!
//! Every format shows a summary's load scenarios (`[[load]]`) when it has some and says
//! nothing of them when it has none; `report::load` holds what the formats say alike. One
//! format is for load alone: `--format kruntimes` ([`kruntimes`]) exports each scenario
//! as the kruntimes load report does (JSON, camelCase: operations, concurrency, latency
//! per phase, throughput, capacity, failures) and refuses a receipt without `[[load]]`.

pub mod bmf;
pub mod compare;
pub mod csv;
pub mod gab;
pub mod gates;
pub mod html;
pub mod junit;
pub mod kruntimes;
pub(crate) mod load;
pub mod markdown;
pub mod openmetrics;
pub mod output;
pub mod progress;
pub mod table;

use crate::receipt::{RunReceipt, Summary};

/// A summary receipt as a report sees it: where it came from, and the run receipts
/// written with it (for a failing step's exit status and output tail), where found.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The file it was read from, as given.
    pub source: String,
    pub summary: Summary,
    /// Its `run_N.json` receipts, by run; empty when they were not beside it.
    pub runs: Vec<RunReceipt>,
}

impl Receipt {
    /// A receipt without its run receipts.
    pub fn new(source: impl Into<String>, summary: Summary) -> Self {
        Self {
            source: source.into(),
            summary,
            runs: Vec::new(),
        }
    }
}

/// The formats of `report --format` and `compare --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The console table.
    Table,
    /// GitHub-flavoured Markdown, a step summary (also appended to $GITHUB_STEP_SUMMARY).
    Markdown,
    /// One row per step and measure (and load phase), its statistics in columns.
    Csv,
    /// JUnit XML: each step, each gate and each load scenario a testcase.
    Junit,
    /// OpenMetrics text (Prometheus, node_exporter's textfile collector).
    Openmetrics,
    /// One self-contained HTML page with SVG charts; several receipts add their history.
    Html,
    /// Bencher Metric Format JSON.
    Bmf,
    /// github-action-benchmark `customSmallerIsBetter` JSON.
    Gab,
    /// github-action-benchmark `customBiggerIsBetter` JSON (the higher-is-better metrics).
    GabBigger,
    /// The load scenarios as a kruntimes load report (JSON: per scenario its operations,
    /// latency per phase, throughput, capacity, failures); a receipt without `[[load]]` is
    /// refused.
    Kruntimes,
    /// The receipt (or comparison) itself, as JSON.
    Json,
}

impl Format {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Markdown => "markdown",
            Format::Csv => "csv",
            Format::Junit => "junit",
            Format::Openmetrics => "openmetrics",
            Format::Html => "html",
            Format::Bmf => "bmf",
            Format::Gab => "gab",
            Format::GabBigger => "gab-bigger",
            Format::Kruntimes => "kruntimes",
            Format::Json => "json",
        }
    }

    pub fn exporter(self) -> &'static dyn Exporter {
        match self {
            Format::Table => &table::Exporter,
            Format::Markdown => &markdown::Exporter,
            Format::Csv => &csv::Exporter,
            Format::Junit => &junit::Exporter,
            Format::Openmetrics => &openmetrics::Exporter,
            Format::Html => &html::Exporter,
            Format::Bmf => &bmf::Exporter,
            Format::Gab => &gab::Exporter(crate::stats::compare::Direction::LowerIsBetter),
            Format::GabBigger => &gab::Exporter(crate::stats::compare::Direction::HigherIsBetter),
            Format::Kruntimes => &kruntimes::Exporter,
            Format::Json => &Json,
        }
    }

    const ALL: [Format; 11] = [
        Format::Table,
        Format::Markdown,
        Format::Csv,
        Format::Junit,
        Format::Openmetrics,
        Format::Html,
        Format::Bmf,
        Format::Gab,
        Format::GabBigger,
        Format::Kruntimes,
        Format::Json,
    ];
}

/// What a format cannot render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("--format {format} does not render a comparison; use one of: {supported}")]
    NoComparison {
        format: &'static str,
        supported: String,
    },
    #[error(
        "--format {format} renders one receipt, not {given}; give one, or use --format html, which shows several as a history"
    )]
    OneReceipt { format: &'static str, given: usize },
    #[error("no receipt to report on; give a receipt (perf.json) or an output directory")]
    NoReceipt,
    #[error(
        "{receipt} has no [[load]] scenario: --format {format} exports load scenarios; run a suite with [[load]], or use another format"
    )]
    NoLoad {
        format: &'static str,
        receipt: String,
    },
}

/// A report format: receipts (and, where it has one, a comparison) to bytes. Pure.
pub trait Exporter: Sync {
    /// The report of `receipts`, oldest first; never called with none, and with more
    /// than one only when [`Exporter::several`] says so.
    fn receipts(&self, receipts: &[Receipt]) -> Vec<u8>;

    /// Whether it reads several receipts (a history), not only one.
    fn several(&self) -> bool {
        false
    }

    /// Why it cannot render `receipt`, when it cannot (a format of one kind of data
    /// given a receipt without it).
    fn refuse(&self, _receipt: &Receipt) -> Option<ReportError> {
        None
    }

    /// The report of a comparison, for the formats that have one.
    fn comparison(&self, _report: &crate::compare::Report) -> Option<Vec<u8>> {
        None
    }
}

/// Render `receipts` in `format`, refusing what it cannot show.
pub fn render(format: Format, receipts: &[Receipt]) -> Result<Vec<u8>, ReportError> {
    let e = format.exporter();
    if let Some(refused) = receipts.iter().find_map(|r| e.refuse(r)) {
        return Err(refused);
    }
    match receipts.len() {
        0 => Err(ReportError::NoReceipt),
        1 => Ok(e.receipts(receipts)),
        _ if e.several() => Ok(e.receipts(receipts)),
        n => Err(ReportError::OneReceipt {
            format: format.name(),
            given: n,
        }),
    }
}

/// Render a comparison in `format`, naming the formats that can when it cannot.
pub fn render_comparison(
    format: Format,
    report: &crate::compare::Report,
) -> Result<Vec<u8>, ReportError> {
    format
        .exporter()
        .comparison(report)
        .ok_or_else(|| ReportError::NoComparison {
            format: format.name(),
            supported: Format::ALL
                .iter()
                .filter(|f| f.exporter().comparison(report).is_some())
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// `--format json`: the receipt, or the comparison, as it is stored.
struct Json;

impl Exporter for Json {
    fn receipts(&self, receipts: &[Receipt]) -> Vec<u8> {
        json(&receipts[0].summary)
    }

    fn comparison(&self, report: &crate::compare::Report) -> Option<Vec<u8>> {
        Some(json(report))
    }
}

/// Pretty JSON with a final newline: the JSON formats' bytes.
pub(crate) fn json(v: &impl serde::Serialize) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).expect("receipts serialize");
    b.push(b'\n');
    b
}

/// A step's name in reports: `parent › id` for a sub-step.
pub(crate) fn step_label(s: &crate::receipt::StepSummary) -> String {
    match &s.parent {
        Some(p) => format!("{p} › {}", s.id),
        None => s.id.clone(),
    }
}

/// The failed runs of a step: `(run, exit code, signal, output tail)`, from the run
/// receipts.
pub(crate) fn failures<'a>(
    r: &'a Receipt,
    step: &'a crate::receipt::StepSummary,
) -> impl Iterator<Item = (u32, &'a crate::receipt::StepRecord)> + 'a {
    r.runs.iter().flat_map(move |run| {
        run.steps
            .iter()
            .filter(move |s| {
                s.id == step.id && s.parent == step.parent && s.status != crate::receipt::Status::Ok
            })
            .map(move |s| (run.run, s))
    })
}

#[cfg(test)]
pub(crate) mod fixture;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every format renders a version 1 receipt (no samples, plain warnings), a receipt
    /// without run receipts, and a receipt of an interrupted invocation with no steps.
    #[test]
    fn every_format_renders_every_receipt() {
        let v1: Summary = crate::receipt::read::parse(include_bytes!(
            "../../tests/fixtures/receipts/summary-v1.json"
        ))
        .unwrap();
        let mut empty = fixture::receipt();
        empty.summary.steps.clear();
        empty.summary.slos.clear();
        empty.summary.warnings.clear();
        empty.summary.runs = 0;
        empty.summary.status = crate::receipt::Status::Interrupted;
        for r in [
            Receipt::new("v1.json", v1),
            fixture::receipt(),
            empty,
            fixture::load_receipt(),
        ] {
            for f in Format::ALL {
                if f == Format::Kruntimes && r.summary.load.is_empty() {
                    assert!(matches!(
                        render(f, std::slice::from_ref(&r)),
                        Err(ReportError::NoLoad { .. })
                    ));
                    continue;
                }
                let out = render(f, std::slice::from_ref(&r)).unwrap();
                assert!(!out.is_empty(), "{f:?}");
                assert!(std::str::from_utf8(&out).is_ok(), "{f:?}");
            }
        }
    }

    #[test]
    fn formats_without_a_comparison_name_those_with_one() {
        let s = fixture::receipt().summary;
        let report = crate::compare::compare(&s, &s, ("a", "b"), &Default::default());
        let e = render_comparison(Format::Html, &report).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--format html does not render a comparison; use one of: table, markdown, csv, junit, json"
        );
        let e = render(Format::Csv, &[fixture::receipt(), fixture::receipt()]).unwrap_err();
        assert!(e.to_string().contains("renders one receipt, not 2"), "{e}");
    }
}
