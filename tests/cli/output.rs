//! The output directory: only files this tool wrote are removed, one invocation at a time,
//! and every invocation keeps its summary.

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::helper::{Bench, bench};

const QUIET: &str = "[monitor]\nenabled = false\ndocker = \"off\"\n";

fn suite(runs: u32, warmup: u32, run: &str) -> String {
    format!(
        "[suite]\nruns = {runs}\nwarmup = {warmup}\n{QUIET}[[step]]\nid = \"a\"\nrun = \"{run}\"\n"
    )
}

fn names(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

#[test]
fn output_dot_keeps_the_projects_own_files_and_removes_what_it_wrote_before() {
    let b = bench()
        .suite(&suite(
            2,
            1,
            "echo hi; echo step > $BENCHMARK_RUN_DIR/made-by-step.txt",
        ))
        .file("logs/notes.txt", "mine")
        .file("logs/run_1/notes.txt", "mine too")
        .file("run_9.json", "{\"mine\": true}")
        .file("run_01.json", "{\"mine\": true}");
    b.run_args(&["run", "-o", ".", "-q"]).code(0);
    assert!(b.path("run_2.json").exists());
    assert!(b.path("logs/run_2/a.log").exists());
    assert!(b.path("logs/warmup_1/a.log").exists());
    // The next invocation removes what the first wrote, and nothing else.
    b.run_args(&["run", "-o", ".", "-q", "--runs", "1", "--warmup", "0"])
        .code(0);
    assert!(b.path("run_1.json").exists());
    assert!(b.path("logs/run_1/a.log").exists());
    assert!(!b.path("run_2.json").exists(), "an earlier receipt stays");
    assert!(!b.path("logs/run_2/a.log").exists(), "an earlier log stays");
    assert!(
        !b.path("logs/warmup_1/a.log").exists(),
        "an earlier warm-up log stays"
    );
    for (f, text) in [
        ("logs/notes.txt", "mine"),
        ("logs/run_1/notes.txt", "mine too"),
        ("run_9.json", "{\"mine\": true}"),
        ("run_01.json", "{\"mine\": true}"),
        ("logs/run_2/made-by-step.txt", "step\n"),
    ] {
        assert_eq!(fs::read_to_string(b.path(f)).unwrap(), text, "{f}");
    }
}

#[test]
fn the_default_output_directory_is_left_empty_of_old_runs() {
    let b = bench().suite(&suite(2, 0, "echo hi"));
    b.run_args(&["run", "-q"]).code(0);
    assert!(b.path("bench-out/logs/run_2/a.log").exists());
    b.run_args(&["run", "-q", "--runs", "1"]).code(0);
    assert!(!b.path("bench-out/run_2.json").exists());
    assert!(!b.path("bench-out/logs/run_2").exists());
    // A step that prints nothing leaves an empty run directory: removed all the same.
    fs::write(b.path("benchmark.toml"), suite(3, 0, "true")).unwrap();
    b.run_args(&["run", "-q"]).code(0);
    assert!(b.path("bench-out/logs/run_3").is_dir());
    b.run_args(&["run", "-q", "--runs", "1"]).code(0);
    assert_eq!(names(&b.path("bench-out/logs"), ""), ["run_1"]);
}

/// A run that leaves its directory empty hands it on to the next run, renamed (no new
/// directory a run); one with something in it stays. Every step saw a directory that was
/// there and its own run's name.
#[test]
fn an_empty_run_directory_is_handed_on_and_a_used_one_stays() {
    let run = r#"
case "$BENCHMARK_RUN_DIR" in */logs/run_"$BENCHMARK_RUN_NUMBER"|*/logs/warmup_1) ;; *) exit 9 ;; esac
test -d "$BENCHMARK_RUN_DIR" || exit 8
if [ "$BENCHMARK_RUN_NUMBER" = 2 ]; then echo kept > "$BENCHMARK_RUN_DIR/artifact"; fi
"#;
    let b = bench().suite(&format!(
        "[suite]\nruns = 4\nwarmup = 1\n{QUIET}[[step]]\nid = \"a\"\nrun = '''{run}'''\n"
    ));
    b.run_args(&["run", "-q"]).code(0);
    assert_eq!(names(&b.path("bench-out/logs"), ""), ["run_2", "run_4"]);
    assert_eq!(
        fs::read_to_string(b.path("bench-out/logs/run_2/artifact")).unwrap(),
        "kept\n"
    );
}

#[test]
fn a_receipt_name_taken_by_someone_elses_file_is_refused() {
    let b = bench()
        .suite(&suite(2, 0, "true"))
        .file("out/run_2.json", "precious");
    b.run_args(&["run", "-q", "-o", "out"])
        .code(2)
        .stderr_has("out already holds run_2.json that benchmark did not write")
        .stderr_has("move it away or choose another --output");
    assert_eq!(
        fs::read_to_string(b.path("out/run_2.json")).unwrap(),
        "precious"
    );
    assert!(!b.path("out/run_1.json").exists(), "nothing ran");
    // A perf.json in a directory this tool never wrote into is someone else's too.
    let b = bench()
        .suite(&suite(1, 0, "true"))
        .file("out/perf.json", "theirs");
    b.run_args(&["run", "-q", "-o", "out"])
        .code(2)
        .stderr_has("out already holds perf.json that benchmark did not write");
    assert_eq!(
        fs::read_to_string(b.path("out/perf.json")).unwrap(),
        "theirs"
    );
}

/// `benchmark run -q` in the background, returned once its step has touched `started`.
fn start_first(b: &Bench) -> Child {
    let first = b
        .command()
        .args(["run", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !b.path("started").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the first run never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first
}

#[test]
fn a_second_invocation_on_the_same_output_says_who_holds_it() {
    let b = bench().suite(&suite(1, 0, "touch started; sleep 3"));
    let mut first = start_first(&b);
    let second = b
        .run_args(&["run", "-q"])
        .code(2)
        .stderr_has("bench-out is in use by another benchmark invocation (pid ")
        .stderr_has(", started 20")
        .stderr_has("wait for it to finish or choose another --output");
    assert!(
        second
            .stderr()
            .contains(&format!("(pid {} on ", first.id())),
        "{}",
        second.stderr()
    );
    assert!(first.wait().unwrap().success());
    assert!(
        b.path("bench-out/run_1.json").exists(),
        "the first one's receipt"
    );
    // Released with the first invocation.
    b.run_args(&["run", "-q"]).code(0);
}

#[test]
fn the_lock_of_a_killed_invocation_is_released() {
    let b = bench().suite(&suite(1, 0, "touch started; sleep 2"));
    let mut first = start_first(&b);
    // SIGKILL: the kernel drops the lock. The orphaned `sleep` is still running, and
    // must not hold it (the lock file is close-on-exec).
    first.kill().unwrap();
    first.wait().unwrap();
    fs::remove_file(b.path("started")).unwrap();
    b.run_args(&["run", "-q"]).code(0);
}

#[test]
fn two_invocations_in_one_second_keep_both_summaries() {
    let b = bench().suite(&suite(1, 0, "true"));
    b.run_args(&["run", "-q"]).code(0);
    b.run_args(&["run", "-q"]).code(0);
    let summaries = names(&b.path("bench-out"), "summary_");
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    for s in &summaries {
        // summary_YYYYMMDDTHHMMSS.NNNNNNNNNZ.json
        let stamp = s
            .strip_prefix("summary_")
            .and_then(|s| s.strip_suffix("Z.json"))
            .unwrap();
        let (secs, nanos) = stamp.split_once('.').expect("sub-second resolution");
        assert_eq!((secs.len(), nanos.len()), (15, 9), "{s}");
    }
}
