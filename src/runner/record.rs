//! One step's execution turned into a [`StepRecord`]: the output sink that reads control
//! lines as they arrive, and the conversion of a measured outcome into the receipt form.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use crate::control::{self, Control, LineSplitter};
use crate::measure::exec::{ExecOutcome, OutputSink, Stream};
use crate::measure::{ResourceSummary, Termination};
use crate::receipt::{CgroupRecord, HarnessRecord, Metric, Phase, Status, StepRecord};

/// Collects a step's output: everything to its log, control lines parsed on arrival.
#[derive(Debug, Default)]
pub(crate) struct StepSink {
    /// Where the log goes; the file is created with the first output, so a silent step
    /// leaves no file (and no metadata for the receipts' fsync to commit).
    log_path: Option<std::path::PathBuf>,
    log: Option<BufWriter<File>>,
    stdout: LineSplitter,
    control: LineSplitter,
    pub heard: Heard,
}

/// What a step's output lines said.
#[derive(Debug, Default)]
pub(crate) struct Heard {
    pub metrics: Vec<Metric>,
    /// Phase boundaries, stamped on arrival.
    pub marks: Vec<(String, Instant)>,
    /// Malformed control lines, already worded for a warning.
    pub errors: Vec<String>,
    /// The last lines of output, for the message when the step fails.
    pub tail: std::collections::VecDeque<String>,
}

impl Heard {
    /// One complete line; `keep_tail` for streams whose ordinary lines explain failures.
    fn line(&mut self, line: &str, at: Instant, keep_tail: bool) {
        match control::parse(line) {
            None => {
                if keep_tail {
                    self.push_tail(line);
                }
            }
            Some(Ok(Control::Metric { name, value, unit })) => {
                self.metrics.push(Metric { name, value, unit })
            }
            Some(Ok(Control::Phase { name })) => self.marks.push((name, at)),
            Some(Err(e)) => self
                .errors
                .push(format!("control line `{}` ignored: {e}", line.trim())),
        }
    }

    fn push_tail(&mut self, line: &str) {
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());
    }
}

const TAIL_LINES: usize = 20;

impl StepSink {
    pub fn new(log_path: Option<std::path::PathBuf>) -> Self {
        Self {
            log_path,
            ..Self::default()
        }
    }

    /// Whether the step wrote anything, so that its log exists.
    pub fn has_log(&self) -> bool {
        self.log.is_some()
    }

    /// Flush the partial lines and the log.
    pub fn finish(&mut self, at: Instant) {
        let heard = &mut self.heard;
        self.stdout.finish(at, |l, at| heard.line(l, at, true));
        self.control.finish(at, |l, at| heard.line(l, at, false));
        if let Some(log) = &mut self.log {
            let _ = log.flush();
        }
    }
}

impl OutputSink for StepSink {
    fn chunk(&mut self, stream: Stream, data: &[u8], at: Instant) {
        if self.log.is_none()
            && let Some(path) = self.log_path.take()
        {
            // A full disk must not fail the measurement; the log is best effort.
            self.log = File::create(path).ok().map(BufWriter::new);
        }
        if let Some(log) = &mut self.log {
            let _ = log.write_all(data);
        }
        let heard = &mut self.heard;
        match stream {
            Stream::Stdout => self.stdout.feed(data, at, |l, at| heard.line(l, at, true)),
            Stream::Control => self
                .control
                .feed(data, at, |l, at| heard.line(l, at, false)),
            // stderr carries no control lines, but its last lines explain failures.
            Stream::Stderr => {
                for l in String::from_utf8_lossy(data).lines() {
                    heard.push_tail(l);
                }
            }
        }
    }
}

/// Phases from their boundaries: each lasts until the next one or the step's end.
pub(crate) fn phases(marks: &[(String, Instant)], started: Instant, ended: Instant) -> Vec<Phase> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    marks
        .iter()
        .enumerate()
        .map(|(i, (name, at))| {
            let end = marks.get(i + 1).map_or(ended, |(_, next)| *next).max(*at);
            Phase {
                name: name.clone(),
                start_ms: ms(at.saturating_duration_since(started)),
                duration_ms: ms(end - *at),
            }
        })
        .collect()
}

/// ISO 8601 UTC with microseconds.
pub(crate) fn iso(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// How the step ended, judged against its expected exit codes.
pub(crate) fn status(outcome: &ExecOutcome, expect_exit: &[i32]) -> Status {
    if outcome.interrupted {
        Status::Interrupted
    } else if outcome.timed_out {
        Status::TimedOut
    } else {
        match outcome.termination {
            Termination::Exited(c) if expect_exit.contains(&c) => Status::Ok,
            _ => Status::Failed,
        }
    }
}

/// The receipt form of a measured step.
pub(crate) fn step_record(
    id: &str,
    name: &str,
    parent: Option<&str>,
    outcome: &ExecOutcome,
    status: Status,
    resources: &ResourceSummary,
    sink: &StepSink,
) -> StepRecord {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let cg = outcome.cgroup.as_ref();
    // The cgroup saw every process of the tree; rusage only the waited-for ones.
    let cpu_user = cg.and_then(|c| c.cpu_user).unwrap_or(outcome.rusage.user);
    let cpu_sys = cg.and_then(|c| c.cpu_sys).unwrap_or(outcome.rusage.sys);
    StepRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        parent: parent.map(str::to_owned),
        status,
        exit_code: outcome.termination.code(),
        signal: match outcome.termination {
            Termination::Signaled(s) => Some(s),
            Termination::Exited(_) => None,
        },
        started_at: iso(outcome.started_at),
        finished_at: iso(outcome.finished_at),
        wall_ms: ms(outcome.wall),
        cpu_user_ms: Some(ms(cpu_user)),
        cpu_sys_ms: Some(ms(cpu_sys)),
        peak_rss_bytes: Some(outcome.rusage.max_rss_bytes),
        cgroup: cg.map(|c| CgroupRecord {
            cpu_user_ms: c.cpu_user.map(ms),
            cpu_sys_ms: c.cpu_sys.map(ms),
            memory_peak_bytes: c.memory_peak_bytes,
            io_read_bytes: c.io_read_bytes,
            io_write_bytes: c.io_write_bytes,
        }),
        measurement: outcome.method.name.clone(),
        resources: *resources,
        containers: None,
        metrics: sink.heard.metrics.clone(),
        phases: phases(
            &sink.heard.marks,
            outcome.started,
            outcome.started + outcome.wall,
        ),
        leftover_processes: outcome
            .leftovers
            .as_ref()
            .and_then(|l| l.count())
            .map(|n| n as u64),
        log: None,
        harness: Some(HarnessRecord {
            spawn_ms: ms(outcome.harness.spawn),
            cgroup_join_ms: outcome.harness.cgroup_join.map(ms),
            finish_ms: ms(outcome.harness.finish),
            cpu_ms: outcome.harness.cpu.map(ms),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_last_until_the_next_boundary_or_the_end() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let marks = vec![
            ("schedule".to_owned(), at(10)),
            ("dispatch".to_owned(), at(25)),
        ];
        let p = phases(&marks, t0, at(40));
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "schedule");
        assert!((p[0].start_ms - 10.0).abs() < 1e-9 && (p[0].duration_ms - 15.0).abs() < 1e-9);
        assert!((p[1].start_ms - 25.0).abs() < 1e-9 && (p[1].duration_ms - 15.0).abs() < 1e-9);
    }

    #[test]
    fn sink_parses_control_lines_from_stdout_and_the_fifo_only() {
        let mut sink = StepSink::new(None);
        let t = Instant::now();
        sink.chunk(
            Stream::Stdout,
            b"hello\n::bench:: metric a 1.5 ms\n::bench:: pha",
            t,
        );
        sink.chunk(Stream::Stdout, b"se build\n", t);
        sink.chunk(Stream::Stderr, b"::bench:: metric ignored 1\n", t);
        sink.chunk(
            Stream::Control,
            b"::bench:: metric b 2\n::bench:: metric c x\n",
            t,
        );
        sink.finish(t);
        let names: Vec<_> = sink.heard.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(sink.heard.metrics[0].unit.as_deref(), Some("ms"));
        assert_eq!(sink.heard.marks.len(), 1);
        assert_eq!(sink.heard.errors.len(), 1);
        assert!(sink.heard.errors[0].contains("not a finite number"));
        assert_eq!(sink.heard.tail, ["hello", "::bench:: metric ignored 1"]);
    }
}
