//! `[[load]]` scenarios: validated into what the load engine drives.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde_spanned::Spanned;

use super::raw::{RawHttp, RawLoad, RawRate};
use super::units;
use crate::load::{Arrival, DEFAULT_MAX_IN_FLIGHT, Drive, HttpSpec, Stop};

/// Most operations in flight a scenario may ask for.
pub const MAX_CONCURRENCY: i64 = 100_000;
/// An HTTP operation's timeout when the scenario gives none.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// A `[[load]]` scenario: an operation run many times, as `drive` says.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub id: String,
    pub name: String,
    pub op: LoadOp,
    pub drive: Drive,
    /// Set for each command operation (on top of the suite's `env`).
    pub env: BTreeMap<String, String>,
    /// Empty: every mode.
    pub modes: Vec<String>,
}

/// One operation of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadOp {
    /// A shell command (the suite's shell), its exit code one of `expect_exit`.
    Command {
        run: String,
        expect_exit: Vec<i32>,
    },
    Http(HttpSpec),
}

impl LoadOp {
    /// `command` or `http`, as receipts say.
    pub fn kind(&self) -> &'static str {
        match self {
            LoadOp::Command { .. } => "command",
            LoadOp::Http(_) => "http",
        }
    }
}

pub(super) type Located = (Range<usize>, String, Option<String>);

/// Validate one scenario (its id and modes are checked by the caller).
pub(super) fn scenario(
    raw: Spanned<RawLoad>,
    id: &str,
    modes: Vec<String>,
    expect_exit: impl FnOnce(&Spanned<super::raw::ExpectExit>) -> Result<Vec<i32>, Located>,
) -> Result<Load, Located> {
    let span = raw.span();
    let l = raw.into_inner();
    let count = |v: &Spanned<i64>, what: &str, min: i64, max: i64| -> Result<u64, Located> {
        let n = *v.get_ref();
        if (min..=max).contains(&n) {
            Ok(n as u64)
        } else {
            Err((
                v.span(),
                format!("`{what}` must be a whole number from {min} to {max}, not {n}"),
                None,
            ))
        }
    };
    let op = match (l.run, l.http) {
        (Some(run), None) => {
            if run.trim().is_empty() {
                return Err((
                    span,
                    format!("load scenario `{id}` has an empty `run`"),
                    Some("give the command of one operation, e.g. `run = \"curl -fsS http://127.0.0.1:8080/\"`".into()),
                ));
            }
            LoadOp::Command {
                run,
                expect_exit: match &l.expect_exit {
                    Some(e) => expect_exit(e)?,
                    None => vec![0],
                },
            }
        }
        (None, Some(http)) => {
            if let Some(e) = &l.expect_exit {
                return Err((
                    e.span(),
                    format!("load scenario `{id}` has `expect_exit` but its operation is HTTP"),
                    Some("use `http = { …, expect_status = [200, 201] }` for the statuses that count as success".into()),
                ));
            }
            LoadOp::Http(http_spec(http, id)?)
        }
        (Some(_), Some(http)) => {
            return Err((
                http.span(),
                format!("load scenario `{id}` has both `run` and `http`"),
                Some("an operation is either a command (`run`) or an HTTP request (`http`)".into()),
            ));
        }
        (None, None) => {
            return Err((
                span,
                format!("load scenario `{id}` has no operation"),
                Some("add `run = \"…\"` (a command per operation) or `http = { url = \"http://127.0.0.1:8080/\" }`".into()),
            ));
        }
    };
    let stop = match (&l.total, &l.duration) {
        (Some(t), None) => Stop::Total(count(t, "total", 1, 1_000_000_000_000)?),
        (None, Some(d)) => Stop::Duration(
            units::check_range(d.get_ref().0, Duration::from_millis(1), units::MAX_DURATION)
                .map_err(|range| {
                    (
                        d.span(),
                        format!(
                            "`duration` must be {range}, not {}",
                            humantime::format_duration(d.get_ref().0)
                        ),
                        None,
                    )
                })?,
        ),
        (Some(_), Some(d)) => {
            return Err((
                d.span(),
                format!("load scenario `{id}` has both `total` and `duration`"),
                Some("give one: `total = 200` operations, or `duration = \"60s\"`".into()),
            ));
        }
        (None, None) => {
            return Err((
                span,
                format!("load scenario `{id}` says neither how many operations nor how long"),
                Some("add `total = 200` (operations) or `duration = \"60s\"`".into()),
            ));
        }
    };
    let concurrency = l
        .concurrency
        .as_ref()
        .map(|c| count(c, "concurrency", 1, MAX_CONCURRENCY))
        .transpose()?
        .map(|c| c as u32);
    let arrival = match &l.rate {
        None => Arrival::Closed {
            concurrency: concurrency.unwrap_or(1),
        },
        Some(r) => Arrival::Open {
            rate_per_s: rate(r)?,
            max_in_flight: concurrency.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        },
    };
    let timeout = match &l.timeout {
        Some(t) => Some(
            units::check_range(t.get_ref().0, Duration::from_millis(1), units::MAX_DURATION)
                .map_err(|range| {
                    (
                        t.span(),
                        format!(
                            "`timeout` must be {range}, not {}",
                            humantime::format_duration(t.get_ref().0)
                        ),
                        Some("leave `timeout` out for no limit per operation".into()),
                    )
                })?,
        ),
        None => matches!(op, LoadOp::Http(_)).then_some(HTTP_TIMEOUT),
    };
    let warmup_ops = l
        .warmup_ops
        .as_ref()
        .map(|w| count(w, "warmup_ops", 0, 1_000_000_000_000))
        .transpose()?
        .unwrap_or(0);
    if matches!(op, LoadOp::Http(_)) && !l.env.is_empty() {
        return Err((
            span,
            format!("load scenario `{id}` has `env` but its operation is HTTP"),
            Some(
                "`env` is for command operations; send headers with `http = { headers = { … } }`"
                    .into(),
            ),
        ));
    }
    Ok(Load {
        id: id.to_owned(),
        name: l.name.unwrap_or_else(|| id.to_owned()),
        op,
        drive: Drive {
            arrival,
            stop,
            warmup_ops,
            timeout,
        },
        env: l.env,
        modes,
    })
}

/// `"50/s"`, `"3000/min"`, `"2/ms"`, `"1/h"`, or a number per second.
pub(super) fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (n, per) = t.split_once('/').ok_or_else(|| {
        format!(
            "`{t}` is not a rate: write operations per unit of time, e.g. \"50/s\" or \"3000/min\""
        )
    })?;
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{t}` is not a rate: `{}` is not a number", n.trim()))?;
    let per = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "ms" => 1e-3,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => {
            return Err(format!(
                "`{t}` is not a rate: `{other}` is not a unit of time (use s, ms, min or h)"
            ));
        }
    };
    Ok(n / per)
}

fn rate(r: &Spanned<RawRate>) -> Result<f64, Located> {
    let v = match r.get_ref() {
        RawRate::PerSecond(v) => Ok(*v),
        RawRate::Text(t) => parse_rate(t),
    };
    match v {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 10_000_000.0 => Ok(v),
        Ok(v) => Err((
            r.span(),
            format!("`rate` must be more than 0 and at most 10,000,000 per second, not {v}/s"),
            None,
        )),
        Err(m) => Err((r.span(), m, None)),
    }
}

fn http_spec(raw: Spanned<RawHttp>, id: &str) -> Result<HttpSpec, Located> {
    let h = raw.into_inner();
    let method = h.method.as_ref().map_or_else(
        || "GET".to_owned(),
        |m| m.get_ref().trim().to_ascii_uppercase(),
    );
    let expect_status = match &h.expect_status {
        None => Vec::new(),
        Some(s) => {
            if let Some(bad) = s.get_ref().iter().find(|c| !(100..=599).contains(*c)) {
                return Err((
                    s.span(),
                    format!("`expect_status` codes are 100 to 599, not {bad}"),
                    None,
                ));
            }
            if s.get_ref().is_empty() {
                return Err((
                    s.span(),
                    "`expect_status` is empty".into(),
                    Some("list the statuses that count as success, e.g. `[200, 201]`, or leave it out for 200 to 399".into()),
                ));
            }
            s.get_ref().iter().map(|c| *c as u16).collect()
        }
    };
    let spec = HttpSpec {
        url: h.url.get_ref().trim().to_owned(),
        method,
        body: h.body,
        headers: h
            .headers
            .map(|m| m.into_inner().into_iter().collect())
            .unwrap_or_default(),
        reuse: h.reuse.unwrap_or(true),
        expect_status,
    };
    crate::load::http::HttpOp::new(&spec)
        .map_err(|e| (h.url.span(), format!("load scenario `{id}`: {e}"), None))?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("50/s"), Ok(50.0));
        assert_eq!(parse_rate(" 3000 / min "), Ok(50.0));
        assert_eq!(parse_rate("2/ms"), Ok(2000.0));
        assert_eq!(parse_rate("36/h"), Ok(0.01));
        assert!(parse_rate("50").unwrap_err().contains("e.g. \"50/s\""));
        assert!(parse_rate("x/s").unwrap_err().contains("not a number"));
        assert!(
            parse_rate("5/fortnight")
                .unwrap_err()
                .contains("unit of time")
        );
    }
}
