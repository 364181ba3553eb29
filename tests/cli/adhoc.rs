//! `benchmark run -c CMD -c CMD`: ad-hoc commands without a suite file.

use crate::helper::bench;

fn orders(dir: &std::path::Path, runs: u32) -> Vec<Vec<String>> {
    (1..=runs)
        .map(|n| {
            crate::helper::run_receipt_in(dir, n)
                .steps
                .into_iter()
                .map(|s| s.id)
                .collect()
        })
        .collect()
}

#[test]
fn several_commands_run_shuffled_per_run_and_reproducibly() {
    let args = [
        "-c",
        "true",
        "-c",
        "echo x >/dev/null",
        "-c",
        "sleep 0",
        "--runs",
        "8",
        "--warmup",
        "0",
        "--seed",
        "7",
        "-q",
    ];
    let b = bench().args(args);
    let done = b.run().code(0);
    let summary = done.summary();
    // The summary lists them in command order, with derived ids.
    let ids: Vec<&str> = summary.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["true", "echo-x", "sleep-0"]);
    assert!(
        summary
            .steps
            .iter()
            .all(|s| s.wall_ms.as_ref().unwrap().n == 8)
    );
    assert_eq!(summary.options.shuffle_seed, Some(7));
    assert_eq!(summary.suite.file, None);
    assert!(
        summary
            .reproduce
            .contains("-c true --name true -c 'echo x >/dev/null' --name echo-x")
            && summary.reproduce.ends_with("--runs 8 --warmup 0 --seed 7"),
        "{}",
        summary.reproduce
    );
    let first = orders(&b.path("bench-out"), 8);
    let distinct: std::collections::BTreeSet<_> = first.iter().collect();
    assert!(distinct.len() > 1, "seed 7 shuffles: {first:?}");
    // The same seed, the same orders.
    let again = bench().args(args);
    again.run().code(0);
    assert_eq!(orders(&again.path("bench-out"), 8), first);
}

#[test]
fn one_command_with_a_name_and_its_exit_code() {
    let b = bench().args(["-c", "exit 3", "--name", "fails", "--warmup", "0", "-q"]);
    let done = b.run().code(3);
    let s = done.summary();
    assert_eq!(s.steps[0].id, "fails");
    assert_eq!(s.options.shuffle_seed, None);
    assert_eq!(s.steps[0].failures, 1);
}

#[test]
fn ad_hoc_usage_errors_exit_2() {
    bench()
        .args(["-c", "true", "--name", "a b"])
        .run()
        .code(2)
        .stderr_has("try `a-b`");
    bench()
        .args(["some.toml", "-c", "true"])
        .run()
        .code(2)
        .stderr_has("cannot be used with");
}
