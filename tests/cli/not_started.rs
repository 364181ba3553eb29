//! A step that cannot start (no shell, no working directory, no control FIFO) is a failed
//! step of its run: exit 3, its cause in the run's receipt, teardown and summary as for
//! any failure, earlier runs kept.

use crate::helper::{bench, run_receipt_in, summary_in};
use benchmark::receipt::Status;

#[test]
fn a_step_whose_control_fifo_cannot_be_made_fails_its_run_and_teardown_still_runs() {
    // Run 1 removes the directory its control FIFO lives in: run 2's step cannot start.
    let b = bench().suite(
        r#"
[suite]
runs = 3
warmup = 0
[[step]]
id = "a"
run = 'if [ "$BENCHMARK_RUN_NUMBER" = 1 ]; then rm -rf "$(dirname "$BENCHMARK_CONTROL")"; fi'
[[teardown]]
run = "touch teardown-$BENCHMARK_RUN_NUMBER"
"#,
    );
    let tmp = b.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let b = b.env("TMPDIR", &tmp);
    let done = b.run().code(3).stderr_has("control FIFO");
    let out = b.path("bench-out");
    assert_eq!(run_receipt_in(&out, 1).status, Status::Ok);
    let run = run_receipt_in(&out, 2);
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.steps[0].status, Status::Failed);
    assert!(
        run.warnings
            .iter()
            .any(|w| w.message.contains("step `a`: did not start")
                && w.message.contains("control FIFO")
                && w.message.contains("No such file")),
        "{:?}",
        run.warnings
    );
    assert!(b.path("teardown-1").exists() && b.path("teardown-2").exists());
    assert!(
        !out.join("run_3.json").exists(),
        "fail fast without keep_going"
    );
    let s = summary_in(&out);
    assert_eq!(s.status, Status::Failed);
    assert_eq!(s.runs, 2);
    assert_eq!(s.steps[0].failures, 1);
    drop(done);
}

#[test]
fn a_missing_shell_or_working_dir_fails_the_step_with_its_cause() {
    // Run 1's teardown removes what run 2 needs to start its step (and its teardown).
    for (what, shell, remove, code, cause) in [
        (
            "shell",
            "shell = [\"SHELL_PATH\", \"-c\"]",
            "rm -f \"SHELL_PATH\"",
            127,
            "cannot start",
        ),
        (
            "working_dir",
            "working_dir = \"work\"",
            "rmdir \"$PWD\"",
            1,
            "no such directory",
        ),
    ] {
        let b = bench();
        std::fs::create_dir(b.path("work")).unwrap();
        let sh = b.path("sh");
        std::os::unix::fs::symlink("/bin/sh", &sh).unwrap();
        let sh = sh.display().to_string();
        let b = b.suite(&format!(
            r#"
[suite]
runs = 2
warmup = 0
{}
[[step]]
id = "a"
run = "true"
[[teardown]]
run = 'if [ "$BENCHMARK_RUN_NUMBER" = 1 ]; then {}; fi'
"#,
            shell.replace("SHELL_PATH", &sh),
            remove.replace("SHELL_PATH", &sh)
        ));
        let done = b.run().code(3);
        let stderr = done.stderr();
        assert!(
            stderr.contains("did not start") && stderr.contains(cause),
            "{what}: {stderr}"
        );
        let out = b.path("bench-out");
        assert_eq!(run_receipt_in(&out, 1).status, Status::Ok, "{what}");
        let run = run_receipt_in(&out, 2);
        assert_eq!(run.steps[0].status, Status::Failed, "{what}");
        assert_eq!(run.steps[0].exit_code, code, "{what}");
        assert!(
            run.warnings
                .iter()
                .any(|w| w.message.contains("did not start") && w.message.contains(cause)),
            "{what}: {:?}",
            run.warnings
        );
        // The teardown was tried (it cannot start either, and says so).
        assert!(
            run.warnings.iter().any(|w| w.message.contains("teardown")),
            "{what}: {:?}",
            run.warnings
        );
        let s = summary_in(&out);
        assert_eq!((s.status, s.runs), (Status::Failed, 2), "{what}");
    }
}
