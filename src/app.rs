//! Command-line entry: parse arguments, dispatch, map errors to exit codes in one place.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, ExitKind};
use crate::event::Event;
use crate::measure::cancel::Cancel;
use crate::measure::platform;
use crate::receipt::SchemaKind;
use crate::suite::{self, PlanOptions, Suite};
use crate::{entrypoint, pipeline, report, runner, workload};

/// The reproducible benchmark appliance: timed suites, kernel-accounted resources,
/// statistics, receipts and verdicts.
#[derive(Debug, Parser)]
#[command(name = "benchmark", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a suite (default ./benchmark.toml; without one, the built-in system baseline).
    Run(RunArgs),
    /// Time one command from inside a script; records into the enclosing run when
    /// BENCHMARK_RUN_DIR is set, else prints the duration. Passes the exit code through.
    Step(StepArgs),
    /// Show what this machine is (OS, arch, Nix system, CPU, memory, kernel, virtualization).
    Info(InfoArgs),
    /// Validate a suite and run its pre-flight checks without running it.
    Check(CheckArgs),
    /// Compare two receipts (perf.json, summary_<UTC>.json, or output directories): per
    /// step and measure, whether NEW regressed, improved or is unchanged against BASE.
    Compare(CompareArgs),
    /// Render receipts (perf.json, summary_<UTC>.json, or output directories) as a
    /// report: table, markdown, csv, junit, openmetrics, html, bmf, gab, gab-bigger,
    /// kruntimes (load scenarios only), json.
    Report(ReportArgs),
    /// Turn another tool's results (criterion, go test -bench, hyperfine, libtest) into a
    /// summary receipt (perf.json) that gates, compare and reports read like a run's.
    Import(ImportArgs),
    /// Pool the receipts of several invocations of one suite (output directories or
    /// perf.json, with their run_N.json) into one: every run, summarised again.
    Merge(MergeArgs),
    /// Measure this machine's noise: run the suite several times (A/A), compare every pair
    /// of rounds, and write calibration.json for `compare --calibration`.
    Calibrate(CalibrateArgs),
    /// Container mode: banner, run the baked-in suite (BENCHMARK_SUITE, else the system
    /// baseline), receipts to /workspace/output, summary, exit with the verdict.
    Entrypoint(EntrypointArgs),
    /// Print the JSON Schema of a receipt.
    Schema {
        /// Which receipt.
        #[arg(value_enum, default_value = "summary")]
        kind: SchemaKind,
    },
    /// Run one built-in workload of the system-baseline suite.
    #[command(hide = true)]
    Workload {
        #[arg(value_enum)]
        name: workload::Workload,
    },
    /// Allocate MIB MiB, touch it, hold it HOLD_MS ms, free it.
    #[command(hide = true)]
    Spike { mib: u64, hold_ms: u64 },
}

#[derive(Debug, Args)]
struct SuiteArgs {
    /// The suite file (default: ./benchmark.toml if present, else the system baseline).
    suite: Option<PathBuf>,
    /// Run the steps of this mode (steps without `modes` run in every mode).
    #[arg(long)]
    mode: Option<String>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Benchmark this shell command instead of a suite (repeat for several: each is a
    /// step, run in a shuffled order in each run, and compared).
    #[arg(short = 'c', long = "command", value_name = "CMD", conflicts_with_all = ["suite", "mode"])]
    commands: Vec<String>,
    /// The step id of the -c at the same position (default: derived from the command).
    #[arg(long = "name", value_name = "ID", requires = "commands")]
    names: Vec<String>,
    /// Seed of the shuffled order of several -c commands (default: random, recorded).
    #[arg(long, requires = "commands")]
    seed: Option<u64>,
    /// Compare this run against a stored receipt (or output directory): the comparison
    /// is printed after the table and written to OUT/comparison.json.
    #[arg(long, value_name = "RECEIPT")]
    baseline: Option<PathBuf>,
    #[command(flatten)]
    compare: CompareOptions,
    /// Judge and record the suite's [[slo]] gates, but do not exit 1 when one fails.
    #[arg(long)]
    no_gates: bool,
    /// Measured runs (overrides the suite's `runs`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(suite::MAX_RUNS)))]
    runs: Option<u32>,
    /// Warm-up runs, not counted (overrides the suite's `warmup`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=i64::from(suite::MAX_RUNS)))]
    warmup: Option<u32>,
    /// Where receipts and logs go.
    #[arg(long, short, default_value = "bench-out", env = "BENCHMARK_OUTPUT")]
    output: PathBuf,
    /// Keep the run receipts and logs of earlier invocations in the output directory.
    #[arg(long)]
    keep_logs: bool,
    /// Print the summary receipt as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Without a suite argument, run the system baseline even if ./benchmark.toml exists.
    #[arg(skip)]
    builtin_when_absent: bool,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Receipts or output directories (a directory means its perf.json); several only
    /// for html, which shows them as a history (in any order: sorted by start time).
    #[arg(required = true, value_name = "RECEIPT|DIR")]
    receipts: Vec<PathBuf>,
    /// The report's format.
    #[arg(long, short, value_enum, default_value = "table")]
    format: report::Format,
    /// Write the report to this file (replaced whole) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// What decides a comparison's verdicts.
#[derive(Debug, Args)]
struct CompareOptions {
    /// Exit 1 when a measure regressed.
    #[arg(long)]
    fail_on_regression: bool,
    /// Refuse (exit 2) when the environments differ in what can move the numbers (CPU,
    /// cores, kernel, OS, Nix system, measurement method, the harness's build, the image).
    #[arg(long)]
    strict_env: bool,
    /// Significance level of the (Benjamini–Hochberg) q-values.
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    alpha: f64,
    /// Noise band in percent for every measure (default: twice each measure's own robust
    /// run-to-run spread, at least 10%; or a calibration's).
    #[arg(long, value_name = "PCT", value_parser = parse_noise)]
    noise: Option<f64>,
    /// Noise bands per measure from `benchmark calibrate` (calibration.json).
    #[arg(long, value_name = "FILE", conflicts_with = "noise")]
    calibration: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CalibrateArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Invocations of the suite to compare with each other (at least 2).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=50))]
    rounds: u32,
    /// Measured runs per round (overrides the suite's `runs`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=i64::from(suite::MAX_RUNS)))]
    runs: Option<u32>,
    /// Warm-up runs per round (overrides the suite's `warmup`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=i64::from(suite::MAX_RUNS)))]
    warmup: Option<u32>,
    /// Where the rounds' receipts (round_N/) and calibration.json go.
    #[arg(long, short, default_value = "bench-calibration")]
    output: PathBuf,
    /// Significance level the false-alarm rate is counted at.
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    alpha: f64,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The tool that wrote PATH.
    #[arg(value_enum)]
    kind: crate::import::Kind,
    /// Its output: go-bench and libtest the text they printed (libtest's JSON lines too),
    /// hyperfine its --export-json file, criterion its directory (default:
    /// $CRITERION_HOME, else target/criterion).
    path: Option<PathBuf>,
    /// Where the receipts go.
    #[arg(long, short, default_value = "bench-out", env = "BENCHMARK_OUTPUT")]
    output: PathBuf,
    /// The tool's version, recorded in each measure's origin (its output does not say),
    /// e.g. `go1.22.1` or `criterion 0.5.1`.
    #[arg(long, value_name = "VERSION")]
    tool_version: Option<String>,
    /// Print the summary receipt as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// The receipts or output directories of one suite's invocations, in order; their
    /// run receipts (run_N.json) must be beside them.
    #[arg(required = true, num_args = 2..)]
    receipts: Vec<PathBuf>,
    /// Where the pooled receipts go (summary, perf.json and the runs renumbered).
    #[arg(long, short)]
    output: PathBuf,
    /// Pool runs measured on different machines or builds (each difference is a warning).
    #[arg(long)]
    allow_env_diff: bool,
    /// Print the summary receipt as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// The reference receipt or output directory.
    base: PathBuf,
    /// The receipt or output directory compared against it.
    new: PathBuf,
    /// table, markdown, csv, junit or json.
    #[arg(long, value_enum, default_value = "table")]
    format: report::Format,
    /// Write the comparison to this file (replaced whole) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    options: CompareOptions,
}

fn parse_alpha(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!(
            "`{s}` is not a significance level: give a number between 0 and 1, e.g. 0.05"
        )),
    }
}

fn parse_noise(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(n) if (0.0..=1000.0).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{s}` is not a noise band: give a percentage between 0 and 1000, e.g. 5"
        )),
    }
}

#[derive(Debug, Args)]
struct EntrypointArgs {
    /// The suite to run (default: the system baseline).
    #[arg(long, env = "BENCHMARK_SUITE")]
    suite: Option<PathBuf>,
    #[arg(long, env = "BENCHMARK_MODE")]
    mode: Option<String>,
    #[arg(long, env = "BENCHMARK_RUNS", value_parser = clap::value_parser!(u32).range(1..=i64::from(suite::MAX_RUNS)))]
    runs: Option<u32>,
    #[arg(long, env = "BENCHMARK_WARMUP", value_parser = clap::value_parser!(u32).range(0..=i64::from(suite::MAX_RUNS)))]
    warmup: Option<u32>,
    /// Where receipts go: the image's output volume.
    #[arg(long, short, env = "BENCHMARK_OUTPUT", default_value = entrypoint::OUTPUT_DIR)]
    output: PathBuf,
    /// Print the summary receipt as JSON instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct StepArgs {
    /// The step's name (its id in receipts).
    name: String,
    /// Kill the command (and its whole tree) after this long, e.g. 5m.
    #[arg(long, value_parser = suite::units::parse_timeout)]
    timeout: Option<Duration>,
    /// The command and its arguments.
    #[arg(last = true, required = true, num_args = 1..)]
    command: Vec<OsString>,
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// As JSON.
    #[arg(long, conflicts_with = "shell")]
    json: bool,
    /// As `PLATFORM_*=value` lines for `eval`.
    #[arg(long)]
    shell: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    suite: SuiteArgs,
}

/// Parse the command line, run, and turn the result into the published exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(kind) => kind.into(),
        Err(e) => {
            // The whole chain of causes: "step `a`" alone says nothing.
            report::progress::to_stderr(&format!("error: {}\n", crate::error::chain(&e)));
            e.exit_kind().into()
        }
    }
}

fn dispatch(command: Command) -> Result<ExitKind, Error> {
    match command {
        Command::Run(args) => run(args),
        Command::Step(args) => step(args),
        Command::Info(args) => info(args),
        Command::Check(args) => check(args),
        Command::Compare(args) => compare(args),
        Command::Report(args) => render_report(args),
        Command::Import(args) => import(args),
        Command::Merge(args) => merge(args),
        Command::Calibrate(args) => calibrate(args),
        Command::Entrypoint(args) => container(args),
        Command::Schema { kind } => {
            print_json(&crate::receipt::schema(kind))?;
            Ok(ExitKind::Ok)
        }
        Command::Workload { name } => {
            let mut out = std::io::stdout().lock();
            workload::run(name, &mut out).map_err(|e| anyhow::anyhow!("workload {name:?}: {e}"))?;
            Ok(ExitKind::Ok)
        }
        Command::Spike { mib, hold_ms } => {
            workload::spike(mib, Duration::from_millis(hold_ms))
                .map_err(|e| anyhow::anyhow!("spike of {mib} MiB: {e}"))?;
            Ok(ExitKind::Ok)
        }
    }
}

/// The suite named on the command line, `./benchmark.toml`, or the built-in baseline.
fn load_suite(path: Option<&Path>) -> Result<Suite, Error> {
    match path {
        Some(p) => Ok(suite::load(p)?),
        None if Path::new("benchmark.toml").exists() => {
            Ok(suite::load(Path::new("benchmark.toml"))?)
        }
        None => Ok(suite::baseline()),
    }
}

fn run(args: RunArgs) -> Result<ExitKind, Error> {
    let suite = match (&args.suite.suite, args.builtin_when_absent) {
        _ if !args.commands.is_empty() => suite::adhoc::suite(&args.commands, &args.names)?,
        (None, true) => suite::baseline(),
        (path, _) => load_suite(path.as_deref())?,
    };
    // Several independent commands: each run in its own shuffled order (no ordering bias).
    let shuffle_seed =
        (args.commands.len() > 1).then(|| args.seed.unwrap_or_else(|| fastrand::u64(..)));
    let plan = suite.plan(&PlanOptions {
        mode: args.suite.mode.clone(),
        runs: args.runs,
        warmup: args.warmup,
        shuffle_seed,
    })?;
    // Read before anything runs: the baseline may be the perf.json this run replaces.
    let baseline = args
        .baseline
        .as_deref()
        .map(|p| load_receipt(p, "--baseline").map(|s| (p.to_owned(), s)))
        .transpose()?;
    let (cancel, exe) = process_setup()?;
    let opts = runner::RunOptions {
        output: args.output.clone(),
        keep_logs: args.keep_logs,
        exe,
        reproduce: reproduce_command(&plan),
        enforce_gates: !args.no_gates,
    };
    let mut progress = report::progress::for_stderr(args.quiet);
    progress.event(&Event::Message(&format!(
        "suite `{}` ({}): {} step(s){}, {} warm-up + {} measured run(s){}",
        plan.suite.name,
        plan.suite.source.display(),
        plan.steps.len(),
        load_count(&plan),
        plan.warmup,
        plan.runs,
        plan.mode
            .as_deref()
            .map(|m| format!(", mode `{m}`"))
            .unwrap_or_default(),
    )));
    let outcome = pipeline::run(
        &plan,
        &opts,
        &cancel,
        &mut runner::Processes,
        progress.as_mut(),
    )?;
    drop(progress);
    let printed = if args.json {
        print_json(&outcome.summary)
    } else {
        let mut text = report::table::render(&outcome.summary);
        text.push_str(&report::gates::render(&outcome.summary.slos));
        if args.commands.len() > 1 {
            text.push_str(&report::compare::faster_lines(
                &crate::compare::relative_to_fastest(&outcome.summary),
            ));
        }
        for w in &outcome.summary.warnings {
            text.push_str(&format!("warning: {w}\n"));
        }
        text.push_str(&format!(
            "receipts: {} (and perf.json)\n",
            outcome.summary_path.display()
        ));
        emit(text.as_bytes())
    };
    printed.map_err(|e| {
        anyhow::anyhow!(
            "{}; the receipts are in {} all the same",
            crate::error::chain(&e),
            args.output.display()
        )
    })?;
    let mut exit = outcome.exit;
    if let Some((path, base)) = &baseline {
        let name = crate::receipt::read::resolve(path).display().to_string();
        let report = comparison(base, &outcome.summary, (&name, "this run"), &args.compare)?;
        crate::receipt::write::json_atomic(&args.output.join("comparison.json"), &report)
            .map_err(|e| runner::receipt_error(&e, &args.output))?;
        if !args.json {
            emit(report::compare::table(&report).as_bytes())?;
        }
        if exit == ExitKind::Ok {
            exit = regression_exit(&report, &args.compare);
        }
    }
    if outcome.exit == ExitKind::Interrupted {
        report::progress::to_stderr(&format!(
            "interrupted: the receipts of the {} completed run(s) are in {}\n",
            outcome.summary.runs,
            args.output.display()
        ));
    }
    Ok(exit)
}

/// The one command that reproduces a plan's receipts.
fn reproduce_command(plan: &suite::Plan) -> String {
    let mut cmd = String::from("benchmark run");
    if plan.suite.source.label == suite::adhoc::AD_HOC_NAME {
        for s in &plan.steps {
            if let suite::StepKind::Shell { run } = &s.kind {
                cmd.push_str(&format!(
                    " -c {} --name {}",
                    shell_quote(run),
                    shell_quote(&s.id)
                ));
            }
        }
    }
    if let Some(p) = &plan.suite.source.path {
        cmd.push(' ');
        cmd.push_str(&shell_quote(&p.display().to_string()));
    }
    if let Some(m) = &plan.mode {
        cmd.push_str(&format!(" --mode {}", shell_quote(m)));
    }
    cmd.push_str(&format!(" --runs {} --warmup {}", plan.runs, plan.warmup));
    if let Some(seed) = plan.shuffle_seed {
        cmd.push_str(&format!(" --seed {seed}"));
    }
    cmd
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn container(args: EntrypointArgs) -> Result<ExitKind, Error> {
    let p = platform::detect();
    let out = &args.output;
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .is_ok_and(|m| entrypoint::is_mount_point(&m, out));
    let where_ = if mounted {
        format!("{} (mounted)", out.display())
    } else if out == Path::new(entrypoint::OUTPUT_DIR) {
        format!(
            "{} (not a mounted volume: the receipts stay in the container; add -v \"$PWD/out:{}\")",
            out.display(),
            entrypoint::OUTPUT_DIR
        )
    } else {
        out.display().to_string()
    };
    let suite_file = args
        .suite
        .clone()
        .filter(|s| !s.as_os_str().is_empty())
        .or_else(|| {
            let baked = PathBuf::from(entrypoint::DEFAULT_SUITE);
            baked.exists().then_some(baked)
        });
    let suite = suite_file.as_ref().map_or_else(
        || suite::BASELINE_NAME.to_owned(),
        |s| s.display().to_string(),
    );
    let image = std::env::var("BENCHMARK_IMAGE")
        .ok()
        .filter(|s| !s.is_empty());
    eprint!(
        "{}",
        entrypoint::banner(&p, &suite, &where_, image.as_deref())
    );
    // Fail early, with the hint a container user needs, when the volume is not writable.
    if let Err(e) = std::fs::create_dir_all(out).and_then(|()| {
        let probe = out.join(format!(".benchmark-write-test-{}", std::process::id()));
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(probe)
    }) {
        return Err(Error::Usage(entrypoint::unwritable_hint(out, &e)));
    }
    let kind = run(RunArgs {
        suite: SuiteArgs {
            suite: suite_file,
            mode: args.mode,
        },
        runs: args.runs,
        warmup: args.warmup,
        output: args.output,
        keep_logs: false,
        json: args.json,
        quiet: false,
        builtin_when_absent: true,
        commands: Vec::new(),
        names: Vec::new(),
        seed: None,
        baseline: None,
        no_gates: false,
        compare: CompareOptions {
            fail_on_regression: false,
            strict_env: false,
            alpha: crate::stats::compare::DEFAULT_ALPHA,
            noise: None,
            calibration: None,
        },
    })?;
    report::progress::to_stderr(&format!(
        "verdict: {} (exit {})\n",
        verdict_word(kind),
        kind.code()
    ));
    Ok(kind)
}

fn verdict_word(k: ExitKind) -> &'static str {
    match k {
        ExitKind::Ok => "ok",
        ExitKind::GateFailed => "a gate failed",
        ExitKind::Invalid => "invalid invocation",
        ExitKind::StepFailed => "a step failed",
        ExitKind::Preflight => "pre-flight failed",
        ExitKind::Interrupted => "interrupted",
    }
}

fn step(args: StepArgs) -> Result<ExitKind, Error> {
    let code = runner::substep::run(&args.name, &args.command, args.timeout)?;
    std::process::exit(code);
}

fn info(args: InfoArgs) -> Result<ExitKind, Error> {
    let p = platform::detect();
    if args.json {
        print_json(&p)?;
    } else if args.shell {
        emit(p.shell_lines().as_bytes())?;
    } else {
        let v = serde_json::to_value(&p).map_err(anyhow::Error::from)?;
        let mut text = String::new();
        for (k, v) in v.as_object().into_iter().flatten() {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => "unknown".to_owned(),
                other => other.to_string(),
            };
            text.push_str(&format!("{k:<16} {v}\n"));
        }
        for w in crate::measure::host::warnings(&crate::measure::host::read(), None, p.cores) {
            text.push_str(&format!("warning: {w}\n"));
        }
        emit(text.as_bytes())?;
    }
    Ok(ExitKind::Ok)
}

/// `, 2 load scenario(s)` when the plan has any.
fn load_count(plan: &crate::suite::Plan) -> String {
    if plan.loads.is_empty() {
        String::new()
    } else {
        format!(", {} load scenario(s)", plan.loads.len())
    }
}

fn check(args: CheckArgs) -> Result<ExitKind, Error> {
    let suite = load_suite(args.suite.suite.as_deref())?;
    let plan = suite.plan(&PlanOptions {
        mode: args.suite.mode.clone(),
        ..Default::default()
    })?;
    let report = runner::preflight::run(&plan.suite, &Cancel::new());
    if !report.failures.is_empty() {
        return Err(Error::Preflight(report.failures));
    }
    let text = format!(
        "suite `{}` ({}) is valid: {} step(s){}{}, {} warm-up + {} measured run(s); pre-flight passed\n",
        plan.suite.name,
        plan.suite.source.display(),
        plan.steps.len(),
        load_count(&plan),
        plan.mode
            .as_deref()
            .map(|m| format!(" in mode `{m}`"))
            .unwrap_or_default(),
        plan.warmup,
        plan.runs
    );
    emit(text.as_bytes())?;
    Ok(ExitKind::Ok)
}

fn load_receipt(path: &Path, what: &str) -> Result<crate::receipt::Summary, Error> {
    crate::receipt::read::summary(path)
        .map_err(|e| Error::Usage(format!("{what}: {}", crate::error::chain(e.as_ref()))))
}

/// Compare `new` against `base`; refuses with `--strict-env` when their environments differ.
fn comparison(
    base: &crate::receipt::Summary,
    new: &crate::receipt::Summary,
    names: (&str, &str),
    opts: &CompareOptions,
) -> Result<crate::compare::Report, Error> {
    let calibration = match &opts.calibration {
        Some(p) => {
            let text = std::fs::read(p).map_err(|e| {
                Error::Usage(format!(
                    "--calibration {}: {e}; give the calibration.json `benchmark calibrate` wrote",
                    p.display()
                ))
            })?;
            let c: crate::compare::calibrate::Calibration = serde_json::from_slice(&text)
                .map_err(|e| {
                    Error::Usage(format!(
                        "--calibration {}: not a calibration.json ({e}); write one with `benchmark calibrate`",
                        p.display()
                    ))
                })?;
            c.bands()
        }
        None => Default::default(),
    };
    let report = crate::compare::compare(
        base,
        new,
        names,
        &crate::compare::Options {
            alpha: opts.alpha,
            noise_pct: opts.noise,
            calibration,
        },
    );
    let flagged: Vec<String> = report
        .flagged()
        .map(|d| {
            format!(
                "{}: {} vs {}",
                d.field,
                d.base.as_deref().unwrap_or("unknown"),
                d.new.as_deref().unwrap_or("unknown")
            )
        })
        .collect();
    if opts.strict_env && !flagged.is_empty() {
        return Err(Error::Usage(format!(
            "the environments differ ({}); compare receipts made on one machine and build, or drop --strict-env",
            flagged.join("; ")
        )));
    }
    Ok(report)
}

fn compare(args: CompareArgs) -> Result<ExitKind, Error> {
    // Refused before any work: a format without comparisons, a path that cannot be written.
    let out = report::output::Output::open(args.output.as_deref()).map_err(usage)?;
    let base = load_receipt(&args.base, "BASE")?;
    let new = load_receipt(&args.new, "NEW")?;
    let names = (
        crate::receipt::read::resolve(&args.base)
            .display()
            .to_string(),
        crate::receipt::read::resolve(&args.new)
            .display()
            .to_string(),
    );
    let report = comparison(&base, &new, (&names.0, &names.1), &args.options)?;
    let bytes = report::render_comparison(args.format, &report).map_err(usage)?;
    out.write(&bytes).map_err(usage)?;
    if args.format == report::Format::Markdown {
        step_summary(&bytes, out.file())?;
    }
    Ok(regression_exit(&report, &args.options))
}

fn usage(e: impl std::error::Error + 'static) -> Error {
    Error::Usage(crate::error::chain(&e))
}

/// `benchmark report`: the destination checked first, then the receipts read (each with
/// the run receipts beside it), rendered by the format's exporter, written.
fn render_report(args: ReportArgs) -> Result<ExitKind, Error> {
    let exporter = args.format.exporter();
    if args.receipts.len() > 1 && !exporter.several() {
        return Err(usage(report::ReportError::OneReceipt {
            format: args.format.name(),
            given: args.receipts.len(),
        }));
    }
    let out = report::output::Output::open(args.output.as_deref()).map_err(usage)?;
    let mut receipts = Vec::new();
    for path in &args.receipts {
        let summary = load_receipt(path, "RECEIPT")?;
        let runs = crate::receipt::read::runs_beside(path, &summary);
        receipts.push(report::Receipt {
            source: crate::receipt::read::resolve(path).display().to_string(),
            summary,
            runs,
        });
    }
    let bytes = report::render(args.format, &receipts).map_err(usage)?;
    out.write(&bytes).map_err(usage)?;
    if args.format == report::Format::Markdown {
        step_summary(&bytes, out.file())?;
    }
    Ok(ExitKind::Ok)
}

fn import(args: ImportArgs) -> Result<ExitKind, Error> {
    use crate::import::{self, Kind};
    let path = match (args.path, args.kind) {
        (Some(p), _) => p,
        (None, Kind::Criterion) => std::env::var_os("CRITERION_HOME")
            .filter(|h| !h.is_empty())
            .map_or_else(|| PathBuf::from("target/criterion"), PathBuf::from),
        (None, kind) => {
            return Err(Error::Usage(format!(
                "`benchmark import {kind}` needs the file to read: give PATH, e.g. \
                 `benchmark import {kind} {}`",
                match kind {
                    Kind::Hyperfine => "results.json",
                    _ => "bench.txt",
                }
            )));
        }
    };
    let mut imported = import::read(args.kind, &path).map_err(|e| Error::Usage(e.to_string()))?;
    if let Some(v) = args.tool_version.filter(|v| !v.trim().is_empty()) {
        imported.version = Some(v);
    }
    let shown = path.display().to_string();
    let sha256 = import::fingerprint(&path).map_err(|e| {
        Error::Usage(format!(
            "{shown}: cannot read it again to fingerprint it: {e}"
        ))
    })?;
    let at = std::time::SystemTime::now();
    let summary = import::summary(
        &imported,
        import::Context {
            reproduce: format!(
                "benchmark import {} {} --output {}{}",
                args.kind,
                shell_quote(&shown),
                shell_quote(&args.output.display().to_string()),
                imported
                    .version
                    .as_deref()
                    .map(|v| format!(" --tool-version {}", shell_quote(v)))
                    .unwrap_or_default()
            ),
            path: shown,
            sha256,
            at,
            platform: platform::detect(),
        },
    );
    let out = runner::output::OutputDir::prepare(
        &args.output,
        false,
        runner::output::Written {
            runs: 0,
            warmups: 0,
            steps: Vec::new(),
        },
    )?;
    let summary_path = crate::pipeline::write_summary(out, &args.output, &summary, at)?;
    show_written(
        &summary,
        args.json,
        &format!(
            "imported {} benchmark(s) from {}",
            summary.steps.len(),
            path.display()
        ),
        &summary_path,
    )?;
    Ok(ExitKind::Ok)
}

/// In a GitHub Actions job ($GITHUB_STEP_SUMMARY set), a Markdown report is also
/// appended to the job's summary page.
fn step_summary(markdown: &[u8], file: Option<&Path>) -> Result<(), Error> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let rest_in = file.map_or_else(
        || "this step's log".to_owned(),
        |f| format!("`{}`", f.display()),
    );
    report::output::append_step_summary(
        Path::new(&path),
        &String::from_utf8_lossy(markdown),
        &rest_in,
    )
    .map_err(|e| anyhow::anyhow!(crate::error::chain(&e)).into())
}

/// `benchmark merge`: the receipts read with their runs, pooled, the suite's gates judged
/// again on the pooled summary (when its file is still there, unchanged), the receipts
/// written; the exit code as `run`'s.
fn merge(args: MergeArgs) -> Result<ExitKind, Error> {
    use crate::summary::merge::{self, Input};
    let mut inputs = Vec::new();
    for path in &args.receipts {
        let summary = load_receipt(path, "RECEIPT")?;
        let runs = crate::receipt::read::runs_beside(path, &summary);
        inputs.push(Input {
            source: path.display().to_string(),
            summary,
            runs,
        });
    }
    let had_gates = inputs.iter().any(|i| !i.summary.slos.is_empty());
    let (mut summary, runs) =
        merge::merge(inputs, args.allow_env_diff).map_err(|e| Error::Usage(e.to_string()))?;
    let judged = match &summary.suite.file {
        Some(file) => suite::load(Path::new(file))
            .ok()
            .filter(|s| s.source.sha256 == summary.suite.sha256),
        None => Some(suite::baseline()).filter(|s| s.source.sha256 == summary.suite.sha256),
    };
    match judged {
        Some(suite) => summary.slos = crate::verdict::slo::evaluate_all(&suite.gates, &summary),
        None if !had_gates => {}
        None => summary.warnings.push(crate::receipt::Warning::new(
            crate::receipt::WarningCode::Other,
            format!(
                "the gates were not judged again: the suite file {} is not here or has changed since the runs",
                summary.suite.file.as_deref().unwrap_or("(built in)")
            ),
        )),
    }
    summary.reproduce = format!(
        "benchmark merge {} --output {}",
        args.receipts
            .iter()
            .map(|p| shell_quote(&p.display().to_string()))
            .collect::<Vec<_>>()
            .join(" "),
        shell_quote(&args.output.display().to_string())
    );
    let out = runner::output::OutputDir::prepare(
        &args.output,
        false,
        runner::output::Written {
            runs: summary.runs,
            warmups: 0,
            steps: Vec::new(),
        },
    )?;
    let mut batch = crate::receipt::write::Batch::new(std::time::Duration::from_secs(1));
    for run in &runs {
        batch
            .json(&args.output.join(format!("run_{}.json", run.run)), run)
            .map_err(|e| runner::receipt_error(&e, &args.output))?;
    }
    batch
        .finish()
        .map_err(|e| runner::receipt_error(&e, &args.output))?;
    let summary_path =
        crate::pipeline::write_summary(out, &args.output, &summary, std::time::SystemTime::now())?;
    show_written(
        &summary,
        args.json,
        &format!(
            "merged {} run(s) of {} invocation(s)",
            summary.runs,
            args.receipts.len()
        ),
        &summary_path,
    )?;
    Ok(crate::pipeline::exit_kind(&summary, true))
}

/// A summary receipt just written, on stdout: as JSON, or the table, its warnings, what
/// was done and where the receipts are.
fn show_written(
    summary: &crate::receipt::Summary,
    json: bool,
    done: &str,
    summary_path: &Path,
) -> Result<(), Error> {
    if json {
        return print_json(summary);
    }
    let mut text = report::table::render(summary);
    for w in &summary.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    text.push_str(&format!(
        "{done}\nreceipts: {} (and perf.json)\n",
        summary_path.display()
    ));
    emit(text.as_bytes())
}

fn calibrate(args: CalibrateArgs) -> Result<ExitKind, Error> {
    let suite = load_suite(args.suite.suite.as_deref())?;
    let plan = suite.plan(&PlanOptions {
        mode: args.suite.mode.clone(),
        runs: args.runs,
        warmup: args.warmup,
        shuffle_seed: None,
    })?;
    if plan.runs < 2 {
        return Err(Error::Usage(format!(
            "suite `{}` has {} measured run(s): a round needs at least 2 to have a spread; give --runs",
            plan.suite.name, plan.runs
        )));
    }
    let (cancel, exe) = process_setup()?;
    let mut progress = report::progress::for_stderr(args.quiet);
    let mut rounds = Vec::new();
    for r in 1..=args.rounds {
        progress.event(&Event::Message(&format!(
            "calibration round {r}/{} of suite `{}`",
            args.rounds, plan.suite.name
        )));
        let opts = runner::RunOptions {
            output: args.output.join(format!("round_{r}")),
            keep_logs: false,
            exe: exe.clone(),
            reproduce: reproduce_command(&plan),
            enforce_gates: false,
        };
        let outcome = pipeline::run(
            &plan,
            &opts,
            &cancel,
            &mut runner::Processes,
            progress.as_mut(),
        )?;
        if outcome.exit != ExitKind::Ok {
            return Err(Error::Usage(format!(
                "calibration round {r} did not succeed (exit {}): a calibration needs every step to pass; see {}",
                outcome.exit.code(),
                outcome.summary_path.display()
            )));
        }
        rounds.push(outcome.summary);
    }
    drop(progress);
    let c = crate::compare::calibrate::calibrate(&rounds, args.alpha)
        .ok_or_else(|| Error::Usage("a calibration needs at least two rounds".into()))?;
    let path = args.output.join("calibration.json");
    crate::receipt::write::json_atomic(&path, &c)
        .map_err(|e| runner::receipt_error(&e, &args.output))?;
    let mut text = report::compare::calibration(&c);
    text.push_str(&format!(
        "calibration: {} (use it with `benchmark compare --calibration {}` or `run --baseline … --calibration {}`)\n",
        path.display(),
        path.display(),
        path.display()
    ));
    emit(text.as_bytes())?;
    Ok(ExitKind::Ok)
}

/// What every measuring command needs: signal handling, and its own path for
/// `$BENCHMARK_EXE`.
fn process_setup() -> Result<(Cancel, PathBuf), Error> {
    let cancel = Cancel::install_signal_handlers()
        .map_err(|e| anyhow::anyhow!("installing signal handlers: {e}"))?;
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot locate the benchmark executable: {e}"))?;
    Ok((cancel, exe))
}

fn regression_exit(report: &crate::compare::Report, opts: &CompareOptions) -> ExitKind {
    if opts.fail_on_regression && report.regressions().next().is_some() {
        ExitKind::GateFailed
    } else {
        ExitKind::Ok
    }
}

fn print_json(v: &impl serde::Serialize) -> Result<(), Error> {
    let mut bytes = serde_json::to_vec_pretty(v).map_err(anyhow::Error::from)?;
    bytes.push(b'\n');
    emit(&bytes)
}

/// Write `bytes` to stdout. A reader that went away (`| head`) ends the output quietly,
/// as ripgrep does; any other failure (a full disk) is an error, not a silent exit 0.
fn emit(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::anyhow!(
            "writing to stdout: {e}; free space where stdout goes, or redirect it elsewhere"
        )
        .into()),
        _ => Ok(()),
    }
}
