//! `benchmark entrypoint` (container mode) outside a container: the same behaviour the
//! image runs, with the output directory and suite given through the environment.

use crate::helper::{bench, summary_in};

#[test]
fn runs_the_named_suite_writes_receipts_and_exits_with_the_verdict() {
    let b = bench()
        .file(
            "suites/ok.toml",
            "[suite]\nruns = 2\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"true\"\n",
        )
        .file(
            "suites/bad.toml",
            "[suite]\nruns = 2\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"exit 9\"\n",
        );
    let out = b.path("out");
    let ok = b
        .command()
        .arg("entrypoint")
        .env("BENCHMARK_OUTPUT", &out)
        .env("BENCHMARK_SUITE", "suites/ok.toml")
        .env("BENCHMARK_IMAGE", "test-image")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert_eq!(ok.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("container appliance"), "{stderr}");
    assert!(stderr.contains("provenance: image test-image"), "{stderr}");
    assert!(stderr.contains("suite: suites/ok.toml"), "{stderr}");
    assert!(stderr.contains("verdict: ok (exit 0)"), "{stderr}");
    assert_eq!(summary_in(&out).runs, 2);

    let bad = b
        .command()
        .arg("entrypoint")
        .env("BENCHMARK_OUTPUT", &out)
        .env("BENCHMARK_SUITE", "suites/bad.toml")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("verdict: a step failed (exit 3)"),
        "{stderr}"
    );
    assert_eq!(summary_in(&out).steps[0].failures, 1);
}

#[test]
fn without_a_suite_it_runs_the_system_baseline_even_beside_a_suite_file() {
    let b = bench().suite("[[step]]\nid = \"not-me\"\nrun = \"false\"\n");
    let out = b.path("out");
    let done = b
        .command()
        .args(["entrypoint", "--runs", "1", "--warmup", "0"])
        .env("BENCHMARK_OUTPUT", &out)
        .output()
        .unwrap();
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(summary_in(&out).suite.name, "system-baseline");
}

#[test]
fn an_unwritable_output_says_how_to_run_the_container() {
    let b = bench();
    std::fs::write(b.path("file"), "").unwrap();
    b.run_args(&["entrypoint", "--output", "file/out"])
        .code(2)
        .stderr_has("cannot write the receipts to file/out")
        .stderr_has("docker run --user \"$(id -u):$(id -g)\"");
}
