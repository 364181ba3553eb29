//! `benchmark step NAME -- CMD…`: inside a run and on its own.

use crate::helper::bench;

#[test]
fn outside_a_run_it_prints_the_duration_and_passes_the_exit_code() {
    let b = bench();
    b.run_args(&["step", "nap", "--", "sh", "-c", "sleep 0.1; exit 5"])
        .code(5)
        .stderr_has("step nap: ");
    b.run_args(&["step", "ok", "--", "true"]).code(0);
    b.run_args(&["step", "missing", "--", "no-such-command-xyz"])
        .code(127)
        .stderr_has("no-such-command-xyz");
}

#[test]
fn inside_a_run_it_records_sub_steps_under_the_enclosing_step() {
    let b = bench()
        .file(
            "bootstrap.sh",
            r#"set -e
"$BENCHMARK_EXE" step cluster-create -- sleep 0.1
"$BENCHMARK_EXE" step "install cni" -- sh -c 'sleep 0.05'
"#,
        )
        .suite(
            r#"
[suite]
runs = 2
warmup = 0
[[step]]
id = "bootstrap"
run = "sh bootstrap.sh"
"#,
        );
    let done = b.run().code(0);
    let run = done.run_receipt(1);
    let ids: Vec<_> = run
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.parent.as_deref()))
        .collect();
    assert_eq!(
        ids,
        [
            ("bootstrap", None),
            ("cluster-create", Some("bootstrap")),
            ("install-cni", Some("bootstrap"))
        ]
    );
    assert_eq!(run.steps[2].name, "install cni");
    assert!(run.steps[1].wall_ms >= 100.0);
    let s = done.summary();
    assert_eq!(s.steps.len(), 3);
    assert_eq!(s.steps[1].wall_ms.as_ref().unwrap().n, 2);
    done.stdout_has("bootstrap › cluster-create");
}

#[test]
fn a_zero_or_huge_timeout_is_an_invocation_error() {
    let b = bench();
    b.run_args(&["step", "x", "--timeout", "0s", "--", "true"])
        .code(2)
        .stderr_has("must be between 1ms and 365 days");
    b.run_args(&["step", "x", "--timeout", "292277024626y", "--", "true"])
        .code(2)
        .stderr_has("durations are at most 365 days");
}
