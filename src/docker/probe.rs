//! The container lifecycle probe: one container from a local image, timed phase by phase,
//! so "container start < 30 ms" can be held against measurement.
//!
//! Phases, in order, each on the monotonic clock of this process:
//!
//! | phase | from | to |
//! |---|---|---|
//! | `create` | the create call is sent | it returns (`POST /containers/create`) |
//! | `start` | the start call is sent | it returns (`POST /containers/{id}/start`) |
//! | `running` | start returned | an inspect shows the process up (`State.Running` or `State.Pid > 0`), or already exited with `State.StartedAt` set |
//! | `exit` | running was seen | the wait call returns (`POST /containers/{id}/wait`, condition `not-running`) |
//!
//! Inspects run back to back (no sleep: each is a round trip of about a millisecond). The
//! daemon marks a container running before its start call returns, so `running` is
//! usually one round trip — except for a command that exits at once (`true`): then the
//! inspect waits while the daemon handles the exit, `running` holds that time and `exit`
//! is one round trip.
//! | `remove` | the remove call is sent | it returns (`DELETE /containers/{id}`) |
//!
//! Nothing is pulled: the image must exist locally. Containers get the labels
//! `benchmark.probe=1` and `benchmark.run=<label_run>`, a unique name, and network `none`
//! unless told otherwise; they are always removed (forced: SIGKILL, then remove) on error,
//! on timeout and on cancellation. The create call itself is never cut off (a dropped
//! create could still make a container nobody knows about): a timeout or cancellation that
//! falls inside it takes effect when it returns. [`remove_labelled`] sweeps any that a killed process
//! left behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, ContainerState, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{Client, DockerError, block_on, cancelled, default_host};

/// Label every probe container carries.
pub const LABEL_PROBE: &str = "benchmark.probe";
/// Label naming the run (its value is [`ProbeSpec::label_run`]).
pub const LABEL_RUN: &str = "benchmark.run";
/// The phases of [`ProbeResult::phases`], in order.
pub const PHASES: [&str; 5] = ["create", "start", "running", "exit", "remove"];

/// Time allowed to clean up after a failure.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed to clean up once interrupted: a healthy daemon force-removes a container
/// well within it, and a stalled one must not hold up the exit.
pub const CANCELLED_CLEANUP: Duration = Duration::from_secs(1);

/// What to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// A local image (`name:tag` or id).
    pub image: String,
    /// The command (argv, no shell); empty: the image's default command.
    pub cmd: Vec<String>,
    /// Limit for the whole lifecycle, create to remove.
    pub timeout: Duration,
    /// Network mode; `None` is `none` (no network set-up in the measured path).
    pub network: Option<String>,
    /// Value of the `benchmark.run` label, for [`remove_labelled`].
    pub label_run: String,
}

/// One probe run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// The five phases in the order of [`PHASES`].
    pub phases: Vec<(&'static str, Duration)>,
    /// The container process's exit code.
    pub exit_code: i64,
    /// The (now removed) container's id.
    pub container_id: String,
}

impl ProbeResult {
    /// Duration of the phase `name`.
    pub fn phase(&self, name: &str) -> Option<Duration> {
        self.phases.iter().find(|(n, _)| *n == name).map(|p| p.1)
    }

    /// Create to remove.
    pub fn total(&self) -> Duration {
        self.phases.iter().map(|p| p.1).sum()
    }
}

/// Run one container through its lifecycle and time each phase. `cancel` is polled every
/// 10 ms (e.g. `&|| token.is_cancelled()`); on cancellation the container is removed and
/// [`DockerError::Cancelled`] returned. A non-zero exit of the container's command is a
/// result, not an error.
pub fn lifecycle(
    spec: &ProbeSpec,
    cancel: &(dyn Fn() -> bool + Sync),
) -> Result<ProbeResult, DockerError> {
    lifecycle_on(&default_host(), spec, cancel)
}

/// [`lifecycle`] against an explicit endpoint.
pub fn lifecycle_on(
    host: &str,
    spec: &ProbeSpec,
    cancel: &(dyn Fn() -> bool + Sync),
) -> Result<ProbeResult, DockerError> {
    block_on(async {
        // Per-request timeout: longer than the probe's own, which is enforced below.
        let client = async {
            let client = Client::connect(host, spec.timeout + Duration::from_secs(5)).await?;
            client
                .call(client.docker.inspect_image(&spec.image))
                .await
                .map_err(|e| match e {
                    DockerError::Api { status: 404, .. } => DockerError::ImageMissing {
                        image: spec.image.clone(),
                    },
                    e => e,
                })?;
            Ok(client)
        };
        // Nothing exists yet: an interruption simply ends the wait.
        let client = tokio::select! {
            r = client => r?,
            () = cancelled(cancel) => return Err(DockerError::Cancelled),
        };
        let name = unique_name();
        let deadline = tokio::time::Instant::now() + spec.timeout;
        // The create call is not cut off by the probe's own limit: a dropped create may
        // still make a container we would not know about. It is bounded by the client's
        // request timeout, longer than the probe's; an interruption stops the wait and
        // removes the container by name (the sweep by label catches a later one).
        let t0 = Instant::now();
        let created = tokio::select! {
            r = client.call(client.docker.create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                create_body(spec),
            )) => r,
            () = cancelled(cancel) => {
                cleanup_within(&client, &name, CANCELLED_CLEANUP).await;
                return Err(DockerError::Cancelled);
            }
        };
        let create = t0.elapsed();
        let id = match created {
            Ok(r) => r.id,
            Err(e) => {
                // By name: a request timeout may have left one behind.
                cleanup(&client, &name).await;
                return Err(e);
            }
        };
        let outcome = if cancel() {
            Err(DockerError::Cancelled)
        } else {
            tokio::select! {
                r = after_create(&client, &id, create) => r,
                _ = tokio::time::sleep_until(deadline) => Err(DockerError::ProbeTimeout { after: spec.timeout }),
                _ = cancelled(cancel) => Err(DockerError::Cancelled),
            }
        };
        match &outcome {
            Err(DockerError::Cancelled) => cleanup_within(&client, &id, CANCELLED_CLEANUP).await,
            Err(_) => cleanup(&client, &id).await,
            Ok(_) => {}
        }
        outcome
    })?
}

/// Force-remove every container labelled `benchmark.probe=1` and `benchmark.run=label_run`
/// (running or not); returns how many were removed.
pub fn remove_labelled(label_run: &str) -> Result<usize, DockerError> {
    remove_labelled_on(&default_host(), label_run)
}

/// [`remove_labelled`] against an explicit endpoint.
pub fn remove_labelled_on(host: &str, label_run: &str) -> Result<usize, DockerError> {
    remove_labelled_within(host, label_run, CLEANUP_TIMEOUT)
}

/// [`remove_labelled_on`] with every request bounded by `limit` (e.g.
/// [`CANCELLED_CLEANUP`] once interrupted).
pub fn remove_labelled_within(
    host: &str,
    label_run: &str,
    limit: Duration,
) -> Result<usize, DockerError> {
    block_on(async {
        let client = Client::connect(host, limit).await?;
        let filters = HashMap::from([(
            "label",
            vec![
                format!("{LABEL_PROBE}=1"),
                format!("{LABEL_RUN}={label_run}"),
            ],
        )]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = client
            .call(client.docker.list_containers(Some(opts)))
            .await?;
        let mut removed = 0;
        for id in found.into_iter().filter_map(|c| c.id) {
            match client
                .call(client.docker.remove_container(&id, Some(force())))
                .await
            {
                Ok(()) => removed += 1,
                Err(e) if is_gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    })?
}

fn create_body(spec: &ProbeSpec) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: (!spec.cmd.is_empty()).then(|| spec.cmd.clone()),
        labels: Some(HashMap::from([
            (LABEL_PROBE.to_string(), "1".to_string()),
            (LABEL_RUN.to_string(), spec.label_run.clone()),
        ])),
        host_config: Some(HostConfig {
            network_mode: Some(spec.network.clone().unwrap_or_else(|| "none".into())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The measured phases after create: start, running, exit, remove.
async fn after_create(
    client: &Client,
    id: &str,
    create: Duration,
) -> Result<ProbeResult, DockerError> {
    let docker = &client.docker;
    let t1 = Instant::now();
    client.call(docker.start_container(id, None)).await?;
    let t2 = Instant::now();
    loop {
        let state = client.call(docker.inspect_container(id, None)).await?.state;
        if is_up(state.as_ref()) {
            break;
        }
        tokio::task::yield_now().await;
    }
    let t3 = Instant::now();
    let wait = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let exit_code = match docker.wait_container(id, Some(wait)).next().await {
        Some(Ok(r)) => r.status_code,
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(e)) => return Err(client.err(e)),
        None => {
            return Err(DockerError::Api {
                host: client.host.clone(),
                status: 200,
                message: format!("the wait for container {id} ended without an exit code"),
            });
        }
    };
    let t4 = Instant::now();
    let opts = RemoveContainerOptionsBuilder::default().v(true).build();
    client.call(docker.remove_container(id, Some(opts))).await?;
    let t5 = Instant::now();
    Ok(ProbeResult {
        phases: PHASES
            .into_iter()
            .zip([create, t2 - t1, t3 - t2, t4 - t3, t5 - t4])
            .collect(),
        exit_code,
        container_id: id.to_string(),
    })
}

/// The process is up, or has been up and already exited.
fn is_up(state: Option<&ContainerState>) -> bool {
    let Some(s) = state else { return false };
    let started = s
        .started_at
        .as_deref()
        .is_some_and(|t| !t.is_empty() && !t.starts_with("0001-01-01"));
    s.running == Some(true) || s.pid.is_some_and(|p| p > 0) || started
}

/// Force-remove the probe container (by id or name), if it exists; errors are not the
/// caller's concern any more (the sweep by label catches what this misses).
async fn cleanup(client: &Client, id_or_name: &str) {
    cleanup_within(client, id_or_name, CLEANUP_TIMEOUT).await;
}

/// [`cleanup`] waiting at most `limit`.
async fn cleanup_within(client: &Client, id_or_name: &str, limit: Duration) {
    let _ = tokio::time::timeout(
        limit,
        client.docker.remove_container(id_or_name, Some(force())),
    )
    .await;
}

fn force() -> bollard::query_parameters::RemoveContainerOptions {
    RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build()
}

fn is_gone(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::Api {
            status: 404 | 409,
            ..
        }
    )
}

/// A container name unique to this process and call.
fn unique_name() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "benchmark-probe-{}-{}-{nanos:x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_means_running_a_pid_or_started() {
        assert!(!is_up(None));
        let mut s = ContainerState {
            started_at: Some("0001-01-01T00:00:00Z".into()),
            pid: Some(0),
            running: Some(false),
            ..Default::default()
        };
        assert!(!is_up(Some(&s)), "created, never started");
        s.pid = Some(4242);
        assert!(is_up(Some(&s)));
        s.pid = Some(0);
        s.running = Some(true);
        assert!(is_up(Some(&s)));
        s.running = Some(false);
        s.started_at = Some("2025-01-01T10:00:00.1Z".into());
        assert!(is_up(Some(&s)), "ran and already exited");
    }

    #[test]
    fn names_are_unique_and_valid() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn result_accessors() {
        let r = ProbeResult {
            phases: PHASES
                .into_iter()
                .zip((1..=5).map(Duration::from_millis))
                .collect(),
            exit_code: 0,
            container_id: "x".into(),
        };
        assert_eq!(r.phase("running"), Some(Duration::from_millis(3)));
        assert_eq!(r.phase("nope"), None);
        assert_eq!(r.total(), Duration::from_millis(15));
    }

    #[test]
    fn probe_without_a_daemon_fails_unreachable() {
        let spec = ProbeSpec {
            image: "x".into(),
            cmd: vec![],
            timeout: Duration::from_secs(1),
            network: None,
            label_run: "t".into(),
        };
        let e = lifecycle_on("unix:///nonexistent/docker.sock", &spec, &|| false).unwrap_err();
        assert!(matches!(e, DockerError::SocketMissing { .. }), "{e:?}");
    }
}
