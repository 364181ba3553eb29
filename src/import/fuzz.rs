//! Fuzzing the importers: the real tools' outputs in `tests/fixtures/import`, mutated
//! (lines deleted, duplicated, swapped; numbers replaced by extremes, `NaN`, `inf`, huge
//! or negative values; garbage inserted; the text cut anywhere), go through the parser,
//! the summary and a step's metrics. None may panic, an error always says something, and
//! an import that is accepted holds only finite figures (JSON cannot carry the others, so
//! its receipt would not be written).
//!
//! Bounded for the normal `cargo test` (see [`crate::proptest_config`]).

use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::tests::fixture;
use super::{Kind, metrics, parse, summary};

const SEEDS: &[(Kind, &str)] = &[
    (Kind::GoBench, "go-bench/bench.txt"),
    (Kind::Hyperfine, "hyperfine/basic.json"),
    (Kind::Hyperfine, "hyperfine/parameters.json"),
    (Kind::Libtest, "libtest/bench.txt"),
    (Kind::Libtest, "libtest/bench.json"),
];

const VALUES: &[&str] = &[
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e309",
    "-1",
    "0",
    "-0",
    "18446744073709551616",
    "9223372036854775807",
    "1,234,567,890,123",
    "0.000000001",
    "",
    "∞",
    "\u{0}",
    "1e-400",
    "12.34.56",
    "-",
    "+5",
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    /// Replace the Nth number-looking token of a line with a value.
    ReplaceNumber(Index, Index, &'static str),
    InsertLine(Index, String),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::DeleteLine),
        1 => any::<Index>().prop_map(Mutation::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        4 => (any::<Index>(), any::<Index>(), select(VALUES))
            .prop_map(|(l, t, v)| Mutation::ReplaceNumber(l, t, v)),
        1 => (any::<Index>(), "[ -~\u{e9}\u{221e}]{0,80}")
            .prop_map(|(i, s)| Mutation::InsertLine(i, s)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return text.to_owned();
    }
    match m {
        Mutation::DeleteLine(i) => {
            lines.remove(i.index(lines.len()));
        }
        Mutation::DuplicateLine(i) => {
            let l = lines[i.index(lines.len())].clone();
            lines.insert(i.index(lines.len()), l);
        }
        Mutation::SwapLines(a, b) => {
            let n = lines.len();
            lines.swap(a.index(n), b.index(n));
        }
        Mutation::ReplaceNumber(l, t, v) => {
            let n = lines.len();
            let line = &mut lines[l.index(n)];
            let starts: Vec<usize> = line
                .char_indices()
                .filter(|&(i, c)| {
                    c.is_ascii_digit() && !line[..i].ends_with(|p: char| p.is_ascii_digit())
                })
                .map(|(i, _)| i)
                .collect();
            if !starts.is_empty() {
                let at = starts[t.index(starts.len())];
                let end = line[at..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
                    .map_or(line.len(), |e| at + e);
                line.replace_range(at..end, v);
            }
        }
        Mutation::InsertLine(i, s) => lines.insert(i.index(lines.len() + 1), s.clone()),
        Mutation::Truncate(i) => {
            let joined = lines.join("\n");
            let mut cut = i.index(joined.len() + 1);
            while !joined.is_char_boundary(cut) {
                cut -= 1;
            }
            return joined[..cut].to_owned();
        }
    }
    lines.join("\n")
}

fn context() -> super::Context {
    super::Context {
        path: "f".into(),
        sha256: "0".into(),
        reproduce: "benchmark import".into(),
        at: std::time::SystemTime::UNIX_EPOCH,
        platform: crate::measure::platform::detect(),
    }
}

proptest! {
    #![proptest_config(crate::proptest_config::bounded(1500))]

    #[test]
    fn mutated_outputs_never_panic_and_accepted_ones_are_finite(
        seed in select(SEEDS),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (kind, file) = seed;
        let mut text = fixture(file);
        for m in &mutations {
            text = apply(&text, m);
        }
        match parse(kind, &text, "f") {
            Err(e) => prop_assert!(!e.to_string().trim().is_empty()),
            Ok(imported) => {
                let s = summary(&imported, context());
                let json = serde_json::to_string(&s);
                prop_assert!(json.is_ok(), "{kind:?}: the receipt cannot be written: {json:?}\n{text}");
                for m in metrics(&imported) {
                    prop_assert!(m.value.is_finite(), "{kind:?}: {m:?}\n{text}");
                }
            }
        }
    }
}
