//! The suite file as written: serde structures with spans, unknown keys rejected.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::units::{HumanBytes, HumanDuration};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSuite {
    pub suite: Option<RawSettings>,
    pub monitor: Option<RawMonitor>,
    #[serde(default)]
    pub preflight: Vec<Spanned<RawPreflight>>,
    #[serde(default)]
    pub setup: Vec<RawHook>,
    #[serde(default)]
    pub step: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub teardown: Vec<RawHook>,
    #[serde(default)]
    pub load: Vec<Spanned<RawLoad>>,
    #[serde(default)]
    pub slo: Vec<RawSlo>,
}

/// A `[[load]]` scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoad {
    pub id: Spanned<String>,
    pub name: Option<String>,
    /// One operation: a shell command.
    pub run: Option<String>,
    /// One operation: an HTTP request.
    pub http: Option<Spanned<RawHttp>>,
    pub total: Option<Spanned<i64>>,
    pub duration: Option<Spanned<HumanDuration>>,
    pub concurrency: Option<Spanned<i64>>,
    pub rate: Option<Spanned<RawRate>>,
    pub warmup_ops: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub expect_exit: Option<Spanned<ExpectExit>>,
    pub modes: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub url: Spanned<String>,
    pub method: Option<Spanned<String>>,
    pub body: Option<String>,
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    pub reuse: Option<bool>,
    pub expect_status: Option<Spanned<Vec<i64>>>,
}

/// An arrival rate: `"50/s"`, `"3000/min"`, `"2/ms"`, or a number per second.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawRate {
    PerSecond(f64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlo {
    pub name: Option<String>,
    pub expr: Spanned<String>,
    pub confidence: Option<Spanned<f64>>,
    #[serde(default)]
    pub severity: crate::verdict::slo::Severity,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSettings {
    pub name: Option<String>,
    pub description: Option<String>,
    pub runs: Option<Spanned<i64>>,
    pub warmup: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<HumanDuration>>,
    pub shell: Option<Spanned<Shell>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment variables whose values may be recorded in receipts.
    #[serde(default)]
    pub env_allow: Vec<String>,
    pub modes: Option<Vec<Spanned<String>>>,
    pub default_mode: Option<Spanned<String>>,
    pub working_dir: Option<String>,
    pub keep_going: Option<bool>,
    pub kill_grace: Option<Spanned<HumanDuration>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Shell {
    Program(String),
    Argv(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMonitor {
    pub interval: Option<Spanned<HumanDuration>>,
    pub enabled: Option<bool>,
    pub docker: Option<DockerMode>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DockerMode {
    Auto,
    On,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPreflight {
    pub name: Option<String>,
    pub command: Option<String>,
    #[serde(default)]
    pub commands: Vec<String>,
    pub min_free_disk: Option<HumanBytes>,
    pub path: Option<String>,
    pub min_free_memory: Option<HumanBytes>,
    pub run: Option<String>,
    pub docker_daemon: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHook {
    pub name: Option<String>,
    pub run: String,
    pub timeout: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub run: Option<String>,
    /// `probe = "container"`: a container lifecycle probe instead of a command.
    pub probe: Option<Spanned<ProbeKind>>,
    pub image: Option<Spanned<String>>,
    pub cmd: Option<Vec<String>>,
    pub network: Option<String>,
    pub timeout: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub expect_exit: Option<Spanned<ExpectExit>>,
    pub modes: Option<Vec<Spanned<String>>>,
    pub allow_failure: Option<bool>,
    /// Another tool's results as the step's metrics: `{ kind = "go-bench" }` (its stdout)
    /// or `{ kind = "criterion", path = "target/criterion" }` (a path it wrote).
    pub import: Option<Spanned<RawImport>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImport {
    pub kind: Spanned<String>,
    pub path: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ProbeKind {
    Container,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ExpectExit {
    One(i32),
    Any(Vec<i32>),
}
