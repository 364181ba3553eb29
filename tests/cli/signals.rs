//! Signals with real processes: SIGHUP (a dropped SSH session) is handled like SIGTERM,
//! and a second Ctrl-C skips the teardown but still kills and removes everything the run
//! started.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::helper::{
    Bench, alive, bench, run_receipt_in, signal, start, summary_in, wait_exit, wait_for,
};
use benchmark::receipt::Status;

/// Poll until every pid in the file is gone (a zombie counts as gone).
fn assert_all_gone(b: &Bench, file: &str) {
    let text = std::fs::read_to_string(b.path(file)).unwrap_or_default();
    let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert!(!pids.is_empty(), "{file} names no process");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) {
        let left: Vec<_> = pids.iter().filter(|p| alive(**p)).collect();
        assert!(Instant::now() < deadline, "{file}: {left:?} still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Step cgroups the harness with this pid created, anywhere under /sys/fs/cgroup.
fn cgroups_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("benchmark-{pid}-");
    let mut found = Vec::new();
    let mut todo = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((dir, depth)) = todo.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                found.push(e.path());
            } else if depth < 6 {
                todo.push((e.path(), depth + 1));
            }
        }
    }
    found
}

/// What the harness leaves in its TMPDIR (the control FIFO directory) and in the output
/// directory besides receipts and logs (temporary receipts).
fn leftovers_on_disk(b: &Bench) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(b.path("tmp"))
        .unwrap()
        .flatten()
        .map(|e| format!("tmp/{}", e.file_name().to_string_lossy()))
        .collect();
    for e in std::fs::read_dir(b.path("bench-out")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".json") || name == "logs" || name.starts_with('.')) {
            out.push(format!("bench-out/{name}"));
        }
        if name.contains(".tmp") {
            out.push(format!("bench-out/{name}"));
        }
    }
    out
}

#[test]
fn sighup_is_handled_like_sigterm() {
    let b = bench().suite(
        r#"
[suite]
runs = 5
warmup = 0
[[step]]
id = "a"
run = '''
setsid sleep 300 & echo $! >> daemons.pid
if [ "$BENCHMARK_RUN_NUMBER" = 3 ]; then echo $$ > step.pid; exec sleep 300; fi
'''
[[teardown]]
run = "touch teardown-$BENCHMARK_RUN_NUMBER"
"#,
    );
    let mut child = start(&b);
    wait_for(&b.path("step.pid"), Duration::from_secs(60));
    signal(&child, libc::SIGHUP);
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{status:?}");
    let out = b.path("bench-out");
    let s = summary_in(&out);
    assert_eq!((s.status, s.runs), (Status::Interrupted, 2));
    for n in 1..=2 {
        assert_eq!(run_receipt_in(&out, n).status, Status::Ok);
    }
    // The interrupted run's teardown ran.
    assert!(b.path("teardown-3").exists());
    assert_all_gone(&b, "step.pid");
    assert_all_gone(&b, "daemons.pid");
    assert_eq!(cgroups_of(child.id()), Vec::<PathBuf>::new());
    assert_eq!(leftovers_on_disk(&b), Vec::<String>::new());
}

#[test]
fn a_second_ctrl_c_skips_the_teardown_but_kills_and_removes_everything() {
    // The step ignores SIGTERM (so stopping it waits out the long grace period) and has
    // started a background server and an escaped daemon; an earlier step left one too.
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
kill_grace = "120s"
[[step]]
id = "server"
run = 'sleep 300 > /dev/null 2>&1 & echo $! >> pids'
[[step]]
id = "stubborn"
run = '''
trap "" TERM
sleep 300 > /dev/null 2>&1 & echo $! >> pids
setsid sleep 300 > /dev/null 2>&1 & echo $! >> pids
echo $$ >> pids
touch started
sleep 300
'''
[[teardown]]
run = "touch teardown-ran"
"#,
    );
    let mut child = start(&b);
    wait_for(&b.path("started"), Duration::from_secs(60));
    signal(&child, libc::SIGINT);
    // The first Ctrl-C has sent SIGTERM, which the step ignores; the second ends the wait.
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(!b.path("teardown-ran").exists(), "the teardown is skipped");
    assert_all_gone(&b, "pids");
    assert_eq!(cgroups_of(child.id()), Vec::<PathBuf>::new());
    assert_eq!(leftovers_on_disk(&b), Vec::<String>::new());
    let s = summary_in(&b.path("bench-out"));
    assert_eq!(s.status, Status::Interrupted);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.message.contains("interrupted a second time")),
        "{:?}",
        s.warnings
    );
}
