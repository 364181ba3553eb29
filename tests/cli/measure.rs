//! Measurement through the real binary: wall time, kernel-accounted memory of a short
//! spike, whole-tree kill on timeout and on interruption.

use std::time::{Duration, Instant};

use crate::helper::{alive, bench, summary_in};
use benchmark::receipt::Status;

#[test]
fn wall_time_is_measured() {
    let b = bench()
        .suite("[suite]\nruns = 5\nwarmup = 0\n[[step]]\nid = \"nap\"\nrun = \"sleep 0.2\"\n")
        .args(["--runs", "2"]);
    let s = b.run().code(0).summary();
    assert_eq!(s.runs, 2, "--runs overrides the suite");
    let w = s.steps[0].wall_ms.as_ref().unwrap();
    assert!(w.min >= 200.0, "sleep 0.2 took {} ms", w.min);
    assert!(w.max < 5000.0, "sanity: {} ms", w.max);
}

fn spike_suite(cgroup: &str) -> crate::helper::Bench {
    bench()
        .suite(
            r#"
[suite]
runs = 2
warmup = 0
[[step]]
id = "spike"
run = '"$BENCHMARK_EXE" spike 200 20'
"#,
        )
        .env("BENCHMARK_CGROUP", cgroup)
}

#[test]
fn a_200_mib_spike_of_20_ms_is_reported_as_at_least_200_mib() {
    for mode in ["auto", "off"] {
        let b = spike_suite(mode);
        let done = b.run().code(0);
        let run = done.run_receipt(1);
        let step = &run.steps[0];
        assert!(
            step.peak_rss_bytes.unwrap() >= 200 << 20,
            "BENCHMARK_CGROUP={mode}: peak RSS {:?} < 200 MiB",
            step.peak_rss_bytes
        );
        if let Some(cg) = &step.cgroup
            && let Some(peak) = cg.memory_peak_bytes
        {
            assert!(peak >= 200 << 20, "cgroup peak {peak} < 200 MiB");
        }
        if mode == "off" {
            assert_eq!(step.measurement, "wait4");
            assert!(step.cgroup.is_none());
        }
        let s = done.summary();
        assert!(s.steps[0].peak_rss_bytes.as_ref().unwrap().min >= (200 << 20) as f64);
    }
}

/// The step's process is cloned from the harness and the kernel folds the harness's
/// resident set into its ru_maxrss: a step smaller than the harness gets no peak of
/// its own rather than the harness's (16 MiB for `sleep` before), with and without
/// cgroups; the floor it was held against is recorded.
#[cfg(target_os = "linux")]
#[test]
fn a_small_step_is_not_given_the_harnesss_own_resident_set() {
    for mode in ["auto", "off"] {
        let b = bench()
            .suite("[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"nap\"\nrun = \"sleep 0.01\"\n")
            .env("BENCHMARK_CGROUP", mode);
        let run = b.run().code(0).run_receipt(1);
        let step = &run.steps[0];
        let floor = step.harness.as_ref().unwrap().rss_floor_bytes;
        assert!(
            floor.is_some_and(|f| f > 1 << 20),
            "BENCHMARK_CGROUP={mode}: the harness's own peak is recorded: {floor:?}"
        );
        assert_eq!(
            step.peak_rss_bytes, None,
            "BENCHMARK_CGROUP={mode}: sleep is far smaller than the harness ({floor:?} bytes)"
        );
    }
}

fn daemon_suite(cgroup: &str) -> crate::helper::Bench {
    // The step starts a daemon that escapes its session and process group, then hangs.
    bench()
        .suite(
            r#"
[suite]
runs = 1
warmup = 0
kill_grace = "500ms"
[[step]]
id = "hangs"
run = 'setsid sleep 300 & echo $! > daemon.pid; sleep 300'
timeout = "1s"
"#,
        )
        .env("BENCHMARK_CGROUP", cgroup)
}

fn read_pid(b: &crate::helper::Bench) -> i32 {
    std::fs::read_to_string(b.path("daemon.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_timeout_kills_the_whole_tree_including_an_escaped_daemon() {
    for mode in ["auto", "off"] {
        let b = daemon_suite(mode);
        let started = Instant::now();
        let done = b.run().code(3).stderr_has("TIMED OUT");
        assert!(started.elapsed() < Duration::from_secs(60));
        let pid = read_pid(&b);
        assert!(
            !alive(pid),
            "BENCHMARK_CGROUP={mode}: daemon {pid} survived the timeout"
        );
        let run = done.run_receipt(1);
        assert_eq!(run.steps[0].status, Status::TimedOut);
        let s = done.summary();
        assert!(
            s.warnings
                .iter()
                .any(|w| w.message.contains("timed out after")),
            "{:?}",
            s.warnings
        );
    }
}

#[test]
fn sigint_stops_the_run_keeps_completed_receipts_and_exits_130() {
    let b = bench().suite(
        r#"
[suite]
runs = 50
warmup = 0
[[step]]
id = "slow"
run = 'setsid sleep 300 & echo $! >> daemons.pid; sleep 0.3'
[[teardown]]
run = "touch teardown-$BENCHMARK_RUN_NUMBER"
"#,
    );
    let mut child = b.command().arg("run").spawn().unwrap();
    let first = b.path("bench-out/run_2.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !first.exists() {
        assert!(Instant::now() < deadline, "no run completed in 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let s = summary_in(&b.path("bench-out"));
    assert_eq!(s.status, Status::Interrupted);
    assert!(s.runs >= 2 && s.runs < 50, "runs = {}", s.runs);
    for n in 1..=s.runs {
        crate::helper::run_receipt_in(&b.path("bench-out"), n);
        assert!(b.path(&format!("teardown-{n}")).exists());
    }
    // Teardown also ran for the interrupted run, and nothing is left running.
    assert!(b.path(&format!("teardown-{}", s.runs + 1)).exists());
    let pids = std::fs::read_to_string(b.path("daemons.pid")).unwrap();
    for pid in pids.lines().map(|l| l.trim().parse::<i32>().unwrap()) {
        assert!(!alive(pid), "daemon {pid} survived the interruption");
    }
}

#[test]
fn leftover_background_processes_are_reported_and_stopped_after_teardown() {
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
[[step]]
id = "starts-server"
run = 'sleep 300 > /dev/null 2>&1 & echo $! > server.pid'
[[step]]
id = "uses-server"
run = 'kill -0 "$(cat server.pid)"'
[[teardown]]
run = 'kill -0 "$(cat server.pid)" && touch alive-at-teardown'
"#,
    );
    let done = b.run().code(0);
    assert!(
        b.path("alive-at-teardown").exists(),
        "background process stays up for the run"
    );
    let pid: i32 = std::fs::read_to_string(b.path("server.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid), "stopped after teardown");
    let run = done.run_receipt(1);
    assert_eq!(run.steps[0].leftover_processes, Some(1));
    let s = done.summary();
    assert!(
        s.warnings
            .iter()
            .any(|w| w.message.contains("left 1 process(es) running")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn cpu_time_of_a_busy_child_is_accounted() {
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
[[step]]
id = "busy"
run = '"$BENCHMARK_EXE" workload cpu'
"#,
    );
    let run = b.run().code(0).run_receipt(1);
    let step = &run.steps[0];
    let user = step.cpu_user_ms.unwrap();
    assert!(user > 50.0, "user CPU {user} ms");
    assert!(user <= step.wall_ms * 1.5 + 10.0);
    assert!(step.resources.samples >= 2);
}

/// A delay injected into the harness's own work before a step starts (joining the
/// step's cgroup in the child, setting up the output pumps in the parent) never shows
/// in the step's wall time: a `true` right after an idle step stays far below it, and
/// the delay is reported as the harness's cost instead.
#[test]
fn harness_delays_before_a_step_stay_out_of_its_wall_time() {
    const DELAY_MS: f64 = 200.0;
    for (knob, cgroup) in [
        ("BENCHMARK_TEST_DELAY_CGROUP_JOIN_MS", "auto"),
        ("BENCHMARK_TEST_DELAY_PUMP_SETUP_MS", "auto"),
        ("BENCHMARK_TEST_DELAY_PUMP_SETUP_MS", "off"),
    ] {
        let b = bench()
            .suite(
                "[suite]\nruns = 3\nwarmup = 0\n[[step]]\nid = \"idle\"\nrun = \"sleep 0.05\"\n\
                 [[step]]\nid = \"t\"\nrun = \"true\"\n",
            )
            .env(knob, "200")
            .env("BENCHMARK_CGROUP", cgroup);
        let done = b.run().code(0);
        for n in 1..=3 {
            let run = done.run_receipt(n);
            let step = run.steps.iter().find(|s| s.id == "t").unwrap();
            let harness = step.harness.as_ref().expect("harness cost recorded");
            if knob.contains("JOIN") && step.cgroup.is_none() {
                eprintln!(
                    "NOT CHECKED: {knob}: no cgroup on this host ({})",
                    step.measurement
                );
                continue;
            }
            if knob.contains("JOIN") && harness.cgroup_join_ms == Some(0.0) {
                // Pure cgroup v2: born in its cgroup, nothing to join, nothing to delay.
                assert!(harness.clone_into_cgroup, "{harness:?}");
                continue;
            }
            assert!(
                step.wall_ms < DELAY_MS / 2.0,
                "{knob} ({cgroup}), run {n}: `true` took {} ms with a {DELAY_MS} ms delay \
                 before it",
                step.wall_ms
            );
            assert!(
                harness.spawn_ms >= DELAY_MS,
                "{knob} ({cgroup}), run {n}: the delay is the harness's cost: {harness:?}"
            );
            if knob.contains("JOIN") {
                let join = harness.cgroup_join_ms.expect("joined a cgroup");
                assert!(join >= DELAY_MS, "run {n}: join {join} ms");
            }
        }
    }
}

/// A million malformed control lines: counted, the first few reported, and the
/// harness's memory and the receipts stay small.
#[test]
fn a_flood_of_malformed_control_lines_keeps_memory_and_receipts_small() {
    let b = bench().suite(
        "[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"flood\"\n\
         run = \"yes '::bench:: bogus line' | head -n 1000000\"\n",
    );
    b.run_args(&["run", "--quiet"]).code(0);
    // The harness's own peak, which it records with every step. (Its rusage seen from
    // here would not do: a process spawned by this test inherits the test binary's
    // resident set into its ru_maxrss.)
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.path("bench-out/run_1.json")).unwrap())
            .unwrap();
    let peak = run["steps"][0]["harness"]["rss_floor_bytes"]
        .as_u64()
        .expect("the harness's peak RSS is recorded");
    let peak_mib = peak >> 20;
    assert!(peak_mib < 64, "the harness grew to {peak_mib} MiB");
    let run = b.path("bench-out/run_1.json");
    let size = std::fs::metadata(&run).unwrap().len();
    assert!(size < 64 * 1024, "run_1.json is {size} bytes");
    let text = std::fs::read_to_string(run).unwrap();
    assert!(
        text.contains("999980 more malformed control lines ignored"),
        "the rest are counted: {text}"
    );
}
