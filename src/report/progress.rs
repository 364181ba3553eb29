//! Live progress on stderr: a spinner with the running step on a terminal, plain lines
//! otherwise (CI logs, pipes).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::event::{Event, Reporter};
use crate::format::ms;
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
            Event::StepStarted { .. } | Event::RunFinished { .. } => {}
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
        }
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

impl Reporter for Quiet {
    fn event(&mut self, _: &Event<'_>) {}
}
