//! The pipeline end to end on a deterministic executor: no process is started, every
//! wall time and every line of output is scripted, so summary, receipts, warnings and
//! exit codes can be checked exactly.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use super::{Executor, RunOptions};
use crate::error::ExitKind;
use crate::event::Recorded;
use crate::measure::cancel::Cancel;
use crate::measure::exec::{
    ExecError, ExecOutcome, ExecSpec, HarnessCost, Method, OutputSink, Stream,
};
use crate::measure::{Rusage, Termination};
use crate::pipeline;
use crate::receipt::{self, RunReceipt, Status, WarningCode};

/// One scripted execution: its wall time, exit code and stdout.
#[derive(Debug, Clone)]
pub(crate) struct Take {
    pub wall_ms: f64,
    pub exit: i32,
    pub stdout: String,
}

pub(crate) fn ok(wall_ms: f64) -> Take {
    Take {
        wall_ms,
        exit: 0,
        stdout: String::new(),
    }
}

/// Answers each execution of a step (known by `$BENCHMARK_STEP`) with the next of its
/// scripted takes; hooks and unscripted steps succeed in no time.
#[derive(Debug, Default)]
pub(crate) struct Scripted {
    pub takes: BTreeMap<String, VecDeque<Take>>,
    pub calls: Vec<String>,
}

impl Scripted {
    pub fn step(mut self, id: &str, takes: impl IntoIterator<Item = Take>) -> Self {
        self.takes
            .insert(id.to_owned(), takes.into_iter().collect());
        self
    }
}

impl Executor for Scripted {
    fn execute(
        &mut self,
        spec: &ExecSpec,
        sink: &mut dyn OutputSink,
        _cancel: &Cancel,
    ) -> Result<ExecOutcome, ExecError> {
        let step = spec
            .env
            .iter()
            .find(|(k, _)| k.as_os_str() == OsStr::new("BENCHMARK_STEP"))
            .map(|(_, v)| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.calls.push(step.clone());
        let take = self
            .takes
            .get_mut(&step)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| ok(0.0));
        let started = Instant::now();
        let wall = Duration::from_secs_f64(take.wall_ms / 1e3);
        sink.chunk(Stream::Stdout, take.stdout.as_bytes(), started);
        let started_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Ok(ExecOutcome {
            started_at,
            finished_at: started_at + wall,
            started,
            wall,
            termination: Termination::Exited(take.exit),
            timed_out: false,
            interrupted: false,
            rusage: Rusage {
                user: wall / 2,
                sys: Duration::ZERO,
                max_rss_bytes: 1 << 20,
            },
            cgroup: None,
            method: Method {
                name: "scripted".into(),
                note: None,
            },
            leftovers: None,
            harness: HarnessCost::default(),
        })
    }
}

pub(crate) fn plan(suite: &str) -> crate::suite::Plan {
    crate::suite::parse(suite, None, Path::new("/"))
        .unwrap()
        .plan(&Default::default())
        .unwrap()
}

pub(crate) fn run(suite: &str, exec: &mut Scripted, out: &Path) -> (pipeline::Outcome, Recorded) {
    let mut events = Recorded::default();
    let opts = RunOptions {
        output: out.to_owned(),
        keep_logs: false,
        exe: "/nonexistent/benchmark".into(),
        reproduce: "benchmark run".into(),
        enforce_gates: true,
    };
    let outcome = pipeline::run(&plan(suite), &opts, &Cancel::new(), exec, &mut events).unwrap();
    (outcome, events)
}

const TWO_STEPS: &str = r#"
[suite]
name = "scripted"
runs = 3
warmup = 1
[monitor]
enabled = false
docker = "off"
[[step]]
id = "a"
run = "a"
[[step]]
id = "b"
run = "b"
"#;

#[test]
fn scripted_walls_become_the_summary_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut exec = Scripted::default()
        .step("a", [ok(99.0), ok(10.0), ok(30.0), ok(20.0)])
        .step("b", [ok(1.0), ok(2.0), ok(2.0), ok(2.0)]);
    let (outcome, events) = run(TWO_STEPS, &mut exec, dir.path());
    assert_eq!(outcome.exit, ExitKind::Ok);
    let a = outcome.summary.steps[0].wall_ms.as_ref().unwrap();
    // The warm-up's 99 ms is not a sample; the samples are in run order.
    assert_eq!(a.samples, [10.0, 30.0, 20.0]);
    assert_eq!((a.median, a.min, a.max, a.n), (20.0, 10.0, 30.0, 3));
    assert_eq!(
        outcome.summary.steps[1].wall_ms.as_ref().unwrap().cv,
        Some(0.0)
    );
    assert_eq!(exec.calls, ["a", "b"].repeat(4));
    assert_eq!(events.0[0], "run-started warm-up 1/1");
    assert_eq!(events.0.last().unwrap(), "run-finished run 3/3 Ok");
    // The stored receipt loads back equal to what was returned.
    let stored = receipt::read::summary(dir.path()).unwrap();
    assert_eq!(stored, outcome.summary);
    assert_eq!(stored.schema_version, receipt::SCHEMA_VERSION);
    // Step `a` varies by 50%: one typed warning that names it.
    let w: Vec<_> = stored
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::HighVariance)
        .collect();
    assert_eq!(w.len(), 1, "{:?}", stored.warnings);
    assert_eq!(w[0].step.as_deref(), Some("a"));
}

#[test]
fn a_failing_step_keeps_its_output_tail_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let failing = Take {
        wall_ms: 5.0,
        exit: 7,
        stdout: "compiling\nerror: it broke\n".into(),
    };
    let mut exec = Scripted::default().step("a", [ok(1.0), ok(1.0), failing]);
    let (outcome, _) = run(TWO_STEPS, &mut exec, dir.path());
    assert_eq!(outcome.exit, ExitKind::StepFailed);
    assert_eq!(outcome.summary.status, Status::Failed);
    assert_eq!(outcome.summary.runs, 2);
    let run2: RunReceipt = receipt::read::run(&dir.path().join("run_2.json")).unwrap();
    let a = &run2.steps[0];
    assert_eq!((a.status, a.exit_code), (Status::Failed, 7));
    assert_eq!(
        a.output_tail.as_deref(),
        Some(&["compiling".to_owned(), "error: it broke".to_owned()][..])
    );
    // A step that succeeded carries no tail; b never ran in the failed run.
    let run1 = receipt::read::run(&dir.path().join("run_1.json")).unwrap();
    assert!(run1.steps.iter().all(|s| s.output_tail.is_none()));
    assert_eq!(run2.steps.len(), 1);
    assert!(
        outcome
            .summary
            .warnings
            .iter()
            .any(|w| w.code == WarningCode::StoppedEarly),
        "{:?}",
        outcome.summary.warnings
    );
}

#[test]
fn a_malformed_control_line_is_a_typed_warning_of_its_step() {
    let dir = tempfile::tempdir().unwrap();
    let noisy = |v: f64| Take {
        wall_ms: 1.0,
        exit: 0,
        stdout: format!("::bench:: metric speed {v} MiB/s\n::bench:: nonsense\n"),
    };
    let mut exec = Scripted::default().step("b", [noisy(1.0), noisy(2.0), noisy(3.0), noisy(4.0)]);
    let (outcome, _) = run(TWO_STEPS, &mut exec, dir.path());
    let control: Vec<_> = outcome
        .summary
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::ControlLine)
        .collect();
    // One per run, warm-up included, each prefixed with its run.
    assert_eq!(control.len(), 4, "{:?}", outcome.summary.warnings);
    assert!(control.iter().all(|w| w.step.as_deref() == Some("b")));
    assert!(
        control[1].message.starts_with("run 1/3: step `b`: "),
        "{}",
        control[1].message
    );
    let speed = &outcome.summary.steps[1].metrics["speed"];
    assert_eq!(speed.stats.samples, [2.0, 3.0, 4.0]);
    assert_eq!(speed.unit.as_deref(), Some("MiB/s"));
}

#[test]
fn gates_and_comparisons_end_to_end_on_scripted_walls() {
    let gated = format!(
        "{TWO_STEPS}[[slo]]\nexpr = \"step.a.wall.median <= 15ms\"\n[[slo]]\nexpr = \"step.b.wall.max < 10ms\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let walls = |w: f64| [ok(w), ok(w), ok(w * 1.01), ok(w * 0.99)];
    let mut exec = Scripted::default()
        .step("a", walls(20.0))
        .step("b", walls(2.0));
    let (slow, _) = run(&gated, &mut exec, dir.path());
    use crate::verdict::slo::GateStatus;
    let status: Vec<_> = slow.summary.slos.iter().map(|g| g.status).collect();
    assert_eq!(status, [GateStatus::Fail, GateStatus::Pass]);
    assert_eq!(slow.exit, ExitKind::GateFailed);
    assert_eq!(slow.summary.slos[0].observed, Some(20.0));
    assert_eq!(
        receipt::read::summary(dir.path()).unwrap().slos,
        slow.summary.slos
    );

    let dir = tempfile::tempdir().unwrap();
    let mut exec = Scripted::default()
        .step("a", walls(10.0))
        .step("b", walls(2.0));
    let (fast, _) = run(&gated, &mut exec, dir.path());
    assert_eq!(fast.exit, ExitKind::Ok);

    // The baseline path: 10 ms before, 20 ms after, b unchanged.
    let r = crate::compare::compare(
        &fast.summary,
        &slow.summary,
        ("fast", "slow"),
        &Default::default(),
    );
    let verdict = |step: &str| {
        r.measures
            .iter()
            .find(|m| m.step == step && m.measure == "wall")
            .unwrap()
            .verdict
    };
    use crate::stats::compare::Verdict;
    assert_eq!(verdict("b"), Verdict::Unchanged);
    // Three samples a side: the exact test cannot reach p < 0.05 (0.1 at best), so a
    // doubling is inconclusive, not a regression — more runs are needed.
    assert_eq!(verdict("a"), Verdict::Inconclusive);
}

#[test]
fn allow_listed_variables_are_recorded_as_the_steps_saw_them() {
    let suite = crate::suite::parse(
        r#"
[suite]
env = { WIDE = "suite", BOTH = "suite" }
[[step]]
id = "a"
run = "true"
env = { ONLY_STEP = "a-value", BOTH = "a-value" }
[[step]]
id = "b"
run = "true"
env = { SECRET = "x" }
"#,
        None,
        Path::new("."),
    )
    .unwrap();
    let process = |k: &str| match k {
        "WIDE" | "FROM_PROCESS" => Some("process".to_owned()),
        _ => None,
    };
    let env = super::allowed_env(
        &["WIDE", "FROM_PROCESS", "ONLY_STEP", "BOTH", "UNSET"],
        process,
        &suite.env,
        &suite.steps,
    );
    let expected: BTreeMap<String, String> = [
        // The suite's `env` overrides the process environment.
        ("WIDE", "suite"),
        ("FROM_PROCESS", "process"),
        // Set by one step only: recorded like any other.
        ("ONLY_STEP", "a-value"),
        // Steps saw different values: the suite-wide one, and the step's own.
        ("BOTH", "suite"),
        ("BOTH@a", "a-value"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(env, expected);
}
