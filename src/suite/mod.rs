//! Suite files: TOML text → validated [`Suite`] → [`Plan`] for one invocation.
//!
//! Every error names the file, line and column and says what to do. Parsing takes `&str`;
//! only [`load`] touches the file system.

pub mod adhoc;
mod load;
mod raw;
pub mod units;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_spanned::Spanned;
use sha2::{Digest, Sha256};

use crate::control::valid_name;
use crate::error::{Error, Location, SuiteError};
pub use load::{Load, LoadOp};
pub use raw::DockerMode;
use raw::{ExpectExit, RawHook, RawPreflight, RawSuite, Shell};
use units::HumanDuration;

/// The built-in system-baseline suite (its workloads are built into the binary).
pub const BASELINE: &str = include_str!("baseline.toml");
/// The most runs (measured or warm-up) a suite or the command line may ask for.
pub const MAX_RUNS: u32 = 100_000;
/// The longest sampler interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// The name under which the built-in suite appears in receipts and errors.
pub const BASELINE_NAME: &str = "<built-in system-baseline>";

/// A validated suite file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub description: Option<String>,
    pub source: Source,
    pub runs: u32,
    pub warmup: u32,
    pub run_timeout: Option<Duration>,
    pub shell: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub env_allow: Vec<String>,
    /// Every mode the suite knows (declared, or used by its steps).
    pub modes: Vec<String>,
    pub default_mode: Option<String>,
    pub working_dir: PathBuf,
    pub keep_going: bool,
    pub kill_grace: Duration,
    pub monitor: Monitor,
    pub preflight: Vec<Preflight>,
    pub setup: Vec<Hook>,
    pub steps: Vec<Step>,
    pub teardown: Vec<Hook>,
    /// `[[load]]` scenarios, in file order.
    pub loads: Vec<Load>,
    /// `[[slo]]` gates, judged after the runs.
    pub gates: Vec<crate::verdict::slo::Gate>,
}

/// Where a suite came from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file, or `None` for the built-in suite.
    pub path: Option<PathBuf>,
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// What to call it without a file: the built-in suite, or the command line's.
    pub label: &'static str,
}

impl Source {
    pub fn display(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => self.label.to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Monitor {
    pub enabled: bool,
    pub interval: Duration,
    pub docker: DockerMode,
}

/// One pre-flight requirement.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Command(String),
    FreeDisk { path: PathBuf, min_bytes: u64 },
    FreeMemory { min_bytes: u64 },
    Run(String),
    DockerDaemon,
}

#[derive(Debug, Clone)]
pub struct Preflight {
    pub name: Option<String>,
    pub checks: Vec<Check>,
}

/// A `[[setup]]` or `[[teardown]]` command (not measured).
#[derive(Debug, Clone)]
pub struct Hook {
    pub name: String,
    pub run: String,
    pub timeout: Option<Duration>,
    pub env: BTreeMap<String, String>,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// A command run through the suite's shell.
    Shell { run: String },
    /// A container lifecycle probe: create, start, running, exit, remove of `image`.
    Container {
        image: String,
        cmd: Vec<String>,
        network: Option<String>,
    },
}

/// A measured `[[step]]`.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub name: String,
    pub kind: StepKind,
    pub timeout: Option<Duration>,
    pub env: BTreeMap<String, String>,
    pub expect_exit: Vec<i32>,
    pub allow_failure: bool,
    /// Empty: every mode.
    pub modes: Vec<String>,
    /// Another tool's results read after the step, as its metrics.
    pub import: Option<StepImport>,
}

/// A step's `import`: whose results, and where the step left them.
#[derive(Debug, Clone, PartialEq)]
pub struct StepImport {
    pub kind: crate::import::Kind,
    /// A file or directory the step wrote, relative to the working directory; `None`:
    /// the step's stdout (criterion, which never prints its results: the step's
    /// `$CRITERION_HOME`, else `target/criterion`).
    pub path: Option<PathBuf>,
}

/// What one invocation runs: the suite with the command line's choices applied.
#[derive(Debug, Clone)]
pub struct Plan {
    pub suite: Suite,
    pub mode: Option<String>,
    pub runs: u32,
    pub warmup: u32,
    /// The steps of the selected mode, in file order.
    pub steps: Vec<Step>,
    /// The load scenarios of the selected mode, in file order (run after the steps).
    pub loads: Vec<Load>,
    /// Run the steps in a shuffled order in each run, from this seed (ad-hoc commands,
    /// which are independent of each other: no ordering bias).
    pub shuffle_seed: Option<u64>,
}

/// The command line's say over a suite.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub mode: Option<String>,
    pub runs: Option<u32>,
    pub warmup: Option<u32>,
    pub shuffle_seed: Option<u64>,
}

/// A step id: letters, digits, `_` and `-` — no dots, so that a gate's selector
/// (`step.ID.wall.p95`) is unambiguous.
pub fn valid_id(id: &str) -> bool {
    valid_name(id)
}

/// `id`, or `id-2`, `id-3`, …: the first that `is_taken` does not claim. Callers compare
/// ignoring case: ids that differ only in case name the same log file on macOS.
pub fn unique_id(id: &str, mut is_taken: impl FnMut(&str) -> bool) -> String {
    if !is_taken(id) {
        return id.to_owned();
    }
    (2u64..)
        .map(|n| format!("{id}-{n}"))
        .find(|c| !is_taken(c))
        .expect("some suffix is free")
}

/// Read and validate a suite file.
pub fn load(path: &Path) -> Result<Suite, SuiteError> {
    let bytes = std::fs::read(path).map_err(|e| SuiteError {
        location: None,
        file: path.to_owned(),
        message: format!("cannot read the suite file: {e}"),
        help: Some(if e.kind() == std::io::ErrorKind::NotFound {
            "check the path, or run `benchmark run` without a suite for the system baseline"
                .to_owned()
        } else {
            "check the file's permissions".to_owned()
        }),
    })?;
    from_bytes(&bytes, path)
}

/// Validate a suite file's bytes, read from `path` (what [`load`] does after reading).
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Suite, SuiteError> {
    let text = decode(bytes, path)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse(text, Some(path), dir)
}

/// A suite file's bytes as text: TOML is UTF-8, and an error names the line and column of
/// the first byte that is not.
fn decode<'a>(bytes: &'a [u8], file: &Path) -> Result<&'a str, SuiteError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        // The prefix is valid UTF-8 by definition.
        let before = std::str::from_utf8(valid).unwrap_or_default();
        let bad = bytes[e.valid_up_to()];
        let utf16 = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
        SuiteError {
            location: Some(locate(file, before, before.len())),
            file: file.to_owned(),
            message: format!("the suite file is not valid UTF-8 (byte 0x{bad:02X})"),
            help: Some(if utf16 {
                "it looks like UTF-16: save it as UTF-8 (TOML files are UTF-8), e.g. \
                 `iconv -f UTF-16 -t UTF-8`"
                    .to_owned()
            } else {
                "TOML files are UTF-8: save it as UTF-8, e.g. `iconv -f LATIN1 -t UTF-8` \
                 for a Latin-1 file, or fix the character at this position"
                    .to_owned()
            }),
        }
    })
}

/// The built-in system-baseline suite.
pub fn baseline() -> Suite {
    parse(BASELINE, None, Path::new(".")).expect("the built-in suite is valid (tested)")
}

/// Parse and validate suite text. `path` is for messages and the receipt (None: built-in);
/// relative paths in the suite resolve against `dir`.
pub fn parse(text: &str, path: Option<&Path>, dir: &Path) -> Result<Suite, SuiteError> {
    let file = path.map_or_else(|| PathBuf::from(BASELINE_NAME), Path::to_owned);
    let at = |span: std::ops::Range<usize>, message: String, help: Option<String>| SuiteError {
        location: Some(locate(&file, text, span.start)),
        file: file.clone(),
        message,
        help,
    };
    let raw: RawSuite = toml::from_str(text).map_err(|e| {
        let (message, help) = explain_toml_error(e.message());
        match e.span() {
            Some(span) => at(span, message, help),
            None => SuiteError {
                location: None,
                file: file.clone(),
                message,
                help,
            },
        }
    })?;

    let settings = raw.suite;
    let s = settings.as_ref();
    let count = |v: Option<&Spanned<i64>>, default: u32, min: i64, what: &str| {
        let Some(v) = v else { return Ok(default) };
        u32::try_from(*v.get_ref())
            .ok()
            .filter(|n| i64::from(*n) >= min && *n <= MAX_RUNS)
            .ok_or_else(|| {
                at(
                    v.span(),
                    format!(
                        "`{what}` must be a whole number from {min} to {MAX_RUNS}, not {}",
                        v.get_ref()
                    ),
                    None,
                )
            })
    };
    // Every duration within its range, so that no clock arithmetic can overflow later.
    let duration =
        |v: Option<&Spanned<HumanDuration>>, what: &str, min: Duration, max: Duration| {
            let Some(v) = v else { return Ok(None) };
            units::check_range(v.get_ref().0, min, max)
                .map(Some)
                .map_err(|range| {
                    at(
                        v.span(),
                        format!(
                            "`{what}` must be {range}, not {}",
                            humantime::format_duration(v.get_ref().0)
                        ),
                        (what.ends_with("timeout") && v.get_ref().0 < min)
                            .then(|| "leave `timeout` out for no limit".to_owned()),
                    )
                })
        };
    let timeout = |v: Option<&Spanned<HumanDuration>>, what: &str| {
        duration(v, what, Duration::from_millis(1), units::MAX_DURATION)
    };
    let run_timeout = timeout(s.and_then(|s| s.timeout.as_ref()), "[suite] timeout")?;
    let kill_grace = duration(
        s.and_then(|s| s.kill_grace.as_ref()),
        "kill_grace",
        Duration::ZERO,
        Duration::from_secs(3600),
    )?
    .unwrap_or(Duration::from_secs(2));
    let runs = count(s.and_then(|s| s.runs.as_ref()), 5, 1, "runs")?;
    let warmup = count(s.and_then(|s| s.warmup.as_ref()), 1, 0, "warmup")?;

    let shell = match s.and_then(|s| s.shell.as_ref()) {
        None => vec!["sh".to_owned(), "-c".to_owned()],
        Some(sh) => match sh.get_ref() {
            Shell::Program(p) if !p.trim().is_empty() => vec![p.clone(), "-c".to_owned()],
            Shell::Argv(argv) if !argv.is_empty() && !argv[0].trim().is_empty() => argv.clone(),
            _ => {
                return Err(at(
                    sh.span(),
                    "`shell` is empty".to_owned(),
                    Some(
                        "write a program (`shell = \"bash\"`, run as `bash -c CMD`) or a full \
                         prefix (`shell = [\"bash\", \"-euo\", \"pipefail\", \"-c\"]`)"
                            .to_owned(),
                    ),
                ));
            }
        },
    };

    // Steps: ids unique and valid, modes known.
    let mut steps = Vec::new();
    let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let declared: Option<Vec<String>> = s
        .and_then(|s| s.modes.as_ref())
        .map(|m| m.iter().map(|m| m.get_ref().clone()).collect());
    for raw_step in raw.step {
        let span = raw_step.span();
        let st = raw_step.into_inner();
        let id = st.id.get_ref().clone();
        if !valid_id(&id) {
            return Err(at(
                st.id.span(),
                format!("step id `{id}` is not valid"),
                Some(format!(
                    "use letters, digits, `_` and `-` (ids appear in gate selectors such as \
                     `step.ID.wall.p95` and in file names), e.g. `id = \"{}\"`",
                    crate::control::suggest_name(&id)
                )),
            ));
        }
        // Keyed in lower case: ids name log files, and ids that differ only in case
        // name the same file on case-insensitive file systems (macOS, Windows).
        if let Some((first_id, first)) = seen.get(&id.to_ascii_lowercase()) {
            let line = locate(&file, text, *first).line;
            return Err(if *first_id == id {
                at(
                    st.id.span(),
                    format!("duplicate step id `{id}` (first defined at line {line})"),
                    Some("give each [[step]] a unique `id`".to_owned()),
                )
            } else {
                at(
                    st.id.span(),
                    format!("step id `{id}` differs from `{first_id}` (line {line}) only in case"),
                    Some(format!(
                        "ids name log files, and these two name the same file on \
                         case-insensitive file systems (macOS); rename one, e.g. \
                         `id = \"{id}-2\"`"
                    )),
                )
            });
        }
        seen.insert(id.to_ascii_lowercase(), (id.clone(), span.start));
        let mut modes = Vec::new();
        for m in st.modes.iter().flatten() {
            if let Some(declared) = &declared
                && !declared.contains(m.get_ref())
            {
                return Err(at(
                    m.span(),
                    format!("unknown mode `{}` in step `{id}`", m.get_ref()),
                    Some(format!(
                        "[suite] modes declares {}; add it there or fix the name",
                        list(declared)
                    )),
                ));
            }
            modes.push(m.get_ref().clone());
        }
        let kind = match (st.run, st.probe) {
            (Some(run), None) => {
                if let Some(image) = &st.image {
                    return Err(at(
                        image.span(),
                        format!("step `{id}` has `image` but no `probe = \"container\"`"),
                        Some("add `probe = \"container\"` to probe a container's lifecycle, or drop `image`".to_owned()),
                    ));
                }
                StepKind::Shell { run }
            }
            (None, Some(probe)) => {
                let raw::ProbeKind::Container = probe.get_ref();
                match st.image {
                    Some(image) if !image.get_ref().trim().is_empty() => StepKind::Container {
                        image: image.into_inner(),
                        cmd: st.cmd.unwrap_or_default(),
                        network: st.network,
                    },
                    _ => {
                        return Err(at(
                            probe.span(),
                            format!("container probe `{id}` needs `image`"),
                            Some("name a local image: `image = \"busybox:local\"` (no registry pull is attempted)".to_owned()),
                        ));
                    }
                }
            }
            (Some(_), Some(probe)) => {
                return Err(at(
                    probe.span(),
                    format!("step `{id}` has both `run` and `probe`"),
                    Some("a step either runs a command (`run`) or probes a container (`probe = \"container\"`, `image`, `cmd`)".to_owned()),
                ));
            }
            (None, None) => {
                return Err(at(
                    span.clone(),
                    format!("step `{id}` has no `run`"),
                    Some("add `run = \"…\"` (a shell command), or `probe = \"container\"` with `image`".to_owned()),
                ));
            }
        };
        let step_timeout = timeout(st.timeout.as_ref(), "timeout")?;
        let expect_exit = match &st.expect_exit {
            None => vec![0],
            Some(e) => expect_exit(e).map_err(|(span, m, h)| at(span, m, h))?,
        };
        let import = match st.import {
            None => None,
            Some(imp) => Some(step_import(imp, &id, &kind).map_err(|(span, m, h)| at(span, m, h))?),
        };
        steps.push(Step {
            import,
            name: st.name.unwrap_or_else(|| id.clone()),
            id,
            kind,
            timeout: step_timeout,
            env: st.env,
            expect_exit,
            allow_failure: st.allow_failure.unwrap_or(false),
            modes,
        });
    }
    let loads = load_scenarios(raw.load, &declared, &file, text, &at)?;
    if steps.is_empty() && loads.is_empty() {
        return Err(SuiteError {
            location: None,
            file: file.clone(),
            message: "the suite has no [[step]] and no [[load]]".to_owned(),
            help: Some(
                "add at least one:\n  [[step]]\n  id = \"build\"\n  run = \"make\"\nor a load scenario:\n  [[load]]\n  id = \"api\"\n  http = { url = \"http://127.0.0.1:8080/\" }\n  total = 1000".to_owned(),
            ),
        });
    }
    let modes = declared.unwrap_or_else(|| {
        let mut all: Vec<String> = steps
            .iter()
            .flat_map(|s| s.modes.clone())
            .chain(loads.iter().flat_map(|l| l.modes.clone()))
            .collect();
        all.sort();
        all.dedup();
        all
    });
    let default_mode = match s.and_then(|s| s.default_mode.as_ref()) {
        Some(m) if !modes.contains(m.get_ref()) => {
            return Err(at(
                m.span(),
                format!("unknown default_mode `{}`", m.get_ref()),
                Some(format!("this suite's modes are {}", list(&modes))),
            ));
        }
        m => m.map(|m| m.get_ref().clone()),
    };

    let monitor = raw.monitor;
    let interval = match monitor.as_ref().and_then(|m| m.interval.as_ref()) {
        Some(i) => units::check_range(i.get_ref().0, Duration::from_millis(1), MAX_INTERVAL)
            .map_err(|range| {
                at(
                    i.span(),
                    format!(
                        "`interval` must be {range}, not {}",
                        humantime::format_duration(i.get_ref().0)
                    ),
                    Some("set `enabled = false` to turn the sampler off".to_owned()),
                )
            })?,
        None => Duration::from_millis(100),
    };

    let working_dir = match s.and_then(|s| s.working_dir.as_deref()) {
        Some(w) => dir.join(w),
        None => dir.to_owned(),
    };
    let preflight = raw
        .preflight
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let at = locate(&file, text, p.span().start);
            preflight(p.into_inner(), &working_dir, at, i)
        })
        .collect::<Result<_, _>>()?;
    let hooks = |kind: &str, v: Vec<RawHook>| -> Result<Vec<Hook>, SuiteError> {
        v.into_iter()
            .enumerate()
            .map(|(i, h)| {
                Ok(Hook {
                    name: h.name.unwrap_or_else(|| format!("{kind} #{}", i + 1)),
                    run: h.run,
                    timeout: timeout(h.timeout.as_ref(), "timeout")?,
                    env: h.env,
                })
            })
            .collect()
    };
    let setup = hooks("setup", raw.setup)?;
    let teardown = hooks("teardown", raw.teardown)?;

    // Gates: every expression parses and names steps the suite has.
    let step_ids: Vec<&str> = steps.iter().map(|s: &Step| s.id.as_str()).collect();
    let mut gates = Vec::new();
    for g in raw.slo {
        let expr_text = g.expr.get_ref();
        // Where a column of the expression is in the file (the span starts at the quote).
        let at_column = |column: usize| {
            let byte = expr_text
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(expr_text.len(), |(b, _)| b);
            g.expr.span().start + 1 + byte
        };
        let expr = crate::verdict::slo::parse(expr_text).map_err(|e| {
            at(
                at_column(e.column)..at_column(e.column),
                format!("in [[slo]] `{expr_text}`: {}", e.message),
                Some(
                    "write `SELECTOR OP THRESHOLD`, e.g. `step.build.wall.p95 <= 7s` or `metric.display_mibps.median >= 80 MiB/s`"
                        .to_owned(),
                ),
            )
        })?;
        if let Some(id) = expr.selector.step()
            && !step_ids.contains(&id)
        {
            let close = step_ids
                .iter()
                .min_by_key(|s| strsim::damerau_levenshtein(id, s))
                .filter(|s| strsim::damerau_levenshtein(id, s) <= 2);
            let column = expr_text
                .find(id)
                .map_or(1, |b| expr_text[..b].chars().count() + 1);
            return Err(at(
                at_column(column)..at_column(column),
                format!("in [[slo]] `{expr_text}`: no step `{id}` in this suite"),
                Some(match close {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!(
                        "the steps are {}",
                        list(&step_ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                    ),
                }),
            ));
        }
        if let crate::verdict::slo::Selector::Load { name, what } = &expr.selector {
            let ids: Vec<String> = loads.iter().map(|l| l.id.clone()).collect();
            let column = |w: &str| {
                expr_text
                    .find(w)
                    .map_or(1, |b| expr_text[..b].chars().count() + 1)
            };
            if !ids.contains(name) {
                let close = ids
                    .iter()
                    .min_by_key(|s| strsim::damerau_levenshtein(name, s))
                    .filter(|s| strsim::damerau_levenshtein(name, s) <= 2);
                let c = column(name);
                return Err(at(
                    at_column(c)..at_column(c),
                    format!("in [[slo]] `{expr_text}`: no load scenario `{name}` in this suite"),
                    Some(match (close, ids.is_empty()) {
                        (Some(c), _) => format!("did you mean `{c}`?"),
                        (None, true) => "add a [[load]] scenario with that id".to_owned(),
                        (None, false) => format!("the scenarios are {}", list(&ids)),
                    }),
                ));
            }
            if let Some((_, stat)) = what.split_once('.')
                && crate::load::LatencyStats::NAMES.iter().all(|n| *n != stat)
            {
                let c = column(&format!(".{stat}")) + 1;
                return Err(at(
                    at_column(c)..at_column(c),
                    format!(
                        "in [[slo]] `{expr_text}`: `{stat}` is not a statistic of a load phase"
                    ),
                    Some(format!(
                        "use one of {}, e.g. `load.{name}.complete.p95 <= 50ms`",
                        crate::load::LatencyStats::NAMES.join(", ")
                    )),
                ));
            }
        }
        if let Some(c) = &g.confidence
            && !(*c.get_ref() > 0.0 && *c.get_ref() < 1.0)
        {
            return Err(at(
                c.span(),
                format!("confidence {} is not a probability", c.get_ref()),
                Some("give a level between 0 and 1, e.g. `confidence = 0.95`".to_owned()),
            ));
        }
        gates.push(crate::verdict::slo::Gate {
            name: g.name.clone().unwrap_or_else(|| expr_text.clone()),
            text: expr_text.clone(),
            expr,
            confidence: g.confidence.map(|c| *c.get_ref()),
            severity: g.severity,
        });
    }

    Ok(Suite {
        name: s
            .and_then(|s| s.name.clone())
            .or_else(|| {
                path.and_then(|p| p.file_stem())
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "suite".to_owned()),
        description: s.and_then(|s| s.description.clone()),
        source: Source {
            path: path.map(Path::to_owned),
            sha256: hex(&Sha256::digest(text.as_bytes())),
            label: BASELINE_NAME,
        },
        runs,
        warmup,
        run_timeout,
        shell,
        env: s.map(|s| s.env.clone()).unwrap_or_default(),
        env_allow: s.map(|s| s.env_allow.clone()).unwrap_or_default(),
        modes,
        default_mode,
        working_dir,
        keep_going: s.and_then(|s| s.keep_going).unwrap_or(false),
        kill_grace,
        monitor: Monitor {
            enabled: monitor.as_ref().and_then(|m| m.enabled).unwrap_or(true),
            interval,
            docker: monitor
                .as_ref()
                .and_then(|m| m.docker)
                .unwrap_or(DockerMode::Auto),
        },
        preflight,
        setup,
        steps,
        teardown,
        loads,
        gates,
    })
}

impl Suite {
    /// Apply the command line's choices: the mode and its steps, run counts.
    pub fn plan(self, opts: &PlanOptions) -> Result<Plan, Error> {
        let mode = opts.mode.clone().or_else(|| self.default_mode.clone());
        if let Some(m) = &mode
            && !self.modes.contains(m)
        {
            return Err(Error::Usage(if self.modes.is_empty() {
                format!(
                    "unknown mode `{m}`: suite `{}` has no modes (no step has `modes`); run it without --mode",
                    self.name
                )
            } else {
                format!(
                    "unknown mode `{m}`: suite `{}` knows {}",
                    self.name,
                    list(&self.modes)
                )
            }));
        }
        let steps: Vec<Step> = self
            .steps
            .iter()
            .filter(|s| match &mode {
                None => s.modes.is_empty(),
                Some(m) => s.modes.is_empty() || s.modes.contains(m),
            })
            .cloned()
            .collect();
        let loads: Vec<Load> = self
            .loads
            .iter()
            .filter(|l| match &mode {
                None => l.modes.is_empty(),
                Some(m) => l.modes.is_empty() || l.modes.contains(m),
            })
            .cloned()
            .collect();
        if steps.is_empty() && loads.is_empty() {
            return Err(Error::Usage(match &mode {
                Some(m) => format!(
                    "mode `{m}` selects no step or load scenario of suite `{}`",
                    self.name
                ),
                None => format!(
                    "suite `{}` has no step or load scenario without `modes` and no default_mode: choose one with --mode ({})",
                    self.name,
                    list(&self.modes)
                ),
            }));
        }
        Ok(Plan {
            mode,
            runs: opts.runs.unwrap_or(self.runs),
            warmup: opts.warmup.unwrap_or(self.warmup),
            steps,
            loads,
            shuffle_seed: opts.shuffle_seed,
            suite: self,
        })
    }
}

fn preflight(
    p: RawPreflight,
    dir: &Path,
    at: Location,
    index: usize,
) -> Result<Preflight, SuiteError> {
    let mut checks: Vec<Check> = p
        .command
        .into_iter()
        .chain(p.commands)
        .map(Check::Command)
        .collect();
    if let Some(b) = p.min_free_disk {
        checks.push(Check::FreeDisk {
            path: dir.join(p.path.as_deref().unwrap_or(".")),
            min_bytes: b.0,
        });
    }
    if let Some(b) = p.min_free_memory {
        checks.push(Check::FreeMemory { min_bytes: b.0 });
    }
    if let Some(r) = p.run {
        checks.push(Check::Run(r));
    }
    if p.docker_daemon == Some(true) {
        checks.push(Check::DockerDaemon);
    }
    if checks.is_empty() {
        return Err(SuiteError {
            file: at.file.clone(),
            location: Some(at),
            message: format!("[[preflight]] #{} checks nothing", index + 1),
            help: Some(
                "give it `command`/`commands`, `min_free_disk` (with `path`), `min_free_memory`, \
                 `run`, or `docker_daemon = true`"
                    .to_owned(),
            ),
        });
    }
    Ok(Preflight {
        name: p.name,
        checks,
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn locate(file: &Path, text: &str, offset: usize) -> Location {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Location {
        file: file.to_owned(),
        line,
        column,
    }
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    // str::floor_char_boundary is newer than the MSRV.
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// A step's `import`, checked: a known kind, a path where one is needed, a command step.
/// `[[load]]` scenarios: ids valid and unique among them (ignoring case), modes known.
fn load_scenarios(
    raw: Vec<Spanned<raw::RawLoad>>,
    declared: &Option<Vec<String>>,
    file: &Path,
    text: &str,
    at: &dyn Fn(std::ops::Range<usize>, String, Option<String>) -> SuiteError,
) -> Result<Vec<Load>, SuiteError> {
    let mut loads: Vec<Load> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for l in raw {
        let id_span = l.get_ref().id.span();
        let id = l.get_ref().id.get_ref().clone();
        if !valid_id(&id) {
            return Err(at(
                id_span,
                format!("load scenario id `{id}` is not valid"),
                Some(format!(
                    "use letters, digits, `_` and `-` (ids appear in gate selectors such as \
                     `load.ID.complete.p95`), e.g. `id = \"{}\"`",
                    crate::control::suggest_name(&id)
                )),
            ));
        }
        if let Some(first) = seen.get(&id.to_ascii_lowercase()) {
            let line = locate(file, text, *first).line;
            return Err(at(
                id_span,
                format!(
                    "duplicate load scenario id `{id}` (first defined at line {line}, ignoring case)"
                ),
                Some("give each [[load]] a unique `id`".to_owned()),
            ));
        }
        seen.insert(id.to_ascii_lowercase(), l.span().start);
        let mut modes = Vec::new();
        for m in l.get_ref().modes.iter().flatten() {
            if let Some(declared) = declared
                && !declared.contains(m.get_ref())
            {
                return Err(at(
                    m.span(),
                    format!("unknown mode `{}` in load scenario `{id}`", m.get_ref()),
                    Some(format!(
                        "[suite] modes declares {}; add it there or fix the name",
                        list(declared)
                    )),
                ));
            }
            modes.push(m.get_ref().clone());
        }
        loads.push(
            load::scenario(l, &id, modes, expect_exit).map_err(|(span, m, h)| at(span, m, h))?,
        );
    }
    Ok(loads)
}

/// `expect_exit`: codes 0 to 255, at least one.
fn expect_exit(e: &Spanned<ExpectExit>) -> Result<Vec<i32>, load::Located> {
    let codes = match e.get_ref() {
        ExpectExit::One(c) => vec![*c],
        ExpectExit::Any(v) => v.clone(),
    };
    if let Some(bad) = codes.iter().find(|c| !(0..=255).contains(*c)) {
        return Err((
            e.span(),
            format!("`expect_exit` codes are 0 to 255, not {bad}"),
            Some(
                "a process exits with 0 to 255; one killed by signal N counts as 128 + N"
                    .to_owned(),
            ),
        ));
    }
    if codes.is_empty() {
        return Err((
            e.span(),
            "`expect_exit` is empty".to_owned(),
            Some("list the exit codes that count as success, e.g. `[0, 1]`".to_owned()),
        ));
    }
    Ok(codes)
}

fn step_import(
    imp: Spanned<raw::RawImport>,
    id: &str,
    kind: &StepKind,
) -> Result<StepImport, (std::ops::Range<usize>, String, Option<String>)> {
    use crate::import::Kind;
    let span = imp.span();
    let imp = imp.into_inner();
    let name = imp.kind.get_ref();
    let Some(k) = Kind::from_name(name) else {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        let close = names
            .iter()
            .map(|c| (strsim::jaro_winkler(name, c), *c))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        return Err((
            imp.kind.span(),
            format!("unknown import kind `{name}` in step `{id}`"),
            Some(match close {
                Some((_, c)) => format!("did you mean `{c}`?"),
                None => format!(
                    "the kinds are {}",
                    list(&names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                ),
            }),
        ));
    };
    if !matches!(kind, StepKind::Shell { .. }) {
        return Err((
            span,
            format!("container probe `{id}` cannot `import`: it has no output to read"),
            Some("import in a step that runs the tool (`run = \"go test -bench .\"`)".to_owned()),
        ));
    }
    let path = match imp.path {
        Some(p) if p.get_ref().trim().is_empty() => {
            return Err((
                p.span(),
                format!("`import.path` of step `{id}` is empty"),
                Some("name the file or directory the step writes, or leave `path` out to read its stdout".to_owned()),
            ));
        }
        Some(p) => Some(PathBuf::from(p.into_inner())),
        None => None,
    };
    Ok(StepImport { kind: k, path })
}

/// Turn toml/serde's message into ours, with a suggestion for misspelt keys.
fn explain_toml_error(msg: &str) -> (String, Option<String>) {
    let msg = msg.trim().to_owned();
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((unknown, expected)) = rest.split_once('`')
    {
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let best = candidates
            .iter()
            .map(|c| (strsim::jaro_winkler(unknown, c), *c))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let help = match best {
            Some((_, c)) => format!("did you mean `{c}`?"),
            None => format!("known keys here: {}", candidates.join(", ")),
        };
        return (format!("unknown key `{unknown}`"), Some(help));
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return (
            format!("missing key `{field}`"),
            Some(format!("add `{field} = …` to this table")),
        );
    }
    (msg, None)
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
