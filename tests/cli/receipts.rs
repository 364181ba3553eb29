//! The published schema and the receipts' contract.

use crate::helper::bench;

#[test]
fn schema_is_published_for_both_receipts() {
    let b = bench();
    for kind in ["summary", "run"] {
        let out = b.run_args(&["schema", kind]).code(0).stdout();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["properties"]["schema_version"].is_object(), "{kind}");
        assert!(jsonschema::validator_for(&v).is_ok());
    }
}

#[test]
fn receipts_carry_the_fixed_names() {
    let b = bench()
        .suite(
            r#"
[suite]
name = "contract"
runs = 2
warmup = 0
env_allow = ["VISIBLE"]
[[step]]
id = "a"
# A process larger than the harness (40 MiB held for 300 ms): a peak of its own.
run = '"$BENCHMARK_EXE" spike 40 300'
"#,
        )
        .env("VISIBLE", "shown")
        .env("SECRET_TOKEN", "hunter2");
    let done = b.run().code(0);
    // Raw JSON: the names other tools read.
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.path("bench-out/perf.json")).unwrap())
            .unwrap();
    assert_eq!(raw["schema_version"], 2);
    assert_eq!(raw["suite"]["name"], "contract");
    for k in [
        "os",
        "arch",
        "nix_system",
        "cpu_model",
        "cores",
        "memory_bytes",
        "kernel",
    ] {
        assert!(raw["environment"].get(k).is_some(), "environment.{k}");
    }
    assert_eq!(raw["runs"], 2);
    assert!(raw["warnings"].is_array());
    let step = &raw["steps"][0];
    for k in ["id", "name", "failures"] {
        assert!(step.get(k).is_some(), "steps[].{k}");
    }
    for k in ["wall_ms", "cpu_user_ms", "cpu_sys_ms", "peak_rss_bytes"] {
        for f in [
            "n",
            "mean",
            "median",
            "min",
            "max",
            "stddev",
            "cv",
            "p50",
            "p90",
            "p95",
            "p99",
            "ci95_low",
            "ci95_high",
        ] {
            assert!(step[k].get(f).is_some(), "steps[].{k}.{f}");
        }
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.path("bench-out/run_1.json")).unwrap())
            .unwrap();
    assert_eq!(run["run"], 1);
    let s = &run["steps"][0];
    for k in [
        "id",
        "name",
        "exit_code",
        "started_at",
        "finished_at",
        "wall_ms",
        "cpu_user_ms",
        "cpu_sys_ms",
        "peak_rss_bytes",
    ] {
        assert!(s.get(k).is_some(), "run steps[].{k}");
    }
    for k in [
        "cpu_avg_pct",
        "cpu_peak_pct",
        "mem_start_bytes",
        "mem_end_bytes",
        "mem_peak_bytes",
        "disk_read_bytes",
        "disk_write_bytes",
    ] {
        assert!(s["resources"].get(k).is_some(), "resources.{k}");
    }
    assert!(s["started_at"].as_str().unwrap().ends_with('Z'));
    // Strict: schema-valid and no unknown fields.
    let summary = done.summary();
    done.run_receipt(2);
    // Only allow-listed environment values are recorded.
    assert_eq!(
        summary.environment.env.get("VISIBLE").map(String::as_str),
        Some("shown")
    );
    let text = std::fs::read_to_string(b.path("bench-out/perf.json")).unwrap();
    assert!(!text.contains("hunter2") && !text.contains("SECRET_TOKEN"));
    let sampler = summary
        .environment
        .sampler
        .expect("sampler cost is reported");
    assert_eq!(sampler.interval_ms, 100.0);
    assert!(
        sampler.ticks >= 2,
        "0.6 s of steps at 10 Hz: {} ticks",
        sampler.ticks
    );
    assert!(
        sampler.cpu_ms > 0.0 && sampler.cpu_pct_of_core < 50.0,
        "{sampler:?}"
    );
}

#[test]
fn allow_listed_variables_set_in_the_suite_are_recorded() {
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
env_allow = ["CLUSTER", "CNI"]
env = { CLUSTER = "kind-bench", TOKEN = "hunter2" }
[[step]]
id = "a"
run = "true"
env = { CNI = "cilium" }
"#,
    );
    let done = b.run().code(0);
    let env = done.summary().environment.env;
    assert_eq!(env.get("CLUSTER").map(String::as_str), Some("kind-bench"));
    assert_eq!(env.get("CNI").map(String::as_str), Some("cilium"));
    // Not allow-listed: never recorded, wherever it was set.
    assert!(!env.contains_key("TOKEN"));
    let text = std::fs::read_to_string(b.path("bench-out/perf.json")).unwrap();
    assert!(!text.contains("hunter2"));
}
