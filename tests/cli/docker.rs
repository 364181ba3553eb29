//! The Docker pieces against a real daemon: pre-flight, container monitoring, the
//! lifecycle probe and the offline image — through the library and through the real
//! binary. Tests that need a daemon are ignored by default ("needs a Docker
//! daemon"); `cargo xtask docker-up` starts one and `cargo xtask ci` runs them.
//!
//! They build their own tiny image from local files (a static busybox on `FROM scratch`),
//! once per test process; nothing is pulled.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use benchmark::docker::probe::{self, PHASES, ProbeSpec};
use benchmark::docker::{self, DockerError, Monitor};

const IMAGE: &str = "benchmark-test-busybox:latest";

/// Tests that create labelled containers hold this, so that "none left" is exact.
fn containers_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every container with the probe label, whatever its run.
fn probe_containers() -> Vec<String> {
    let out = docker_cli(&["ps", "-aq", "--filter", "label=benchmark.probe=1"]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn docker_cli(args: &[&str]) -> Output {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI is on PATH");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Build `benchmark-test-busybox:latest` from the host's static busybox, once.
fn image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("a static busybox (Debian: busybox-static) for the test image");
        let ctx = tempfile::tempdir().unwrap();
        let bin = ctx.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        for applet in ["sh", "sleep", "true", "echo"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM scratch\nCOPY bin /bin\nENV PATH=/bin\nCMD [\"/bin/sh\"]\n",
        )
        .unwrap();
        docker_cli(&["build", "-q", "-t", IMAGE, ctx.path().to_str().unwrap()]);
    });
    IMAGE
}

/// A label value unique to this process and test.
fn run_label(test: &str) -> String {
    format!("test-{}-{test}", std::process::id())
}

/// Ids of containers (running or not) with this `benchmark.run` label.
fn labelled(label_run: &str) -> Vec<String> {
    let out = docker_cli(&[
        "ps",
        "-aq",
        "--filter",
        "label=benchmark.probe=1",
        "--filter",
        &format!("label=benchmark.run={label_run}"),
    ]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn spec(label: &str, cmd: &[&str], timeout: Duration) -> ProbeSpec {
    ProbeSpec {
        image: image().to_string(),
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        timeout,
        network: None,
        label_run: label.to_string(),
    }
}

#[test]
fn preflight_with_a_bogus_docker_host_says_what_to_do() {
    let e = docker::ping_host("unix:///nonexistent.sock").unwrap_err();
    assert!(matches!(e, DockerError::SocketMissing { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "no Docker socket at /nonexistent.sock: start the daemon (e.g. `sudo systemctl start docker`, \
         or Docker Desktop) or point DOCKER_HOST at its socket"
    );
    let e = docker::ping_host("ssh://user@host").unwrap_err();
    assert!(e.to_string().contains("only unix:// and tcp://"), "{e}");
}

#[test]
#[ignore = "needs a Docker daemon"]
fn preflight_passes_and_records_the_daemon() {
    let info = docker::ping().unwrap();
    assert!(
        !info.version.is_empty() && info.version != "unknown",
        "{info:?}"
    );
    assert!(info.api_version.starts_with("1."), "{info:?}");
    assert_eq!(info.os, "linux");
    assert_eq!(info.host, docker::default_host());
    // It is a receipt piece: it round-trips through JSON with unknown fields refused.
    let json = serde_json::to_string(&info).unwrap();
    assert_eq!(
        serde_json::from_str::<docker::DaemonInfo>(&json).unwrap(),
        info
    );
}

#[test]
#[ignore = "needs a Docker daemon"]
fn monitor_sees_three_containers_and_their_cpu_and_memory() {
    let _lock = containers_lock();
    let image = image();
    let label = run_label("monitor");
    let monitor = Monitor::start(Duration::from_millis(50)).unwrap();
    let w = monitor.begin();
    for cmd in ["sleep 30", "sleep 30", "while :; do :; done"] {
        docker_cli(&[
            "run",
            "-d",
            "--network",
            "none",
            "--label",
            "benchmark.probe=1",
            "--label",
            &format!("benchmark.run={label}"),
            image,
            "sh",
            "-c",
            cmd,
        ]);
    }
    // Long enough for stats rounds to give the busy container two readings.
    std::thread::sleep(Duration::from_secs(5));
    let during = monitor.end(w);
    assert_eq!(probe::remove_labelled(&label).unwrap(), 3);
    let cost = monitor.stop();

    assert!(during.containers_peak >= 3, "{during:?}");
    assert!(during.containers_end >= 3, "{during:?}");
    // Counts follow events: three starts and the two edges, whatever the interval.
    assert!(during.samples >= 5, "{during:?}");
    let cpu = during.cpu_peak_pct.expect("a CPU figure");
    assert!(cpu > 5.0, "a busy loop shows as CPU: {during:?}");
    assert!(during.cpu_avg_pct.is_some_and(|a| a > 0.0 && a <= cpu));
    assert!(during.mem_peak_bytes.is_some(), "{during:?}");
    // Lists: the first one and a safety re-list every 5 s, not one per interval.
    assert!(
        (1..=3).contains(&cost.ticks) && cost.stats_rounds >= 2,
        "{cost:?}"
    );
    assert!(cost.api_calls > cost.ticks, "{cost:?}");
    assert!(
        cost.cpu > Duration::ZERO && cost.cpu < cost.wall,
        "{cost:?}"
    );
    eprintln!(
        "monitor: {during:?}; cost {cost:?} ({:.2}% of a core)",
        cost.pct_of_core()
    );
}

/// A container that lives a few tens of milliseconds inside the window is in its peak
/// even with a 1 s interval: counts follow the daemon's events, not a poll.
#[test]
#[ignore = "needs a Docker daemon"]
fn a_container_shorter_than_the_interval_is_in_the_peak() {
    let _lock = containers_lock();
    let image = image();
    let monitor = Monitor::start(Duration::from_secs(1)).unwrap();
    let w = monitor.begin();
    docker_cli(&["run", "--rm", "--network", "none", image, "true"]);
    // Let the die event, already emitted, cross the socket; no poll happens meanwhile.
    std::thread::sleep(Duration::from_millis(100));
    let seen = monitor.end(w);
    let cost = monitor.stop();
    assert!(seen.containers_peak > seen.containers_start, "{seen:?}");
    assert_eq!(seen.containers_end, seen.containers_start, "{seen:?}");
    assert!(seen.samples >= 4, "a start, a die and two edges: {seen:?}");
    assert!(cost.ticks <= 2, "one list at start, no polling: {cost:?}");
    eprintln!("short-lived container: {seen:?}; cost {cost:?}");
}

/// What opening and closing a window costs the step (run with `--nocapture`).
#[test]
#[ignore = "needs a Docker daemon"]
fn begin_and_end_cost_per_window() {
    const WINDOWS: usize = 200;
    let monitor = Monitor::start(Duration::from_millis(100)).unwrap();
    let mut us = Vec::with_capacity(WINDOWS);
    for _ in 0..WINDOWS {
        let t = Instant::now();
        let w = monitor.begin();
        let s = monitor.end(w);
        us.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(s.samples >= 2, "{s:?}");
    }
    let cost = monitor.stop();
    let med = median(us);
    eprintln!("begin()+end(): median {med:.1} µs over {WINDOWS} windows; cost {cost:?}");
    assert!(med > 0.0);
}

#[test]
#[ignore = "needs a Docker daemon"]
fn probe_reports_every_phase_of_every_run_and_leaves_nothing() {
    let _lock = containers_lock();
    let label = run_label("phases");
    for _ in 0..5 {
        let r =
            probe::lifecycle(&spec(&label, &["true"], Duration::from_secs(60)), &|| false).unwrap();
        let names: Vec<&str> = r.phases.iter().map(|p| p.0).collect();
        assert_eq!(names, PHASES);
        for (name, d) in &r.phases {
            assert!(*d > Duration::ZERO, "{name}: {r:?}");
        }
        assert_eq!(r.exit_code, 0);
        assert!(!r.container_id.is_empty());
        eprintln!(
            "probe: {:?}",
            r.phases
                .iter()
                .map(|(n, d)| format!("{n} {:.2}ms", d.as_secs_f64() * 1e3))
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(labelled(&label), Vec::<String>::new());
}

#[test]
#[ignore = "needs a Docker daemon"]
fn probe_passes_the_exit_code_through() {
    let _lock = containers_lock();
    let label = run_label("exit");
    let r = probe::lifecycle(
        &spec(&label, &["sh", "-c", "exit 3"], Duration::from_secs(60)),
        &|| false,
    )
    .unwrap();
    assert_eq!(r.exit_code, 3);
    assert_eq!(labelled(&label), Vec::<String>::new());
}

#[test]
#[ignore = "needs a Docker daemon"]
fn probe_timeout_kills_and_removes_the_container() {
    let _lock = containers_lock();
    let label = run_label("timeout");
    let t = Instant::now();
    let e = probe::lifecycle(
        &spec(&label, &["sleep", "60"], Duration::from_secs(2)),
        &|| false,
    )
    .unwrap_err();
    assert!(matches!(e, DockerError::ProbeTimeout { .. }), "{e:?}");
    assert!(e.to_string().contains("within 2s"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(40), "{:?}", t.elapsed());
    assert_eq!(labelled(&label), Vec::<String>::new());
}

#[test]
#[ignore = "needs a Docker daemon"]
fn probe_cancellation_removes_the_container() {
    let _lock = containers_lock();
    let label = run_label("cancel");
    let t = Instant::now();
    let cancel = move || t.elapsed() > Duration::from_millis(1500);
    let e = probe::lifecycle(
        &spec(&label, &["sleep", "60"], Duration::from_secs(60)),
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(e, DockerError::Cancelled), "{e:?}");
    assert_eq!(labelled(&label), Vec::<String>::new());
}

#[test]
#[ignore = "needs a Docker daemon"]
fn probe_of_a_missing_image_says_nothing_is_pulled() {
    let mut s = spec(&run_label("missing"), &["true"], Duration::from_secs(10));
    s.image = "benchmark-test-no-such-image:nope".into();
    let e = probe::lifecycle(&s, &|| false).unwrap_err();
    assert!(matches!(e, DockerError::ImageMissing { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("image `benchmark-test-no-such-image:nope` not found locally"),
        "{e}"
    );
}

#[test]
#[ignore = "needs a Docker daemon"]
fn leftovers_are_swept_by_label() {
    let _lock = containers_lock();
    let label = run_label("sweep");
    for _ in 0..2 {
        docker_cli(&[
            "create",
            "--network",
            "none",
            "--label",
            "benchmark.probe=1",
            "--label",
            &format!("benchmark.run={label}"),
            image(),
            "true",
        ]);
    }
    assert_eq!(labelled(&label).len(), 2);
    assert_eq!(probe::remove_labelled(&label).unwrap(), 2);
    assert_eq!(probe::remove_labelled(&label).unwrap(), 0);
    assert_eq!(labelled(&label), Vec::<String>::new());
}

/// Built by `cargo xtask image` (a static release build: minutes, once).
const OFFLINE: &str = "benchmark-test-offline:latest";

/// Build the offline image with `cargo xtask image`, once per test process.
fn offline_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let built = Command::new(cargo)
            .args(["xtask", "image", "--tag", OFFLINE])
            .current_dir(root)
            // Its own target directory: this test's cargo holds the lock on the default one.
            .env("CARGO_TARGET_DIR", format!("{root}/target/offline-image"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&built.stdout);
        assert!(
            built.status.success(),
            "cargo xtask image: {stdout}{}",
            String::from_utf8_lossy(&built.stderr)
        );
        assert!(stdout.starts_with(&format!("{OFFLINE}: ")), "{stdout}");
    });
    OFFLINE
}

#[test]
#[ignore = "needs a Docker daemon"]
fn offline_image_builds_small_and_runs_without_network() {
    offline_image();

    let size: u64 = String::from_utf8_lossy(
        &docker_cli(&["image", "inspect", "-f", "{{.Size}}", OFFLINE]).stdout,
    )
    .trim()
    .parse()
    .unwrap();
    eprintln!("offline image: {:.1} MiB", size as f64 / 1048576.0);
    assert!(size < 20 * 1024 * 1024, "{size} bytes");

    let config = docker_cli(&["image", "inspect", "-f", "{{json .Config}}", OFFLINE]);
    let config: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap();
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/bin/benchmark", "entrypoint"])
    );
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(config["WorkingDir"], "/workspace");
    assert!(
        config["Volumes"].get("/workspace/output").is_some(),
        "{config}"
    );

    // The binary and the shell run as `bench`, and the output volume is writable.
    let out = docker_cli(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "/bin/sh",
        OFFLINE,
        "-c",
        "benchmark --version && id -un && touch /workspace/output/ok && ls /workspace/output",
    ]);
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        lines,
        [
            format!("benchmark {}", env!("CARGO_PKG_VERSION")),
            "bench".into(),
            "ok".into()
        ]
    );
    let schema = docker_cli(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "/bin/benchmark",
        OFFLINE,
        "schema",
    ]);
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(
        schema["properties"]["schema_version"].is_object(),
        "{schema}"
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The benchmark of the issue, printed side by side (run with `--nocapture`; numbers are
/// the daemon's, so only sanity is asserted): the probe's phase medians, its whole call
/// (runtime, connection, image check included), and `docker run --rm IMAGE true` timed from
/// outside; then the monitor's cost with three idle containers.
#[test]
#[ignore = "needs a Docker daemon"]
fn bench_probe_against_docker_run_and_monitor_cost() {
    let _lock = containers_lock();
    const RUNS: usize = 10;
    let image = image();
    let label = run_label("bench");
    let spec = spec(&label, &["true"], Duration::from_secs(60));
    let mut phases: Vec<Vec<f64>> = vec![Vec::new(); PHASES.len()];
    let (mut totals, mut calls, mut cli) = (Vec::new(), Vec::new(), Vec::new());
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    // One of each first, not counted: the daemon's first container of a kind is slower.
    probe::lifecycle(&spec, &|| false).unwrap();
    docker_cli(&["run", "--rm", "--network", "none", image, "true"]);
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = probe::lifecycle(&spec, &|| false).unwrap();
        calls.push(ms(t.elapsed()));
        totals.push(ms(r.total()));
        for (i, (_, d)) in r.phases.iter().enumerate() {
            phases[i].push(ms(*d));
        }
        let t = Instant::now();
        docker_cli(&["run", "--rm", "--network", "none", image, "true"]);
        cli.push(ms(t.elapsed()));
    }
    eprintln!("median of {RUNS} runs, ms (image {image}, `true`):");
    for (name, v) in PHASES.iter().zip(phases) {
        eprintln!("  probe {name:<8} {:>8.2}", median(v));
    }
    let (total, call, cli) = (median(totals), median(calls), median(cli));
    eprintln!("  probe phases total  {total:>8.2}");
    eprintln!("  probe call (all in) {call:>8.2}");
    eprintln!("  docker run --rm     {cli:>8.2}");
    assert!(total > 0.0 && total <= call, "{total} {call}");
    assert_eq!(labelled(&label), Vec::<String>::new());

    let sleepers = run_label("bench-monitor");
    for _ in 0..3 {
        docker_cli(&[
            "run",
            "-d",
            "--network",
            "none",
            "--label",
            "benchmark.probe=1",
            "--label",
            &format!("benchmark.run={sleepers}"),
            image,
            "sleep",
            "60",
        ]);
    }
    let monitor = Monitor::start(Duration::from_millis(100)).unwrap();
    let w = monitor.begin();
    std::thread::sleep(Duration::from_secs(5));
    let seen = monitor.end(w);
    let cost = monitor.stop();
    probe::remove_labelled(&sleepers).unwrap();
    eprintln!(
        "monitor at 100ms, 3 idle containers, 5s: {} ticks, {} stats rounds, {} API calls, \
         {:.1} ms CPU = {:.2}% of a core; saw {seen:?}",
        cost.ticks,
        cost.stats_rounds,
        cost.api_calls,
        ms(cost.cpu),
        cost.pct_of_core()
    );
    assert!(seen.containers_peak >= 3, "{seen:?}");
}

// ---- Through the real binary ---------------------------------------------------------

use crate::helper::{bench, run_receipt_in, summary_in};
use benchmark::receipt::Status;

#[test]
fn docker_preflight_with_a_bogus_docker_host_exits_4_saying_what_to_do() {
    let bogus = |suite: &str| {
        let b = bench().suite(suite);
        let done = b
            .command()
            .arg("run")
            .env("DOCKER_HOST", "unix:///nonexistent.sock")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
        (b, done.status.code(), stderr)
    };
    let (_, code, stderr) =
        bogus("[[preflight]]\ndocker_daemon = true\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("pre-flight failed"), "{stderr}");
    assert!(
        stderr.contains("no Docker socket at /nonexistent.sock: start the daemon"),
        "{stderr}"
    );
    // `[monitor] docker = "on"` needs the daemon just as much.
    let (_, code, stderr) =
        bogus("[monitor]\ndocker = \"on\"\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("[monitor] docker = \"on\": no Docker socket"),
        "{stderr}"
    );
    // In `auto` (the default), a missing daemon is one warning, not an error.
    let (b, code, stderr) =
        bogus("[suite]\nruns = 2\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    assert_eq!(code, Some(0), "{stderr}");
    let s = summary_in(&b.path("bench-out"));
    let w = s
        .warnings
        .iter()
        .filter(|w| w.message.contains("container monitoring is off"))
        .count();
    assert_eq!(w, 1, "{:?}", s.warnings);
    assert!(s.environment.docker.is_none() && s.environment.docker_monitor.is_none());
}

#[test]
#[ignore = "needs a Docker daemon"]
fn docker_preflight_passes_and_the_daemon_is_in_the_fingerprint() {
    let b = bench().suite(
        "[suite]\nruns = 1\nwarmup = 0\n[monitor]\ndocker = \"off\"\n\
         [[preflight]]\ndocker_daemon = true\n[[step]]\nid = \"a\"\nrun = \"true\"\n",
    );
    b.run().code(0);
    let s = summary_in(&b.path("bench-out"));
    let d = s.environment.docker.expect("daemon recorded");
    assert!(
        !d.version.is_empty() && d.api_version.starts_with("1."),
        "{d:?}"
    );
}

#[test]
#[ignore = "needs a Docker daemon"]
fn a_step_that_starts_three_containers_shows_a_peak_of_at_least_three() {
    let _lock = containers_lock();
    let image = image();
    let label = run_label("cli-three");
    let b = bench().suite(&format!(
        r#"
[suite]
runs = 2
warmup = 0
[monitor]
interval = "50ms"
docker = "on"
[[step]]
id = "three"
run = """
for i in 1 2 3; do
  docker run -d --network none --label benchmark.probe=1 --label benchmark.run={label} {image} sleep 30 >/dev/null
done
sleep 0.3
"""
[[teardown]]
run = "docker rm -f $(docker ps -aq --filter label=benchmark.run={label}) >/dev/null"
"#
    ));
    b.run().code(0);
    let out = b.path("bench-out");
    for n in 1..=2 {
        let run = run_receipt_in(&out, n);
        let c = run.steps[0].containers.expect("containers monitored");
        assert!(c.containers_peak >= 3, "run {n}: {c:?}");
        assert!(c.containers_end >= 3, "run {n}: {c:?}");
    }
    let s = summary_in(&out);
    assert!(s.steps[0].containers.as_ref().unwrap().containers_peak.min >= 3.0);
    let m = s.environment.docker_monitor.expect("monitor cost reported");
    assert_eq!(m.backend, "docker-api");
    assert!(m.ticks > 0 && m.cpu_ms > 0.0, "{m:?}");
    assert!(s.environment.docker.is_some());
    assert_eq!(labelled(&label), Vec::<String>::new());
}

#[test]
#[ignore = "needs a Docker daemon"]
fn a_load_scenario_whose_operations_start_containers_has_them_monitored() {
    let _lock = containers_lock();
    let image = image();
    let label = run_label("cli-load");
    let b = bench().suite(&format!(
        r#"
[suite]
runs = 1
warmup = 0
[monitor]
interval = "50ms"
docker = "on"
[[load]]
id = "containers"
run = "docker run --rm --network none --label benchmark.probe=1 --label benchmark.run={label} {image} sleep 0.5"
total = 4
concurrency = 2
"#
    ));
    b.run().code(0);
    let run = run_receipt_in(&b.path("bench-out"), 1);
    let l = &run.load[0];
    assert_eq!((l.ops, l.succeeded), (4, 4), "{:?}", l.failure_samples);
    let c = l.containers.as_ref().expect("containers monitored");
    assert!(c.containers_peak >= 2, "{c:?}");
    assert_eq!(labelled(&label), Vec::<String>::new());
}

#[test]
#[ignore = "needs a Docker daemon"]
fn probe_steps_report_every_phase_of_every_run_and_leave_nothing_behind() {
    let _lock = containers_lock();
    let b = bench().suite(&format!(
        r#"
[suite]
runs = 3
warmup = 1
[monitor]
docker = "off"
[[step]]
id = "container-start"
probe = "container"
image = "{}"
cmd = ["true"]
"#,
        image()
    ));
    b.run()
        .code(0)
        .stdout_has("container-start · phase start: median ");
    let out = b.path("bench-out");
    for n in 1..=3 {
        let step = &run_receipt_in(&out, n).steps[0];
        let names: Vec<_> = step.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, PHASES, "run {n}");
        assert!(
            step.phases.iter().all(|p| p.duration_ms > 0.0),
            "{:?}",
            step.phases
        );
        let sum: f64 = step.phases.iter().map(|p| p.duration_ms).sum();
        assert!((sum - step.wall_ms).abs() < 1e-6, "wall is create..remove");
        assert_eq!(step.measurement, "docker-api");
        assert!(step.cpu_user_ms.is_none() && step.peak_rss_bytes.is_none());
    }
    let s = summary_in(&out);
    let phases: Vec<_> = s.steps[0].phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(phases, PHASES);
    assert!(s.steps[0].phases.iter().all(|p| p.duration_ms.n == 3));
    assert_eq!(probe_containers(), Vec::<String>::new());
}

#[test]
#[ignore = "needs a Docker daemon"]
fn a_probe_that_times_out_fails_the_run_and_leaves_nothing_behind() {
    let _lock = containers_lock();
    let b = bench().suite(&format!(
        r#"
[suite]
runs = 1
warmup = 0
[monitor]
docker = "off"
[[step]]
id = "hangs"
probe = "container"
image = "{}"
cmd = ["sleep", "60"]
timeout = "2s"
"#,
        image()
    ));
    let started = Instant::now();
    b.run().code(3).stderr_has("TIMED OUT");
    assert!(started.elapsed() < Duration::from_secs(40));
    let run = run_receipt_in(&b.path("bench-out"), 1);
    assert_eq!(run.steps[0].status, Status::TimedOut);
    assert_eq!(probe_containers(), Vec::<String>::new());
}

/// `docker run` of the appliance with `out` as its output volume, as the host's root.
fn docker_run_appliance(extra: &[&str], out: &Path) -> Output {
    let out_mount = format!("{}:/workspace/output", out.display());
    let mut args = vec![
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "0:0",
        "-v",
        &out_mount,
    ];
    args.extend_from_slice(extra);
    Command::new("docker").args(&args).output().unwrap()
}

#[test]
#[ignore = "needs a Docker daemon"]
fn the_offline_appliance_writes_a_valid_perf_json_and_exits_with_the_verdict() {
    let image = offline_image();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let done = docker_run_appliance(&[image, "--runs", "2", "--warmup", "0"], &out);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("container appliance"), "{stderr}");
    assert!(
        stderr.contains("output: /workspace/output (mounted)"),
        "{stderr}"
    );
    assert!(stderr.contains("in a docker container"), "{stderr}");
    assert!(
        stderr.contains("provenance: image benchmark offline "),
        "{stderr}"
    );
    assert!(
        stderr.contains(" (commit "),
        "the build names its commit: {stderr}"
    );
    let s = summary_in(&out);
    assert_eq!((s.suite.name.as_str(), s.runs), ("system-baseline", 2));
    run_receipt_in(&out, 2);

    // A suite whose step fails: non-zero, receipts still written.
    let suites = dir.path().join("suites");
    std::fs::create_dir(&suites).unwrap();
    std::fs::write(
        suites.join("bad.toml"),
        "[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"breaks\"\nrun = \"exit 5\"\n",
    )
    .unwrap();
    let mount = format!("{}:/suites:ro", suites.display());
    let done = docker_run_appliance(
        &[
            "-v",
            &mount,
            "-e",
            "BENCHMARK_SUITE=/suites/bad.toml",
            image,
        ],
        &out,
    );
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("verdict: a step failed (exit 3)"),
        "{stderr}"
    );
    assert_eq!(summary_in(&out).steps[0].failures, 1);

    // The image's own suite, at /workspace/benchmark.toml, is the default.
    let baked = dir.path().join("baked.toml");
    std::fs::write(
        &baked,
        "[suite]\nname = \"baked\"\nruns = 1\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"true\"\n",
    )
    .unwrap();
    let mount = format!("{}:/workspace/benchmark.toml:ro", baked.display());
    let done = docker_run_appliance(&["-v", &mount, image], &out);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(summary_in(&out).suite.name, "baked");
}

#[test]
#[ignore = "needs a Docker daemon"]
fn docker_stop_keeps_the_receipts_of_completed_runs() {
    let image = offline_image();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let suites = dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::create_dir(&out).unwrap();
    std::fs::write(
        suites.join("slow.toml"),
        "[suite]\nruns = 100\nwarmup = 0\n[[step]]\nid = \"nap\"\nrun = \"sleep 0.3\"\n",
    )
    .unwrap();
    let name = format!("benchmark-test-stop-{}", std::process::id());
    let out_mount = format!("{}:/workspace/output", out.display());
    let suite_mount = format!("{}:/suites:ro", suites.display());
    docker_cli(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--user",
        "0:0",
        "-v",
        &out_mount,
        "-v",
        &suite_mount,
        "-e",
        "BENCHMARK_SUITE=/suites/slow.toml",
        image,
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.join("run_2.json").exists() {
        assert!(Instant::now() < deadline, "no run completed");
        std::thread::sleep(Duration::from_millis(50));
    }
    docker_cli(&["stop", "-t", "20", &name]);
    let inspect = docker_cli(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
    let code = String::from_utf8_lossy(&inspect.stdout).trim().to_owned();
    docker_cli(&["rm", &name]);
    assert_eq!(code, "130", "SIGTERM from docker stop: interrupted");
    let s = summary_in(&out);
    assert_eq!(s.status, Status::Interrupted);
    assert!(s.runs >= 2 && s.runs < 100, "{}", s.runs);
    for n in 1..=s.runs {
        run_receipt_in(&out, n);
    }
}
