//! Misbehaving Docker endpoints, served by the test on 127.0.0.1 (`DOCKER_HOST=tcp://…`):
//! one that stalls after its headers, one that streams a body without end, one that
//! answers `/version` but lists containers without end, one that answers garbage. The
//! real binary must finish within its timeouts plus a few seconds, with bounded memory,
//! say which endpoint failed, and honour SIGTERM meanwhile. No Docker daemon is needed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::helper::{BIN, bench, summary_in};

/// How a fake endpoint answers every request.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// `200 OK` with a Content-Length of 1 MB, then one byte every 0.5 s.
    Stall,
    /// The same with a Content-Length of 100 MB.
    StallHuge,
    /// `200 OK`, chunked, 64 KiB chunks as fast as the client reads.
    Endless,
    /// A daemon in all but `GET /containers/json`, whose JSON array never ends.
    EndlessList,
    /// A daemon whose first container list is `[]` and whose later lists stall like
    /// [`Behaviour::Stall`]: the monitor starts, then waits on the daemon mid-run.
    StallLater,
    /// Bytes that are not HTTP, without end.
    Garbage,
}

/// A fake endpoint on 127.0.0.1; stops serving when dropped.
struct Fake {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Fake {
    fn start(behaviour: Behaviour) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let lists = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let flag = Arc::clone(&flag);
                        let lists = Arc::clone(&lists);
                        std::thread::spawn(move || serve(conn, behaviour, &flag, &lists));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Fake { port, stop }
    }

    fn host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }
}

fn serve(mut conn: TcpStream, behaviour: Behaviour, stop: &AtomicBool, lists: &AtomicUsize) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // The request's head (a GET has no body).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let started = Instant::now();
    let limit = Duration::from_secs(120);
    let go_on = || !stop.load(Ordering::SeqCst) && started.elapsed() < limit;
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/");
    let is_list = path.contains("/containers/json");
    if matches!(behaviour, Behaviour::EndlessList | Behaviour::StallLater) && !is_list {
        return daemon_like(conn, path, &go_on);
    }
    if matches!(behaviour, Behaviour::StallLater) && lists.fetch_add(1, Ordering::SeqCst) == 0 {
        let _ = conn.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]",
        );
        return;
    }
    match behaviour {
        Behaviour::Stall | Behaviour::StallHuge | Behaviour::StallLater => {
            let length = if !matches!(behaviour, Behaviour::StallHuge) {
                1_000_000
            } else {
                100_000_000
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
            );
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            while go_on() {
                if conn.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        Behaviour::Endless | Behaviour::EndlessList => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            // Valid JSON that never closes: a list of containers without end.
            let body: Vec<u8> = if matches!(behaviour, Behaviour::EndlessList) {
                let mut b = b"[".to_vec();
                while b.len() < 65536 {
                    b.extend_from_slice(br#"{"Id":"0123456789abcdef","Names":["/x"]},"#);
                }
                b
            } else {
                vec![b'['; 65536]
            };
            let mut chunk = format!("{:x}\r\n", body.len()).into_bytes();
            chunk.extend_from_slice(&body);
            chunk.extend_from_slice(b"\r\n");
            while go_on() {
                if conn.write_all(&chunk).is_err() {
                    return;
                }
            }
        }
        Behaviour::Garbage => {
            let junk: Vec<u8> = (0..65536u32).map(|i| (i * 7919 % 251) as u8).collect();
            while go_on() {
                if conn.write_all(&junk).is_err() {
                    return;
                }
            }
        }
    }
}

/// Answer as a healthy daemon would: `/_ping`, `/version`, and an `/events` stream that
/// stays open without events.
fn daemon_like(mut conn: TcpStream, path: &str, go_on: &dyn Fn() -> bool) {
    let answer = |body: &str, kind: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let reply = if path.contains("/_ping") {
        answer("OK", "text/plain")
    } else if path.contains("/version") {
        answer(
            r#"{"Version":"27.0.0","ApiVersion":"1.47","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}"#,
            "application/json",
        )
    } else if path.contains("/events") {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if conn.write_all(head.as_bytes()).is_ok() {
            while go_on() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        return;
    } else {
        let body = r#"{"message":"not in this fake"}"#;
        format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let _ = conn.write_all(reply.as_bytes());
}

/// What a finished invocation of the binary did.
#[derive(Debug)]
struct Finished {
    code: Option<i32>,
    elapsed: Duration,
    /// The harness's peak resident memory: the highest `VmHWM` of /proc/PID/status read
    /// while it ran (every 10 ms; the high-water mark only grows, so at most the last
    /// 10 ms escape it). Not wait4's `ru_maxrss`: Linux carries that over `execve`, so it
    /// would include this test process's own memory at the fork.
    peak_rss_bytes: u64,
    stderr: String,
}

/// `VmHWM` of a running process, in bytes.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Run the binary in `dir` with `DOCKER_HOST=host`; kill it and fail if it is still
/// running after `limit`. `signal_after`: send SIGTERM this long after the start.
fn run_bin(
    dir: &Path,
    host: &str,
    args: &[&str],
    limit: Duration,
    signal_after: Option<Duration>,
) -> Finished {
    let stderr_path = dir.join("stderr.txt");
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", host)
        .env_remove("BENCHMARK_OUTPUT")
        .env_remove("BENCHMARK_RUN_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    let mut signalled = false;
    let mut peak = 0;
    loop {
        // Read before looking for the exit: a process still running has its status.
        if let Some(hwm) = vm_hwm(pid) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return Finished {
                code: status.code(),
                elapsed: started.elapsed(),
                peak_rss_bytes: peak,
                stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
            };
        }
        if let Some(after) = signal_after
            && !signalled
            && started.elapsed() >= after
        {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(i32::try_from(pid).unwrap(), libc::SIGTERM) };
            signalled = true;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`benchmark {}` against {host} still running after {limit:?}: it hangs\n{}",
                args.join(" "),
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The daemon calls' deadline (5 s) plus a few seconds.
const RUN_LIMIT: Duration = Duration::from_secs(12);
/// The harness's memory stays well below this whatever the endpoint sends.
const MEMORY_LIMIT: u64 = 128 << 20;

const QUICK: &str = "[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"true\"\n";

const ALL: [Behaviour; 5] = [
    Behaviour::Stall,
    Behaviour::StallHuge,
    Behaviour::Endless,
    Behaviour::EndlessList,
    Behaviour::Garbage,
];

fn report(what: &str, behaviour: Behaviour, done: &Finished) {
    eprintln!(
        "{behaviour:?}: {what} exited {:?} after {:.2} s, peak RSS {:.1} MiB",
        done.code,
        done.elapsed.as_secs_f64(),
        done.peak_rss_bytes as f64 / f64::from(1 << 20)
    );
}

/// Below [`MEMORY_LIMIT`] (measured on Linux only: /proc).
fn assert_memory_bounded(done: &Finished) {
    if cfg!(target_os = "linux") {
        assert!(done.peak_rss_bytes > 0, "no memory figure");
    }
    assert!(
        done.peak_rss_bytes < MEMORY_LIMIT,
        "peak RSS {} MiB",
        done.peak_rss_bytes >> 20
    );
}

/// The message names the endpoint and says what to do about it.
fn assert_actionable(text: &str, host: &str) {
    assert!(text.contains(host), "does not name {host}: {text}");
    assert!(
        text.contains("DOCKER_HOST") || text.contains("docker info"),
        "does not say what to do: {text}"
    );
}

/// `docker = "auto"` (the default): the run ends with one warning, within its timeouts.
fn auto_run_survives(behaviour: Behaviour) {
    let fake = Fake::start(behaviour);
    let b = bench().suite(QUICK);
    let done = run_bin(b.dir.path(), &fake.host(), &["run"], RUN_LIMIT, None);
    report("run", behaviour, &done);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_memory_bounded(&done);
    let s = summary_in(&b.path("bench-out"));
    let warned: Vec<_> = s
        .warnings
        .iter()
        .filter(|w| w.message.contains("container monitoring is off"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", s.warnings);
    assert_actionable(&warned[0].message, &fake.host());
}

#[test]
fn a_run_against_an_endpoint_that_stalls_after_its_headers_finishes() {
    auto_run_survives(Behaviour::Stall);
}

#[test]
fn a_run_against_a_huge_announced_body_finishes() {
    auto_run_survives(Behaviour::StallHuge);
}

#[test]
fn a_run_against_an_endless_body_finishes_with_bounded_memory() {
    auto_run_survives(Behaviour::Endless);
}

#[test]
fn a_run_against_an_endless_container_list_finishes_with_bounded_memory() {
    auto_run_survives(Behaviour::EndlessList);
}

#[test]
fn a_run_against_a_garbage_endpoint_finishes() {
    auto_run_survives(Behaviour::Garbage);
}

/// The monitor started, then the daemon stalls on the list it makes every 5 s: the step
/// ends, and the run with it, without waiting for the daemon (exit 0, no warning).
#[test]
fn a_daemon_that_stalls_mid_run_does_not_hold_up_the_end() {
    let fake = Fake::start(Behaviour::StallLater);
    let b =
        bench().suite("[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"sleep 6\"\n");
    let done = run_bin(b.dir.path(), &fake.host(), &["run"], RUN_LIMIT, None);
    report("run", Behaviour::StallLater, &done);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    // 6 s of step; the list in flight since 5 s must not add its 5 s deadline.
    assert!(done.elapsed < Duration::from_secs(8), "{:?}", done.elapsed);
    assert_memory_bounded(&done);
    let s = summary_in(&b.path("bench-out"));
    assert!(
        !s.warnings
            .iter()
            .any(|w| w.message.contains("container monitoring")),
        "{:?}",
        s.warnings
    );
    assert!(
        s.environment.docker.is_some(),
        "the fake daemon answered /version"
    );
}

/// `check` and `run` with `[monitor] docker = "on"`, and `check` with
/// `docker_daemon = true`: exit 4 in time, naming the endpoint. (Against the endless list,
/// `/_ping` and `/version` do answer: `docker_daemon = true` passes there.)
#[test]
fn preflight_against_misbehaving_endpoints_fails_in_time() {
    const DAEMON: &str =
        "[[preflight]]\ndocker_daemon = true\n[[step]]\nid = \"a\"\nrun = \"true\"\n";
    const ON: &str = "[monitor]\ndocker = \"on\"\n[[step]]\nid = \"a\"\nrun = \"true\"\n";
    for behaviour in ALL {
        let fake = Fake::start(behaviour);
        let cases: &[(&str, &str)] = if matches!(behaviour, Behaviour::EndlessList) {
            &[("check", ON), ("run", ON)]
        } else {
            &[("check", DAEMON), ("check", ON), ("run", ON)]
        };
        for &(cmd, suite) in cases {
            let b = bench().suite(suite);
            let done = run_bin(b.dir.path(), &fake.host(), &[cmd], RUN_LIMIT, None);
            report(cmd, behaviour, &done);
            assert_eq!(done.code, Some(4), "{behaviour:?} {suite}\n{}", done.stderr);
            assert!(done.stderr.contains("pre-flight failed"), "{}", done.stderr);
            assert_actionable(&done.stderr, &fake.host());
            assert_memory_bounded(&done);
        }
    }
}

/// SIGTERM while the harness waits on a stalled endpoint (monitor start in `auto` and
/// `on`, the `docker_daemon` check): exit 130 well within the 2 s kill grace. A probe
/// step may add its 1 s sweep of probe containers.
#[test]
fn sigterm_is_honoured_while_the_endpoint_stalls() {
    let fake = Fake::start(Behaviour::Stall);
    let probe = "[suite]\nruns = 1\nwarmup = 0\n[monitor]\ndocker = \"off\"\n[[step]]\nid = \"p\"\nprobe = \"container\"\nimage = \"busybox:latest\"\ncmd = [\"true\"]\n";
    for (suite, grace) in [
        (QUICK.to_owned(), 2),
        (format!("[monitor]\ndocker = \"on\"\n{QUICK}"), 2),
        (format!("[[preflight]]\ndocker_daemon = true\n{QUICK}"), 2),
        (probe.to_owned(), 3),
    ] {
        let b = bench().suite(&suite);
        let signal_at = Duration::from_millis(1000);
        let done = run_bin(
            b.dir.path(),
            &fake.host(),
            &["run"],
            RUN_LIMIT,
            Some(signal_at),
        );
        let after = done.elapsed.saturating_sub(signal_at);
        eprintln!(
            "SIGTERM at 1 s: exit {:?}, {:.2} s after the signal",
            done.code,
            after.as_secs_f64()
        );
        assert_eq!(done.code, Some(130), "{suite}\n{}", done.stderr);
        assert!(
            after < Duration::from_secs(grace),
            "{after:?} after SIGTERM\n{suite}"
        );
    }
}

/// Issue 8 item 12: `check` runs the pre-flight `run` does, so `[monitor] docker = "on"`
/// without a daemon fails both alike: exit 4, the same error.
#[test]
fn check_fails_like_run_for_docker_on_without_a_daemon() {
    // A port nothing listens on: connections are refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("tcp://127.0.0.1:{port}");
    let b = bench().suite(&format!("[monitor]\ndocker = \"on\"\n{QUICK}"));
    let errors = |cmd: &str| {
        let done = run_bin(b.dir.path(), &host, &[cmd], RUN_LIMIT, None);
        let lines: Vec<String> = done
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:") || l.starts_with("  "))
            .map(str::to_owned)
            .collect();
        (done.code, lines, done.stderr)
    };
    let (run_code, run_err, run_all) = errors("run");
    let (check_code, check_err, check_all) = errors("check");
    assert_eq!(run_code, Some(4), "{run_all}");
    assert_eq!(check_code, Some(4), "{check_all}");
    assert!(!run_err.is_empty(), "{run_all}");
    assert_eq!(check_err, run_err, "check:\n{check_all}\nrun:\n{run_all}");
    assert!(
        check_all.contains("[monitor] docker = \"on\""),
        "{check_all}"
    );
    assert!(check_all.contains(&host), "{check_all}");
    assert!(!b.path("bench-out/perf.json").exists());
}
