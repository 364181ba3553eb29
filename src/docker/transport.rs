//! The connection under bollard: one fresh connection per request (as bollard's own HTTP
//! and unix transports make), over a unix socket or TCP, reading at most
//! [`MAX_RESPONSE`] bytes of the answer. An endpoint that streams without end fails the
//! request instead of filling memory; deadlines are the caller's ([`super::Client::call`]).

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bollard::BollardRequest;
use hyper::Response;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most bytes (headers and body) read from one connection, so one answer. A list of
/// thousands of containers is a few MiB; the event stream reconnects past it.
pub(crate) const MAX_RESPONSE: u64 = 16 << 20;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
}

/// Send one request on a new connection to `target` whose reads stop at `cap` bytes.
pub(crate) async fn send(
    target: Target,
    cap: u64,
    request: BollardRequest,
) -> Result<Response<Incoming>, bollard::errors::Error> {
    let stream: Box<dyn Stream> = match &target {
        Target::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
        Target::Tcp(addr) => Box::new(tokio::net::TcpStream::connect(addr).await?),
    };
    let io = TokioIo::new(Capped {
        inner: stream,
        read: 0,
        cap,
    });
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    // Ends with the answer (or its error); dropped with the runtime otherwise.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let (mut parts, body) = request.into_parts();
    let host = parts
        .uri
        .authority()
        .map_or_else(|| "localhost".to_owned(), ToString::to_string);
    // A connection of our own: the request line takes the origin form.
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()?;
    if let Ok(v) = HeaderValue::from_str(&host) {
        parts.headers.entry(HOST).or_insert(v);
    }
    let response = sender
        .send_request(hyper::Request::from_parts(parts, body))
        .await?;
    // Announced too large: fail now rather than after reading up to the cap.
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > cap) {
        return Err(too_large(cap).into());
    }
    Ok(response)
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// A stream that fails its reads once more than `cap` bytes came through.
struct Capped {
    inner: Box<dyn Stream>,
    read: u64,
    cap: u64,
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Fail before reading, never after: a read that fails must not have filled
        // `buf` (tokio's contract). So at most one buffer beyond the cap comes through.
        if self.read > self.cap {
            return Poll::Ready(Err(too_large(self.cap)));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.read += (buf.filled().len() - before) as u64;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn too_large(cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "its answer is larger than {} MiB, more than a Docker daemon sends",
            cap >> 20
        ),
    )
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[test]
    fn reads_stop_past_the_cap() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut a, b) = tokio::io::duplex(64);
            let mut capped = Capped {
                inner: Box::new(b),
                read: 0,
                cap: 10,
            };
            let writer = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = a.write_all(&[b'x'; 100]).await;
            });
            let mut got = Vec::new();
            let e = capped.read_to_end(&mut got).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(e.to_string().contains("larger than"), "{e}");
            assert!(got.len() <= 64, "{}", got.len());
            writer.abort();
        });
    }
}
