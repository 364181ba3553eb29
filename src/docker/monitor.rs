//! Per-step container monitoring: how many containers run (at a window's start, end and
//! peak), and their aggregate CPU % and memory, from a thread of its own.
//!
//! Rates, chosen to keep the daemon calm:
//! - the running-container count (`GET /containers/json`, a cheap call) every
//!   `max(interval, 50 ms)`, plus one immediate count at each window's start and end so
//!   short windows are right;
//! - CPU and memory from one-shot stats (`GET /containers/{id}/stats?stream=false&one-shot=true`)
//!   every `max(interval, 1 s)`, for at most [`STATS_PER_ROUND`] containers per round
//!   (round-robin beyond that; the others keep their last values), never two rounds at
//!   once. The daemon collects stats once a second, so a round's calls complete together.
//!
//! CPU % needs two readings of a container (see [`super::stats`]), so a window shorter than
//! two stats rounds may have no CPU figure: `None`, never a guess.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bollard::query_parameters::{ListContainersOptionsBuilder, StatsOptionsBuilder};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::stats::{Aggregate, Reading, StatsBook};
use super::{Client, DockerError, default_host, runtime};

/// Most containers whose stats are read in one round.
pub const STATS_PER_ROUND: usize = 16;
/// Shortest interval between container counts.
const MIN_COUNT_INTERVAL: Duration = Duration::from_millis(50);
/// Shortest interval between stats rounds (the daemon's own collection period).
const MIN_STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Per-request timeout of the monitor's client.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Containers seen over one window (a step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerSummary {
    /// Running containers when the window opened.
    pub containers_start: u64,
    /// Running containers when the window closed.
    pub containers_end: u64,
    /// Most running containers seen at once in the window.
    pub containers_peak: u64,
    /// Mean over the window's stats rounds of the summed CPU % of running containers
    /// (100 = one core). `None` when no round with a CPU figure fell inside the window.
    pub cpu_avg_pct: Option<f64>,
    /// Highest summed CPU % of a stats round in the window.
    pub cpu_peak_pct: Option<f64>,
    /// Highest summed memory in use (less inactive page cache) of a stats round.
    pub mem_peak_bytes: Option<u64>,
    /// Container counts in the window, its two edges included.
    pub samples: u64,
}

/// What the monitor cost over its lifetime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorCost {
    /// The count interval in force (after clamping).
    pub interval: Duration,
    /// Periodic container counts taken.
    pub ticks: u64,
    /// Stats rounds completed.
    pub stats_rounds: u64,
    /// Engine API requests made (counts, stats, edge counts; not the connection set-up).
    pub api_calls: u64,
    /// CPU time (user + sys) of the monitor thread, which runs every request and its I/O:
    /// `CLOCK_THREAD_CPUTIME_ID` on Linux and macOS, zero elsewhere. The daemon's own work
    /// answering is not included.
    pub cpu: Duration,
    /// Wall time the monitor ran.
    pub wall: Duration,
}

impl MonitorCost {
    /// CPU used as a percentage of one core.
    pub fn pct_of_core(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            100.0 * self.cpu.as_secs_f64() / self.wall.as_secs_f64()
        }
    }
}

/// An open window; closed by [`Monitor::end`].
#[derive(Debug)]
#[must_use = "close the window with Monitor::end"]
pub struct Window {
    id: u64,
}

/// A running container monitor (a thread with its own tokio runtime).
#[derive(Debug)]
pub struct Monitor {
    tx: mpsc::UnboundedSender<Command>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<Duration>>,
    started: Instant,
    interval: Duration,
    host: String,
}

#[derive(Debug)]
enum Command {
    /// Count running containers now and reply with the count.
    Count(SyncSender<Option<u64>>),
    Stop,
}

impl Monitor {
    /// Connect to the daemon at `DOCKER_HOST` (or the local default socket) and start
    /// monitoring. Fails when the daemon cannot be reached: with `docker = "auto"`, an
    /// error whose [`DockerError::is_unreachable`] holds is one warning, not a failure.
    pub fn start(interval: Duration) -> Result<Monitor, DockerError> {
        Self::start_on(&default_host(), interval)
    }

    /// [`Monitor::start`] against an explicit endpoint.
    pub fn start_on(host: &str, interval: Duration) -> Result<Monitor, DockerError> {
        let interval = interval.max(MIN_COUNT_INTERVAL);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = sync_channel(1);
        let thread = {
            let (host, shared) = (host.to_string(), Arc::clone(&shared));
            std::thread::Builder::new()
                .name("docker-monitor".into())
                .spawn(move || thread_main(&host, interval, shared, rx, ready_tx))
                .map_err(DockerError::Runtime)?
        };
        let started = Instant::now();
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Monitor {
                tx,
                shared,
                thread: Some(thread),
                started,
                interval,
                host: host.to_string(),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(match thread.join() {
                Err(p) => std::panic::resume_unwind(p),
                Ok(_) => DockerError::Runtime(std::io::Error::other(
                    "the monitor thread ended before connecting",
                )),
            }),
        }
    }

    /// The endpoint being monitored.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Open a window: counts running containers now (start value).
    pub fn begin(&self) -> Window {
        let now = self.count_now();
        let mut s = lock(&self.shared);
        let n = now.or(s.last_count).unwrap_or(0);
        let id = s.next_window;
        s.next_window += 1;
        s.windows.insert(id, Acc::new(n));
        Window { id }
    }

    /// Close a window: counts running containers now (end value) and summarises.
    pub fn end(&self, w: Window) -> ContainerSummary {
        let now = self.count_now();
        let mut s = lock(&self.shared);
        let end = now.or(s.last_count).unwrap_or(0);
        match s.windows.remove(&w.id) {
            Some(acc) => acc.finish(end),
            None => Acc::new(end).finish(end),
        }
    }

    /// Stop the thread and report what it cost.
    pub fn stop(mut self) -> MonitorCost {
        let cpu = self.shutdown();
        let s = lock(&self.shared);
        MonitorCost {
            interval: self.interval,
            ticks: s.ticks,
            stats_rounds: s.stats_rounds,
            api_calls: s.api_calls,
            cpu,
            wall: self.started.elapsed(),
        }
    }

    fn shutdown(&mut self) -> Duration {
        let _ = self.tx.send(Command::Stop);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(cpu)) => cpu,
            Some(Err(p)) => std::panic::resume_unwind(p),
            None => Duration::ZERO,
        }
    }

    /// An immediate count through the monitor thread; `None` if it cannot answer.
    fn count_now(&self) -> Option<u64> {
        let (reply, rx) = sync_channel(1);
        self.tx.send(Command::Count(reply)).ok()?;
        rx.recv_timeout(REQUEST_TIMEOUT + Duration::from_secs(1))
            .ok()
            .flatten()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown();
        }
    }
}

/// State shared between the monitor thread and its callers.
#[derive(Debug, Default)]
struct Shared {
    windows: HashMap<u64, Acc>,
    next_window: u64,
    last_count: Option<u64>,
    /// Ids of the running containers at the last count, sorted.
    running: Vec<String>,
    book: StatsBook,
    ticks: u64,
    stats_rounds: u64,
    api_calls: u64,
}

impl Shared {
    fn record_count(&mut self, ids: Vec<String>) {
        let n = ids.len() as u64;
        self.last_count = Some(n);
        self.running = ids;
        for acc in self.windows.values_mut() {
            acc.count(n);
        }
    }

    fn record_stats(&mut self, agg: Aggregate) {
        self.stats_rounds += 1;
        for acc in self.windows.values_mut() {
            acc.stats(agg);
        }
    }
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // The state stays consistent between statements; a panic elsewhere must not stop us.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One window's running totals (pure).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Acc {
    start: u64,
    peak: u64,
    samples: u64,
    cpu_sum: f64,
    cpu_n: u64,
    cpu_peak: Option<f64>,
    mem_peak: Option<u64>,
}

impl Acc {
    fn new(start: u64) -> Acc {
        Acc {
            start,
            peak: start,
            samples: 1,
            cpu_sum: 0.0,
            cpu_n: 0,
            cpu_peak: None,
            mem_peak: None,
        }
    }

    fn count(&mut self, n: u64) {
        self.peak = self.peak.max(n);
        self.samples += 1;
    }

    fn stats(&mut self, a: Aggregate) {
        if let Some(c) = a.cpu_pct {
            self.cpu_sum += c;
            self.cpu_n += 1;
            self.cpu_peak = Some(self.cpu_peak.map_or(c, |p| p.max(c)));
        }
        if let Some(m) = a.mem_bytes {
            self.mem_peak = Some(self.mem_peak.map_or(m, |p| p.max(m)));
        }
    }

    /// The summary, given the end count (already counted as a sample when it was taken).
    fn finish(self, end: u64) -> ContainerSummary {
        ContainerSummary {
            containers_start: self.start,
            containers_end: end,
            containers_peak: self.peak.max(end),
            cpu_avg_pct: (self.cpu_n > 0).then(|| self.cpu_sum / self.cpu_n as f64),
            cpu_peak_pct: self.cpu_peak,
            mem_peak_bytes: self.mem_peak,
            samples: self.samples,
        }
    }
}

fn thread_main(
    host: &str,
    interval: Duration,
    shared: Arc<Mutex<Shared>>,
    rx: mpsc::UnboundedReceiver<Command>,
    ready: SyncSender<Result<(), DockerError>>,
) -> Duration {
    match runtime() {
        Ok(rt) => rt.block_on(async {
            match Client::connect(host, REQUEST_TIMEOUT).await {
                Ok(client) => {
                    let _ = ready.send(Ok(()));
                    run(client, interval, shared, rx).await;
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                }
            }
        }),
        Err(e) => {
            let _ = ready.send(Err(e));
        }
    }
    thread_cpu()
}

async fn run(
    client: Client,
    interval: Duration,
    shared: Arc<Mutex<Shared>>,
    mut rx: mpsc::UnboundedReceiver<Command>,
) {
    use tokio::time::MissedTickBehavior;
    let started = Instant::now();
    let mut counts = tokio::time::interval(interval);
    counts.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stats = tokio::time::interval(interval.max(MIN_STATS_INTERVAL));
    stats.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let busy = Arc::new(AtomicBool::new(false));
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::Count(reply)) => {
                    let n = count(&client, &shared).await;
                    let _ = reply.send(n);
                }
                Some(Command::Stop) | None => break,
            },
            _ = counts.tick() => {
                if count(&client, &shared).await.is_some() {
                    lock(&shared).ticks += 1;
                }
            }
            _ = stats.tick() => {
                if !busy.swap(true, Ordering::AcqRel) {
                    let (client, shared, busy) = (client.clone(), Arc::clone(&shared), Arc::clone(&busy));
                    tokio::spawn(async move {
                        stats_round(&client, &shared, started).await;
                        busy.store(false, Ordering::Release);
                    });
                }
            }
        }
    }
}

/// Count running containers and record the count in every open window.
async fn count(client: &Client, shared: &Mutex<Shared>) -> Option<u64> {
    let opts = ListContainersOptionsBuilder::default().all(false).build();
    let listed = client.docker.list_containers(Some(opts)).await;
    let mut s = lock(shared);
    s.api_calls += 1;
    let mut ids: Vec<String> = listed.ok()?.into_iter().filter_map(|c| c.id).collect();
    ids.sort();
    let n = ids.len() as u64;
    s.record_count(ids);
    Some(n)
}

/// Read one-shot stats of up to [`STATS_PER_ROUND`] running containers, concurrently.
async fn stats_round(client: &Client, shared: &Mutex<Shared>, started: Instant) {
    let pick = {
        let mut s = lock(shared);
        let running = s.running.clone();
        s.book.pick(&running, STATS_PER_ROUND)
    };
    let reads = pick.iter().map(|id| async move {
        let opts = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = client.docker.stats(id, Some(opts));
        let got = tokio::time::timeout(REQUEST_TIMEOUT, stream.next()).await;
        let reading = match got {
            Ok(Some(Ok(s))) => Some(Reading::from_stats(&s, started.elapsed())),
            // Gone since the count, timed out or refused: no value this round.
            _ => None,
        };
        (id.clone(), reading)
    });
    let results = futures_util::future::join_all(reads).await;
    let mut s = lock(shared);
    s.api_calls += results.len() as u64;
    let readings = results
        .into_iter()
        .filter_map(|(id, r)| r.map(|r| (id, r)))
        .collect();
    let running = s.running.clone();
    let agg = s.book.update(&running, readings);
    s.record_stats(agg);
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    {
        nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID
            .now()
            .map(Duration::from)
            .unwrap_or_default()
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_tracks_start_peak_end_and_samples() {
        let mut a = Acc::new(1);
        a.count(3);
        a.count(2);
        let s = a.finish(0);
        assert_eq!(
            (s.containers_start, s.containers_peak, s.containers_end),
            (1, 3, 0)
        );
        assert_eq!(s.samples, 3);
        assert_eq!(
            (s.cpu_avg_pct, s.cpu_peak_pct, s.mem_peak_bytes),
            (None, None, None)
        );
    }

    #[test]
    fn window_averages_cpu_and_keeps_memory_peak() {
        let mut a = Acc::new(0);
        a.stats(Aggregate {
            cpu_pct: Some(10.0),
            mem_bytes: Some(100),
        });
        a.stats(Aggregate {
            cpu_pct: None,
            mem_bytes: Some(300),
        });
        a.stats(Aggregate {
            cpu_pct: Some(30.0),
            mem_bytes: Some(200),
        });
        let s = a.finish(0);
        assert_eq!(s.cpu_avg_pct, Some(20.0));
        assert_eq!(s.cpu_peak_pct, Some(30.0));
        assert_eq!(s.mem_peak_bytes, Some(300));
    }

    #[test]
    fn counts_reach_every_open_window() {
        let mut s = Shared::default();
        s.windows.insert(0, Acc::new(0));
        s.record_count(vec!["a".into(), "b".into()]);
        s.windows.insert(1, Acc::new(2));
        s.record_count(vec!["a".into()]);
        let outer = s.windows.remove(&0).unwrap().finish(1);
        let inner = s.windows.remove(&1).unwrap().finish(1);
        assert_eq!((outer.containers_peak, outer.samples), (2, 3));
        assert_eq!((inner.containers_peak, inner.samples), (2, 2));
        assert_eq!(s.last_count, Some(1));
    }

    #[test]
    fn monitor_of_a_missing_daemon_fails_unreachable() {
        let e = Monitor::start_on(
            "unix:///nonexistent/docker.sock",
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert!(e.is_unreachable(), "{e:?}");
    }

    #[test]
    fn cost_as_pct_of_core() {
        let c = MonitorCost {
            interval: Duration::from_millis(100),
            ticks: 10,
            stats_rounds: 1,
            api_calls: 11,
            cpu: Duration::from_millis(5),
            wall: Duration::from_secs(1),
        };
        assert!((c.pct_of_core() - 0.5).abs() < 1e-9);
    }
}
