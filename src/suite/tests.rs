use super::*;

fn parse_str(text: &str) -> Result<Suite, SuiteError> {
    parse(text, Some(Path::new("suite.toml")), Path::new("/work"))
}

fn err(text: &str) -> String {
    parse_str(text).unwrap_err().to_string()
}

const MINIMAL: &str = r#"
[suite]
name = "bootstrap"
runs = 3
warmup = 1
timeout = "30m"

[[setup]]
run = "scripts/cluster-down.sh"

[[step]]
id = "kind-create"
name = "Kind cluster creation"
run = "kind create cluster --config kind.yaml"
timeout = "5m"
modes = ["bootstrap", "full"]

[[teardown]]
run = "scripts/cluster-down.sh"
"#;

#[test]
fn the_designs_minimal_suite_parses() {
    let s = parse_str(MINIMAL).unwrap();
    assert_eq!(s.name, "bootstrap");
    assert_eq!((s.runs, s.warmup), (3, 1));
    assert_eq!(s.run_timeout, Some(Duration::from_secs(1800)));
    assert_eq!(s.steps[0].timeout, Some(Duration::from_secs(300)));
    assert_eq!(s.steps[0].modes, ["bootstrap", "full"]);
    assert_eq!(s.modes, ["bootstrap", "full"]);
    assert_eq!(s.setup[0].run, "scripts/cluster-down.sh");
    assert_eq!(s.teardown[0].name, "teardown #1");
    assert_eq!(s.shell, ["sh", "-c"]);
    assert_eq!(s.working_dir, Path::new("/work"));
    assert_eq!(s.source.sha256.len(), 64);
}

#[test]
fn the_built_in_baseline_parses_and_plans() {
    let s = baseline();
    assert_eq!(s.name, "system-baseline");
    assert!(s.source.path.is_none());
    let plan = s.plan(&PlanOptions::default()).unwrap();
    let ids: Vec<_> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["spawn", "cpu", "memory", "write", "read"]);
}

#[test]
fn modes_select_steps() {
    let text = r#"
[suite]
default_mode = "quick"
[[step]]
id = "always"
run = "true"
[[step]]
id = "full-only"
run = "true"
modes = ["full"]
[[step]]
id = "quick-only"
run = "true"
modes = ["quick"]
"#;
    let ids = |mode: Option<&str>| {
        parse_str(text)
            .unwrap()
            .plan(&PlanOptions {
                mode: mode.map(str::to_owned),
                ..Default::default()
            })
            .unwrap()
            .steps
            .into_iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(None), ["always", "quick-only"]);
    assert_eq!(ids(Some("full")), ["always", "full-only"]);
    let e = parse_str(text)
        .unwrap()
        .plan(&PlanOptions {
            mode: Some("fulll".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown mode `fulll`"), "{e}");
    assert!(e.contains("`full`, `quick`"), "{e}");
}

#[test]
fn without_mode_or_default_only_untagged_steps_run() {
    let text = "[[step]]\nid = \"a\"\nrun = \"true\"\nmodes = [\"x\"]\n";
    let e = parse_str(text)
        .unwrap()
        .plan(&PlanOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("choose one with --mode (`x`)"), "{e}");
}

#[test]
fn unknown_key_names_line_column_and_suggests() {
    let e = err("[suite]\nname = \"x\"\nrnus = 3\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    assert!(e.starts_with("suite.toml:3:1: unknown key `rnus`"), "{e}");
    assert!(e.contains("did you mean `runs`?"), "{e}");
}

#[test]
fn unknown_table_is_an_error() {
    let e = err("[suit]\nname = \"x\"\n");
    assert!(e.contains("suite.toml:1:"), "{e}");
    assert!(e.contains("unknown key `suit`"), "{e}");
    assert!(e.contains("did you mean `suite`?"), "{e}");
}

#[test]
fn bad_duration_points_at_the_value() {
    let e = err("[[step]]\nid = \"a\"\nrun = \"true\"\ntimeout = \"5 parsecs\"\n");
    assert!(e.starts_with("suite.toml:4:11:"), "{e}");
    assert!(e.contains("`5 parsecs` is not a duration"), "{e}");
}

#[test]
fn duplicate_step_id_names_both_places() {
    let e = err("[[step]]\nid = \"a\"\nrun = \"true\"\n\n[[step]]\nid = \"a\"\nrun = \"false\"\n");
    assert!(
        e.starts_with("suite.toml:6:6: duplicate step id `a` (first defined at line 1)"),
        "{e}"
    );
    assert!(e.contains("unique `id`"), "{e}");
}

#[test]
fn undeclared_mode_is_an_error() {
    let e = err(
        "[suite]\nmodes = [\"full\"]\n[[step]]\nid = \"a\"\nrun = \"true\"\nmodes = [\"ful\"]\n",
    );
    assert!(
        e.starts_with("suite.toml:6:10: unknown mode `ful` in step `a`"),
        "{e}"
    );
}

#[test]
fn unknown_default_mode_is_an_error() {
    let e = err("[suite]\ndefault_mode = \"x\"\n[[step]]\nid = \"a\"\nrun = \"true\"\n");
    assert!(
        e.starts_with("suite.toml:2:16: unknown default_mode `x`"),
        "{e}"
    );
}

#[test]
fn malformed_toml_is_located() {
    let e = err("[suite\nname = 1\n");
    assert!(e.starts_with("suite.toml:1:"), "{e}");
}

#[test]
fn wrong_types_and_ranges() {
    assert!(
        err("[suite]\nruns = 0\n[[step]]\nid=\"a\"\nrun=\"x\"\n")
            .starts_with("suite.toml:2:8: `runs` must be a whole number from 1 to 100000")
    );
    assert!(err("[suite]\nruns = \"three\"\n").contains("suite.toml:2:8"));
    assert!(err("[[step]]\nid = \"a b\"\nrun = \"x\"\n").contains("step id `a b` is not valid"));
    assert!(err("[[step]]\nid = \"a\"\n").contains("step `a` has no `run`"));
    assert!(err("[suite]\nname = \"x\"\n").contains("has no [[step]]"));
    assert!(
        err("[[preflight]]\nname = \"x\"\n[[step]]\nid=\"a\"\nrun=\"x\"\n")
            .starts_with("suite.toml:1:1: [[preflight]] #1 checks nothing")
    );
    assert!(
        err("[monitor]\ninterval = \"0s\"\n[[step]]\nid=\"a\"\nrun=\"x\"\n")
            .contains("`interval` must be between 1ms and 1h, not 0s")
    );
    assert!(
        err("[monitor]\ndocker = \"maybe\"\n[[step]]\nid=\"a\"\nrun=\"x\"\n")
            .contains("suite.toml:2:10")
    );
}

#[test]
fn preflight_and_settings() {
    let s = parse_str(
        r#"
[suite]
shell = ["bash", "-euo", "pipefail", "-c"]
env = { A = "1" }
env_allow = ["CI"]
working_dir = "sub"
[[preflight]]
commands = ["kind", "kubectl"]
min_free_disk = "10 GiB"
min_free_memory = "1 GiB"
[[step]]
id = "a"
run = "true"
expect_exit = [0, 1]
"#,
    )
    .unwrap();
    assert_eq!(s.shell, ["bash", "-euo", "pipefail", "-c"]);
    assert_eq!(s.working_dir, Path::new("/work/sub"));
    assert_eq!(s.steps[0].expect_exit, [0, 1]);
    assert_eq!(
        s.preflight[0].checks,
        [
            Check::Command("kind".into()),
            Check::Command("kubectl".into()),
            Check::FreeDisk {
                path: "/work/sub/.".into(),
                min_bytes: 10 << 30
            },
            Check::FreeMemory { min_bytes: 1 << 30 },
        ]
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = err("[[step]]\nid = \"a\"\nrun = \"true\"\nname = \"é\"\ntimeout = \"x\"\n");
    assert!(e.starts_with("suite.toml:5:11:"), "{e}");
    let loc = locate(Path::new("f"), "é = x", 3);
    assert_eq!((loc.line, loc.column), (1, 3));
}

#[test]
fn a_file_that_is_not_utf8_names_the_first_bad_byte() {
    let f = Path::new("s.toml");
    let e = decode(b"[suite]\nname = \"caf\xE9\"\n", f).unwrap_err();
    let at = e.location.unwrap();
    assert_eq!((at.line, at.column), (2, 12));
    assert_eq!(e.message, "the suite file is not valid UTF-8 (byte 0xE9)");
    assert!(e.help.unwrap().contains("iconv -f LATIN1 -t UTF-8"));
    // Columns count characters, as everywhere: `é` before the bad byte is one.
    let at = decode(&[&b"x = \""[..], "é".as_bytes(), b"\xFF\""].concat(), f)
        .unwrap_err()
        .location
        .unwrap();
    assert_eq!((at.line, at.column), (1, 7));
    let e = decode(b"\xFF\xFE[\x00", f).unwrap_err();
    assert_eq!(e.location.map(|l| (l.line, l.column)), Some((1, 1)));
    assert!(e.help.unwrap().contains("UTF-16"));
    assert_eq!(decode("ok = 1".as_bytes(), f).unwrap(), "ok = 1");
}

#[test]
fn a_taken_id_gets_the_first_free_suffix() {
    let taken = ["a_b", "a_b-2", "A_B-3", "build"];
    let is_taken = |c: &str| taken.iter().any(|t| t.eq_ignore_ascii_case(c));
    assert_eq!(unique_id("x", is_taken), "x");
    assert_eq!(unique_id("a_b", is_taken), "a_b-4");
    assert_eq!(unique_id("Build", is_taken), "Build-2");
}

#[test]
fn a_steps_import_reads_stdout_or_a_path() {
    use crate::import::Kind;
    let s = parse_str(
        "[[step]]\nid = \"go\"\nrun = \"go test -bench .\"\nimport = { kind = \"go-bench\" }\n\
         [[step]]\nid = \"c\"\nrun = \"cargo bench\"\nimport = { kind = \"criterion\" }\n\
         [[step]]\nid = \"h\"\nrun = \"hyperfine --export-json h.json true\"\n\
         import = { kind = \"hyperfine\", path = \"h.json\" }\n",
    )
    .unwrap();
    let imports: Vec<_> = s.steps.iter().map(|s| s.import.clone().unwrap()).collect();
    assert_eq!(
        (imports[0].kind, imports[0].path.as_deref()),
        (Kind::GoBench, None)
    );
    assert_eq!(
        (imports[1].kind, imports[1].path.as_deref()),
        (Kind::Criterion, None),
        "criterion never prints its results: its tree, found when the step has run"
    );
    assert_eq!(imports[2].path.as_deref(), Some(Path::new("h.json")));
}

#[test]
fn a_bad_import_is_located_with_a_suggestion() {
    let step = |imp: &str| format!("[[step]]\nid = \"a\"\nrun = \"true\"\nimport = {imp}\n");
    let e = err(&step("{ kind = \"gobench\" }"));
    assert!(
        e.starts_with("suite.toml:4:19: unknown import kind `gobench` in step `a`"),
        "{e}"
    );
    assert!(e.contains("did you mean `go-bench`?"), "{e}");
    let e = err(&step("{ kind = \"jmh\" }"));
    assert!(
        e.contains("the kinds are `criterion`, `go-bench`, `hyperfine`, `libtest`"),
        "{e}"
    );
    let e = err(&step("{ kind = \"libtest\", file = \"x\" }"));
    assert!(e.starts_with("suite.toml:4:"), "{e}");
    assert!(e.contains("unknown key `file`"), "{e}");
    let e = err(&step("{ path = \"x\" }"));
    assert!(e.contains("missing key `kind`"), "{e}");
    let e = err(&step("{ kind = \"hyperfine\", path = \" \" }"));
    assert!(
        e.starts_with("suite.toml:4:39: `import.path` of step `a` is empty"),
        "{e}"
    );
    let e = err(
        "[[step]]\nid = \"p\"\nprobe = \"container\"\nimage = \"busybox\"\n\
         import = { kind = \"go-bench\" }\n",
    );
    assert!(
        e.contains("container probe `p` cannot `import`: it has no output to read"),
        "{e}"
    );
}

#[test]
fn load_scenarios_parse_with_their_defaults_and_follow_modes() {
    use crate::load::{Arrival, Stop};
    let s = parse_str(
        r#"
[suite]
modes = ["quick", "full"]
default_mode = "quick"
[[step]]
id = "a"
run = "true"
[[load]]
id = "closed"
run = "true"
total = 10
[[load]]
id = "open"
run = "true"
duration = "2s"
rate = "3000/min"
modes = ["full"]
[[load]]
id = "api"
http = { url = "http://127.0.0.1:1/", headers = { a = "1" } }
total = 5
concurrency = 4
modes = ["quick"]
"#,
    )
    .unwrap();
    let closed = &s.loads[0];
    assert_eq!(closed.drive.arrival, Arrival::Closed { concurrency: 1 });
    assert_eq!(closed.drive.stop, Stop::Total(10));
    assert_eq!((closed.drive.timeout, closed.drive.warmup_ops), (None, 0));
    assert_eq!(
        closed.op,
        LoadOp::Command {
            run: "true".into(),
            expect_exit: vec![0]
        }
    );
    let open = &s.loads[1];
    assert_eq!(
        open.drive.arrival,
        Arrival::Open {
            rate_per_s: 50.0,
            max_in_flight: crate::load::DEFAULT_MAX_IN_FLIGHT
        }
    );
    assert_eq!(open.drive.stop, Stop::Duration(Duration::from_secs(2)));
    let api = &s.loads[2];
    assert_eq!(api.drive.timeout, Some(Duration::from_secs(60)));
    let LoadOp::Http(h) = &api.op else {
        panic!("{:?}", api.op)
    };
    assert_eq!((h.method.as_str(), h.reuse), ("GET", true));
    assert_eq!(h.headers, [("a".to_owned(), "1".to_owned())]);
    let ids = |mode: Option<&str>| -> Vec<String> {
        s.clone()
            .plan(&PlanOptions {
                mode: mode.map(str::to_owned),
                ..Default::default()
            })
            .unwrap()
            .loads
            .into_iter()
            .map(|l| l.id)
            .collect()
    };
    assert_eq!(ids(None), ["closed", "api"]);
    assert_eq!(ids(Some("full")), ["closed", "open"]);
}

#[test]
fn a_suite_of_load_scenarios_only_is_valid() {
    let s = parse_str("[[load]]\nid = \"x\"\nrun = \"true\"\ntotal = 1\n").unwrap();
    assert!(s.steps.is_empty());
    assert_eq!(s.plan(&PlanOptions::default()).unwrap().loads.len(), 1);
}

#[test]
fn http_scenarios_refuse_what_only_commands_have() {
    let e =
        err("[[load]]\nid = \"x\"\nhttp = { url = \"http://h/\" }\ntotal = 1\nexpect_exit = 1\n");
    assert!(
        e.contains("has `expect_exit` but its operation is HTTP"),
        "{e}"
    );
    assert!(e.contains("expect_status"), "{e}");
    let e = err(
        "[[load]]\nid = \"x\"\nhttp = { url = \"http://h/\" }\ntotal = 1\nenv = { A = \"1\" }\n",
    );
    assert!(e.contains("has `env` but its operation is HTTP"), "{e}");
    let e =
        err("[[load]]\nid = \"x\"\nrun = \"true\"\nhttp = { url = \"http://h/\" }\ntotal = 1\n");
    assert!(e.contains("has both `run` and `http`"), "{e}");
    let e = err("[[load]]\nid = \"x\"\nrun = \"true\"\ntotal = 1\nrate = 0\n");
    assert!(e.contains("`rate` must be more than 0"), "{e}");
    let e = err("[[load]]\nid = \"a.b\"\nrun = \"true\"\ntotal = 1\n");
    assert!(
        e.contains("load scenario id `a.b` is not valid") && e.contains("a_b"),
        "{e}"
    );
}
