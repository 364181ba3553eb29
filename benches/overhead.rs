//! The harness measured against independent measurers, side by side in one run: medians
//! of interleaved rounds (these machines are shared and noisy), each row with its target.
//!
//! 1. `true` right after a 50 ms idle step, and back to back: the reported wall time
//!    against `hyperfine -N 'sh -c true'` (median and p95);
//! 2. per-iteration cost of a one-step suite of `true`, whole process: the slope between
//!    200 and 600 runs (start-up cancels), against hyperfine over the same counts;
//! 3. a step writing 500 MB: reported wall time against `hyperfine --output=pipe`, and the
//!    harness's own CPU per GB;
//! 4. three concurrent 60 MiB children and a busy loop: the tree's peak memory and CPU
//!    time against BenchExec's `runexec --no-container`;
//! 5. the sampler's own CPU at 10 and 100 Hz;
//! 6. the harness's own peak RSS.
//!
//! Run with `cargo bench --bench overhead` (or `cargo xtask bench`); hyperfine and
//! runexec on PATH give the independent columns (rows without them say so).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{BIN, Rows, Target, available, json, median, percentile, timed};

const ROUNDS: usize = 3;
/// Runs per round for the per-run wall-time rows.
const RUNS: usize = 30;

fn main() {
    // `cargo bench` passes --bench; nothing to filter here.
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let hyperfine = available("hyperfine", &["--version"]);
    let runexec = available("runexec", &["--version"]);
    println!(
        "benchmark overhead — {ROUNDS} interleaved rounds, medians of the rounds \
         (cores: {})\n",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut rows = Rows::default();
    let mut rss = Vec::new();
    for round in 1..=ROUNDS {
        eprintln!("round {round}/{ROUNDS}");
        after_idle(d, hyperfine, &mut rows);
        slope(d, hyperfine, &mut rows, &mut rss);
        big_output(d, hyperfine, &mut rows);
        tree(d, runexec, &mut rows);
        sampler(d, &mut rows);
    }
    rows.print();
    if !hyperfine {
        println!("hyperfine is not on PATH: its rows are missing (apt-get install hyperfine)");
    }
    if !runexec {
        println!("runexec is not on PATH: its rows are missing (pip install benchexec)");
    }
    println!(
        "the harness's own peak RSS (a 600-run suite, its receipts' harness.rss_floor_bytes): {:.1} MiB",
        median(rss) / f64::from(1 << 20)
    );
}

fn suite(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A suite of `(id, TOML value of run)` steps, `(runs, warm-ups)`, without the Docker
/// monitor.
fn steps_suite(
    dir: &Path,
    name: &str,
    (runs, warmup): (usize, usize),
    steps: &[(&str, &str)],
) -> PathBuf {
    let mut text =
        format!("[suite]\nruns = {runs}\nwarmup = {warmup}\n[monitor]\ndocker = \"off\"\n");
    for (id, run) in steps {
        text.push_str(&format!("[[step]]\nid = \"{id}\"\nrun = {run}\n"));
    }
    suite(dir, name, &text)
}

/// `benchmark run SUITE` into `out`; its wall time and peak RSS.
fn ours(suite: &Path, out: &Path) -> (Duration, u64) {
    let _ = std::fs::remove_dir_all(out);
    timed(
        Command::new(BIN)
            .arg("run")
            .arg(suite)
            .arg("--quiet")
            .arg("--output")
            .arg(out),
    )
}

/// One field of step `id` in every `run_N.json` of `out`.
fn per_run(out: &Path, id: &str, field: impl Fn(&serde_json::Value) -> Option<f64>) -> Vec<f64> {
    let mut v = Vec::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("run_") && name.ends_with(".json") {
            let run = json(&path);
            for step in run["steps"].as_array().unwrap() {
                if step["id"] == id {
                    v.extend(field(step));
                }
            }
        }
    }
    v
}

/// hyperfine's per-run times in ms for `cmd`.
fn hyperfine_times(dir: &Path, runs: usize, extra: &[&str], cmd: &str) -> Vec<f64> {
    let export = dir.join("hyperfine.json");
    let mut c = Command::new("hyperfine");
    c.args(["--style", "none", "--warmup", "3", "--runs"])
        .arg(runs.to_string())
        .args(extra)
        .arg("--export-json")
        .arg(&export)
        .arg(cmd);
    timed(&mut c);
    json(&export)["results"][0]["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap() * 1e3)
        .collect()
}

fn after_idle(dir: &Path, hyperfine: bool, rows: &mut Rows) {
    let idle = steps_suite(
        dir,
        "idle.toml",
        (RUNS, 3),
        &[("idle", "\"sleep 0.05\""), ("t", "\"true\"")],
    );
    let b2b = steps_suite(dir, "b2b.toml", (RUNS, 3), &[("t", "\"true\"")]);
    let out = dir.join("out-idle");
    let wall = |s: &serde_json::Value| s["wall_ms"].as_f64();
    ours(&idle, &out);
    let after = per_run(&out, "t", wall);
    let join = per_run(&out, "t", |s| s["harness"]["cgroup_join_ms"].as_f64());
    let spawn = per_run(&out, "t", |s| s["harness"]["spawn_ms"].as_f64());
    let hf = hyperfine.then(|| hyperfine_times(dir, RUNS, &["-N"], "sh -c true"));
    ours(&b2b, &out);
    let back = per_run(&out, "t", wall);
    const HF: &str = "hyperfine -N 'sh -c true'";
    rows.add(
        "1a. `true` after a 50 ms idle step: reported median",
        "ms",
        median(after.clone()),
        hf.clone().map(median),
        HF,
        Target::Ratio(1.10),
    );
    rows.add(
        "1b. `true` after a 50 ms idle step: reported p95",
        "ms",
        percentile(after, 95.0),
        hf.clone().map(|h| percentile(h, 95.0)),
        HF,
        Target::Ratio(1.5),
    );
    rows.add(
        "1c. `true` back to back: reported median",
        "ms",
        median(back),
        hf.map(median),
        HF,
        Target::Ratio(1.10),
    );
    if !join.is_empty() {
        rows.add(
            "    harness: cgroup join after the idle step (not in 1a)",
            "ms",
            median(join),
            None,
            "receipt harness.cgroup_join_ms",
            Target::None,
        );
    }
    rows.add(
        "    harness: spawn before the clock starts (not in 1a)",
        "ms",
        median(spawn),
        None,
        "receipt harness.spawn_ms",
        Target::None,
    );
}

fn slope(dir: &Path, hyperfine: bool, rows: &mut Rows, rss: &mut Vec<f64>) {
    let one = |runs: usize| {
        steps_suite(
            dir,
            &format!("slope-{runs}.toml"),
            (runs, 0),
            &[("t", "\"true\"")],
        )
    };
    let (s200, s600) = (one(200), one(600));
    let per_iter = |out: &Path| {
        let (t200, _) = ours(&s200, out);
        let (t600, _) = ours(&s600, out);
        (t600.as_secs_f64() - t200.as_secs_f64()) / 400.0 * 1e3
    };
    let out = dir.join("out-slope");
    let disk = per_iter(&out);
    // The harness's own peak, as it records it (its ru_maxrss seen from here would carry
    // this process's resident set, folded in at the spawn).
    rss.push(median(per_run(&out, "t", |s| {
        s["harness"]["rss_floor_bytes"].as_f64()
    })));
    // The same with the output directory in memory: what is left is the harness's own
    // work, without the file system's cost of a new file per run receipt.
    let shm = Path::new("/dev/shm");
    let tmpfs = shm
        .is_dir()
        .then(|| per_iter(&shm.join(format!("benchmark-overhead-{}", std::process::id()))));
    let hf = hyperfine.then(|| {
        let run = |n: usize| {
            timed(Command::new("hyperfine").args([
                "-N",
                "--style",
                "none",
                "--warmup",
                "0",
                "--runs",
                &n.to_string(),
                "sh -c true",
            ]))
            .0
            .as_secs_f64()
        };
        let (h200, h600) = (run(200), run(600));
        (h600 - h200) / 400.0 * 1e3
    });
    rows.add(
        "2a. per iteration, one-step suite, whole process (200→600)",
        "ms",
        disk,
        hf,
        "hyperfine -N, same counts",
        Target::Ratio(1.10),
    );
    if let Some(tmpfs) = tmpfs {
        rows.add(
            "2b. the same, output directory on tmpfs (/dev/shm)",
            "ms",
            tmpfs,
            hf,
            "hyperfine -N, same counts",
            Target::Ratio(1.10),
        );
        let _ =
            std::fs::remove_dir_all(shm.join(format!("benchmark-overhead-{}", std::process::id())));
    }
}

fn big_output(dir: &Path, hyperfine: bool, rows: &mut Rows) {
    const CMD: &str = "yes | head -c 500000000";
    let s = steps_suite(dir, "big.toml", (3, 1), &[("big", &format!("\"{CMD}\""))]);
    let out = dir.join("out-big");
    ours(&s, &out);
    let wall = median(per_run(&out, "big", |s| s["wall_ms"].as_f64()));
    let cpu = median(per_run(&out, "big", |s| s["harness"]["cpu_ms"].as_f64()));
    let hf = hyperfine.then(|| {
        median(hyperfine_times(
            dir,
            3,
            &["--output=pipe"],
            &format!("sh -c '{CMD}'"),
        ))
    });
    rows.add(
        "3.  a step writing 500 MB: reported wall time",
        "ms",
        wall,
        hf,
        "hyperfine --output=pipe",
        Target::Ratio(1.2),
    );
    rows.add(
        "    harness CPU per GB of output (log written, lines scanned)",
        "ms",
        cpu * 2.0,
        None,
        "receipt harness.cpu_ms",
        Target::None,
    );
}

fn tree(dir: &Path, runexec: bool, rows: &mut Rows) {
    // Three 60 MiB children at once, then a busy loop: memory and CPU of a whole tree.
    let cmd = format!(
        "for i in 1 2 3; do {BIN} spike 60 300 & done; wait; \
         i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"
    );
    let s = steps_suite(
        dir,
        "tree.toml",
        (1, 0),
        &[("tree", &format!("'''{cmd}'''"))],
    );
    let out = dir.join("out-tree");
    // Alternating, three of each per round: a busy loop's CPU time moves with the load.
    for _ in 0..3 {
        ours(&s, &out);
        let run = json(&out.join("run_1.json"));
        let step = &run["steps"][0];
        let mem = step["cgroup"]["memory_peak_bytes"].as_f64();
        let cpu = step["cpu_user_ms"].as_f64().unwrap() + step["cpu_sys_ms"].as_f64().unwrap();
        let theirs = runexec.then(|| {
            let o = Command::new("runexec")
                .args([
                    "--no-container",
                    "--output",
                    "/dev/null",
                    "--",
                    "sh",
                    "-c",
                    &cmd,
                ])
                .stderr(Stdio::null())
                .output()
                .expect("runexec");
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let field = |k: &str, suffix: char| -> f64 {
                text.lines()
                    .find_map(|l| l.strip_prefix(k))
                    .and_then(|v| v.trim_end_matches(suffix).parse().ok())
                    .unwrap_or_else(|| panic!("runexec printed no {k}: {text}"))
            };
            (field("memory=", 'B'), field("cputime=", 's') * 1e3)
        });
        rows.add(
            "4a. tree peak memory, 3 × 60 MiB at once + a busy loop",
            "MiB",
            mem.unwrap_or(f64::NAN) / f64::from(1 << 20),
            theirs.map(|t| t.0 / f64::from(1 << 20)),
            "runexec --no-container memory=",
            Target::Within(0.05),
        );
        rows.add(
            "4b. tree CPU time, same command",
            "ms",
            cpu,
            theirs.map(|t| t.1),
            "runexec --no-container cputime=",
            Target::Within(0.05),
        );
    }
}

fn sampler(dir: &Path, rows: &mut Rows) {
    for (hz, interval, target) in [(10, "100ms", Target::None), (100, "10ms", Target::Max(0.5))] {
        let s = suite(
            dir,
            &format!("sampler-{hz}.toml"),
            &format!(
                "[suite]\nruns = 1\nwarmup = 0\n[monitor]\ninterval = \"{interval}\"\n\
                 docker = \"off\"\n[[step]]\nid = \"idle\"\nrun = \"sleep 2\"\n"
            ),
        );
        let out = dir.join(format!("out-sampler-{hz}"));
        ours(&s, &out);
        let pct = json(&out.join("perf.json"))["environment"]["sampler"]["cpu_pct_of_core"]
            .as_f64()
            .unwrap();
        rows.add(
            &format!("5.  sampler at {hz} Hz, its own CPU"),
            "%core",
            pct,
            None,
            "receipt environment.sampler",
            target,
        );
    }
}
