//! `benchmark compare` and `run --baseline`, on receipts of real runs.

use crate::helper::bench;

/// `benchmark run -c CMD --name s` into `OUT`, with `runs` measured runs.
fn measure(b: &crate::helper::Bench, out: &str, cmd: &str, runs: &str) {
    b.run_args(&[
        "run", "-c", cmd, "--name", "s", "--runs", runs, "--warmup", "1", "-q", "-o", out,
    ])
    .code(0);
}

fn wall(report: &serde_json::Value) -> &serde_json::Value {
    report["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["step"] == "s" && m["measure"] == "wall")
        .expect("a wall measure of step s")
}

#[test]
fn a_doubled_sleep_regressed_and_the_same_sleep_is_unchanged() {
    let b = bench();
    measure(&b, "a1", "sleep 0.01", "20");
    measure(&b, "b", "sleep 0.02", "20");
    measure(&b, "a2", "sleep 0.01", "20");

    let done = b
        .run_args(&["compare", "a1", "b", "--format", "json"])
        .code(0);
    let report: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    let w = wall(&report);
    assert_eq!(w["verdict"], "regressed", "{w:#}");
    let change = w["change_pct"].as_f64().unwrap();
    assert!(change > 30.0, "{w:#}");
    for k in [
        "unit",
        "base",
        "new",
        "ci95_low_pct",
        "ci95_high_pct",
        "p_mann_whitney",
        "p_welch",
        "q",
    ] {
        assert!(w.get(k).is_some(), "{k}");
    }
    assert!(report["environment_differences"].is_array());

    // The same command twice: within its own noise.
    let done = b
        .run_args(&["compare", "a1", "a2", "--format", "json"])
        .code(0);
    let report: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    let w = wall(&report);
    assert_eq!(w["verdict"], "unchanged", "{w:#}");

    // A regression fails CI only when asked to; the table says which.
    b.run_args(&["compare", "a1", "b", "--fail-on-regression"])
        .code(1)
        .stdout_has("REGRESSED");
    b.run_args(&["compare", "a1", "a2", "--fail-on-regression"])
        .code(0);
    b.run_args(&["compare", "a1/perf.json", "b", "--format", "markdown"])
        .code(0)
        .stdout_has("| step | measure |");
}

#[test]
fn strict_env_refuses_a_doctored_environment() {
    let b = bench();
    measure(&b, "a", "true", "3");
    let perf = b.path("a/perf.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&perf).unwrap()).unwrap();
    v["environment"]["cpu_model"] = "Doctored CPU 9000".into();
    std::fs::write(b.path("doctored.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    b.run_args(&["compare", "a", "doctored.json", "--strict-env"])
        .code(2)
        .stderr_has("environment.cpu_model")
        .stderr_has("drop --strict-env");
    // Without --strict-env the difference is shown, not refused.
    b.run_args(&["compare", "a", "doctored.json"])
        .code(0)
        .stdout_has("warning: environment differs: environment.cpu_model");
}

#[test]
fn run_with_a_baseline_compares_and_can_fail() {
    let b = bench();
    measure(&b, "base", "sleep 0.01", "10");
    let done = b
        .run_args(&[
            "run",
            "-c",
            "sleep 0.03",
            "--name",
            "s",
            "--runs",
            "10",
            "-q",
            "-o",
            "new",
            "--baseline",
            "base",
            "--fail-on-regression",
        ])
        .code(1);
    assert!(done.stdout().contains("REGRESSED"), "{}", done.stdout());
    let cmp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.path("new/comparison.json")).unwrap())
            .unwrap();
    assert_eq!(wall(&cmp)["verdict"], "regressed");
    assert_eq!(cmp["new"], "this run");
    // The receipts of the run are there all the same.
    assert!(b.path("new/perf.json").exists());
}

#[test]
fn unreadable_receipts_are_usage_errors() {
    let b = bench().file("not-json.json", "hello");
    b.run_args(&["compare", "missing.json", "not-json.json"])
        .code(2)
        .stderr_has("BASE: reading missing.json");
    b.run_args(&["run", "-c", "true", "--baseline", "not-json.json"])
        .code(2)
        .stderr_has("--baseline");
}

#[test]
fn calibrate_measures_the_noise_and_compare_uses_it() {
    let b = bench().suite(
        r#"
[suite]
name = "aa"
[monitor]
docker = "off"
[[step]]
id = "s"
run = "sleep 0.01"
"#,
    );
    let done = b
        .run_args(&[
            "calibrate",
            "--rounds",
            "3",
            "--runs",
            "6",
            "--warmup",
            "0",
            "-q",
        ])
        .code(0)
        .stdout_has("noise band");
    assert!(done.stdout().contains("bench-calibration/calibration.json"));
    let c: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(b.path("bench-calibration/calibration.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (c["rounds"].as_u64(), c["runs"].as_u64()),
        (Some(3), Some(6))
    );
    let noise = c["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["step"] == "s" && m["measure"] == "wall")
        .expect("the wall time of s");
    assert_eq!(noise["pairs"], 3);
    assert!(noise["noise_band_pct"].as_f64().unwrap() > 0.0, "{noise:#}");
    // Two of its own rounds, judged with its bands: unchanged.
    let done = b
        .run_args(&[
            "compare",
            "bench-calibration/round_1",
            "bench-calibration/round_2",
            "--calibration",
            "bench-calibration/calibration.json",
            "--format",
            "json",
        ])
        .code(0);
    let r: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    let w = wall(&r);
    assert_eq!(w["noise_source"], "calibration");
    assert_eq!(w["verdict"], "unchanged", "{w:#}");
    b.run_args(&[
        "compare",
        "bench-calibration/round_1",
        "bench-calibration/round_2",
        "--calibration",
        "benchmark.toml",
    ])
    .code(2)
    .stderr_has("not a calibration.json");
}

/// Interleaved invocations pooled per side with `benchmark merge`: every run of every
/// invocation, renumbered, summarised again, the suite's gates judged again on the pool;
/// then compared. Another suite is refused.
#[test]
fn merge_pools_interleaved_invocations_and_compare_reads_the_pools() {
    let suite = |cmd: &str| {
        format!(
            "[suite]\nname = \"pool\"\nruns = 3\nwarmup = 0\n[monitor]\ndocker = \"off\"\n\
             [[step]]\nid = \"s\"\nrun = \"{cmd}\"\n[[slo]]\nexpr = \"step.s.wall.max < 1s\"\n"
        )
    };
    let b = bench()
        .file("base.toml", &suite("sleep 0.01"))
        .file("head.toml", &suite("sleep 0.03"));
    for round in 1..=2 {
        for side in ["base", "head"] {
            b.run_args(&[
                "run",
                &format!("{side}.toml"),
                "-q",
                "-o",
                &format!("{side}-{round}"),
            ])
            .code(0);
        }
    }
    let done = b
        .run_args(&["merge", "base-1", "base-2", "-o", "base", "--json"])
        .code(0);
    let merged: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    assert_eq!(merged["runs"], 6);
    let pooled = &merged["steps"][0]["wall_ms"];
    assert_eq!(pooled["n"], 6);
    assert_eq!(pooled["samples"].as_array().unwrap().len(), 6);
    assert_eq!(
        merged["slos"][0]["status"], "pass",
        "the gate, judged on the pool"
    );
    for n in 1..=6 {
        let run: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(b.path(&format!("base/run_{n}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(run["run"], n);
    }
    b.run_args(&["merge", "head-1", "head-2", "-o", "head"])
        .code(0);
    let report: serde_json::Value = serde_json::from_str(
        &b.run_args(&["compare", "base", "head", "--format", "json"])
            .code(0)
            .stdout(),
    )
    .unwrap();
    let w = wall(&report);
    assert_eq!(w["verdict"], "regressed", "{w:#}");
    assert_eq!(w["new"]["n"], 6);
    // Two suites do not pool.
    b.run_args(&["merge", "base-1", "head-1", "-o", "mixed"])
        .code(2)
        .stderr_has("only runs of one suite file pool");
}
