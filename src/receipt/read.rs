//! Reading receipts back (`compare`, `--baseline`, reports): tolerant of fields this
//! version does not know and of those older versions lacked, strict about the version
//! number itself, with errors that name the file and what to do.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;

use super::{RunReceipt, SCHEMA_VERSION, Summary};

/// The oldest receipt version this release reads.
pub const OLDEST: u32 = 1;

/// A summary receipt (`perf.json`, `summary_<UTC>.json`), or the `perf.json` of an output
/// directory.
pub fn summary(path: &Path) -> Result<Summary> {
    load(&resolve(path))
}

/// A `run_N.json` receipt.
pub fn run(path: &Path) -> Result<RunReceipt> {
    load(path)
}

fn load<T: DeserializeOwned>(file: &Path) -> Result<T> {
    let bytes = std::fs::read(file).with_context(|| {
        format!(
            "reading {}; give a receipt (perf.json, summary_<UTC>.json) or an output directory",
            file.display()
        )
    })?;
    parse(&bytes).with_context(|| format!("reading {}", file.display()))
}

/// Parse a receipt's bytes, checking its `schema_version` first so that a receipt of a
/// newer release says so instead of failing on a field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: Option<u32>,
    }
    let v: Version = serde_json::from_slice(bytes)
        .context("not a JSON receipt of benchmark (no JSON object)")?;
    match v.schema_version {
        None => bail!("not a receipt of benchmark: it has no `schema_version`"),
        Some(n) if n > SCHEMA_VERSION => bail!(
            "schema version {n} is newer than this benchmark reads ({OLDEST}–{SCHEMA_VERSION}); use a newer benchmark"
        ),
        Some(n) if n < OLDEST => bail!("schema version {n} is older than {OLDEST}"),
        Some(_) => {}
    }
    serde_json::from_slice(bytes).context("a field of the receipt has the wrong shape")
}

/// The run receipts (`run_N.json`) written with a summary, read from the summary's
/// directory: those of its suite that started while it ran (an output directory kept with
/// `--keep-logs` may hold other invocations' too), by run. Unreadable ones are left out:
/// they only add detail (a failing step's output tail) to a report.
pub fn runs_beside(path: &Path, summary: &Summary) -> Vec<RunReceipt> {
    let file = resolve(path);
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut runs: Vec<RunReceipt> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("run_") && name.ends_with(".json")
        })
        .filter_map(|e| run(&e.path()).ok())
        .filter(|r| {
            r.suite == summary.suite.name
                && summary.started_at.as_str() <= r.started_at.as_str()
                && r.started_at.as_str() <= summary.finished_at.as_str()
        })
        .collect();
    runs.sort_by_key(|r| r.run);
    runs
}

/// The receipt files a path names: itself, or the `perf.json` of a directory.
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("perf.json")
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::WarningCode;

    /// A version 1 summary, as release 0.1 wrote it: plain-string warnings, no samples.
    const V1: &str = include_str!("../../tests/fixtures/receipts/summary-v1.json");

    #[test]
    fn a_version_1_summary_loads() {
        let s: Summary = parse(V1.as_bytes()).unwrap();
        assert_eq!(s.schema_version, 1);
        assert!(!s.warnings.is_empty());
        assert!(s.warnings.iter().all(|w| w.code == WarningCode::Other));
        let wall = s.steps[0].wall_ms.as_ref().unwrap();
        assert!(wall.samples.is_empty());
        assert!(wall.n > 0);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let mut v: serde_json::Value = serde_json::from_str(V1).unwrap();
        v["from_the_future"] = serde_json::json!({"x": 1});
        v["steps"][0]["new_measure"] = serde_json::json!(3);
        let s: Summary = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(s.steps.len(), 2);
    }

    #[test]
    fn a_newer_version_says_so() {
        let mut v: serde_json::Value = serde_json::from_str(V1).unwrap();
        v["schema_version"] = serde_json::json!(SCHEMA_VERSION + 1);
        let e = parse::<Summary>(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(format!("{e:#}").contains("use a newer benchmark"), "{e:#}");
    }

    #[test]
    fn not_a_receipt_is_named_as_such() {
        let e = parse::<Summary>(b"{\"a\": 1}").unwrap_err();
        assert!(format!("{e:#}").contains("no `schema_version`"), "{e:#}");
        let e = parse::<Summary>(b"[1, 2]").unwrap_err();
        assert!(format!("{e:#}").contains("no JSON object"), "{e:#}");
    }

    #[test]
    fn a_typed_warning_round_trips() {
        let w = crate::receipt::Warning::step(WarningCode::HighVariance, "a", "varies");
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(
            json,
            r#"{"code":"high_variance","step":"a","message":"varies"}"#
        );
        let back: crate::receipt::Warning = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
        let unknown: crate::receipt::Warning =
            serde_json::from_str(r#"{"code":"from_the_future","message":"m"}"#).unwrap();
        assert_eq!(unknown.code, WarningCode::Other);
    }
}
