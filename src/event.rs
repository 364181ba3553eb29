//! What the runner tells whoever listens as it goes: typed events, consumed by
//! reporters (the console's progress display). The runner emits them and renders
//! nothing; a reporter renders them and drives nothing.

use crate::load::{LoadRecord, Progress};
use crate::receipt::{Status, StepRecord};

/// One thing that happened during an invocation.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A warm-up or measured run begins; `label` is `warm-up 1/2` or `run 3/10`.
    RunStarted {
        label: &'a str,
    },
    StepStarted {
        id: &'a str,
        name: &'a str,
    },
    /// A step (or a `benchmark step` sub-step) ended; `tail` holds its last lines of
    /// output (empty for sub-steps).
    StepFinished {
        record: &'a StepRecord,
        tail: &'a [String],
    },
    RunFinished {
        label: &'a str,
        status: Status,
    },
    /// A load scenario begins (after the run's steps).
    LoadStarted {
        id: &'a str,
        name: &'a str,
    },
    /// A load scenario's progress, a few times a second while it runs.
    LoadProgress {
        id: &'a str,
        progress: &'a Progress,
    },
    LoadFinished {
        record: &'a LoadRecord,
    },
    /// A line for people (what is about to run).
    Message(&'a str),
}

/// Consumes events.
pub trait Reporter {
    fn event(&mut self, event: &Event<'_>);
}

/// Events, kept (tests, and callers that render after the fact).
#[derive(Debug, Default)]
pub struct Recorded(pub Vec<String>);

impl Reporter for Recorded {
    fn event(&mut self, event: &Event<'_>) {
        self.0.push(match event {
            Event::RunStarted { label } => format!("run-started {label}"),
            Event::StepStarted { id, .. } => format!("step-started {id}"),
            Event::StepFinished { record, .. } => {
                format!("step-finished {} {:?}", record.id, record.status)
            }
            Event::RunFinished { label, status } => format!("run-finished {label} {status:?}"),
            Event::Message(m) => format!("message {m}"),
            Event::LoadStarted { id, .. } => format!("load-started {id}"),
            Event::LoadProgress { id, .. } => format!("load-progress {id}"),
            Event::LoadFinished { record } => {
                format!(
                    "load-finished {} {}/{}",
                    record.id, record.succeeded, record.ops
                )
            }
        });
    }
}
