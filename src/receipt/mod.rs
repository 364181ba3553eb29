//! Receipts: the versioned JSON contract (`run_N.json`, `summary_<UTC>.json`, `perf.json`),
//! its published JSON Schema, reading and atomic writing. Units are in the field names.
//!
//! Receipts are read tolerantly: a field this version does not know is ignored, a field
//! it added since version 1 takes its default, so receipts of older and newer releases
//! load. The published schema is strict (`additionalProperties: false`): what this
//! version writes is pinned by it.

pub mod read;
pub mod write;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::docker::{ContainerSummary, DaemonInfo};
use crate::measure::ResourceSummary;
use crate::stats::Stats;
use crate::stats::compare::Direction;

/// Bumped on any incompatible change to the receipts. Version 2: typed warnings, every
/// sample in each stats object, a failing step's output tail in its run record.
pub const SCHEMA_VERSION: u32 = 2;

/// A warning, typed so that reports can classify it. Version 1 receipts carry plain
/// strings; they load as warnings of code `other`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Warning {
    pub code: WarningCode,
    /// The step it concerns, when it concerns one.
    pub step: Option<String>,
    /// The whole warning, as printed.
    pub message: String,
}

impl Warning {
    pub fn new(code: WarningCode, message: impl Into<String>) -> Self {
        Self {
            code,
            step: None,
            message: message.into(),
        }
    }

    pub fn step(code: WarningCode, step: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            step: Some(step.to_owned()),
            message: message.into(),
        }
    }

    /// The same warning, its message prefixed with where it happened (`run 2/5: …`).
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// The host was not quiet: load, swap, CPU frequency scaling, …
    NoisyHost,
    /// A measure varied more than its runs can average out.
    HighVariance,
    /// No per-step cgroup: CPU and memory cover only the waited-for processes.
    NoCgroup,
    /// `[monitor] docker = "auto"` found no daemon.
    DockerMonitorOff,
    /// Probe containers could not be swept.
    DockerCleanup,
    /// A malformed or dropped `::bench::` control line, or a cap on them reached.
    ControlLine,
    /// A metric in a unit that cannot be converted to its first one.
    MetricUnit,
    /// A malformed `benchmark step` record.
    SubstepRecord,
    /// A step timed out and was killed.
    TimedOut,
    /// A step failed or did not start.
    StepFailed,
    /// Operations of a load scenario failed.
    LoadFailures,
    /// A step failed, allowed by `allow_failure`.
    AllowedFailure,
    /// A step left processes running.
    LeftoverProcesses,
    /// A setup or teardown hook failed, or was skipped.
    Hook,
    /// The remaining runs were not run after a failure.
    StoppedEarly,
    /// About results imported from another tool: what its output could not say.
    Import,
    /// Anything else, and every warning of a version 1 receipt.
    #[serde(other)]
    Other,
}

/// A warning as stored: typed (version 2) or a plain string (version 1).
#[derive(Deserialize)]
#[serde(untagged)]
enum WarningRepr {
    Typed {
        code: WarningCode,
        #[serde(default)]
        step: Option<String>,
        message: String,
    },
    Plain(String),
}

impl<'de> Deserialize<'de> for Warning {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        WarningRepr::deserialize(d).map(Into::into)
    }
}

impl From<WarningRepr> for Warning {
    fn from(r: WarningRepr) -> Self {
        match r {
            WarningRepr::Typed {
                code,
                step,
                message,
            } => Self {
                code,
                step,
                message,
            },
            WarningRepr::Plain(message) => Self::new(WarningCode::Other, message),
        }
    }
}

/// How a step (or a run) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed,
    TimedOut,
    Interrupted,
}

/// `run_N.json`: one measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RunReceipt {
    pub schema_version: u32,
    /// The suite's name.
    pub suite: String,
    /// 1-based number of the measured run.
    pub run: u32,
    pub mode: Option<String>,
    /// ISO 8601 (UTC).
    pub started_at: String,
    pub finished_at: String,
    pub status: Status,
    /// Steps in the order they ran; sub-steps (`benchmark step`) follow their parent.
    pub steps: Vec<StepRecord>,
    /// Load scenarios, run after the steps (`[[load]]`).
    #[serde(default)]
    pub load: Vec<crate::load::LoadRecord>,
    pub warnings: Vec<Warning>,
}

/// One step of one run, as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StepRecord {
    pub id: String,
    pub name: String,
    /// The enclosing step, for steps recorded with `benchmark step` inside a step.
    pub parent: Option<String>,
    pub status: Status,
    /// Exit code; 128 + N when killed by signal N.
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub started_at: String,
    pub finished_at: String,
    /// Monotonic wall time, milliseconds (nanosecond resolution).
    pub wall_ms: f64,
    /// CPU time of the whole tree: from the step's cgroup when one was used, else from
    /// wait4's rusage (the process and its waited-for descendants). `null` for steps that
    /// are not processes of the harness (container lifecycle probes).
    pub cpu_user_ms: Option<f64>,
    pub cpu_sys_ms: Option<f64>,
    /// Largest resident set of any single process of the tree (wait4 ru_maxrss), bytes;
    /// `null` as above, and where it is not above `harness.rss_floor_bytes` (the
    /// harness's own resident set, which the kernel folds into it: the step's own peak is
    /// then smaller and unknown; the cgroup's tree peak still says what the step used).
    pub peak_rss_bytes: Option<u64>,
    /// What the step's cgroup accounted, when one was used.
    pub cgroup: Option<CgroupRecord>,
    /// How this step was measured: `wait4`, `wait4+cgroup-v2`, `wait4+cgroup-v1`, …
    pub measurement: String,
    /// System-wide resources seen by the sampler while the step ran.
    pub resources: ResourceSummary,
    /// Docker containers seen while the step ran (`[monitor] docker`), when monitored.
    pub containers: Option<ContainerSummary>,
    pub metrics: Vec<Metric>,
    pub phases: Vec<Phase>,
    /// Processes the step left running (killed after the run's teardown).
    pub leftover_processes: Option<u64>,
    /// The step's output, relative to the output directory.
    pub log: Option<String>,
    /// The last lines of output of a step that did not succeed (as the console showed
    /// them); `null` for a step that succeeded.
    #[serde(default)]
    pub output_tail: Option<Vec<String>>,
    /// What the harness itself spent around this step, never part of `wall_ms`; `null`
    /// for steps that are not processes of the harness (container lifecycle probes).
    pub harness: Option<HarnessRecord>,
}

/// The harness's own per-step cost, milliseconds. A step's `wall_ms` starts when its
/// process is already in its cgroup with its pipes in place and stops at the kernel's
/// exit notification; what the harness does around that is counted here instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HarnessRecord {
    /// Before the step's clock starts: cgroup, control FIFO, pipes, spawning, joining.
    pub spawn_ms: f64,
    /// The part of `spawn_ms` spent joining the step's cgroup(s), when it joined any: 0
    /// when it was born in its only cgroup.
    pub cgroup_join_ms: Option<f64>,
    /// The step's process was created inside its cgroup v2 cgroup (`clone3` with
    /// `CLONE_INTO_CGROUP`, Linux ≥ 5.7) instead of moved there: no migration, which after
    /// an idle gap can wait for the kernel's cgroup lock for milliseconds.
    pub clone_into_cgroup: bool,
    /// After the exit notification: reaping, the last reads, the cgroup's counters, the
    /// check for leftover processes.
    pub finish_ms: f64,
    /// CPU time of the harness's thread over the whole step, output handling included.
    pub cpu_ms: Option<f64>,
    /// The harness's own peak resident set when the step ended, bytes. The step's process
    /// is cloned from the harness, and the kernel counts the harness's resident set into
    /// its `ru_maxrss`; a step whose `ru_maxrss` is not above this floor has
    /// `peak_rss_bytes` null (its true peak is smaller and unknown). Absent off Linux,
    /// where spawning folds nothing in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_floor_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CgroupRecord {
    pub cpu_user_ms: Option<f64>,
    pub cpu_sys_ms: Option<f64>,
    /// Peak memory charged to the cgroup, page cache included, bytes.
    pub memory_peak_bytes: Option<u64>,
    pub io_read_bytes: Option<u64>,
    pub io_write_bytes: Option<u64>,
}

/// A custom metric from a `::bench:: metric` line, or imported from another tool's
/// output (a step's `import`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: Option<String>,
    /// Which way it gets better, when the tool said (imported metrics); absent: from the
    /// unit (rates higher, everything else lower).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Where an imported metric came from; absent for `::bench::` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Where an imported measure came from (`benchmark import`, a step's `import`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Origin {
    /// `criterion`, `go-bench`, `hyperfine` or `libtest`.
    pub tool: String,
    /// The tool's version, when its output says.
    pub version: Option<String>,
    /// The file read (for criterion, the benchmark's directory); `stdout` for a step's
    /// output.
    pub file: String,
    /// The benchmark's name as the tool wrote it (ids keep only `[A-Za-z0-9_-]`).
    pub benchmark: String,
    /// The unit as the tool wrote it (`ns/op`), where the receipt's differs (`ns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// What the tool recorded next to the result: go's configuration lines (`goos`,
    /// `cpu`, …), hyperfine's `parameters`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// hyperfine: each run's exit code (with `--ignore-failure`, non-zero codes' times
    /// are in the statistics, as hyperfine keeps them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exit_codes: Vec<i32>,
}

/// An estimate as the tool computed it (criterion's bootstrap, libtest's range), in the
/// unit of its measure; criterion's `change` estimates are fractions (`-0.05` is 5% less).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Estimate {
    pub point: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// The interval's confidence level (`0.95`).
    pub confidence_level: Option<f64>,
    pub standard_error: Option<f64>,
}

/// A phase from `::bench:: phase` lines: it lasts until the next phase or the step's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Phase {
    pub name: String,
    /// Offset from the step's start, milliseconds.
    pub start_ms: f64,
    pub duration_ms: f64,
}

/// `summary_<UTC>.json` and `perf.json`: the whole invocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Summary {
    pub schema_version: u32,
    pub tool: Tool,
    pub suite: SuiteInfo,
    /// The one command that reproduces this receipt.
    pub reproduce: String,
    pub environment: Environment,
    pub options: Options,
    pub started_at: String,
    pub finished_at: String,
    pub status: Status,
    /// Measured runs completed.
    pub runs: u32,
    pub warnings: Vec<Warning>,
    /// The suite's SLO gates, judged (`[[slo]]`).
    #[serde(default)]
    pub slos: Vec<crate::verdict::slo::GateResult>,
    pub steps: Vec<StepSummary>,
    /// Load scenarios over the measured runs (`[[load]]`).
    #[serde(default)]
    pub load: Vec<crate::load::LoadSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
    /// The source revision it was built from, when the build said
    /// (`BENCHMARK_REVISION` at build time: the flake's and the images' builds set it).
    #[serde(default)]
    pub revision: Option<String>,
}

impl Tool {
    /// This build of `benchmark`.
    pub fn this() -> Self {
        Tool {
            name: "benchmark".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            revision: option_env!("BENCHMARK_REVISION").map(str::to_owned),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SuiteInfo {
    pub name: String,
    pub description: Option<String>,
    /// The suite file as given; `None` for the built-in system baseline.
    pub file: Option<String>,
    /// SHA-256 of the suite file's bytes.
    pub sha256: String,
}

/// The environment fingerprint recorded next to every number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Environment {
    pub os: String,
    pub arch: String,
    pub nix_system: String,
    pub is_wsl: bool,
    pub docker_arch: String,
    pub cpu_model: Option<String>,
    pub cores: usize,
    pub physical_cores: Option<usize>,
    pub memory_bytes: Option<u64>,
    pub kernel: Option<String>,
    pub virtualization: Option<String>,
    pub container: Option<String>,
    pub hostname: Option<String>,
    pub measurement: Measurement,
    pub sampler: Option<SamplerInfo>,
    /// The Docker daemon, when a pre-flight check or the container monitor reached it.
    pub docker: Option<DaemonInfo>,
    /// The container monitor and its own cost (backend `docker-api`), when it ran.
    pub docker_monitor: Option<SamplerInfo>,
    /// Values of allow-listed environment variables only (`env_allow` in the suite);
    /// nothing else from the environment is recorded. The value the steps saw: from the
    /// process environment, the suite's `env` or a step's `env`; where steps saw different
    /// values, `NAME` holds the suite-wide one and `NAME@STEP` each step's own.
    pub env: BTreeMap<String, String>,
    /// The container image the harness ran in (`BENCHMARK_IMAGE`, set by its images).
    #[serde(default)]
    pub image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Measurement {
    /// `wait4`, `wait4+cgroup-v2`, `wait4+cgroup-v1`, `wait4+cgroup-hybrid`.
    pub method: String,
    /// Why a stronger method was not available, when it was not.
    pub note: Option<String>,
}

/// The background sampler and its own cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SamplerInfo {
    pub backend: String,
    pub interval_ms: f64,
    pub ticks: u64,
    /// CPU time the sampler thread used.
    pub cpu_ms: f64,
    /// Its CPU use as a percentage of one core over the run.
    pub cpu_pct_of_core: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Options {
    pub mode: Option<String>,
    pub runs: u32,
    pub warmup: u32,
    pub keep_logs: bool,
    /// The seed of the steps' shuffled order in each run (ad-hoc commands), when shuffled.
    #[serde(default)]
    pub shuffle_seed: Option<u64>,
}

/// Aggregate statistics of one step over the measured runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StepSummary {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    /// Runs in which the step failed or timed out (their samples are not in the stats;
    /// for an imported hyperfine command, runs with a non-zero exit code, whose times
    /// hyperfine kept: see `origin.exit_codes`).
    pub failures: u32,
    pub wall_ms: Option<Stats>,
    pub cpu_user_ms: Option<Stats>,
    pub cpu_sys_ms: Option<Stats>,
    pub peak_rss_bytes: Option<Stats>,
    /// Cgroup memory peak (page cache included), when a cgroup was used.
    pub cgroup_memory_peak_bytes: Option<Stats>,
    /// Bytes the step's cgroup read and wrote on block devices, when a cgroup was used.
    #[serde(default)]
    pub cgroup_io_read_bytes: Option<Stats>,
    #[serde(default)]
    pub cgroup_io_write_bytes: Option<Stats>,
    pub resources: ResourceStats,
    /// Docker containers over the runs, when monitored.
    pub containers: Option<ContainerStats>,
    /// Custom metrics by name.
    pub metrics: BTreeMap<String, MetricSummary>,
    /// Phases in the order they first appeared (a critical-path breakdown).
    pub phases: Vec<PhaseSummary>,
    /// Run numbers whose wall time is an outlier (modified z-score > 3.5).
    pub outlier_runs: Vec<u32>,
    /// Where an imported step came from (`benchmark import`: one step per benchmark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ResourceStats {
    pub cpu_avg_pct: Option<Stats>,
    pub cpu_peak_pct: Option<Stats>,
    pub mem_peak_bytes: Option<Stats>,
    pub disk_read_bytes: Option<Stats>,
    pub disk_write_bytes: Option<Stats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ContainerStats {
    /// Most running containers at once, per run.
    pub containers_peak: Stats,
    /// Summed CPU % of running containers (100 = one core).
    pub cpu_avg_pct: Option<Stats>,
    pub cpu_peak_pct: Option<Stats>,
    pub mem_peak_bytes: Option<Stats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PhaseSummary {
    pub name: String,
    /// Offset of the phase's start from the step's start.
    pub start_ms: Stats,
    pub duration_ms: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct MetricSummary {
    pub unit: Option<String>,
    pub stats: Stats,
    /// Which way it gets better, when its origin said; absent: from the unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Where an imported metric came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The tool's own estimates (criterion: `mean`, `median`, `std_dev`,
    /// `median_abs_dev`, `slope`; libtest: `median`, `range`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub estimates: BTreeMap<String, Estimate>,
    /// criterion's change estimates against its previous run (`change/estimates.json`),
    /// as fractions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub change: BTreeMap<String, Estimate>,
    /// What to know when reading it (libtest's `±` is max − min, not a deviation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl MetricSummary {
    /// A metric's summary with nothing known beyond its unit and samples.
    pub fn new(unit: Option<String>, stats: Stats) -> Self {
        Self {
            unit,
            stats,
            direction: None,
            origin: None,
            estimates: BTreeMap::new(),
            change: BTreeMap::new(),
            note: None,
        }
    }
}

/// Which receipt's schema to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// `perf.json` / `summary_<UTC>.json`.
    Summary,
    /// `run_N.json`.
    Run,
}

/// The published JSON Schema of a receipt.
pub fn schema(kind: SchemaKind) -> serde_json::Value {
    let schema = match kind {
        SchemaKind::Summary => schemars::schema_for!(Summary),
        SchemaKind::Run => schemars::schema_for!(RunReceipt),
    };
    serde_json::to_value(schema).expect("a schema serializes")
}
