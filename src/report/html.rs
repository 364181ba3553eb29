//! Receipts as one self-contained HTML page: no script, no network (a Content Security
//! Policy forbids it), SVG charts drawn with plotters. Per step the wall time of every
//! run with its median and interval, and its phases; the targets table; the steps; the
//! warnings and the environment; per load scenario its figures, a table of its phases'
//! percentiles and a chart of them. Given several receipts (oldest first), each
//! measure's median over them with its 95% interval. Pure.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::format::{bytes, ms, num};
use crate::receipt::{StepSummary, Summary};
use crate::stats::Stats;
use crate::verdict::slo::{GateStatus, Severity};

/// `--format html`.
#[derive(Debug)]
pub struct Exporter;

impl super::Exporter for Exporter {
    fn receipts(&self, receipts: &[super::Receipt]) -> Vec<u8> {
        render(receipts).into_bytes()
    }

    fn several(&self) -> bool {
        true
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const INK: RGBColor = RGBColor(0x1f, 0x29, 0x37);
const MUTED: RGBColor = RGBColor(0x6b, 0x72, 0x80);
const ACCENT: RGBColor = RGBColor(0x25, 0x63, 0xeb);
const GRID: RGBColor = RGBColor(0xe5, 0xe7, 0xeb);
/// Phase colours, in order (a colour-blind-safe set: Okabe–Ito).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xb2),
    RGBColor(0xe6, 0x9f, 0x00),
    RGBColor(0x00, 0x9e, 0x73),
    RGBColor(0xcc, 0x79, 0xa7),
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0xd5, 0x5e, 0x00),
    RGBColor(0xf0, 0xe4, 0x42),
];
const FONT: &str = "sans-serif";

/// A value in a measure's unit, for axis labels and tables.
fn value(v: f64, unit: Option<&str>) -> String {
    match unit {
        Some("ms") => ms(v),
        Some("B") => bytes(v.max(0.0).round() as u64),
        Some(u) if !u.is_empty() => format!("{} {u}", num(v)),
        _ => num(v),
    }
}

/// `[lo, hi]` around `values`, padded so that points do not sit on the frame.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.15)
        .max(hi.abs().max(lo.abs()) * 0.02)
        .max(1e-9);
    let lo = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    (lo, hi + pad)
}

/// Draw into an SVG string of `size`; a drawing error leaves a note instead of a chart.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match result {
        Ok(()) => out,
        Err(e) => format!("<p class=\"muted\">chart not drawn: {}</p>", esc(&e)),
    }
}

/// The wall time of every run of a step, in run order, with the median and the 95%
/// interval of the mean.
fn distribution(w: &Stats) -> String {
    let samples = &w.samples;
    let n = samples.len();
    let band = w.ci95_low.map(|_| low(w)).zip(w.ci95_high);
    let (lo, hi) = span(
        samples
            .iter()
            .copied()
            .chain(band.into_iter().flat_map(|(l, h)| [l, h])),
    );
    svg((560, 240), |root| {
        let x_max = n as f64 + 0.5;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(74)
            .build_cartesian_2d(0.5f64..x_max, lo..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(GRID.mix(0.0))
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(n.clamp(2, 10))
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-9 && *x >= 1.0 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .y_labels(5)
            .y_label_formatter(&|y| if *y == 0.0 { "0".into() } else { ms(*y) })
            .x_desc("run")
            .label_style((FONT, 17).into_font().color(&MUTED))
            .draw()
            .map_err(|e| e.to_string())?;
        if let Some((l, h)) = band {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.5, l), (x_max, h)],
                    ACCENT.mix(0.12).filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
        chart
            .draw_series(LineSeries::new(
                [(0.5, w.median), (x_max, w.median)],
                ACCENT.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                samples
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| Circle::new(((i + 1) as f64, v), 5, INK.filled())),
            )
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// The phases of a step as one bar: each phase from its median start for its median
/// duration, named below.
fn phases(s: &StepSummary) -> String {
    let end = s
        .phases
        .iter()
        .map(|p| p.start_ms.median + p.duration_ms.median)
        .fold(s.wall_ms.as_ref().map_or(0.0, |w| w.median), f64::max)
        .max(1e-6);
    let rows = s.phases.len().div_ceil(2) as u32;
    svg((560, 96 + 22 * rows), |root| {
        let (bar, legend) = root.split_vertically(74);
        let mut chart = ChartBuilder::on(&bar)
            .margin(12)
            .x_label_area_size(26)
            .y_label_area_size(8)
            .build_cartesian_2d(0f64..end, 0f64..1f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .light_line_style(GRID.mix(0.0))
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(6)
            .x_label_formatter(&|x| if *x == 0.0 { "0".into() } else { ms(*x) })
            .label_style((FONT, 17).into_font().color(&MUTED))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(s.phases.iter().enumerate().map(|(i, p)| {
                let a = p.start_ms.median;
                Rectangle::new(
                    [(a, 0.1), (a + p.duration_ms.median, 0.9)],
                    PALETTE[i % PALETTE.len()].filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        for (i, p) in s.phases.iter().enumerate() {
            let x = 16 + (i as i32 % 2) * 272;
            let y = 8 + (i as i32 / 2) * 22;
            legend_entry(
                &legend,
                (x, y),
                i,
                format!(
                    "{}  {} (p95 {})",
                    p.name,
                    ms(p.duration_ms.median),
                    ms(p.duration_ms.p95)
                ),
            )?;
        }
        Ok(())
    })
}

/// One entry of a chart's legend at `(x, y)`: the `i`-th colour's square and `text`.
fn legend_entry(
    legend: &DrawingArea<SVGBackend<'_>, Shift>,
    (x, y): (i32, i32),
    i: usize,
    text: String,
) -> Result<(), String> {
    legend
        .draw(&Rectangle::new(
            [(x, y), (x + 12, y + 12)],
            PALETTE[i % PALETTE.len()].filled(),
        ))
        .map_err(|e| e.to_string())?;
    legend
        .draw(&Text::new(
            text,
            (x + 18, y),
            (FONT, 18).into_font().color(&INK),
        ))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The low end of the interval of the mean, not below zero for a measure that never is.
fn low(s: &Stats) -> f64 {
    let l = s.ci95_low.unwrap_or(s.median);
    if s.min >= 0.0 { l.max(0.0) } else { l }
}

/// One measure over several receipts: the median of each, with its 95% interval.
fn history(points: &[(usize, &Stats)], labels: &[String], unit: Option<&str>) -> String {
    let (lo, hi) = span(
        points
            .iter()
            .flat_map(|(_, s)| [s.median, low(s), s.ci95_high.unwrap_or(s.median)]),
    );
    let n = labels.len();
    let unit = unit.map(str::to_owned);
    svg((560, 240), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), lo..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(GRID.mix(0.0))
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(n.clamp(2, 8))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_labels(5)
            .y_label_formatter(&|y| {
                if *y == 0.0 {
                    "0".into()
                } else {
                    value(*y, unit.as_deref())
                }
            })
            .label_style((FONT, 17).into_font().color(&MUTED))
            .draw()
            .map_err(|e| e.to_string())?;
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|(i, s)| (*i as f64, s.ci95_high.unwrap_or(s.median)))
            .chain(points.iter().rev().map(|(i, s)| (*i as f64, low(s))))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                ACCENT.mix(0.15).filled(),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(i, s)| (*i as f64, s.median)),
                ACCENT.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|(i, s)| Circle::new((*i as f64, s.median), 4, ACCENT.filled())),
            )
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// A load scenario's latency percentiles, one line per phase (p50 to max across).
fn percentiles(l: &crate::load::LoadSummary) -> String {
    const AT: [&str; 6] = ["p50", "p90", "p95", "p99", "p99.9", "max"];
    let points = |x: &crate::load::LatencyStats| {
        [x.p50_ms, x.p90_ms, x.p95_ms, x.p99_ms, x.p999_ms, x.max_ms]
    };
    let all: Vec<f64> = l
        .phases
        .iter()
        .flat_map(|p| points(&p.latency))
        .filter(|v| *v > 0.0)
        .collect();
    let (lo, hi) = span(all.iter().copied());
    let hi = hi.max(lo + 1e-6);
    let rows = l.phases.len().div_ceil(3) as u32;
    svg((560, 250 + 22 * rows), |root| {
        let (plot, legend) = root.split_vertically(240);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.3f64..5.3f64, lo..hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(GRID.mix(0.0))
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .x_labels(6)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && (0.0..6.0).contains(&i) {
                    AT[i as usize].to_owned()
                } else {
                    String::new()
                }
            })
            .y_labels(5)
            .y_label_formatter(&|y| if *y == 0.0 { "0".into() } else { ms(*y) })
            .label_style((FONT, 17).into_font().color(&MUTED))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, p) in l.phases.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let pts: Vec<(f64, f64)> = points(&p.latency)
                .into_iter()
                .enumerate()
                .map(|(k, v)| (k as f64, v))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(
                    pts.into_iter()
                        .map(|xy| Circle::new(xy, 4, colour.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        for (i, p) in l.phases.iter().enumerate() {
            let x = 16 + (i as i32 % 3) * 180;
            let y = 2 + (i as i32 / 3) * 22;
            legend_entry(&legend, (x, y), i, p.name.clone())?;
        }
        Ok(())
    })
}

/// The load section: per scenario its figures, its phases' percentiles as a table and a
/// chart, and what its failed operations said.
fn load_section(s: &Summary) -> String {
    use super::load::{arrival, at_capacity_ms, failed, throughput};
    let mut h = String::from(
        "<h2>Load</h2>\n<p class=\"muted\">Latency over every run's operations, from each one's start (open loop: from when it was due); throughput and time at capacity: the median over runs.</p>\n<div class=\"loads\">\n",
    );
    for l in &s.load {
        let failed_badge = if l.failed > 0 {
            format!("<span class=\"badge bad\">{}</span>", esc(&failed(l)))
        } else {
            "0".to_owned()
        };
        h.push_str(&format!(
            "<div class=\"panel\">\n<h3><code>{}</code> {}</h3>\n",
            esc(&l.id),
            esc(if l.name != l.id { &l.name } else { "" })
        ));
        let mut facts = vec![
            format!("{} · {} operation", esc(&arrival(l)), esc(&l.operation)),
            format!(
                "<b>{}</b> operations over {} run(s), failed {failed_badge}",
                l.ops, l.runs
            ),
        ];
        if let Some(t) = throughput(l) {
            facts.push(format!("<b>{}/s</b>", num(t)));
        }
        facts.push(format!(
            "max in flight {} of {}",
            l.max_in_flight, l.concurrency
        ));
        if let Some(t) = at_capacity_ms(l) {
            facts.push(format!("at capacity {}", ms(t)));
        }
        if let Some(b) = l.backlog_max {
            facts.push(format!("backlog max {b}"));
        }
        if let Some(x) = &l.start_lag {
            facts.push(format!("start lag p99 {}", ms(x.p99_ms)));
        }
        h.push_str(&format!("<p>{}</p>\n", facts.join(" · ")));
        h.push_str("<div class=\"scroll\"><table>\n<tr><th>phase</th><th class=\"n\">n</th><th class=\"n\">min</th><th class=\"n\">p50</th><th class=\"n\">p90</th><th class=\"n\">p95</th><th class=\"n\">p99</th><th class=\"n\">p99.9</th><th class=\"n\">max</th></tr>\n");
        let lag = l.start_lag.as_ref().map(|x| ("start lag", x));
        for (name, x) in l
            .phases
            .iter()
            .map(|p| (p.name.as_str(), &p.latency))
            .chain(lag)
        {
            h.push_str(&format!(
                "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\"><b>{}</b></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                esc(name),
                x.count,
                ms(x.min_ms),
                ms(x.p50_ms),
                ms(x.p90_ms),
                ms(x.p95_ms),
                ms(x.p99_ms),
                ms(x.p999_ms),
                ms(x.max_ms)
            ));
        }
        h.push_str("</table></div>\n");
        if l.phases.is_empty() {
            h.push_str("<p>no operation succeeded: nothing timed</p>\n");
        } else {
            h.push_str("<p>each phase's percentiles</p>\n");
            h.push_str(&percentiles(l));
        }
        if !l.failure_samples.is_empty() {
            let mut samples: Vec<&str> = Vec::new();
            for f in &l.failure_samples {
                if !samples.contains(&f.as_str()) {
                    samples.push(f);
                }
            }
            h.push_str(&format!(
                "<p>what the failed operations said:</p>\n<pre>{}</pre>\n",
                esc(&samples.join("\n"))
            ));
        }
        h.push_str("</div>\n");
    }
    h.push_str("</div>\n");
    h
}

const STYLE: &str = r#"
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--accent:#2563eb;
--ok:#15803d;--okbg:#dcfce7;--bad:#b91c1c;--badbg:#fee2e2;--warn:#a16207;--warnbg:#fef9c3}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1200px;margin:0 auto;padding:28px 32px 48px}
header h1{margin:0 0 4px;font-size:28px}
header p{margin:2px 0;color:var(--muted)}
h2{font-size:19px;margin:34px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:0 0 8px}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef2f7;padding:1px 5px;border-radius:4px}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;font-size:13px;font-weight:600;vertical-align:middle}
.ok{background:var(--okbg);color:var(--ok)}.bad{background:var(--badbg);color:var(--bad)}
.warn{background:var(--warnbg);color:var(--warn)}.none{background:#e5e7eb;color:#374151}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:14px;margin:22px 0 6px}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.card b{display:block;font-size:26px;line-height:1.2}
.card span{color:var(--muted);font-size:13px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:10px;overflow:hidden}
th,td{padding:7px 10px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap}
td.name{white-space:normal;min-width:150px}
.sub{color:var(--muted);font-size:13px}
table{font-size:14.5px}
.scroll{overflow-x:auto;border-radius:10px}
th{background:#f1f5f9;font-size:13px;color:#374151}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr:last-child td{border-bottom:0}
.steps{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.loads .panel{margin-bottom:16px}
.panel{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px}
.panel p{margin:4px 0 8px;color:var(--muted);font-size:13px}
svg{max-width:100%;height:auto;display:block}
pre{background:#111827;color:#e5e7eb;padding:10px 12px;border-radius:8px;overflow:auto;font-size:12.5px}
ul.warnings{background:#fff;border:1px solid var(--line);border-radius:10px;padding:10px 16px 10px 34px}
ul.warnings li{margin:4px 0}
.muted{color:var(--muted)}
footer{margin-top:40px;color:var(--muted);font-size:13px}
"#;

fn gate_badge(status: GateStatus, severity: Severity) -> &'static str {
    match (status, severity) {
        (GateStatus::Pass, _) => "<span class=\"badge ok\">pass</span>",
        (GateStatus::Fail, Severity::Fail) => "<span class=\"badge bad\">FAIL</span>",
        (GateStatus::Fail, Severity::Warn) => "<span class=\"badge warn\">fail (warn)</span>",
        (GateStatus::NotMeasured, _) => "<span class=\"badge none\">not measured</span>",
        (GateStatus::Inconclusive, _) => "<span class=\"badge none\">inconclusive</span>",
    }
}

fn stat(s: Option<&Stats>, f: impl Fn(&Stats) -> String) -> String {
    s.map_or_else(|| "—".to_owned(), f)
}

/// The page: the latest receipt in full, then the history of all of them.
pub fn render(receipts: &[super::Receipt]) -> String {
    // Oldest first, whatever order they were given in.
    let mut sorted: Vec<&super::Receipt> = receipts.iter().collect();
    sorted.sort_by(|a, b| a.summary.started_at.cmp(&b.summary.started_at));
    let receipts = &sorted[..];
    let r = *receipts.last().expect("at least one receipt");
    let s = &r.summary;
    let failed_gates = s.slos.iter().filter(|g| g.fails_the_run()).count();
    let passed_gates = s
        .slos
        .iter()
        .filter(|g| g.status == GateStatus::Pass)
        .count();
    let (verdict, class) = match s.status {
        crate::receipt::Status::Ok if failed_gates == 0 => ("ok".to_owned(), "ok"),
        crate::receipt::Status::Ok => (format!("{failed_gates} gate(s) failed"), "bad"),
        crate::receipt::Status::Failed => ("a step failed".to_owned(), "bad"),
        crate::receipt::Status::TimedOut => ("a step timed out".to_owned(), "bad"),
        crate::receipt::Status::Interrupted => ("interrupted".to_owned(), "warn"),
    };
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{} · benchmark report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(&s.suite.name)
    ));
    h.push_str(&format!(
        "<header>\n<h1>{} <span class=\"badge {class}\">{}</span></h1>\n{}<p>started {}{} on {} · {} {} · benchmark {}</p>\n</header>\n",
        esc(&s.suite.name),
        esc(&verdict),
        s.suite
            .description
            .as_deref()
            .map(|d| format!("<p>{}</p>\n", esc(d)))
            .unwrap_or_default(),
        esc(&readable_time(&s.started_at)),
        match (
            super::openmetrics::epoch(&s.started_at),
            super::openmetrics::epoch(&s.finished_at)
        ) {
            (Some(a), Some(b)) if b >= a => format!(", took {}", ms((b - a) * 1000.0)),
            _ => String::new(),
        },
        esc(s.environment.hostname.as_deref().unwrap_or("an unnamed host")),
        esc(s.environment.cpu_model.as_deref().unwrap_or("unknown CPU")),
        esc(&format!("({} cores)", s.environment.cores)),
        esc(&s.tool.version),
    ));
    let cards = [
        (s.steps.len().to_string(), "steps"),
        (
            format!("{} + {}", s.runs, s.options.warmup),
            "measured + warm-up runs",
        ),
        (
            if s.slos.is_empty() {
                "—".to_owned()
            } else {
                format!("{passed_gates} / {}", s.slos.len())
            },
            "gates passed",
        ),
        (s.warnings.len().to_string(), "warnings"),
    ];
    let load_card = (!s.load.is_empty()).then(|| (s.load.len().to_string(), "load scenarios"));
    h.push_str("<section class=\"cards\">\n");
    for (big, small) in cards.into_iter().chain(load_card) {
        h.push_str(&format!(
            "<div class=\"card\"><b>{}</b><span>{small}</span></div>\n",
            esc(&big)
        ));
    }
    h.push_str("</section>\n");

    if !s.slos.is_empty() {
        h.push_str("<h2>Targets</h2>\n<table>\n<tr><th>Operation</th><th>Target</th><th class=\"n\">Current</th><th class=\"n\">Margin</th><th>Status</th></tr>\n");
        for g in &s.slos {
            h.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
                esc(&g.name),
                esc(&super::markdown::target(g)),
                esc(&super::markdown::observed(g)),
                g.margin_pct.map_or("—".into(), |m| format!("{m:+.1}%")),
                gate_badge(g.status, g.severity)
            ));
        }
        h.push_str("</table>\n");
    }

    // A suite of load scenarios alone has no steps to show.
    let steps_shown = !s.steps.is_empty() || s.load.is_empty();
    if steps_shown {
        h.push_str("<h2>Steps</h2>\n<div class=\"scroll\"><table>\n<tr><th>step</th><th class=\"n\">n</th><th class=\"n\">median<div class=\"sub\">min – max</div></th><th class=\"n\">mean<div class=\"sub\">95% CI</div></th><th class=\"n\">CV</th><th class=\"n\">CPU user + sys</th><th class=\"n\">peak memory</th><th class=\"n\">failed</th></tr>\n");
        for st in &s.steps {
            let w = st.wall_ms.as_ref();
            let cpu = match (&st.cpu_user_ms, &st.cpu_sys_ms) {
                (Some(u), Some(y)) => ms(u.mean + y.mean),
                _ => "—".into(),
            };
            let mem = match (&st.cgroup_memory_peak_bytes, &st.peak_rss_bytes) {
                (Some(t), _) => format!("{} (tree)", bytes(t.max as u64)),
                (None, Some(p)) => format!("{} (process)", bytes(p.max as u64)),
                _ => "—".into(),
            };
            let failed = if st.failures > 0 {
                format!("<span class=\"badge bad\">{}</span>", st.failures)
            } else {
                "0".into()
            };
            h.push_str(&format!(
            "<tr><td class=\"name\"><code>{}</code>{}</td><td class=\"n\">{}</td><td class=\"n\"><b>{}</b>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{failed}</td></tr>\n",
            esc(&super::step_label(st)),
            if st.name != st.id {
                format!("<div class=\"sub\">{}</div>", esc(&st.name))
            } else {
                String::new()
            },
            w.map_or(0, |w| w.n),
            stat(w, |w| ms(w.median)),
            w.map(|w| format!(
                "<div class=\"sub\">{} – {}</div>",
                ms(w.min),
                ms(w.max)
            ))
            .unwrap_or_default(),
            stat(w, |w| match (w.ci95_low, w.ci95_high) {
                (Some(l), Some(h)) => format!(
                    "{}<div class=\"sub\">{} – {}</div>",
                    ms(w.mean),
                    ms(l),
                    ms(h)
                ),
                _ => ms(w.mean),
            }),
            stat(w, |w| w.cv.map_or("—".into(), |c| format!("{:.1}%", c * 100.0))),
            cpu,
            esc(&mem),
        ));
        }
        h.push_str("</table></div>\n");

        h.push_str("<h2>Every run</h2>\n<div class=\"steps\">\n");
        for st in &s.steps {
            h.push_str(&format!(
                "<div class=\"panel\">\n<h3><code>{}</code> {}</h3>\n",
                esc(&super::step_label(st)),
                esc(if st.name != st.id { &st.name } else { "" })
            ));
            match &st.wall_ms {
                Some(w) if !w.samples.is_empty() => {
                    h.push_str(&format!(
                    "<p>wall time of each run (dots), median {} (line), 95% interval of the mean (band)</p>\n",
                    ms(w.median)
                ));
                    h.push_str(&distribution(w));
                }
                Some(_) => h.push_str("<p>this receipt has no samples (schema version 1)</p>\n"),
                None => h.push_str("<p>no successful run</p>\n"),
            }
            if !st.phases.is_empty() {
                h.push_str("<p>phases: median start and duration</p>\n");
                h.push_str(&phases(st));
            }
            if !st.metrics.is_empty() {
                h.push_str("<p>");
                let items: Vec<String> = st
                    .metrics
                    .iter()
                    .map(|(name, m)| {
                        format!(
                            "metric <code>{}</code>: median <b>{}</b> (n={})",
                            esc(name),
                            esc(&value(m.stats.median, m.unit.as_deref())),
                            m.stats.n
                        )
                    })
                    .collect();
                h.push_str(&items.join(" · "));
                h.push_str("</p>\n");
            }
            if let Some((run, rec)) = super::failures(r, st).next() {
                h.push_str(&format!(
                "<p>failed in {} run(s); run {run} ended with exit status {}:</p>\n<pre>{}</pre>\n",
                st.failures,
                rec.exit_code,
                esc(&rec.output_tail.as_deref().unwrap_or_default().join("\n"))
            ));
            }
            h.push_str("</div>\n");
        }
        h.push_str("</div>\n");
    }

    if !s.load.is_empty() {
        h.push_str(&load_section(s));
    }

    if receipts.len() > 1 {
        h.push_str(&history_section(receipts));
    }

    if !s.warnings.is_empty() {
        h.push_str(&format!(
            "<h2>Warnings ({})</h2>\n<ul class=\"warnings\">\n",
            s.warnings.len()
        ));
        for (w, n) in super::markdown::grouped(&s.warnings) {
            let more = if n > 1 {
                format!(" <span class=\"muted\">(and {} more like it)</span>", n - 1)
            } else {
                String::new()
            };
            h.push_str(&format!("<li>{}{more}</li>\n", esc(&w.message)));
        }
        h.push_str("</ul>\n");
    }

    h.push_str("<h2>Environment</h2>\n<table>\n");
    for (k, v) in super::markdown::environment(s) {
        h.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            esc(k),
            esc(&v)
        ));
    }
    h.push_str(&format!(
        "<tr><th>reproduce</th><td><code>{}</code></td></tr>\n</table>\n",
        esc(&s.reproduce)
    ));
    h.push_str(&format!(
        "<footer>Rendered by <code>benchmark report --format html</code> from {}.</footer>\n</main>\n</body>\n</html>\n",
        receipts
            .iter()
            .map(|r| format!("<code>{}</code>", esc(&r.source)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    h
}

/// `2026-12-05 06:42:01 UTC` from an ISO 8601 timestamp.
fn readable_time(iso: &str) -> String {
    match iso.get(..19) {
        Some(t) if iso.ends_with('Z') => format!("{} UTC", t.replace('T', " ")),
        _ => iso.to_owned(),
    }
}

/// A label for a receipt on a time axis: its time (to the second) when all are of one
/// day, else its date and time to the minute.
fn when(s: &Summary, one_day: bool) -> String {
    let t = s.finished_at.replace('T', " ");
    let part = if one_day { t.get(11..19) } else { t.get(5..16) };
    part.unwrap_or(&t).to_owned()
}

fn history_section(receipts: &[&super::Receipt]) -> String {
    let one_day = receipts
        .iter()
        .all(|r| r.summary.finished_at.get(..10) == receipts[0].summary.finished_at.get(..10));
    let labels: Vec<String> = receipts.iter().map(|r| when(&r.summary, one_day)).collect();
    // Every (step, measure) of any receipt, in the order first seen.
    let mut keys: Vec<(String, String, Option<String>)> = Vec::new();
    for r in receipts {
        for st in &r.summary.steps {
            for m in crate::compare::measures_of(st) {
                let k = (crate::compare::step_key(st), m.name.clone(), m.unit.clone());
                if !keys.iter().any(|x| x.0 == k.0 && x.1 == k.1) {
                    keys.push(k);
                }
            }
        }
    }
    let mut h = format!(
        "<h2>Over time</h2>\n<p class=\"muted\">{} receipts, oldest first: each measure's median (line) with the 95% interval of its mean (band).</p>\n<div class=\"steps\">\n",
        receipts.len()
    );
    for (step, measure, unit) in keys {
        let points: Vec<(usize, &Stats)> = receipts
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let st = r
                    .summary
                    .steps
                    .iter()
                    .find(|s| crate::compare::step_key(s) == step)?;
                let m = crate::compare::measures_of(st)
                    .into_iter()
                    .find(|m| m.name == measure)?;
                Some((i, m.stats))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        h.push_str(&format!(
            "<div class=\"panel\">\n<h3><code>{}</code> {}</h3>\n",
            esc(&step),
            esc(&measure)
        ));
        h.push_str(&history(&points, &labels, unit.as_deref()));
        h.push_str("</div>\n");
    }
    h.push_str("</div>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained_and_has_its_charts() {
        let r = crate::report::fixture::receipt();
        let page = render(std::slice::from_ref(&r));
        assert!(page.starts_with("<!DOCTYPE html>"));
        for banned in ["<script", "http://", "https://", "<link", "@import", "url("] {
            // The SVG namespace is an identifier, not a fetch.
            let hits = page.matches(banned).count().saturating_sub(
                page.matches("http://www.w3.org/").count() * usize::from(banned == "http://"),
            );
            assert_eq!(hits, 0, "{banned}");
        }
        // One distribution per step with samples, one phase bar for the step with phases.
        assert_eq!(page.matches("<svg").count(), 3, "{page}");
        assert!(page.contains("build fast"));
        assert!(page.contains("boom"), "the failing step's output tail");
        assert!(!page.contains("Over time"));

        let mut older = r.clone();
        older.summary.finished_at = "2026-12-04T06:42:02.202648Z".into();
        let page = render(&[r, older]);
        assert!(page.contains("Over time"));
        assert!(page.matches("<svg").count() > 3);
    }

    #[test]
    fn load_scenarios_have_their_section_and_charts() {
        let plain = render(&[crate::report::fixture::receipt()]);
        assert!(!plain.contains("<h2>Load</h2>"));
        let page = render(&[crate::report::fixture::load_receipt()]);
        assert!(page.contains("<h2>Load</h2>"), "{page}");
        assert!(page.contains("<b>141.9/s</b>"), "{page}");
        assert!(page.contains("3 (exit:3 ×3)"), "{page}");
        assert!(page.contains("backlog max 30"), "{page}");
        assert!(page.contains("<td><code>start lag</code></td>"), "{page}");
        assert!(page.contains("operation 7: exit:3: exited with 3"));
        // One distribution for the step, one percentile chart per scenario.
        assert_eq!(page.matches("<svg").count(), 3, "{page}");
    }
}
