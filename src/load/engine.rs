//! The load engine: workers on tokio runtimes (one per core, each on its own thread) take operations one after another (closed
//! loop) or as a pacer thread makes them due (open loop), time their phases, and record
//! them into one recorder whose memory does not grow with the number of operations.
//!
//! Open loop: operation `i` is due at `t0 + i / rate`. The pacer releases one permit of a
//! semaphore per due operation, from a thread of its own that sleeps with the kernel's
//! high-resolution timers (tokio's timer wheel has millisecond steps); a worker takes a
//! permit, then the next index. Workers are started as due operations need them, up to
//! `max_in_flight`, so that a fast service is driven through few connections; permits
//! that no worker waits for once every allowed worker runs are the backlog — nothing is
//! queued but a count.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, watch};

use super::latency::Latency;
use super::{Arrival, COMPLETE, Drive, Failure, LoadPhase, LoadSecond, MAX_PHASES, Progress, Stop};

/// Most failure messages kept per scenario and run.
pub const MAX_FAILURE_SAMPLES: usize = 5;

/// One kind of operation. A worker runs one operation at a time, with state of its own
/// (an HTTP connection kept for the next request).
pub trait Operation: Send + Sync + 'static {
    type Worker: Send + 'static;

    /// A new worker's state.
    fn worker(&self) -> Self::Worker;

    /// Run operation `index`, marking its phases in `marks` as they are reached; its end
    /// is when the future resolves, unless it marked [`Marks::end`] earlier. Dropping the
    /// future (a timeout, an interruption) must stop the operation.
    fn run<'a>(
        &'a self,
        worker: &'a mut Self::Worker,
        index: u64,
        marks: &'a mut Marks,
    ) -> impl Future<Output = Result<(), Failure>> + Send + 'a;
}

/// The phase names of a scenario, numbered in the order they first appeared.
#[derive(Debug, Default)]
pub struct PhaseNames {
    names: Mutex<Vec<String>>,
}

impl PhaseNames {
    /// The number of `name`, `None` past [`MAX_PHASES`] names.
    fn id(&self, name: &str) -> Option<usize> {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = names.iter().position(|n| n == name) {
            return Some(i);
        }
        (names.len() < MAX_PHASES).then(|| {
            names.push(name.to_owned());
            names.len() - 1
        })
    }

    fn all(&self) -> Vec<String> {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The phases one operation reached, stamped when the harness learnt of them.
#[derive(Debug)]
pub struct Marks {
    names: Arc<PhaseNames>,
    list: Vec<(usize, Instant)>,
    end: Option<Instant>,
    /// Phase names past the limit.
    dropped: u64,
}

impl Marks {
    fn new(names: Arc<PhaseNames>) -> Self {
        Self {
            names,
            list: Vec::new(),
            end: None,
            dropped: 0,
        }
    }

    fn reset(&mut self) {
        self.list.clear();
        self.end = None;
        self.dropped = 0;
    }

    /// Phase `name` reached at `at`. `complete` is the operation's end, not a phase it
    /// can mark; a phase marked twice keeps its first time.
    pub fn mark(&mut self, name: &str, at: Instant) {
        if name == COMPLETE {
            return;
        }
        match self.names.id(name) {
            Some(id) if !self.list.iter().any(|(i, _)| *i == id) => self.list.push((id, at)),
            Some(_) => {}
            None => self.dropped += 1,
        }
    }

    /// The operation ended at `at` (before its future resolved: a command's exit, with
    /// its last output still to be read).
    pub fn end(&mut self, at: Instant) {
        self.end = Some(at);
    }
}

/// Everything recorded about a scenario, behind one lock.
#[derive(Debug)]
struct Recorder {
    warmup_ops: u64,
    capacity: u64,
    phases: Vec<Latency>,
    complete: Latency,
    start_lag: Latency,
    failures: std::collections::BTreeMap<String, u64>,
    samples: Vec<String>,
    ops: u64,
    succeeded: u64,
    failed: u64,
    dropped_phases: u64,
    in_flight: u64,
    max_in_flight: u64,
    capacity_since: Option<Instant>,
    at_capacity: Duration,
    window_start: Option<Instant>,
    last_end: Option<Instant>,
    timeline: Vec<LoadSecond>,
    second: Second,
}

/// The second being counted.
#[derive(Debug)]
struct Second {
    index: u64,
    completed: u64,
    failed: u64,
    max_in_flight: u64,
    complete: Latency,
}

impl Recorder {
    fn new(warmup_ops: u64, capacity: u64) -> Self {
        Self {
            warmup_ops,
            capacity,
            phases: Vec::new(),
            complete: Latency::new(),
            start_lag: Latency::new(),
            failures: Default::default(),
            samples: Vec::new(),
            ops: 0,
            succeeded: 0,
            failed: 0,
            dropped_phases: 0,
            in_flight: 0,
            max_in_flight: 0,
            capacity_since: None,
            at_capacity: Duration::ZERO,
            window_start: None,
            last_end: None,
            timeline: Vec::new(),
            second: Second {
                index: 0,
                completed: 0,
                failed: 0,
                max_in_flight: 0,
                complete: Latency::new(),
            },
        }
    }

    /// Close the seconds before the one `now` is in.
    fn roll(&mut self, now: Instant) {
        let Some(ws) = self.window_start else { return };
        let index = now.saturating_duration_since(ws).as_secs();
        while self.second.index < index {
            self.close_second();
            self.second.index += 1;
            self.second.max_in_flight = self.in_flight;
        }
    }

    fn close_second(&mut self) {
        let s = &mut self.second;
        let stats = s.complete.stats();
        self.timeline.push(LoadSecond {
            t_s: s.index,
            completed: s.completed,
            failed: s.failed,
            max_in_flight: s.max_in_flight,
            p50_ms: stats.as_ref().map(|s| s.p50_ms),
            p95_ms: stats.as_ref().map(|s| s.p95_ms),
            max_ms: stats.as_ref().map(|s| s.max_ms),
        });
        s.completed = 0;
        s.failed = 0;
        if !s.complete.is_empty() {
            s.complete = Latency::new();
        }
    }

    fn begin(&mut self, now: Instant) {
        self.roll(now);
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        self.second.max_in_flight = self.second.max_in_flight.max(self.in_flight);
        if self.in_flight == self.capacity {
            self.capacity_since = Some(now);
        }
    }

    fn end(&mut self, now: Instant) {
        if let Some(since) = self.capacity_since.take() {
            self.at_capacity += now.saturating_duration_since(since);
        }
        self.in_flight -= 1;
    }

    /// An operation that ran to its end (or failed). `start` is when its latency counts
    /// from.
    fn record(
        &mut self,
        index: u64,
        start: Instant,
        marks: &Marks,
        ended: Instant,
        result: Result<(), Failure>,
    ) {
        self.dropped_phases += marks.dropped;
        if index < self.warmup_ops {
            return;
        }
        self.roll(ended);
        self.ops += 1;
        self.last_end = Some(self.last_end.map_or(ended, |l| l.max(ended)));
        match result {
            Ok(()) => {
                self.succeeded += 1;
                for &(id, at) in &marks.list {
                    if self.phases.len() <= id {
                        self.phases.resize_with(id + 1, Latency::new);
                    }
                    self.phases[id].record(at.min(ended).saturating_duration_since(start));
                }
                let took = ended.saturating_duration_since(start);
                self.complete.record(took);
                self.second.complete.record(took);
                self.second.completed += 1;
            }
            Err(f) => {
                self.failed += 1;
                self.second.completed += 1;
                self.second.failed += 1;
                if self.samples.len() < MAX_FAILURE_SAMPLES {
                    self.samples
                        .push(format!("operation {index}: {}: {}", f.cause, f.detail));
                }
                *self.failures.entry(f.cause).or_default() += 1;
            }
        }
    }

    fn progress(&self, now: Instant, planned: Option<u64>) -> Progress {
        let secs = self
            .window_start
            .map_or(0.0, |ws| now.saturating_duration_since(ws).as_secs_f64());
        Progress {
            done: self.ops,
            failed: self.failed,
            in_flight: self.in_flight,
            rate_per_s: if secs > 0.0 {
                self.succeeded as f64 / secs
            } else {
                0.0
            },
            p95_ms: (!self.complete.is_empty()).then(|| self.complete.quantile_ms(0.95)),
            planned,
        }
    }
}

/// What the engine measured.
#[derive(Debug, Default)]
pub struct Measured {
    pub interrupted: bool,
    pub ops: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub elapsed: Duration,
    pub failures: std::collections::BTreeMap<String, u64>,
    pub failure_samples: Vec<String>,
    pub max_in_flight: u64,
    pub at_capacity: Duration,
    pub backlog_max: Option<u64>,
    pub start_lag: Option<Latency>,
    /// Phases in the order they first appeared, `complete` last, with their
    /// distributions (phases no successful operation reached are left out).
    pub phases: Vec<(String, Latency)>,
    pub timeline: Vec<LoadSecond>,
    /// `::bench:: phase` lines past [`MAX_PHASES`] names.
    pub dropped_phases: u64,
}

impl Measured {
    /// The receipt's phases: each distribution summarised and encoded.
    pub fn load_phases(&self) -> Vec<LoadPhase> {
        self.phases
            .iter()
            .filter_map(|(name, l)| {
                Some(LoadPhase {
                    name: name.clone(),
                    latency: l.stats()?,
                    histogram: l.encode(),
                })
            })
            .collect()
    }
}

/// What the workers share.
struct Shared<O: Operation> {
    op: O,
    drive: Drive,
    names: Arc<PhaseNames>,
    recorder: Mutex<Recorder>,
    next: AtomicU64,
    /// Indices at or past this are not run.
    limit: AtomicU64,
    stopped: AtomicBool,
    cancelled: watch::Receiver<bool>,
    /// Closed loop, `duration`: when the first measured operation started.
    window_start: OnceLock<Instant>,
    /// Open loop.
    pacing: Option<Pacing>,
    workers_live: AtomicU64,
    workers_done: Notify,
    /// The runtimes workers are started on, in turn.
    threads: Vec<tokio::runtime::Handle>,
    next_thread: std::sync::atomic::AtomicUsize,
}

/// One current-thread runtime per OS thread: a worker's I/O, timers and child processes
/// are handled by the thread it runs on, and no wake-up is handed between threads (a
/// work-stealing runtime's hand-offs cost a command operation about a fifth of its
/// throughput here).
struct Threads {
    handles: Vec<tokio::runtime::Handle>,
    finish: watch::Sender<bool>,
    joins: Vec<std::thread::JoinHandle<()>>,
}

impl Threads {
    fn start(n: usize) -> std::io::Result<Threads> {
        let (finish, finished) = watch::channel(false);
        let mut threads = Threads {
            handles: Vec::new(),
            finish,
            joins: Vec::new(),
        };
        for i in 0..n {
            let (tx, rx) = std::sync::mpsc::channel();
            let mut finished = finished.clone();
            let join = std::thread::Builder::new()
                .name(format!("benchmark-load-{i}"))
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = tx.send(Ok(rt.handle().clone()));
                    rt.block_on(async {
                        let _ = finished.wait_for(|f| *f).await;
                    });
                })?;
            threads.joins.push(join);
            let handle = rx
                .recv()
                .map_err(|_| std::io::Error::other("a load thread ended at its start"))??;
            threads.handles.push(handle);
        }
        Ok(threads)
    }

    /// Stop the runtimes (every worker has ended) and wait for their threads.
    fn finish(mut self) {
        let _ = self.finish.send(true);
        for j in std::mem::take(&mut self.joins) {
            let _ = j.join();
        }
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        let _ = self.finish.send(true);
    }
}

struct Pacing {
    t0: Instant,
    rate: f64,
    permits: Semaphore,
    /// Workers waiting for a permit.
    idle: AtomicU64,
    spawned: AtomicU64,
    backlog_max: AtomicU64,
}

impl Pacing {
    /// When operation `i` is due.
    fn due(&self, i: u64) -> Instant {
        self.t0 + Duration::from_secs_f64(i as f64 / self.rate)
    }
}

impl<O: Operation> Shared<O> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recorder> {
        self.recorder.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Drive `op` as `drive` says, on a runtime of its own; `cancelled` is asked several
/// times a second (an interruption stops the operations in flight, which are not
/// counted), and `progress` told what was done so far.
pub fn drive<O: Operation>(
    op: O,
    drive: &Drive,
    cancelled: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(&Progress),
) -> std::io::Result<Measured> {
    let capacity = u64::from(drive.arrival.capacity().max(1));
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(usize::try_from(capacity).unwrap_or(usize::MAX));
    let pool = Threads::start(threads.max(1))?;
    // This thread's: the progress ticks and the wait for the workers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let total = match drive.stop {
        Stop::Total(n) => Some(drive.warmup_ops.saturating_add(n)),
        Stop::Duration(_) => None,
    };
    let pacing = match drive.arrival {
        Arrival::Closed { .. } => None,
        Arrival::Open { rate_per_s, .. } => Some(Pacing {
            t0: Instant::now(),
            rate: rate_per_s,
            permits: Semaphore::new(0),
            idle: AtomicU64::new(0),
            spawned: AtomicU64::new(0),
            backlog_max: AtomicU64::new(0),
        }),
    };
    let mut recorder = Recorder::new(drive.warmup_ops, capacity);
    if let Some(p) = &pacing {
        recorder.window_start = Some(p.due(drive.warmup_ops));
    }
    let shared = Arc::new(Shared {
        op,
        drive: drive.clone(),
        names: Arc::new(PhaseNames::default()),
        recorder: Mutex::new(recorder),
        next: AtomicU64::new(0),
        limit: AtomicU64::new(total.unwrap_or(u64::MAX)),
        stopped: AtomicBool::new(false),
        cancelled: cancel_rx,
        window_start: OnceLock::new(),
        pacing,
        workers_live: AtomicU64::new(0),
        workers_done: Notify::new(),
        threads: pool.handles.clone(),
        next_thread: std::sync::atomic::AtomicUsize::new(0),
    });

    let pacer = match shared.pacing {
        None => {
            for _ in 0..capacity {
                spawn_worker(&shared);
            }
            None
        }
        Some(_) => {
            let shared = shared.clone();
            Some(
                std::thread::Builder::new()
                    .name("benchmark-pacer".into())
                    .spawn(move || pace(&shared))?,
            )
        }
    };

    let planned = match drive.stop {
        Stop::Total(n) => Some(n),
        Stop::Duration(d) => match drive.arrival {
            Arrival::Open { rate_per_s, .. } => Some(open_loop_ops(d, rate_per_s)),
            Arrival::Closed { .. } => None,
        },
    };
    let mut interrupted = false;
    runtime.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks = 0u32;
        loop {
            let paced = pacer.as_ref().is_none_or(|p| p.is_finished());
            if paced && shared.workers_live.load(Ordering::Acquire) == 0 {
                break;
            }
            tokio::select! {
                _ = shared.workers_done.notified() => {}
                _ = tick.tick() => {
                    if !interrupted && cancelled() {
                        interrupted = true;
                        shared.stopped.store(true, Ordering::Release);
                        let _ = cancel_tx.send(true);
                    }
                    ticks += 1;
                    if ticks.is_multiple_of(2) {
                        let p = shared.lock().progress(Instant::now(), planned);
                        progress(&p);
                    }
                }
            }
        }
    });
    if let Some(p) = pacer {
        let _ = p.join();
    }
    drop(runtime);
    pool.finish();

    let names = shared.names.all();
    let backlog_max = shared
        .pacing
        .as_ref()
        .map(|p| p.backlog_max.load(Ordering::Relaxed));
    let open = shared.pacing.is_some();
    let mut r = shared.lock();
    if r.window_start.is_none() {
        r.window_start = shared.window_start.get().copied();
    }
    if let Some(since) = r.capacity_since.take() {
        r.at_capacity += since.elapsed();
    }
    if r.ops > 0 {
        r.close_second();
    }
    let elapsed = match (r.window_start, r.last_end) {
        (Some(s), Some(e)) => e.saturating_duration_since(s),
        _ => Duration::ZERO,
    };
    let mut phases: Vec<(String, Latency)> = Vec::new();
    let recorded = std::mem::take(&mut r.phases);
    for (name, l) in names.into_iter().zip(recorded) {
        if !l.is_empty() {
            phases.push((name, l));
        }
    }
    if !r.complete.is_empty() {
        phases.push((COMPLETE.to_owned(), std::mem::take(&mut r.complete)));
    }
    Ok(Measured {
        interrupted,
        ops: r.ops,
        succeeded: r.succeeded,
        failed: r.failed,
        elapsed,
        failures: std::mem::take(&mut r.failures),
        failure_samples: std::mem::take(&mut r.samples),
        max_in_flight: r.max_in_flight,
        at_capacity: r.at_capacity,
        backlog_max,
        start_lag: open.then(|| std::mem::take(&mut r.start_lag)),
        phases,
        timeline: std::mem::take(&mut r.timeline),
        dropped_phases: r.dropped_phases,
    })
}

/// Operations an open loop runs in `d` at `rate` (those due before `d` has passed).
pub fn open_loop_ops(d: Duration, rate: f64) -> u64 {
    let n = (d.as_secs_f64() * rate).ceil();
    if n >= u64::MAX as f64 {
        u64::MAX
    } else {
        n as u64
    }
}

fn spawn_worker<O: Operation>(shared: &Arc<Shared<O>>) {
    let turn = shared.next_thread.fetch_add(1, Ordering::Relaxed);
    let handle = &shared.threads[turn % shared.threads.len()];
    shared.workers_live.fetch_add(1, Ordering::AcqRel);
    if let Some(p) = &shared.pacing {
        p.spawned.fetch_add(1, Ordering::AcqRel);
    }
    let shared = shared.clone();
    handle.spawn(async move {
        worker(&shared).await;
        shared.workers_live.fetch_sub(1, Ordering::AcqRel);
        shared.workers_done.notify_one();
    });
}

/// The open loop's pacer: releases operations as they become due, starts workers as the
/// backlog needs them, and when the last operation is released (or on interruption)
/// wakes every worker to stop.
fn pace<O: Operation>(shared: &Arc<Shared<O>>) {
    let Some(p) = &shared.pacing else { return };
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_TIMERSLACK takes an integer and affects this thread only.
    unsafe {
        // Sleeps end within microseconds of when asked instead of the default 50 µs.
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    let drive = &shared.drive;
    let end = match drive.stop {
        Stop::Total(n) => drive.warmup_ops.saturating_add(n),
        Stop::Duration(d) => drive.warmup_ops.saturating_add(open_loop_ops(d, p.rate)),
    };
    let max_workers = u64::from(drive.arrival.capacity().max(1));
    let mut released = 0u64;
    while released < end && !shared.stopped.load(Ordering::Acquire) {
        let now = Instant::now();
        let due_by_now = if now < p.t0 {
            0
        } else {
            let n = (now - p.t0).as_secs_f64() * p.rate;
            if n >= (u64::MAX - 1) as f64 {
                u64::MAX
            } else {
                n as u64 + 1
            }
        };
        let target = due_by_now.min(end);
        if target > released {
            let add = usize::try_from(target - released).unwrap_or(usize::MAX);
            p.permits.add_permits(add.min(Semaphore::MAX_PERMITS / 2));
            released = target;
            // Due and with no worker waiting for it: started as new workers while there
            // is room, else the backlog (every allowed slot busy).
            let waiting = (p.permits.available_permits() as u64)
                .saturating_sub(p.idle.load(Ordering::Acquire));
            let room = max_workers.saturating_sub(p.spawned.load(Ordering::Acquire));
            let start = waiting.min(room);
            for _ in 0..start {
                spawn_worker(shared);
            }
            p.backlog_max.fetch_max(waiting - start, Ordering::Relaxed);
        }
        if released >= end {
            break;
        }
        let next_due = p.due(released);
        let now = Instant::now();
        if next_due > now {
            // In slices, to see an interruption.
            std::thread::sleep((next_due - now).min(Duration::from_millis(50)));
        }
    }
    shared.limit.store(released, Ordering::Release);
    // Wake every worker waiting for a permit: each takes an index past the limit and
    // stops.
    let spawned = p.spawned.load(Ordering::Acquire);
    p.permits.add_permits(
        usize::try_from(spawned)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS / 2),
    );
}

async fn worker<O: Operation>(shared: &Shared<O>) {
    let mut state = shared.op.worker();
    let mut marks = Marks::new(shared.names.clone());
    let mut cancelled = shared.cancelled.clone();
    let warmup = shared.drive.warmup_ops;
    loop {
        if shared.stopped.load(Ordering::Acquire) {
            return;
        }
        if let Some(p) = &shared.pacing {
            p.idle.fetch_add(1, Ordering::AcqRel);
            let permit = tokio::select! {
                biased;
                _ = cancelled.wait_for(|c| *c) => None,
                permit = p.permits.acquire() => permit.ok(),
            };
            p.idle.fetch_sub(1, Ordering::AcqRel);
            let Some(permit) = permit else { return };
            permit.forget();
        }
        let index = shared.next.fetch_add(1, Ordering::AcqRel);
        if index >= shared.limit.load(Ordering::Acquire) || shared.stopped.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let start = match &shared.pacing {
            Some(p) => p.due(index),
            None => {
                if index == warmup {
                    let _ = shared.window_start.set(now);
                    let mut r = shared.lock();
                    r.window_start = Some(now);
                }
                if let (Stop::Duration(d), Some(ws)) =
                    (shared.drive.stop, shared.window_start.get())
                    && index > warmup
                    && now >= *ws + d
                {
                    shared.limit.fetch_min(index, Ordering::AcqRel);
                    return;
                }
                now
            }
        };
        {
            let mut r = shared.lock();
            r.begin(now);
            if shared.pacing.is_some() && index >= warmup {
                r.start_lag.record(now.saturating_duration_since(start));
            }
        }
        marks.reset();
        let run = shared.op.run(&mut state, index, &mut marks);
        let result = match shared.drive.timeout {
            None => tokio::select! {
                biased;
                _ = cancelled.wait_for(|c| *c) => None,
                r = run => Some(r),
            },
            Some(t) => tokio::select! {
                biased;
                _ = cancelled.wait_for(|c| *c) => None,
                r = tokio::time::timeout(t, run) => Some(r.unwrap_or_else(|_| Err(Failure::new(
                    "timeout",
                    format!("took longer than the timeout of {}", humantime::format_duration(t)),
                )))),
            },
        };
        let ended = Instant::now();
        let mut r = shared.lock();
        r.end(ended);
        let Some(result) = result else { return };
        let ended = marks.end.unwrap_or(ended);
        r.record(index, start, &marks, ended, result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sleeps as told by a function of the index; fails where told.
    struct Sleeps<F: Fn(u64) -> (Duration, Option<&'static str>) + Send + Sync + 'static>(F);

    impl<F: Fn(u64) -> (Duration, Option<&'static str>) + Send + Sync + 'static> Operation
        for Sleeps<F>
    {
        type Worker = ();
        fn worker(&self) {}
        async fn run(&self, _: &mut (), index: u64, marks: &mut Marks) -> Result<(), Failure> {
            let (d, fail) = (self.0)(index);
            tokio::time::sleep(d / 2).await;
            marks.mark("half", Instant::now());
            tokio::time::sleep(d / 2).await;
            match fail {
                Some(cause) => Err(Failure::new(cause, "told to")),
                None => Ok(()),
            }
        }
    }

    fn closed(c: u32, total: u64) -> Drive {
        Drive::closed(c, total, None)
    }

    fn run<O: Operation>(op: O, d: &Drive) -> Measured {
        drive(op, d, &|| false, &mut |_| {}).unwrap()
    }

    #[test]
    fn a_closed_loop_runs_exactly_total_operations_at_its_concurrency() {
        let m = run(
            Sleeps(|_| (Duration::from_millis(20), None)),
            &Drive {
                warmup_ops: 3,
                ..closed(4, 20)
            },
        );
        assert_eq!((m.ops, m.succeeded, m.failed), (20, 20, 0));
        assert_eq!(m.max_in_flight, 4);
        let names: Vec<&str> = m.phases.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["half", "complete"]);
        let complete = m.phases[1].1.stats().unwrap();
        assert_eq!(complete.count, 20);
        assert!(complete.min_ms >= 20.0, "{complete:?}");
        let half = m.phases[0].1.stats().unwrap();
        assert!(
            half.p50_ms >= 10.0 && half.p50_ms < complete.p50_ms,
            "{half:?}"
        );
        // 20 operations of 20 ms, 4 at a time: about 100 ms, 200 per second at most.
        assert!(m.elapsed >= Duration::from_millis(100), "{:?}", m.elapsed);
        assert!(m.elapsed.as_secs_f64() * 200.0 >= 19.5);
        assert!(m.start_lag.is_none() && m.backlog_max.is_none());
        assert!(
            m.at_capacity > Duration::from_millis(50),
            "{:?}",
            m.at_capacity
        );
    }

    #[test]
    fn failures_are_counted_by_cause_and_kept_out_of_the_latencies() {
        let m = run(
            Sleeps(|i| {
                (
                    Duration::from_millis(2),
                    match i % 5 {
                        0 => Some("exit:3"),
                        1 => Some("http:503"),
                        _ => None,
                    },
                )
            }),
            &closed(2, 50),
        );
        assert_eq!((m.ops, m.succeeded, m.failed), (50, 30, 20));
        assert_eq!(m.failures.get("exit:3"), Some(&10));
        assert_eq!(m.failures.get("http:503"), Some(&10));
        assert_eq!(m.failure_samples.len(), MAX_FAILURE_SAMPLES);
        assert_eq!(m.phases.last().unwrap().1.count(), 30);
        let tl: u64 = m.timeline.iter().map(|s| s.completed).sum();
        assert_eq!(tl, 50);
    }

    #[test]
    fn a_timeout_stops_the_operation_and_counts_it() {
        let m = run(
            Sleeps(|i| (Duration::from_millis(if i == 1 { 5000 } else { 1 }), None)),
            &Drive {
                timeout: Some(Duration::from_millis(100)),
                ..closed(1, 3)
            },
        );
        assert_eq!(m.failures.get("timeout"), Some(&1));
        assert_eq!(m.succeeded, 2);
        assert!(m.elapsed < Duration::from_secs(2), "{:?}", m.elapsed);
    }

    #[test]
    fn an_open_loop_counts_latency_from_when_an_operation_was_due() {
        // One worker, 100/s, operations of 30 ms: each waits for the one before, so the
        // backlog grows and latency climbs far past 30 ms; a closed loop would report
        // 30 ms throughout.
        let m = run(
            Sleeps(|_| (Duration::from_millis(30), None)),
            &Drive {
                arrival: Arrival::Open {
                    rate_per_s: 100.0,
                    max_in_flight: 1,
                },
                stop: Stop::Total(20),
                warmup_ops: 0,
                timeout: None,
            },
        );
        assert_eq!(m.ops, 20);
        let complete = m.phases.last().unwrap().1.stats().unwrap();
        assert!(complete.max_ms > 300.0, "{complete:?}");
        assert!(m.backlog_max.unwrap() >= 5, "{:?}", m.backlog_max);
        assert!(m.start_lag.as_ref().unwrap().stats().unwrap().max_ms > 250.0);
    }

    #[test]
    fn an_open_loop_keeps_its_rate_with_enough_workers() {
        let m = run(
            Sleeps(|_| (Duration::from_millis(20), None)),
            &Drive {
                arrival: Arrival::Open {
                    rate_per_s: 200.0,
                    max_in_flight: 100,
                },
                stop: Stop::Duration(Duration::from_millis(500)),
                warmup_ops: 0,
                timeout: None,
            },
        );
        assert_eq!(m.ops, 100);
        // About 4 in flight (20 ms × 200/s); workers started as needed, not 100, and
        // never a backlog while there is room for another.
        assert!(m.max_in_flight < 30, "{}", m.max_in_flight);
        assert_eq!(m.backlog_max, Some(0));
        let lag = m.start_lag.unwrap().stats().unwrap();
        assert!(lag.p50_ms < 5.0, "{lag:?}");
        assert!(m.elapsed >= Duration::from_millis(495), "{:?}", m.elapsed);
    }

    #[test]
    fn an_interruption_stops_the_operations_in_flight() {
        let started = Instant::now();
        let m = drive(
            Sleeps(|_| (Duration::from_secs(30), None)),
            &closed(3, 10),
            &|| started.elapsed() > Duration::from_millis(150),
            &mut |_| {},
        )
        .unwrap();
        assert!(m.interrupted);
        assert_eq!(m.ops, 0);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_closed_loop_for_a_duration_stops_taking_operations_when_it_is_over() {
        let m = run(
            Sleeps(|_| (Duration::from_millis(10), None)),
            &Drive {
                stop: Stop::Duration(Duration::from_millis(300)),
                ..closed(2, 0)
            },
        );
        assert!(m.ops >= 20 && m.ops <= 62, "{}", m.ops);
        assert!(m.elapsed >= Duration::from_millis(300), "{:?}", m.elapsed);
        assert!(m.elapsed < Duration::from_millis(1000), "{:?}", m.elapsed);
    }

    #[test]
    fn phase_names_past_the_limit_are_counted_not_timed() {
        let names = Arc::new(PhaseNames::default());
        let mut marks = Marks::new(names.clone());
        let now = Instant::now();
        for i in 0..MAX_PHASES + 3 {
            marks.mark(&format!("p{i}"), now);
        }
        marks.mark("p0", now);
        marks.mark(COMPLETE, now);
        assert_eq!(marks.list.len(), MAX_PHASES);
        assert_eq!(marks.dropped, 3);
    }

    /// Marks 40 phase names per operation: past the limit, 8 lines per operation.
    struct ManyPhases;

    impl Operation for ManyPhases {
        type Worker = ();
        fn worker(&self) {}
        async fn run(&self, _: &mut (), _: u64, marks: &mut Marks) -> Result<(), Failure> {
            for i in 0..MAX_PHASES + 8 {
                marks.mark(&format!("p{i}"), Instant::now());
            }
            Ok(())
        }
    }

    #[test]
    fn phase_lines_past_the_limit_are_counted_once_each() {
        let m = run(ManyPhases, &closed(2, 10));
        assert_eq!(m.dropped_phases, 80);
        assert_eq!(m.phases.len(), MAX_PHASES + 1);
    }

    #[test]
    fn open_loop_operation_counts() {
        assert_eq!(open_loop_ops(Duration::from_secs(2), 50.0), 100);
        assert_eq!(open_loop_ops(Duration::from_millis(1500), 1.0), 2);
        assert_eq!(open_loop_ops(Duration::from_secs(3600), 1e300), u64::MAX);
    }
}
