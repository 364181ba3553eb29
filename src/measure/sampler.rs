//! The background system sampler: a thread reading /proc (Linux) or sysinfo (elsewhere)
//! at a fixed interval, summarised per window (a step), with its own cost measured.
//!
//! Averages come from cumulative counters read at the window's two edges, so a window
//! shorter than one tick still gets them; the ticks in between only feed the peaks.
//!
//! Memory is system-wide "used" = MemTotal − MemAvailable on Linux. The kernel keeps freed
//! pages in per-CPU lists that MemAvailable counts as used (hundreds of MiB on kernels
//! ≥ 6.7 with auto-tuned lists), and allocations are served from them first, so changes
//! smaller than those lists can go unseen: per-process peak RSS is the precise measure.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod sysinfo;

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use self::linux::Probe;
#[cfg(not(target_os = "linux"))]
use self::sysinfo::Probe;
use super::{ResourceSummary, SamplerCost};

/// The shortest span a CPU peak is computed over. /proc/stat counts in 10 ms ticks per
/// CPU, so a rate over one 10 ms tick can only read 0%, 50% or 100% on two cores; at
/// ~100 ms the rounding stays within about ±10%. Slightly under 100 ms so that a 10 Hz
/// sampler whose tick came a little early still gets one peak value per tick.
const PEAK_MIN_SPAN: Duration = Duration::from_millis(90);

/// The shortest interval accepted; shorter ones are raised to it (no busy loop).
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Cumulative CPU time of the whole system, in the back end's own unit: only ratios of
/// differences are used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CpuCounters {
    busy: u64,
    total: u64,
}

/// Cumulative bytes read from and written to physical disks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct DiskBytes {
    read: u64,
    written: u64,
}

/// One look at the system. Each part is `None` when the back end could not read it.
#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    cpu: Option<CpuCounters>,
    mem_used: Option<u64>,
    disk: Option<DiskBytes>,
}

/// What a reading must include. Ticks feed only the CPU and memory peaks, so they skip
/// the disk counters, which only the window edges need, and the CPU counters unless a
/// CPU peak span is due (a finer rate carries no information: see [`PEAK_MIN_SPAN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    Tick { cpu: bool },
    Edge,
}

impl Detail {
    fn cpu(self) -> bool {
        matches!(self, Detail::Edge | Detail::Tick { cpu: true })
    }
}

/// System CPU use between two counter readings, 0–100 (100 = every CPU busy).
fn cpu_pct(from: CpuCounters, to: CpuCounters) -> Option<f64> {
    let total = to.total.checked_sub(from.total).filter(|&t| t > 0)?;
    // The idle counter can step backwards on some kernels (iowait accounting), which makes
    // busy briefly larger than the elapsed total: clamp rather than report above 100%.
    let busy = to.busy.saturating_sub(from.busy);
    Some((100.0 * busy as f64 / total as f64).clamp(0.0, 100.0))
}

fn max_opt<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b > a { b } else { a }),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The running summary of one open window.
#[derive(Debug, Clone)]
struct Accumulator {
    start: Reading,
    /// Where the current CPU peak span began.
    span_start: Reading,
    cpu_peak: Option<f64>,
    mem_peak: Option<u64>,
    ticks: u64,
}

impl Accumulator {
    fn new(start: Reading) -> Self {
        Accumulator {
            start,
            span_start: start,
            cpu_peak: None,
            mem_peak: start.mem_used,
            ticks: 0,
        }
    }

    fn observe(&mut self, r: &Reading) {
        self.mem_peak = max_opt(self.mem_peak, r.mem_used);
        if r.cpu.is_some() && self.cpu_span_due(r.at) {
            if let (Some(from), Some(to)) = (self.span_start.cpu, r.cpu) {
                self.cpu_peak = max_opt(self.cpu_peak, cpu_pct(from, to));
            }
            self.span_start = *r;
        }
    }

    fn cpu_span_due(&self, at: Instant) -> bool {
        at.saturating_duration_since(self.span_start.at) >= PEAK_MIN_SPAN
    }

    fn tick(&mut self, r: &Reading) {
        self.ticks += 1;
        self.observe(r);
    }

    fn finish(mut self, end: &Reading) -> ResourceSummary {
        self.observe(end);
        let cpu_avg = match (self.start.cpu, end.cpu) {
            (Some(from), Some(to)) => cpu_pct(from, to),
            _ => None,
        };
        let disk = match (self.start.disk, end.disk) {
            (Some(from), Some(to)) => Some(DiskBytes {
                read: to.read.saturating_sub(from.read),
                written: to.written.saturating_sub(from.written),
            }),
            _ => None,
        };
        ResourceSummary {
            cpu_avg_pct: cpu_avg,
            // The average is itself a rate over the window, so no peak is below it.
            cpu_peak_pct: max_opt(self.cpu_peak, cpu_avg),
            mem_start_bytes: self.start.mem_used,
            mem_end_bytes: end.mem_used,
            mem_peak_bytes: self.mem_peak,
            disk_read_bytes: disk.map(|d| d.read),
            disk_write_bytes: disk.map(|d| d.written),
            samples: self.ticks + 2,
        }
    }
}

#[derive(Debug)]
struct State {
    /// `None`: no back end could be opened; windows then summarise to nothing.
    probe: Option<Probe>,
    windows: Vec<(u64, Accumulator)>,
    next_id: u64,
    stop: bool,
}

impl State {
    fn read(&mut self, detail: Detail) -> Reading {
        match &mut self.probe {
            Some(p) => p.read(detail),
            None => Reading {
                at: Instant::now(),
                cpu: None,
                mem_used: None,
                disk: None,
            },
        }
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the sampler thread early (to stop).
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent-enough data: the
        // worst case is one odd sample, better than losing the measurement.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the sampler thread reports when it ends.
#[derive(Debug, Clone, Copy)]
struct ThreadReport {
    ticks: u64,
    cpu: Duration,
}

/// A running sampler.
#[derive(Debug)]
pub struct Sampler {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<ThreadReport>>,
    backend: &'static str,
    interval: Duration,
    started: Instant,
}

/// An open window (one step); closed by [`Sampler::end`]. Dropping it unclosed discards it.
#[derive(Debug)]
pub struct Window {
    id: u64,
    shared: Arc<Shared>,
}

impl Drop for Window {
    fn drop(&mut self) {
        self.shared.lock().windows.retain(|(id, _)| *id != self.id);
    }
}

impl Sampler {
    /// Start sampling every `interval` (at least 1 ms). Never fails: without a readable
    /// back end the sampler runs as `none` and every summary is empty; without a thread,
    /// windows still get their edge samples.
    pub fn start(interval: Duration) -> Self {
        let interval = interval.max(MIN_INTERVAL);
        let probe = Probe::open();
        let backend = if probe.is_some() { Probe::NAME } else { "none" };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                probe,
                windows: Vec::with_capacity(4),
                next_id: 0,
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let thread = if backend == "none" {
            None
        } else {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("benchmark-sampler".into())
                .spawn(move || run(&shared, interval))
                .ok()
        };
        Sampler {
            shared,
            thread,
            backend,
            interval,
            started: Instant::now(),
        }
    }

    /// Open a window: takes an immediate sample (start values) and resets the peaks.
    pub fn begin(&self) -> Window {
        let mut state = self.shared.lock();
        let start = state.read(Detail::Edge);
        let id = state.next_id;
        state.next_id += 1;
        state.windows.push((id, Accumulator::new(start)));
        Window {
            id,
            shared: Arc::clone(&self.shared),
        }
    }

    /// Close a window: takes an immediate sample (end values) and summarises.
    pub fn end(&self, w: Window) -> ResourceSummary {
        // The window's own sampler: a window outlives nothing it needs.
        let mut state = w.shared.lock();
        let end = state.read(Detail::Edge);
        let Some(pos) = state.windows.iter().position(|(id, _)| *id == w.id) else {
            return ResourceSummary::default();
        };
        let (_, acc) = state.windows.swap_remove(pos);
        acc.finish(&end)
    }

    /// Stop the thread and report what it cost.
    pub fn stop(mut self) -> SamplerCost {
        let report = self.shutdown();
        SamplerCost {
            interval: self.interval,
            ticks: report.map_or(0, |r| r.ticks),
            cpu: report.map_or(Duration::ZERO, |r| r.cpu),
            wall: self.started.elapsed(),
        }
    }

    /// Name of the back end in use ("procfs", "sysinfo"; "none" when neither could be read).
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// The interval between ticks.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn shutdown(&mut self) -> Option<ThreadReport> {
        let thread = self.thread.take()?;
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        thread.join().ok()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The sampler thread: a tick every `interval` on a fixed schedule, woken early to stop.
fn run(shared: &Shared, interval: Duration) -> ThreadReport {
    let mut ticks = 0;
    // `None`: the interval reaches past what `Instant` can hold; no tick ever comes.
    let mut next = Instant::now().checked_add(interval);
    let mut state = shared.lock();
    while !state.stop {
        let now = Instant::now();
        match next {
            Some(due) if due <= now => {}
            due => {
                let wait = due.map_or(Duration::MAX, |d| d - now);
                state = shared
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
        }
        // Between windows (setup, teardown, between steps) there is nothing to feed.
        if !state.windows.is_empty() {
            let cpu = state.windows.iter().any(|(_, acc)| acc.cpu_span_due(now));
            let reading = state.read(Detail::Tick { cpu });
            for (_, acc) in &mut state.windows {
                acc.tick(&reading);
            }
        }
        ticks += 1;
        next = next.and_then(|due| due.checked_add(interval));
        if next.is_some_and(|due| due <= now) {
            // Fell behind (suspended, or starved of CPU): skip the missed ticks rather
            // than firing them back to back.
            next = now.checked_add(interval);
        }
    }
    drop(state);
    ThreadReport {
        ticks,
        cpu: thread_cpu_time(),
    }
}

/// CPU time (user + sys) the calling thread has used since it started.
fn thread_cpu_time() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(Duration::ZERO, |t| {
        Duration::new(
            u64::try_from(t.tv_sec()).unwrap_or(0),
            u32::try_from(t.tv_nsec()).unwrap_or(0),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at: Instant, ms: u64, busy: u64, total: u64, mem: u64) -> Reading {
        Reading {
            at: at + Duration::from_millis(ms),
            cpu: Some(CpuCounters { busy, total }),
            mem_used: Some(mem),
            disk: Some(DiskBytes {
                read: 10 * busy,
                written: 20 * busy,
            }),
        }
    }

    #[test]
    fn cpu_pct_edges() {
        let c = |busy, total| CpuCounters { busy, total };
        assert_eq!(cpu_pct(c(0, 0), c(50, 200)), Some(25.0));
        assert_eq!(cpu_pct(c(5, 100), c(5, 100)), None, "no time passed");
        assert_eq!(cpu_pct(c(5, 100), c(5, 90)), None, "counters went back");
        assert_eq!(cpu_pct(c(0, 0), c(30, 20)), Some(100.0), "clamped");
        assert_eq!(cpu_pct(c(10, 0), c(5, 20)), Some(0.0), "busy went back");
    }

    #[test]
    fn window_summary_from_ticks_and_edges() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(reading(t0, 0, 0, 0, 1000));
        // 100 ms spans: 10%, then 90%, then 20%.
        acc.tick(&reading(t0, 100, 10, 100, 1500));
        acc.tick(&reading(t0, 200, 100, 200, 3000));
        acc.tick(&reading(t0, 300, 120, 300, 2000));
        let s = acc.finish(&reading(t0, 350, 130, 350, 1200));
        assert_eq!(s.samples, 5);
        let avg = s.cpu_avg_pct.unwrap();
        assert!((avg - 100.0 * 130.0 / 350.0).abs() < 1e-9, "{avg}");
        assert_eq!(s.cpu_peak_pct, Some(90.0));
        assert_eq!(s.mem_start_bytes, Some(1000));
        assert_eq!(s.mem_end_bytes, Some(1200));
        assert_eq!(s.mem_peak_bytes, Some(3000));
        assert_eq!(s.disk_read_bytes, Some(1300));
        assert_eq!(s.disk_write_bytes, Some(2600));
    }

    #[test]
    fn peak_spans_merge_short_ticks() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(reading(t0, 0, 0, 0, 0));
        // 10 ms ticks alternating 100% and 0%: each alone would make a 100% "peak".
        for i in 1..=20u64 {
            let busy = i.div_ceil(2) * 10;
            acc.tick(&reading(t0, 10 * i, busy, 10 * i, 0));
        }
        let s = acc.finish(&reading(t0, 200, 100, 200, 0));
        let peak = s.cpu_peak_pct.unwrap();
        assert!((40.0..=60.0).contains(&peak), "peak {peak}");
        assert_eq!(s.samples, 22);
    }

    #[test]
    fn short_window_uses_edges_and_peak_is_at_least_avg() {
        let t0 = Instant::now();
        let acc = Accumulator::new(reading(t0, 0, 0, 0, 7));
        let s = acc.finish(&reading(t0, 5, 3, 4, 9));
        assert_eq!(s.cpu_avg_pct, Some(75.0));
        assert_eq!(s.cpu_peak_pct, Some(75.0));
        assert_eq!(s.mem_peak_bytes, Some(9));
        assert_eq!(s.samples, 2);
    }

    #[test]
    fn missing_parts_stay_none() {
        let t0 = Instant::now();
        let empty = Reading {
            at: t0,
            cpu: None,
            mem_used: None,
            disk: None,
        };
        let s = Accumulator::new(empty).finish(&reading(t0, 500, 1, 2, 3));
        assert_eq!(s.cpu_avg_pct, None);
        assert_eq!(s.cpu_peak_pct, None);
        assert_eq!(s.mem_start_bytes, None);
        assert_eq!(s.mem_peak_bytes, Some(3));
        assert_eq!(s.disk_read_bytes, None);
    }

    #[test]
    fn shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Sampler>();
        send_sync::<Window>();
    }

    #[test]
    fn backend_name() {
        let s = Sampler::start(Duration::from_secs(1));
        #[cfg(target_os = "linux")]
        assert_eq!(s.backend(), "procfs");
        #[cfg(not(target_os = "linux"))]
        assert_eq!(s.backend(), "sysinfo");
        s.stop();
    }

    #[test]
    fn own_cost_at_100_hz() {
        let _serial = one_at_a_time();
        let s = Sampler::start(Duration::from_millis(10));
        // A window open throughout, as while a step runs: every tick reads.
        let w = s.begin();
        std::thread::sleep(Duration::from_secs(2));
        s.end(w);
        let cost = s.stop();
        eprintln!(
            "sampler at 100 Hz: {} ticks, {:?} CPU over {:?} = {:.3}% of one core",
            cost.ticks,
            cost.cpu,
            cost.wall,
            cost.pct_of_core()
        );
        assert!(cost.ticks > 0);
        assert!(cost.ticks <= 250, "{} ticks in ~2 s", cost.ticks);
        assert!(cost.cpu > Duration::ZERO, "thread CPU time not measured");
        assert!(cost.pct_of_core() < 5.0, "{:.2}%", cost.pct_of_core());
    }

    #[test]
    fn stop_does_not_wait_for_the_interval() {
        let s = Sampler::start(Duration::from_secs(30));
        let t = Instant::now();
        let cost = s.stop();
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert_eq!(cost.ticks, 0);
        assert_eq!(cost.interval, Duration::from_secs(30));

        let s = Sampler::start(Duration::MAX);
        let r = s.end(s.begin());
        assert_eq!(r.samples, 2);
        let t = Instant::now();
        assert_eq!(s.stop().ticks, 0);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }

    #[test]
    fn dropped_window_is_forgotten() {
        let s = Sampler::start(Duration::from_millis(10));
        let w = s.begin();
        let kept = s.begin();
        drop(w);
        assert_eq!(s.shared.lock().windows.len(), 1);
        let summary = s.end(kept);
        assert!(summary.samples >= 2);
        assert!(s.shared.lock().windows.is_empty());
    }

    fn burn(d: Duration) {
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < d {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }

    fn cores() -> f64 {
        std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
    }

    #[test]
    fn cpu_burner_shows_in_window() {
        let _serial = one_at_a_time();
        let s = Sampler::start(Duration::from_millis(20));
        let w = s.begin();
        std::thread::spawn(|| burn(Duration::from_millis(600)))
            .join()
            .unwrap();
        let r = s.end(w);
        eprintln!("burner window: {r:?}");
        let avg = r.cpu_avg_pct.unwrap();
        let peak = r.cpu_peak_pct.unwrap();
        // One busy thread is 100/cores percent of the machine; allow for scheduling.
        assert!(avg >= 40.0 / cores(), "avg {avg}");
        assert!(peak >= avg && peak <= 100.0, "peak {peak} avg {avg}");
        assert!(r.samples > 2, "no tick in 600 ms at 50 Hz");
    }

    #[test]
    fn window_shorter_than_a_tick() {
        let s = Sampler::start(Duration::from_secs(5));
        let w = s.begin();
        burn(Duration::from_millis(150));
        let r = s.end(w);
        eprintln!("short window: {r:?}");
        assert_eq!(r.samples, 2);
        let avg = r.cpu_avg_pct.unwrap();
        assert!(avg > 0.0 && avg <= 100.0, "avg {avg}");
        assert_eq!(r.cpu_peak_pct, Some(avg), "one span: peak is the average");
    }

    /// Tests that move system-wide memory, disk or CPU use, run one at a time so they do
    /// not blur each other's windows.
    static SYSTEM_WIDE: Mutex<()> = Mutex::new(());

    fn one_at_a_time() -> MutexGuard<'static, ()> {
        SYSTEM_WIDE.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pages the kernel keeps in per-CPU free lists (/proc/zoneinfo `count:`), in bytes.
    /// MemAvailable does not count them as free, so an allocation served from them does
    /// not show: on kernels ≥ 6.7 these lists can hold hundreds of MiB.
    #[cfg(target_os = "linux")]
    fn per_cpu_free_list_bytes() -> u64 {
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .map_or(4096, |p| p as u64);
        let text = std::fs::read_to_string("/proc/zoneinfo").unwrap_or_default();
        let pages: u64 = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("count:"))
            .filter_map(|n| n.trim().parse::<u64>().ok())
            .sum();
        pages * page
    }

    #[cfg(not(target_os = "linux"))]
    fn per_cpu_free_list_bytes() -> u64 {
        0
    }

    #[test]
    fn touched_allocation_raises_mem_peak() {
        const SIZE: u64 = 64 << 20;
        let _serial = one_at_a_time();
        // Allocate past the per-CPU free lists, which hide allocations from MemAvailable.
        let hidden = per_cpu_free_list_bytes();
        let size = SIZE + hidden;
        if size > 1 << 30 {
            eprintln!("note: {hidden} bytes in per-CPU free lists; skipped");
            return;
        }
        let size = size as usize;
        let s = Sampler::start(Duration::from_millis(10));
        // Memory is system-wide: another process freeing as much as we allocate can hide
        // the allocation once, hardly three times in a row.
        let mut seen = Vec::new();
        for _ in 0..3 {
            let w = s.begin();
            let mut buf = vec![0u8; size];
            for i in (0..size).step_by(4096) {
                buf[i] = 1;
            }
            std::hint::black_box(&buf);
            std::thread::sleep(Duration::from_millis(100));
            let r = s.end(w);
            drop(buf);
            eprintln!("{} MiB window: {r:?}", size >> 20);
            let (start, peak) = (r.mem_start_bytes.unwrap(), r.mem_peak_bytes.unwrap());
            assert!(peak >= start && r.samples > 2, "{r:?}");
            seen.push(peak - start);
            if peak - start >= SIZE / 2 {
                return;
            }
        }
        panic!(
            "peak over start in three windows: {seen:?} bytes after allocating {size} \
             ({hidden} in per-CPU free lists)"
        );
    }

    #[test]
    fn fsynced_file_raises_disk_writes() {
        use std::io::Write;
        const SIZE: usize = 16 << 20;
        // Next to the test binary: a real file system, unlike a possible tmpfs /tmp.
        let exe = std::env::current_exe().unwrap();
        let dir = tempfile::tempdir_in(exe.parent().unwrap()).unwrap();
        // Pseudo-random bytes, so a compressing file system cannot shrink them.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..SIZE)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _serial = one_at_a_time();
        let s = Sampler::start(Duration::from_millis(50));
        let w = s.begin();
        let mut f = std::fs::File::create(dir.path().join("data")).unwrap();
        f.write_all(&data).unwrap();
        f.sync_all().unwrap();
        let r = s.end(w);
        eprintln!("16 MiB fsync window: {r:?}");
        let Some(written) = r.disk_write_bytes else {
            eprintln!("note: no physical disk visible in disk statistics; skipped");
            return;
        };
        assert!(written >= (SIZE as u64) / 2, "{written} bytes written");
    }
}
