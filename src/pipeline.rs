//! One invocation of `run`, one way through: the output directory is prepared → the
//! runner measures (emitting events to the reporters) → the summary is assembled (pure)
//! → the gates are judged (pure) → the receipts are written → the exit code is decided
//! (pure). Rendering the result is the caller's.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, ExitKind};
use crate::event::Reporter;
use crate::measure::cancel::Cancel;
use crate::receipt::{self, Status, Summary};
use crate::runner::{self, Executor, RunOptions, output};
use crate::suite::Plan;
use crate::summary::{self, Invocation};

/// The result of a whole invocation.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    pub exit: ExitKind,
    pub summary_path: PathBuf,
}

/// Run a plan end to end and write its receipts.
pub fn run(
    plan: &Plan,
    opts: &RunOptions,
    cancel: &Cancel,
    executor: &mut dyn Executor,
    events: &mut dyn Reporter,
) -> Result<Outcome, Error> {
    let out = output::OutputDir::prepare(
        &opts.output,
        opts.keep_logs,
        output::Written {
            runs: plan.runs,
            warmups: plan.warmup,
            steps: plan.steps.iter().map(|s| s.id.clone()).collect(),
        },
    )?;
    let runs = runner::run(plan, opts, cancel, executor, events)?;
    let started_at = runs.started_at;
    let mut summary = summary::assemble(
        plan,
        &Invocation {
            reproduce: opts.reproduce.clone(),
            keep_logs: opts.keep_logs,
        },
        runs,
    );
    summary.slos = crate::verdict::slo::evaluate_all(&plan.suite.gates, &summary);
    let summary_path = write_summary(out, &opts.output, &summary, started_at)?;
    Ok(Outcome {
        exit: exit_kind(&summary, opts.enforce_gates),
        summary,
        summary_path,
    })
}

/// Write a summary receipt into the prepared output directory `dir`, as
/// `summary_<started_at>.json` and `perf.json` (each atomically), and close the
/// directory's manifest; the summary's path. Used by `run`, `import` and `merge`.
pub fn write_summary(
    out: output::OutputDir,
    dir: &Path,
    summary: &Summary,
    started_at: SystemTime,
) -> Result<PathBuf, Error> {
    // Nanoseconds: two invocations in one second keep both summaries.
    let summary_path = out.summary_path(started_at);
    receipt::write::json_atomic(&summary_path, summary)
        .and_then(|()| receipt::write::json_atomic(&dir.join("perf.json"), summary))
        .map_err(|e| runner::receipt_error(&e, dir))?;
    out.finish();
    Ok(summary_path)
}

/// The published exit code of a summary (DESIGN.md): interrupted 130, a failed step 3,
/// a failed gate of severity `fail` 1 (when gates are enforced), else 0.
pub fn exit_kind(summary: &Summary, enforce_gates: bool) -> ExitKind {
    match summary.status {
        Status::Interrupted => ExitKind::Interrupted,
        Status::Failed | Status::TimedOut => ExitKind::StepFailed,
        Status::Ok if enforce_gates && summary.slos.iter().any(|g| g.fails_the_run()) => {
            ExitKind::GateFailed
        }
        Status::Ok => ExitKind::Ok,
    }
}
