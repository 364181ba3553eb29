//! Small HTTP/1.1 servers on 127.0.0.1 for tests: keep-alive, a reply chosen per request
//! by its index in arrival order (across connections), and the misbehaviours load tests
//! need (a stall, a response cut short, silence, connections closed without a word).
//! A thread per connection; the server stops when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// This status, with the body `ok` (`Content-Length: 2`).
    Status(u16),
    /// After a pause, this status.
    Stall(Duration, u16),
    /// 200 with this body, chunked in pieces of `chunk` bytes (each written alone).
    Chunked { body: Vec<u8>, chunk: usize },
    /// A head announcing 10 bytes, 2 of them, then the connection closed.
    Cut,
    /// Nothing: the connection is held open until the client closes it.
    Silence,
    /// 200 `ok` in three writes with a pause before each of the last two: the status
    /// line, the rest of the head, the body.
    Dribble(Duration),
    /// These bytes as they are, then the connection closed when `close`.
    Raw { bytes: Vec<u8>, close: bool },
}

/// A request as the server received it (the first [`MAX_SEEN`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Requests kept for [`TestServer::seen`].
pub const MAX_SEEN: usize = 100;

type ReplyFn = dyn Fn(u64) -> Reply + Send + Sync;

struct State {
    reply: Box<ReplyFn>,
    /// Close each connection after its first response, without `Connection: close`.
    close_after_each: bool,
    stop: AtomicBool,
    requests: AtomicU64,
    connections: AtomicU64,
    seen: Mutex<Vec<Seen>>,
}

/// A server on 127.0.0.1, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl TestServer {
    /// A keep-alive server answering request `i` with `reply(i)`.
    pub fn start(reply: impl Fn(u64) -> Reply + Send + Sync + 'static) -> Self {
        Self::with(Box::new(reply), false)
    }

    /// A server that closes each connection after one response without saying so (as
    /// a server closing idle connections does).
    pub fn closing(reply: impl Fn(u64) -> Reply + Send + Sync + 'static) -> Self {
        Self::with(Box::new(reply), true)
    }

    fn with(reply: Box<ReplyFn>, close_after_each: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            reply,
            close_after_each,
            stop: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::Acquire) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                st.connections.fetch_add(1, Ordering::AcqRel);
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        Self { addr, state }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests received whole.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Acquire)
    }

    /// Connections accepted.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::Acquire)
    }

    /// The first requests, as received.
    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        // Wake the accepting thread so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn serve(mut s: TcpStream, st: &State) {
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 16 * 1024];
    let mut len = 0;
    loop {
        // A request head, then its body.
        let (head_len, body_len, close, seen) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[..len]) {
                Ok(httparse::Status::Complete(n)) => {
                    let mut body_len = 0;
                    let mut close = false;
                    for h in req.headers.iter() {
                        let v = String::from_utf8_lossy(h.value);
                        if h.name.eq_ignore_ascii_case("content-length") {
                            body_len = v.trim().parse().unwrap_or(0);
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = v.eq_ignore_ascii_case("close");
                        }
                    }
                    let seen = Seen {
                        method: req.method.unwrap_or("").to_owned(),
                        path: req.path.unwrap_or("").to_owned(),
                        headers: req
                            .headers
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_owned(),
                                    String::from_utf8_lossy(h.value).into_owned(),
                                )
                            })
                            .collect(),
                        body: Vec::new(),
                    };
                    break (n, body_len, close, seen);
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return,
            }
            if len == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            match s.read(&mut buf[len..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => len += n,
            }
        };
        let whole = head_len + body_len;
        if buf.len() < whole {
            buf.resize(whole, 0);
        }
        while len < whole {
            match s.read(&mut buf[len..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => len += n,
            }
        }
        let index = st.requests.fetch_add(1, Ordering::AcqRel);
        if index < MAX_SEEN as u64 {
            let mut seen = seen;
            seen.body = buf[head_len..whole].to_vec();
            st.seen.lock().unwrap_or_else(|e| e.into_inner()).push(seen);
        }
        buf.copy_within(whole..len, 0);
        len -= whole;

        let ok = match (st.reply)(index) {
            Reply::Status(200) => s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            Reply::Status(code) => s.write_all(status(code).as_bytes()),
            Reply::Stall(d, code) => {
                std::thread::sleep(d);
                s.write_all(status(code).as_bytes())
            }
            Reply::Chunked { body, chunk } => {
                let mut r = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                for piece in body.chunks(chunk.max(1)) {
                    let mut c = format!("{:x}\r\n", piece.len()).into_bytes();
                    c.extend_from_slice(piece);
                    c.extend_from_slice(b"\r\n");
                    r = r.and_then(|()| s.write_all(&c));
                }
                r.and_then(|()| s.write_all(b"0\r\n\r\n"))
            }
            Reply::Cut => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok");
                return;
            }
            Reply::Dribble(pause) => s
                .write_all(b"HTTP/1.1 200 OK\r\n")
                .and_then(|()| {
                    std::thread::sleep(pause);
                    s.write_all(b"Content-Length: 2\r\n\r\n")
                })
                .and_then(|()| {
                    std::thread::sleep(pause);
                    s.write_all(b"ok")
                }),
            Reply::Raw { bytes, close } => {
                let r = s.write_all(&bytes);
                if close {
                    return;
                }
                r
            }
            Reply::Silence => {
                // Until the client goes.
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                return;
            }
        };
        if ok.is_err() || close || st.close_after_each {
            return;
        }
    }
}

fn status(code: u16) -> String {
    format!("HTTP/1.1 {code} Test\r\nContent-Length: 2\r\n\r\nok")
}
