//! Misbehaving Docker endpoints, served by the test on 127.0.0.1 (`DOCKER_HOST=tcp://…`):
//! one that stalls after its headers, one that streams a body without end, one that
//! answers garbage. The real binary must finish within its timeouts plus a few seconds,
//! with bounded memory, and honour SIGTERM meanwhile. No Docker daemon is needed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::helper::{BIN, bench, summary_in};

/// How a fake endpoint answers every request.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// `200 OK` with a large Content-Length, then one byte every 0.5 s.
    Stall,
    /// `200 OK`, chunked, 64 KiB chunks as fast as the client reads.
    Endless,
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
        std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let flag = Arc::clone(&flag);
                        std::thread::spawn(move || serve(conn, behaviour, &flag));
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

fn serve(mut conn: TcpStream, behaviour: Behaviour, stop: &AtomicBool) {
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
    match behaviour {
        Behaviour::Stall => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n";
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
        Behaviour::Endless => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            let mut chunk = format!("{:x}\r\n", 65536).into_bytes();
            chunk.extend(std::iter::repeat_n(b'[', 65536));
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

/// What a finished invocation of the binary did.
#[derive(Debug)]
struct Finished {
    code: Option<i32>,
    elapsed: Duration,
    /// The harness's peak resident memory (`ru_maxrss` from wait4).
    peak_rss_bytes: u64,
    stderr: String,
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
    let pid = i32::try_from(child.id()).unwrap();
    let started = Instant::now();
    let mut signalled = false;
    loop {
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid out-parameter.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: our own child; valid pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
        if r == pid {
            let code = if libc::WIFEXITED(status) {
                Some(libc::WEXITSTATUS(status))
            } else {
                None
            };
            // Keep std from waiting for a reaped pid.
            std::mem::forget(child);
            return Finished {
                code,
                elapsed: started.elapsed(),
                peak_rss_bytes: u64::try_from(ru.ru_maxrss).unwrap() * 1024,
                stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
            };
        }
        if let Some(after) = signal_after
            && !signalled
            && started.elapsed() >= after
        {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
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
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The daemon calls' deadline (5 s) plus a few seconds.
const RUN_LIMIT: Duration = Duration::from_secs(12);
/// The harness's memory stays well below this whatever the endpoint sends.
const MEMORY_LIMIT: u64 = 128 << 20;

const QUICK: &str = "[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"true\"\n";

/// `docker = "auto"` (the default): the run ends with one warning, within its timeouts.
fn auto_run_survives(behaviour: Behaviour) {
    let fake = Fake::start(behaviour);
    let b = bench().suite(QUICK);
    let done = run_bin(b.dir.path(), &fake.host(), &["run"], RUN_LIMIT, None);
    eprintln!(
        "{behaviour:?}: run exited {:?} after {:?}, peak RSS {} MiB",
        done.code,
        done.elapsed,
        done.peak_rss_bytes >> 20
    );
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(
        done.peak_rss_bytes < MEMORY_LIMIT,
        "peak RSS {} MiB",
        done.peak_rss_bytes >> 20
    );
    let s = summary_in(&b.path("bench-out"));
    let warned = s
        .warnings
        .iter()
        .filter(|w| w.contains("container monitoring is off"))
        .count();
    assert_eq!(warned, 1, "{:?}", s.warnings);
}

#[test]
fn a_run_against_an_endpoint_that_stalls_after_its_headers_finishes() {
    auto_run_survives(Behaviour::Stall);
}

#[test]
fn a_run_against_an_endless_body_finishes_with_bounded_memory() {
    auto_run_survives(Behaviour::Endless);
}

#[test]
fn a_run_against_a_garbage_endpoint_finishes() {
    auto_run_survives(Behaviour::Garbage);
}

/// `check` with `docker_daemon = true`, or `[monitor] docker = "on"`: exit 4, in time.
#[test]
fn check_against_misbehaving_endpoints_fails_preflight_in_time() {
    let suites = [
        "[[preflight]]\ndocker_daemon = true\n[[step]]\nid = \"a\"\nrun = \"true\"\n",
        "[monitor]\ndocker = \"on\"\n[[step]]\nid = \"a\"\nrun = \"true\"\n",
    ];
    for behaviour in [Behaviour::Stall, Behaviour::Endless, Behaviour::Garbage] {
        let fake = Fake::start(behaviour);
        for suite in suites {
            let b = bench().suite(suite);
            let done = run_bin(b.dir.path(), &fake.host(), &["check"], RUN_LIMIT, None);
            eprintln!(
                "{behaviour:?}: check exited {:?} after {:?}, peak RSS {} MiB",
                done.code,
                done.elapsed,
                done.peak_rss_bytes >> 20
            );
            assert_eq!(done.code, Some(4), "{behaviour:?} {suite}\n{}", done.stderr);
            assert!(done.stderr.contains("pre-flight failed"), "{}", done.stderr);
            assert!(done.peak_rss_bytes < MEMORY_LIMIT, "{behaviour:?}");
        }
    }
}

/// SIGTERM while the monitor waits on a stalled endpoint: exit 130 within the grace.
#[test]
fn sigterm_is_honoured_while_the_endpoint_stalls() {
    let fake = Fake::start(Behaviour::Stall);
    for suite in [
        QUICK.to_owned(),
        format!("[monitor]\ndocker = \"on\"\n{QUICK}"),
        format!("[[preflight]]\ndocker_daemon = true\n{QUICK}"),
    ] {
        let b = bench().suite(&suite);
        let done = run_bin(
            b.dir.path(),
            &fake.host(),
            &["run"],
            RUN_LIMIT,
            Some(Duration::from_millis(1000)),
        );
        eprintln!("SIGTERM at 1s: exit {:?} after {:?}", done.code, done.elapsed);
        assert_eq!(done.code, Some(130), "{suite}\n{}", done.stderr);
        // 1 s before the signal, the 2 s kill grace, and a little slack.
        assert!(done.elapsed < Duration::from_secs(4), "{:?}", done.elapsed);
    }
}
