//! Suite fixtures: every invalid one fails `check` and `run` with exit 2 and the error
//! text its `# expect:` lines give; every valid one passes `check`.

use std::path::PathBuf;

use crate::helper::bench;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

#[test]
fn invalid_suites_exit_2_naming_file_line_column() {
    let b = bench();
    for path in fixtures("invalid") {
        // Lossy: one fixture is deliberately not UTF-8.
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        for cmd in ["check", "run"] {
            let p = path.to_str().unwrap();
            let done = b.run_args(&[cmd, p]).code(2);
            for e in &expected {
                assert!(
                    done.stderr().contains(e),
                    "`benchmark {cmd} {}`: stderr lacks {e:?}:\n{}",
                    path.display(),
                    done.stderr()
                );
            }
            assert!(!done.stderr().contains("panicked"));
        }
    }
}

#[test]
fn valid_suites_pass_check() {
    let b = bench();
    for path in fixtures("valid") {
        b.run_args(&["check", path.to_str().unwrap()])
            .code(0)
            .stdout_has("is valid");
    }
}

#[test]
fn a_missing_suite_file_is_an_invocation_error() {
    bench()
        .run_args(&["run", "nope.toml"])
        .code(2)
        .stderr_has("nope.toml: cannot read the suite file")
        .stderr_has("help: check the path");
}
