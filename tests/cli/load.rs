//! `[[load]]` scenarios through the real binary: receipts (schema-checked), phases
//! stamped on arrival, failures by cause, gates, the open loop, interruption.

#[cfg(target_os = "linux")]
use std::time::{Duration, Instant};

use benchmark::load::Model;
use benchmark::receipt::Status;
use benchmark::verdict::slo::GateStatus;

use crate::helper::bench;

const SUITE: &str = r#"
[suite]
name = "loaded"
runs = 2
warmup = 0
[monitor]
docker = "off"
[[step]]
id = "prep"
run = "true"
[[load]]
id = "create-runs"
run = '''
echo '::bench:: phase schedule'
sleep 0.01
echo '::bench:: phase dispatch' >> "$BENCHMARK_CONTROL"
echo "op $BENCHMARK_OP_INDEX of $BENCHMARK_LOAD" >&2
case $BENCHMARK_OP_INDEX in *5) exit 3;; *0) kill -9 $$;; esac
'''
total = 30
concurrency = 3
warmup_ops = 2
[[slo]]
name = "p95"
expr = "load.create-runs.complete.p95 <= 10s"
[[slo]]
name = "rate"
expr = "load.create-runs.throughput >= 1/s"
[[slo]]
name = "count"
expr = "load.create-runs.dispatch.count >= 1"
"#;

#[test]
fn a_scenario_runs_in_every_measured_run_with_failures_by_cause_and_gates() {
    let b = bench().suite(SUITE);
    let done = b.run().code(0);
    let err = done.stderr();
    assert!(err.contains("1 step(s), 1 load scenario(s)"), "{err}");
    assert!(err.contains("load create-runs"), "{err}");
    for n in 1..=2 {
        let r = done.run_receipt(n);
        assert_eq!(r.status, Status::Ok);
        let l = &r.load[0];
        // Measured operations are 2..=31: 5, 15, 25 exit 3; 10, 20, 30 are killed.
        assert_eq!((l.ops, l.succeeded, l.failed), (30, 24, 6), "{l:?}");
        assert_eq!(l.failures.get("exit:3"), Some(&3));
        assert_eq!(l.failures.get("signal:9"), Some(&3));
        assert!(
            l.failure_samples[0].contains("exited with 3: op 5 of create-runs")
                || l.failure_samples
                    .iter()
                    .any(|s| s.contains("op 5 of create-runs")),
            "{:?}",
            l.failure_samples
        );
        assert_eq!(l.model, Model::Closed);
        assert_eq!((l.concurrency, l.max_in_flight, l.warmup_ops), (3, 3, 2));
        let names: Vec<&str> = l.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["schedule", "dispatch", "complete"]);
        let (schedule, dispatch, complete) = (&l.phases[0], &l.phases[1], &l.phases[2]);
        assert_eq!(complete.latency.count, 24);
        assert!(dispatch.latency.min_ms >= 10.0, "{:?}", dispatch.latency);
        assert!(schedule.latency.p50_ms <= dispatch.latency.p50_ms);
        assert!(dispatch.latency.p50_ms <= complete.latency.p50_ms);
        assert!(l.throughput_per_s > 0.0 && l.elapsed_ms > 0.0);
        let per_second: u64 = l.timeline.iter().map(|s| s.completed).sum();
        assert_eq!(per_second, 30);
        assert!(l.cpu_user_ms.is_some() && l.harness_cpu_ms.is_some());
    }
    let s = done.summary();
    let l = &s.load[0];
    assert_eq!((l.runs, l.ops, l.succeeded, l.failed), (2, 60, 48, 12));
    assert_eq!(l.failures.get("exit:3"), Some(&6));
    let complete = l.phases.iter().find(|p| p.name == "complete").unwrap();
    assert_eq!(complete.latency.count, 48);
    assert_eq!(complete.p95_ms.n, 2);
    assert_eq!(l.throughput_per_s.as_ref().unwrap().n, 2);
    let status: Vec<GateStatus> = s.slos.iter().map(|g| g.status).collect();
    assert_eq!(status, [GateStatus::Pass; 3], "{:?}", s.slos);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.message.contains("6 of 30 operations failed")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn a_failed_load_gate_exits_1_with_the_receipts_written() {
    let b = bench().suite(&SUITE.replace(
        "load.create-runs.complete.p95 <= 10s",
        "load.create-runs.complete.max <= 1ms",
    ));
    let done = b.run().code(1);
    let s = done.summary();
    assert_eq!(s.slos[0].status, GateStatus::Fail);
    assert!(s.slos[0].observed.unwrap() >= 10.0, "{:?}", s.slos[0]);
}

#[test]
fn phase_timestamps_are_within_a_millisecond_of_when_the_operation_emitted_them() {
    // The operation stamps its own monotonic clock when it writes each phase line; the
    // interval between its two lines as the harness stamped them must match its own.
    // Tests run in parallel on shared machines, where any reader is sometimes scheduled
    // late: the median of five runs is held to 1 ms, every run to 20 ms.
    let b = bench().suite(
        r#"
[suite]
runs = 5
warmup = 0
[monitor]
docker = "off"
[[load]]
id = "stamped"
run = '''
python3 -c '
import os, sys, time
w = sys.stdout
w.write("::bench:: phase a\n"); w.flush(); a = time.monotonic_ns()
time.sleep(0.15)
w.write("::bench:: phase b\n"); w.flush(); b = time.monotonic_ns()
time.sleep(0.05)
open("own-%s" % os.environ["BENCHMARK_RUN_NUMBER"], "w").write(str((b - a) / 1e6))
'
'''
total = 1
"#,
    );
    b.run().code(0);
    let mut diffs = Vec::new();
    for n in 1..=5u32 {
        let r = crate::helper::run_receipt_in(&b.path("bench-out"), n);
        let l = &r.load[0];
        let at = |name: &str| {
            let p = l.phases.iter().find(|p| p.name == name).unwrap();
            assert_eq!(p.latency.count, 1);
            p.latency.min_ms
        };
        let harness = at("b") - at("a");
        let own: f64 = std::fs::read_to_string(b.path(&format!("own-{n}")))
            .unwrap()
            .parse()
            .unwrap();
        // The histogram keeps three significant digits: 0.15 ms at 150 ms.
        let diff = (harness - own).abs();
        assert!(
            diff < 20.0,
            "run {n}: the harness saw {harness} ms between the phases, the operation {own} ms"
        );
        diffs.push(diff);
    }
    diffs.sort_by(f64::total_cmp);
    assert!(diffs[2] < 1.0, "differences (ms): {diffs:?}");
}

#[test]
fn an_open_loop_runs_at_its_rate_and_counts_from_when_operations_were_due() {
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
[monitor]
docker = "off"
[[load]]
id = "steady"
run = "sleep 0.02"
rate = "40/s"
duration = "1s"
concurrency = 10
"#,
    );
    let r = b.run().code(0).run_receipt(1);
    let l = &r.load[0];
    assert_eq!(l.model, Model::Open);
    assert_eq!(l.rate_per_s, Some(40.0));
    assert_eq!(l.ops, 40);
    let lag = l
        .start_lag
        .as_ref()
        .expect("an open loop records its start lag");
    assert_eq!(lag.latency.count, 40);
    assert!(l.backlog_max.is_some());
    // 40 operations due over 1 s: the scenario lasts about a second, not 40 × 20 ms.
    assert!(
        l.elapsed_ms >= 975.0 && l.elapsed_ms < 5000.0,
        "{}",
        l.elapsed_ms
    );
}

#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_scenario_stops_its_operations_and_keeps_the_runs_before_it() {
    let b = bench().suite(
        r#"
[suite]
runs = 3
warmup = 0
[monitor]
docker = "off"
[[load]]
id = "slow"
run = '''
echo $$ >> op.pids
if [ "$BENCHMARK_RUN_NUMBER" = 2 ]; then touch started; exec sleep 300; fi
'''
total = 4
concurrency = 2
"#,
    );
    let mut child = crate::helper::start(&b);
    crate::helper::wait_for(&b.path("started"), Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(200));
    crate::helper::signal(&child, libc::SIGINT);
    let status = crate::helper::wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130));
    let s = crate::helper::summary_in(&b.path("bench-out"));
    assert_eq!((s.status, s.runs), (Status::Interrupted, 1));
    assert_eq!(s.load[0].ops, 4);
    let pids = std::fs::read_to_string(b.path("op.pids")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    for pid in pids.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        while crate::helper::alive(pid) {
            assert!(Instant::now() < deadline, "operation {pid} still runs");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn compare_and_merge_take_load_scenarios_along() {
    // Six runs of 10 operations each side: sleep 0.01 against sleep 0.04.
    let suite = |sleep: &str| {
        format!(
            r#"
[suite]
name = "cmp"
runs = 6
warmup = 0
[monitor]
docker = "off"
[[load]]
id = "ops"
run = "sleep {sleep}"
total = 10
concurrency = 2
"#
        )
    };
    let b = bench()
        .file("fast.toml", &suite("0.01"))
        .file("slow.toml", &suite("0.04"));
    for (name, out) in [("fast.toml", "a"), ("slow.toml", "b"), ("fast.toml", "c")] {
        b.run_args(&["run", name, "-q", "-o", out]).code(0);
    }
    let done = b
        .run_args(&["compare", "a", "b", "--format", "json"])
        .code(0);
    let report: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    let find = |measure: &str| {
        report["measures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["step"] == "load.ops" && m["measure"] == measure)
            .unwrap_or_else(|| panic!("no load.ops {measure}: {report:#}"))
            .clone()
    };
    assert_eq!(find("throughput")["verdict"], "regressed");
    assert_eq!(find("throughput")["direction"], "higher_is_better");
    assert_eq!(find("complete.p50")["verdict"], "regressed");

    // Two invocations pooled: twelve runs, 120 operations in one distribution.
    b.run_args(&["merge", "a", "c", "-o", "pooled"]).code(0);
    let s = crate::helper::summary_in(&b.path("pooled"));
    let l = &s.load[0];
    assert_eq!((l.runs, l.ops), (12, 120));
    let complete = l.phases.iter().find(|p| p.name == "complete").unwrap();
    assert_eq!(complete.latency.count, 120);
    assert_eq!(complete.p95_ms.n, 12);
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 answering each request `ok` (bodiless
/// requests, a thread per connection); its address.
fn http_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if conn.write_all(reply).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}/")
}

#[test]
fn an_http_scenario_times_connect_first_byte_and_complete() {
    let url = http_server();
    let b = bench().suite(&format!(
        r#"
[suite]
runs = 2
warmup = 0
[monitor]
docker = "off"
[[load]]
id = "api"
http = {{ url = "{url}", headers = {{ x-test = "1" }} }}
total = 200
concurrency = 4
[[slo]]
expr = "load.api.first_byte.p99 <= 5s"
[[slo]]
expr = "load.api.throughput >= 10/s"
"#
    ));
    let done = b.run().code(0);
    for n in 1..=2 {
        let l = &done.run_receipt(n).load[0];
        assert_eq!(
            (l.operation.as_str(), l.ops, l.succeeded),
            ("http", 200, 200)
        );
        let names: Vec<&str> = l.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["connect", "first_byte", "complete"]);
        // One connection per worker, kept for the next request.
        assert!(l.phases[0].latency.count <= 4, "{:?}", l.phases[0]);
        assert_eq!(l.phases[2].latency.count, 200);
        assert!(l.cpu_user_ms.is_none() && l.harness_cpu_ms.is_some());
    }
    let s = done.summary();
    assert!(
        s.slos.iter().all(|g| g.status == GateStatus::Pass),
        "{:?}",
        s.slos
    );
}

#[test]
fn a_scenario_of_which_no_operation_succeeded_fails_the_run() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let b = bench().suite(&format!(
        r#"
[suite]
runs = 3
warmup = 0
[monitor]
docker = "off"
[[load]]
id = "down"
http = {{ url = "http://127.0.0.1:{port}/" }}
total = 5
"#
    ));
    let done = b.run().code(3);
    let out = done.stdout() + &done.stderr();
    assert!(out.contains("none of its 5 operations succeeded"), "{out}");
    assert!(out.contains("connect ×5"), "{out}");
    let l = &done.run_receipt(1).load[0];
    assert_eq!(l.failures.get("connect"), Some(&5));
    // The first failed run stops the invocation, as a failed step does.
    assert_eq!(done.summary().runs, 1);
}
