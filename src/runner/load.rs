//! A run's `[[load]]` scenarios, after its steps: each driven by [`crate::load`] with the
//! sampler and the container monitor watching, as a step is.

use std::time::{Instant, SystemTime};

use super::{Ctx, RunEnv};
use crate::event::{Event, Reporter};
use crate::format::iso;
use crate::load::command::CommandOp;
use crate::load::engine::{self, Measured};
use crate::load::http::HttpOp;
use crate::load::{LoadRecord, Progress};
use crate::receipt::{Status, Warning, WarningCode as Code};
use crate::suite::{Load, LoadOp};

/// What one scenario did in a run.
pub(super) struct LoadRun {
    pub record: LoadRecord,
    pub status: Status,
    pub warnings: Vec<Warning>,
}

impl Ctx<'_> {
    pub(super) fn load(
        &mut self,
        load: &Load,
        run_env: &RunEnv,
        deadline: Option<Instant>,
        events: &mut dyn Reporter,
    ) -> LoadRun {
        events.event(&Event::LoadStarted {
            id: &load.id,
            name: &load.name,
        });
        let containers = self.monitor.map(|m| m.begin());
        let window = self.sampler.map(|s| s.begin());
        let children_before = crate::measure::cpu_times(true);
        let self_before = crate::measure::cpu_times(false);
        let started_at = SystemTime::now();
        let cancel = self.cancel;
        let timed_out = std::cell::Cell::new(false);
        let cancelled = || {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                timed_out.set(true);
            }
            timed_out.get() || cancel.is_cancelled()
        };
        let mut progress = |p: &Progress| {
            events.event(&Event::LoadProgress {
                id: &load.id,
                progress: p,
            });
        };
        let measured: std::io::Result<Measured> = match &load.op {
            LoadOp::Command { run, expect_exit } => {
                let mut spec = self.spec(run, &load.env, None);
                // One pipe carries both: lines appended to `$BENCHMARK_CONTROL` are the
                // operation's own stdout.
                run_env.apply(
                    &mut spec,
                    self.plan,
                    &self.opts.exe,
                    &load.id,
                    std::path::Path::new("/dev/stdout"),
                );
                spec.env
                    .push(("BENCHMARK_LOAD".into(), load.id.as_str().into()));
                let op = CommandOp {
                    program: spec.program,
                    args: spec.args,
                    env: spec.env,
                    cwd: spec.cwd,
                    expect_exit: expect_exit.clone(),
                };
                engine::drive(op, &load.drive, &cancelled, &mut progress)
            }
            LoadOp::Http(spec) => match HttpOp::new(spec) {
                Ok(op) => engine::drive(op, &load.drive, &cancelled, &mut progress),
                // Checked when the suite was read; here only if that check changed.
                Err(e) => Err(std::io::Error::other(e)),
            },
        };
        let finished_at = SystemTime::now();
        let resources = match (self.sampler, window) {
            (Some(s), Some(w)) => s.end(w),
            _ => Default::default(),
        };
        let cpu_delta =
            |before: Option<(std::time::Duration, std::time::Duration)>,
             after: Option<(std::time::Duration, std::time::Duration)>| {
                let (b, a) = (before?, after?);
                Some((
                    a.0.saturating_sub(b.0).as_secs_f64() * 1e3,
                    a.1.saturating_sub(b.1).as_secs_f64() * 1e3,
                ))
            };
        let children = cpu_delta(children_before, crate::measure::cpu_times(true));
        let own = cpu_delta(self_before, crate::measure::cpu_times(false));
        let mut warnings = Vec::new();
        let measured = match measured {
            Ok(m) => m,
            Err(e) => {
                warnings.push(Warning::step(
                    Code::StepFailed,
                    &load.id,
                    format!("load `{}` could not start: {e}", load.id),
                ));
                Measured::default()
            }
        };
        let interrupted = measured.interrupted;
        if measured.dropped_phases > 0 {
            warnings.push(Warning::step(
                Code::ControlLine,
                &load.id,
                format!(
                    "load `{}`: {} phase line(s) named more than {} distinct phases; those were not timed",
                    load.id,
                    measured.dropped_phases,
                    crate::load::MAX_PHASES
                ),
            ));
        }
        let mut record = crate::load::record(
            &load.id,
            &load.name,
            load.op.kind(),
            &load.drive,
            iso(started_at),
            iso(finished_at),
            measured,
        );
        record.resources = resources;
        if let LoadOp::Command { .. } = load.op {
            record.cpu_user_ms = children.map(|c| c.0);
            record.cpu_sys_ms = children.map(|c| c.1);
        }
        record.harness_cpu_ms = own.map(|(u, s)| u + s);
        if let (Some(m), Some(w)) = (self.monitor, containers) {
            record.containers = Some(m.end(w));
        }
        if record.failed > 0 {
            let causes: Vec<String> = record
                .failures
                .iter()
                .map(|(c, n)| format!("{c} ×{n}"))
                .collect();
            warnings.push(Warning::step(
                Code::LoadFailures,
                &load.id,
                format!(
                    "load `{}`: {} of {} operations failed ({}){}",
                    load.id,
                    record.failed,
                    record.ops,
                    causes.join(", "),
                    record
                        .failure_samples
                        .first()
                        .map(|s| format!("; first: {s}"))
                        .unwrap_or_default()
                ),
            ));
        }
        // Not one operation succeeded: nothing was measured, as when a step fails.
        let none_succeeded = record.ops > 0 && record.succeeded == 0 && !interrupted;
        if none_succeeded {
            warnings.push(Warning::step(
                Code::StepFailed,
                &load.id,
                format!(
                    "load `{}` failed: none of its {} operations succeeded; check that what it drives is up (the first failure says why)",
                    load.id, record.ops
                ),
            ));
        }
        let status = if timed_out.get() {
            warnings.push(Warning::step(
                Code::TimedOut,
                &load.id,
                format!(
                    "load `{}` was stopped by the run's timeout ([suite] timeout)",
                    load.id
                ),
            ));
            Status::TimedOut
        } else if interrupted {
            Status::Interrupted
        } else if none_succeeded || warnings.iter().any(|w| w.code == Code::StepFailed) {
            Status::Failed
        } else {
            Status::Ok
        };
        events.event(&Event::LoadFinished { record: &record });
        LoadRun {
            record,
            status,
            warnings,
        }
    }
}
