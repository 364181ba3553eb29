//! Fuzzing the suite parser: the repository's valid suites, mutated (lines deleted,
//! duplicated, swapped, inserted; values replaced by extreme numbers and durations, wrong
//! types, empty, very long, unicode and control-character strings; bytes that are not
//! UTF-8), go through what `benchmark check` does before its pre-flight: decode, parse,
//! validate, plan. None may panic, and every error must say where.
//!
//! Bounded for the normal `cargo test`: 2000 cases from a fixed seed (see
//! [`crate::proptest_config`]; `PROPTEST_CASES` and `PROPTEST_RNG_SEED` search further).

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::{PlanOptions, from_bytes};

/// One suite that uses every table and key the parser knows.
const EVERYTHING: &str = r#"[suite]
name = "everything"
description = "every key"
runs = 2
warmup = 0
timeout = "10m"
kill_grace = "1s"
keep_going = true
working_dir = "."
shell = "bash"
env = { CC = "cc" }
env_allow = ["CC"]
modes = ["quick", "full"]
default_mode = "quick"

[monitor]
enabled = true
interval = "250ms"
docker = "auto"

[[preflight]]
name = "tools"
command = "sh"
commands = ["true"]
min_free_disk = "1 MiB"
path = "."
min_free_memory = "64 MiB"
run = "true"
docker_daemon = false

[[setup]]
name = "prepare"
run = "true"
timeout = "1m"
env = { A = "1" }

[[step]]
id = "build"
name = "Build it"
run = "make"
timeout = "5m"
expect_exit = [0, 2]
allow_failure = true
modes = ["quick", "full"]
env = { CC = "clang" }

[[step]]
id = "probe"
probe = "container"
image = "busybox:local"
cmd = ["true"]
network = "none"
expect_exit = 0
modes = ["full"]

[[teardown]]
run = "true"

[[load]]
id = "create-runs"
name = "Create runs"
run = "true $BENCHMARK_OP_INDEX"
total = 200
concurrency = 25
warmup_ops = 10
timeout = "30s"
env = { A = "1" }
expect_exit = [0, 1]
modes = ["full"]

[[load]]
id = "api"
http = { url = "http://127.0.0.1:8080/x?y=1", method = "POST", body = "{}", headers = { content-type = "application/json" }, reuse = false, expect_status = [200, 201] }
duration = "2s"
rate = "50/s"
concurrency = 4

[[slo]]
expr = "load.create-runs.complete.p95 <= 7s"

[[slo]]
expr = "load.api.throughput >= 5/s"

[[slo]]
name = "fast build"
expr = "step.build.wall.p95 <= 7s"
confidence = 0.95
severity = "warn"

[[slo]]
expr = "metric.display_mibps.mean >= 80 MiB/s"
"#;

/// The valid suites the mutations start from: the fixtures and the built-in suite (all in
/// the Nix build's source set), and [`EVERYTHING`].
const SEEDS: &[&str] = &[
    include_str!("../../tests/fixtures/valid/bootstrap.toml"),
    include_str!("../../tests/fixtures/receipts/v1-suite.toml"),
    super::BASELINE,
    EVERYTHING,
];

/// Arrival rates, valid and not.
const RATES: &[&str] = &[
    "\"50/s\"",
    "\"3000/min\"",
    "\"2/ms\"",
    "\"1/h\"",
    "\"0/s\"",
    "\"-5/s\"",
    "\"1e400/s\"",
    "\"NaN/s\"",
    "\"inf/s\"",
    "\"50\"",
    "\"/s\"",
    "\"5/\"",
    "\"5/fortnight\"",
    "0.5",
    "0",
    "-1",
    "1e308",
    "nan",
    "inf",
    "\"é/s\"",
];
/// HTTP operations, valid and not.
const HTTPS: &[&str] = &[
    "{ url = \"http://127.0.0.1:8080/\" }",
    "{ url = \"https://example.com/\" }",
    "{ url = \"\" }",
    "{ url = \"http://\" }",
    "{ url = \"http://[::1]:99999/\" }",
    "{ url = \"ftp://x/\" }",
    "{ url = \"http://h/\", method = \"G E T\" }",
    "{ url = \"http://h/\", method = \"\" }",
    "{ url = \"http://h/\", headers = { \"bad name\" = \"v\" } }",
    "{ url = \"http://h/\", headers = { x = \"a\\nb\" } }",
    "{ url = \"http://h/\", expect_status = [] }",
    "{ url = \"http://h/\", expect_status = [99, 600] }",
    "{ url = \"http://h/\", reuse = \"yes\" }",
    "{ }",
    "\"http://h/\"",
];

/// Values as they appear after `=`, by kind. Any key gets any kind (wrong types too);
/// [`typed`] also gives each key values of its own kind, to get past the type checks.
///
/// Numbers: the extremes of i64/u64/f64 and the edges of the ranges.
const NUMBERS: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "2147483648",
    "100001",
    "1e19",
    "1e308",
    "-1",
    "0",
    "1",
    "-0.0",
    "nan",
    "inf",
    "-inf",
    "0.5",
    "1e-300",
    "[256]",
    "[-1]",
    "[0, 1]",
    "[]",
    "[0, 2147483648]",
];
/// Durations: overflowing, negative, zero, sub-nanosecond, odd spellings.
const DURATIONS: &[&str] = &[
    r#""292277024626y""#,
    r#""9223372036854775807s""#,
    r#""18446744073709551615ns""#,
    r#""1e19 s""#,
    r#""-1s""#,
    r#""0s""#,
    r#""0ms""#,
    r#""1ns""#,
    r#""366 days""#,
    r#""365d""#,
    r#""365 days 1ns""#,
    r#""nan s""#,
    r#""inf s""#,
    r#""1e-400 s""#,
    r#""0.0000000001ns""#,
    r#""1h 1h 1h""#,
    r#""1s1s""#,
    r#""0x10 s""#,
    r#""+1 s""#,
    r#""1_000 s""#,
    r#""1""#,
    r#""s""#,
];
/// Sizes: overflowing, fractional, NaN and infinite, negative.
const SIZES: &[&str] = &[
    r#""1e19 GiB""#,
    r#""18446744073709551615 B""#,
    r#""18446744073709551615.9 B""#,
    r#""1.8446744073709552e19 B""#,
    r#""99999999999999999999 EiB""#,
    r#""16 EiB""#,
    r#""1 EiB""#,
    r#""1.0000001 EiB""#,
    r#""-1 MiB""#,
    r#""NaN GiB""#,
    r#""inf B""#,
    r#""1.5 KiB""#,
    r#""0 B""#,
    r#""1 y""#,
];
/// Gate expressions: extreme thresholds and percentiles, unknown steps, odd units.
const EXPRS: &[&str] = &[
    r#""step.build.wall.p95 <= 1e19 s""#,
    r#""step.build.wall.p95 <= 9223372036854775807 s""#,
    r#""step.build.wall.p95 <= nan s""#,
    r#""step.build.wall.p95 <= inf s""#,
    r#""metric.x.mean >= -1e400 MiB/s""#,
    r#""step.build.wall.p99.99999999 < 1s""#,
    r#""step.build.wall.p0 <= 1s""#,
    r#""step.build.wall.p100 <= 1s""#,
    r#""step.build.wall.p1e400 <= 1s""#,
    r#""step.build.wall.p-1 <= 1s""#,
    r#""step.build.peak_rss.max <= 1e400 EiB""#,
    r#""step.nope.wall.p95 < 1s""#,
    r#""step.BUILD.wall.p95 < 1s""#,
    r#""step..wall.p95 < 1s""#,
    r#""step.build.wall.cv < 5%""#,
    r#""step.build.phase.é.p95 <= 1s""#,
    r#""step.build.wall.p95 <= 1 \u001b[31m""#,
    r#""metric.x.mean >= 1 é/s""#,
    r#""load.x.throughput >= 5/s""#,
    r#""load.create-runs.throughput >= 5/s""#,
    r#""load.create-runs.throughput >= 5 MiB/s""#,
    r#""load.create-runs.complete.p999 <= 1e400 ms""#,
    r#""load.create-runs.complete <= 1s""#,
    r#""load.create-runs.complete.count >= 10""#,
    r#""load.api.first_byte.p95 <= 5 ms""#,
    r#""load.api.x.y.z <= 5 ms""#,
    r#""load.API.throughput >= 1/s""#,
];
/// Names and words: empty, unicode, control characters, case variants, wrong types.
const OTHERS: &[&str] = &[
    r#""""#,
    r#"" ""#,
    r#""é""#,
    r#""\u0000""#,
    r#""\u001b[31m""#,
    r#""a\nb""#,
    r#""\r""#,
    r#""a.b""#,
    r#""Build""#,
    r#""build""#,
    r#""BOOTSTRAP""#,
    r#""full""#,
    r#""container""#,
    r#""on""#,
    r#""off""#,
    r#""warn""#,
    r#""true""#,
    "'raw'",
    "\"\"\"\nmulti\nline\"\"\"",
    "true",
    "[[]]",
    "[\"\"]",
    "[\"full\", \"FULL\"]",
    "{}",
    "{ x = 1 }",
    "1979-05-27T07:32:00Z",
];

/// Lines to insert: table headers, and keys of every table (given a value).
const HEADERS: &[&str] = &[
    "[suite]",
    "[monitor]",
    "[[step]]",
    "[[slo]]",
    "[[preflight]]",
    "[[setup]]",
    "[[teardown]]",
    "[[load]]",
    "[load.http]",
    "[suite.env]",
    "[step]",
    "[[suite]]",
    "[",
    "]]",
];
const KEYS: &[&str] = &[
    "id",
    "name",
    "run",
    "runs",
    "warmup",
    "timeout",
    "kill_grace",
    "interval",
    "docker",
    "enabled",
    "shell",
    "env",
    "env_allow",
    "modes",
    "default_mode",
    "expect_exit",
    "allow_failure",
    "probe",
    "image",
    "cmd",
    "expr",
    "confidence",
    "severity",
    "min_free_disk",
    "min_free_memory",
    "docker_daemon",
    "command",
    "working_dir",
    "total",
    "duration",
    "concurrency",
    "rate",
    "warmup_ops",
    "http",
    "url",
    "method",
    "body",
    "headers",
    "reuse",
    "expect_status",
    "\"\"",
    "id.x",
];
/// Bytes written over the text: control characters, quotes and brackets, and bytes that
/// are not UTF-8 (a lone continuation byte, a truncated sequence, UTF-16's mark).
const BYTES: &[u8] = &[
    0x00, 0x07, 0x1b, b'\r', b'\t', 0x7f, 0x80, 0xbf, 0xc3, 0xe9, 0xf0, 0xfe, 0xff, b'"', b'\'',
    b'=', b'[', b']', b'\\', b'#', b'.',
];

fn toml_string(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One of the values above.
fn listed() -> impl Strategy<Value = String> {
    prop_oneof![
        select(NUMBERS),
        select(DURATIONS),
        select(SIZES),
        select(EXPRS),
        select(OTHERS),
    ]
    .prop_map(str::to_owned)
}

/// A key and a value of its kind.
fn typed() -> impl Strategy<Value = (&'static str, String)> {
    let pick = |keys: &'static [&'static str], values: &'static [&'static str]| {
        (select(keys), select(values)).prop_map(|(k, v)| (k, v.to_owned()))
    };
    prop_oneof![
        pick(
            &["timeout", "kill_grace", "interval", "duration"],
            DURATIONS
        ),
        pick(
            &[
                "runs",
                "warmup",
                "expect_exit",
                "confidence",
                "total",
                "concurrency",
                "warmup_ops",
                "expect_status"
            ],
            NUMBERS
        ),
        pick(&["rate"], RATES),
        pick(&["http"], HTTPS),
        pick(&["min_free_disk", "min_free_memory"], SIZES),
        pick(&["expr"], EXPRS),
        pick(
            &[
                "id",
                "name",
                "modes",
                "default_mode",
                "severity",
                "docker",
                "probe",
                "image"
            ],
            OTHERS
        ),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => listed(),
        // Any characters, escaped as TOML wants, and raw (control characters unescaped).
        2 => any::<String>().prop_map(|s| toml_string(&s)),
        1 => any::<String>().prop_map(|s| format!("\"{s}\"")),
        1 => (1usize..100_000).prop_map(|n| toml_string(&"é".repeat(n))),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:e}")),
        2 => (any::<u64>(), select(&["", "ns", "ms", "s", "m", "h", "d", "y", " B", "KiB", " GiB", "EiB", " MB"][..]))
            .prop_map(|(n, u)| format!("\"{n}{u}\"")),
        // SLO expressions made of their parts.
        2 => prop::collection::vec(
            select(&["step", "metric", "load", ".", "build", "wall", "p95", "p99.9", "cv", "mean",
                "<=", ">", "==", " ", "7s", "1e400", "-", "é", "\u{1b}", "MiB/s", "%", "phase",
                "", "..", "p", "9223372036854775807"][..]),
            0..12,
        )
        .prop_map(|parts| toml_string(&parts.concat())),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index),
    Duplicate(Index),
    Swap(Index, Index),
    /// Replace what follows the first `=` of a line that has one (with this key).
    Value(Option<&'static str>, Index, String),
    Insert(Index, String),
    Byte(Index, Index, u8),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let line = prop_oneof![
        1 => select(HEADERS).prop_map(str::to_owned),
        3 => (select(KEYS), value()).prop_map(|(k, v)| format!("{k} = {v}")),
    ];
    prop_oneof![
        2 => any::<Index>().prop_map(Mutation::Delete),
        2 => any::<Index>().prop_map(Mutation::Duplicate),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        5 => (any::<Index>(), value()).prop_map(|(i, v)| Mutation::Value(None, i, v)),
        5 => (any::<Index>(), typed()).prop_map(|(i, (k, v))| Mutation::Value(Some(k), i, v)),
        3 => (any::<Index>(), line).prop_map(|(i, l)| Mutation::Insert(i, l)),
        2 => (any::<Index>(), any::<Index>(), select(BYTES))
            .prop_map(|(l, b, x)| Mutation::Byte(l, b, x)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = seed.lines().map(|l| l.as_bytes().to_vec()).collect();
    for m in mutations {
        let n = lines.len();
        match m {
            Mutation::Insert(i, l) => lines.insert(i.index(n + 1), l.clone().into_bytes()),
            _ if n == 0 => {}
            Mutation::Delete(i) => {
                lines.remove(i.index(n));
            }
            Mutation::Duplicate(i) => {
                let i = i.index(n);
                lines.insert(i, lines[i].clone());
            }
            Mutation::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
            Mutation::Value(key, i, v) => {
                // Among the lines that have a value (for this key).
                let has = |line: &[u8]| match key {
                    None => line.contains(&b'='),
                    Some(k) => line
                        .strip_prefix(k.as_bytes())
                        .is_some_and(|rest| rest.trim_ascii_start().starts_with(b"=")),
                };
                let with_value: Vec<usize> = (0..n).filter(|l| has(&lines[*l])).collect();
                if with_value.is_empty() {
                    continue;
                }
                let line = &mut lines[with_value[i.index(with_value.len())]];
                let eq = line.iter().position(|b| *b == b'=').unwrap_or_default();
                line.truncate(eq + 1);
                line.push(b' ');
                line.extend_from_slice(v.as_bytes());
            }
            Mutation::Byte(l, b, x) => {
                let line = &mut lines[l.index(n)];
                if line.is_empty() {
                    line.push(*x);
                } else {
                    let at = b.index(line.len());
                    line[at] = *x;
                }
            }
            Mutation::Truncate(i) => lines.truncate(i.index(n)),
        }
    }
    lines.join(&b"\n"[..])
}

/// What `benchmark check` does with a suite file, up to its pre-flight; panics on an
/// error that does not say where.
fn check(bytes: &[u8]) {
    let file = Path::new("fuzz.toml");
    match from_bytes(bytes, file) {
        Err(e) => {
            // The one error about the whole file (it has no step and no load scenario) names it and says
            // what to add; every other error has a line and column.
            let whole_file = e.message == "the suite has no [[step]] and no [[load]]";
            match &e.location {
                Some(at) => {
                    let lines = bytes.split(|b| *b == b'\n').count();
                    assert!(
                        at.line >= 1 && at.line <= lines && at.column >= 1,
                        "location {at} outside the file ({lines} lines): {e:?}"
                    );
                }
                None => assert!(whole_file, "an error without a location: {e:?}"),
            }
            assert_eq!(e.file, file);
            let _ = e.to_string();
        }
        Ok(suite) => {
            let modes = suite.modes.clone();
            for mode in std::iter::once(None).chain(modes.into_iter().map(Some)) {
                let plan = suite.clone().plan(&PlanOptions {
                    mode,
                    ..Default::default()
                });
                if let Err(e) = plan {
                    assert!(matches!(e, crate::error::Error::Usage(_)), "{e:?}");
                }
            }
        }
    }
}

#[test]
fn the_seeds_are_valid_suites() {
    for s in SEEDS {
        if let Err(e) = from_bytes(s.as_bytes(), Path::new("seed.toml")) {
            panic!("{e}\n{s}");
        }
    }
}

proptest! {
    #![proptest_config(crate::proptest_config::bounded(2000))]

    #[test]
    fn mutated_suites_never_panic_and_every_error_says_where(
        seed in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let text = apply(SEEDS[seed.index(SEEDS.len())], &mutations);
        check(&text);
    }
}
