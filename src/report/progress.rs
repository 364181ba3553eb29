//! Live progress on stderr: a spinner with the running step on a terminal, plain lines
//! otherwise (CI logs, pipes).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::format::ms;
use crate::receipt::{Status, StepRecord};
use crate::runner::Progress;

/// Choose the display for stderr.
pub fn for_stderr(quiet: bool) -> Box<dyn Progress> {
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

/// Write to stderr, ignoring failure: a terminal that went away (a dropped SSH session)
/// or a closed pipe must not end the run before its teardown and receipts.
pub fn to_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Plain lines, for logs.
#[derive(Debug)]
struct Lines;

impl Progress for Lines {
    fn run_started(&mut self, label: &str) {
        to_stderr(&format!("{label}\n"));
    }
    fn step_started(&mut self, _: &str, _: &str) {}
    fn step_finished(&mut self, r: &StepRecord, tail: &[String]) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", step_line(r));
        if let Some(t) = tail_block(r, tail) {
            let _ = write!(err, "{t}");
        }
    }
    fn run_finished(&mut self, _: &str, _: Status) {}
    fn message(&mut self, text: &str) {
        to_stderr(&format!("{text}\n"));
    }
}

/// A spinner naming the running step, with finished steps printed above it.
#[derive(Debug)]
struct Spinner {
    bar: ProgressBar,
    label: String,
}

impl Spinner {
    fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} · {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Self {
            bar,
            label: String::new(),
        }
    }
}

impl Progress for Spinner {
    fn run_started(&mut self, label: &str) {
        self.label = label.to_owned();
        self.bar.println(label);
        self.bar.set_prefix(label.to_owned());
        self.bar.enable_steady_tick(Duration::from_millis(100));
    }
    fn step_started(&mut self, id: &str, _name: &str) {
        self.bar.reset_elapsed();
        self.bar.set_message(id.to_owned());
    }
    fn step_finished(&mut self, r: &StepRecord, tail: &[String]) {
        self.bar.println(step_line(r));
        if let Some(t) = tail_block(r, tail) {
            self.bar.println(t.trim_end());
        }
    }
    fn run_finished(&mut self, _: &str, _: Status) {
        self.bar.set_message("");
    }
    fn message(&mut self, text: &str) {
        self.bar.println(text);
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Nothing (for `--quiet`).
#[derive(Debug)]
struct Quiet;

impl Progress for Quiet {
    fn run_started(&mut self, _: &str) {}
    fn step_started(&mut self, _: &str, _: &str) {}
    fn step_finished(&mut self, _: &StepRecord, _: &[String]) {}
    fn run_finished(&mut self, _: &str, _: Status) {}
    fn message(&mut self, _: &str) {}
}
