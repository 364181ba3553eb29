//! Per-step container monitoring: how many containers run (at a window's start, end and
//! peak), and their aggregate CPU % and memory, from a thread of its own.
//!
//! The running-container count follows the daemon's event stream (`GET /events`, container
//! `start` and `die`), applied to a set of running ids: every change reaches the peaks of
//! all open windows at once, so a container that lives between two polls still counts, and
//! opening or closing a window reads memory (no API call). The stream is subscribed with
//! `since` = the monitor's clock before the first list (`GET /containers/json`), so events
//! racing that list are replayed, not lost; applying them is idempotent. A re-list every
//! `max(interval, 5 s)`, and after each reconnect of the stream (with backoff), guards
//! against a lost stream.
//!
//! Remaining race: `docker run -d` returns once the container started, and the daemon emits
//! `start` at that moment, but the event crosses a socket to the monitor thread; a window
//! closed within that fraction of a millisecond may miss it (the peak is then low by the
//! containers still in flight). Nothing says an event is in flight, so `end` does not wait.
//! The monitor's clock stands in for the daemon's in the first `since`: against a remote
//! daemon whose clock runs ahead, a few older events are replayed (counts settle at once;
//! a window open meanwhile may see a peak one too high); one behind relies on the
//! subscription reaching the daemon before the list, as it is sent first.
//!
//! Rates, chosen to keep the daemon calm:
//! - CPU and memory from one-shot stats (`GET /containers/{id}/stats?stream=false&one-shot=true`)
//!   every `max(interval, 1 s)`, for at most [`STATS_PER_ROUND`] containers per round
//!   (round-robin beyond that; the others keep their last values), never two rounds at
//!   once. The daemon collects stats once a second, so a round's calls complete together.
//!
//! CPU % needs two readings of a container (see [`super::stats`]), so a window shorter than
//! two stats rounds may have no CPU figure: `None`, never a guess.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bollard::models::EventMessage;
use bollard::query_parameters::{
    EventsOptionsBuilder, ListContainersOptionsBuilder, StatsOptionsBuilder,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use super::stats::{Aggregate, Reading, StatsBook};
use super::{Client, DockerError, default_host, runtime};

/// Most containers whose stats are read in one round.
pub const STATS_PER_ROUND: usize = 16;
/// Shortest interval accepted (stats and re-lists are clamped further).
const MIN_COUNT_INTERVAL: Duration = Duration::from_millis(50);
/// Shortest interval between safety re-lists of the running containers.
const MIN_RELIST_INTERVAL: Duration = Duration::from_secs(5);
/// First and longest wait before re-subscribing to a stream that ended.
const RECONNECT_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(5));
/// Shortest interval between stats rounds (the daemon's own collection period).
const MIN_STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Per-request timeout of the monitor's client.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Containers seen over one window (a step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
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
    /// Changes of the running count seen in the window (events and re-lists), plus its
    /// two edges.
    pub samples: u64,
}

/// What the monitor cost over its lifetime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorCost {
    /// The interval in force (after clamping); stats rounds run every `max(interval, 1 s)`,
    /// re-lists every `max(interval, 5 s)`.
    pub interval: Duration,
    /// Full lists of the running containers (the first one, the periodic safety re-lists,
    /// and one after each reconnect of the event stream).
    pub ticks: u64,
    /// Stats rounds completed.
    pub stats_rounds: u64,
    /// Engine API requests made (lists, stats, one per event-stream (re)subscription; not
    /// the connection set-up).
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
    stop: Option<oneshot::Sender<()>>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<Duration>>,
    started: Instant,
    interval: Duration,
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
        Self::start_until(host, interval, &|| false)
    }

    /// [`Monitor::start_on`] that gives up with [`DockerError::Interrupted`] as soon as
    /// `cancel()` holds (looked at every 10 ms). Connecting and the first list take at
    /// most `REQUEST_TIMEOUT` (5 s) together, whatever the endpoint does.
    pub fn start_until(
        host: &str,
        interval: Duration,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Monitor, DockerError> {
        let interval = interval.max(MIN_COUNT_INTERVAL);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (tx, rx) = oneshot::channel();
        let (ready_tx, ready_rx) = sync_channel(1);
        let thread = {
            let (host, shared) = (host.to_string(), Arc::clone(&shared));
            std::thread::Builder::new()
                .name("docker-monitor".into())
                .spawn(move || thread_main(&host, interval, shared, rx, ready_tx))
                .map_err(DockerError::Runtime)?
        };
        let started = Instant::now();
        // The thread bounds its own start; this is a second line of defence.
        let limit = REQUEST_TIMEOUT + Duration::from_secs(1);
        let answer = loop {
            match ready_rx.recv_timeout(super::CANCEL_POLL) {
                Ok(r) => break Some(r),
                Err(RecvTimeoutError::Disconnected) => break None,
                Err(RecvTimeoutError::Timeout) => {
                    let gave_up = if cancel() {
                        DockerError::Interrupted
                    } else if started.elapsed() >= limit {
                        DockerError::Timeout {
                            host: host.to_string(),
                            after: REQUEST_TIMEOUT,
                        }
                    } else {
                        continue;
                    };
                    // The thread sees the stop at once and ends; do not wait for it.
                    drop(tx);
                    drop(thread);
                    return Err(gave_up);
                }
            }
        };
        match answer {
            Some(Ok(())) => Ok(Monitor {
                stop: Some(tx),
                shared,
                thread: Some(thread),
                started,
                interval,
            }),
            Some(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            None => Err(match thread.join() {
                Err(p) => std::panic::resume_unwind(p),
                Ok(_) => DockerError::Runtime(std::io::Error::other(
                    "the monitor thread ended before connecting",
                )),
            }),
        }
    }

    /// Open a window: the running count now (start value), from memory.
    pub fn begin(&self) -> Window {
        let mut s = lock(&self.shared);
        let n = s.running.len() as u64;
        let id = s.next_window;
        s.next_window += 1;
        s.windows.insert(id, Acc::new(n));
        Window { id }
    }

    /// Close a window: the running count now (end value), from memory, and the summary.
    pub fn end(&self, w: Window) -> ContainerSummary {
        let mut s = lock(&self.shared);
        let end = s.running.len() as u64;
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
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(cpu)) => cpu,
            Some(Err(p)) => std::panic::resume_unwind(p),
            None => Duration::ZERO,
        }
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
    /// Ids of the running containers, as events and lists tell.
    running: BTreeSet<String>,
    /// While a list is in flight: ids that events changed meanwhile (newer than the list).
    relisting: Option<HashSet<String>>,
    book: StatsBook,
    ticks: u64,
    stats_rounds: u64,
    api_calls: u64,
}

/// What a container event does to the running set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Start,
    Die,
}

impl Change {
    /// The change an event stands for and its container id; `None` for any other event.
    fn of(msg: &EventMessage) -> Option<(Change, String)> {
        let change = match msg.action.as_deref()? {
            "start" => Change::Start,
            "die" => Change::Die,
            _ => return None,
        };
        Some((change, msg.actor.as_ref()?.id.clone()?))
    }
}

impl Shared {
    /// Apply one event. Idempotent: a second `start`, or the `die` of an id not running,
    /// changes nothing (replayed events overlap the first list).
    fn apply(&mut self, change: Change, id: String) {
        if let Some(touched) = &mut self.relisting {
            touched.insert(id.clone());
        }
        let changed = match change {
            Change::Start => self.running.insert(id),
            Change::Die => self.running.remove(&id),
        };
        if changed {
            self.count_changed();
        }
    }

    /// A list is about to be asked for.
    fn relist_begin(&mut self) {
        self.relisting = Some(HashSet::new());
    }

    /// A list answered (`None`: it failed). Its ids replace the set, except those that
    /// events changed while it was in flight: those events are the newer truth.
    fn relist_end(&mut self, listed: Option<Vec<String>>) {
        let touched = self.relisting.take().unwrap_or_default();
        let Some(ids) = listed else { return };
        self.ticks += 1;
        let before = self.running.len();
        let mut next: BTreeSet<String> =
            ids.into_iter().filter(|id| !touched.contains(id)).collect();
        next.extend(
            self.running
                .iter()
                .filter(|id| touched.contains(*id))
                .cloned(),
        );
        self.running = next;
        if self.running.len() != before {
            self.count_changed();
        }
    }

    /// Every open window sees the new count at once.
    fn count_changed(&mut self) {
        let n = self.running.len() as u64;
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

    fn running_ids(&self) -> Vec<String> {
        self.running.iter().cloned().collect()
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

    /// The summary, given the end count (the second edge sample).
    fn finish(self, end: u64) -> ContainerSummary {
        ContainerSummary {
            containers_start: self.start,
            containers_end: end,
            containers_peak: self.peak.max(end),
            cpu_avg_pct: (self.cpu_n > 0).then(|| self.cpu_sum / self.cpu_n as f64),
            cpu_peak_pct: self.cpu_peak,
            mem_peak_bytes: self.mem_peak,
            samples: self.samples + 1,
        }
    }
}

fn thread_main(
    host: &str,
    interval: Duration,
    shared: Arc<Mutex<Shared>>,
    mut stop: oneshot::Receiver<()>,
    ready: SyncSender<Result<(), DockerError>>,
) -> Duration {
    match runtime() {
        Ok(rt) => {
            rt.block_on(async {
                let connect =
                    tokio::time::timeout(REQUEST_TIMEOUT, Client::connect(host, REQUEST_TIMEOUT));
                let connected = tokio::select! {
                    r = connect => r.unwrap_or_else(|_| Err(DockerError::Timeout {
                        host: host.to_string(),
                        after: REQUEST_TIMEOUT,
                    })),
                    // Given up on (or dropped): end at once.
                    _ = &mut stop => return,
                };
                match connected {
                    Ok(client) => run(client, interval, shared, stop, ready).await,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            });
            // The event stream and a stats round may still be waiting on the daemon.
            rt.shutdown_background();
        }
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
    mut stop: oneshot::Receiver<()>,
    ready: SyncSender<Result<(), DockerError>>,
) {
    use tokio::time::MissedTickBehavior;
    let started = Instant::now();
    // Subscribe from a moment before the first list: what happens in between is replayed.
    let since = SystemTime::now();
    let reconnected = Arc::new(Notify::new());
    tokio::spawn(pump(
        client.clone(),
        Arc::clone(&shared),
        Arc::clone(&reconnected),
        since,
    ));
    // Let the pump send its subscription before the list is asked for.
    tokio::task::yield_now().await;
    // A daemon that cannot list its containers is no daemon to monitor: say why at once.
    let first = tokio::select! {
        r = relist(&client, &shared) => r,
        _ = &mut stop => return,
    };
    if let Err(e) = first {
        let _ = ready.send(Err(e));
        return;
    }
    // Windows open only once the first list is in.
    let _ = ready.send(Ok(()));
    let period = interval.max(MIN_RELIST_INTERVAL);
    let mut relists = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    relists.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stats = tokio::time::interval(interval.max(MIN_STATS_INTERVAL));
    stats.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let busy = Arc::new(AtomicBool::new(false));
    loop {
        // A stop ends whatever is in flight (a list waiting on the daemon): it never
        // waits for the daemon.
        let work = async {
            tokio::select! {
                // A later failure keeps the last counts; the next list tries again.
                _ = relists.tick() => { let _ = relist(&client, &shared).await; }
                () = reconnected.notified() => { let _ = relist(&client, &shared).await; }
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
        };
        tokio::select! {
            _ = &mut stop => break,
            () = work => {}
        }
    }
}

/// Follow the daemon's container `start` and `die` events into the running set, for good:
/// a stream that ends or fails is subscribed again after a growing pause, from the last
/// event seen (the daemon replays what it still holds), and a re-list is asked for.
async fn pump(
    client: Client,
    shared: Arc<Mutex<Shared>>,
    reconnected: Arc<Notify>,
    mut since: SystemTime,
) {
    let mut backoff = RECONNECT_BACKOFF.0;
    let mut first = true;
    loop {
        let mut stream = client.docker.events(Some(events_options(since)));
        lock(&shared).api_calls += 1;
        if !first {
            reconnected.notify_one();
        }
        first = false;
        while let Some(Ok(msg)) = stream.next().await {
            backoff = RECONNECT_BACKOFF.0;
            if let Some(t) = msg.time_nano.and_then(|n| u64::try_from(n).ok()) {
                since = UNIX_EPOCH + Duration::from_nanos(t);
            }
            if let Some((change, id)) = Change::of(&msg) {
                lock(&shared).apply(change, id);
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RECONNECT_BACKOFF.1);
    }
}

/// Container `start` and `die` events from `since` (seconds.nanoseconds since the epoch).
fn events_options(since: SystemTime) -> bollard::query_parameters::EventsOptions {
    let since = since.duration_since(UNIX_EPOCH).unwrap_or_default();
    let since = format!("{}.{:09}", since.as_secs(), since.subsec_nanos());
    let filters = HashMap::from([("type", vec!["container"]), ("event", vec!["start", "die"])]);
    EventsOptionsBuilder::default()
        .since(&since)
        .filters(&filters)
        .build()
}

/// List the running containers and reconcile the set with the answer.
async fn relist(client: &Client, shared: &Mutex<Shared>) -> Result<(), DockerError> {
    lock(shared).relist_begin();
    let opts = ListContainersOptionsBuilder::default().all(false).build();
    let listed = client.call(client.docker.list_containers(Some(opts))).await;
    let mut s = lock(shared);
    s.api_calls += 1;
    match listed {
        Ok(l) => {
            s.relist_end(Some(l.into_iter().filter_map(|c| c.id).collect()));
            Ok(())
        }
        Err(e) => {
            s.relist_end(None);
            Err(e)
        }
    }
}

/// Read one-shot stats of up to [`STATS_PER_ROUND`] running containers, concurrently.
async fn stats_round(client: &Client, shared: &Mutex<Shared>, started: Instant) {
    let pick = {
        let mut s = lock(shared);
        let running = s.running_ids();
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
    let running = s.running_ids();
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
        assert_eq!(s.samples, 4, "two changes and two edges");
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

    fn ids(s: &Shared) -> Vec<&str> {
        s.running.iter().map(String::as_str).collect()
    }

    #[test]
    fn events_apply_idempotently_and_reach_every_open_window() {
        let mut s = Shared::default();
        s.windows.insert(0, Acc::new(0));
        s.apply(Change::Start, "a".into());
        s.apply(Change::Start, "b".into());
        s.apply(Change::Start, "a".into()); // duplicate (a replay): no change
        s.windows.insert(1, Acc::new(2));
        s.apply(Change::Die, "zzz".into()); // never seen running: no change
        s.apply(Change::Die, "b".into());
        s.apply(Change::Die, "b".into()); // duplicate: no change
        assert_eq!(ids(&s), ["a"]);
        let outer = s.windows.remove(&0).unwrap().finish(1);
        let inner = s.windows.remove(&1).unwrap().finish(1);
        assert_eq!((outer.containers_peak, outer.samples), (2, 5));
        assert_eq!((inner.containers_peak, inner.samples), (2, 3));
    }

    #[test]
    fn a_short_lived_container_is_in_the_peak() {
        let mut s = Shared::default();
        s.windows.insert(0, Acc::new(0));
        s.apply(Change::Start, "x".into());
        s.apply(Change::Die, "x".into());
        let w = s.windows.remove(&0).unwrap().finish(0);
        assert_eq!(
            (w.containers_start, w.containers_peak, w.containers_end),
            (0, 1, 0)
        );
    }

    #[test]
    fn a_list_replaces_the_set_but_not_what_events_changed_meanwhile() {
        let mut s = Shared::default();
        s.apply(Change::Start, "a".into());
        s.apply(Change::Start, "gone".into());
        s.relist_begin();
        // While the list is in flight: "c" starts and "a" dies, after the list was taken.
        s.apply(Change::Start, "c".into());
        s.apply(Change::Die, "a".into());
        s.relist_end(Some(vec!["a".into(), "b".into()]));
        assert_eq!(
            ids(&s),
            ["b", "c"],
            "a missed start (b) and a missed die (gone)"
        );
        assert_eq!(s.ticks, 1);
        s.relist_begin();
        s.relist_end(None);
        assert_eq!(
            (ids(&s), s.ticks, s.relisting.is_none()),
            (vec!["b", "c"], 1, true)
        );
    }

    #[test]
    fn only_start_and_die_of_a_container_change_the_set() {
        let event = |action: &str, id: Option<&str>| EventMessage {
            action: Some(action.into()),
            actor: Some(bollard::models::EventActor {
                id: id.map(String::from),
                attributes: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            Change::of(&event("start", Some("x"))),
            Some((Change::Start, "x".into()))
        );
        assert_eq!(
            Change::of(&event("die", Some("x"))),
            Some((Change::Die, "x".into()))
        );
        assert_eq!(Change::of(&event("destroy", Some("x"))), None);
        assert_eq!(Change::of(&event("start", None)), None);
        assert_eq!(Change::of(&EventMessage::default()), None);
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
