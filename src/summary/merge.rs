//! Pooling the receipts of several invocations of one suite into one summary
//! (`benchmark merge`): their run receipts renumbered in order and summarised again, as if
//! one invocation had made every run. Interleaved invocations of two builds on one machine
//! (`base, head, base, head, …`) pooled per build compare with the machine's drift between
//! invocations inside each side's spread, instead of between the sides. Pure.

use crate::compare::env::{self, EnvDifference};
use crate::receipt::{RunReceipt, Status, Summary, Warning, WarningCode};

/// One invocation's receipts.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where it was read from, for messages and warnings.
    pub source: String,
    pub summary: Summary,
    /// Its run receipts (`run_N.json`), by run.
    pub runs: Vec<RunReceipt>,
}

/// Why receipts cannot be pooled.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give the receipts or output directories of two or more runs")]
    Nothing,
    #[error(
        "{input} is of suite {suite}, {first}: only runs of one suite file pool; merge each suite's receipts apart"
    )]
    OtherSuite {
        input: String,
        /// `name` (sha256 …) of this one.
        suite: String,
        /// The first input and its suite, as above.
        first: String,
    },
    #[error(
        "{input} has no run receipts (run_N.json) beside its summary: merge pools runs, so keep the output directory as the run left it (an import has none)"
    )]
    NoRuns { input: String },
    #[error(
        "{input} was measured elsewhere than {first}: {}; pool runs of one machine and build, or pass --allow-env-diff to pool them anyway",
        differences.iter().map(|d| format!("{} {} vs {}", d.field, d.base.as_deref().unwrap_or("—"), d.new.as_deref().unwrap_or("—"))).collect::<Vec<_>>().join(", ")
    )]
    Environment {
        input: String,
        first: String,
        differences: Vec<EnvDifference>,
    },
}

/// The pooled summary and its runs, renumbered 1…N in the order given. The environment,
/// options and suite are the first input's; `runs`, the times, the status (the worst) and
/// every step's statistics cover all of them. Warnings that the statistics give are
/// given again; the others are kept, each marked with its source. Gates are not judged
/// here (they need the suite's `[[slo]]`): `slos` is empty.
pub fn merge(
    inputs: Vec<Input>,
    allow_env_diff: bool,
) -> Result<(Summary, Vec<RunReceipt>), MergeError> {
    let Some(first) = inputs.first() else {
        return Err(MergeError::Nothing);
    };
    let suite = |s: &Summary| {
        format!(
            "`{}` (sha256 {})",
            s.suite.name,
            s.suite.sha256.chars().take(12).collect::<String>()
        )
    };
    let mut warnings = Vec::new();
    for input in &inputs {
        let (a, b) = (&first.summary.suite, &input.summary.suite);
        if a.name != b.name || a.sha256 != b.sha256 {
            return Err(MergeError::OtherSuite {
                input: input.source.clone(),
                suite: suite(&input.summary),
                first: format!("{} of {}", first.source, suite(&first.summary)),
            });
        }
        if input.runs.is_empty() {
            return Err(MergeError::NoRuns {
                input: input.source.clone(),
            });
        }
        let differences: Vec<EnvDifference> = env::differences(&first.summary, &input.summary)
            .into_iter()
            .filter(|d| d.flagged)
            .collect();
        if !differences.is_empty() {
            if !allow_env_diff {
                return Err(MergeError::Environment {
                    input: input.source.clone(),
                    first: first.source.clone(),
                    differences,
                });
            }
            warnings.push(Warning::new(
                WarningCode::Other,
                format!(
                    "pooled runs of another environment ({}): {}",
                    input.source,
                    differences
                        .iter()
                        .map(|d| d.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }

    let mut runs = Vec::new();
    for input in &inputs {
        for run in &input.runs {
            runs.push(RunReceipt {
                run: runs.len() as u32 + 1,
                ..run.clone()
            });
        }
        warnings.extend(
            input
                .summary
                .warnings
                .iter()
                .filter(|w| !matches!(w.code, WarningCode::HighVariance | WarningCode::MetricUnit))
                .map(|w| w.clone().prefixed(&input.source)),
        );
    }
    let (mut steps, variance) = super::aggregate::summarize_steps(&runs);
    // In the first receipt's order (the suite's), the rest after it as they came.
    let order = |id: &str| {
        first
            .summary
            .steps
            .iter()
            .position(|s| s.id == id)
            .unwrap_or(usize::MAX)
    };
    steps.sort_by_key(|s| order(&s.id));
    warnings.extend(variance);
    let (mut loads, load_warnings) = super::load::summarize_loads(&runs);
    warnings.extend(load_warnings);
    let load_order = |id: &str| {
        first
            .summary
            .load
            .iter()
            .position(|l| l.id == id)
            .unwrap_or(usize::MAX)
    };
    loads.sort_by_key(|l| load_order(&l.id));

    let summaries = || inputs.iter().map(|i| &i.summary);
    let status = summaries()
        .map(|s| s.status)
        .max_by_key(|s| match s {
            Status::Ok => 0,
            Status::Failed | Status::TimedOut => 1,
            Status::Interrupted => 2,
        })
        .unwrap_or(Status::Ok);
    let mut summary = first.summary.clone();
    summary.started_at = summaries()
        .map(|s| s.started_at.clone())
        .min()
        .unwrap_or_default();
    summary.finished_at = summaries()
        .map(|s| s.finished_at.clone())
        .max()
        .unwrap_or_default();
    summary.status = status;
    summary.runs = runs.len() as u32;
    summary.options.runs = summary.runs;
    summary.warnings = warnings;
    summary.steps = steps;
    summary.load = loads;
    summary.slos = Vec::new();
    Ok((summary, runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(source: &str) -> Input {
        let summary: Summary = crate::receipt::read::parse(include_bytes!(
            "../../tests/fixtures/receipts/report/perf.json"
        ))
        .unwrap();
        let run: RunReceipt = crate::receipt::read::parse(include_bytes!(
            "../../tests/fixtures/receipts/report/run_1.json"
        ))
        .unwrap();
        Input {
            source: source.into(),
            summary,
            runs: vec![run],
        }
    }

    #[test]
    fn runs_pool_in_order_and_every_measure_is_summarised_again() {
        let (a, b) = (input("a"), input("b"));
        let one = a.runs[0].steps[0].wall_ms;
        let (s, runs) = merge(vec![a, b], false).unwrap();
        assert_eq!(runs.iter().map(|r| r.run).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(s.runs, 2);
        assert_eq!(s.options.runs, 2);
        let wall = s.steps[0].wall_ms.as_ref().unwrap();
        assert_eq!(wall.samples, [one, one]);
        assert_eq!(wall.n, 2);
        assert!(s.slos.is_empty(), "gates are judged by the caller");
        assert!(
            s.warnings
                .iter()
                .filter(|w| w.code != WarningCode::HighVariance)
                .all(|w| w.message.starts_with("a: ") || w.message.starts_with("b: ")),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn another_suite_no_runs_or_another_machine_are_refused() {
        let mut other = input("b");
        other.summary.suite.name = "other".into();
        let e = merge(vec![input("a"), other], false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("b is of suite `other`"), "{e}");

        let mut empty = input("b");
        empty.runs.clear();
        let e = merge(vec![input("a"), empty], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("b has no run receipts"), "{e}");

        let mut moved = input("b");
        moved.summary.environment.cpu_model = Some("Another CPU".into());
        let e = merge(vec![input("a"), moved.clone()], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("environment.cpu_model"), "{e}");
        assert!(e.contains("--allow-env-diff"), "{e}");
        let (s, _) = merge(vec![input("a"), moved], true).unwrap();
        assert!(
            s.warnings
                .iter()
                .any(|w| w.message.contains("pooled runs of another environment (b)")),
            "{:?}",
            s.warnings
        );
        assert!(matches!(merge(vec![], false), Err(MergeError::Nothing)));
    }

    #[test]
    fn the_worst_status_and_the_whole_time_span() {
        let (a, mut b) = (input("a"), input("b"));
        b.summary.status = Status::Failed;
        b.summary.started_at = "2000-01-01T00:00:00Z".into();
        let (s, _) = merge(vec![a.clone(), b], false).unwrap();
        assert_eq!(s.status, Status::Failed);
        assert_eq!(s.started_at, "2000-01-01T00:00:00Z");
        assert_eq!(s.finished_at, a.summary.finished_at);
    }
}
