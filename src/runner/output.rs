//! The output directory: a lock held for the whole invocation, and a manifest of every
//! file this tool wrote there, so that clearing earlier receipts removes only those and
//! never a file it does not know.

use std::collections::BTreeSet;
use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::receipt;

/// The manifest: the files (relative paths) earlier invocations wrote here.
pub const MANIFEST: &str = ".benchmark-manifest.json";
/// Locked (flock) by the invocation writing into the directory; says who holds it.
pub const LOCK: &str = ".benchmark.lock";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    files: BTreeSet<String>,
}

/// An output directory, locked for this invocation.
#[derive(Debug)]
pub struct OutputDir {
    root: PathBuf,
    manifest: Manifest,
    // Held until the invocation ends; the kernel releases it if the process dies.
    _lock: File,
}

impl OutputDir {
    /// Create and lock `root`, remove what earlier invocations wrote there (unless
    /// `keep`), and claim `planned` (relative paths this invocation will write): a planned
    /// file that exists but is not in the manifest belongs to someone else, and is an error.
    pub fn open(root: &Path, keep: bool, planned: &[String]) -> Result<Self, Error> {
        fs::create_dir_all(root).map_err(|e| {
            Error::Usage(format!(
                "cannot create the output directory {}: {e}; choose another with --output",
                root.display()
            ))
        })?;
        let lock = lock(root)?;
        let manifest_path = root.join(MANIFEST);
        let mut manifest: Manifest = match fs::read(&manifest_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Usage(format!(
                    "{} is not a manifest this tool can read ({e}); remove it (the files it \
                     lists are then no longer cleared) or choose another --output",
                    manifest_path.display()
                ))
            })?,
            Err(_) => Manifest::default(),
        };
        if !keep {
            clear(root, &mut manifest);
        }
        for rel in planned {
            if !manifest.files.contains(rel) && root.join(rel).symlink_metadata().is_ok() {
                return Err(Error::Usage(format!(
                    "{} exists and was not written by benchmark (it is not in {}); move it \
                     away or choose another --output",
                    root.join(rel).display(),
                    MANIFEST
                )));
            }
        }
        let mut dir = OutputDir {
            root: root.to_owned(),
            manifest,
            _lock: lock,
        };
        dir.claim(planned)?;
        Ok(dir)
    }

    /// Record files before writing them, so that a kill between the two never leaves a
    /// file of ours that the next invocation does not know.
    pub fn claim(&mut self, rel: &[String]) -> Result<(), Error> {
        let before = self.manifest.files.len();
        self.manifest.files.extend(rel.iter().cloned());
        if self.manifest.files.len() == before && self.root.join(MANIFEST).exists() {
            return Ok(());
        }
        receipt::write::json_atomic(&self.root.join(MANIFEST), &self.manifest)
            .context("recording the files this invocation writes")
            .map_err(|e| Error::Other(e.context(format!(
                "cannot write into the output directory {}; free space there or choose another with --output",
                self.root.display()
            ))))
    }
}

/// Take the directory's lock, or say who holds it.
fn lock(root: &Path) -> Result<File, Error> {
    let path = root.join(LOCK);
    let mut f = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            Error::Usage(format!(
                "the output directory {} is not writable ({}: {e}); choose another with --output",
                root.display(),
                path.display()
            ))
        })?;
    match f.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Error::Usage(format!(
                "the output directory {} is in use by another benchmark invocation ({}); \
                 wait for it to finish or choose another --output",
                root.display(),
                if holder.is_empty() {
                    "it has not said who it is"
                } else {
                    holder
                }
            )));
        }
        Err(TryLockError::Error(e)) => {
            return Err(Error::Usage(format!(
                "cannot lock the output directory {} ({}: {e}); choose another with --output",
                root.display(),
                path.display()
            )));
        }
    }
    let who = format!(
        "pid {} on {}, since {}: {}",
        std::process::id(),
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "this host".into()),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    let _ = f
        .set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| f.write_all(who.as_bytes()))
        .and_then(|()| f.flush());
    Ok(f)
}

/// Remove the run receipts and logs the manifest lists, then the directories they leave
/// empty. Summaries accumulate; anything not listed stays.
fn clear(root: &Path, manifest: &mut Manifest) {
    let mut dirs = BTreeSet::new();
    manifest.files.retain(|rel| {
        if !is_clearable(rel) {
            return true;
        }
        let p = root.join(rel);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // Keep it listed: a later invocation tries again.
            Err(_) => return true,
        }
        let mut parent = Path::new(rel).parent();
        while let Some(d) = parent.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(d.to_owned());
            parent = d.parent();
        }
        false
    });
    // Deepest first; remove_dir leaves a directory that still holds anything.
    let mut dirs: Vec<PathBuf> = dirs.into_iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = fs::remove_dir(root.join(d));
    }
}

/// A run receipt or a log, as a plain relative path (a manifest edited to point
/// elsewhere is not followed).
fn is_clearable(rel: &str) -> bool {
    let p = Path::new(rel);
    p.components().all(|c| matches!(c, Component::Normal(_)))
        && (rel.starts_with("logs/") || (rel.starts_with("run_") && rel.ends_with(".json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_receipt_and_log_paths_are_cleared() {
        assert!(is_clearable("run_1.json"));
        assert!(is_clearable("logs/run_1/a.log"));
        assert!(!is_clearable("summary_x.json"));
        assert!(!is_clearable("perf.json"));
        assert!(!is_clearable("logs/../../etc/passwd"));
        assert!(!is_clearable("/etc/passwd"));
        assert!(!is_clearable("run_1.json/../x"));
    }

    #[test]
    fn clearing_removes_listed_files_and_the_directories_they_leave_empty() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("logs/run_1")).unwrap();
        fs::create_dir_all(root.join("logs/run_2")).unwrap();
        for f in [
            "run_1.json",
            "logs/run_1/a.log",
            "logs/run_2/a.log",
            "logs/run_2/mine.txt",
        ] {
            fs::write(root.join(f), "x").unwrap();
        }
        let mut m = Manifest::default();
        for f in [
            "run_1.json",
            "logs/run_1/a.log",
            "logs/run_2/a.log",
            "summary_1.json",
        ] {
            m.files.insert(f.into());
        }
        clear(root, &mut m);
        assert!(!root.join("run_1.json").exists());
        assert!(!root.join("logs/run_1").exists());
        assert!(root.join("logs/run_2/mine.txt").exists());
        assert!(!root.join("logs/run_2/a.log").exists());
        assert_eq!(m.files.iter().collect::<Vec<_>>(), ["summary_1.json"]);
    }
}
