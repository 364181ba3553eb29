//! What a `kill -9` of the harness leaves behind (its step cgroups, its control-FIFO
//! directory) and how a later run sweeps it: only empty leftovers whose owner is gone,
//! never anything that runs, never names it does not own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::helper::{Bench, alive, bench};

const QUIET: &str = "[monitor]\nenabled = false\ndocker = \"off\"\n";

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < end, "{what} (waited {limit:?})");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The directories of the cgroups that a `/proc/PID/cgroup` text names, resolved through
/// our mount table (same mount namespace as the step).
fn cgroup_dirs(proc_cgroup: &str) -> Vec<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut dirs = Vec::new();
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if !path.contains("/benchmark-") {
            continue;
        }
        for m in mountinfo.lines() {
            let Some((left, right)) = m.split_once(" - ") else {
                continue;
            };
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let (root, point) = (left[3], left[4]);
            let fits = if controllers.is_empty() {
                right[0] == "cgroup2"
            } else {
                right[0] == "cgroup"
                    && right[2]
                        .split(',')
                        .any(|o| controllers.split(',').any(|c| c == o))
            };
            let Some(rel) = path.strip_prefix(root.trim_end_matches('/')) else {
                continue;
            };
            if fits {
                dirs.push(PathBuf::from(format!("{point}{rel}")));
                break;
            }
        }
    }
    dirs
}

fn fifo_dirs(tmp: &Path, pid: u32) -> Vec<PathBuf> {
    fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("benchmark-{pid}-"))
        })
        .map(|e| e.path())
        .collect()
}

/// A pid no process has now (it may be taken later; the test only needs it free now).
fn free_pid() -> u32 {
    (1_000_000..4_000_000)
        .step_by(7919)
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .unwrap()
}

fn quick_run(b: &Bench, tmp: &Path) {
    let out = b
        .command()
        .env("TMPDIR", tmp)
        .args(["run", "-q", "quick.toml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_later_run_sweeps_what_a_killed_run_left_and_nothing_else() {
    let b = bench()
        .suite(&format!(
            "[suite]\nruns = 1\nwarmup = 0\n{QUIET}[[step]]\nid = \"long\"\n\
             run = 'sleep 300 & echo $! > sleep.pid; cat /proc/self/cgroup > cgroup; wait'\n"
        ))
        .file(
            "quick.toml",
            &format!(
                "[suite]\nruns = 1\nwarmup = 0\n{QUIET}[[step]]\nid = \"q\"\nrun = \"true\"\n"
            ),
        );
    let tmp = b.path("tmp");
    fs::create_dir(&tmp).unwrap();
    let mut harness = b
        .command()
        .env("TMPDIR", &tmp)
        .args(["run", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the step never started", Duration::from_secs(30), || {
        b.path("sleep.pid").exists() && fs::metadata(b.path("cgroup")).is_ok_and(|m| m.len() > 0)
    });
    let sleep: i32 = fs::read_to_string(b.path("sleep.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let step_cgroups = cgroup_dirs(&fs::read_to_string(b.path("cgroup")).unwrap());
    eprintln!("step cgroups: {step_cgroups:?}");
    harness.kill().unwrap();
    harness.wait().unwrap();
    let leaked_fifo_dirs = fifo_dirs(&tmp, harness.id());
    assert_eq!(leaked_fifo_dirs.len(), 1, "the killed run's FIFO directory");
    for d in &step_cgroups {
        assert!(d.is_dir(), "{} leaked", d.display());
    }

    // Decoys: a live owner (us, started before its directory), a name not ours, a dead
    // owner's directory holding something other than FIFOs — all kept; a dead owner's
    // directory holding only a FIFO — removed.
    let me = std::process::id();
    let dead = free_pid();
    let parents: Vec<PathBuf> = step_cgroups
        .iter()
        .map(|d| d.parent().unwrap().to_path_buf())
        .collect();
    let mut kept = Vec::new();
    for p in &parents {
        for name in [format!("benchmark-{me}-3"), "benchmark-keep".to_owned()] {
            let d = p.join(name);
            fs::create_dir(&d).unwrap();
            kept.push(d);
        }
    }
    let dead_cgroups: Vec<PathBuf> = parents
        .iter()
        .map(|p| p.join(format!("benchmark-{dead}-9")))
        .collect();
    for d in &dead_cgroups {
        fs::create_dir(d).unwrap();
    }
    for name in [format!("benchmark-{me}-1"), format!("benchmark-{dead}-2x")] {
        fs::create_dir(tmp.join(&name)).unwrap();
        kept.push(tmp.join(name));
    }
    let foreign = tmp.join(format!("benchmark-{dead}-1"));
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("notes.txt"), "not a FIFO").unwrap();
    kept.push(foreign.clone());
    let dead_fifo_dir = tmp.join(format!("benchmark-{dead}-2"));
    fs::create_dir(&dead_fifo_dir).unwrap();
    nix::unistd::mkfifo(
        &dead_fifo_dir.join("control-run_1-a"),
        nix::sys::stat::Mode::S_IRWXU,
    )
    .unwrap();

    // The orphaned `sleep` still runs in its step cgroup: a later run kills nothing it
    // did not start and removes no cgroup that holds a process.
    quick_run(&b, &tmp);
    assert!(alive(sleep), "a later run killed the orphaned step");
    for d in &step_cgroups {
        assert!(
            d.is_dir(),
            "{} holds a process yet was removed",
            d.display()
        );
    }
    assert!(fifo_dirs(&tmp, harness.id()).is_empty(), "FIFO dir swept");
    assert!(!dead_fifo_dir.exists(), "a gone owner's FIFO dir is swept");
    for d in &dead_cgroups {
        assert!(!d.exists(), "{} (empty, owner gone) was kept", d.display());
    }

    // Once the orphan is gone (the user kills it, or it ends), the next run sweeps its
    // cgroups too.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleep),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // The orphan's shell is reaped by init, which some sandboxes' inits do only every few
    // seconds (seen here: 1–4 s idle, over 10 s on a loaded machine).
    wait_for("the orphan did not die", Duration::from_secs(60), || {
        !alive(sleep)
            && step_cgroups.iter().all(|d| {
                fs::read_to_string(d.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty())
            })
    });
    quick_run(&b, &tmp);
    for d in &step_cgroups {
        assert!(!d.exists(), "{} leaked past a later run", d.display());
    }
    for d in &kept {
        assert!(d.exists(), "{} was not ours to remove", d.display());
    }
    let leftovers: Vec<String> = fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers.len(), 3, "only the decoys remain: {leftovers:?}");
    for d in kept.iter().filter(|d| !d.starts_with(&tmp)) {
        fs::remove_dir(d).unwrap();
    }
}
