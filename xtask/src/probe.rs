//! `cargo xtask probe`: the `kill -9` reliability probe of issue 8, as a repeatable tool.
//!
//! Each trial starts `benchmark run` on a suite of varied steps with a secret in its
//! environment, SIGKILLs it at a moment drawn from a seed, and then counts what the kill
//! cost: receipts that do not parse, step processes left running, and — after one normal
//! follow-up run, which must sweep a dead harness's leftovers — cgroup and control-FIFO
//! directories still named after the dead harness, and files that hold the secret.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many kill -9 trials to run.
    #[arg(long, default_value_t = 100)]
    kills: u32,
    /// The harness to probe (default: the release binary, `cargo build --release`).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Seed for the kill moments and the secret (default: from the clock; printed, so
    /// that a run can be repeated).
    #[arg(long)]
    seed: Option<u64>,
    /// Kill moments are drawn from [0, WINDOW) ms after the start (default: the wall time
    /// of the fastest of three unkilled runs of the suite, measured first and printed).
    #[arg(long, value_name = "MS")]
    window: Option<u64>,
    /// Keep every trial's directory (by default only those of trials that found a defect).
    #[arg(long)]
    keep: bool,
}

/// A follow-up run slower than this counts as a hang (and is killed).
const HANG: Duration = Duration::from_secs(60);
/// The environment variable that marks every process a trial's harness started.
const MARK_VAR: &str = "XTASK_PROBE_MARK";
/// The environment variable holding the secret; the suite does not allow-list it.
const SECRET_VAR: &str = "PROBE_SECRET";

/// Steps of varied length: sleeps, a step writing output, one leaving a background child,
/// one with control lines on stdout and on the control FIFO.
const SUITE: &str = r#"[suite]
name = "kill-probe"
runs = 4
warmup = 1
timeout = "30s"
kill_grace = "100ms"

[monitor]
interval = "10ms"
docker = "off"

[[setup]]
run = "true"

[[step]]
id = "short"
run = "sleep 0.01"

[[step]]
id = "medium"
run = "sleep 0.05"

[[step]]
id = "write"
run = "head -c 200000 /dev/zero | tr '\\0' x; echo; sleep 0.02"

[[step]]
id = "background"
run = "sleep 30 & sleep 0.03"

[[step]]
id = "control"
run = """echo '::bench:: metric x 1 ms'; echo '::bench:: phase two' > "$BENCHMARK_CONTROL"; echo '::bench:: metric y 2 ms' > "$BENCHMARK_CONTROL"; sleep 0.02"""

[[teardown]]
run = "true"
"#;

pub fn run(args: Args) -> Result<()> {
    let bin = match args.bin {
        Some(bin) => bin,
        None => default_bin(),
    };
    if !crate::tools::is_executable(&bin) {
        bail!(
            "{} is not an executable: build it (`cargo build --release`) or pass --bin PATH",
            bin.display()
        );
    }
    let bin = fs::canonicalize(&bin).with_context(|| format!("resolving {}", bin.display()))?;
    let seed = args.seed.unwrap_or_else(clock_seed);
    // Step processes orphaned by the kill are re-parented to us, so that we can reap them.
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes no pointers.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

    let work = tempfile::Builder::new()
        .prefix("xtask-probe-")
        .tempdir()
        .context("creating the probe's directory")?
        .keep();
    let suite = work.join("suite.toml");
    fs::write(&suite, SUITE).with_context(|| format!("writing {}", suite.display()))?;

    let window = match args.window {
        Some(ms) => Duration::from_millis(ms.max(1)),
        None => calibrate(&bin, &suite, &work)?,
    };
    let secret = format!("s3cr3t-{:016x}", SplitMix(seed ^ 0x5ec2e7).next_u64());
    println!(
        "probe: {} kill -9 trials of {}; seed {seed}, window {} ms (repeat: cargo xtask probe --kills {} --seed {seed} --window {})",
        args.kills,
        bin.display(),
        window.as_millis(),
        args.kills,
        window.as_millis()
    );

    let mut figures = Figures::default();
    let mut kept = false;
    let times = kill_times(seed, args.kills as usize, window);
    for (i, &at) in times.iter().enumerate() {
        let trial = Trial {
            n: i + 1,
            bin: &bin,
            suite: &suite,
            dir: work.join(format!("trial_{}", i + 1)),
            mark: format!("xtask-probe-{seed}-{}", i + 1),
            secret: &secret,
            at,
        };
        let found = trial.run(&mut figures)?;
        if found.is_empty() {
            if !args.keep {
                let _ = fs::remove_dir_all(&trial.dir);
            }
        } else {
            kept = true;
            for line in found {
                println!("trial {} (kill at {} ms): {line}", i + 1, at.as_millis());
            }
        }
        if (i + 1) % 10 == 0 {
            eprintln!("probe: {}/{} trials", i + 1, args.kills);
        }
    }
    if kept || args.keep {
        println!("probe: kept {}", work.display());
    } else {
        let _ = fs::remove_dir_all(&work);
    }
    print!("{}", table(&figures));
    Ok(())
}

fn default_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::project_root().join("target"));
    target.join("release").join("benchmark")
}

fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

/// The fastest of three unkilled runs of the suite: the window kill moments fall in. (The
/// first run on a cold cache is the slowest; a window that long lets a third of the
/// harnesses finish before their kill.)
fn calibrate(bin: &Path, suite: &Path, work: &Path) -> Result<Duration> {
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        fastest = fastest.min(unkilled_run(bin, suite, work)?);
    }
    Ok(fastest)
}

fn unkilled_run(bin: &Path, suite: &Path, work: &Path) -> Result<Duration> {
    let out = work.join("calibration");
    let start = Instant::now();
    let mut child = Command::new(bin)
        .arg("run")
        .arg(suite)
        .arg("--output")
        .arg(&out)
        .arg("-q")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let Some(status) = wait_within(&mut child, HANG)? else {
        bail!(
            "the calibration run (`{} run {} -q`) took over {} s",
            bin.display(),
            suite.display(),
            HANG.as_secs()
        );
    };
    let took = start.elapsed();
    if !status.success() {
        bail!("the calibration run of the probe's suite failed: {status}");
    }
    let _ = fs::remove_dir_all(&out);
    reap_orphans();
    Ok(took)
}

/// One kill -9 trial.
struct Trial<'a> {
    n: usize,
    bin: &'a Path,
    suite: &'a Path,
    dir: PathBuf,
    mark: String,
    secret: &'a str,
    at: Duration,
}

impl Trial<'_> {
    /// Run the trial, add its counts to `figures`, and return what it found wrong.
    fn run(&self, figures: &mut Figures) -> Result<Vec<String>> {
        let mut found = Vec::new();
        let out = self.dir.join("out");
        fs::create_dir_all(&self.dir)?;
        let stderr = self.dir.join("stderr.txt");
        let mut child = Command::new(self.bin)
            .arg("run")
            .arg(self.suite)
            .arg("--output")
            .arg(&out)
            .arg("-q")
            .env(MARK_VAR, &self.mark)
            .env(SECRET_VAR, self.secret)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("trial {}: starting {}", self.n, self.bin.display()))?;
        let pid = child.id();
        let start = Instant::now();
        figures.trials += 1;

        // Wait for the kill moment, unless the harness ends first.
        let early = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            let now = start.elapsed();
            if now >= self.at {
                break None;
            }
            std::thread::sleep((self.at - now).min(Duration::from_millis(2)));
        };
        let exited_101 = match early {
            Some(status) => {
                figures.finished_before_kill += 1;
                status.code() == Some(101)
            }
            None => {
                // SIGKILL; a harness that ended in between is no matter.
                let _ = child.kill();
                child.wait()?;
                false
            }
        };
        if exited_101 || panicked(&stderr) {
            figures.panics += 1;
            found.push(format!("the harness panicked: see {}", stderr.display()));
        }

        // Before anything else runs: what the kill left running.
        let orphans = kill_marked(&self.mark);
        figures.orphaned += orphans;
        figures.cgroups_left_by_kill += owned_cgroup_dirs(pid).len();
        figures.fifo_dirs_left_by_kill += owned_fifo_dirs(pid).len();

        for (path, bytes) in files_under(&out) {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if is_receipt(name) {
                figures.receipts_checked += 1;
                match classify(&bytes) {
                    Receipt::Complete => {}
                    Receipt::Truncated => {
                        figures.truncated += 1;
                        found.push(format!("truncated receipt {}", path.display()));
                    }
                    Receipt::Invalid => {
                        figures.invalid += 1;
                        found.push(format!("invalid JSON in receipt {}", path.display()));
                    }
                }
            } else if is_temporary(name) {
                figures.temporary_files += 1;
            }
            if contains(&bytes, self.secret.as_bytes()) {
                figures.secrets_leaked += 1;
                found.push(format!("the secret is in {}", path.display()));
            }
        }

        // One normal run afterwards must sweep the dead harness's empty leftovers.
        match self.follow_up()? {
            FollowUp::Done { status, panicked } => {
                if status.code() == Some(101) || panicked {
                    figures.panics += 1;
                    found.push(format!("the follow-up run panicked: {status}"));
                } else if !status.success() {
                    figures.follow_up_failed += 1;
                    found.push(format!("the follow-up run failed: {status}"));
                }
            }
            FollowUp::Hung => {
                figures.hangs += 1;
                found.push(format!(
                    "the follow-up run took over {} s (killed)",
                    HANG.as_secs()
                ));
            }
        }
        let cgroups = owned_cgroup_dirs(pid);
        let fifos = owned_fifo_dirs(pid);
        figures.leaked_cgroups += cgroups.len();
        figures.leaked_fifo_dirs += fifos.len();
        for dir in cgroups.iter().chain(&fifos) {
            found.push(format!(
                "left after the follow-up run: {} (dead harness pid {pid})",
                dir.display()
            ));
        }
        Ok(found)
    }

    fn follow_up(&self) -> Result<FollowUp> {
        let out = self.dir.join("follow-up");
        let stderr = self.dir.join("follow-up-stderr.txt");
        let mut child = Command::new(self.bin)
            .args(["run", "-c", "true", "--runs", "1", "--warmup", "0", "-q"])
            .arg("--output")
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("trial {}: starting the follow-up run", self.n))?;
        let result = match wait_within(&mut child, HANG)? {
            Some(status) => FollowUp::Done {
                status,
                panicked: panicked(&stderr),
            },
            None => FollowUp::Hung,
        };
        reap_orphans();
        Ok(result)
    }
}

enum FollowUp {
    Done { status: ExitStatus, panicked: bool },
    Hung,
}

/// Wait for `child` at most `limit`; past it, SIGKILL it and return `None`.
fn wait_within(child: &mut Child, limit: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn panicked(stderr: &Path) -> bool {
    fs::read(stderr).is_ok_and(|b| contains(&b, b"panicked"))
}

/// SIGKILL every process whose environment carries `mark` until none is left, reap them,
/// and return how many there were.
fn kill_marked(mark: &str) -> usize {
    let needle = format!("{MARK_VAR}={mark}");
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let marked = marked_pids(needle.as_bytes());
        if marked.is_empty() || Instant::now() >= deadline {
            break;
        }
        for &pid in &marked {
            seen.insert(pid);
            // SAFETY: kill(2) takes no pointers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
        reap_orphans();
    }
    // Until the killed ones are gone (or zombies of someone else), their cgroups are not
    // empty and a sweep could not remove them.
    while Instant::now() < deadline
        && seen
            .iter()
            .any(|&pid| proc_state(pid).is_some_and(|s| s != 'Z'))
    {
        std::thread::sleep(Duration::from_millis(10));
        reap_orphans();
    }
    reap_orphans();
    seen.len()
}

/// Processes whose environment holds the entry `needle` (`NAME=value`).
fn marked_pids(needle: &[u8]) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|entry| entry == needle))
        })
        .collect()
}

fn proc_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Reap every exited child, orphans adopted as subreaper included. Called only while no
/// `Child` of ours is running, so that no `wait` of std's loses its status.
fn reap_orphans() {
    loop {
        let mut status = 0;
        // SAFETY: waitpid(2) writes to a local integer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            break;
        }
    }
}

/// Cgroup directories anywhere under /sys/fs/cgroup named after harness `pid`.
fn owned_cgroup_dirs(pid: u32) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            // file_type does not follow links: no loops.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if entry.file_name().to_str().is_some_and(|n| owned_by(n, pid)) {
                found.push(entry.path());
            }
            stack.push(entry.path());
        }
    }
    found.sort();
    found
}

/// Control-FIFO directories `$TMPDIR/benchmark-<pid>-*` of harness `pid`.
fn owned_fifo_dirs(pid: u32) -> Vec<PathBuf> {
    let tmp = std::env::temp_dir();
    let mut found: Vec<PathBuf> = fs::read_dir(&tmp)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| owned_by(n, pid)))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Every regular file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file()
                && let Ok(bytes) = fs::read(entry.path())
            {
                files.push((entry.path(), bytes));
            }
        }
    }
    files.sort();
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether a directory name belongs to harness `pid`: `benchmark-<pid>-*` (step and probe
/// cgroups, FIFO directories) or `benchmark-harness-<pid>` (its own v2 leaf). Pure.
fn owned_by(name: &str, pid: u32) -> bool {
    name == format!("benchmark-harness-{pid}")
        || name
            .strip_prefix(&format!("benchmark-{pid}-"))
            .is_some_and(|tail| !tail.is_empty())
}

/// The files the README promises are never truncated: `run_*.json`, `perf.json`,
/// `summary_*.json`, and the output directory's manifest. Pure.
fn is_receipt(name: &str) -> bool {
    name == "perf.json"
        || name == ".benchmark-manifest.json"
        || ((name.starts_with("run_") || name.starts_with("summary_")) && name.ends_with(".json"))
}

/// What an atomic write leaves when killed before its rename: `.NAME.tmp-PID`. Pure.
fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
        && name
            .rsplit_once(".tmp-")
            .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// What a receipt file holds after a kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receipt {
    /// One whole JSON value.
    Complete,
    /// Empty, or JSON that stops before its end: a write cut short.
    Truncated,
    /// Anything else that is not JSON.
    Invalid,
}

/// Classify a receipt file's bytes. Pure.
fn classify(bytes: &[u8]) -> Receipt {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Receipt::Truncated;
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(_) => Receipt::Complete,
        Err(e) if e.is_eof() => Receipt::Truncated,
        Err(_) => Receipt::Invalid,
    }
}

/// `n` kill moments in `[0, window)`, drawn from `seed`: the same seed and window give
/// the same moments. Pure.
fn kill_times(seed: u64, n: usize, window: Duration) -> Vec<Duration> {
    let mut rng = SplitMix(seed);
    let micros = u64::try_from(window.as_micros()).unwrap_or(u64::MAX).max(1);
    (0..n)
        .map(|_| Duration::from_micros(rng.next_u64() % micros))
        .collect()
}

/// SplitMix64 (Steele, Lea, Flood 2014): enough randomness for kill moments, and no
/// dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The counts over all trials.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Figures {
    trials: usize,
    finished_before_kill: usize,
    receipts_checked: usize,
    truncated: usize,
    invalid: usize,
    temporary_files: usize,
    panics: usize,
    hangs: usize,
    follow_up_failed: usize,
    orphaned: usize,
    cgroups_left_by_kill: usize,
    fifo_dirs_left_by_kill: usize,
    leaked_cgroups: usize,
    leaked_fifo_dirs: usize,
    secrets_leaked: usize,
}

/// The figures as one table. Pure.
fn table(f: &Figures) -> String {
    let rows: [(&str, usize); 15] = [
        ("kill -9 trials", f.trials),
        (
            "  harness had finished before its kill",
            f.finished_before_kill,
        ),
        ("receipts checked", f.receipts_checked),
        ("truncated receipts", f.truncated),
        ("invalid receipts", f.invalid),
        ("  temporary .NAME.tmp-PID files left", f.temporary_files),
        ("panics", f.panics),
        ("hangs (follow-up run over 60 s)", f.hangs),
        ("follow-up runs failed", f.follow_up_failed),
        ("orphaned step processes (before follow-up)", f.orphaned),
        ("  cgroup dirs left by the kill", f.cgroups_left_by_kill),
        ("  FIFO dirs left by the kill", f.fifo_dirs_left_by_kill),
        ("leaked cgroup dirs (after follow-up)", f.leaked_cgroups),
        ("leaked FIFO dirs (after follow-up)", f.leaked_fifo_dirs),
        ("secrets leaked (files holding it)", f.secrets_leaked),
    ];
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, count) in rows {
        let _ = writeln!(out, "{name:<width$}  {count:>6}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_times_repeat_for_a_seed_and_stay_in_the_window() {
        let window = Duration::from_millis(900);
        let a = kill_times(42, 100, window);
        assert_eq!(a, kill_times(42, 100, window));
        assert_ne!(a, kill_times(43, 100, window));
        assert_eq!(a.len(), 100);
        assert!(a.iter().all(|t| *t < window));
        // Spread over the window, not bunched at one end.
        assert!(a.iter().any(|t| *t < window / 4));
        assert!(a.iter().any(|t| *t > window * 3 / 4));
        assert!(
            kill_times(1, 5, Duration::ZERO)
                .iter()
                .all(Duration::is_zero)
        );
    }

    #[test]
    fn receipts_are_complete_truncated_or_invalid() {
        let whole =
            br#"{"schema_version": 2, "steps": [{"id": "a", "wall_ms": 12.5}], "ok": true}"#;
        assert_eq!(classify(whole), Receipt::Complete);
        assert_eq!(classify(b""), Receipt::Truncated);
        assert_eq!(classify(b"  \n"), Receipt::Truncated);
        // Every proper prefix is a write cut short.
        for end in 1..whole.len() {
            let cut = &whole[..end];
            if cut.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            assert_eq!(
                classify(cut),
                Receipt::Truncated,
                "{}",
                String::from_utf8_lossy(cut)
            );
        }
        assert_eq!(classify(b"{\"a\": 1}}"), Receipt::Invalid);
        assert_eq!(classify(b"\0\0\0\0"), Receipt::Invalid);
        assert_eq!(classify(b"{\"a\": nope}"), Receipt::Invalid);
    }

    #[test]
    fn receipt_and_leftover_names() {
        for name in [
            "run_1.json",
            "run_12.json",
            "perf.json",
            "summary_20261205T064017.935432539Z.json",
            ".benchmark-manifest.json",
        ] {
            assert!(is_receipt(name), "{name}");
        }
        for name in ["run_1.log", "perf.json.bak", ".steps.jsonl", "notes.json"] {
            assert!(!is_receipt(name), "{name}");
        }
        assert!(is_temporary(".run_1.json.tmp-123"));
        assert!(is_temporary(".perf.json.tmp-9"));
        assert!(!is_temporary(".run_1.json.tmp-"));
        assert!(!is_temporary("run_1.json.tmp-12"));
        assert!(!is_temporary(".benchmark.lock"));
    }

    #[test]
    fn directories_belong_to_their_harness_only() {
        assert!(owned_by("benchmark-123-4", 123));
        assert!(owned_by("benchmark-123-1796301952907264926", 123));
        assert!(owned_by("benchmark-123-probe7", 123));
        assert!(owned_by("benchmark-harness-123", 123));
        for other in [
            "benchmark-1234-4",
            "benchmark-12-4",
            "benchmark-123-",
            "benchmark-123",
            "benchmark-harness-1234",
            "xtask-probe-123-4",
        ] {
            assert!(!owned_by(other, 123), "{other}");
        }
    }

    #[test]
    fn secrets_are_found_anywhere_in_a_file() {
        assert!(contains(b"{\"env\":\"s3cr3t-ab\"}", b"s3cr3t-ab"));
        assert!(!contains(b"{\"env\":\"s3cr3t-a\"}", b"s3cr3t-ab"));
        assert!(!contains(b"anything", b""));
    }

    #[test]
    fn the_table_lists_every_figure() {
        let figures = Figures {
            trials: 100,
            finished_before_kill: 3,
            receipts_checked: 420,
            truncated: 0,
            invalid: 0,
            temporary_files: 2,
            panics: 0,
            hangs: 0,
            follow_up_failed: 0,
            orphaned: 97,
            cgroups_left_by_kill: 291,
            fifo_dirs_left_by_kill: 97,
            leaked_cgroups: 0,
            leaked_fifo_dirs: 0,
            secrets_leaked: 0,
        };
        let text = table(&figures);
        let expected = "\
kill -9 trials                                 100
  harness had finished before its kill           3
receipts checked                               420
truncated receipts                               0
invalid receipts                                 0
  temporary .NAME.tmp-PID files left             2
panics                                           0
hangs (follow-up run over 60 s)                  0
follow-up runs failed                            0
orphaned step processes (before follow-up)      97
  cgroup dirs left by the kill                 291
  FIFO dirs left by the kill                    97
leaked cgroup dirs (after follow-up)             0
leaked FIFO dirs (after follow-up)               0
secrets leaked (files holding it)                0
";
        assert_eq!(text, expected);
    }
}
