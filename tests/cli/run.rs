//! `benchmark run` of real suites: steps, hooks, environment, control lines, exit codes.

use crate::helper::bench;
use benchmark::receipt::Status;

#[test]
fn runs_warmup_then_measured_runs_with_hooks_around_each() {
    let b = bench().suite(
        r#"
[suite]
name = "hooks"
runs = 3
warmup = 1
[[setup]]
run = "echo setup $BENCHMARK_RUN_NUMBER >> trace"
[[step]]
id = "one"
run = "echo step $BENCHMARK_RUN_NUMBER $BENCHMARK_WARMUP >> trace"
[[teardown]]
run = "echo teardown $BENCHMARK_RUN_NUMBER >> trace"
"#,
    );
    let done = b.run().code(0);
    let trace = std::fs::read_to_string(b.path("trace")).unwrap();
    assert_eq!(
        trace,
        "setup 0\nstep 0 1\nteardown 0\n\
         setup 1\nstep 1 0\nteardown 1\n\
         setup 2\nstep 2 0\nteardown 2\n\
         setup 3\nstep 3 0\nteardown 3\n"
    );
    let s = done.summary();
    assert_eq!(s.runs, 3);
    assert_eq!(s.status, Status::Ok);
    assert_eq!(s.steps[0].wall_ms.as_ref().unwrap().n, 3);
    for n in 1..=3 {
        assert_eq!(done.run_receipt(n).run, n);
    }
    assert!(!b.path("bench-out/run_4.json").exists());
    done.stdout_has("one").stdout_has("receipts: ");
}

#[test]
fn steps_get_the_documented_environment() {
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
default_mode = "full"
env = { GREETING = "hi" }
[[step]]
id = "env-probe"
modes = ["full"]
run = 'printf "%s|%s|%s|%s|%s|%s\n" "$BENCHMARK_RUN_DIR" "$BENCHMARK_RUN_NUMBER" "$BENCHMARK_MODE" "$BENCHMARK_STEP" "$GREETING" "$STEP_ONLY" > env.txt; test -p "$BENCHMARK_CONTROL"; test -x "$BENCHMARK_EXE"'
env = { STEP_ONLY = "yes" }
"#,
    );
    b.run().code(0);
    let env = std::fs::read_to_string(b.path("env.txt")).unwrap();
    let parts: Vec<_> = env.trim_end().split('|').collect();
    assert!(parts[0].ends_with("bench-out/logs/run_1"), "{env}");
    assert!(std::path::Path::new(parts[0]).is_absolute());
    assert_eq!(&parts[1..], ["1", "full", "env-probe", "hi", "yes"]);
}

#[test]
fn control_lines_become_metrics_and_phases() {
    let b = bench().suite(
        r#"
[suite]
runs = 2
warmup = 0
[[step]]
id = "talker"
run = '''
echo "::bench:: metric throughput 205.5 MiB/s"
echo "::bench:: phase schedule"
sleep 0.05
echo "::bench:: phase dispatch" > "$BENCHMARK_CONTROL"
sleep 0.1
echo "::bench:: metric bogus not-a-number"
'''
"#,
    );
    let done = b.run().code(0);
    let run = done.run_receipt(1);
    let step = &run.steps[0];
    assert_eq!(step.metrics.len(), 1);
    assert_eq!(step.metrics[0].name, "throughput");
    assert_eq!(step.metrics[0].value, 205.5);
    assert_eq!(step.metrics[0].unit.as_deref(), Some("MiB/s"));
    let names: Vec<_> = step.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["schedule", "dispatch"]);
    assert!(step.phases[0].duration_ms >= 40.0, "{:?}", step.phases);
    assert!(step.phases[1].duration_ms >= 90.0, "{:?}", step.phases);
    assert!(step.phases[1].start_ms >= step.phases[0].start_ms + 40.0);
    let s = done.summary();
    assert_eq!(s.steps[0].metrics["throughput"].stats.n, 2);
    let phases: Vec<_> = s.steps[0].phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        phases,
        ["schedule", "dispatch"],
        "in the order they happened"
    );
    assert_eq!(s.steps[0].phases[1].duration_ms.n, 2);
    assert!(
        s.warnings.iter().any(|w| w
            .message
            .contains("`::bench:: metric bogus not-a-number` ignored")),
        "{:?}",
        s.warnings
    );
    done.stdout_has("talker · metric throughput: 205.5 ± 0 MiB/s (n=2)")
        .stdout_has("talker · phase schedule: median ");
}

#[test]
fn a_failing_step_exits_3_keeps_receipts_and_runs_teardown() {
    let b = bench().suite(
        r#"
[suite]
runs = 3
warmup = 0
[[step]]
id = "ok"
run = "true"
[[step]]
id = "breaks"
run = "echo something went wrong >&2; exit 7"
[[step]]
id = "never"
run = "touch never-ran"
[[teardown]]
run = "touch teardown-ran"
"#,
    );
    let done = b.run().code(3);
    let done = done
        .stderr_has("breaks")
        .stderr_has("FAILED (exit 7)")
        .stderr_has("something went wrong");
    assert!(b.path("teardown-ran").exists());
    assert!(!b.path("never-ran").exists());
    let run = done.run_receipt(1);
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.steps.len(), 2);
    assert_eq!(run.steps[1].exit_code, 7);
    assert_eq!(run.steps[1].status, Status::Failed);
    let s = done.summary();
    assert_eq!(s.status, Status::Failed);
    assert_eq!(s.steps[1].failures, 1);
    assert!(s.steps[1].wall_ms.is_none());
    assert!(
        !b.path("bench-out/run_2.json").exists(),
        "fail fast without keep_going"
    );
    let log = std::fs::read_to_string(b.path("bench-out/logs/run_1/breaks.log")).unwrap();
    assert_eq!(log, "something went wrong\n");
    assert_eq!(run.steps[1].log.as_deref(), Some("logs/run_1/breaks.log"));
    // A silent step leaves no log file.
    assert_eq!(run.steps[0].log, None);
    assert!(!b.path("bench-out/logs/run_1/ok.log").exists());
}

#[test]
fn keep_going_and_allow_failure() {
    let b = bench()
        .suite(
            r#"
[suite]
runs = 9
warmup = 0
keep_going = true
[[step]]
id = "flaky"
run = "exit 1"
allow_failure = true
[[step]]
id = "expected-2"
run = "exit 2"
expect_exit = [2]
[[step]]
id = "fails"
run = "exit 1"
"#,
        )
        .args(["--runs", "2"]);
    let done = b.run().code(3);
    let s = done.summary();
    assert_eq!(s.runs, 2, "keep_going runs every run");
    assert_eq!(s.steps[0].failures, 2);
    assert_eq!(s.steps[1].failures, 0, "exit 2 was expected");
    assert_eq!(s.steps[2].failures, 2);
}

#[test]
fn modes_select_steps_in_a_real_run() {
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
[[step]]
id = "common"
run = "true"
[[step]]
id = "full-only"
run = "true"
modes = ["full"]
"#,
    );
    let ids = |args: &[&str]| {
        let done = b_run(&b, args);
        done.summary()
            .steps
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&[]), ["common"]);
    assert_eq!(ids(&["--mode", "full"]), ["common", "full-only"]);
    let mut c = b.command();
    let out = c.args(["run", "--mode", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("unknown mode `nope`: suite `benchmark` knows `full`")
    );
}

fn b_run<'a>(b: &'a crate::helper::Bench, args: &[&str]) -> crate::helper::Done<'a> {
    let mut c = b.command();
    c.arg("run").args(args);
    let output = c.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    crate::helper::Done { bench: b, output }
}

#[test]
fn previous_run_receipts_are_cleaned_unless_keep_logs() {
    let b = bench().suite("[suite]\nruns = 2\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    b_run(&b, &[]);
    assert!(b.path("bench-out/run_2.json").exists());
    b_run(&b, &["--runs", "1"]);
    assert!(!b.path("bench-out/run_2.json").exists());
    std::fs::write(b.path("bench-out/run_9.json"), "{}").unwrap();
    b_run(&b, &["--runs", "1", "--keep-logs"]);
    assert!(b.path("bench-out/run_9.json").exists());
    let summaries = std::fs::read_dir(b.path("bench-out"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("summary_")
        })
        .count();
    assert!(summaries >= 1);
}

#[test]
fn json_flag_prints_the_summary() {
    let b = bench().suite("[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    let done = b_run(&b, &["--json", "--output", "elsewhere"]);
    let v: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    assert_eq!(v["suite"]["name"], "benchmark");
    assert_eq!(v["steps"][0]["id"], "a");
    assert!(b.path("elsewhere/perf.json").exists());
    assert_eq!(
        v["reproduce"],
        "benchmark run benchmark.toml --runs 1 --warmup 0"
    );
}

#[test]
fn preflight_failure_exits_4_before_anything_runs() {
    let b = bench().suite(
        r#"
[[preflight]]
commands = ["sh", "surely-not-installed-anywhere"]
[[preflight]]
name = "disk"
min_free_disk = "1000 TiB"
[[step]]
id = "a"
run = "touch ran"
"#,
    );
    b.run_args(&["run"])
        .code(4)
        .stderr_has("pre-flight failed")
        .stderr_has("`surely-not-installed-anywhere` is not on PATH")
        .stderr_has("disk: ")
        .stderr_has("1000.0 TiB required");
    assert!(!b.path("ran").exists());
    b.run_args(&["check"])
        .code(4)
        .stderr_has("pre-flight failed");
}

#[test]
fn check_validates_without_running() {
    let b = bench()
        .suite("[[preflight]]\ncommand = \"sh\"\n[[step]]\nid = \"a\"\nrun = \"touch ran\"\n");
    b.run_args(&["check"])
        .code(0)
        .stdout_has("is valid: 1 step(s)")
        .stdout_has("pre-flight passed");
    assert!(!b.path("ran").exists());
}

#[test]
fn an_unwritable_output_directory_is_an_invocation_error() {
    let b = bench().suite("[[step]]\nid = \"a\"\nrun = \"true\"\n");
    std::fs::write(b.path("file"), "").unwrap();
    b.run_args(&["run", "--output", "file/sub"])
        .code(2)
        .stderr_has("cannot create the output directory file/sub");
}

impl crate::helper::Bench {
    pub fn run_args(&self, args: &[&str]) -> crate::helper::Done<'_> {
        let mut c = self.command();
        c.args(args);
        crate::helper::Done {
            bench: self,
            output: c.output().unwrap(),
        }
    }
}

/// On a terminal the progress names the running step (a pty from util-linux's `script`).
#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_progress_names_the_running_step() {
    let b = bench().suite(
        "[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"slow-step\"\nrun = \"sleep 0.6\"\n",
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("{} run", crate::helper::BIN), "/dev/null"])
        .current_dir(b.dir.path())
        .output()
        .expect("script(1) from util-linux");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    // The spinner line, drawn while the step runs, then the finished step and the table.
    assert!(screen.contains("run 1/1 · slow-step"), "{screen}");
    assert!(
        screen.contains("slow-step") && screen.contains("ok"),
        "{screen}"
    );
    assert!(screen.contains("receipts: "), "{screen}");
}

#[test]
fn shell_argv_and_working_dir_apply_and_quiet_drops_progress() {
    let b = bench().file(
        "suites/s.toml",
        r#"
[suite]
runs = 1
warmup = 0
shell = ["sh", "-eu", "-c"]
working_dir = "work"
[[step]]
id = "probe"
run = 'pwd > where.txt; echo "$-" > flags.txt'
"#,
    );
    std::fs::create_dir(b.path("suites/work")).unwrap();
    let done = b.run_args(&["run", "suites/s.toml", "--quiet"]).code(0);
    // Steps run in working_dir, resolved against the suite file's directory.
    let work = std::fs::canonicalize(b.path("suites/work")).unwrap();
    let where_ = std::fs::read_to_string(work.join("where.txt")).unwrap();
    assert_eq!(std::path::Path::new(where_.trim()), work);
    // The shell prefix is used as given.
    let flags = std::fs::read_to_string(work.join("flags.txt")).unwrap();
    assert!(flags.contains('e') && flags.contains('u'), "{flags}");
    // --quiet: no progress on stderr; the table still on stdout.
    assert!(!done.stderr().contains("run 1/1"), "{}", done.stderr());
    done.stdout_has("probe");
}

#[test]
fn one_metric_in_two_units_is_converted_and_a_mismatch_left_out() {
    let b = bench().suite(
        r#"
[suite]
runs = 3
warmup = 0
[[step]]
id = "units"
run = '''
case $BENCHMARK_RUN_NUMBER in
  1) echo "::bench:: metric lat 1 ms" ;;
  2) echo "::bench:: metric lat 2 s" ;;
  3) echo "::bench:: metric lat 5 kB" ;;
esac
'''
"#,
    );
    let done = b.run().code(0);
    let s = done.summary();
    let m = &s.steps[0].metrics["lat"];
    assert_eq!(m.unit.as_deref(), Some("ms"));
    assert_eq!(m.stats.n, 2, "the `kB` value is left out");
    assert_eq!(m.stats.mean, 1000.5, "1 ms and 2 s are 1 ms and 2000 ms");
    let warning = "step `units`: metric `lat` is reported in `ms` and, in run(s) 3, in `kB`";
    assert!(
        s.warnings.iter().any(|w| w.message.starts_with(warning)),
        "{:?}",
        s.warnings
    );
    done.stdout_has(warning);
}

#[test]
fn an_escape_sequence_in_a_metric_unit_is_rejected_and_never_printed_raw() {
    let b = bench().suite(
        r#"
[suite]
runs = 1
warmup = 0
[[step]]
id = "esc"
run = '''
printf '::bench:: metric x 1 \033[31mms\n'
printf '::bench:: metric ok 2 ms\n'
'''
"#,
    );
    let done = b.run().code(0);
    let step = &done.run_receipt(1).steps[0];
    let names: Vec<_> = step.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["ok"],
        "the line with the escape is a malformed control line"
    );
    let s = done.summary();
    assert!(
        s.warnings.iter().any(|w| w
            .message
            .contains(r"metric `x`: unit `\u{1b}[31mms` contains control characters")),
        "{:?}",
        s.warnings
    );
    assert!(s.warnings.iter().all(|w| !w.message.contains('\x1b')));
    for (what, bytes) in [
        ("stdout", &done.output.stdout),
        ("stderr", &done.output.stderr),
    ] {
        assert!(!bytes.contains(&0x1b), "raw ESC on {what}: {bytes:?}");
    }
    done.stdout_has(r"\u{1b}[31mms");
}
