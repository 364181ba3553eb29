//! Stdout: a reader that went away (`| head`) ends the output quietly, as ripgrep does; a
//! stdout that cannot be written (a full disk) is an error, never a silent exit 0.

use std::process::Stdio;

use crate::helper::bench;

/// Run `args` with a stdout pipe whose reading end is closed before the child writes:
/// what `| head -c10` does once it has read its ten bytes, without the race.
fn with_closed_stdout(b: &crate::helper::Bench, args: &[&str]) -> std::process::Output {
    let mut child = b
        .command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let b = bench().suite("[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    for args in [
        &["schema"][..],
        &["info", "--json"],
        &["check"],
        &["run", "-q"],
    ] {
        let out = with_closed_stdout(&b, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }
    assert!(b.path("bench-out/perf.json").exists());
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_an_error() {
    let b = bench().suite("[suite]\nruns = 1\nwarmup = 0\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    let full = || {
        Stdio::from(
            std::fs::File::options()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
    };
    let out = b
        .command()
        .args(["run", "-q"])
        .stdout(full())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: writing to stdout: No space left on device"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the receipts are in bench-out all the same"),
        "{stderr}"
    );
    assert!(b.path("bench-out/perf.json").exists());
    for args in [&["schema"][..], &["info"]] {
        let out = b.command().args(args).stdout(full()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("writing to stdout"));
    }
}
