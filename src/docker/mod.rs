//! The Docker Engine API (through bollard): daemon pre-flight ([`ping`]), per-step container
//! monitoring ([`Monitor`]) and the container lifecycle probe ([`probe`]).
//!
//! Async stays inside: each entry point runs on a private current-thread tokio runtime, and
//! the public API is blocking. The daemon is found the way the `docker` CLI finds it:
//! `DOCKER_HOST` (`unix://…` or `tcp://…`), else the first existing local socket. TLS
//! (`DOCKER_TLS_VERIFY`) and `ssh://` hosts are not supported and say so.
//!
//! Like the rest of the measurement code, nothing here knows about suites or runners.

mod error;
mod monitor;
pub mod probe;
mod stats;
mod transport;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use serde::{Deserialize, Serialize};

pub use error::DockerError;
pub use monitor::{ContainerSummary, Monitor, MonitorCost, Window};

/// How long [`ping`] waits for the daemon to answer.
pub const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// What the daemon says about itself; recorded in the environment fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DaemonInfo {
    /// Engine version, e.g. `27.3.1`.
    pub version: String,
    /// Highest Engine API version the daemon speaks, e.g. `1.47`.
    pub api_version: String,
    /// The daemon's OS (`linux`, also under Docker Desktop on macOS).
    pub os: String,
    /// The daemon's architecture (`amd64`, `arm64`).
    pub arch: String,
    /// The endpoint that answered, e.g. `unix:///var/run/docker.sock`.
    pub host: String,
}

/// How often a wait on the daemon looks at its cancel check.
const CANCEL_POLL: Duration = Duration::from_millis(10);

/// Check that the daemon at `DOCKER_HOST` (or the local default socket) answers, and what
/// it is. Waits at most [`PING_TIMEOUT`] in all, however the endpoint behaves.
pub fn ping() -> Result<DaemonInfo, DockerError> {
    ping_host(&default_host())
}

/// [`ping`] against an explicit endpoint (`unix:///path`, `tcp://host:port`).
pub fn ping_host(host: &str) -> Result<DaemonInfo, DockerError> {
    ping_until(host, &|| false)
}

/// [`ping_host`] that gives up with [`DockerError::Interrupted`] once `cancel()` holds
/// (looked at every 10 ms).
pub fn ping_until(
    host: &str,
    cancel: &(dyn Fn() -> bool + Sync),
) -> Result<DaemonInfo, DockerError> {
    block_on(async {
        let ping = async {
            let client = Client::connect(host, PING_TIMEOUT).await?;
            let v = client.call(client.docker.version()).await?;
            let unknown = || "unknown".to_string();
            Ok(DaemonInfo {
                version: v.version.unwrap_or_else(unknown),
                api_version: v.api_version.unwrap_or_else(unknown),
                os: v.os.unwrap_or_else(unknown),
                arch: v.arch.unwrap_or_else(unknown),
                host: host.to_string(),
            })
        };
        tokio::select! {
            r = tokio::time::timeout(PING_TIMEOUT, ping) => r.unwrap_or_else(|_| Err(DockerError::Timeout {
                host: host.to_string(),
                after: PING_TIMEOUT,
            })),
            () = cancelled(cancel) => Err(DockerError::Interrupted),
        }
    })?
}

/// Resolves once `cancel()` returns true.
pub(crate) async fn cancelled(cancel: &(dyn Fn() -> bool + Sync)) {
    let mut tick = tokio::time::interval(CANCEL_POLL);
    loop {
        tick.tick().await;
        if cancel() {
            return;
        }
    }
}

/// The endpoint the `docker` CLI would use without a context: `DOCKER_HOST` when set, else
/// the first existing socket of `/var/run/docker.sock`, `$XDG_RUNTIME_DIR/docker.sock`
/// (rootless) and `$HOME/.docker/run/docker.sock` (Docker Desktop), else the first.
pub fn default_host() -> String {
    resolve_host(
        |k| std::env::var(k).ok().filter(|v| !v.is_empty()),
        |p| p.exists(),
    )
}

pub(crate) fn resolve_host(
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> String {
    if let Some(host) = env("DOCKER_HOST") {
        return host;
    }
    let mut candidates = vec![PathBuf::from("/var/run/docker.sock")];
    if let Some(dir) = env("XDG_RUNTIME_DIR") {
        candidates.push(Path::new(&dir).join("docker.sock"));
    }
    if let Some(home) = env("HOME") {
        candidates.push(Path::new(&home).join(".docker/run/docker.sock"));
    }
    let path = candidates
        .iter()
        .find(|p| exists(p))
        .unwrap_or(&candidates[0]);
    format!("unix://{}", path.display())
}

/// Where a host string points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Unix(String),
    Tcp(String),
}

pub(crate) fn parse_host(host: &str, tls_verify: bool) -> Result<Endpoint, DockerError> {
    let unsupported = |why: &str| DockerError::UnsupportedHost {
        host: host.to_string(),
        why: why.to_string(),
    };
    if let Some(path) = host.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(unsupported("the socket path is empty"));
        }
        return Ok(Endpoint::Unix(path.to_string()));
    }
    if host.starts_with('/') {
        return Ok(Endpoint::Unix(host.to_string()));
    }
    if let Some(addr) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
    {
        if tls_verify {
            return Err(unsupported(
                "DOCKER_TLS_VERIFY is set but TLS is not supported; use the unix socket, or tunnel the daemon (`ssh -L`) and use plain tcp://",
            ));
        }
        if addr.is_empty() {
            return Err(unsupported("the address is empty"));
        }
        return Ok(Endpoint::Tcp(format!("tcp://{addr}")));
    }
    Err(unsupported(
        "only unix:// and tcp:// endpoints are supported (not ssh://, https:// or npipe://)",
    ))
}

/// A bollard client and where it points, so errors can name the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub docker: Docker,
    pub host: String,
    pub timeout: Duration,
}

impl Client {
    /// A client for `host` with `timeout` per request (answer included), speaking the
    /// daemon's API version. Every answer is capped at [`transport::MAX_RESPONSE`] bytes.
    pub async fn connect(host: &str, timeout: Duration) -> Result<Client, DockerError> {
        let tls = std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
        // bollard counts whole seconds; never let a sub-second timeout become "none".
        let secs = timeout.as_secs().max(1);
        let err = |e| DockerError::from_bollard(host, timeout, e);
        let target = match parse_host(host, tls)? {
            Endpoint::Unix(path) => transport::Target::Unix(path.into()),
            Endpoint::Tcp(addr) => {
                transport::Target::Tcp(addr.trim_start_matches("tcp://").to_owned())
            }
        };
        let docker = Docker::connect_with_custom_transport(
            move |req| transport::send(target.clone(), transport::MAX_RESPONSE, req),
            Some("http://docker"),
            secs,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(err)?;
        let mut client = Client {
            docker,
            host: host.to_string(),
            timeout,
        };
        // Older daemons refuse a client that claims a newer API: agree on the lower one.
        client.docker = client
            .call(client.docker.clone().negotiate_version())
            .await?;
        Ok(client)
    }

    /// Map an error of a request made with this client.
    pub fn err(&self, e: bollard::errors::Error) -> DockerError {
        DockerError::from_bollard(&self.host, self.timeout, e)
    }

    /// Await one request, answer included, for at most the client's timeout (bollard's
    /// own covers only the headers: a body that trickles would hold it forever).
    pub async fn call<T>(
        &self,
        request: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, DockerError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(r) => r.map_err(|e| self.err(e)),
            Err(_) => Err(DockerError::Timeout {
                host: self.host.clone(),
                after: self.timeout,
            }),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, DockerError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DockerError::Runtime)
}

/// Run `fut` to completion on a private runtime. From inside someone else's runtime (where
/// `block_on` would panic) it runs on a scoped thread instead.
pub(crate) fn block_on<F: std::future::Future + Send>(fut: F) -> Result<F::Output, DockerError>
where
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(|| runtime().map(|rt| run_to_end(rt, fut)))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    } else {
        Ok(run_to_end(runtime()?, fut))
    }
}

/// Run `fut` on `rt`, then drop the runtime without waiting for what is left on it (a
/// connection task, a name lookup stuck in the blocking pool).
fn run_to_end<F: std::future::Future>(rt: tokio::runtime::Runtime, fut: F) -> F::Output {
    let out = rt.block_on(fut);
    rt.shutdown_background();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn docker_host_wins() {
        let h = resolve_host(env(&[("DOCKER_HOST", "tcp://10.0.0.1:2375")]), |_| true);
        assert_eq!(h, "tcp://10.0.0.1:2375");
    }

    #[test]
    fn first_existing_socket_is_chosen() {
        let vars = [("XDG_RUNTIME_DIR", "/run/user/1000"), ("HOME", "/home/u")];
        let h = resolve_host(env(&vars), |p| {
            p == Path::new("/home/u/.docker/run/docker.sock")
        });
        assert_eq!(h, "unix:///home/u/.docker/run/docker.sock");
        let h = resolve_host(env(&vars), |p| p == Path::new("/run/user/1000/docker.sock"));
        assert_eq!(h, "unix:///run/user/1000/docker.sock");
        let h = resolve_host(env(&vars), |_| false);
        assert_eq!(h, "unix:///var/run/docker.sock");
    }

    #[test]
    fn hosts_parse() {
        assert_eq!(
            parse_host("unix:///var/run/docker.sock", false).unwrap(),
            Endpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            parse_host("tcp://127.0.0.1:2375", false).unwrap(),
            Endpoint::Tcp("tcp://127.0.0.1:2375".into())
        );
        assert_eq!(
            parse_host("http://h:1", false).unwrap(),
            Endpoint::Tcp("tcp://h:1".into())
        );
        let e = parse_host("ssh://me@box", false).unwrap_err().to_string();
        assert!(
            e.contains("ssh://me@box") && e.contains("only unix://"),
            "{e}"
        );
        let e = parse_host("tcp://h:2376", true).unwrap_err().to_string();
        assert!(e.contains("DOCKER_TLS_VERIFY"), "{e}");
        assert!(parse_host("unix://", false).is_err());
    }

    #[test]
    fn ping_of_a_missing_socket_says_what_to_do() {
        let e = ping_host("unix:///nonexistent/docker.sock").unwrap_err();
        assert!(matches!(e, DockerError::SocketMissing { .. }), "{e:?}");
        assert!(e.to_string().contains("start the daemon"), "{e}");
        assert!(e.is_unreachable());
    }

    #[test]
    fn ping_of_a_dead_socket_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.sock");
        // A socket file nobody listens on any more: connecting is refused.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let e = ping_host(&format!("unix://{}", path.display())).unwrap_err();
        assert!(matches!(e, DockerError::Refused { .. }), "{e:?}");
        assert!(e.to_string().contains("not running"), "{e}");
    }

    #[test]
    fn ping_of_a_silent_tcp_port_is_refused() {
        // Bind then drop to get a local port with no listener.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = ping_host(&format!("tcp://127.0.0.1:{port}")).unwrap_err();
        assert!(matches!(e, DockerError::Refused { .. }), "{e:?}");
    }

    #[test]
    fn block_on_works_inside_a_runtime() {
        let rt = runtime().unwrap();
        let v = rt.block_on(async { block_on(async { 7 }).unwrap() });
        assert_eq!(v, 7);
    }
}
