//! A receipt as JUnit XML (the dialect Jenkins, GitLab and GitHub test reporters read):
//! a test suite of steps and one of gates. A step that failed in some run is a failure
//! carrying the exit status and the output tail; a gate that failed is a failure carrying
//! its observed value and threshold; a gate not measured is skipped. Load scenarios are a
//! third test suite, a testcase each: its figures in the testcase's output and, for
//! machines, as the suite's properties (`SCENARIO.PHASE.p95_ms`, …; the schema has no
//! properties on a testcase). Failed operations are figures, not a failure (a gate judges
//! them); a scenario none of whose operations succeeded is a failure. Pure.

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
    // `+ 0.0` turns -0.0 (the sum of no times) into 0.0: the schema refuses `-0.000`.
    format!("{:.3}", (ms / 1000.0).max(0.0) + 0.0)
}

struct Case {
    name: String,
    classname: String,
    time_ms: f64,
    /// `(kind, message, body)`: `failure` or `skipped`.
    outcome: Option<(&'static str, String, String)>,
    out: String,
}

fn suite(
    name: &str,
    timestamp: &str,
    host: Option<&str>,
    properties: &[(String, String)],
    cases: &[Case],
) -> String {
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
    if !properties.is_empty() {
        s.push_str("    <properties>\n");
        for (k, v) in properties {
            s.push_str(&format!(
                "      <property name=\"{}\" value=\"{}\"/>\n",
                esc(k),
                esc(v)
            ));
        }
        s.push_str("    </properties>\n");
    }
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
    let mut body = suite(
        &format!("{suite_name}: steps"),
        &s.started_at,
        host,
        &[],
        &steps,
    );
    let mut totals_ = vec![totals("steps", &steps)];
    if !gates.is_empty() {
        body.push_str(&suite(
            &format!("{suite_name}: gates"),
            &s.started_at,
            host,
            &[],
            &gates,
        ));
        totals_.push(totals("gates", &gates));
    }
    if !s.load.is_empty() {
        let (properties, cases) = load(r);
        body.push_str(&suite(
            &format!("{suite_name}: load"),
            &s.started_at,
            host,
            &properties,
            &cases,
        ));
        totals_.push(totals("load", &cases));
    }
    document(&format!("benchmark {suite_name}"), &totals_, &body)
}

/// The load suite: its properties (each scenario's figures by name) and a testcase per
/// scenario, timed by its median duration in the run receipts (0 without them).
fn load(r: &super::Receipt) -> (Vec<(String, String)>, Vec<Case>) {
    use super::load::{arrival, causes, throughput};
    let s = &r.summary;
    let mut properties = Vec::new();
    let mut cases = Vec::new();
    for l in &s.load {
        let mut prop = |k: &str, v: String| properties.push((format!("{}.{k}", l.id), v));
        prop("ops", l.ops.to_string());
        prop("failed", l.failed.to_string());
        if let Some(t) = throughput(l) {
            prop("throughput_per_s", t.to_string());
        }
        for p in &l.phases {
            let x = &p.latency;
            for (stat, v) in [
                ("p50_ms", x.p50_ms),
                ("p95_ms", x.p95_ms),
                ("p99_ms", x.p99_ms),
                ("max_ms", x.max_ms),
            ] {
                prop(&format!("{}.{stat}", p.name), v.to_string());
            }
        }
        prop("max_in_flight", l.max_in_flight.to_string());
        if let Some(b) = l.backlog_max {
            prop("backlog_max", b.to_string());
        }
        if let Some(x) = &l.start_lag {
            prop("start_lag.p99_ms", x.p99_ms.to_string());
        }

        let mut out = format!(
            "{} ops ({}, concurrency {}) over {} run(s), {} failed",
            l.ops,
            arrival(l),
            l.concurrency,
            l.runs,
            l.failed
        );
        if l.failed > 0 {
            out.push_str(&format!(" ({})", causes(l)));
        }
        if let Some(t) = throughput(l) {
            out.push_str(&format!(", {}/s (median over runs)", crate::format::num(t)));
        }
        out.push('\n');
        for p in &l.phases {
            let x = &p.latency;
            out.push_str(&format!(
                "{}: p50 {} · p95 {} · p99 {} · max {} (n={})\n",
                p.name,
                ms(x.p50_ms),
                ms(x.p95_ms),
                ms(x.p99_ms),
                ms(x.max_ms),
                x.count
            ));
        }
        out.push_str(&format!(
            "max in flight {} of {}",
            l.max_in_flight, l.concurrency
        ));
        if let Some(b) = l.backlog_max {
            out.push_str(&format!(", backlog max {b}"));
        }
        if let Some(x) = &l.start_lag {
            out.push_str(&format!(", start lag p99 {}", ms(x.p99_ms)));
        }
        out.push('\n');
        if let Some(first) = l.failure_samples.first().filter(|_| l.succeeded > 0) {
            out.push_str(&format!("first failure: {first}\n"));
        }
        let elapsed: Vec<f64> = r
            .runs
            .iter()
            .flat_map(|run| run.load.iter().filter(|x| x.id == l.id))
            .map(|x| x.elapsed_ms)
            .collect();
        let time_ms = crate::stats::summarize(&elapsed).map_or(0.0, |e| e.median);
        let outcome = (l.succeeded == 0).then(|| {
            let mut body = String::new();
            for f in &l.failure_samples {
                body.push_str(&format!("{f}\n"));
            }
            (
                "failure",
                if l.ops == 0 {
                    "no operation ran".to_owned()
                } else {
                    format!("every one of {} operation(s) failed ({})", l.ops, causes(l))
                },
                body,
            )
        });
        cases.push(Case {
            name: l.id.clone(),
            classname: format!("{}.load", s.suite.name),
            time_ms,
            outcome,
            out,
        });
    }
    (properties, cases)
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
    let body = suite(
        &format!("compare {} → {}", r.base, r.new),
        "",
        None,
        &[],
        &cases,
    );
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
    fn load_junit_snapshot() {
        insta::assert_snapshot!(render(&crate::report::fixture::load_receipt()));
    }

    #[test]
    fn a_scenario_that_never_succeeded_is_a_failure() {
        let mut r = crate::report::fixture::load_receipt();
        let l = &mut r.summary.load[1];
        l.failed = l.ops;
        l.succeeded = 0;
        l.phases.clear();
        l.failures = [("timeout".to_owned(), l.ops)].into();
        let xml = render(&r);
        assert!(
            xml.contains(
                "<failure message=\"every one of 180 operation(s) failed (timeout ×180)\""
            ),
            "{xml}"
        );
    }

    #[test]
    fn an_empty_suite_takes_no_negative_time() {
        assert_eq!(secs([].iter().sum()), "0.000");
        assert_eq!(secs(-0.0), "0.000");
    }

    #[test]
    fn output_cannot_break_the_xml() {
        assert_eq!(
            esc("a<b>&\"c\"\u{1b}[0m"),
            "a&lt;b&gt;&amp;&quot;c&quot;\u{FFFD}[0m"
        );
    }
}
