//! The harness measured against what it competes with, side by side in one run, medians
//! of interleaved rounds (these machines are shared and noisy):
//!
//! 1. per-iteration cost of a suite of `true` steps, against `hyperfine -N` and against a
//!    raw spawn loop of the same command (`sh -c true`);
//! 2. the sampler's own CPU cost at 10 Hz and 100 Hz;
//! 3. the peak-RSS error for a 256 MiB spike that lives 20 ms;
//! 4. the harness's own peak RSS.
//!
//! Run with `cargo bench --bench overhead` (hyperfine on PATH for its column).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_benchmark");
const STEPS: usize = 300;
const ROUNDS: usize = 5;

fn main() {
    // `cargo bench` passes --bench; nothing to filter here.
    let dir = tempfile::tempdir().expect("tempdir");
    println!("benchmark overhead — {} rounds, medians\n", ROUNDS);
    spawn_overhead(dir.path());
    sampler_cost(dir.path());
    spike_error(dir.path());
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

fn suite(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn true_suite(dir: &Path, steps: usize, sampler: bool, docker: &str) -> PathBuf {
    let mut s = format!("[suite]\nruns = 1\nwarmup = 0\n[monitor]\ndocker = \"{docker}\"\n");
    if !sampler {
        s.push_str("enabled = false\n");
    }
    for i in 0..steps {
        s.push_str(&format!("[[step]]\nid = \"t{i}\"\nrun = \"true\"\n"));
    }
    suite(dir, &format!("true-{steps}-{sampler}-{docker}.toml"), &s)
}

/// Run a command to completion; wall time and the kernel's ru_maxrss of the process.
fn timed(cmd: &mut Command) -> (Duration, u64) {
    let start = Instant::now();
    #[expect(
        clippy::zombie_processes,
        reason = "reaped below with wait4, for its rusage"
    )]
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with valid out-pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    assert_eq!(pid, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    let scale = if cfg!(target_os = "macos") { 1 } else { 1024 };
    (wall, ru.ru_maxrss as u64 * scale)
}

fn harness_run(suite: &Path, out: &Path) -> (Duration, u64) {
    harness_run_with(suite, out, "auto")
}

fn harness_run_with(suite: &Path, out: &Path, cgroup: &str) -> (Duration, u64) {
    timed(
        Command::new(BIN)
            .arg("run")
            .arg(suite)
            .arg("--quiet")
            .arg("--output")
            .arg(out)
            .env("BENCHMARK_CGROUP", cgroup),
    )
}

/// The harness's variants: (label, sampler on, BENCHMARK_CGROUP, [monitor] docker). Each
/// row adds or removes one feature; the Docker row runs only where a daemon answers.
const VARIANTS: [(&str, bool, &str, &str); 4] = [
    (
        "benchmark run: cgroup per step + sampler",
        true,
        "auto",
        "off",
    ),
    (
        "  + Docker container monitor (docker = \"on\")",
        true,
        "auto",
        "on",
    ),
    ("  BENCHMARK_CGROUP=off (sampler on)", true, "off", "off"),
    ("  no cgroup, no sampler", false, "off", "off"),
];

fn spawn_overhead(dir: &Path) {
    let out = dir.join("out");
    let docker = benchmark::docker::ping().is_ok();
    let variants: Vec<_> = VARIANTS
        .iter()
        .filter(|(_, _, _, d)| *d != "on" || docker)
        .collect();
    let suites: Vec<_> = variants
        .iter()
        .map(|(_, sampler, _, d)| {
            (
                true_suite(dir, STEPS, *sampler, d),
                true_suite(dir, 1, *sampler, d),
            )
        })
        .collect();
    let hyperfine = Command::new("hyperfine").arg("--version").output().is_ok();
    let mut ours: Vec<Vec<f64>> = vec![vec![]; variants.len()];
    let (mut raw, mut hf, mut rss) = (vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        // Per step: the difference between a suite of STEPS steps and one of 1 step, so
        // start-up and receipt writing are not charged to the steps.
        for (i, (_, _, cgroup, _)) in variants.iter().enumerate() {
            let (many, one) = &suites[i];
            let (t_many, r) = harness_run_with(many, &out, cgroup);
            let (t_one, _) = harness_run_with(one, &out, cgroup);
            ours[i].push((t_many - t_one).as_secs_f64() / (STEPS - 1) as f64);
            if i == 0 {
                rss.push(r as f64);
            }
        }

        let start = Instant::now();
        for _ in 0..STEPS {
            let s = Command::new("sh").args(["-c", "true"]).status().unwrap();
            assert!(s.success());
        }
        raw.push(start.elapsed().as_secs_f64() / STEPS as f64);

        if hyperfine {
            let hf_run = |n: usize| {
                timed(Command::new("hyperfine").args([
                    "-N",
                    "--style",
                    "none",
                    "--runs",
                    &n.to_string(),
                    "--warmup",
                    "0",
                    "sh -c true",
                ]))
                .0
            };
            let (t_many, t_one) = (hf_run(STEPS), hf_run(2));
            hf.push((t_many - t_one).as_secs_f64() / (STEPS - 2) as f64);
        }
    }
    let us = |v: f64| v * 1e6;
    let r = median(raw);
    println!("1. per-iteration cost of `sh -c true` ({STEPS} steps per suite, interleaved)");
    println!(
        "   {:<54} {:>8.1} µs   1.000x",
        "raw spawn loop (std::process::Command)",
        us(r)
    );
    for (i, (label, _, _, _)) in variants.iter().enumerate() {
        let o = median(ours[i].clone());
        println!("   {label:<54} {:>8.1} µs   {:.3}x raw", us(o), o / r);
    }
    if hyperfine {
        let h = median(hf);
        println!(
            "   {:<54} {:>8.1} µs   {:.3}x raw",
            "hyperfine -N",
            us(h),
            h / r
        );
    } else {
        println!("   hyperfine -N: not on PATH (apt-get install hyperfine)");
    }
    println!(
        "4. the harness's own peak RSS (running {STEPS} steps): {:.1} MiB\n",
        median(rss) / (1 << 20) as f64
    );
}

fn sampler_cost(dir: &Path) {
    println!("2. sampler CPU cost, % of one core (a 3 s sleep step)");
    for (hz, interval) in [(10, "100ms"), (100, "10ms")] {
        let s = suite(
            dir,
            &format!("sampler-{hz}.toml"),
            &format!(
                "[suite]\nruns = 1\nwarmup = 0\n[monitor]\ninterval = \"{interval}\"\ndocker = \"off\"\n[[step]]\nid = \"idle\"\nrun = \"sleep 3\"\n"
            ),
        );
        let out = dir.join(format!("out-sampler-{hz}"));
        let mut pct = vec![];
        let mut ticks = vec![];
        for _ in 0..3 {
            harness_run(&s, &out);
            let v = perf(&out);
            pct.push(
                v["environment"]["sampler"]["cpu_pct_of_core"]
                    .as_f64()
                    .unwrap(),
            );
            ticks.push(v["environment"]["sampler"]["ticks"].as_f64().unwrap());
        }
        println!(
            "   {hz:>3} Hz: {:.3}% of one core ({} ticks per run)",
            median(pct),
            median(ticks)
        );
    }
    println!();
}

fn perf(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("perf.json")).unwrap()).unwrap()
}

fn spike_error(dir: &Path) {
    const MIB: u64 = 256;
    let s = |name: &str, mib: u64| {
        suite(
            dir,
            name,
            &format!(
                "[suite]\nruns = 5\nwarmup = 0\n[monitor]\ndocker = \"off\"\n[[step]]\nid = \"spike\"\nrun = '\"$BENCHMARK_EXE\" spike {mib} 20'\n"
            ),
        )
    };
    let (spike, base) = (s("spike.toml", MIB), s("spike0.toml", 0));
    let out = dir.join("out-spike");
    let median_of = |suite: &Path, field: &str| -> f64 {
        harness_run(suite, &out);
        let v = perf(&out);
        let st = &v["steps"][0];
        match field {
            "rss" => st["peak_rss_bytes"]["median"].as_f64().unwrap(),
            _ => st["cgroup_memory_peak_bytes"]["median"]
                .as_f64()
                .unwrap_or(f64::NAN),
        }
    };
    let rss = median_of(&spike, "rss");
    let cg = median_of(&spike, "cgroup");
    let rss0 = median_of(&base, "rss");
    let cg0 = median_of(&base, "cgroup");
    let want = (MIB << 20) as f64;
    let err = |v: f64, v0: f64| 100.0 * ((v - v0) - want) / want;
    println!(
        "3. a {MIB} MiB allocation that lives 20 ms (5 runs, medians; the process's own baseline subtracted)"
    );
    println!(
        "   wait4 ru_maxrss:  {:.1} MiB above baseline   error {:+.2}%",
        (rss - rss0) / (1 << 20) as f64,
        err(rss, rss0)
    );
    if cg.is_finite() {
        println!(
            "   cgroup peak:      {:.1} MiB above baseline   error {:+.2}%",
            (cg - cg0) / (1 << 20) as f64,
            err(cg, cg0)
        );
    }
    let samp = perf(&out)["steps"][0]["resources"]["mem_peak_bytes"]["median"].clone();
    println!(
        "   (for contrast, the 100 ms sampler's system memory peak: {samp} bytes, dominated by everything else on the host)"
    );
}
