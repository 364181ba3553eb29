//! One step's execution turned into a [`StepRecord`]: the output sink that reads control
//! lines as they arrive, and the conversion of a measured outcome into the receipt form.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use crate::control::{self, Control, ControlScanner, LineSplitter};
use crate::format::iso;
use crate::measure::exec::{ExecOutcome, OutputSink, Stream};
use crate::measure::{ResourceSummary, Termination};
use crate::receipt::{CgroupRecord, HarnessRecord, Metric, Phase, Status, StepRecord};

/// Collects a step's output: everything to its log as bytes, control lines found on
/// arrival, the last bytes kept for the message when the step fails.
#[derive(Debug, Default)]
pub(crate) struct StepSink {
    /// Where the log goes; the file is created with the first output, so a silent step
    /// leaves no file (and no metadata for the receipts' fsync to commit).
    log_path: Option<std::path::PathBuf>,
    log: Option<BufWriter<File>>,
    stdout: ControlScanner,
    control: LineSplitter,
    tail: Tail,
    pub heard: Heard,
    /// The step's stdout as it came, for a step whose `import` reads it.
    stdout_copy: Option<Vec<u8>>,
    /// Bytes of stdout past [`MAX_STDOUT_COPY`], not kept.
    stdout_dropped: u64,
}

/// Most stdout kept for a step's `import`: far more than any benchmark tool prints.
pub(crate) const MAX_STDOUT_COPY: usize = 64 << 20;

/// What a step's output lines said. Bounded however much a step prints: past
/// [`MAX_KEPT`] entries of a kind, lines are only counted.
#[derive(Debug, Default)]
pub(crate) struct Heard {
    pub metrics: Vec<Metric>,
    /// Phase boundaries, stamped on arrival.
    pub marks: Vec<(String, Instant)>,
    /// Malformed control lines, already worded for a warning (the first [`MAX_ERRORS`]).
    pub errors: Vec<String>,
    /// Control lines counted but not kept: metrics and phases past [`MAX_KEPT`], malformed
    /// lines past [`MAX_ERRORS`].
    pub dropped_metrics: u64,
    pub dropped_marks: u64,
    pub dropped_errors: u64,
    /// The last lines of output (stdout and stderr as they arrived, control lines left
    /// out), for the message when the step fails; filled by [`StepSink::finish`].
    pub tail: Vec<String>,
}

/// Most metrics (and, separately, phase boundaries) kept per step.
pub(crate) const MAX_KEPT: usize = 10_000;
/// Most malformed control lines reported one by one per step.
pub(crate) const MAX_ERRORS: usize = 20;

impl Heard {
    /// One control line.
    fn line(&mut self, line: &str, at: Instant) {
        match control::parse(line) {
            None => {}
            Some(Ok(Control::Metric { name, value, unit })) => {
                if self.metrics.len() < MAX_KEPT {
                    self.metrics.push(Metric {
                        name,
                        value,
                        unit,
                        direction: None,
                        origin: None,
                    });
                } else {
                    self.dropped_metrics += 1;
                }
            }
            Some(Ok(Control::Phase { name })) => {
                if self.marks.len() < MAX_KEPT {
                    self.marks.push((name, at));
                } else {
                    self.dropped_marks += 1;
                }
            }
            Some(Err(e)) => {
                if self.errors.len() < MAX_ERRORS {
                    let shown: String = line.trim().chars().take(200).collect();
                    let shown = control::printable(&shown);
                    self.errors
                        .push(format!("control line `{shown}` ignored: {e}"));
                } else {
                    self.dropped_errors += 1;
                }
            }
        }
    }

    /// The warnings for what was counted but not kept.
    pub fn dropped(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.dropped_errors > 0 {
            out.push(format!(
                "{} more malformed control lines ignored (the first {MAX_ERRORS} are listed)",
                self.dropped_errors
            ));
        }
        for (n, what) in [
            (self.dropped_metrics, "metric lines"),
            (self.dropped_marks, "phase lines"),
        ] {
            if n > 0 {
                out.push(format!(
                    "{n} {what} past the first {MAX_KEPT} of this step were ignored; \
                     report fewer values per step (aggregate them in the step)"
                ));
            }
        }
        out
    }
}

/// Lines of output kept for a failing step's message.
const TAIL_LINES: usize = 20;
/// Bytes of output kept to find them in, and the longest line shown.
const TAIL_BYTES: usize = 8 * 1024;
const TAIL_LINE_CHARS: usize = 500;

/// The last [`TAIL_BYTES`] of output, as bytes: a copy of at most that much per chunk,
/// nothing per line.
#[derive(Debug, Default)]
struct Tail {
    buf: Vec<u8>,
    /// Bytes before `buf` were dropped, so its first line may be cut.
    cut: bool,
}

impl Tail {
    fn push(&mut self, data: &[u8]) {
        if data.len() >= TAIL_BYTES {
            self.buf.clear();
            self.buf.extend_from_slice(&data[data.len() - TAIL_BYTES..]);
            self.cut = true;
            return;
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() > 2 * TAIL_BYTES {
            self.buf.drain(..self.buf.len() - TAIL_BYTES);
            self.cut = true;
        }
    }

    /// The last lines, control lines left out, each cut to [`TAIL_LINE_CHARS`].
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.buf);
        let mut lines: Vec<&str> = text.lines().skip(usize::from(self.cut)).collect();
        lines.retain(|l| control::parse(l).is_none());
        let skip = lines.len().saturating_sub(TAIL_LINES);
        lines[skip..]
            .iter()
            .map(|l| match l.char_indices().nth(TAIL_LINE_CHARS) {
                Some((i, _)) => format!("{}…", &l[..i]),
                None => (*l).to_owned(),
            })
            .collect()
    }
}

impl StepSink {
    pub fn new(log_path: Option<std::path::PathBuf>) -> Self {
        Self {
            log_path,
            ..Self::default()
        }
    }

    /// Keep a copy of stdout for the step's `import`.
    pub fn keeping_stdout(mut self) -> Self {
        self.stdout_copy = Some(Vec::new());
        self
    }

    /// The stdout kept, and how many bytes past the cap were not.
    pub fn stdout(&self) -> (&[u8], u64) {
        (
            self.stdout_copy.as_deref().unwrap_or_default(),
            self.stdout_dropped,
        )
    }

    /// Whether the step wrote anything, so that its log exists.
    pub fn has_log(&self) -> bool {
        self.log.is_some()
    }

    /// Flush the partial lines and the log.
    pub fn finish(&mut self, at: Instant) {
        let heard = &mut self.heard;
        self.stdout.finish(at, |l, at| heard.line(l, at));
        self.control.finish(at, |l, at| heard.line(l, at));
        heard.tail = self.tail.lines();
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
            Stream::Stdout => {
                if let Some(copy) = &mut self.stdout_copy {
                    let room = MAX_STDOUT_COPY.saturating_sub(copy.len()).min(data.len());
                    copy.extend_from_slice(&data[..room]);
                    self.stdout_dropped += (data.len() - room) as u64;
                }
                self.tail.push(data);
                self.stdout.feed(data, at, |l, at| heard.line(l, at));
            }
            Stream::Control => self.control.feed(data, at, |l, at| heard.line(l, at)),
            // stderr carries no control lines, but its last lines explain failures.
            Stream::Stderr => self.tail.push(data),
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
        peak_rss_bytes: outcome.rusage.own_max_rss(outcome.harness.rss_floor),
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
        output_tail: None,
        harness: Some(HarnessRecord {
            spawn_ms: ms(outcome.harness.spawn),
            cgroup_join_ms: outcome.harness.cgroup_join.map(ms),
            clone_into_cgroup: outcome.harness.clone_into_cgroup,
            finish_ms: ms(outcome.harness.finish),
            cpu_ms: outcome.harness.cpu.map(ms),
            rss_floor_bytes: outcome.harness.rss_floor,
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
        assert_eq!(
            sink.heard.tail,
            ["hello"],
            "control lines are not in the tail"
        );
    }

    #[test]
    fn the_tail_keeps_the_last_lines_of_huge_output() {
        let mut sink = StepSink::new(None);
        let t = Instant::now();
        for i in 0..100_000 {
            sink.chunk(Stream::Stdout, format!("line {i}\n").as_bytes(), t);
        }
        sink.chunk(Stream::Stderr, b"boom\n", t);
        sink.finish(t);
        assert_eq!(sink.heard.tail.len(), TAIL_LINES);
        assert_eq!(sink.heard.tail[0], "line 99981");
        assert_eq!(sink.heard.tail.last().unwrap(), "boom");
        assert!(sink.tail.buf.len() <= 2 * TAIL_BYTES);
    }

    #[test]
    fn control_lines_are_counted_past_the_cap_not_kept() {
        let mut sink = StepSink::new(None);
        let t = Instant::now();
        let mut text = String::new();
        for i in 0..(MAX_KEPT + 5) {
            text.push_str(&format!(
                "::bench:: metric m {i}\n::bench:: phase p\n::bench:: bad\n"
            ));
        }
        sink.chunk(Stream::Stdout, text.as_bytes(), t);
        sink.finish(t);
        let h = &sink.heard;
        assert_eq!((h.metrics.len(), h.dropped_metrics), (MAX_KEPT, 5));
        assert_eq!((h.marks.len(), h.dropped_marks), (MAX_KEPT, 5));
        assert_eq!(h.errors.len(), MAX_ERRORS);
        assert_eq!(h.dropped_errors, (MAX_KEPT + 5 - MAX_ERRORS) as u64);
        let dropped = h.dropped();
        assert_eq!(dropped.len(), 3, "{dropped:?}");
        assert!(dropped[0].starts_with(&format!("{} more malformed", h.dropped_errors)));
    }
}
