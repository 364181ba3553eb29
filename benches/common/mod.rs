//! What the benchmarks of the harness share: the table of rows with their targets
//! (medians of interleaved rounds), running a command for its wall time and peak RSS.

// Each bench binary uses its own part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_benchmark");

pub fn available(tool: &str, args: &[&str]) -> bool {
    Command::new(tool)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Every row's value per round: (what, ours, theirs, target ratio or absolute target).
#[derive(Default)]
pub struct Rows {
    rows: Vec<Row>,
}

pub struct Row {
    what: String,
    unit: &'static str,
    ours: Vec<f64>,
    theirs: Vec<f64>,
    against: &'static str,
    target: Target,
}

#[derive(Clone, Copy)]
pub enum Target {
    /// ours / theirs at most this.
    Ratio(f64),
    /// ours / theirs at least this (rates: more is better).
    AtLeast(f64),
    /// |ours / theirs - 1| at most this.
    Within(f64),
    /// ours at most this (no independent figure).
    Max(f64),
    /// Reported, no target.
    None,
}

impl Rows {
    pub fn add(
        &mut self,
        what: &str,
        unit: &'static str,
        ours: f64,
        theirs: Option<f64>,
        against: &'static str,
        target: Target,
    ) {
        let row = match self.rows.iter_mut().position(|r| r.what == what) {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(Row {
                    what: what.to_owned(),
                    unit,
                    ours: vec![],
                    theirs: vec![],
                    against,
                    target,
                });
                self.rows.last_mut().expect("just pushed")
            }
        };
        row.ours.push(ours);
        row.theirs.extend(theirs);
    }

    pub fn print(&self) {
        println!(
            "{:<58} {:>12} {:>12}  {:<28} {:>7}  {:<10} verdict",
            "measure", "benchmark", "independent", "measured by", "ratio", "target"
        );
        for r in &self.rows {
            let ours = median(r.ours.clone());
            let theirs = (!r.theirs.is_empty()).then(|| median(r.theirs.clone()));
            let ratio = theirs.map(|t| ours / t);
            let (target, ok) = match r.target {
                Target::Ratio(x) => (format!("≤ {x:.2}x"), ratio.map(|q| q <= x)),
                Target::AtLeast(x) => (format!("≥ {x:.2}x"), ratio.map(|q| q >= x)),
                Target::Within(x) => (
                    format!("± {:.0}%", x * 100.0),
                    ratio.map(|q| (q - 1.0).abs() <= x),
                ),
                Target::Max(x) => (format!("≤ {x} {}", r.unit), Some(ours <= x)),
                Target::None => (String::new(), None),
            };
            let verdict = match ok {
                Some(true) => "met".to_owned(),
                Some(false) => match (r.target, ratio) {
                    (Target::Ratio(x), Some(q)) => {
                        format!("MISSED by {:.0}%", (q / x - 1.0) * 100.0)
                    }
                    (Target::AtLeast(x), Some(q)) => {
                        format!("MISSED by {:.0}%", (1.0 - q / x) * 100.0)
                    }
                    (Target::Within(x), Some(q)) => {
                        format!("MISSED by {:.1} points", ((q - 1.0).abs() - x) * 100.0)
                    }
                    _ => "MISSED".to_owned(),
                },
                None if matches!(r.target, Target::None) => String::new(),
                None => "not measured".to_owned(),
            };
            println!(
                "{:<58} {:>12} {:>12}  {:<28} {:>7}  {:<10} {verdict}",
                r.what,
                format!("{} {}", fmt(ours), r.unit),
                theirs.map_or("—".to_owned(), |t| format!("{} {}", fmt(t), r.unit)),
                r.against,
                ratio.map_or("—".to_owned(), |q| format!("{q:.3}x")),
                target,
            );
        }
    }
}

pub fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile.
pub fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Run a command to completion; wall time and the kernel's ru_maxrss of the process.
pub fn timed(cmd: &mut Command) -> (Duration, u64) {
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
    // SAFETY: an all-zero rusage is valid.
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

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
