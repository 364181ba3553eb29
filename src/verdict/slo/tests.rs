use proptest::strategy::Strategy;

use super::*;

fn e(text: &str) -> ParseError {
    parse(text).expect_err(text)
}

#[test]
fn valid_expressions_parse() {
    let x = parse("metric.display_mibps.median >= 80 MiB/s").unwrap();
    assert_eq!(
        x.selector,
        Selector::Metric {
            step: None,
            name: "display_mibps".into(),
            stat: Stat::Median
        }
    );
    assert_eq!(x.op, Op::Ge);
    assert_eq!(
        x.threshold,
        Threshold {
            value: 80.0,
            unit: "MiB/s".into()
        }
    );
    let x = parse("  step.build.wall.p95<=7s ").unwrap();
    assert_eq!(
        x.selector,
        Selector::Step {
            step: "build".into(),
            measure: Measure::Wall,
            stat: Stat::P(95.0)
        }
    );
    assert_eq!(x.threshold.unit, "s");
    for ok in [
        "step.a.cpu_user.mean < 1.5s",
        "step.a.peak_rss.max <= 512 MiB",
        "step.a.memory.p99.9 < 2GB",
        "step.a.io_write.median < 10 MB",
        "step.a.phase.schedule.p90 <= 200ms",
        "step.a.metric.ops.min > 5",
        "step.a.wall.cv < 5%",
        "step.a.wall.cv <= 0.05",
        "metric.x.ci95_low > -3",
        "load.create-runs.throughput >= 5/s",
        "load.create-runs.complete.p95 <= 7s",
    ] {
        parse(ok).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
    }
    match parse("step.a.memory.p99.9 < 2GB").unwrap().selector {
        Selector::Step { stat, .. } => assert_eq!(stat, Stat::P(99.9)),
        s => panic!("{s:?}"),
    }
}

#[test]
fn invalid_expressions_say_what_and_where() {
    let cases: [(&str, usize, &str); 14] = [
        ("step.a.wall.p95", 16, "expected a comparison"),
        ("step.a.wall.p95 == 3s", 17, "`==` and `!=` have no meaning"),
        ("<= 3s", 1, "expected a selector"),
        ("steps.a.wall.p95 <= 3s", 1, "did you mean `step`?"),
        ("step.a.wal.p95 <= 3s", 8, "did you mean `wall`?"),
        ("step.a.wall.medain <= 3s", 13, "did you mean `median`?"),
        ("step.a.wall.p101 <= 3s", 13, "unknown statistic `p101`"),
        ("step.a.wall <= 3s", 12, "expected `.` and a statistic"),
        ("step.a.wall.p95 <= 3 MiB", 20, "is not a time"),
        ("step.a.wall.p95 <= 3", 20, "is not a time"),
        ("step.a.peak_rss.max <= 3s", 24, "is not a size"),
        ("step.a b.wall.p95 <= 3s", 7, "no spaces"),
        (
            "step.a.wall.p95 <= fast",
            20,
            "does not start with a number",
        ),
        (
            "step.a.wall.p95.x <= 3s",
            16,
            "unexpected text after the statistic",
        ),
    ];
    for (text, column, msg) in cases {
        let got = e(text);
        assert!(got.message.contains(msg), "{text}: {got:?}");
        assert_eq!(got.column, column, "{text}: {got:?}");
    }
    assert!(
        e("step.a.wall.p95 <= 3s extra")
            .message
            .contains("unexpected text")
    );
    assert!(
        e("step.a.b.c.wall.p95 <= 1s")
            .message
            .contains("unknown measure `b`")
    );
}

/// Pieces of gate expressions, glued in any order: the parser's edge cases (empty parts,
/// doubled dots, huge and signed numbers, non-ASCII, escape characters).
const PIECES: &[&str] = &[
    "step", "metric", "load", ".", "a", "wall", "p95", "p99.9", "<=", ">", "==", " ", "7s",
    "1e400", "-", "é", "\u{1b}", "MiB/s", "%", "cv", "phase", "", "..", "p",
];

proptest::proptest! {
    #![proptest_config(crate::proptest_config::bounded(20_000))]

    /// Any text, made of the pieces or of any characters: an error, never a panic, and
    /// its column is within the text.
    #[test]
    fn arbitrary_text_never_panics(
        text in proptest::prop_oneof![
            3 => proptest::collection::vec(proptest::sample::select(PIECES), 0..9)
                .prop_map(|p| p.concat()),
            1 => proptest::prelude::any::<String>(),
        ]
    ) {
        if let Err(err) = parse(&text) {
            proptest::prop_assert!(
                err.column >= 1 && err.column <= text.chars().count() + 1,
                "{text:?}: {err:?}"
            );
        }
    }
}

fn summary(wall: &[f64], metric: Option<(&str, &[f64])>) -> Summary {
    let mut s: Summary = crate::receipt::read::parse(include_bytes!(
        "../../../tests/fixtures/receipts/summary-v1.json"
    ))
    .unwrap();
    s.steps.truncate(1);
    s.steps[0].id = "a".into();
    s.steps[0].wall_ms = crate::stats::summarize(wall);
    s.steps[0].metrics.clear();
    if let Some((unit, v)) = metric {
        s.steps[0].metrics.insert(
            "speed".into(),
            crate::receipt::MetricSummary::new(
                Some(unit.into()),
                crate::stats::summarize(v).unwrap(),
            ),
        );
    }
    s
}

fn gate(text: &str, confidence: Option<f64>) -> Gate {
    Gate {
        name: "G".into(),
        text: text.into(),
        expr: parse(text).unwrap(),
        confidence,
        severity: Severity::Fail,
    }
}

#[test]
fn gates_pass_fail_and_say_their_margin() {
    let s = summary(
        &[100.0, 110.0, 120.0],
        Some(("MiB/s", &[200.0, 205.0, 210.0])),
    );
    let r = evaluate(&gate("metric.speed.median >= 80 MiB/s", None), &s);
    assert_eq!(r.status, GateStatus::Pass);
    assert_eq!(r.observed, Some(205.0));
    assert!((r.margin_pct.unwrap() - 156.25).abs() < 1e-9);
    assert_eq!(r.line(), "G: 205 MiB/s (SLO 80 MiB/s, +156.2%) pass");
    // Converted: 205 MiB/s is 214.96 MB/s.
    let r = evaluate(&gate("metric.speed.median >= 300 MB/s", None), &s);
    assert_eq!(r.status, GateStatus::Fail);
    assert!((r.observed.unwrap() - 214.958_08).abs() < 1e-3, "{r:?}");
    // Wall: 110 ms median against 0.1 s.
    let r = evaluate(&gate("step.a.wall.median <= 0.1s", None), &s);
    assert_eq!(r.status, GateStatus::Fail);
    assert!((r.observed.unwrap() - 0.11).abs() < 1e-12);
    assert!((r.margin_pct.unwrap() + 10.0).abs() < 1e-9);
    assert!(
        r.line().starts_with("G: 0.11s (SLO 0.1s, -10.0%) FAIL"),
        "{}",
        r.line()
    );
}

#[test]
fn a_gate_is_not_measured_when_its_measure_is_missing_or_its_unit_does_not_fit() {
    let s = summary(&[1.0, 2.0], Some(("Mops/s", &[1.0, 2.0])));
    for (text, note) in [
        ("step.zz.wall.p95 <= 1s", "step `zz` did not run"),
        ("metric.nope.mean > 1", "metric `nope` was not measured"),
        ("step.a.io_read.max < 1 GiB", "was not measured"),
        (
            "metric.speed.mean > 1 MiB",
            "give the threshold in its unit",
        ),
        (
            "load.x.throughput >= 5/s",
            "did not run to its end in any measured run",
        ),
    ] {
        let r = evaluate(&gate(text, None), &s);
        assert_eq!(r.status, GateStatus::NotMeasured, "{text}");
        assert!(r.note.as_deref().unwrap().contains(note), "{text}: {r:?}");
        assert!(r.line().contains("not measured"));
    }
    // The metric's own unknown unit, or none at all, is taken as written.
    let r = evaluate(&gate("metric.speed.mean > 1 Mops/s", None), &s);
    assert_eq!(r.status, GateStatus::Pass);
    let r = evaluate(&gate("metric.speed.mean > 1", None), &s);
    assert_eq!(
        (r.status, r.unit.as_deref()),
        (GateStatus::Pass, Some("Mops/s"))
    );
}

#[test]
fn confidence_decides_on_the_interval() {
    let walls: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i)).collect();
    let s = summary(&walls, None);
    // Mean 109.5 ms: its 95% interval is about [106.7, 112.3].
    let r = evaluate(&gate("step.a.wall.mean <= 110ms", Some(0.95)), &s);
    assert_eq!(r.status, GateStatus::Inconclusive, "{r:?}");
    let r = evaluate(&gate("step.a.wall.mean <= 120ms", Some(0.95)), &s);
    assert_eq!(r.status, GateStatus::Pass, "{r:?}");
    let r = evaluate(&gate("step.a.wall.mean <= 100ms", Some(0.95)), &s);
    assert_eq!(r.status, GateStatus::Fail, "{r:?}");
    // The median's distribution-free interval: order statistics around rank 10.
    let r = evaluate(&gate("step.a.wall.median <= 109ms", Some(0.95)), &s);
    assert_eq!(r.status, GateStatus::Inconclusive, "{r:?}");
    let (lo, hi) = r.interval.unwrap();
    assert!(
        (104.0..=107.0).contains(&lo) && (112.0..=115.0).contains(&hi),
        "{r:?}"
    );
    // Without an interval (max), the value decides.
    let r = evaluate(&gate("step.a.wall.max <= 200ms", Some(0.95)), &s);
    assert_eq!(r.status, GateStatus::Pass);
    assert!(r.note.unwrap().contains("judged on the value"));
}

#[test]
fn arbitrary_percentiles_come_from_the_samples() {
    let s = summary(&[1.0, 2.0, 3.0, 4.0, 5.0], None);
    let r = evaluate(&gate("step.a.wall.p75 <= 4ms", None), &s);
    assert_eq!(r.observed, Some(4.0));
    let r = evaluate(&gate("step.a.wall.cv < 50%", None), &s);
    assert_eq!(r.status, GateStatus::Fail);
    assert!((r.observed.unwrap() - 52.70).abs() < 0.01, "{r:?}");
}

/// A real run's summary with two load scenarios (tests/fixtures/receipts/report-load).
fn loaded() -> Summary {
    crate::receipt::read::parse(include_bytes!(
        "../../../tests/fixtures/receipts/report-load/perf.json"
    ))
    .unwrap()
}

#[test]
fn load_gates_read_the_pooled_distribution_and_the_runs_throughput() {
    let s = loaded();
    let judged = |text: &str| evaluate(&gate(text, None), &s);
    // complete p95 is 32.447 ms over 297 operations; throughput's median 141.9/s.
    let r = judged("load.create-runs.complete.p95 <= 7s");
    assert_eq!(r.status, GateStatus::Pass, "{r:?}");
    assert!((r.observed.unwrap() - 0.032447).abs() < 1e-9, "{r:?}");
    assert_eq!(r.unit.as_deref(), Some("s"));
    let r = judged("load.create-runs.dispatch.p95 <= 20ms");
    assert_eq!(r.status, GateStatus::Fail, "{r:?}");
    assert!((r.observed.unwrap() - 20.047).abs() < 1e-9);
    assert_eq!(
        judged("load.create-runs.complete.count >= 297").status,
        GateStatus::Pass
    );
    assert_eq!(
        judged("load.create-runs.complete.count > 297").status,
        GateStatus::Fail
    );
    let r = judged("load.create-runs.throughput >= 100/s");
    assert_eq!(r.status, GateStatus::Pass, "{r:?}");
    assert!((r.observed.unwrap() - 141.88469281248135).abs() < 1e-9);
    let r = judged("load.create-runs.throughput >= 9000/min");
    assert_eq!(r.status, GateStatus::Fail, "{r:?}");
    assert!((r.observed.unwrap() - 141.88469281248135 * 60.0).abs() < 1e-6);
    // A phase no operation reached names the ones there are.
    let r = judged("load.poll.dispatch.p95 <= 1s");
    assert_eq!(r.status, GateStatus::NotMeasured);
    assert!(
        r.note
            .as_deref()
            .unwrap()
            .contains("(its phases: complete)"),
        "{r:?}"
    );
    // A time threshold on a throughput does not convert.
    let r = judged("load.poll.throughput >= 5s");
    assert_eq!(r.status, GateStatus::NotMeasured, "{r:?}");
}
