//! The output directory: one invocation at a time (a lock that names its holder), and a
//! manifest of what earlier invocations wrote there, so that clearing them removes only
//! those files and never one this tool does not know.
//!
//! The manifest records each invocation's shape (runs, warm-ups, step ids) rather than
//! every file: it is written once, before anything else, so a kill at any later point
//! never leaves a file of ours it does not cover, and its size does not grow with
//! `runs × steps`.

use std::fs::{self, File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::receipt;

use super::{IDS_FILE, SUBSTEPS_FILE};

/// The manifest of what earlier invocations wrote into the directory.
pub const MANIFEST: &str = ".benchmark-manifest.json";
/// Locked (flock) by the invocation writing into the directory; says who holds it.
pub const LOCK: &str = ".benchmark.lock";
const LOGS: &str = "logs";
const MANIFEST_VERSION: u32 = 1;

/// What one invocation writes: `run_N.json` for each measured run, and
/// `logs/{run,warmup}_N/` with a log per step, the `benchmark step` records and the ids
/// taken in the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Written {
    pub runs: u32,
    pub warmups: u32,
    pub steps: Vec<String>,
}

impl Written {
    /// Whether `rel` (relative to the output directory, `/`-separated) is one of this
    /// invocation's run receipts or logs.
    fn covers(&self, rel: &str) -> bool {
        if let Some(n) = numbered(rel, "run_", ".json") {
            return n <= self.runs;
        }
        let Some((dir, file)) = rel.strip_prefix("logs/").and_then(|r| r.split_once('/')) else {
            return false;
        };
        self.covers_dir(dir)
            && (file == SUBSTEPS_FILE
                || file == IDS_FILE
                || file
                    .strip_suffix(".log")
                    .is_some_and(|id| self.steps.iter().any(|s| s == id)))
    }

    /// Whether `logs/NAME` is one of this invocation's run directories.
    fn covers_dir(&self, name: &str) -> bool {
        match (numbered(name, "run_", ""), numbered(name, "warmup_", "")) {
            (Some(n), _) => n <= self.runs,
            (_, Some(n)) => n <= self.warmups,
            _ => false,
        }
    }

    /// Whether this invocation writes the summaries: `perf.json` and `summary_*.json`.
    fn covers_summary(rel: &str) -> bool {
        rel == "perf.json" || (rel.starts_with("summary_") && rel.ends_with(".json"))
    }
}

/// `PREFIX<N>SUFFIX` with N ≥ 1 written as this tool writes it (`run_01.json` is not ours).
fn numbered(name: &str, prefix: &str, suffix: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    let n: u32 = digits.parse().ok()?;
    (n >= 1 && n.to_string() == digits).then_some(n)
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    version: u32,
    /// Invocations whose run receipts and logs may still be here.
    invocations: Vec<Written>,
    /// Whether at least one invocation wrote a summary (`perf.json`, `summary_*.json`).
    summaries: bool,
    /// `logs/` did not exist before this tool created it (so it may remove it empty).
    created_logs: bool,
}

impl Manifest {
    fn covers(&self, rel: &str) -> bool {
        (self.summaries && Written::covers_summary(rel))
            || self.invocations.iter().any(|w| w.covers(rel))
            || stale_temporary(rel).is_some_and(|of| of == MANIFEST || self.covers(of))
    }

    /// Whether `logs/NAME` is a run's log directory an earlier invocation created.
    fn covers_dir(&self, name: &str) -> bool {
        self.invocations.iter().any(|w| w.covers_dir(name))
    }

    /// Add an invocation; one with the same steps is merged (the union of `1..=a` and
    /// `1..=b` is `1..=max(a, b)`), so repeated `--keep-logs` runs keep it small.
    fn add(&mut self, w: Written) {
        match self.invocations.iter_mut().find(|o| o.steps == w.steps) {
            Some(o) => {
                o.runs = o.runs.max(w.runs);
                o.warmups = o.warmups.max(w.warmups);
            }
            None => self.invocations.push(w),
        }
    }
}

/// `.NAME.tmp-PID`, what an atomic write leaves behind when killed: NAME.
fn stale_temporary(rel: &str) -> Option<&str> {
    let (name, pid) = rel.strip_prefix('.')?.rsplit_once(".tmp-")?;
    (!name.contains('/') && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        .then_some(name)
}

/// Files present that `new` would write over but no earlier invocation wrote: someone
/// else's.
fn foreign<'a>(old: &Manifest, new: &Written, present: &'a [String]) -> Vec<&'a str> {
    present
        .iter()
        .map(String::as_str)
        .filter(|rel| (new.covers(rel) || rel == &"perf.json") && !old.covers(rel))
        .collect()
}

/// Files present that clearing removes: earlier run receipts and logs, and temporaries
/// a killed invocation left. Summaries accumulate, and `perf.json` is replaced.
fn clearable<'a>(old: &Manifest, present: &'a [String]) -> Vec<&'a str> {
    present
        .iter()
        .map(String::as_str)
        .filter(|rel| {
            old.covers(rel) && (stale_temporary(rel).is_some() || !Written::covers_summary(rel))
        })
        .collect()
}

/// The regular files in `root` and in `root/logs/*/`, relative to `root`: every place
/// this tool writes. Symlinks and directories elsewhere are never looked into.
fn scan(root: &Path) -> std::io::Result<Vec<String>> {
    let mut found = Vec::new();
    for e in fs::read_dir(root)? {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        let kind = e.file_type()?;
        if kind.is_file() {
            found.push(name);
        } else if kind.is_dir() && name == LOGS {
            for d in fs::read_dir(e.path())? {
                let d = d?;
                let Ok(dname) = d.file_name().into_string() else {
                    continue;
                };
                if !d.file_type()?.is_dir() {
                    continue;
                }
                for f in fs::read_dir(d.path())? {
                    let f = f?;
                    if let (Ok(fname), true) =
                        (f.file_name().into_string(), f.file_type()?.is_file())
                    {
                        found.push(format!("{LOGS}/{dname}/{fname}"));
                    }
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// An output directory, locked for this invocation.
#[derive(Debug)]
pub struct OutputDir {
    root: PathBuf,
    // Held until the invocation ends; the kernel releases it if the process dies.
    lock: File,
}

impl OutputDir {
    /// Create and lock `root`; refuse if a file `written` would replace is not one this
    /// tool wrote; remove earlier run receipts and logs (unless `keep`); record `written`
    /// in the manifest before any of it is written.
    pub fn prepare(root: &Path, keep: bool, written: Written) -> Result<Self, Error> {
        fs::create_dir_all(root).map_err(|e| {
            Error::Usage(format!(
                "cannot create the output directory {}: {e}; choose another with --output",
                root.display()
            ))
        })?;
        let lock = lock(root)?;
        let manifest_path = root.join(MANIFEST);
        let mut manifest = match fs::read(&manifest_path) {
            Ok(bytes) => serde_json::from_slice::<Manifest>(&bytes)
                .ok()
                .filter(|m| m.version == MANIFEST_VERSION)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "{} is not a manifest this version of benchmark can read; remove it \
                         (the files it lists are then left alone) or choose another --output",
                        manifest_path.display()
                    ))
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest {
                version: MANIFEST_VERSION,
                ..Manifest::default()
            },
            Err(e) => {
                return Err(Error::Usage(format!(
                    "cannot read {}: {e}; make it readable or choose another --output",
                    manifest_path.display()
                )));
            }
        };
        let present = scan(root).map_err(|e| {
            Error::Usage(format!(
                "cannot list the output directory {}: {e}; choose another with --output",
                root.display()
            ))
        })?;
        let theirs = foreign(&manifest, &written, &present);
        if !theirs.is_empty() {
            return Err(Error::Usage(format!(
                "{} already holds {} that benchmark did not write (not in its {MANIFEST}), \
                 and this run would replace {}; move {} away or choose another --output",
                root.display(),
                list(&theirs),
                if theirs.len() == 1 { "it" } else { "them" },
                if theirs.len() == 1 { "it" } else { "them" },
            )));
        }
        if !keep {
            clear(root, &mut manifest, &present)?;
        }
        manifest.created_logs |= !root.join(LOGS).exists();
        manifest.summaries = true;
        manifest.add(written);
        receipt::write::json_atomic(&manifest_path, &manifest).map_err(|e| {
            // The cause (ENOSPC, EACCES) in the message itself: it is what to fix.
            Error::Other(anyhow::anyhow!(
                "cannot record what this run writes into {} ({e:#}); free space there or \
                 choose another --output",
                root.display()
            ))
        })?;
        Ok(OutputDir {
            root: root.to_owned(),
            lock,
        })
    }

    /// The path of this invocation's summary: `summary_<UTC with nanoseconds>.json`,
    /// with a counter if that name is taken.
    pub fn summary_path(&self, started_at: SystemTime) -> PathBuf {
        let stamp = humantime::format_rfc3339_nanos(started_at)
            .to_string()
            .replace([':', '-'], "");
        summary_name(&stamp, |n| self.root.join(n).symlink_metadata().is_ok())
            .map(|n| self.root.join(n))
            .unwrap_or_else(|| self.root.join(format!("summary_{stamp}.json")))
    }

    /// Release the directory; the lock file no longer names a holder.
    pub fn finish(self) {
        let _ = self.lock.set_len(0);
    }
}

/// `summary_STAMP.json`, or `summary_STAMP-N.json` for the first N not `taken`.
fn summary_name(stamp: &str, taken: impl Fn(&str) -> bool) -> Option<String> {
    std::iter::once(format!("summary_{stamp}.json"))
        .chain((2..100).map(|n| format!("summary_{stamp}-{n}.json")))
        .find(|n| !taken(n))
}

fn list(files: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut s = files
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > SHOWN {
        s.push_str(&format!(" and {} more", files.len() - SHOWN));
    }
    s
}

/// Remove the earlier run receipts and logs, then the log directories they leave empty.
fn clear(root: &Path, manifest: &mut Manifest, present: &[String]) -> Result<(), Error> {
    for rel in clearable(manifest, present) {
        let p = root.join(rel);
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Usage(format!(
                    "cannot remove {} (written by an earlier benchmark run): {e}; remove it \
                     by hand, or pass --keep-logs",
                    p.display()
                )));
            }
        }
        // remove_dir leaves a directory that still holds anything.
        if let Some(dir) = Path::new(rel).parent().filter(|d| d.starts_with(LOGS)) {
            let _ = fs::remove_dir(root.join(dir));
        }
    }
    // Run directories of steps that printed nothing hold no file, but are ours too.
    if let Ok(dirs) = fs::read_dir(root.join(LOGS)) {
        for d in dirs.flatten() {
            if d.file_name()
                .to_str()
                .is_some_and(|n| manifest.covers_dir(n))
            {
                let _ = fs::remove_dir(d.path());
            }
        }
    }
    if manifest.created_logs {
        let _ = fs::remove_dir(root.join(LOGS));
    }
    manifest.invocations.clear();
    Ok(())
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
            return Err(Error::Usage(in_use(root, holder.trim())));
        }
        Err(TryLockError::Error(e)) => {
            return Err(Error::Usage(format!(
                "cannot lock the output directory {} ({}: {e}); choose another with --output",
                root.display(),
                path.display()
            )));
        }
    }
    let who = holder(
        std::process::id(),
        &nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "this host".into()),
        SystemTime::now(),
        &std::env::args().collect::<Vec<_>>().join(" "),
    );
    // Best effort: the lock itself is what excludes; this only names the holder.
    let _ = f
        .set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| f.write_all(who.as_bytes()))
        .and_then(|()| f.flush());
    Ok(f)
}

fn holder(pid: u32, host: &str, since: SystemTime, command: &str) -> String {
    format!(
        "pid {pid} on {host}, started {}: {command}",
        humantime::format_rfc3339_seconds(since)
    )
}

fn in_use(root: &Path, holder: &str) -> String {
    format!(
        "the output directory {} is in use by another benchmark invocation ({}); wait for \
         it to finish or choose another --output",
        root.display(),
        if holder.is_empty() {
            "which has not yet said who it is"
        } else {
            holder
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(runs: u32, warmups: u32, steps: &[&str]) -> Written {
        Written {
            runs,
            warmups,
            steps: steps.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn manifest(ws: Vec<Written>) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            summaries: !ws.is_empty(),
            invocations: ws,
            created_logs: true,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn an_invocation_covers_exactly_its_receipts_and_logs() {
        let w = shape(2, 1, &["a", "b-c"]);
        for ours in [
            "run_1.json",
            "run_2.json",
            "logs/run_2/a.log",
            "logs/run_1/b-c.log",
            "logs/warmup_1/a.log",
            "logs/run_1/.steps.jsonl",
            "logs/run_1/.step-ids",
        ] {
            assert!(w.covers(ours), "{ours}");
        }
        for theirs in [
            "run_3.json",
            "run_0.json",
            "run_01.json",
            "run_1.json.bak",
            "run_x.json",
            "logs/notes.txt",
            "logs/run_1/notes.txt",
            "logs/run_1/c.log",
            "logs/run_3/a.log",
            "logs/warmup_2/a.log",
            "logs/run_1/sub/a.log",
            "logs/other_1/a.log",
            "perf.json",
            "summary_1.json",
        ] {
            assert!(!w.covers(theirs), "{theirs}");
        }
    }

    #[test]
    fn a_file_in_the_way_that_no_earlier_invocation_wrote_is_foreign() {
        let present = strings(&[
            "run_1.json",
            "run_2.json",
            "run_9.json",
            "perf.json",
            "logs/notes.txt",
            "logs/run_1/a.log",
            "logs/run_1/mine.txt",
        ]);
        // An earlier invocation with one run: run_2.json is someone else's.
        let old = manifest(vec![shape(1, 0, &["a"])]);
        assert_eq!(
            foreign(&old, &shape(2, 0, &["a"]), &present),
            ["run_2.json"]
        );
        // No manifest at all: everything the run would replace is foreign.
        assert_eq!(
            foreign(&manifest(vec![]), &shape(1, 0, &["a"]), &present),
            ["run_1.json", "perf.json", "logs/run_1/a.log"]
        );
    }

    #[test]
    fn clearing_takes_receipts_logs_and_stale_temporaries_not_summaries() {
        let present = strings(&[
            ".run_1.json.tmp-123",
            ".summary_x.json.tmp-9",
            ".notes.tmp-12",
            ".benchmark-manifest.json",
            "run_1.json",
            "run_9.json",
            "perf.json",
            "summary_20261203T000000.1Z.json",
            "logs/run_1/a.log",
            "logs/run_1/notes.txt",
            "logs/warmup_1/.steps.jsonl",
        ]);
        let old = manifest(vec![shape(1, 1, &["a"])]);
        assert_eq!(
            clearable(&old, &present),
            [
                ".run_1.json.tmp-123",
                ".summary_x.json.tmp-9",
                "run_1.json",
                "logs/run_1/a.log",
                "logs/warmup_1/.steps.jsonl"
            ]
        );
        assert!(clearable(&manifest(vec![]), &present).is_empty());
    }

    #[test]
    fn invocations_with_the_same_steps_merge_into_their_union() {
        let mut m = manifest(vec![]);
        m.add(shape(3, 0, &["a"]));
        m.add(shape(1, 2, &["a"]));
        m.add(shape(1, 0, &["b"]));
        assert_eq!(m.invocations, [shape(3, 2, &["a"]), shape(1, 0, &["b"])]);
    }

    #[test]
    fn a_taken_summary_name_gets_a_counter() {
        assert_eq!(
            summary_name("T1Z", |_| false).as_deref(),
            Some("summary_T1Z.json")
        );
        assert_eq!(
            summary_name("T1Z", |n| n == "summary_T1Z.json").as_deref(),
            Some("summary_T1Z-2.json")
        );
    }

    #[test]
    fn the_lock_error_names_the_holder_and_what_to_do() {
        let since = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let h = holder(42, "ci-7", since, "benchmark run -o out");
        assert_eq!(
            h,
            "pid 42 on ci-7, started 2027-01-15T08:00:00Z: benchmark run -o out"
        );
        let e = in_use(Path::new("out"), &h);
        assert!(e.contains("out is in use by another benchmark invocation (pid 42 on ci-7"));
        assert!(e.ends_with("wait for it to finish or choose another --output"));
    }

    #[test]
    fn clearing_leaves_directories_that_still_hold_someone_elses_files() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for f in [
            "run_1.json",
            "logs/run_1/a.log",
            "logs/run_2/a.log",
            "logs/run_2/mine.txt",
        ] {
            fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            fs::write(root.join(f), "x").unwrap();
        }
        let mut m = manifest(vec![shape(2, 0, &["a"])]);
        let present = scan(root).unwrap();
        clear(root, &mut m, &present).unwrap();
        assert_eq!(scan(root).unwrap(), ["logs/run_2/mine.txt"]);
        assert!(!root.join("logs/run_1").exists());
        assert!(m.invocations.is_empty());
    }
}
