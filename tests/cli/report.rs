//! `benchmark report` and `compare --format` on the receipts of real runs, checked by the
//! real consumers of each format: `promtool check metrics` (Debian `prometheus`), the
//! Prometheus Python client's OpenMetrics parser (Debian `python3-prometheus-client`),
//! `xmllint --schema` against the Jenkins JUnit schema (Debian `libxml2-utils`), headless
//! Chromium (Debian `chromium`); and the receipts themselves by `check-jsonschema` (PyPI)
//! against the published schemas, their load histograms by HdrHistogram's Python port
//! (PyPI `hdrhistogram`). A missing tool fails its test, naming the package: CI
//! installs them (.ci/run).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helper::{Bench, bench};

/// A suite with what every format shows: phases, a metric, a step that fails (allowed,
/// so the runs go on), a load scenario with a phase, a gate that passes and one that
/// fails.
const SUITE: &str = r#"
[suite]
name = "r"
runs = 3
warmup = 0

[monitor]
docker = "off"

[[step]]
id = "build"
name = "Build the thing"
run = "echo '::bench:: phase compile'; sleep 0.02; echo '::bench:: phase link'; sleep 0.01; echo '::bench:: metric throughput 120 MiB/s'"

[[step]]
id = "flaky"
run = "echo some output; echo 'boom <&>' >&2; exit 3"
allow_failure = true

[[load]]
id = "create"
run = "echo '::bench:: phase schedule'; sleep 0.005"
total = 20
concurrency = 2

[[slo]]
name = "build fast"
expr = "step.build.wall.median < 60s"

[[slo]]
name = "build instant"
expr = "step.build.wall.median < 1ms"
"#;

/// A real run into `out` (its gate `build instant` fails: exit 1).
fn measured(b: &Bench, out: &str) {
    b.run_args(&["run", "-q", "-o", out]).code(1);
}

/// The path of `name`, or a failure that names the Debian package providing it.
fn tool(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed: this test needs it; install the Debian package `{package}` (apt-get install -y {package}), as .ci/run does"
        )
    })
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
#[ignore = "needs promtool (Debian: prometheus); cargo xtask ci runs it"]
fn openmetrics_passes_promtool() {
    let promtool = tool("promtool", "prometheus");
    let b = bench().suite(SUITE);
    measured(&b, "out");
    b.run_args(&[
        "report",
        "out",
        "--format",
        "openmetrics",
        "-o",
        "metrics.prom",
    ])
    .code(0);
    let text = read(&b.path("metrics.prom"));
    let check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(b.path("metrics.prom")).unwrap())
        .output()
        .unwrap();
    assert!(
        check.status.success() && check.stdout.is_empty() && check.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}\n--- the metrics\n{text}",
        check.status,
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    // Base units, summaries with quantiles, the closing line.
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE benchmark_step_wall_seconds summary\n"));
    assert!(
        text.contains(r#"benchmark_step_wall_seconds{suite="r",step="build",quantile="0.5"} 0.0"#)
    );
    assert!(text.contains(r#"benchmark_step_wall_seconds_count{suite="r",step="build"} 3"#));
    assert!(text.contains(r#"benchmark_step_metric_bytes_per_second{suite="r",step="build",metric="throughput",quantile="0.5"} 125829120"#));
    assert!(
        text.contains(r#"benchmark_slo_passed{suite="r",slo="build instant",severity="fail"} 0"#)
    );
    assert!(!text.contains("_ms"), "no milliseconds: {text}");
    // The load scenario: latency per phase over every run's operations, throughput.
    assert!(text.contains("# TYPE benchmark_load_latency_seconds summary\n"));
    assert!(text.contains(
        r#"benchmark_load_latency_seconds_count{suite="r",scenario="create",phase="complete"} 60"#
    ));
    assert!(text.contains(r#"benchmark_load_latency_seconds{suite="r",scenario="create",phase="schedule",quantile="0.95"} "#));
    assert!(text.contains(
        r#"benchmark_load_operations{suite="r",scenario="create",outcome="succeeded"} 60"#
    ));
    assert!(text.contains(r#"benchmark_load_throughput{suite="r",scenario="create"} "#));
}

/// promtool reads the Prometheus text format, to which `# UNIT` and `# EOF` are comments;
/// the OpenMetrics parser of the Python client (Debian's `python3-prometheus-client`,
/// for Debian's own `/usr/bin/python3`) holds the text to OpenMetrics itself: `# EOF`,
/// units as name suffixes, summary samples.
#[test]
#[ignore = "needs python3-prometheus-client; cargo xtask ci runs it"]
fn openmetrics_passes_the_openmetrics_parser() {
    let system = Path::new("/usr/bin/python3");
    let python = if system.is_file() {
        system.to_owned()
    } else {
        tool("python3", "python3-prometheus-client")
    };
    let b = bench().suite(SUITE);
    measured(&b, "out");
    b.run_args(&[
        "report",
        "out",
        "--format",
        "openmetrics",
        "-o",
        "metrics.txt",
    ])
    .code(0);
    let check = Command::new(python)
        .args([
            "-c",
            "import sys\n\
             try:\n    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
             except ImportError:\n    sys.exit('prometheus_client is not installed: install the Debian package python3-prometheus-client')\n\
             families = list(parse(open(sys.argv[1]).read()))\n\
             print(len(families), sum(len(f.samples) for f in families))",
        ])
        .arg(b.path("metrics.txt"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "the OpenMetrics parser: {}\n--- the metrics\n{}",
        String::from_utf8_lossy(&check.stderr),
        read(&b.path("metrics.txt"))
    );
    let families: usize = stdout.split_whitespace().next().unwrap().parse().unwrap();
    assert!(families >= 16, "the step and load families: {stdout}");
}

#[test]
#[ignore = "needs xmllint (Debian: libxml2-utils); cargo xtask ci runs it"]
fn junit_is_valid_against_the_published_schema() {
    let xmllint = tool("xmllint", "libxml2-utils");
    let b = bench().suite(SUITE);
    measured(&b, "out");
    b.run_args(&[
        "report",
        "out/perf.json",
        "--format",
        "junit",
        "-o",
        "junit.xml",
    ])
    .code(0);
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit/junit-10.xsd");
    let check = Command::new(xmllint)
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(b.path("junit.xml"))
        .output()
        .unwrap();
    let xml = read(&b.path("junit.xml"));
    assert!(
        check.status.success(),
        "xmllint --schema: {}\n--- the report\n{xml}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Each step, each gate and each load scenario a testcase; the failing step with its
    // exit status and output tail, the failing gate with its observed value and
    // threshold, the scenario with its figures as the load suite's properties.
    assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
    assert!(
        xml.contains("<testcase name=\"create\" classname=\"r.load\""),
        "{xml}"
    );
    assert!(
        xml.contains("<property name=\"create.complete.p95_ms\""),
        "{xml}"
    );
    assert!(
        xml.contains("failed in 3 of 3 run(s); first failed with exit status 3"),
        "{xml}"
    );
    assert!(xml.contains("boom &lt;&amp;&gt;"), "{xml}");
    assert!(xml.contains("threshold &lt; 1ms"), "{xml}");
}

#[test]
#[ignore = "needs chromium; cargo xtask ci runs it"]
fn the_html_report_opens_in_chromium_without_console_errors() {
    let chromium = tool("chromium", "chromium");
    let b = bench().suite(SUITE);
    measured(&b, "first");
    measured(&b, "second");
    b.run_args(&[
        "report",
        "first",
        "second",
        "--format",
        "html",
        "-o",
        "report.html",
    ])
    .code(0);
    let page = read(&b.path("report.html"));
    assert!(page.contains("Over time"), "two receipts make a history");
    assert!(page.contains("<h2>Load</h2>"), "the load section");
    assert!(!page.contains("<script") && !page.contains("<link"));
    let profile = tempfile::tempdir().unwrap();
    let shot = b.path("report.png");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", b.path("report.html").display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium: {}\n{stderr}", out.status);
    // The page has no script: any console message (Chromium logs them as `INFO:CONSOLE`
    // or `ERROR:CONSOLE`) is a fault, an uncaught error or a load the policy refused.
    for bad in ["Uncaught", ":CONSOLE", "Refused to"] {
        assert!(!stderr.contains(bad), "{bad} in chromium's log:\n{stderr}");
    }
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        png.len()
    );
}

#[test]
fn markdown_goes_to_stdout_and_the_step_summary() {
    let b = bench().suite(SUITE);
    measured(&b, "out");
    std::fs::write(b.path("summary.md"), "earlier step\n").unwrap();
    let done = b
        .command()
        .args(["report", "out", "--format", "markdown"])
        .env("GITHUB_STEP_SUMMARY", b.path("summary.md"))
        .output()
        .unwrap();
    assert!(done.status.success());
    let stdout = String::from_utf8(done.stdout).unwrap();
    assert!(
        stdout.starts_with("## Benchmark `r`: ❌ 1 gate(s) failed"),
        "{stdout}"
    );
    assert!(stdout.contains("| build instant | `< 1ms` |"), "{stdout}");
    assert_eq!(
        read(&b.path("summary.md")),
        format!("earlier step\n{stdout}")
    );
}

#[test]
fn csv_bmf_and_gab_carry_every_measure() {
    let b = bench().suite(SUITE);
    measured(&b, "out");
    let csv = b
        .run_args(&["report", "out", "--format", "csv"])
        .code(0)
        .stdout();
    assert!(csv.starts_with("suite,step,parent,measure,unit,n,mean,median,"));
    assert!(csv.contains("\nr,build,,wall,ms,3,"), "{csv}");
    assert!(
        csv.contains("\nr,build,,metric.throughput,MiB/s,3,120,120,"),
        "{csv}"
    );

    let bmf = b
        .run_args(&["report", "out", "--format", "bmf"])
        .code(0)
        .stdout();
    let bmf: serde_json::Value = serde_json::from_str(&bmf).unwrap();
    let latency = bmf["r::build"]["latency"]["value"].as_f64().unwrap();
    assert!(latency > 30e6, "nanoseconds: {latency}");
    assert!(
        bmf["r::build::compile"]["latency"]["value"]
            .as_f64()
            .unwrap()
            > 20e6
    );

    let gab = b
        .run_args(&["report", "out", "--format", "gab"])
        .code(0)
        .stdout();
    let gab: Vec<serde_json::Value> = serde_json::from_str(&gab).unwrap();
    assert!(
        gab.iter()
            .any(|e| e["name"] == "r build wall" && e["unit"] == "ms")
    );
    let bigger = b
        .run_args(&["report", "out", "--format", "gab-bigger"])
        .code(0)
        .stdout();
    let bigger: Vec<serde_json::Value> = serde_json::from_str(&bigger).unwrap();
    assert_eq!(bigger.len(), 2, "{bigger:?}");
    assert_eq!(bigger[0]["value"], 120.0);
    assert_eq!(bigger[1]["name"], "r load create throughput");
    assert!(bigger[1]["value"].as_f64().unwrap() > 0.0, "{bigger:?}");
    assert!(
        gab.iter()
            .any(|e| e["name"] == "r load create complete p95" && e["unit"] == "ms"),
        "{gab:?}"
    );
    assert!(
        bmf["r::load::create::complete"]["latency"]["value"]
            .as_f64()
            .unwrap()
            > 5e6,
        "nanoseconds, at least the operation's sleep: {bmf}"
    );
    assert!(csv.contains("\nr,create,,load.complete,ms,60,"), "{csv}");
}

/// `--format kruntimes` on a real run: each scenario with every phase it has, `complete`
/// counting each measured operation; a receipt without `[[load]]` refused by name.
#[test]
fn kruntimes_exports_the_load_scenarios_of_a_real_run() {
    let b = bench().suite(
        r#"
[suite]
name = "k"
runs = 1
warmup = 0

[monitor]
docker = "off"

[[step]]
id = "prep"
run = "true"

[[load]]
id = "create-runs"
run = "echo '::bench:: phase schedule'; sleep 0.01"
total = 20
concurrency = 2
"#,
    );
    let run = b.run_args(&["run", "-q", "-o", "out"]).code(0);
    // What `run` prints ends with the load table.
    run.stdout_has("load:").stdout_has("create-runs");
    let out = b
        .run_args(&["report", "out", "--format", "kruntimes"])
        .code(0)
        .stdout();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let s = &v["scenarios"][0];
    assert_eq!(v["scenarios"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(s["name"], "create-runs", "{out}");
    assert_eq!(s["operations"], 20, "{out}");
    assert_eq!(s["concurrency"], 2, "{out}");
    assert_eq!(s["latency"]["complete"]["count"], 20, "{out}");
    assert!(
        s["latency"]["complete"]["p95Ms"].as_f64().unwrap() >= 10.0,
        "{out}"
    );
    assert_eq!(s["latency"]["schedule"]["count"], 20, "{out}");
    assert!(
        s["throughput"]["opsPerSecond"].as_f64().unwrap() > 0.0,
        "{out}"
    );
    assert_eq!(s["throughput"]["perRun"].as_array().unwrap().len(), 1);
    assert_eq!(s["capacity"]["maxObserved"], 2, "{out}");
    assert_eq!(s["failures"]["count"], 0, "{out}");

    let plain = bench().suite(SUITE_WITHOUT_LOAD);
    plain.run_args(&["run", "-q", "-o", "out"]).code(0);
    plain
        .run_args(&["report", "out", "--format", "kruntimes"])
        .code(2)
        .stderr_has(
            "out/perf.json has no [[load]] scenario: --format kruntimes exports load scenarios",
        );
}

/// A suite with no load scenario.
const SUITE_WITHOUT_LOAD: &str = r#"
[suite]
name = "r"
runs = 1
warmup = 0

[monitor]
docker = "off"

[[step]]
id = "build"
run = "true"
"#;

#[test]
fn a_bad_output_path_fails_before_any_receipt_is_read() {
    let b = bench();
    b.run_args(&[
        "report",
        "missing",
        "--format",
        "html",
        "-o",
        "no/such/dir/r.html",
    ])
    .code(2)
    .stderr_has("its directory no/such/dir does not exist");
    b.run_args(&["report", "a", "b", "--format", "csv"])
        .code(2)
        .stderr_has("--format csv renders one receipt, not 2");
}

#[test]
fn compare_renders_through_the_same_formats() {
    let b = bench().suite(SUITE);
    measured(&b, "a");
    measured(&b, "b");
    let csv = b
        .run_args(&["compare", "a", "b", "--format", "csv"])
        .code(0)
        .stdout();
    assert!(
        csv.starts_with("step,measure,unit,direction,base_median,new_median,"),
        "{csv}"
    );
    assert!(csv.contains("\nbuild,wall,ms,lower_is_better,"), "{csv}");
    b.run_args(&["compare", "a", "b", "--format", "openmetrics"])
        .code(2)
        .stderr_has("--format openmetrics does not render a comparison; use one of: table, markdown, csv, junit, json");
    b.run_args(&[
        "compare",
        "a",
        "b",
        "--format",
        "junit",
        "-o",
        "compare.xml",
    ])
    .code(0);
    assert!(read(&b.path("compare.xml")).contains("<testcase name=\"build wall\""));
}

/// The receipts — of a run (summary, perf.json, run_N.json) and of an import — against
/// the published schemas (`benchmark schema summary|run`), by `check-jsonschema` (PyPI),
/// an independent validator.
#[test]
#[ignore = "needs check-jsonschema (PyPI); cargo xtask ci runs it"]
fn receipts_pass_check_jsonschema() {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("check-jsonschema"))
            .find(|p| p.is_file())
    });
    let validator = found.unwrap_or_else(|| {
        panic!(
            "`check-jsonschema` is not installed: `pip install check-jsonschema`, as .ci/run does"
        )
    });
    let b = bench().suite(SUITE);
    measured(&b, "out");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import/hyperfine/basic.json")
        .display()
        .to_string();
    b.run_args(&["import", "hyperfine", &fixture, "-o", "imported"])
        .code(0);
    for kind in ["summary", "run"] {
        let schema = b.run_args(&["schema", kind]).code(0).stdout();
        std::fs::write(b.path(&format!("{kind}.schema.json")), schema).unwrap();
    }
    let summaries: Vec<PathBuf> = std::fs::read_dir(b.path("out"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("summary_"))
        })
        .collect();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    for (schema, receipt) in [
        ("summary", b.path("out/perf.json")),
        ("summary", summaries[0].clone()),
        ("summary", b.path("imported/perf.json")),
        ("run", b.path("out/run_1.json")),
        ("run", b.path("out/run_3.json")),
    ] {
        let out = Command::new(&validator)
            .arg("--schemafile")
            .arg(b.path(&format!("{schema}.schema.json")))
            .arg(&receipt)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}{}",
            receipt.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The load histograms of a run receipt and of the summary are HdrHistogram's own
/// interchange form: HdrHistogram's Python port (PyPI `hdrhistogram`) decodes each, with
/// the count, min and max the receipt states.
#[test]
#[ignore = "needs the PyPI package hdrhistogram; cargo xtask ci runs it"]
fn load_histograms_decode_with_hdrhistogram() {
    let python = tool("python3", "python3");
    let b = bench().suite(SUITE);
    measured(&b, "out");
    let check = Command::new(python)
        .args([
            "-c",
            "import json, sys\n\
             try:\n    from hdrh.histogram import HdrHistogram\n\
             except ImportError:\n    sys.exit('hdrhistogram is not installed: pip install hdrhistogram, as .ci/run does')\n\
             for path in sys.argv[1:]:\n\
             \x20   for load in json.load(open(path))['load']:\n\
             \x20       for p in load['phases']:\n\
             \x20           h = HdrHistogram.decode(p['histogram'])\n\
             \x20           print(path, p['name'], h.get_total_count(), h.get_min_value(), h.get_max_value(), p['latency']['count'], p['latency']['min_ms'], p['latency']['max_ms'])",
        ])
        .arg(b.path("out/run_1.json"))
        .arg(b.path("out/perf.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "HdrHistogram's decoder: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut seen = 0;
    for line in stdout.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let n = |i: usize| w[i].parse::<f64>().unwrap();
        // Count equal; min and max in microseconds against the receipt's milliseconds
        // (HdrHistogram reports a bucket's lowest and highest equivalent values).
        assert_eq!(n(2), n(5), "{line}");
        assert!((n(3) / 1e3 - n(6)).abs() <= n(6) * 2e-3, "{line}");
        assert!((n(4) / 1e3 - n(7)).abs() <= n(7) * 2e-3, "{line}");
        seen += 1;
    }
    // schedule and complete, in run_1.json and in perf.json.
    assert_eq!(seen, 4, "{stdout}");
}
