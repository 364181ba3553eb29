//! Docker errors that say what happened and what to do, mapped from bollard's errors and
//! the I/O errors underneath them.

use std::time::Duration;

/// Why talking to the Docker daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "no Docker socket at {path}: start the daemon (e.g. `sudo systemctl start docker`, or Docker Desktop) or point DOCKER_HOST at its socket"
    )]
    SocketMissing { path: String },
    #[error(
        "the Docker daemon at {host} refused the connection: it is not running; start it (e.g. `sudo systemctl start docker`) or fix DOCKER_HOST"
    )]
    Refused { host: String },
    #[error(
        "permission denied on the Docker socket {host}: add your user to the `docker` group (then log in again) or run with access to the socket"
    )]
    PermissionDenied { host: String },
    #[error(
        "the Docker daemon at {host} did not answer within {}: check that it is healthy (`docker info`)",
        humantime::format_duration(*after)
    )]
    Timeout { host: String, after: Duration },
    #[error("cannot use DOCKER_HOST `{host}`: {why}")]
    UnsupportedHost { host: String, why: String },
    #[error(
        "cannot reach the Docker daemon at {host}: {message}: check that DOCKER_HOST (or the default socket) leads to a healthy Docker daemon (`docker info`)"
    )]
    Connect { host: String, message: String },
    #[error("the Docker daemon at {host} answered {status}: {message}")]
    Api {
        host: String,
        status: u16,
        message: String,
    },
    #[error(
        "image `{image}` not found locally: build or load it (`docker build`, `docker load`); no registry pull is attempted"
    )]
    ImageMissing { image: String },
    #[error(
        "probe container did not exit within {}: it was killed and removed",
        humantime::format_duration(*after)
    )]
    ProbeTimeout { after: Duration },
    #[error("interrupted: the probe container was removed")]
    Cancelled,
    #[error("interrupted while waiting for the Docker daemon")]
    Interrupted,
    #[error("cannot start the Docker client runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl DockerError {
    /// The daemon could not be reached at all (as opposed to answering with an error):
    /// with `[monitor] docker = "auto"` this is one warning, not a failure.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            DockerError::SocketMissing { .. }
                | DockerError::Refused { .. }
                | DockerError::PermissionDenied { .. }
                | DockerError::Timeout { .. }
                | DockerError::UnsupportedHost { .. }
                | DockerError::Connect { .. }
        )
    }

    /// Map a bollard error from a request to `host`.
    pub(crate) fn from_bollard(host: &str, timeout: Duration, err: bollard::errors::Error) -> Self {
        use bollard::errors::Error as B;
        match err {
            B::SocketNotFoundError(path) => DockerError::SocketMissing { path },
            B::RequestTimeoutError => DockerError::Timeout {
                host: host.to_string(),
                after: timeout,
            },
            B::DockerResponseServerError {
                status_code,
                message,
            } => DockerError::Api {
                host: host.to_string(),
                status: status_code,
                message: message.trim().to_string(),
            },
            // `transparent`: the io error is this one, not its source.
            B::IOError { err } => Self::from_io(host, timeout, &err),
            other => match find_io(&other) {
                Some(io) => Self::from_io(host, timeout, io),
                None => DockerError::Connect {
                    host: host.to_string(),
                    message: chain(&other),
                },
            },
        }
    }

    /// Map the I/O error of a connection attempt to `host` (pure: no I/O).
    pub(crate) fn from_io(host: &str, timeout: Duration, err: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let host_s = host.to_string();
        match err.kind() {
            K::NotFound => DockerError::SocketMissing {
                path: host.strip_prefix("unix://").unwrap_or(host).to_string(),
            },
            K::ConnectionRefused => DockerError::Refused { host: host_s },
            K::PermissionDenied => DockerError::PermissionDenied { host: host_s },
            K::TimedOut => DockerError::Timeout {
                host: host_s,
                after: timeout,
            },
            _ => DockerError::Connect {
                host: host_s,
                message: err.to_string(),
            },
        }
    }
}

/// The first `std::io::Error` in an error's source chain (hyper wraps the connector's).
fn find_io<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = e.source();
    }
    None
}

/// An error and its causes on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    const SOCK: &str = "unix:///var/run/docker.sock";
    const T: Duration = Duration::from_secs(5);

    fn msg(kind: io::ErrorKind) -> (DockerError, String) {
        let e = DockerError::from_io(SOCK, T, &io::Error::from(kind));
        let s = e.to_string();
        (e, s)
    }

    #[test]
    fn missing_socket_says_start_the_daemon_or_set_docker_host() {
        let (e, s) = msg(io::ErrorKind::NotFound);
        assert!(matches!(e, DockerError::SocketMissing { .. }));
        assert!(
            s.starts_with("no Docker socket at /var/run/docker.sock:"),
            "{s}"
        );
        assert!(
            s.contains("start the daemon") && s.contains("DOCKER_HOST"),
            "{s}"
        );
    }

    #[test]
    fn refused_says_the_daemon_is_not_running() {
        let (e, s) = msg(io::ErrorKind::ConnectionRefused);
        assert!(matches!(e, DockerError::Refused { .. }));
        assert!(s.contains(SOCK) && s.contains("not running"), "{s}");
    }

    #[test]
    fn permission_denied_says_join_the_docker_group() {
        let (e, s) = msg(io::ErrorKind::PermissionDenied);
        assert!(matches!(e, DockerError::PermissionDenied { .. }));
        assert!(s.contains("`docker` group"), "{s}");
    }

    #[test]
    fn other_io_errors_keep_their_text() {
        let e = DockerError::from_io(SOCK, T, &io::Error::other("boom"));
        assert_eq!(
            e.to_string(),
            format!(
                "cannot reach the Docker daemon at {SOCK}: boom: check that DOCKER_HOST (or the default socket) leads to a healthy Docker daemon (`docker info`)"
            )
        );
        assert!(e.is_unreachable());
    }

    #[test]
    fn timeouts_name_the_wait() {
        let (e, _) = msg(io::ErrorKind::TimedOut);
        let s = e.to_string();
        assert!(s.contains("did not answer within 5s"), "{s}");
    }

    #[test]
    fn bollard_errors_map() {
        use bollard::errors::Error as B;
        let e = DockerError::from_bollard(SOCK, T, B::SocketNotFoundError("/x.sock".into()));
        assert!(e.to_string().starts_with("no Docker socket at /x.sock:"));
        let e = DockerError::from_bollard(
            SOCK,
            T,
            B::DockerResponseServerError {
                status_code: 500,
                message: "oops\n".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            format!("the Docker daemon at {SOCK} answered 500: oops")
        );
        assert!(!e.is_unreachable());
        let e = DockerError::from_bollard(
            SOCK,
            T,
            B::IOError {
                err: io::Error::from(io::ErrorKind::PermissionDenied),
            },
        );
        assert!(matches!(e, DockerError::PermissionDenied { .. }));
        assert!(matches!(
            DockerError::from_bollard(SOCK, T, B::RequestTimeoutError),
            DockerError::Timeout { .. }
        ));
    }

    #[test]
    fn probe_errors_say_what_happened() {
        let s = DockerError::ProbeTimeout {
            after: Duration::from_millis(1500),
        }
        .to_string();
        assert!(s.contains("1s 500ms") && s.contains("removed"), "{s}");
        let s = DockerError::ImageMissing {
            image: "x:1".into(),
        }
        .to_string();
        assert!(s.contains("`x:1` not found locally") && s.contains("no registry pull"));
    }
}
