//! `[[slo]]` gates on real runs: pass, fail, not measured, inconclusive; exit 1 with the
//! receipts written; `--no-gates`.

use benchmark::verdict::slo::GateStatus;

use crate::helper::bench;

const SUITE: &str = r#"
[suite]
name = "gated"
runs = 5
warmup = 0
[monitor]
docker = "off"
[[step]]
id = "display"
run = "sleep 0.02; echo '::bench:: metric display_mibps 205 MiB/s'"
[[step]]
id = "stairs"
run = "sleep 0.0$BENCHMARK_RUN_NUMBER"
[[slo]]
name = "DISPLAY"
expr = "metric.display_mibps.median >= 80 MiB/s"
[[slo]]
name = "fast"
expr = "step.display.wall.p95 <= 10s"
[[slo]]
name = "absent"
expr = "metric.nothing.median > 1"
[[slo]]
name = "straddles"
expr = "step.stairs.wall.median <= MEDIAN"
confidence = 0.95
"#;

#[test]
fn gates_pass_are_not_measured_and_inconclusive_in_perf_json_and_on_the_console() {
    // `stairs` sleeps 10, 20, … 50 ms in runs 1–5: with 5 runs the median's 95% interval
    // spans from the first to the last, and 30 ms lies inside it however slow the machine.
    let b = bench().suite(&SUITE.replace("MEDIAN", "30ms"));
    let done = b.run().code(0);
    let out = done.stdout();
    assert!(
        out.contains("DISPLAY: 205 MiB/s (SLO 80 MiB/s, +156.2%) pass"),
        "{out}"
    );
    assert!(out.contains("│ Operation"), "{out}");
    let s = done.summary();
    let status: Vec<(&str, GateStatus)> =
        s.slos.iter().map(|g| (g.name.as_str(), g.status)).collect();
    assert_eq!(status[0], ("DISPLAY", GateStatus::Pass));
    assert_eq!(status[1], ("fast", GateStatus::Pass));
    assert_eq!(status[2], ("absent", GateStatus::NotMeasured));
    let straddles = &s.slos[3];
    let (lo, hi) = straddles.interval.unwrap();
    assert!(lo < 30.0 && 30.0 < hi, "{straddles:?}");
    assert_eq!(straddles.status, GateStatus::Inconclusive, "{straddles:?}");
    assert_eq!(
        s.slos[0].margin_pct.map(|m| (m * 10.0).round()),
        Some(1563.0)
    );
}

#[test]
fn a_failed_gate_exits_1_with_receipts_and_no_gates_records_it_only() {
    let suite = SUITE.replace("MEDIAN", "1ms");
    let b = bench().suite(&suite);
    let done = b
        .run()
        .code(1)
        .stdout_has("straddles: ")
        .stdout_has("1 gate(s) failed");
    let s = done.summary();
    assert_eq!(s.slos[3].status, GateStatus::Fail);
    assert!(b.path("bench-out/run_5.json").exists());
    // --no-gates: judged and recorded, exit 0.
    let b = bench().suite(&suite).args(["--no-gates"]);
    let done = b.run().code(0);
    assert_eq!(done.summary().slos[3].status, GateStatus::Fail);
    // A failed gate of severity warn does not fail the run.
    let warn = suite.replace("confidence = 0.95", "severity = \"warn\"");
    bench().suite(&warn).run().code(0).stdout_has("FAIL (warn)");
}

#[test]
fn check_validates_gate_expressions() {
    bench()
        .suite(&SUITE.replace("MEDIAN", "20ms"))
        .run_args(&["check"])
        .code(0);
}
