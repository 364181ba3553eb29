//! The output directory: only files this tool wrote are removed, one invocation at a time,
//! and every invocation keeps its summary.

use std::fs;

use crate::helper::bench;

const SUITE: &str = "[suite]\nruns = 2\nwarmup = 1\n[[step]]\nid = \"a\"\nrun = \"echo hi\"\n";

fn names(dir: &std::path::Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

#[test]
fn output_dot_keeps_the_projects_own_logs_and_run_files() {
    let b = bench()
        .suite(SUITE)
        .file("logs/server.log", "mine")
        .file("logs/run_1/notes.txt", "mine too")
        .file("run_backup.json", "{\"mine\": true}");
    b.run_args(&["run", "-o", ".", "-q"]).code(0);
    assert!(b.path("logs/run_2/a.log").exists());
    assert!(b.path("logs/warmup_1/a.log").exists());
    // The next invocation removes what the first wrote, and nothing else.
    b.run_args(&["run", "-o", ".", "-q", "--runs", "1", "--warmup", "0"])
        .code(0);
    assert!(!b.path("run_2.json").exists());
    assert!(!b.path("logs/run_2").exists());
    assert!(!b.path("logs/warmup_1").exists());
    assert!(b.path("run_1.json").exists());
    assert_eq!(
        fs::read_to_string(b.path("logs/server.log")).unwrap(),
        "mine"
    );
    assert_eq!(
        fs::read_to_string(b.path("logs/run_1/notes.txt")).unwrap(),
        "mine too"
    );
    assert!(b.path("run_backup.json").exists());
}

#[test]
fn a_receipt_name_taken_by_a_file_of_someone_else_is_refused() {
    let b = bench()
        .suite(SUITE)
        .file("bench-out/run_2.json", "precious");
    b.run_args(&["run", "-q"])
        .code(2)
        .stderr_has("bench-out/run_2.json exists and was not written by benchmark")
        .stderr_has("move it away or choose another --output");
    assert_eq!(
        fs::read_to_string(b.path("bench-out/run_2.json")).unwrap(),
        "precious"
    );
    assert!(!b.path("bench-out/run_1.json").exists());
}

#[test]
fn a_second_invocation_on_the_same_output_says_who_holds_it() {
    let b = bench().suite("[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"slow\"\nrun = \"touch started; sleep 3\"\n");
    let mut first = b
        .command()
        .args(["run", "-q"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !b.path("started").exists() {
        assert!(t0.elapsed().as_secs() < 20, "the first run never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let done = b
        .run_args(&["run", "-q"])
        .code(2)
        .stderr_has("is in use by another benchmark invocation (pid ")
        .stderr_has("wait for it to finish or choose another --output");
    assert!(
        done.stderr().contains(&format!("pid {} ", first.id())),
        "{}",
        done.stderr()
    );
    assert!(first.wait().unwrap().success());
    // Released with the first invocation.
    b.run_args(&["run", "-q"]).code(0);
}

#[test]
fn two_invocations_in_one_second_keep_both_summaries() {
    let b = bench().suite("[suite]\nruns = 1\nwarmup = 0\n[monitor]\nenabled = false\ndocker = \"off\"\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    b.run_args(&["run", "-q"]).code(0);
    b.run_args(&["run", "-q"]).code(0);
    let summaries = names(&b.path("bench-out"), "summary_");
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    // summary_YYYYMMDDTHHMMSS.NNNNNNNNNZ.json
    for s in &summaries {
        let stamp = s
            .strip_prefix("summary_")
            .and_then(|s| s.strip_suffix("Z.json"))
            .unwrap();
        let (secs, nanos) = stamp.split_once('.').expect("sub-second resolution");
        assert_eq!((secs.len(), nanos.len()), (15, 9), "{s}");
    }
}
