//! Live progress on stderr: a spinner with the running step on a terminal, plain lines
//! otherwise (CI logs, pipes).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::event::{Event, Reporter};
use crate::format::ms;
use crate::load::{LoadRecord, Progress};
use crate::receipt::{Status, StepRecord};

/// Choose the display for stderr.
pub fn for_stderr(quiet: bool) -> Box<dyn Reporter> {
    if quiet {
        Box::new(Quiet)
    } else if std::io::stderr().is_terminal() {
        Box::new(Spinner::new())
    } else {
        Box::new(Lines)
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Failed => "FAILED",
        Status::TimedOut => "TIMED OUT",
        Status::Interrupted => "interrupted",
    }
}

fn step_line(r: &StepRecord) -> String {
    let id = match &r.parent {
        Some(p) => format!("{p} › {}", r.id),
        None => r.id.clone(),
    };
    let exit = if r.status == Status::Ok {
        String::new()
    } else {
        format!(" (exit {})", r.exit_code)
    };
    format!(
        "  {id:<24} {:>12}  {}{exit}",
        ms(r.wall_ms),
        status_word(r.status)
    )
}

fn tail_block(r: &StepRecord, tail: &[String]) -> Option<String> {
    if r.status == Status::Ok || tail.is_empty() {
        return None;
    }
    let mut s = format!("    last output of `{}`:\n", r.id);
    for l in tail {
        s.push_str("    | ");
        s.push_str(l);
        s.push('\n');
    }
    if let Some(log) = &r.log {
        s.push_str(&format!("    full log: {log}\n"));
    }
    Some(s)
}

/// A finished scenario: operations, throughput, `complete` p50/p95/p99, failures.
fn load_line(r: &LoadRecord) -> String {
    let complete = r.phases.iter().find(|p| p.name == crate::load::COMPLETE);
    let lat = complete.map_or_else(String::new, |p| {
        format!(
            "  p50 {} · p95 {} · p99 {}",
            ms(p.latency.p50_ms),
            ms(p.latency.p95_ms),
            ms(p.latency.p99_ms)
        )
    });
    let failed = if r.failed > 0 {
        format!(
            "  {} failed ({})",
            r.failed,
            r.failures
                .iter()
                .map(|(c, n)| format!("{c} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    format!(
        "  load {:<19} {:>7} ops  {:>9.1}/s{lat}{failed}{}",
        r.id,
        r.ops,
        r.throughput_per_s,
        if r.interrupted { "  interrupted" } else { "" }
    )
}

/// The live line of a running scenario.
fn progress_line(id: &str, p: &Progress) -> String {
    let done = match p.planned {
        Some(n) => format!("{}/{n}", p.done),
        None => p.done.to_string(),
    };
    let p95 = p.p95_ms.map_or_else(|| "—".to_owned(), ms);
    let failed = if p.failed > 0 {
        format!(" · {} failed", p.failed)
    } else {
        String::new()
    };
    format!(
        "load {id} · {done} ops · {:.1}/s · {} in flight · p95 {p95}{failed}",
        p.rate_per_s, p.in_flight
    )
}

/// Write to stderr, ignoring failure: a terminal that went away (a dropped SSH session)
/// or a closed pipe must not end the run before its teardown and receipts.
pub fn to_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Plain lines, for logs.
#[derive(Debug)]
struct Lines;

impl Reporter for Lines {
    fn event(&mut self, event: &Event<'_>) {
        match *event {
            Event::RunStarted { label } => to_stderr(&format!("{label}\n")),
            Event::StepFinished { record, tail } => {
                let mut text = format!("{}\n", step_line(record));
                text.push_str(&tail_block(record, tail).unwrap_or_default());
                to_stderr(&text);
            }
            Event::Message(text) => to_stderr(&format!("{text}\n")),
            Event::LoadFinished { record } => to_stderr(&format!("{}\n", load_line(record))),
            Event::StepStarted { .. }
            | Event::RunFinished { .. }
            | Event::LoadStarted { .. }
            | Event::LoadProgress { .. } => {}
        }
    }
}

/// A spinner naming the running step, with finished steps printed above it.
#[derive(Debug)]
struct Spinner {
    bar: ProgressBar,
}

impl Spinner {
    fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} · {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Self { bar }
    }
}

impl Reporter for Spinner {
    fn event(&mut self, event: &Event<'_>) {
        match *event {
            Event::RunStarted { label } => {
                self.bar.println(label);
                self.bar.set_prefix(label.to_owned());
                self.bar.enable_steady_tick(Duration::from_millis(100));
            }
            Event::StepStarted { id, .. } => {
                self.bar.reset_elapsed();
                self.bar.set_message(id.to_owned());
            }
            Event::StepFinished { record, tail } => {
                self.bar.println(step_line(record));
                if let Some(t) = tail_block(record, tail) {
                    self.bar.println(t.trim_end());
                }
            }
            Event::RunFinished { .. } => self.bar.set_message(""),
            Event::Message(text) => self.bar.println(text),
            Event::LoadStarted { id, .. } => {
                self.bar.reset_elapsed();
                self.bar.set_message(format!("load {id}"));
            }
            Event::LoadProgress { id, progress } => {
                self.bar.set_message(progress_line(id, progress));
            }
            Event::LoadFinished { record } => self.bar.println(load_line(record)),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_line_says_what_is_done() {
        let p = Progress {
            done: 120,
            failed: 3,
            in_flight: 25,
            rate_per_s: 48.25,
            p95_ms: Some(812.0),
            planned: Some(200),
        };
        assert_eq!(
            progress_line("create-runs", &p),
            "load create-runs · 120/200 ops · 48.2/s · 25 in flight · p95 812.00 ms · 3 failed"
        );
        let p = Progress {
            planned: None,
            p95_ms: None,
            failed: 0,
            ..p
        };
        assert_eq!(
            progress_line("x", &p),
            "load x · 120 ops · 48.2/s · 25 in flight · p95 —"
        );
    }
}

/// Nothing (for `--quiet`).
#[derive(Debug)]
struct Quiet;

impl Reporter for Quiet {
    fn event(&mut self, _: &Event<'_>) {}
}
