//! Load: a scenario of N operations (or operations for a while) at concurrency C (closed
//! loop) or at an arrival rate (open loop), each operation's phases timed on arrival, its
//! latencies kept in HDR histograms ([`latency`]), its failures counted by cause.
//!
//! The engine ([`engine`]) is generic over the operation: a shell command
//! ([`command`], a process per operation) or an HTTP request ([`http`], no process).
//! What it returns is the run receipt's `load[]` record. Nothing here knows about suites,
//! runners or reporters.
//!
//! Latency is measured from each operation's start: in a closed loop when a worker took
//! it, in an open loop when it was *due* (`t0 + i / rate`), so that a stall of the
//! system under test shows in the tail instead of being hidden by the operations that
//! were never sent during it (coordinated omission).

pub mod command;
pub mod engine;
pub mod http;
pub mod latency;
#[cfg(test)]
pub(crate) mod testserver;

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::docker::ContainerSummary;
use crate::measure::ResourceSummary;
pub use latency::{Latency, LatencyStats};

/// The phase every operation has: from its start to its end (a command's exit, an HTTP
/// response's last byte).
pub const COMPLETE: &str = "complete";

/// Most distinct phase names per scenario; lines naming more are counted, not timed.
pub const MAX_PHASES: usize = 32;

/// How operations arrive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arrival {
    /// `concurrency` workers, each starting its next operation when its last one ended.
    Closed { concurrency: u32 },
    /// `rate` operations per second, each due at `t0 + i / rate` whatever happened to the
    /// ones before; at most `max_in_flight` at once (the others wait, late, in the
    /// backlog, their latency counted from when they were due).
    Open { rate_per_s: f64, max_in_flight: u32 },
}

impl Arrival {
    /// Most operations in flight at once.
    pub fn capacity(&self) -> u32 {
        match *self {
            Arrival::Closed { concurrency } => concurrency,
            Arrival::Open { max_in_flight, .. } => max_in_flight,
        }
    }
}

/// When a scenario ends (warm-up operations not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this many measured operations.
    Total(u64),
    /// When this long has passed since the first measured operation started (or was
    /// due); operations in flight then finish and count.
    Duration(Duration),
}

/// What the engine needs to drive a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Drive {
    pub arrival: Arrival,
    pub stop: Stop,
    /// Operations run first and not recorded.
    pub warmup_ops: u64,
    /// Per operation; one that takes longer is stopped and counted as `timeout`.
    pub timeout: Option<Duration>,
}

impl Drive {
    /// `total` operations by `concurrency` workers, each within `timeout`, no warm-up.
    pub fn closed(concurrency: u32, total: u64, timeout: Option<Duration>) -> Drive {
        Drive {
            arrival: Arrival::Closed { concurrency },
            stop: Stop::Total(total),
            warmup_ops: 0,
            timeout,
        }
    }
}

/// Open loop: `rate` with no `concurrency` may have this many operations in flight.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 1000;

/// The model, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    Closed,
    Open,
}

/// One scenario in one run, as measured: the run receipt's `load[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LoadRecord {
    pub id: String,
    pub name: String,
    /// `command` or `http`.
    pub operation: String,
    pub model: Model,
    /// Most operations allowed in flight at once (`concurrency`).
    pub concurrency: u32,
    /// Open loop: the arrival rate, operations per second.
    pub rate_per_s: Option<f64>,
    /// ISO 8601 (UTC).
    pub started_at: String,
    pub finished_at: String,
    /// Stopped by an interruption before it ended.
    pub interrupted: bool,
    /// Warm-up operations run before the measured ones (not in any figure below).
    pub warmup_ops: u64,
    /// Measured operations that ended, successfully or not.
    pub ops: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// From the first measured operation's start (open loop: when it was due) to the last
    /// one's end, milliseconds.
    pub elapsed_ms: f64,
    /// Successful operations per second over `elapsed_ms`.
    pub throughput_per_s: f64,
    /// Failed operations by cause: `exit:N` (a command's exit code), `signal:N`,
    /// `timeout`, `spawn` (the command did not start), `http:NNN` (an HTTP status not
    /// expected), `connect` (the host could not be resolved or connected to), `io` (the
    /// connection failed during the request: reset, closed before the response ended,
    /// or a malformed response; a kept connection the server had closed while idle is
    /// not a failure, the request is sent again on a new one).
    pub failures: BTreeMap<String, u64>,
    /// What the first few failures said (cause, and a command's last lines of stderr or
    /// the error), at most [`engine::MAX_FAILURE_SAMPLES`].
    pub failure_samples: Vec<String>,
    /// Most operations in flight at once (warm-up included).
    pub max_in_flight: u64,
    /// Time every allowed operation slot was busy (work queued or would have),
    /// milliseconds.
    pub at_capacity_ms: f64,
    /// Open loop: most operations due but not yet started at once.
    pub backlog_max: Option<u64>,
    /// Open loop: how late measured operations started after they were due (part of
    /// their latency: a backlog, or the harness's own dispatch); named `start_lag`.
    pub start_lag: Option<LoadPhase>,
    /// Latency from the operation's start to each phase, in the order phases first
    /// appeared; `complete` last.
    pub phases: Vec<LoadPhase>,
    /// Second by second from the first measured operation.
    pub timeline: Vec<LoadSecond>,
    /// CPU time of the operations' processes (the harness's waited-for children over
    /// the scenario); `null` for operations that are not processes.
    pub cpu_user_ms: Option<f64>,
    pub cpu_sys_ms: Option<f64>,
    /// CPU time of the harness itself over the scenario (HTTP operations are driven by
    /// it).
    pub harness_cpu_ms: Option<f64>,
    /// System-wide resources seen by the sampler during the scenario.
    pub resources: ResourceSummary,
    /// Docker containers seen during the scenario, when monitored.
    pub containers: Option<ContainerSummary>,
}

/// One scenario over the measured runs: the summary receipt's `load[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LoadSummary {
    pub id: String,
    pub name: String,
    pub operation: String,
    pub model: Model,
    pub concurrency: u32,
    pub rate_per_s: Option<f64>,
    /// Runs in which the scenario ran to its end.
    pub runs: u32,
    /// Over those runs.
    pub ops: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub failures: BTreeMap<String, u64>,
    pub failure_samples: Vec<String>,
    /// Each run's throughput, successful operations per second.
    pub throughput_per_s: Option<crate::stats::Stats>,
    /// Each phase over every run's operations (their histograms merged), with each run's
    /// p50, p95 and p99 as samples (what `compare` and a gate's `confidence` use).
    pub phases: Vec<LoadPhaseSummary>,
    pub max_in_flight: u64,
    /// Each run's time at capacity, milliseconds.
    pub at_capacity_ms: Option<crate::stats::Stats>,
    /// Open loop: the largest backlog of any run.
    pub backlog_max: Option<u64>,
    /// Open loop: start lag over every run's operations.
    pub start_lag: Option<LatencyStats>,
}

/// What the receipt says of a scenario the engine measured; resources, containers and
/// CPU times are the caller's to fill in.
pub fn record(
    id: &str,
    name: &str,
    operation: &str,
    drive: &Drive,
    started_at: String,
    finished_at: String,
    m: engine::Measured,
) -> LoadRecord {
    let (model, rate_per_s) = match drive.arrival {
        Arrival::Closed { .. } => (Model::Closed, None),
        Arrival::Open { rate_per_s, .. } => (Model::Open, Some(rate_per_s)),
    };
    let secs = m.elapsed.as_secs_f64();
    LoadRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        operation: operation.to_owned(),
        model,
        concurrency: drive.arrival.capacity(),
        rate_per_s,
        started_at,
        finished_at,
        interrupted: m.interrupted,
        warmup_ops: drive.warmup_ops,
        ops: m.ops,
        succeeded: m.succeeded,
        failed: m.failed,
        elapsed_ms: secs * 1e3,
        throughput_per_s: if secs > 0.0 {
            m.succeeded as f64 / secs
        } else {
            0.0
        },
        phases: m.load_phases(),
        failures: m.failures,
        failure_samples: m.failure_samples,
        max_in_flight: m.max_in_flight,
        at_capacity_ms: m.at_capacity.as_secs_f64() * 1e3,
        backlog_max: m.backlog_max,
        start_lag: m.start_lag.and_then(|l| {
            Some(LoadPhase {
                name: "start_lag".into(),
                latency: l.stats()?,
                histogram: l.encode(),
            })
        }),
        timeline: m.timeline,
        cpu_user_ms: None,
        cpu_sys_ms: None,
        harness_cpu_ms: None,
        resources: ResourceSummary::default(),
        containers: None,
    }
}

/// One phase of a scenario over the measured runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LoadPhaseSummary {
    pub name: String,
    /// Every run's operations together.
    pub latency: LatencyStats,
    /// Their merged histogram (V2 deflate, base64, microseconds).
    pub histogram: String,
    /// Each run's p50, p95 and p99, milliseconds.
    pub p50_ms: crate::stats::Stats,
    pub p95_ms: crate::stats::Stats,
    pub p99_ms: crate::stats::Stats,
}

/// One phase of a scenario's operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LoadPhase {
    pub name: String,
    /// Successful operations' latency from their start to this phase.
    pub latency: LatencyStats,
    /// The whole distribution: HdrHistogram's V2 deflate form, base64, microseconds
    /// (what runs and invocations are merged from).
    pub histogram: String,
}

/// One second of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LoadSecond {
    /// Seconds since the first measured operation started (or was due).
    pub t_s: u64,
    /// Operations that ended in this second, successfully or not.
    pub completed: u64,
    pub failed: u64,
    /// Most operations in flight during this second.
    pub max_in_flight: u64,
    /// `complete` latency of the successful operations that ended in this second.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// What one operation did wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The key in [`LoadRecord::failures`].
    pub cause: String,
    /// What it said, for [`LoadRecord::failure_samples`].
    pub detail: String,
}

impl Failure {
    pub fn new(cause: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            cause: cause.into(),
            detail: detail.into(),
        }
    }
}

/// A live view of a scenario, for the console.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub failed: u64,
    pub in_flight: u64,
    /// Measured operations per second so far.
    pub rate_per_s: f64,
    /// `complete` p95 so far, milliseconds.
    pub p95_ms: Option<f64>,
    /// Measured operations planned (`total`), when known.
    pub planned: Option<u64>,
}

/// A built-in HTTP operation as the suite gives it (`http = { url = … }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSpec {
    /// `http://HOST[:PORT]/PATH[?QUERY]`.
    pub url: String,
    /// `GET` unless given.
    pub method: String,
    pub body: Option<String>,
    /// Sent with every request, in this order.
    pub headers: Vec<(String, String)>,
    /// Keep each worker's connection for its next request (HTTP/1.1 keep-alive); `false`:
    /// a new connection per request.
    pub reuse: bool,
    /// Statuses that count as success; empty: 200 to 399.
    pub expect_status: Vec<u16>,
}
