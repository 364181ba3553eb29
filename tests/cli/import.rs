//! `benchmark import` and a step's `import` on the real tools' output
//! (tests/fixtures/import): schema-valid receipts whose figures are the files' own, a
//! comparison of two imports judged the right way round, gates on imported metrics, and
//! bad input refused with exit 2.

use std::path::PathBuf;

use benchmark::receipt::Summary;
use benchmark::stats::compare::Direction;

use crate::helper::{bench, summary_in};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(rel)
}

fn json(rel: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(rel)).unwrap()).unwrap()
}

fn import(b: &crate::helper::Bench, kind: &str, rel: &str, out: &str) -> Summary {
    let path = fixture(rel);
    b.run_args(&["import", kind, path.to_str().unwrap(), "--output", out])
        .code(0)
        .stdout_has("imported ")
        .stdout_has("(and perf.json)");
    summary_in(&b.path(out))
}

#[test]
fn go_bench_every_result_line_a_sample_of_its_step() {
    let b = bench();
    let s = import(&b, "go-bench", "go-bench/bench.txt", "out");
    assert_eq!(s.steps.len(), 10);
    assert_eq!(s.suite.name, "import-go-bench");
    assert!(s.reproduce.starts_with("benchmark import go-bench "));
    let hash = s.steps.iter().find(|s| s.id == "BenchmarkHash-2").unwrap();
    assert_eq!(hash.name, "BenchmarkHash-2");
    // Read independently from the text: the three `BenchmarkHash-2` lines.
    let text = std::fs::read_to_string(fixture("go-bench/bench.txt")).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.split_whitespace().next() == Some("BenchmarkHash-2"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let col = |i: usize| -> Vec<f64> { rows.iter().map(|r| r[i].parse().unwrap()).collect() };
    assert_eq!(hash.metrics["ns_per_op"].stats.samples, col(2));
    assert_eq!(hash.metrics["ns_per_op"].unit.as_deref(), Some("ns"));
    assert_eq!(hash.metrics["MB_per_s"].stats.samples, col(4));
    assert_eq!(
        hash.metrics["MB_per_s"].direction,
        Some(Direction::HigherIsBetter)
    );
    assert_eq!(hash.metrics["B_per_op"].stats.samples, col(6));
    assert_eq!(hash.metrics["allocs_per_op"].stats.samples, col(8));
    let origin = hash.origin.as_ref().unwrap();
    assert_eq!(origin.tool, "go-bench");
    assert_eq!(origin.config["goarch"], "amd64");
    assert_eq!(origin.config["gomaxprocs"], "2");
    let frames = s.steps.iter().find(|s| s.id == "BenchmarkFrames").unwrap();
    assert_eq!(
        frames.metrics["frames_per_op"].direction,
        Some(Direction::HigherIsBetter),
        "the `Unit frames/op better=higher` line"
    );
}

#[test]
fn hyperfine_times_in_ms_parameters_and_exit_codes() {
    let b = bench();
    let s = import(&b, "hyperfine", "hyperfine/basic.json", "basic");
    let src = json("hyperfine/basic.json");
    for (step, r) in s.steps.iter().zip(src["results"].as_array().unwrap()) {
        assert_eq!(step.name, r["command"].as_str().unwrap());
        let times: Vec<f64> = r["times"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap() * 1000.0)
            .collect();
        let wall = step.wall_ms.as_ref().unwrap();
        assert_eq!(wall.samples, times);
        let mean = r["mean"].as_f64().unwrap() * 1000.0;
        assert!(
            (wall.mean - mean).abs() < 1e-9 * mean,
            "{} {mean}",
            wall.mean
        );
        assert_eq!(step.failures, 0);
    }
    let s = import(&b, "hyperfine", "hyperfine/parameters.json", "params");
    assert_eq!(s.steps[0].origin.as_ref().unwrap().config["ms"], "1");
    let s = import(&b, "hyperfine", "hyperfine/failing.json", "failing");
    let step = &s.steps[0];
    assert_eq!(step.origin.as_ref().unwrap().exit_codes, [3; 5]);
    assert_eq!(step.failures, 5);
    assert!(
        s.warnings.iter().any(|w| w
            .message
            .contains("`exit 3` exited non-zero in 5 of 5 runs")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn criterion_samples_estimates_throughput_and_change() {
    let b = bench();
    let s = import(&b, "criterion", "criterion/criterion", "out");
    assert_eq!(s.steps.len(), 4);
    let c = s.steps.iter().find(|s| s.id == "checksum-16KiB").unwrap();
    assert_eq!(c.name, "checksum/16KiB");
    let t = &c.metrics["ns_per_iter"];
    let dir = "criterion/criterion/checksum/16KiB";
    let est = json(&format!("{dir}/new/estimates.json"));
    assert_eq!(
        t.estimates["slope"].point,
        est["slope"]["point_estimate"].as_f64().unwrap()
    );
    assert_eq!(
        t.estimates["mean"].ci_high,
        est["mean"]["confidence_interval"]["upper_bound"].as_f64()
    );
    let change = json(&format!("{dir}/change/estimates.json"));
    assert_eq!(
        t.change["median"].point,
        change["median"]["point_estimate"].as_f64().unwrap()
    );
    let sample = json(&format!("{dir}/new/sample.json"));
    let first = sample["times"][0].as_f64().unwrap() / sample["iters"][0].as_f64().unwrap();
    assert_eq!(t.stats.samples[0], first);
    assert_eq!(t.stats.n, sample["times"].as_array().unwrap().len());
    let tp = &c.metrics["throughput"];
    assert_eq!(tp.unit.as_deref(), Some("B/s"));
    assert_eq!(tp.direction, Some(Direction::HigherIsBetter));
}

#[test]
fn the_tools_version_is_recorded_when_given() {
    let b = bench();
    let path = fixture("libtest/bench.txt");
    b.run_args(&[
        "import",
        "libtest",
        path.to_str().unwrap(),
        "--tool-version",
        "rustc 1.95.0",
    ])
    .code(0);
    let s = summary_in(&b.path("bench-out"));
    let origin = s.steps[0].metrics["ns_per_iter"].origin.as_ref().unwrap();
    assert_eq!(origin.version.as_deref(), Some("rustc 1.95.0"));
    assert_eq!(origin.file, path.display().to_string());
    assert!(
        s.reproduce.ends_with("--tool-version 'rustc 1.95.0'"),
        "{}",
        s.reproduce
    );
}

#[test]
fn criterion_defaults_to_criterion_home() {
    let b = bench().env("CRITERION_HOME", fixture("criterion/criterion"));
    b.run_args(&["import", "criterion"]).code(0);
    assert_eq!(summary_in(&b.path("bench-out")).steps.len(), 4);
}

#[test]
fn libtest_text_and_json_with_the_range_noted() {
    let b = bench();
    let s = import(&b, "libtest", "libtest/bench.txt", "text");
    let fib = &s.steps[0];
    assert_eq!(
        (fib.id.as_str(), fib.name.as_str()),
        ("benches__fib_10", "benches::fib_10")
    );
    let m = &fib.metrics["ns_per_iter"];
    assert_eq!(m.stats.samples, [471.53]);
    assert_eq!(m.estimates["range"].point, 159.79);
    assert!(m.note.as_deref().unwrap().contains("max − min"), "{m:?}");
    assert_eq!(s.steps[2].metrics["MB_per_s"].stats.samples, [1409.0]);
    let s = import(&b, "libtest", "libtest/bench.json", "json");
    let src = json_lines("libtest/bench.json");
    assert_eq!(
        s.steps[1].metrics["ns_per_iter"].stats.samples,
        [src[1]["median"].as_f64().unwrap()]
    );
}

fn json_lines(rel: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(fixture(rel))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "bench")
        .collect()
}

/// The go fixture with every `ns/op` doubled and every `frames/op` doubled: slower, but
/// more frames (better, by its `Unit` line).
fn doubled() -> String {
    let text = std::fs::read_to_string(fixture("go-bench/bench.txt")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        if line.starts_with("Benchmark") {
            for i in (3..words.len()).step_by(2) {
                if words[i] == "ns/op" || words[i] == "frames/op" {
                    let v: f64 = words[i - 1].parse().unwrap();
                    words[i - 1] = (v * 2.0).to_string();
                }
            }
            out.push_str(&words.join("\t"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn compare_two_imports_judges_each_measure_by_its_direction() {
    let b = bench().file("slower.txt", &doubled());
    let base = fixture("go-bench/bench.txt");
    b.run_args(&["import", "go-bench", base.to_str().unwrap(), "-o", "base"])
        .code(0);
    b.run_args(&["import", "go-bench", "slower.txt", "-o", "new"])
        .code(0);
    let done = b
        .run_args(&["compare", "base", "new", "--format", "json", "--noise", "5"])
        .code(0);
    let report: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    let find = |step: &str, measure: &str| {
        report["measures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["step"] == step && m["measure"] == measure)
            .unwrap_or_else(|| panic!("{step} {measure}"))
            .clone()
    };
    // Three samples a side: the exact Mann–Whitney p cannot go below 0.1, so a doubled
    // time is at most `inconclusive` — but its direction and change say which way.
    let ns = find("BenchmarkSort-size_1000", "metric.ns_per_op");
    assert_eq!(ns["direction"], "lower_is_better");
    assert!(ns["change_pct"].as_f64().unwrap() > 90.0, "{ns:#}");
    let frames = find("BenchmarkFrames", "metric.frames_per_op");
    assert_eq!(frames["direction"], "higher_is_better");
    assert_ne!(frames["verdict"], "regressed", "{frames:#}");
    let same = find("BenchmarkHash", "metric.B_per_op");
    assert_eq!(same["verdict"], "unchanged");
    // The table names both receipts and the steps.
    b.run_args(&["compare", "base", "new"])
        .code(0)
        .stdout_has("BenchmarkSort-size_1000")
        .stdout_has("metric.ns_per_op");
}

#[test]
fn compare_of_hyperfine_imports_regresses_a_slower_command() {
    // hyperfine's ten runs a side give the test its power: `sleep 0.02` against
    // `sleep 0.01` is a regression of the wall time.
    let src = json("hyperfine/basic.json");
    let one = |i: usize| {
        let mut v = src.clone();
        let r = v["results"][i].clone();
        let mut r = r;
        r["command"] = "cmd".into();
        v["results"] = serde_json::json!([r]);
        v.to_string()
    };
    let b = bench()
        .file("fast.json", &one(0))
        .file("slow.json", &one(1));
    b.run_args(&["import", "hyperfine", "fast.json", "-o", "fast"])
        .code(0);
    b.run_args(&["import", "hyperfine", "slow.json", "-o", "slow"])
        .code(0);
    let done = b
        .run_args(&[
            "compare",
            "fast",
            "slow",
            "--format",
            "json",
            "--fail-on-regression",
        ])
        .code(1);
    let report: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    let wall = report["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["step"] == "cmd" && m["measure"] == "wall")
        .unwrap();
    assert_eq!(wall["verdict"], "regressed", "{wall:#}");
}

const GATED: &str = r#"
[suite]
name = "imported"
runs = 2
warmup = 0
[monitor]
docker = "off"
[[step]]
id = "go"
run = "cat bench.txt"
import = { kind = "go-bench" }
[[step]]
id = "crit"
run = "true"
env = { CRITERION_HOME = "crit" }
import = { kind = "criterion" }
[[slo]]
name = "HASH"
expr = "step.go.metric.BenchmarkHash-MB_per_s.median >= THRESHOLD"
[[slo]]
name = "FIB"
expr = "step.crit.metric.fib-5-ns_per_iter.median < 1 us"
"#;

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn gated(threshold: &str) -> crate::helper::Bench {
    let b = bench().suite(&GATED.replace("THRESHOLD", threshold)).file(
        "bench.txt",
        &std::fs::read_to_string(fixture("go-bench/bench.txt")).unwrap(),
    );
    copy_tree(&fixture("criterion/criterion"), &b.path("crit"));
    b
}

#[test]
fn a_gate_on_an_imported_metric_passes_and_fails() {
    let b = gated("50 MB/s");
    let done = b.run().code(0).stdout_has("HASH: 73.84 MB/s (SLO 50 MB/s");
    let s = done.summary();
    let go = &s.steps[0];
    // Two runs of three results each: six samples of the step's metric.
    let m = &go.metrics["BenchmarkHash-MB_per_s"];
    assert_eq!(m.stats.n, 6);
    assert_eq!(m.direction, Some(Direction::HigherIsBetter));
    let origin = m.origin.as_ref().unwrap();
    assert_eq!(
        (
            origin.tool.as_str(),
            origin.file.as_str(),
            origin.benchmark.as_str()
        ),
        ("go-bench", "stdout", "BenchmarkHash")
    );
    assert!(s.steps[1].metrics.contains_key("fib-5-ns_per_iter"));
    assert!(s.steps[1].metrics.contains_key("checksum-16KiB-throughput"));
    // The run receipts carry the imported values as the step's metrics.
    let run = done.run_receipt(1);
    assert_eq!(
        run.steps[0]
            .metrics
            .iter()
            .filter(|m| m.name == "BenchmarkHash-MB_per_s")
            .count(),
        3
    );

    let b = gated("100 MB/s");
    b.run()
        .code(1)
        .stdout_has("HASH: 73.84 MB/s (SLO 100 MB/s, -26.2%) FAIL");
}

#[test]
fn a_step_whose_output_does_not_import_fails_with_the_parsers_message() {
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
[monitor]
docker = "off"
[[step]]
id = "go"
run = "echo 'BenchmarkA-8 lots 12 ns/op'"
import = { kind = "go-bench" }
"#,
    );
    let done = b.run().code(3);
    let run = done.run_receipt(1);
    assert_eq!(run.steps[0].exit_code, 0);
    let tail = run.steps[0].output_tail.clone().unwrap().join("\n");
    assert!(
        tail.contains("import (go-bench): stdout:1:14: `lots` is not an iteration count"),
        "{tail}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_file_line_and_what_to_do() {
    let b = bench()
        .file("bad.txt", "goos: linux\nBenchmarkX-2   10   fast ns/op\n")
        .file(
            "bad.json",
            "{\"results\": [\n  {\"command\": \"x\", \"times\": [0.1,]}\n]}",
        );
    b.run_args(&["import", "go-bench", "bad.txt"])
        .code(2)
        .stderr_has("error: bad.txt:2:21: `fast` is not a number (the value of `ns/op`)")
        .stderr_has("help: give the text `go test -bench` printed");
    b.run_args(&["import", "hyperfine", "bad.json"])
        .code(2)
        .stderr_has("error: bad.json:2:34: not valid JSON here: trailing comma")
        .stderr_has("help: give the file hyperfine wrote with `--export-json FILE`");
    b.run_args(&["import", "libtest", "missing.txt"])
        .code(2)
        .stderr_has("error: missing.txt: cannot read it");
    b.run_args(&["import", "criterion", "nowhere"])
        .code(2)
        .stderr_has("error: nowhere: no such directory")
        .stderr_has("run `cargo bench` first");
    b.run_args(&["import", "go-bench"])
        .code(2)
        .stderr_has("`benchmark import go-bench` needs the file to read");
    b.run_args(&["import", "jmh", "x"]).code(2);
    assert!(!b.path("bench-out/perf.json").exists());
}
