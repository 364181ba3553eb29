//! A receipt as JUnit XML (the dialect Jenkins, GitLab and GitHub test reporters read):
//! a test suite of steps and one of gates. A step that failed in some run is a failure
//! carrying the exit status and the output tail; a gate that failed is a failure carrying
//! its observed value and threshold; a gate not measured is skipped. Pure.

use crate::format::ms;
use crate::verdict::slo::{GateStatus, Severity};

/// `--format junit`.
#[derive(Debug)]
pub struct Exporter;

impl super::Exporter for Exporter {
    fn receipts(&self, receipts: &[super::Receipt]) -> Vec<u8> {
        render(&receipts[0]).into_bytes()
    }

    fn comparison(&self, r: &crate::compare::Report) -> Option<Vec<u8>> {
        Some(comparison(r).into_bytes())
    }
}

/// Text and attribute values: markup escaped, and the characters XML 1.0 cannot carry
/// (control characters from a step's output) replaced.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' | '\t' => o.push(c),
            '\r' => o.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Seconds with three decimals, the form every reader accepts (Surefire's `time`).
fn secs(ms: f64) -> String {
    format!("{:.3}", (ms / 1000.0).max(0.0))
}

struct Case {
    name: String,
    classname: String,
    time_ms: f64,
    /// `(kind, message, body)`: `failure` or `skipped`.
    outcome: Option<(&'static str, String, String)>,
    out: String,
}

fn suite(name: &str, timestamp: &str, host: Option<&str>, cases: &[Case]) -> String {
    let count = |k: &str| {
        cases
            .iter()
            .filter(|c| c.outcome.as_ref().is_some_and(|o| o.0 == k))
            .count()
    };
    let time: f64 = cases.iter().map(|c| c.time_ms).sum();
    let mut s = format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\"{}{}>\n",
        esc(name),
        cases.len(),
        count("failure"),
        count("skipped"),
        secs(time),
        if timestamp.is_empty() {
            String::new()
        } else {
            format!(" timestamp=\"{}\"", esc(timestamp))
        },
        host.map(|h| format!(" hostname=\"{}\"", esc(h)))
            .unwrap_or_default()
    );
    for c in cases {
        s.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">\n",
            esc(&c.name),
            esc(&c.classname),
            secs(c.time_ms)
        ));
        if let Some((kind, message, body)) = &c.outcome {
            let ty = if *kind == "failure" {
                " type=\"benchmark\""
            } else {
                ""
            };
            s.push_str(&format!(
                "      <{kind} message=\"{}\"{ty}>{}</{kind}>\n",
                esc(message),
                esc(body)
            ));
        }
        if !c.out.is_empty() {
            s.push_str(&format!("      <system-out>{}</system-out>\n", esc(&c.out)));
        }
        s.push_str("    </testcase>\n");
    }
    s.push_str("  </testsuite>\n");
    s
}

fn document(name: &str, suites: &[(String, usize, usize, f64)], body: &str) -> String {
    let tests: usize = suites.iter().map(|s| s.1).sum();
    let failures: usize = suites.iter().map(|s| s.2).sum();
    let time: f64 = suites.iter().map(|s| s.3).sum();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">\n{body}</testsuites>\n",
        esc(name),
        secs(time)
    )
}

fn totals(name: &str, cases: &[Case]) -> (String, usize, usize, f64) {
    (
        name.to_owned(),
        cases.len(),
        cases
            .iter()
            .filter(|c| c.outcome.as_ref().is_some_and(|o| o.0 == "failure"))
            .count(),
        cases.iter().map(|c| c.time_ms).sum(),
    )
}

/// The JUnit report of one receipt.
pub fn render(r: &super::Receipt) -> String {
    let s = &r.summary;
    let suite_name = &s.suite.name;
    let steps: Vec<Case> = s
        .steps
        .iter()
        .map(|st| {
            let w = st.wall_ms.as_ref();
            let out = match w {
                Some(w) => format!(
                    "wall: median {}, mean {}, min {}, max {} over {} run(s)",
                    ms(w.median),
                    ms(w.mean),
                    ms(w.min),
                    ms(w.max),
                    w.n
                ),
                None => "no successful run".to_owned(),
            };
            let outcome = (st.failures > 0).then(|| {
                let mut body = String::new();
                let mut first = None;
                for (run, rec) in super::failures(r, st) {
                    let how = match rec.signal {
                        Some(sig) => format!("killed by signal {sig} (exit status {})", rec.exit_code),
                        None => format!("exit status {}", rec.exit_code),
                    };
                    let status = match rec.status {
                        crate::receipt::Status::TimedOut => "timed out",
                        crate::receipt::Status::Interrupted => "interrupted",
                        _ => "failed",
                    };
                    first.get_or_insert_with(|| format!("{status} with {how}"));
                    body.push_str(&format!("run {run}: {status} with {how}\n"));
                    for line in rec.output_tail.as_deref().unwrap_or_default() {
                        body.push_str(&format!("  {line}\n"));
                    }
                }
                let message = format!(
                    "failed in {} of {} run(s){}",
                    st.failures,
                    st.failures as usize + w.map_or(0, |w| w.n),
                    first.map(|f| format!("; first {f}")).unwrap_or_default()
                );
                if body.is_empty() {
                    body = "the run receipts (run_N.json) with its exit status and output were not beside the summary\n".into();
                }
                ("failure", message, body)
            });
            Case {
                name: super::step_label(st),
                classname: format!("{suite_name}.steps"),
                time_ms: w.map_or(0.0, |w| w.median),
                outcome,
                out,
            }
        })
        .collect();
    let gates: Vec<Case> = s
        .slos
        .iter()
        .map(|g| {
            let observed = super::markdown::observed(g);
            let threshold = super::markdown::target(g);
            let outcome = match (g.status, g.severity) {
                (GateStatus::Fail, Severity::Fail) => Some((
                    "failure",
                    format!("observed {observed}, threshold {threshold}"),
                    format!("{}\n{}\n", g.expr, g.line()),
                )),
                (GateStatus::NotMeasured | GateStatus::Inconclusive, _) => Some((
                    "skipped",
                    g.note.clone().unwrap_or_else(|| g.line()),
                    String::new(),
                )),
                _ => None,
            };
            Case {
                name: g.name.clone(),
                classname: format!("{suite_name}.gates"),
                time_ms: 0.0,
                outcome,
                out: g.line(),
            }
        })
        .collect();
    let host = s.environment.hostname.as_deref();
    let mut body = suite(&format!("{suite_name}: steps"), &s.started_at, host, &steps);
    let mut totals_ = vec![totals("steps", &steps)];
    if !gates.is_empty() {
        body.push_str(&suite(
            &format!("{suite_name}: gates"),
            &s.started_at,
            host,
            &gates,
        ));
        totals_.push(totals("gates", &gates));
    }
    document(&format!("benchmark {suite_name}"), &totals_, &body)
}

/// A comparison: one testcase per measure; a regression is a failure.
fn comparison(r: &crate::compare::Report) -> String {
    use crate::stats::compare::Verdict;
    let cases: Vec<Case> = r
        .measures
        .iter()
        .map(|m| {
            let change = match (m.change_pct, m.ci95_low_pct, m.ci95_high_pct) {
                (Some(c), Some(l), Some(h)) => format!("{c:+.1}% [{l:+.1}%, {h:+.1}%]"),
                (Some(c), _, _) => format!("{c:+.1}%"),
                _ => "no change computed".into(),
            };
            let outcome = match m.verdict {
                Verdict::Regressed => Some((
                    "failure",
                    format!(
                        "regressed by {change} (noise band ±{:.1}%)",
                        m.noise_band_pct
                    ),
                    m.note.clone().unwrap_or_default(),
                )),
                Verdict::Inconclusive => Some((
                    "skipped",
                    m.note
                        .clone()
                        .unwrap_or_else(|| format!("inconclusive: {change}")),
                    String::new(),
                )),
                _ => None,
            };
            Case {
                name: format!("{} {}", m.step, m.measure),
                classname: "benchmark.compare".into(),
                time_ms: 0.0,
                outcome,
                out: format!("{}: {change}", m.verdict.as_str()),
            }
        })
        .collect();
    let body = suite(&format!("compare {} → {}", r.base, r.new), "", None, &cases);
    document("benchmark compare", &[totals("compare", &cases)], &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(render(&crate::report::fixture::receipt()));
    }

    #[test]
    fn a_failed_gate_carries_its_observed_value_and_threshold() {
        let mut r = crate::report::fixture::receipt();
        r.summary.slos[0].status = GateStatus::Fail;
        let xml = render(&r);
        assert!(xml.contains("tests=\"6\" failures=\"2\""), "{xml}");
        assert!(
            xml.contains("<failure message=\"observed 76.83 ms, threshold &lt; 500ms\""),
            "{xml}"
        );
        // Without the run receipts, a failing step says where its output would be.
        r.runs.clear();
        assert!(render(&r).contains("were not beside the summary"));
    }

    #[test]
    fn output_cannot_break_the_xml() {
        assert_eq!(
            esc("a<b>&\"c\"\u{1b}[0m"),
            "a&lt;b&gt;&amp;&quot;c&quot;\u{FFFD}[0m"
        );
    }
}
