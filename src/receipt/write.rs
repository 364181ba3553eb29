//! Writing receipts atomically: a temporary file in the same directory, renamed into
//! place complete, so a kill never leaves a truncated receipt. [`json_atomic`] also
//! fsyncs the file and the directory before returning; a [`Batch`] (the per-run
//! receipts) fsyncs at most once a second and when it is finished, so a long suite of
//! short runs does not wait for the disk after every run.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

/// Serialize `value` as pretty JSON to `path`, atomically.
pub fn json_atomic(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).context("serializing a receipt")?;
    bytes.push(b'\n');
    bytes_atomic(path, &bytes)
}

/// Write `bytes` to `path`, atomically and durably.
pub fn bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = replace(path, bytes)?;
    sync(&file, parent(path)).with_context(|| format!("writing {}", path.display()))
}

/// Receipts renamed into place complete at once, made durable together: at most one
/// round of fsyncs per `every`, and all of them by [`Batch::finish`]. On Linux a round is
/// one `syncfs` per directory (however many receipts it holds); elsewhere each file is
/// fsynced, then its directory.
#[derive(Debug)]
pub struct Batch {
    every: Duration,
    last: Instant,
    pending: Vec<PathBuf>,
}

impl Batch {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: Instant::now(),
            pending: Vec::new(),
        }
    }

    /// Serialize `value` to `path`: complete on disk at once (a kill cannot truncate it),
    /// durable by the next round of fsyncs.
    pub fn json(&mut self, path: &Path, value: &impl Serialize) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(value).context("serializing a receipt")?;
        bytes.push(b'\n');
        drop(replace(path, &bytes)?);
        self.pending.push(path.to_owned());
        if self.last.elapsed() >= self.every {
            self.sync()?;
        }
        Ok(())
    }

    /// Make every receipt written since the last round durable.
    pub fn finish(&mut self) -> Result<()> {
        self.sync()
    }

    fn sync(&mut self) -> Result<()> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for path in self.pending.drain(..) {
            let dir = parent(&path).to_owned();
            if !cfg!(target_os = "linux") {
                File::open(&path)
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        for dir in dirs {
            #[cfg(target_os = "linux")]
            {
                let d = File::open(&dir)
                    .with_context(|| format!("writing receipts in {}", dir.display()))?;
                // SAFETY: syncfs on a descriptor we own.
                if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&d)) } != 0 {
                    return Err(std::io::Error::last_os_error())
                        .with_context(|| format!("writing receipts in {}", dir.display()));
                }
            }
            #[cfg(not(target_os = "linux"))]
            sync_dir(&dir);
        }
        self.last = Instant::now();
        Ok(())
    }
}

impl Drop for Batch {
    /// An invocation that ends early (an error) still makes what it wrote durable.
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn sync(file: &File, dir: &Path) -> std::io::Result<()> {
    file.sync_all()?;
    sync_dir(dir);
    Ok(())
}

/// Make a rename in `dir` durable (best effort: not every file system can).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write `bytes` to a temporary file beside `path` and rename it into place; the open
/// file is returned for an fsync.
fn replace(path: &Path, bytes: &[u8]) -> Result<File> {
    let dir = parent(path);
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
        fs::rename(&tmp, path)?;
        Ok::<_, std::io::Error>(f)
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
    fn a_batch_renames_each_receipt_into_place_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut batch = Batch::new(Duration::from_secs(3600));
        for n in 1..=3 {
            let p = dir.path().join(format!("run_{n}.json"));
            batch.json(&p, &serde_json::json!({ "run": n })).unwrap();
            // Complete before any fsync: what a kill -9 right now would leave.
            let v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            assert_eq!(v["run"], n);
        }
        assert_eq!(batch.pending.len(), 3, "no fsync within the interval");
        batch.finish().unwrap();
        assert!(batch.pending.is_empty());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temporaries left"
        );
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_path() {
        let e = json_atomic(Path::new("/nonexistent-dir/x/perf.json"), &1).unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent-dir/x/perf.json"));
    }
}
