//! The runner: pre-flight, warm-up and measured runs (setup → steps → teardown), each
//! run's receipt written as it ends. It drives [`crate::measure`] through an
//! [`Executor`], tells reporters what happens through [`Event`]s, and hands on what it
//! measured ([`Runs`]); assembling the summary, judging it and rendering it come after
//! it ([`crate::pipeline`]).

mod load;
pub mod output;
pub mod preflight;
pub(crate) mod record;
pub mod substep;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use crate::docker::probe::ProbeSpec;
use crate::docker::{self, DaemonInfo, DockerError, Monitor};
use crate::error::Error;
use crate::event::{Event, Reporter};
use crate::measure::cancel::Cancel;
use crate::measure::exec::{
    self, ControlFifo, ExecError, ExecOutcome, ExecSpec, Leftovers, OutputSink,
};
use crate::measure::host::{self, HostState};
use crate::measure::platform::{self, Platform};
use crate::measure::sampler::Sampler;
use crate::receipt::{
    self, Phase, RunReceipt, SamplerInfo, Status, StepRecord, Warning, WarningCode as Code,
};
use crate::suite::{DockerMode, Hook, Plan, Step, StepKind};

/// A container probe's limit when neither the step nor the run sets one.
const PROBE_TIMEOUT: Duration = Duration::from_secs(300);
use crate::format::iso;
use record::StepSink;

/// Environment variables whose values are safe to record by default.
pub const DEFAULT_ENV_ALLOW: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_REF",
    "GITHUB_SHA",
    "GITHUB_RUN_ID",
    "GITHUB_WORKFLOW",
    "RUNNER_OS",
    "RUNNER_ARCH",
    "BENCHMARK_SUITE",
];

/// File with `benchmark step` records, inside each run's directory.
pub const SUBSTEPS_FILE: &str = ".steps.jsonl";
/// File with the step ids taken in a run, inside each run's directory: made by the
/// run's first `benchmark step`, headed by the run's token, then the plan's ids and each
/// sub-step's in the order they started (see [`substep`]).
pub const IDS_FILE: &str = ".step-ids";

/// Where and how to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub output: PathBuf,
    pub keep_logs: bool,
    /// The `benchmark` executable, for `$BENCHMARK_EXE`.
    pub exe: PathBuf,
    /// The command that reproduces this invocation.
    pub reproduce: String,
    /// A failed gate of severity `fail` exits 1 (`--no-gates`: judged and recorded only).
    pub enforce_gates: bool,
}

/// Runs one process of a step or hook and measures it. [`Processes`] is the real one;
/// tests substitute a deterministic one, so that every path after the runner (summary,
/// gates, comparisons, exit codes) is tested end to end without real processes.
pub trait Executor {
    fn execute(
        &mut self,
        spec: &ExecSpec,
        sink: &mut dyn OutputSink,
        cancel: &Cancel,
    ) -> Result<ExecOutcome, ExecError>;
}

/// Real processes, measured by [`crate::measure::exec`].
#[derive(Debug, Default)]
pub struct Processes;

impl Executor for Processes {
    fn execute(
        &mut self,
        spec: &ExecSpec,
        sink: &mut dyn OutputSink,
        cancel: &Cancel,
    ) -> Result<ExecOutcome, ExecError> {
        exec::execute(spec, sink, cancel)
    }
}

/// What the runner measured and observed, handed on to the summary.
#[derive(Debug)]
pub struct Runs {
    /// Measured runs that completed (failed ones included), in order.
    pub completed: Vec<RunReceipt>,
    pub status: Status,
    /// Run-level warnings (each run's own are in its receipt too).
    pub warnings: Vec<Warning>,
    pub method: exec::Method,
    pub platform: Platform,
    pub host_before: HostState,
    pub host_after: HostState,
    pub sampler: Option<SamplerInfo>,
    pub docker: Option<DaemonInfo>,
    pub docker_monitor: Option<SamplerInfo>,
    /// Values of the allow-listed environment variables, as the steps saw them.
    pub env: BTreeMap<String, String>,
    /// `BENCHMARK_IMAGE`: the container image the harness runs in, when it does.
    pub image: Option<String>,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
}

/// Run a plan: pre-flight, then every warm-up and measured run. Each measured run's
/// receipt is in `opts.output` when it ends (fsyncs batched, all done on return).
pub fn run(
    plan: &Plan,
    opts: &RunOptions,
    cancel: &Cancel,
    executor: &mut dyn Executor,
    events: &mut dyn Reporter,
) -> Result<Runs, Error> {
    let suite = &plan.suite;
    let mut pre = preflight::run(suite, cancel);
    // Interrupted while checking: the runs below stop at once, as interrupted.
    if !pre.failures.is_empty() && !cancel.is_cancelled() {
        return Err(Error::Preflight(pre.failures));
    }
    let mut warnings: Vec<Warning> = Vec::new();
    let monitor = match suite.monitor.docker {
        DockerMode::Off => None,
        // Started by the pre-flight (none when interrupted).
        DockerMode::On => pre.monitor.take(),
        DockerMode::Auto => auto_monitor(suite.monitor.interval, cancel, &mut warnings),
    };
    let docker_info = pre.docker.or_else(|| {
        monitor.as_ref().and_then(|_| {
            docker::ping_until(&docker::default_host(), &|| cancel.is_cancelled()).ok()
        })
    });

    let started_at = SystemTime::now();
    let platform = platform::detect();
    let host_before = host::read();
    let sampler = suite
        .monitor
        .enabled
        .then(|| Sampler::start(suite.monitor.interval));
    let fifo_dir = tempfile_dir()?;

    let mut ctx = Ctx {
        plan,
        opts,
        cancel,
        executor,
        sampler: sampler.as_ref(),
        monitor: monitor.as_ref(),
        fifo_dir: fifo_dir.path().to_owned(),
        control: None,
        logs: None,
        spare_run_dir: None,
        method: None,
        // A suite that sets PATH keeps the lookup in the child, under its own PATH.
        shell: (!suite.env.contains_key("PATH"))
            .then(|| preflight::find_on_path(&suite.shell[0]))
            .flatten()
            .map_or_else(|| suite.shell[0].clone().into(), PathBuf::into_os_string),
        probe_label: format!(
            "{}-{}",
            std::process::id(),
            started_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        ),
    };
    let mut completed: Vec<RunReceipt> = Vec::new();
    // Each run's receipt is in place complete when its run ends; fsyncs are batched.
    let mut run_receipts = receipt::write::Batch::new(Duration::from_secs(1));
    let mut status = Status::Ok;
    let total = plan.warmup + plan.runs;
    for i in 0..total {
        let warmup = i < plan.warmup;
        let number = if warmup { i + 1 } else { i - plan.warmup + 1 };
        let label = if warmup {
            format!("warm-up {number}/{}", plan.warmup)
        } else {
            format!("run {number}/{}", plan.runs)
        };
        events.event(&Event::RunStarted { label: &label });
        let run = ctx.one_run(warmup, number, events)?;
        events.event(&Event::RunFinished {
            label: &label,
            status: run.status,
        });
        warnings.extend(run.warnings.iter().map(|w| w.clone().prefixed(&label)));
        if !warmup && run.status != Status::Interrupted {
            run_receipts
                .json(&opts.output.join(format!("run_{number}.json")), &run)
                .map_err(|e| receipt_error(&e, &opts.output))?;
        }
        match run.status {
            Status::Ok => {}
            Status::Interrupted => {
                status = Status::Interrupted;
                break;
            }
            _ => {
                status = Status::Failed;
                if !warmup {
                    completed.push(run);
                }
                if warmup || !suite.keep_going {
                    if i + 1 < total {
                        warnings.push(Warning::new(Code::StoppedEarly, format!(
                            "stopped after the failure in {label}; set `keep_going = true` in [suite] to run the remaining runs"
                        )));
                    }
                    break;
                }
                continue;
            }
        }
        if !warmup {
            completed.push(run);
        }
    }

    // The pool of reusable step cgroups is not needed past the last run.
    crate::measure::cgroup::cleanup();
    let method = ctx.method.take().unwrap_or(exec::Method {
        name: "none".into(),
        note: Some("no step ran".into()),
    });
    drop(ctx);
    let sampler_info = sampler.map(|s| {
        let backend = s.backend().to_owned();
        let cost = s.stop();
        SamplerInfo {
            backend,
            interval_ms: cost.interval.as_secs_f64() * 1e3,
            ticks: cost.ticks,
            cpu_ms: cost.cpu.as_secs_f64() * 1e3,
            cpu_pct_of_core: cost.pct_of_core(),
        }
    });
    let monitor_info = monitor.map(|m| {
        let cost = m.stop();
        SamplerInfo {
            backend: "docker-api".into(),
            interval_ms: cost.interval.as_secs_f64() * 1e3,
            ticks: cost.ticks,
            cpu_ms: cost.cpu.as_secs_f64() * 1e3,
            cpu_pct_of_core: cost.pct_of_core(),
        }
    });
    run_receipts
        .finish()
        .map_err(|e| receipt_error(&e, &opts.output))?;
    let env_allow: Vec<&str> = DEFAULT_ENV_ALLOW
        .iter()
        .copied()
        .chain(suite.env_allow.iter().map(String::as_str))
        .collect();
    Ok(Runs {
        completed,
        status,
        warnings,
        method,
        platform,
        host_before,
        host_after: host::read(),
        sampler: sampler_info,
        docker: docker_info,
        docker_monitor: monitor_info,
        env: allowed_env(
            &env_allow,
            |k| std::env::var(k).ok(),
            &suite.env,
            &plan.steps,
        ),
        image: std::env::var("BENCHMARK_IMAGE")
            .ok()
            .filter(|s| !s.is_empty()),
        started_at,
        finished_at: SystemTime::now(),
    })
}

/// A receipt that could not be written, with its cause (ENOSPC, EFBIG, EACCES…) and what
/// to do about it.
pub(crate) fn receipt_error(e: &anyhow::Error, out: &Path) -> Error {
    Error::Other(anyhow::anyhow!(
        "{}; free space in {} (or lift the limit that stops the write), or choose another directory with --output",
        crate::error::chain(e.as_ref()),
        out.display()
    ))
}

/// The container monitor of `[monitor] docker = "auto"`: used when the daemon answers,
/// one warning when it does not (`on` is a pre-flight requirement instead). Never waits
/// past a cancellation: the run then stops as interrupted.
fn auto_monitor(
    interval: Duration,
    cancel: &Cancel,
    warnings: &mut Vec<Warning>,
) -> Option<Monitor> {
    match Monitor::start_until(&docker::default_host(), interval, &|| cancel.is_cancelled()) {
        Ok(m) => Some(m),
        Err(_) if cancel.is_cancelled() => None,
        Err(e) => {
            warnings.push(Warning::new(Code::DockerMonitorOff, format!(
                "container monitoring is off ([monitor] docker = \"auto\"): {}; set docker = \"off\" to silence this",
                crate::error::chain(&e)
            )));
            None
        }
    }
}

fn tempfile_dir() -> Result<TempDir> {
    // Those of harnesses killed before they could remove theirs (`kill -9`).
    crate::measure::stale::sweep_fifo_dirs(&std::env::temp_dir());
    let base = std::env::temp_dir().join(format!(
        "benchmark-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    ));
    fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let lock = crate::measure::stale::lock(&base);
    Ok(TempDir {
        path: base,
        _lock: lock,
    })
}

/// A private directory removed on drop (control FIFOs live here, not in the output
/// directory, which may be a volume where FIFOs cannot be made). Locked while it lives,
/// so that another harness's sweep leaves it alone.
#[derive(Debug)]
struct TempDir {
    path: PathBuf,
    _lock: Option<fs::File>,
}

impl TempDir {
    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// The allow-listed variables as the steps saw them: from the process environment,
/// overridden by the suite's `env`, overridden by a step's `env`. One value for all the
/// steps that saw one is recorded as `NAME`; where steps saw different values, `NAME` is
/// the suite-wide value and each step that saw another one adds `NAME@STEP`.
fn allowed_env(
    allow: &[&str],
    process: impl Fn(&str) -> Option<String>,
    suite_env: &BTreeMap<String, String>,
    steps: &[Step],
) -> BTreeMap<String, String> {
    let mut recorded = BTreeMap::new();
    for &name in allow {
        let wide = suite_env.get(name).cloned().or_else(|| process(name));
        let seen: Vec<(&str, &String)> = steps
            .iter()
            .filter_map(|s| Some((s.id.as_str(), s.env.get(name).or(wide.as_ref())?)))
            .collect();
        let first = seen.first().map(|(_, v)| *v).or(wide.as_ref());
        let Some(first) = first else { continue };
        if seen.iter().all(|(_, v)| *v == first) {
            recorded.insert(name.to_owned(), first.clone());
            continue;
        }
        if let Some(w) = &wide {
            recorded.insert(name.to_owned(), w.clone());
        }
        for (id, v) in seen {
            if Some(v) != wide.as_ref() {
                recorded.insert(format!("{name}@{id}"), v.clone());
            }
        }
    }
    recorded
}

struct Ctx<'a> {
    plan: &'a Plan,
    opts: &'a RunOptions,
    cancel: &'a Cancel,
    executor: &'a mut dyn Executor,
    sampler: Option<&'a Sampler>,
    monitor: Option<&'a Monitor>,
    fifo_dir: PathBuf,
    /// `$BENCHMARK_CONTROL`, made once in `fifo_dir` and shared by every step.
    control: Option<Arc<ControlFifo>>,
    /// `OUT/logs`, made and resolved with the first run.
    logs: Option<PathBuf>,
    /// The last run's directory when nothing was written into it, for the next run.
    spare_run_dir: Option<PathBuf>,
    method: Option<exec::Method>,
    /// The `benchmark.run` label of this invocation's probe containers.
    probe_label: String,
    /// The shell, found on PATH once rather than searched for by every step's child.
    shell: OsString,
}

impl Ctx<'_> {
    fn one_run(
        &mut self,
        warmup: bool,
        number: u32,
        events: &mut dyn Reporter,
    ) -> Result<RunReceipt> {
        let plan = self.plan;
        let dir_name = if warmup {
            format!("warmup_{number}")
        } else {
            format!("run_{number}")
        };
        let run_dir = self.run_dir(&dir_name)?;
        let deadline = plan.suite.run_timeout.map(|t| Instant::now() + t);
        let token = format!("{}-{dir_name}", self.probe_label);
        let run_env = RunEnv {
            run_dir: run_dir.clone(),
            number: if warmup { 0 } else { number },
            warmup,
            // Sub-steps take ids that none of the plan's steps has.
            ids: std::iter::once(token.as_str())
                .chain(plan.steps.iter().map(|s| s.id.as_str()))
                .collect::<Vec<_>>()
                .join(" "),
            token,
        };
        let started_at = SystemTime::now();
        let mut steps = Vec::new();
        let mut warnings = Vec::new();
        let mut leftovers: Vec<Leftovers> = Vec::new();
        let mut status = Status::Ok;
        let mut substeps_offset = 0u64;

        for hook in &plan.suite.setup {
            if let Err(w) = self.hook(hook, &run_env, self.cancel, deadline, &mut leftovers) {
                warnings.push(Warning::new(Code::Hook, w));
                status = if self.cancel.is_cancelled() {
                    Status::Interrupted
                } else {
                    Status::Failed
                };
                break;
            }
        }
        if status == Status::Ok {
            for step in step_order(plan, warmup, number) {
                if self.cancel.is_cancelled() {
                    status = Status::Interrupted;
                    break;
                }
                events.event(&Event::StepStarted {
                    id: &step.id,
                    name: &step.name,
                });
                let StepRun {
                    record,
                    tail,
                    leftovers: mut left,
                    errors,
                } = self.step(step, &run_env, &dir_name, deadline)?;
                warnings.extend(errors.into_iter().map(|(code, e)| {
                    Warning::step(code, &step.id, format!("step `{}`: {e}", step.id))
                }));
                if let Some(n) = record.leftover_processes.filter(|n| *n > 0) {
                    warnings.push(Warning::step(Code::LeftoverProcesses, &step.id, format!(
                        "step `{}` left {n} process(es) running; they are stopped after the run's teardown",
                        step.id
                    )));
                }
                leftovers.extend(left.take());
                events.event(&Event::StepFinished {
                    record: &record,
                    tail: &tail,
                });
                let step_status = record.status;
                steps.push(record);
                // Steps recorded from inside this one with `benchmark step`.
                let (mut subs, sub_warnings) =
                    read_substeps(&run_dir.join(SUBSTEPS_FILE), &mut substeps_offset);
                // In the order they started (a nested one ends before its parent).
                if subs.len() > 1 {
                    let ids = substep::read_ids(&run_dir, &run_env.token);
                    subs.sort_by_key(|s| ids.iter().position(|i| *i == s.id).unwrap_or(usize::MAX));
                }
                warnings.extend(sub_warnings);
                for s in subs {
                    events.event(&Event::StepFinished {
                        record: &s,
                        tail: &[],
                    });
                    steps.push(s);
                }
                match step_status {
                    Status::Ok => {}
                    Status::Interrupted => {
                        status = Status::Interrupted;
                        break;
                    }
                    _ if step.allow_failure => warnings.push(Warning::step(
                        Code::AllowedFailure,
                        &step.id,
                        format!("step `{}` failed (allowed by `allow_failure`)", step.id),
                    )),
                    s => {
                        status = s;
                        break;
                    }
                }
            }
        }
        // Load scenarios, after the steps, while the run is still well.
        let mut loads = Vec::new();
        if status == Status::Ok {
            for l in &plan.loads {
                if self.cancel.is_cancelled() {
                    status = Status::Interrupted;
                    break;
                }
                let run = self.load(l, &run_env, deadline, events);
                warnings.extend(run.warnings);
                loads.push(run.record);
                if run.status != Status::Ok {
                    status = run.status;
                    break;
                }
            }
        }
        // Teardown runs after failures and interruptions too, under the token's hard
        // stage: a second Ctrl-C is the only way to skip it. Whatever the run started is
        // killed all the same, then without a grace period.
        let teardown_cancel = self.cancel.hard();
        for hook in &plan.suite.teardown {
            if teardown_cancel.is_cancelled() {
                warnings.push(Warning::new(
                    Code::Hook,
                    format!("{} skipped: interrupted a second time", hook.name),
                ));
                continue;
            }
            if let Err(w) = self.hook(hook, &run_env, &teardown_cancel, None, &mut leftovers) {
                warnings.push(Warning::new(Code::Hook, w));
                if status == Status::Ok {
                    status = Status::Failed;
                }
            }
        }
        for l in leftovers {
            if teardown_cancel.is_cancelled() {
                l.kill_now();
            } else {
                l.kill();
            }
        }
        // Probe containers are removed by the probe itself; this sweep catches any that a
        // crash of the daemon connection left behind.
        if plan
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::Container { .. }))
            && let Err(e) = self.sweep_probes()
        {
            warnings.push(Warning::new(
                Code::DockerCleanup,
                format!(
                    "could not sweep probe containers: {}",
                    crate::error::chain(&e)
                ),
            ));
        }
        if status == Status::TimedOut {
            status = Status::Failed;
        }
        // Nothing landed in it: the next run takes it over under its own name.
        if fs::read_dir(&run_env.run_dir).is_ok_and(|mut d| d.next().is_none()) {
            self.spare_run_dir = Some(run_env.run_dir);
        }
        Ok(RunReceipt {
            schema_version: receipt::SCHEMA_VERSION,
            suite: plan.suite.name.clone(),
            run: number,
            mode: plan.mode.clone(),
            started_at: iso(started_at),
            finished_at: iso(SystemTime::now()),
            status,
            steps,
            load: loads,
            warnings,
        })
    }

    fn spec(
        &self,
        run: &str,
        env: &BTreeMap<String, String>,
        timeout: Option<Duration>,
    ) -> ExecSpec {
        let suite = &self.plan.suite;
        let mut args: Vec<OsString> = suite.shell[1..].iter().map(Into::into).collect();
        args.push(run.into());
        ExecSpec {
            program: self.shell.clone(),
            args,
            env: suite
                .env
                .iter()
                .chain(env)
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            env_remove: vec![],
            cwd: Some(suite.working_dir.clone()),
            timeout,
            isolate: true,
            control: None,
            capture: true,
            kill_grace: suite.kill_grace,
        }
    }

    fn step(
        &mut self,
        step: &Step,
        run_env: &RunEnv,
        dir_name: &str,
        deadline: Option<Instant>,
    ) -> Result<StepRun> {
        let containers = self.monitor.map(|m| m.begin());
        let mut run = match &step.kind {
            StepKind::Shell { run } => self.shell_step(step, run, run_env, dir_name, deadline)?,
            StepKind::Container {
                image,
                cmd,
                network,
            } => self.probe_step(step, image, cmd, network.as_deref(), deadline),
        };
        if let (Some(m), Some(w)) = (self.monitor, containers) {
            run.record.containers = Some(m.end(w));
        }
        Ok(run)
    }

    /// A container lifecycle probe: the phases are the record's phases, their sum its
    /// wall time; CPU and RSS are not ours to account (null).
    /// Remove the probe containers of this invocation that are still there; once
    /// interrupted, a stalled daemon holds the exit up by at most a few seconds.
    fn sweep_probes(&self) -> Result<usize, DockerError> {
        let limit = if self.cancel.is_cancelled() {
            docker::probe::CANCELLED_CLEANUP
        } else {
            docker::probe::CLEANUP_TIMEOUT
        };
        docker::probe::remove_labelled_within(&docker::default_host(), &self.probe_label, limit)
    }

    fn probe_step(
        &mut self,
        step: &Step,
        image: &str,
        cmd: &[String],
        network: Option<&str>,
        deadline: Option<Instant>,
    ) -> StepRun {
        let spec = ProbeSpec {
            image: image.to_owned(),
            cmd: cmd.to_vec(),
            timeout: min_timeout(step.timeout, deadline).unwrap_or(PROBE_TIMEOUT),
            network: network.map(str::to_owned),
            label_run: self.probe_label.clone(),
        };
        let window = self.sampler.map(|s| s.begin());
        let started_at = SystemTime::now();
        let started = Instant::now();
        let cancel = self.cancel.clone();
        let result = docker::probe::lifecycle(&spec, &move || cancel.is_cancelled());
        let elapsed = started.elapsed();
        let resources = match (self.sampler, window) {
            (Some(s), Some(w)) => s.end(w),
            _ => Default::default(),
        };
        let (status, exit_code, wall, phases, error) = match result {
            Ok(r) => {
                let code = i32::try_from(r.exit_code).unwrap_or(i32::MAX);
                let status = if step.expect_exit.contains(&code) {
                    Status::Ok
                } else {
                    Status::Failed
                };
                let mut offset = Duration::ZERO;
                let phases = r
                    .phases
                    .iter()
                    .map(|(name, d)| {
                        let p = Phase {
                            name: (*name).to_owned(),
                            start_ms: offset.as_secs_f64() * 1e3,
                            duration_ms: d.as_secs_f64() * 1e3,
                        };
                        offset += *d;
                        p
                    })
                    .collect();
                let error =
                    (status != Status::Ok).then(|| format!("the container exited with {code}"));
                (status, code, r.total(), phases, error)
            }
            Err(e) => {
                let status = match e {
                    DockerError::ProbeTimeout { .. } => Status::TimedOut,
                    DockerError::Cancelled => Status::Interrupted,
                    _ => Status::Failed,
                };
                let code = if status == Status::Interrupted {
                    130
                } else {
                    1
                };
                (status, code, elapsed, Vec::new(), Some(e.to_string()))
            }
        };
        let record = StepRecord {
            finished_at: iso(started_at + elapsed),
            wall_ms: wall.as_secs_f64() * 1e3,
            resources,
            phases,
            ..unmeasured(step, status, exit_code, started_at, "docker-api")
        };
        StepRun {
            record: with_tail(record, error.as_slice()),
            tail: error.iter().cloned().collect(),
            leftovers: None,
            errors: error.into_iter().map(|e| (Code::StepFailed, e)).collect(),
        }
    }

    fn shell_step(
        &mut self,
        step: &Step,
        run: &str,
        run_env: &RunEnv,
        dir_name: &str,
        deadline: Option<Instant>,
    ) -> Result<StepRun> {
        let log_rel = format!("logs/{dir_name}/{}.log", step.id);
        let mut sink = StepSink::new(Some(self.opts.output.join(&log_rel)));
        if step
            .import
            .as_ref()
            .is_some_and(|i| i.path.is_none() && i.kind != crate::import::Kind::Criterion)
        {
            sink = sink.keeping_stdout();
        }
        let mut spec = self.spec(run, &step.env, min_timeout(step.timeout, deadline));
        let control = match self.control() {
            Ok(control) => control,
            Err(e) => return Ok(not_started(step, SystemTime::now(), &e)),
        };
        run_env.apply(
            &mut spec,
            self.plan,
            &self.opts.exe,
            &step.id,
            control.path(),
        );
        spec.control = Some(control);
        let window = self.sampler.map(|s| s.begin());
        let started_at = SystemTime::now();
        let outcome = match self.executor.execute(&spec, &mut sink, self.cancel) {
            Ok(outcome) => outcome,
            // A step that cannot start is a failed step of this run, not the end of the
            // invocation: its run's teardown runs and the summary is written.
            Err(e) => return Ok(not_started(step, started_at, &e)),
        };
        let resources = match (self.sampler, window) {
            (Some(s), Some(w)) => s.end(w),
            _ => Default::default(),
        };
        sink.finish(Instant::now());
        let mut status = record::status(&outcome, &step.expect_exit);
        // The step's `import`: the tool's results become its metrics. Output that does not
        // read fails the step: its gates would otherwise quietly go unmeasured.
        let mut imported = Vec::new();
        let mut import_errors = Vec::new();
        let mut tail = sink.heard.tail.clone();
        if let (Some(imp), Status::Ok) = (&step.import, status) {
            match self.import(step, imp, &sink) {
                Ok((metrics, warnings)) => {
                    imported = metrics;
                    import_errors.extend(warnings.into_iter().map(|w| (Code::Import, w)));
                }
                Err(e) => {
                    status = Status::Failed;
                    tail.extend(e.lines().map(str::to_owned));
                    import_errors.push((Code::StepFailed, e));
                }
            }
        }
        let mut rec = record::step_record(
            &step.id, &step.name, None, &outcome, status, &resources, &sink,
        );
        rec.log = sink.has_log().then_some(log_rel);
        rec.metrics.extend(imported);
        if self.method.is_none() {
            self.method = Some(outcome.method.clone());
        }
        let mut errors: Vec<(Code, String)> = sink
            .heard
            .errors
            .iter()
            .cloned()
            .chain(sink.heard.dropped())
            .map(|e| (Code::ControlLine, e))
            .chain(import_errors)
            .collect();
        if status == Status::TimedOut {
            errors.push((
                Code::TimedOut,
                format!(
                    "timed out after {} and was killed with its whole process tree",
                    humantime::format_duration(round_ms(outcome.wall))
                ),
            ));
        }
        Ok(StepRun {
            record: with_tail(rec, &tail),
            tail,
            leftovers: outcome.leftovers,
            errors,
        })
    }

    /// A step's `import`: its metrics and warnings, or why its output did not read.
    fn import(
        &self,
        step: &Step,
        imp: &crate::suite::StepImport,
        sink: &StepSink,
    ) -> Result<(Vec<receipt::Metric>, Vec<String>), String> {
        let kind = imp.kind;
        let dir = &self.plan.suite.working_dir;
        let result = match &imp.path {
            Some(p) => crate::import::read(kind, &dir.join(p)),
            // Where the step's criterion wrote: its `$CRITERION_HOME`, as the step saw it.
            None if kind == crate::import::Kind::Criterion => {
                let home = step
                    .env
                    .get("CRITERION_HOME")
                    .or_else(|| self.plan.suite.env.get("CRITERION_HOME"))
                    .cloned()
                    .or_else(|| std::env::var("CRITERION_HOME").ok())
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "target/criterion".to_owned());
                crate::import::read(kind, &dir.join(home))
            }
            None => {
                let (bytes, dropped) = sink.stdout();
                if dropped > 0 {
                    return Err(format!(
                        "import ({kind}): stdout is larger than {} MiB ({dropped} bytes more); \
                         write the results to a file and give `import.path`",
                        record::MAX_STDOUT_COPY >> 20
                    ));
                }
                crate::import::parse(kind, &String::from_utf8_lossy(bytes), "stdout")
            }
        };
        let imported = result.map_err(|e| format!("import ({kind}): {e}"))?;
        let mut metrics = crate::import::metrics(&imported);
        let mut warnings = imported.warnings;
        if metrics.len() > record::MAX_KEPT {
            warnings.push(format!(
                "import ({kind}): {} values past the first {} were ignored",
                metrics.len() - record::MAX_KEPT,
                record::MAX_KEPT
            ));
            metrics.truncate(record::MAX_KEPT);
        }
        Ok((metrics, warnings))
    }

    /// `OUT/logs/NAME`, the run's `$BENCHMARK_RUN_DIR`: the empty directory of the run
    /// before renamed, else a new one. Making a directory allocates an inode, which on a
    /// file system full of recently deleted ones (ext4 after the last invocation's
    /// receipts were cleared) cost more than the rest of a short run; a rename does not.
    fn run_dir(&mut self, name: &str) -> Result<PathBuf> {
        let logs = match &self.logs {
            Some(logs) => logs.clone(),
            None => {
                let logs = self.opts.output.join("logs");
                fs::create_dir_all(&logs)
                    .with_context(|| format!("creating {}", logs.display()))?;
                let logs = fs::canonicalize(&logs).unwrap_or(logs);
                self.logs = Some(logs.clone());
                logs
            }
        };
        let dir = logs.join(name);
        if let Some(spare) = self.spare_run_dir.take()
            && fs::rename(&spare, &dir).is_ok()
        {
            return Ok(dir);
        }
        match fs::create_dir(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                Err(e).with_context(|| format!("creating {}", dir.display()))
            }
            _ => Ok(dir),
        }
    }

    /// The control FIFO every step of the invocation shares, made with the first step.
    fn control(&mut self) -> Result<Arc<ControlFifo>, exec::ExecError> {
        if let Some(c) = &self.control {
            return Ok(Arc::clone(c));
        }
        let c = Arc::new(ControlFifo::create(&self.fifo_dir.join("control"))?);
        self.control = Some(Arc::clone(&c));
        Ok(c)
    }

    fn hook(
        &mut self,
        hook: &Hook,
        run_env: &RunEnv,
        cancel: &Cancel,
        deadline: Option<Instant>,
        leftovers: &mut Vec<Leftovers>,
    ) -> Result<(), String> {
        let mut spec = self.spec(&hook.run, &hook.env, min_timeout(hook.timeout, deadline));
        spec.isolate = false;
        run_env.apply(
            &mut spec,
            self.plan,
            &self.opts.exe,
            &hook.name,
            Path::new(""),
        );
        let mut sink = StepSink::new(None);
        let out = self
            .executor
            .execute(&spec, &mut sink, cancel)
            .map_err(|e| format!("{}: {}", hook.name, crate::error::chain(&e)))?;
        leftovers.extend(out.leftovers);
        if out.interrupted {
            return Err(format!("{} was interrupted", hook.name));
        }
        if out.timed_out {
            return Err(format!("{} (`{}`) timed out", hook.name, hook.run));
        }
        match out.termination.code() {
            0 => Ok(()),
            c => Err(format!(
                "{} (`{}`) exited with {c}{}",
                hook.name,
                hook.run,
                last_lines(&sink)
            )),
        }
    }
}

/// The record of a step the harness did not measure as a process (a container probe, a
/// step that never started): its outcome at `at`, no duration, no resources.
fn unmeasured(
    step: &Step,
    status: Status,
    exit_code: i32,
    at: SystemTime,
    measurement: &str,
) -> StepRecord {
    StepRecord {
        id: step.id.clone(),
        name: step.name.clone(),
        parent: None,
        status,
        exit_code,
        signal: None,
        started_at: iso(at),
        finished_at: iso(at),
        wall_ms: 0.0,
        cpu_user_ms: None,
        cpu_sys_ms: None,
        peak_rss_bytes: None,
        cgroup: None,
        measurement: measurement.into(),
        resources: Default::default(),
        containers: None,
        metrics: Vec::new(),
        phases: Vec::new(),
        leftover_processes: None,
        log: None,
        output_tail: None,
        harness: None,
    }
}

/// A record with the step's last lines of output, kept only when it did not succeed.
fn with_tail(mut record: StepRecord, tail: &[String]) -> StepRecord {
    if record.status != Status::Ok && !tail.is_empty() {
        record.output_tail = Some(tail.to_vec());
    }
    record
}

/// The record of a step that never started (missing shell or working directory, a
/// control FIFO that cannot be made, …): failed with a shell-style exit code (127 not
/// found, 126 not executable, else 1), or interrupted when the run was cancelled first.
fn not_started(step: &Step, at: SystemTime, e: &exec::ExecError) -> StepRun {
    let (status, exit_code) = match e {
        exec::ExecError::Cancelled { .. } => (Status::Interrupted, 130),
        exec::ExecError::Spawn { source, .. } => match source.kind() {
            std::io::ErrorKind::NotFound => (Status::Failed, 127),
            std::io::ErrorKind::PermissionDenied => (Status::Failed, 126),
            _ => (Status::Failed, 1),
        },
        exec::ExecError::Io { .. } => (Status::Failed, 1),
    };
    let cause = format!("did not start: {}", crate::error::chain(e));
    let record = with_tail(
        unmeasured(step, status, exit_code, at, "none"),
        std::slice::from_ref(&cause),
    );
    StepRun {
        record,
        tail: vec![cause.clone()],
        leftovers: None,
        errors: (status != Status::Interrupted)
            .then_some((Code::StepFailed, cause))
            .into_iter()
            .collect(),
    }
}

fn last_lines(sink: &StepSink) -> String {
    let n = sink.heard.tail.len().min(5);
    if n == 0 {
        return String::new();
    }
    let lines: Vec<_> = sink
        .heard
        .tail
        .iter()
        .skip(sink.heard.tail.len() - n)
        .cloned()
        .collect();
    format!(": {}", lines.join(" | "))
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn min_timeout(t: Option<Duration>, deadline: Option<Instant>) -> Option<Duration> {
    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    match (t, left) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What one step's execution produced besides its record.
struct StepRun {
    record: StepRecord,
    /// Last lines of output, shown when the step failed.
    tail: Vec<String>,
    leftovers: Option<Leftovers>,
    /// Warnings (malformed control lines, the timeout, a failure to start).
    errors: Vec<(Code, String)>,
}

struct RunEnv {
    run_dir: PathBuf,
    number: u32,
    warmup: bool,
    /// Unique to this run of this invocation: heads the run's sub-step id file.
    token: String,
    /// `$BENCHMARK_RUN_IDS`: the token and the plan's step ids.
    ids: String,
}

impl RunEnv {
    fn apply(&self, spec: &mut ExecSpec, plan: &Plan, exe: &Path, step: &str, control: &Path) {
        let vars: [(&str, OsString); 8] = [
            ("BENCHMARK_RUN_DIR", self.run_dir.clone().into()),
            ("BENCHMARK_RUN_NUMBER", self.number.to_string().into()),
            (
                "BENCHMARK_WARMUP",
                if self.warmup { "1" } else { "0" }.into(),
            ),
            (
                "BENCHMARK_MODE",
                plan.mode.clone().unwrap_or_default().into(),
            ),
            ("BENCHMARK_STEP", step.into()),
            ("BENCHMARK_CONTROL", control.into()),
            ("BENCHMARK_EXE", exe.into()),
            (substep::RUN_IDS_VAR, self.ids.as_str().into()),
        ];
        spec.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v)));
    }
}

/// The steps of one run: in the plan's order, or shuffled from the plan's seed (a fixed
/// order per run, so the same seed reproduces it).
fn step_order(plan: &Plan, warmup: bool, number: u32) -> Vec<&Step> {
    let mut steps: Vec<&Step> = plan.steps.iter().collect();
    if let Some(seed) = plan.shuffle_seed {
        let run = u64::from(number) + if warmup { 1 << 32 } else { 0 };
        fastrand::Rng::with_seed(seed ^ run.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .shuffle(&mut steps);
    }
    steps
}

/// New `benchmark step` records appended since `offset`.
fn read_substeps(path: &Path, offset: &mut u64) -> (Vec<StepRecord>, Vec<Warning>) {
    let Ok(mut f) = OpenOptions::new().read(true).open(path) else {
        return (vec![], vec![]);
    };
    if f.seek(SeekFrom::Start(*offset)).is_err() {
        return (vec![], vec![]);
    }
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut reader = BufReader::new(f);
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if !line.ends_with('\n') {
            break; // a writer is mid-line; read it next time
        }
        *offset += line.len() as u64;
        match serde_json::from_str::<StepRecord>(&line) {
            Ok(r) => records.push(r),
            Err(e) => warnings.push(Warning::new(
                Code::SubstepRecord,
                format!("ignored a malformed `benchmark step` record: {e}"),
            )),
        }
        line.clear();
    }
    (records, warnings)
}
