//! The built-in workloads of the system-baseline suite, run as `benchmark workload NAME`.
//!
//! Each workload does a fixed amount of work (never "as much as fits in N seconds", so
//! its wall time is itself a measurement) and reports what it measured with control
//! lines, `::bench:: metric NAME VALUE UNIT`, on the writer it is given. Units are also
//! in the names, as everywhere in the receipts.

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::stats;

/// A built-in workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Do nothing and exit 0 (the process that `spawn` starts).
    Noop,
    /// Start `benchmark workload noop` 100 times in a row: process spawn + wait latency.
    Spawn,
    /// 200 million rounds of an integer PRNG on one core: CPU speed.
    Cpu,
    /// Copy a 64 MiB buffer into another 16 times: memory bandwidth.
    Memory,
    /// Write 64 MiB in 1 MiB chunks and fsync: disk write bandwidth and fsync latency.
    Write,
    /// Read the file `write` left (creating it first if needed), then remove it.
    Read,
}

/// Runs `workload`, writing its metric control lines to `out`.
///
/// The file workloads use `$BENCHMARK_RUN_DIR` (set by the runner for every step), or the
/// system's temporary directory outside a run. Errors name the file or program involved.
pub fn run(workload: Workload, out: &mut dyn Write) -> io::Result<()> {
    match workload {
        Workload::Noop => Ok(()),
        Workload::Spawn => {
            let exe = std::env::current_exe().map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot locate the benchmark executable: {e}"),
                )
            })?;
            spawn(exe.as_os_str(), &["workload", "noop"], SPAWN_COUNT, out)
        }
        Workload::Cpu => cpu(CPU_ITERATIONS, out),
        Workload::Memory => memory(MEMORY_BUFFER_BYTES, MEMORY_PASSES, out),
        Workload::Write => write_file(&data_dir(), FILE_BYTES, FILE_CHUNK_BYTES, out),
        Workload::Read => read_file(&data_dir(), FILE_BYTES, FILE_CHUNK_BYTES, out),
    }?;
    out.flush()
}

const MIB: f64 = 1024.0 * 1024.0;
const SPAWN_COUNT: usize = 100;
const CPU_ITERATIONS: u64 = 200_000_000;
const MEMORY_BUFFER_BYTES: usize = 64 << 20;
const MEMORY_PASSES: u32 = 16;
const FILE_BYTES: u64 = 64 << 20;
const FILE_CHUNK_BYTES: usize = 1 << 20;
/// Shared by `write` and `read`: `read` reads what `write` left.
const FILE_NAME: &str = "benchmark-baseline.dat";

/// Spawns `program args` `count` times, one after the other, and reports the mean and
/// median latency from spawn to reaped exit.
fn spawn(
    program: &std::ffi::OsStr,
    args: &[&str],
    count: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let shown = Path::new(program).display();
    let command_line = std::iter::once(shown.to_string())
        .chain(args.iter().map(|a| (*a).to_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut latencies_us = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        let status = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {shown}: {e}")))?;
        let elapsed = start.elapsed();
        if !status.success() {
            return Err(io::Error::other(format!(
                "{command_line} failed ({status})"
            )));
        }
        latencies_us.push(elapsed.as_secs_f64() * 1e6);
    }
    let summary = stats::summarize(&latencies_us)
        .ok_or_else(|| io::Error::other("no spawn latencies to report (count is 0)"))?;
    metric(out, "spawn_mean_us", summary.mean, "us")?;
    metric(out, "spawn_median_us", summary.median, "us")
}

/// Runs `iterations` rounds of xorshift64 with a multiply-accumulate and reports
/// millions of rounds per second.
fn cpu(iterations: u64, out: &mut dyn Write) -> io::Result<()> {
    let start = Instant::now();
    let checksum = xorshift_rounds(black_box(0x9E37_79B9_7F4A_7C15), black_box(iterations));
    let elapsed = start.elapsed();
    black_box(checksum);
    metric(
        out,
        "cpu_mops",
        per_second(iterations as f64 / 1e6, elapsed),
        "Mops/s",
    )
}

/// The CPU hot loop: each round depends on the previous one, so it cannot be vectorised
/// or skipped; the sum of products keeps the multiplier busy too.
fn xorshift_rounds(mut x: u64, iterations: u64) -> u64 {
    let mut acc = 0u64;
    for _ in 0..iterations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc = acc.wrapping_add(x.wrapping_mul(0x2545_F491_4F6C_DD1D));
    }
    acc
}

/// Copies one `buffer_bytes` buffer into another `passes` times and reports the bytes
/// copied per second. Both buffers are written before timing, so page faults of the
/// first touch are not counted.
fn memory(buffer_bytes: usize, passes: u32, out: &mut dyn Write) -> io::Result<()> {
    let src = touched_buffer(buffer_bytes, |i| (i as u8) ^ 0x5A)?;
    let mut dst = touched_buffer(buffer_bytes, |_| 0xFF)?;
    let start = Instant::now();
    for _ in 0..passes {
        black_box(&mut dst[..]).copy_from_slice(black_box(&src[..]));
    }
    let elapsed = start.elapsed();
    black_box(&dst);
    let copied_mib = buffer_bytes as f64 * f64::from(passes) / MIB;
    metric(
        out,
        "memory_copy_mibps",
        per_second(copied_mib, elapsed),
        "MiB/s",
    )
}

/// A buffer of `len` bytes, every byte written; an allocation failure is an error, not
/// an abort.
/// Allocate `mib` MiB, touch every page, hold it for `hold`, then free it: a short
/// memory spike that sampling misses and kernel accounting must not (tests, benches).
pub fn spike(mib: u64, hold: Duration) -> io::Result<()> {
    let len = usize::try_from(mib << 20)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "spike size too large"))?;
    let buf = touched_buffer(len, |i| i as u8)?;
    std::thread::sleep(hold);
    black_box(&buf);
    Ok(())
}

fn touched_buffer(len: usize, byte: impl FnMut(usize) -> u8) -> io::Result<Vec<u8>> {
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(len).map_err(|e| {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!("cannot allocate {len} bytes: {e}"),
        )
    })?;
    buffer.extend((0..len).map(byte));
    Ok(buffer)
}

/// Where the file workloads put their file.
fn data_dir() -> PathBuf {
    std::env::var_os("BENCHMARK_RUN_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from)
}

/// Writes `total_bytes` to `dir/benchmark-baseline.dat` and reports the bandwidth
/// (including the final fsync, so the data is on the device) and the fsync latency.
/// The file is left for [`Workload::Read`].
fn write_file(
    dir: &Path,
    total_bytes: u64,
    chunk_bytes: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let path = dir.join(FILE_NAME);
    let timing = write_data(&path, total_bytes, chunk_bytes)?;
    let written_mib = total_bytes as f64 / MIB;
    metric(
        out,
        "disk_write_mibps",
        per_second(written_mib, timing.total),
        "MiB/s",
    )?;
    metric(out, "disk_fsync_ms", millis(timing.fsync), "ms")
}

/// Reads `dir/benchmark-baseline.dat` back in `chunk_bytes` reads and reports the
/// bandwidth, then removes the file. A missing file or one of another size is
/// (re)written, with fsync, before timing starts.
///
/// On Linux the file's pages are dropped from the page cache first, so the read comes
/// from the device; elsewhere it may be served from memory.
fn read_file(
    dir: &Path,
    total_bytes: u64,
    chunk_bytes: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    let path = dir.join(FILE_NAME);
    let size = fs::metadata(&path).map(|m| m.len()).ok();
    if size != Some(total_bytes) {
        write_data(&path, total_bytes, chunk_bytes)?;
    }
    let read = timed_read(&path, total_bytes, chunk_bytes);
    // Remove the file even when reading failed; report the read error first.
    let removed = fs::remove_file(&path).map_err(|e| with_path(e, "remove", &path));
    let elapsed = read?;
    removed?;
    let read_mib = total_bytes as f64 / MIB;
    metric(
        out,
        "disk_read_mibps",
        per_second(read_mib, elapsed),
        "MiB/s",
    )
}

/// How long a [`write_data`] took.
#[derive(Debug, Clone, Copy)]
struct WriteTiming {
    /// From the first write to the end of the fsync.
    total: Duration,
    fsync: Duration,
}

/// Writes `total_bytes` of incompressible bytes to `path` (replacing it) and fsyncs it.
fn write_data(path: &Path, total_bytes: u64, chunk_bytes: usize) -> io::Result<WriteTiming> {
    if chunk_bytes == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "chunk size must not be 0",
        ));
    }
    // Freeing an old file's blocks is not part of the measured write.
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(with_path(e, "remove", path)),
        _ => {}
    }
    // Random-looking bytes, so a compressing file system cannot shortcut the write.
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let chunk = touched_buffer(chunk_bytes, |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 56) as u8
    })?;
    let mut file = File::create(path).map_err(|e| with_path(e, "create", path))?;
    let start = Instant::now();
    let mut left = total_bytes;
    while left > 0 {
        let n = chunk_bytes.min(usize::try_from(left).unwrap_or(usize::MAX));
        file.write_all(&chunk[..n])
            .map_err(|e| with_path(e, "write", path))?;
        left -= n as u64;
    }
    let fsync_start = Instant::now();
    file.sync_all().map_err(|e| with_path(e, "fsync", path))?;
    let end = Instant::now();
    Ok(WriteTiming {
        total: end - start,
        fsync: end - fsync_start,
    })
}

/// Reads all of `path` in `chunk_bytes` reads; fails unless it holds `total_bytes`.
fn timed_read(path: &Path, total_bytes: u64, chunk_bytes: usize) -> io::Result<Duration> {
    let mut file = File::open(path).map_err(|e| with_path(e, "open", path))?;
    drop_cached_pages(&file);
    let mut buffer = vec![0u8; chunk_bytes.max(1)];
    let mut read = 0u64;
    let start = Instant::now();
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                black_box(&buffer[..n]);
                read += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(with_path(e, "read", path)),
        }
    }
    let elapsed = start.elapsed();
    if read != total_bytes {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "read {read} bytes from {}, expected {total_bytes}: was it changed during the read?",
                path.display()
            ),
        ));
    }
    Ok(elapsed)
}

/// Asks the kernel to forget the (clean, fsynced) cached pages of `file`. Best effort:
/// without it the read is still correct, only warmer.
#[cfg(target_os = "linux")]
fn drop_cached_pages(file: &File) {
    use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
    let _ = posix_fadvise(file, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED);
}

#[cfg(not(target_os = "linux"))]
fn drop_cached_pages(_file: &File) {}

fn with_path(e: io::Error, action: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {action} {}: {e}", path.display()))
}

/// `amount` per second of `elapsed`; a zero duration (a coarse clock) counts as 1 ns so
/// the rate stays finite.
fn per_second(amount: f64, elapsed: Duration) -> f64 {
    amount / elapsed.as_secs_f64().max(1e-9)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Writes one `::bench:: metric NAME VALUE UNIT` line.
fn metric(out: &mut dyn Write, name: &str, value: f64, unit: &str) -> io::Result<()> {
    writeln!(
        out,
        "::bench:: metric {name} {} {unit}",
        crate::format::fixed4(value)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parsed `::bench:: metric NAME VALUE UNIT` line.
    #[derive(Debug)]
    struct Metric {
        name: String,
        value: f64,
        unit: String,
    }

    /// Parses every line of `out` as a metric line, failing on anything else.
    #[track_caller]
    fn parse_metrics(out: &[u8]) -> Vec<Metric> {
        let text = std::str::from_utf8(out).expect("control lines are UTF-8");
        text.lines()
            .map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                let [prefix, kind, name, value, unit] = fields[..] else {
                    panic!("not `::bench:: metric NAME VALUE UNIT`: {line:?}");
                };
                assert_eq!((prefix, kind), ("::bench::", "metric"), "{line:?}");
                assert!(
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "metric name is not snake_case: {line:?}"
                );
                let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
                assert!(value.is_finite() && value > 0.0, "bad value: {line:?}");
                assert!(!unit.is_empty(), "{line:?}");
                Metric {
                    name: name.to_owned(),
                    value,
                    unit: unit.to_owned(),
                }
            })
            .collect()
    }

    #[track_caller]
    fn assert_metrics(metrics: &[Metric], expected: &[(&str, &str)]) {
        let got: Vec<(&str, &str)> = metrics
            .iter()
            .map(|m| (m.name.as_str(), m.unit.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn noop_reports_nothing() {
        let mut out = Vec::new();
        run(Workload::Noop, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn spawn_reports_latencies() {
        let mut out = Vec::new();
        // `true` from PATH: /bin/true does not exist in every build sandbox.
        spawn("true".as_ref(), &[], 5, &mut out).unwrap();
        let metrics = parse_metrics(&out);
        assert_metrics(
            &metrics,
            &[("spawn_mean_us", "us"), ("spawn_median_us", "us")],
        );
    }

    #[test]
    fn spawn_fails_on_a_failing_or_missing_program() {
        let mut out = Vec::new();
        let err = spawn("false".as_ref(), &["x"], 3, &mut out).unwrap_err();
        assert!(err.to_string().starts_with("false x failed"), "{err}");
        let err = spawn("/nonexistent/benchmark".as_ref(), &[], 3, &mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(
            err.to_string()
                .starts_with("cannot run /nonexistent/benchmark:"),
            "{err}"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn cpu_reports_a_rate() {
        let mut out = Vec::new();
        cpu(1_000_000, &mut out).unwrap();
        assert_metrics(&parse_metrics(&out), &[("cpu_mops", "Mops/s")]);
    }

    #[test]
    fn cpu_loop_is_the_xorshift64_sequence() {
        // First xorshift64 state from seed 1 (Marsaglia 2003), times the multiplier.
        assert_eq!(
            xorshift_rounds(1, 1),
            1_082_269_761_u64.wrapping_mul(0x2545_F491_4F6C_DD1D)
        );
        assert_eq!(xorshift_rounds(1, 0), 0);
    }

    #[test]
    fn memory_reports_a_bandwidth() {
        let mut out = Vec::new();
        memory(1 << 20, 2, &mut out).unwrap();
        assert_metrics(&parse_metrics(&out), &[("memory_copy_mibps", "MiB/s")]);
    }

    #[test]
    fn write_then_read_reports_bandwidths_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut out = Vec::new();
        write_file(dir.path(), 3 << 20, 1 << 20, &mut out).unwrap();
        assert_metrics(
            &parse_metrics(&out),
            &[("disk_write_mibps", "MiB/s"), ("disk_fsync_ms", "ms")],
        );
        assert_eq!(fs::metadata(&path).unwrap().len(), 3 << 20);

        out.clear();
        read_file(dir.path(), 3 << 20, 1 << 20, &mut out).unwrap();
        assert_metrics(&parse_metrics(&out), &[("disk_read_mibps", "MiB/s")]);
        assert!(!path.exists(), "read must remove the file");
    }

    #[test]
    fn read_creates_a_missing_or_wrong_sized_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut out = Vec::new();
        read_file(dir.path(), 1 << 20, 300_000, &mut out).unwrap();
        assert_metrics(&parse_metrics(&out), &[("disk_read_mibps", "MiB/s")]);
        assert!(!path.exists());

        fs::write(&path, b"short").unwrap();
        out.clear();
        read_file(dir.path(), 1 << 20, 1 << 16, &mut out).unwrap();
        assert_metrics(&parse_metrics(&out), &[("disk_read_mibps", "MiB/s")]);
        assert!(!path.exists());
    }

    #[test]
    fn written_data_is_not_trivially_compressible() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        write_data(&path, 1 << 16, 1 << 16).unwrap();
        let data = fs::read(&path).unwrap();
        let mut seen = [false; 256];
        for &b in &data {
            seen[usize::from(b)] = true;
        }
        assert!(seen.iter().all(|&s| s), "every byte value occurs");
    }

    #[test]
    fn file_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let mut out = Vec::new();
        let err = write_file(&missing, 1 << 10, 1 << 10, &mut out).unwrap_err();
        let path = missing.join(FILE_NAME);
        assert!(
            err.to_string()
                .starts_with(&format!("cannot create {}:", path.display())),
            "{err}"
        );
        let err = read_file(&missing, 1 << 10, 1 << 10, &mut out).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot create {}:", path.display())),
            "{err}"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn values_keep_four_significant_digits() {}

    #[test]
    fn workload_names_are_the_cli_names() {
        use clap::ValueEnum;
        let names: Vec<String> = Workload::value_variants()
            .iter()
            .map(|w| w.to_possible_value().unwrap().get_name().to_owned())
            .collect();
        assert_eq!(names, ["noop", "spawn", "cpu", "memory", "write", "read"]);
    }

    /// Runs every workload at full size and prints how long each took:
    /// `cargo test --release --lib workload::tests::full_size -- --ignored --nocapture`.
    #[test]
    #[ignore = "full-size workloads take seconds; run in release with --ignored"]
    fn full_size_workloads_emit_metrics() {
        let dir = tempfile::tempdir().unwrap();
        type Case<'a> = (&'a str, Box<dyn Fn(&mut Vec<u8>) -> io::Result<()> + 'a>);
        let cases: [Case; 5] = [
            (
                "spawn (100 × true)",
                Box::new(|out| spawn("true".as_ref(), &[], SPAWN_COUNT, out)),
            ),
            ("cpu", Box::new(|out| cpu(CPU_ITERATIONS, out))),
            (
                "memory",
                Box::new(|out| memory(MEMORY_BUFFER_BYTES, MEMORY_PASSES, out)),
            ),
            (
                "write",
                Box::new(|out| write_file(dir.path(), FILE_BYTES, FILE_CHUNK_BYTES, out)),
            ),
            (
                "read",
                Box::new(|out| read_file(dir.path(), FILE_BYTES, FILE_CHUNK_BYTES, out)),
            ),
        ];
        for (name, workload) in cases {
            let mut out = Vec::new();
            let start = Instant::now();
            workload(&mut out).unwrap();
            let elapsed = start.elapsed();
            let metrics = parse_metrics(&out);
            assert!(!metrics.is_empty());
            eprintln!("{name}: {elapsed:.3?}");
            for m in metrics {
                eprintln!("    {} = {} {}", m.name, m.value, m.unit);
            }
        }
    }
}
