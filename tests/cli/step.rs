//! `benchmark step NAME -- CMD…`: inside a run and on its own.

use crate::helper::bench;

#[test]
fn outside_a_run_it_prints_the_duration_and_passes_the_exit_code() {
    let b = bench();
    b.run_args(&["step", "nap", "--", "sh", "-c", "sleep 0.1; exit 5"])
        .code(5)
        .stderr_has("step nap: ");
    b.run_args(&["step", "ok", "--", "true"]).code(0);
    b.run_args(&["step", "missing", "--", "no-such-command-xyz"])
        .code(127)
        .stderr_has("no-such-command-xyz");
}

#[test]
fn inside_a_run_it_records_sub_steps_under_the_enclosing_step() {
    let b = bench()
        .file(
            "bootstrap.sh",
            r#"set -e
"$BENCHMARK_EXE" step cluster-create -- sleep 0.1
"$BENCHMARK_EXE" step "install cni" -- sh -c 'sleep 0.05'
"#,
        )
        .suite(
            r#"
[suite]
runs = 2
warmup = 0
[[step]]
id = "bootstrap"
run = "sh bootstrap.sh"
"#,
        );
    let done = b.run().code(0);
    let run = done.run_receipt(1);
    let ids: Vec<_> = run
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.parent.as_deref()))
        .collect();
    assert_eq!(
        ids,
        [
            ("bootstrap", None),
            ("cluster-create", Some("bootstrap")),
            ("install_cni", Some("bootstrap"))
        ]
    );
    assert_eq!(run.steps[2].name, "install cni");
    assert!(run.steps[1].wall_ms >= 100.0);
    let s = done.summary();
    assert_eq!(s.steps.len(), 3);
    assert_eq!(s.steps[1].wall_ms.as_ref().unwrap().n, 2);
    done.stdout_has("bootstrap › cluster-create");
}

#[test]
fn a_zero_or_huge_timeout_is_an_invocation_error() {
    let b = bench();
    b.run_args(&["step", "x", "--timeout", "0s", "--", "true"])
        .code(2)
        .stderr_has("must be between 1ms and 365 days");
    b.run_args(&["step", "x", "--timeout", "292277024626y", "--", "true"])
        .code(2)
        .stderr_has("durations are at most 365 days");
}

/// The (id, parent, name) of each step of run 1, in receipt order.
fn steps_of(done: &crate::helper::Done<'_>) -> Vec<(String, Option<String>, String)> {
    done.run_receipt(1)
        .steps
        .into_iter()
        .map(|s| (s.id, s.parent, s.name))
        .collect()
}

fn owned(v: &[(&str, Option<&str>, &str)]) -> Vec<(String, Option<String>, String)> {
    v.iter()
        .map(|(i, p, n)| ((*i).into(), p.map(Into::into), (*n).into()))
        .collect()
}

const ONE_STEP_RUNNING_SCRIPT: &str = r#"
[suite]
runs = 1
warmup = 0
[[step]]
id = "bootstrap"
run = "sh script.sh"
"#;

#[test]
fn names_that_make_the_same_id_get_distinct_ids_and_keep_their_names() {
    let b = bench()
        .file(
            "script.sh",
            r#"set -e
"$BENCHMARK_EXE" step "a b" -- true
"$BENCHMARK_EXE" step "a-b" -- true
"$BENCHMARK_EXE" step "a_b" -- true
"$BENCHMARK_EXE" step "A b" -- true
"#,
        )
        .suite(ONE_STEP_RUNNING_SCRIPT);
    let done = b.run().code(0);
    assert_eq!(
        steps_of(&done),
        owned(&[
            ("bootstrap", None, "bootstrap"),
            ("a_b", Some("bootstrap"), "a b"),
            ("a-b", Some("bootstrap"), "a-b"),
            ("a_b-2", Some("bootstrap"), "a_b"),
            // Case-only differences collide on case-insensitive file systems.
            ("A_b-3", Some("bootstrap"), "A b"),
        ])
    );
    // Four distinct sub-steps in the summary, none merged.
    assert_eq!(done.summary().steps.len(), 5);
}

#[test]
fn a_sub_step_named_like_its_parent_gets_its_own_id() {
    let b = bench()
        .file("script.sh", r#""$BENCHMARK_EXE" step bootstrap -- true"#)
        .suite(ONE_STEP_RUNNING_SCRIPT);
    let done = b.run().code(0);
    assert_eq!(
        steps_of(&done),
        owned(&[
            ("bootstrap", None, "bootstrap"),
            ("bootstrap-2", Some("bootstrap"), "bootstrap"),
        ])
    );
}

#[test]
fn a_nested_sub_step_has_the_innermost_enclosing_step_as_parent() {
    let b = bench()
        .file(
            "script.sh",
            r#"set -e
"$BENCHMARK_EXE" step outer -- sh -c '"$BENCHMARK_EXE" step inner -- sleep 0.05'
"$BENCHMARK_EXE" step after -- true
"#,
        )
        .suite(ONE_STEP_RUNNING_SCRIPT);
    let done = b.run().code(0);
    // In the order they started, although `inner` ended before `outer`.
    assert_eq!(
        steps_of(&done),
        owned(&[
            ("bootstrap", None, "bootstrap"),
            ("outer", Some("bootstrap"), "outer"),
            ("inner", Some("outer"), "inner"),
            ("after", Some("bootstrap"), "after"),
        ])
    );
    let summary: Vec<_> = done
        .summary()
        .steps
        .into_iter()
        .map(|s| (s.id, s.parent))
        .collect();
    assert_eq!(
        summary,
        [
            ("bootstrap".to_owned(), None),
            ("outer".to_owned(), Some("bootstrap".to_owned())),
            ("inner".to_owned(), Some("outer".to_owned())),
            ("after".to_owned(), Some("bootstrap".to_owned())),
        ]
    );
}

#[test]
fn with_a_bad_run_dir_it_runs_the_command_warns_and_passes_its_exit_code() {
    let b = bench();
    let missing = b.path("no-such-dir");
    let done = b
        .command()
        .env("BENCHMARK_RUN_DIR", &missing)
        .args(["step", "x", "--", "sh", "-c", "touch ran; exit 7"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(7), "{stderr}");
    assert!(b.path("ran").exists(), "the command did not run");
    assert!(
        stderr.contains("warning: cannot record into the run") && stderr.contains("no-such-dir"),
        "{stderr}"
    );
    assert!(!missing.exists(), "it created the run directory");
}

#[test]
fn concurrent_sub_steps_with_one_name_get_distinct_ids() {
    let b = bench()
        .file(
            "script.sh",
            r#"for i in 1 2 3 4; do "$BENCHMARK_EXE" step same -- sleep 0.1 & done; wait"#,
        )
        .suite(ONE_STEP_RUNNING_SCRIPT);
    let done = b.run().code(0);
    let mut ids: Vec<String> = steps_of(&done).into_iter().map(|(id, _, _)| id).collect();
    ids.sort();
    assert_eq!(ids, ["bootstrap", "same", "same-2", "same-3", "same-4"]);
}
