//! Load scenarios against independent drivers, side by side in one run: medians of
//! interleaved rounds (these machines are shared and noisy), each row with its target.
//!
//! 1. command operations per second with 2 workers (`true` through `sh -c`), against a
//!    raw spawn loop: 2 threads spawning `sh -c true` and waiting, nothing else;
//! 2. HTTP requests per second over 8 connections against `wrk -t2 -c8` on the same
//!    loopback server (a keep-alive server in this process, a thread per connection);
//! 3. the harness's peak RSS driving 10^5 and 10^6 HTTP operations: flat, under 50 MiB
//!    (the kernel's ru_maxrss of the `benchmark` process).
//!
//! Run with `cargo bench --bench load`; `wrk` on PATH gives the HTTP row's independent
//! column (`apt-get install wrk`).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{BIN, Rows, Target, available, json, timed};

const ROUNDS: usize = 3;
/// Command operations per round.
const COMMAND_OPS: u64 = 2000;
/// Seconds of HTTP load per round.
const HTTP_SECS: u64 = 4;
const CONNECTIONS: u32 = 8;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let wrk = available("wrk", &["--version"]) || wrk_runs();
    let port = serve();
    let url = format!("http://127.0.0.1:{port}/");
    println!(
        "benchmark load — {ROUNDS} interleaved rounds, medians of the rounds (cores: {})\n",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut rows = Rows::default();
    for round in 1..=ROUNDS {
        eprintln!("round {round}/{ROUNDS}");
        commands(d, &mut rows);
        http(d, &url, wrk, &mut rows);
    }
    eprintln!("harness RSS at 10^5 and 10^6 operations");
    for total in [100_000u64, 1_000_000] {
        let suite = load_suite(
            d,
            &format!("http = {{ url = \"{url}\" }}\ntotal = {total}\nconcurrency = {CONNECTIONS}"),
        );
        let out = d.join("out-rss");
        let _ = std::fs::remove_dir_all(&out);
        let (wall, rss) = timed(
            Command::new(BIN)
                .args(["run", "--quiet", "--output"])
                .arg(&out)
                .arg(&suite),
        );
        let r = &json(&out.join("run_1.json"))["load"][0];
        assert_eq!(r["ops"].as_u64(), Some(total), "{r}");
        eprintln!(
            "  {total} operations in {:.1} s ({:.0}/s)",
            wall.as_secs_f64(),
            r["throughput_per_s"].as_f64().unwrap_or(0.0)
        );
        rows.add(
            &format!("harness peak RSS, {total} HTTP operations"),
            "MiB",
            rss as f64 / f64::from(1 << 20),
            None,
            "",
            Target::Max(50.0),
        );
    }
    rows.print();
    if !wrk {
        println!(
            "wrk is not on PATH: its row's independent column is missing (apt-get install wrk)"
        );
    }
}

/// `wrk --version` exits 1 on some builds; this asks whether it runs at all.
fn wrk_runs() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A one-run suite with one `[[load]]` scenario `l` (the TOML after its id).
fn load_suite(dir: &Path, scenario: &str) -> std::path::PathBuf {
    let p = dir.join("load.toml");
    std::fs::write(
        &p,
        format!(
            "[suite]\nruns = 1\nwarmup = 0\n[monitor]\nenabled = false\ndocker = \"off\"\n\
             [[load]]\nid = \"l\"\n{scenario}\n"
        ),
    )
    .unwrap();
    p
}

/// `benchmark run` of a load suite; the scenario's throughput from `run_1.json`.
fn throughput(dir: &Path, suite: &Path) -> f64 {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    timed(
        Command::new(BIN)
            .args(["run", "--quiet", "--output"])
            .arg(&out)
            .arg(suite),
    );
    let r = &json(&out.join("run_1.json"))["load"][0];
    assert_eq!(r["failed"].as_u64(), Some(0), "{r}");
    r["throughput_per_s"].as_f64().unwrap()
}

fn commands(dir: &Path, rows: &mut Rows) {
    let suite = load_suite(
        dir,
        &format!("run = \"true\"\ntotal = {COMMAND_OPS}\nconcurrency = 2\nwarmup_ops = 20"),
    );
    let ours = throughput(dir, &suite);
    // The raw loop: 2 threads, each spawning and waiting, the same number in all.
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..COMMAND_OPS / 2 {
                    let st = Command::new("sh")
                        .args(["-c", "true"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .unwrap();
                    assert!(st.success());
                }
            });
        }
    });
    let raw = COMMAND_OPS as f64 / started.elapsed().as_secs_f64();
    rows.add(
        "command operations/s, 2 workers (`sh -c true`)",
        "/s",
        ours,
        Some(raw),
        "raw spawn loop, 2 threads",
        Target::AtLeast(0.9),
    );
}

fn http(dir: &Path, url: &str, wrk: bool, rows: &mut Rows) {
    let suite = load_suite(
        dir,
        &format!(
            "http = {{ url = \"{url}\" }}\nduration = \"{HTTP_SECS}s\"\nconcurrency = {CONNECTIONS}\nwarmup_ops = 1000"
        ),
    );
    let ours = throughput(dir, &suite);
    let theirs = wrk.then(|| {
        let out = Command::new("wrk")
            .args([
                "-t2",
                &format!("-c{CONNECTIONS}"),
                &format!("-d{HTTP_SECS}s"),
                url,
            ])
            .output()
            .expect("wrk runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
    });
    rows.add(
        "HTTP requests/s, 8 connections, loopback keep-alive",
        "/s",
        ours,
        theirs,
        "wrk -t2 -c8",
        Target::AtLeast(0.9),
    );
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 answering every request with `ok`: a
/// thread per connection, requests counted by their blank line (no bodies are sent).
fn serve() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || connection(conn));
        }
    });
    port
}

fn connection(mut conn: TcpStream) {
    const RESPONSE: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = 0usize; // bytes of a partial "\r\n\r\n" at the end of the last read
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        let n = match conn.read(&mut buf[carry..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let len = carry + n;
        let mut requests = 0;
        let mut i = 0;
        while let Some(pos) = find(&buf[i..len], b"\r\n\r\n") {
            requests += 1;
            i += pos + 4;
        }
        // Keep up to 3 trailing bytes that may begin a terminator.
        let keep = (len - i).min(3);
        buf.copy_within(len - keep..len, 0);
        carry = keep;
        out.clear();
        for _ in 0..requests {
            out.extend_from_slice(RESPONSE);
        }
        if !out.is_empty() && conn.write_all(&out).is_err() {
            return;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
