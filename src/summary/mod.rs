//! From what the runner measured to the summary receipt (`perf.json`): per-step
//! statistics, the environment fingerprint, every warning. Pure: the runner has already
//! read every clock, file and variable this needs.

pub mod aggregate;
pub mod load;
pub mod merge;

use crate::format::iso;
use crate::receipt::{
    self, Environment, Measurement, Options, SuiteInfo, Summary, Tool, Warning, WarningCode,
};
use crate::runner::Runs;
use crate::suite::Plan;

/// How the invocation was made, for the receipt.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The one command that reproduces it.
    pub reproduce: String,
    pub keep_logs: bool,
}

/// The id of the plan's step that `s` ran in: its own, or its outermost parent's.
fn top_level<'a>(steps: &'a [receipt::StepSummary], s: &'a receipt::StepSummary) -> &'a str {
    let mut at = s;
    // Bounded: a (malformed) cycle of parents ends too.
    for _ in 0..steps.len() {
        let Some(parent) = at.parent.as_deref() else {
            break;
        };
        match steps.iter().find(|p| p.id == parent) {
            Some(p) => at = p,
            None => return parent,
        }
    }
    &at.id
}

/// Assemble the summary of an invocation.
pub fn assemble(plan: &Plan, inv: &Invocation, runs: Runs) -> Summary {
    let suite = &plan.suite;
    let mut warnings = runs.warnings;
    warnings.extend(
        crate::measure::host::warnings(
            &runs.host_before,
            Some(&runs.host_after),
            runs.platform.cores,
        )
        .into_iter()
        .map(|w| Warning::new(WarningCode::NoisyHost, w)),
    );
    let (steps, variance) = aggregate::summarize_steps(&runs.completed);
    // In the plan's order, also when each run shuffled it (sub-steps, nested ones too,
    // follow the plan's step they ran in; the sort is stable).
    let order: Vec<Option<usize>> = steps
        .iter()
        .map(|s| {
            let top = top_level(&steps, s);
            plan.steps.iter().position(|p| p.id == top)
        })
        .collect();
    let mut keyed: Vec<_> = order.into_iter().zip(steps).collect();
    keyed.sort_by_key(|(position, _)| *position);
    let steps: Vec<_> = keyed.into_iter().map(|(_, s)| s).collect();
    warnings.extend(variance);
    let (mut loads, load_warnings) = load::summarize_loads(&runs.completed);
    warnings.extend(load_warnings);
    loads.sort_by_key(|l| plan.loads.iter().position(|p| p.id == l.id));
    if runs.method.name == "wait4"
        && let Some(note) = &runs.method.note
    {
        warnings.push(Warning::new(
            WarningCode::NoCgroup,
            format!(
                "no per-step cgroup ({note}): CPU and memory cover only the processes each step waited for"
            ),
        ));
    }
    let platform = runs.platform;
    Summary {
        schema_version: receipt::SCHEMA_VERSION,
        tool: Tool::this(),
        suite: SuiteInfo {
            name: suite.name.clone(),
            description: suite.description.clone(),
            file: suite.source.path.as_ref().map(|p| p.display().to_string()),
            sha256: suite.source.sha256.clone(),
        },
        reproduce: inv.reproduce.clone(),
        environment: Environment {
            os: platform.os,
            arch: platform.arch,
            nix_system: platform.nix_system,
            is_wsl: platform.is_wsl,
            docker_arch: platform.docker_arch,
            cpu_model: platform.cpu_model,
            cores: platform.cores,
            physical_cores: platform.physical_cores,
            memory_bytes: platform.memory_bytes,
            kernel: platform.kernel,
            virtualization: platform.virtualization,
            container: platform.container,
            hostname: platform.hostname,
            measurement: Measurement {
                method: runs.method.name,
                note: runs.method.note,
            },
            sampler: runs.sampler,
            docker: runs.docker,
            docker_monitor: runs.docker_monitor,
            env: runs.env,
            image: runs.image,
        },
        options: Options {
            mode: plan.mode.clone(),
            runs: plan.runs,
            warmup: plan.warmup,
            keep_logs: inv.keep_logs,
            shuffle_seed: plan.shuffle_seed,
        },
        started_at: iso(runs.started_at),
        finished_at: iso(runs.finished_at),
        status: runs.status,
        runs: runs.completed.len() as u32,
        warnings,
        steps,
        load: loads,
        slos: Vec::new(),
    }
}
