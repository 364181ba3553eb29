//! The built-in HTTP operation: one HTTP/1.1 request per operation, from a small client
//! of its own on the engine's tokio runtime (no process, no pool, no task per
//! connection). The request's bytes are built once; each worker keeps one connection
//! and one read buffer, so a request on a kept connection allocates nothing.
//!
//! Phases, from the operation's start:
//! - `connect`: the TCP connection was established. Marked only by operations that
//!   opened one: every operation with `reuse = false`; with `reuse`, a worker's first,
//!   and one whose kept connection the server had closed.
//! - `first_byte`: the first read after the request was written returned bytes.
//! - `complete` (the engine's): the last byte of the body was read.
//!
//! Failures: `http:NNN` (a status not expected), `connect` (the host could not be
//! resolved or connected to), `io` (the connection failed during the request, or the
//! response was malformed). A request that fails on a kept connection before any byte
//! of its response arrived (the server had closed the connection while it was idle) is
//! retried once on a new connection and is not a failure.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::engine::{Marks, Operation};
use super::{Failure, HttpSpec};

/// The phase marked when a TCP connection was established.
pub const CONNECT: &str = "connect";
/// The phase marked when the first byte of the response arrived.
pub const FIRST_BYTE: &str = "first_byte";

/// A worker's read buffer; it grows for a response head that does not fit, up to
/// [`MAX_HEAD`].
const READ_BUF: usize = 16 * 1024;
/// Most bytes of a response head (or of a chunk's size line or trailer).
const MAX_HEAD: usize = 1024 * 1024;
/// Most headers in a response.
const MAX_HEADERS: usize = 96;

/// An HTTP request sent once per operation.
#[derive(Debug)]
pub struct HttpOp {
    target: Target,
    /// The whole request: line, headers, body.
    request: Box<[u8]>,
    /// `HEAD`: responses have no body.
    head_only: bool,
    reuse: bool,
    expect_status: Vec<u16>,
}

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Addr(SocketAddr),
    /// Resolved by each worker when it first connects.
    Name {
        host: String,
        port: u16,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Addr(a) => a.fmt(f),
            Target::Name { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// A URL taken apart.
#[derive(Debug, PartialEq, Eq)]
struct Url<'a> {
    target: Target,
    /// What the `Host` header says: the URL's host and port as written.
    authority: &'a str,
    /// Path and query, `/` when the URL has none.
    path: String,
}

impl HttpOp {
    /// Check `spec` and build its request. The errors say what is wrong and what to do.
    pub fn new(spec: &HttpSpec) -> Result<HttpOp, String> {
        let url = parse_url(&spec.url)?;
        let method = spec.method.as_str();
        if !is_token(method) {
            return Err(format!(
                "method `{method}` is not an HTTP method: use a word such as GET, POST, PUT \
                 or DELETE (letters, digits and !#$%&'*+-.^_`|~ only)"
            ));
        }
        if let Some(bad) = spec
            .expect_status
            .iter()
            .find(|c| !(100..=599).contains(*c))
        {
            return Err(format!("`expect_status` codes are 100 to 599, not {bad}"));
        }
        let mut own_host = false;
        for (name, value) in &spec.headers {
            if !is_token(name) {
                return Err(format!(
                    "header name `{name}` is not valid: use letters, digits and -, without \
                     spaces or a colon"
                ));
            }
            if let Some(b) = value
                .bytes()
                .find(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
            {
                return Err(format!(
                    "header `{name}`: its value has a control character ({b:#04x}): headers \
                     are one line each, without line breaks"
                ));
            }
            let lower = name.to_ascii_lowercase();
            match lower.as_str() {
                "content-length" | "transfer-encoding" => {
                    return Err(format!(
                        "header `{name}` is set by the harness from `body`: remove it"
                    ));
                }
                "connection" => {
                    return Err(format!(
                        "header `{name}` is set by the harness from `reuse`: remove it (set \
                         `reuse = false` for a new connection per request)"
                    ));
                }
                "host" => own_host = true,
                _ => {}
            }
        }

        let mut request = Vec::with_capacity(256 + spec.body.as_ref().map_or(0, String::len));
        request.extend_from_slice(method.as_bytes());
        request.push(b' ');
        request.extend_from_slice(url.path.as_bytes());
        request.extend_from_slice(b" HTTP/1.1\r\n");
        if !own_host {
            request.extend_from_slice(b"Host: ");
            request.extend_from_slice(url.authority.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        for (name, value) in &spec.headers {
            request.extend_from_slice(name.as_bytes());
            request.extend_from_slice(b": ");
            request.extend_from_slice(value.trim().as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        let body = spec.body.as_deref().unwrap_or("");
        // Servers may refuse a POST without a length (411) even when it has no body.
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        if !spec.reuse {
            request.extend_from_slice(b"Connection: close\r\n");
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(body.as_bytes());

        Ok(HttpOp {
            target: url.target,
            request: request.into_boxed_slice(),
            head_only: method == "HEAD",
            reuse: spec.reuse,
            expect_status: spec.expect_status.clone(),
        })
    }

    fn expected(&self, status: u16) -> bool {
        if self.expect_status.is_empty() {
            (200..=399).contains(&status)
        } else {
            self.expect_status.contains(&status)
        }
    }

    async fn connect(&self, w: &mut HttpWorker) -> Result<TcpStream, Failure> {
        if w.addrs.is_empty() {
            w.addrs = match &self.target {
                Target::Addr(a) => vec![*a],
                Target::Name { host, port } => tokio::net::lookup_host((host.as_str(), *port))
                    .await
                    .map_err(|e| Failure::new("connect", format!("could not resolve {host}: {e}")))?
                    .collect(),
            };
            if w.addrs.is_empty() {
                return Err(Failure::new(
                    "connect",
                    format!("{} resolves to no address", self.target),
                ));
            }
        }
        let mut last = None;
        for (i, addr) in w.addrs.iter().enumerate() {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    // Requests are written whole: nothing to gain from Nagle's delay.
                    let _ = s.set_nodelay(true);
                    // The next connection tries this address first (`localhost` may
                    // resolve to ::1 for a server on 127.0.0.1 only).
                    w.addrs.swap(0, i);
                    return Ok(s);
                }
                Err(e) => last = Some((*addr, e)),
            }
        }
        let (addr, e) = last.expect("at least one address");
        Err(Failure::new(
            "connect",
            format!("could not connect to {addr} ({}): {e}", self.target),
        ))
    }

    /// Send the request and read the response to its end.
    async fn exchange(
        &self,
        s: &mut TcpStream,
        buf: &mut Buf,
        marks: &mut Marks,
    ) -> Result<Response, Broke> {
        buf.clear();
        s.write_all(&self.request)
            .await
            .map_err(|e| Broke::Unanswered(format!("sending the request: {e}")))?;

        // The head, past any 1xx.
        let mut received = false;
        let head = loop {
            if received {
                match parse_head(buf.filled())? {
                    Some(h) if (100..200).contains(&h.status) && h.status != 101 => {
                        buf.consume(h.len);
                        continue;
                    }
                    Some(h) => break h,
                    None => {}
                }
            }
            match buf.fill(s).await {
                Ok(0) if !received => {
                    return Err(Broke::Unanswered(
                        "the server closed the connection without a response".into(),
                    ));
                }
                Ok(0) => {
                    return Err(Broke::Io(
                        "the server closed the connection before the response's head ended".into(),
                    ));
                }
                Ok(_) => {
                    if !received {
                        received = true;
                        marks.mark(FIRST_BYTE, buf.last_read);
                    }
                }
                Err(e) if !received => {
                    return Err(Broke::Unanswered(format!("reading the response: {e}")));
                }
                Err(e) => return Err(Broke::Io(format!("reading the response's head: {e}"))),
            }
        };
        if head.status == 101 {
            return Err(Broke::Io(
                "the server switched protocols (101), which the HTTP operation does not follow"
                    .into(),
            ));
        }
        buf.consume(head.len);

        let mut keep_alive = head.keep_alive;
        let bodyless = self.head_only || head.status == 204 || head.status == 304;
        if bodyless {
            // The head was the whole response.
        } else if head.chunked {
            read_chunked(s, buf).await?;
        } else if let Some(n) = head.length {
            buf.skip(s, n).await?;
        } else {
            // Delimited by the end of the connection.
            keep_alive = false;
            buf.consume(buf.filled().len());
            loop {
                match buf.fill(s).await {
                    Ok(0) => break,
                    Ok(_) => buf.consume(buf.filled().len()),
                    Err(e) => return Err(Broke::Io(format!("reading the body: {e}"))),
                }
            }
        }
        marks.end(buf.last_read);
        // Bytes nobody asked for: the connection is out of step.
        if !buf.filled().is_empty() {
            keep_alive = false;
        }
        Ok(Response {
            status: head.status,
            keep_alive,
        })
    }
}

/// A worker's connection and buffer.
#[derive(Debug)]
pub struct HttpWorker {
    /// Kept between operations when `reuse`.
    conn: Option<TcpStream>,
    buf: Buf,
    /// The server's addresses, resolved on the first connection.
    addrs: Vec<SocketAddr>,
}

impl Operation for HttpOp {
    type Worker = HttpWorker;

    fn worker(&self) -> HttpWorker {
        HttpWorker {
            conn: None,
            buf: Buf::new(),
            addrs: Vec::new(),
        }
    }

    async fn run(&self, w: &mut HttpWorker, _: u64, marks: &mut Marks) -> Result<(), Failure> {
        // Taken out: an operation stopped halfway (a timeout) drops its connection with it.
        let mut kept = w.conn.take();
        loop {
            let reused = kept.is_some();
            let mut stream = match kept.take() {
                Some(s) => s,
                None => {
                    let s = self.connect(w).await?;
                    marks.mark(CONNECT, Instant::now());
                    s
                }
            };
            match self.exchange(&mut stream, &mut w.buf, marks).await {
                Ok(r) => {
                    if self.reuse && r.keep_alive {
                        w.conn = Some(stream);
                    }
                    if self.expected(r.status) {
                        return Ok(());
                    }
                    return Err(Failure::new(
                        format!("http:{}", r.status),
                        format!("status {}, expected {}", r.status, self.expectation()),
                    ));
                }
                // The server closed a kept connection while it was idle: once more, on a
                // new one.
                Err(Broke::Unanswered(_)) if reused => continue,
                Err(Broke::Unanswered(e) | Broke::Io(e)) => return Err(Failure::new("io", e)),
            }
        }
    }
}

impl HttpOp {
    fn expectation(&self) -> String {
        if self.expect_status.is_empty() {
            return "200 to 399".into();
        }
        let codes: Vec<String> = self.expect_status.iter().map(u16::to_string).collect();
        codes.join(" or ")
    }
}

/// What an exchange ended with.
#[derive(Debug)]
struct Response {
    status: u16,
    keep_alive: bool,
}

/// Why an exchange failed.
#[derive(Debug)]
enum Broke {
    /// Before any byte of the response arrived (on a kept connection: closed while idle).
    Unanswered(String),
    /// After.
    Io(String),
}

/// A response head, parsed.
#[derive(Debug)]
struct Head {
    /// Its bytes, blank line included.
    len: usize,
    status: u16,
    keep_alive: bool,
    chunked: bool,
    length: Option<u64>,
}

/// The head at the start of `bytes`, `None` when it is not all there yet.
fn parse_head(bytes: &[u8]) -> Result<Option<Head>, Broke> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut headers);
    let len = match r.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Broke::Io(format!("malformed response head: {e}"))),
    };
    let status = r.code.unwrap_or(0);
    let mut head = Head {
        len,
        status,
        keep_alive: r.version == Some(1),
        chunked: false,
        length: None,
    };
    let mut encoded = false;
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| Broke::Io("malformed Content-Length in the response".into()))?;
            if head.length.is_some_and(|l| l != n) {
                return Err(Broke::Io(
                    "the response has two different Content-Lengths".into(),
                ));
            }
            head.length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
            // Chunked when it is the last coding.
            head.chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for t in h.value.split(|&b| b == b',') {
                let t = t.trim_ascii();
                if t.eq_ignore_ascii_case(b"close") {
                    head.keep_alive = false;
                } else if t.eq_ignore_ascii_case(b"keep-alive") && r.version == Some(0) {
                    head.keep_alive = true;
                }
            }
        }
    }
    if encoded {
        // Transfer-Encoding wins over Content-Length; not chunked: to the end.
        head.length = None;
    }
    Ok(Some(head))
}

/// Read a chunked body to its end, trailers included.
async fn read_chunked(s: &mut TcpStream, buf: &mut Buf) -> Result<(), Broke> {
    loop {
        let size = loop {
            match httparse::parse_chunk_size(buf.filled()) {
                Ok(httparse::Status::Complete((used, size))) => {
                    buf.consume(used);
                    break size;
                }
                Ok(httparse::Status::Partial) => buf.more(s).await?,
                Err(_) => return Err(Broke::Io("malformed chunk size in the response".into())),
            }
        };
        if size == 0 {
            // Trailer lines, then a blank line.
            loop {
                match memchr::memmem::find(buf.filled(), b"\r\n") {
                    Some(0) => {
                        buf.consume(2);
                        return Ok(());
                    }
                    Some(i) => buf.consume(i + 2),
                    None => buf.more(s).await?,
                }
            }
        }
        buf.skip(s, size).await?;
        while buf.filled().len() < 2 {
            buf.more(s).await?;
        }
        if &buf.filled()[..2] != b"\r\n" {
            return Err(Broke::Io(
                "malformed chunk in the response: no CRLF after its data".into(),
            ));
        }
        buf.consume(2);
    }
}

/// Bytes read and not yet consumed: `data[start..end]`.
#[derive(Debug)]
struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// When the last read returned.
    last_read: Instant,
}

impl Buf {
    fn new() -> Self {
        Self {
            data: vec![0; READ_BUF],
            start: 0,
            end: 0,
            last_read: Instant::now(),
        }
    }

    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.end {
            self.clear();
        }
    }

    /// Read once more; `Ok(0)` at the end of the stream.
    async fn fill(&mut self, s: &mut TcpStream) -> io::Result<usize> {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.data.len() < MAX_HEAD {
                self.data.resize(MAX_HEAD.min(self.data.len() * 4), 0);
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a response head or chunk line longer than {MAX_HEAD} bytes"),
                ));
            }
        }
        let n = s.read(&mut self.data[self.end..]).await?;
        self.last_read = Instant::now();
        self.end += n;
        Ok(n)
    }

    /// Read once more, the end of the stream being a failure.
    async fn more(&mut self, s: &mut TcpStream) -> Result<(), Broke> {
        match self.fill(s).await {
            Ok(0) => Err(Broke::Io(
                "the server closed the connection before the body ended".into(),
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(Broke::Io(format!("reading the body: {e}"))),
        }
    }

    /// Read and drop `n` bytes.
    async fn skip(&mut self, s: &mut TcpStream, mut n: u64) -> Result<(), Broke> {
        loop {
            let take = n.min(self.filled().len() as u64);
            self.consume(take as usize);
            n -= take;
            if n == 0 {
                return Ok(());
            }
            self.more(s).await?;
        }
    }
}

/// `http://HOST[:PORT][/PATH][?QUERY]`.
fn parse_url(url: &str) -> Result<Url<'_>, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "`{url}` is not a URL: write it as http://HOST[:PORT]/PATH, e.g. \
             http://127.0.0.1:8080/health"
        ));
    };
    if scheme.eq_ignore_ascii_case("https") {
        return Err(format!(
            "`{url}`: https is not supported by the built-in HTTP operation; put a \
             TLS-terminating proxy in front of the service and give its http:// address, or \
             use a command operation instead (run = \"curl -fsS -o /dev/null {url}\")"
        ));
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(format!(
            "`{url}`: only http:// URLs are supported, not {scheme}://"
        ));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(format!(
            "`{url}`: credentials in the URL are not supported; send them in a header \
             instead (headers = {{ Authorization = \"Basic …\" }})"
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (ip, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("`{url}`: the IPv6 address has no closing `]`"))?;
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("`{url}`: `{ip}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| {
                format!("`{url}`: expected `:PORT` after the IPv6 address, found `{p}`")
            })?),
        };
        (Err(IpAddr::V6(ip)), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (Ok(h), Some(p)),
            None => (Ok(authority), None),
        }
    };
    let port =
        match port {
            None => 80,
            Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| {
                format!("`{url}`: the port `{p}` is not a number from 1 to 65535")
            })?,
        };
    let target = match host {
        Err(ip) => Target::Addr(SocketAddr::new(ip, port)),
        Ok("") => {
            return Err(format!(
                "`{url}` has no host: write it as http://HOST[:PORT]/PATH"
            ));
        }
        Ok(h) => match h.parse::<IpAddr>() {
            Ok(ip) => Target::Addr(SocketAddr::new(ip, port)),
            Err(_)
                if h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')) =>
            {
                Target::Name {
                    host: h.to_owned(),
                    port,
                }
            }
            Err(_) => {
                return Err(format!(
                    "`{url}`: `{h}` is not a host name or an IP address"
                ));
            }
        },
    };
    // The fragment stays with the client.
    let tail = tail.split('#').next().unwrap_or("");
    if let Some(c) = tail.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "`{url}`: the path has {c:?}, which must be percent-encoded (e.g. a space as %20)"
        ));
    }
    let path = if tail.starts_with('/') {
        tail.to_owned()
    } else {
        format!("/{tail}")
    };
    Ok(Url {
        target,
        authority,
        path,
    })
}

/// An HTTP token (a method, a header name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::engine::{Measured, drive};
    use crate::load::testserver::{Reply, TestServer};
    use crate::load::{Arrival, COMPLETE, Drive, Stop};

    fn spec(url: &str) -> HttpSpec {
        HttpSpec {
            url: url.to_owned(),
            method: "GET".into(),
            body: None,
            headers: vec![],
            reuse: true,
            expect_status: vec![],
        }
    }

    fn closed(c: u32, total: u64) -> Drive {
        Drive::closed(c, total, Some(Duration::from_secs(20)))
    }

    fn run(spec: &HttpSpec, d: &Drive) -> Measured {
        let op = HttpOp::new(spec).unwrap();
        drive(op, d, &|| false, &mut |_| {}).unwrap()
    }

    fn phase<'m>(m: &'m Measured, name: &str) -> Option<&'m crate::load::Latency> {
        m.phases.iter().find(|(n, _)| n == name).map(|(_, l)| l)
    }

    #[test]
    fn phases_are_ordered_and_connect_counts_connections() {
        let server = TestServer::start(|_| Reply::Status(200));
        let m = run(&spec(&server.url("/")), &closed(4, 200));
        assert_eq!((m.ops, m.succeeded), (200, 200), "{:?}", m.failure_samples);
        let names: Vec<&str> = m.phases.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [CONNECT, FIRST_BYTE, COMPLETE]);
        let connect = phase(&m, CONNECT).unwrap().stats().unwrap();
        let first = phase(&m, FIRST_BYTE).unwrap().stats().unwrap();
        let complete = phase(&m, COMPLETE).unwrap().stats().unwrap();
        assert_eq!(first.count, 200);
        assert!(connect.count <= 4 && connect.count >= 1, "{connect:?}");
        assert_eq!(connect.count, server.connections());
        // Ordered in each operation, so in every quantile of operations that have both.
        assert!(first.min_ms <= complete.min_ms && first.p50_ms <= complete.p50_ms);
        assert!(first.max_ms <= complete.max_ms);
        assert!(connect.max_ms <= complete.max_ms);
        assert_eq!(server.requests(), 200);

        let server = TestServer::start(|_| Reply::Status(200));
        let mut s = spec(&server.url("/fresh"));
        s.reuse = false;
        let m = run(&s, &closed(2, 50));
        assert_eq!(m.succeeded, 50, "{:?}", m.failure_samples);
        assert_eq!(phase(&m, CONNECT).unwrap().count(), 50);
        assert_eq!(server.connections(), 50);
        let q = |name, q| phase(&m, name).unwrap().quantile_ms(q);
        for p in [0.0, 0.5, 0.9, 1.0] {
            assert!(q(CONNECT, p) <= q(FIRST_BYTE, p), "{p}");
            assert!(q(FIRST_BYTE, p) <= q(COMPLETE, p), "{p}");
        }
        assert!(server.seen().iter().all(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k == "Connection" && v == "close")
        }));
    }

    #[test]
    fn a_kept_connection_closed_by_the_server_is_reopened_not_failed() {
        let server = TestServer::closing(|_| Reply::Status(200));
        let m = run(&spec(&server.url("/")), &closed(1, 20));
        assert_eq!((m.succeeded, m.failed), (20, 0), "{:?}", m.failure_samples);
        assert_eq!(phase(&m, CONNECT).unwrap().count(), 20);
        assert_eq!(server.requests(), 20);
    }

    /// The acceptance test of the open loop: one stall of the server shows in the tail
    /// of an open loop and hides in a closed one.
    #[test]
    fn a_stall_shows_in_an_open_loop_and_hides_in_a_closed_one() {
        let stall = |i| {
            if i == 50 {
                Reply::Stall(Duration::from_secs(1), 200)
            } else {
                Reply::Status(200)
            }
        };
        let server = TestServer::start(stall);
        let open = run(
            &spec(&server.url("/")),
            &Drive {
                arrival: Arrival::Open {
                    rate_per_s: 100.0,
                    max_in_flight: 1,
                },
                stop: Stop::Total(250),
                warmup_ops: 0,
                timeout: Some(Duration::from_secs(20)),
            },
        );
        let server = TestServer::start(stall);
        let closed = run(&spec(&server.url("/")), &closed(1, 250));
        for m in [&open, &closed] {
            assert_eq!(m.succeeded, 250, "{:?}", m.failure_samples);
        }
        let o = phase(&open, COMPLETE).unwrap().stats().unwrap();
        let c = phase(&closed, COMPLETE).unwrap().stats().unwrap();
        // Open: the ~100 operations due during the stall wait for it, from 1 s down.
        assert!(o.p90_ms > 300.0 && o.p99_ms > 600.0, "open {o:?}");
        // Closed: one slow operation in 250, the others not sent during it.
        assert!(c.max_ms >= 990.0, "closed {c:?}");
        assert!(c.p90_ms < 100.0 && c.p99_ms < 200.0, "closed {c:?}");
        assert!(o.p90_ms > 3.0 * c.p90_ms, "open {o:?} closed {c:?}");
        assert!(o.p99_ms > 3.0 * c.p99_ms, "open {o:?} closed {c:?}");
    }

    #[test]
    fn statuses_not_expected_are_failures_by_code() {
        let server = TestServer::start(|i| Reply::Status(if i % 4 == 3 { 503 } else { 200 }));
        let m = run(&spec(&server.url("/")), &closed(3, 100));
        assert_eq!(m.failures.get("http:503"), Some(&25), "{:?}", m.failures);
        assert_eq!((m.succeeded, m.failed), (75, 25));
        assert!(m.failure_samples[0].contains("status 503, expected 200 to 399"));

        let server = TestServer::start(|i| Reply::Status(if i % 2 == 0 { 404 } else { 200 }));
        let mut s = spec(&server.url("/"));
        s.expect_status = vec![404];
        let m = run(&s, &closed(1, 10));
        assert_eq!(m.failures.get("http:200"), Some(&5), "{:?}", m.failures);
        assert_eq!(m.succeeded, 5);
    }

    #[test]
    fn nothing_listening_is_a_connect_failure() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let m = run(&spec(&format!("http://127.0.0.1:{port}/")), &closed(2, 10));
        assert_eq!(m.failures.get("connect"), Some(&10), "{:?}", m.failures);
        assert!(
            m.failure_samples[0].contains(&format!("127.0.0.1:{port}")),
            "{:?}",
            m.failure_samples
        );
    }

    #[test]
    fn a_response_cut_short_is_an_io_failure() {
        let server = TestServer::start(|i| {
            if i % 5 == 0 {
                Reply::Cut
            } else {
                Reply::Status(200)
            }
        });
        let m = run(&spec(&server.url("/")), &closed(2, 50));
        assert_eq!(m.failures.get("io"), Some(&10), "{:?}", m.failures);
        assert_eq!(m.succeeded, 40);
        assert!(
            m.failure_samples[0].contains("closed the connection before the body ended"),
            "{:?}",
            m.failure_samples
        );
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        let server = TestServer::start(|_| Reply::Silence);
        let m = run(
            &spec(&server.url("/")),
            &Drive {
                timeout: Some(Duration::from_millis(200)),
                ..closed(1, 3)
            },
        );
        assert_eq!(m.failures.get("timeout"), Some(&3), "{:?}", m.failures);
        // Each timed-out operation dropped its connection.
        assert_eq!(server.connections(), 3);
    }

    #[test]
    fn the_body_and_headers_arrive_as_given_and_chunks_are_read_to_the_end() {
        let body: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let server = TestServer::start(move |i| {
            if i % 2 == 0 {
                Reply::Chunked {
                    body: body.clone(),
                    chunk: 7000,
                }
            } else {
                Reply::Status(201)
            }
        });
        let s = HttpSpec {
            method: "POST".into(),
            body: Some("{\"n\": 1}".into()),
            headers: vec![
                ("X-Trace".into(), "abc 123".into()),
                ("Accept".into(), "application/json".into()),
            ],
            ..spec(&server.url("/items?x=1#frag"))
        };
        let m = run(&s, &closed(1, 10));
        assert_eq!(m.succeeded, 10, "{:?}", m.failure_samples);
        // All on one connection: each chunked body was read to its end.
        assert_eq!(server.connections(), 1);
        let seen = server.seen();
        assert_eq!(seen.len(), 10);
        let r = &seen[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/items?x=1"));
        assert_eq!(r.body, b"{\"n\": 1}");
        let names: Vec<(&str, &str)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("Host", server.addr.to_string().as_str()),
                ("X-Trace", "abc 123"),
                ("Accept", "application/json"),
                ("Content-Length", "8"),
            ]
        );
    }

    #[test]
    fn informational_empty_and_close_delimited_responses() {
        let raw = |bytes: &[u8], close| Reply::Raw {
            bytes: bytes.to_vec(),
            close,
        };
        let server = TestServer::start(move |i| match i % 5 {
            0 => raw(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
                false,
            ),
            1 => raw(b"HTTP/1.1 204 No Content\r\n\r\n", false),
            2 => raw(b"HTTP/1.0 200 OK\r\n\r\nuntil the end", true),
            3 => raw(
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                true,
            ),
            _ => raw(b"this is not HTTP\r\n\r\n", true),
        });
        let m = run(&spec(&server.url("/")), &closed(1, 20));
        assert_eq!((m.succeeded, m.failed), (16, 4), "{:?}", m.failure_samples);
        assert_eq!(m.failures.get("io"), Some(&4));
        assert!(
            m.failure_samples[0].contains("malformed"),
            "{:?}",
            m.failure_samples
        );
        // A new connection after each that closed: 2, 3 and 4 of every 5.
        assert_eq!(server.connections(), 12);
    }

    #[test]
    fn first_byte_is_the_first_byte_not_the_parsed_head() {
        let pause = Duration::from_millis(150);
        let server = TestServer::start(move |_| Reply::Dribble(pause));
        let m = run(&spec(&server.url("/")), &closed(1, 3));
        assert_eq!(m.succeeded, 3, "{:?}", m.failure_samples);
        let first = phase(&m, FIRST_BYTE).unwrap().stats().unwrap();
        let complete = phase(&m, COMPLETE).unwrap().stats().unwrap();
        // The status line came at once; the head ended after one pause, the body after two.
        assert!(first.p50_ms < 75.0, "{first:?}");
        assert!(complete.min_ms >= 290.0, "{complete:?}");
    }

    #[test]
    fn a_fresh_connection_closed_without_a_response_is_an_io_failure() {
        let server = TestServer::start(|_| Reply::Raw {
            bytes: vec![],
            close: true,
        });
        let m = run(&spec(&server.url("/")), &closed(1, 5));
        assert_eq!(m.failures.get("io"), Some(&5), "{:?}", m.failures);
        assert!(
            m.failure_samples[0].contains("closed the connection without a response"),
            "{:?}",
            m.failure_samples
        );
        // Retried only on a kept connection: one request per connection here.
        assert_eq!(server.requests(), 5);
        assert_eq!(server.connections(), 5);
    }

    #[test]
    fn a_host_name_is_resolved() {
        let server = TestServer::start(|_| Reply::Status(200));
        let mut s = spec(&format!("http://localhost:{}/", server.addr.port()));
        s.reuse = false;
        let m = run(&s, &closed(1, 5));
        assert_eq!(m.succeeded, 5, "{:?}", m.failure_samples);
        assert_eq!(server.requests(), 5);
    }

    #[test]
    fn response_heads() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .ok()
            .flatten()
            .unwrap();
        assert_eq!(
            (h.status, h.len, h.length, h.keep_alive),
            (200, 38, Some(5), true)
        );
        let h = parse_head(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
            .ok()
            .flatten()
            .unwrap();
        assert!(h.chunked && !h.keep_alive);
        let h = parse_head(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            .ok()
            .flatten()
            .unwrap();
        assert!(!h.keep_alive && h.length.is_none() && !h.chunked);
        assert!(matches!(parse_head(b"HTTP/1.1 200 OK\r\nConte"), Ok(None)));
        assert!(matches!(
            parse_head(b"SMTP hello\r\n\r\n"),
            Err(Broke::Io(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(Broke::Io(_))
        ));
    }

    #[test]
    fn bad_specs_are_refused_with_what_to_do() {
        let err = |s: HttpSpec| HttpOp::new(&s).unwrap_err();
        let e = err(spec("https://example.com/"));
        assert!(
            e.contains("https is not supported") && e.contains("curl"),
            "{e}"
        );
        let e = err(spec("example.com/health"));
        assert!(e.contains("http://HOST[:PORT]/PATH"), "{e}");
        let e = err(spec("ftp://example.com/"));
        assert!(e.contains("only http://"), "{e}");
        let e = err(spec("http:///path"));
        assert!(e.contains("has no host"), "{e}");
        let e = err(spec("http://host:99999/"));
        assert!(e.contains("1 to 65535"), "{e}");
        let e = err(spec("http://bad host/"));
        assert!(e.contains("not a host name"), "{e}");
        let e = err(spec("http://u:p@host/"));
        assert!(e.contains("Authorization"), "{e}");
        let e = err(spec("http://host/a b"));
        assert!(e.contains("percent-encoded"), "{e}");
        let e = err(HttpSpec {
            method: "GE T".into(),
            ..spec("http://host/")
        });
        assert!(e.contains("not an HTTP method"), "{e}");
        let e = err(HttpSpec {
            headers: vec![("X-A".into(), "a\r\nInjected: 1".into())],
            ..spec("http://host/")
        });
        assert!(e.contains("control character"), "{e}");
        let e = err(HttpSpec {
            headers: vec![("Bad Name".into(), "a".into())],
            ..spec("http://host/")
        });
        assert!(e.contains("header name"), "{e}");
        let e = err(HttpSpec {
            headers: vec![("content-length".into(), "3".into())],
            ..spec("http://host/")
        });
        assert!(e.contains("from `body`"), "{e}");
    }

    #[test]
    fn urls() {
        let u = parse_url("http://localhost/").unwrap();
        assert_eq!(
            u.target,
            Target::Name {
                host: "localhost".into(),
                port: 80
            }
        );
        assert_eq!((u.authority, u.path.as_str()), ("localhost", "/"));
        let u = parse_url("HTTP://127.0.0.1:8080?q=1").unwrap();
        assert_eq!(u.target, Target::Addr("127.0.0.1:8080".parse().unwrap()));
        assert_eq!((u.authority, u.path.as_str()), ("127.0.0.1:8080", "/?q=1"));
        let u = parse_url("http://[::1]:81/x").unwrap();
        assert_eq!(u.target, Target::Addr("[::1]:81".parse().unwrap()));
        assert_eq!((u.authority, u.path.as_str()), ("[::1]:81", "/x"));
        let op = HttpOp::new(&spec("http://h:81/p")).unwrap();
        assert_eq!(&*op.request, b"GET /p HTTP/1.1\r\nHost: h:81\r\n\r\n");
    }
}
