//! Writing receipts atomically: a temporary file in the same directory, fsync, rename,
//! fsync the directory. A crash or a kill never leaves a truncated receipt.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// Serialize `value` as pretty JSON to `path`, atomically.
pub fn json_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).context("serializing a receipt")?;
    bytes.push(b'\n');
    bytes_atomic(path, &bytes)
}

/// Write `bytes` to `path`, atomically.
pub fn bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("a receipt path needs a file name")?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<_, std::io::Error>(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("perf.json");
        json_atomic(&p, &serde_json::json!({"a": 1})).unwrap();
        json_atomic(&p, &serde_json::json!({"a": 2})).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["a"], 2);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["perf.json"]);
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_path() {
        let e = json_atomic(Path::new("/nonexistent-dir/x/perf.json"), &1).unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent-dir/x/perf.json"));
    }
}
