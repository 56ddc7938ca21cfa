//! An origin server written on raw sockets, so that a test controls every byte and every
//! failure: status, delays before the head, a body that stops half way, resets, and refusal
//! (closing the listener). Each answer carries `X-Origin: <name>` and the body `<name>`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the origin answers.
#[derive(Clone, Debug)]
pub struct Behavior {
    /// The status of normal answers.
    pub status: u16,
    /// Wait this long before sending the response head.
    pub head_delay: Duration,
    /// Send the head and half the body, then stall for this long and close.
    pub stall_body: Option<Duration>,
    /// Send the head and half the body, pause this long, then send the rest (a slow, complete
    /// body).
    pub pause_body: Option<Duration>,
    /// Close the connection without answering.
    pub reset: bool,
    /// Answer with `Connection: close` and close.
    pub close: bool,
    /// Answer normally (keep-alive), then close the connection without a word.
    pub drop_after: bool,
    /// Send exactly these bytes instead of a response, then close (or hold the connection
    /// open for `hold_open`).
    pub raw: Option<String>,
    /// With `raw`: keep serving the connection after sending it (a keep-alive answer).
    pub keep_raw: bool,
    /// Keep the connection open this long after answering (probes must then time out), and
    /// with `drop_after`, before closing it.
    pub hold_open: Option<Duration>,
    /// Extra response header lines (`Name: value`). Without a `Cache-Control` among them,
    /// answers carry `Cache-Control: no-store`, so that tests of the proxy path see every
    /// request reach the origin; cache tests give their own.
    pub headers: Vec<String>,
    /// The body; empty means the origin's name.
    pub body: String,
    /// A body of any bytes (a gzip body, say), sent instead of `body`.
    pub bytes: Option<Vec<u8>>,
    /// Answer as soon as the request head is read, without reading its body, then keep the
    /// connection (unread) for `hold_open` (a backend refusing an upload early).
    pub early: bool,
    /// With `early`: answer keep-alive and then read the whole body (a backend that answers
    /// early and goes on reading); the request is recorded with its body once read.
    pub early_reads: bool,
    /// Send this entity tag with normal answers, and answer `304 Not Modified` (no body) to a
    /// request whose `If-None-Match` names it (a revalidating backend).
    pub etag: Option<String>,
    /// Keep each request for [`Origin::requests`] (off for long runs such as the PGO
    /// workload, where the record would only grow).
    pub record: bool,
}

/// A request the origin received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The request line.
    pub line: String,
    /// Header lines as (name, value), names as sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Which connection (0, 1, …) it came on.
    pub conn: usize,
}

/// A running origin.
pub struct Origin {
    /// Its name.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    behavior: Arc<Mutex<Behavior>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    served: Arc<AtomicUsize>,
    conns: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    task: Mutex<Option<JoinHandle<()>>>,
}

// === impl Behavior ===

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            status: 200,
            head_delay: Duration::ZERO,
            stall_body: None,
            pause_body: None,
            reset: false,
            close: false,
            drop_after: false,
            raw: None,
            keep_raw: false,
            hold_open: None,
            headers: Vec::new(),
            body: String::new(),
            bytes: None,
            early: false,
            early_reads: false,
            etag: None,
            record: true,
        }
    }
}

// === impl Origin ===

impl Origin {
    /// Starts an origin answering 200 with its name.
    pub async fn start(name: &str) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let behavior = Arc::new(Mutex::new(Behavior::default()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let conns = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let counters = Counters { accepted: conns.clone(), open: open.clone(), served: served.clone() };
        let task = tokio::spawn(accept(listener, name.to_string(), behavior.clone(), requests.clone(), counters));
        Origin { name: name.to_string(), addr, behavior, requests, served, conns, open, task: Mutex::new(Some(task)) }
    }

    /// `host:port` for a VCL `.host`.
    pub fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    /// The port, for a VCL `.port`.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// A VCL backend declaration for this origin, with extra attributes.
    pub fn backend_vcl(&self, extra: &str) -> String {
        format!("backend {} {{ .host = \"{}\"; .port = \"{}\"; {extra} }}\n", self.name, self.host(), self.port())
    }

    /// Changes how it answers.
    pub fn set(&self, f: impl FnOnce(&mut Behavior)) {
        f(&mut self.behavior.lock());
    }

    /// Answers with this status from now on.
    pub fn set_status(&self, status: u16) {
        self.set(|b| b.status = status);
    }

    /// The requests received so far (while [`Behavior::record`] is on).
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().clone()
    }

    /// How many requests it received.
    pub fn hits(&self) -> usize {
        self.served.load(Ordering::Relaxed)
    }

    /// How many connections it accepted.
    pub fn connections(&self) -> usize {
        self.conns.load(Ordering::Relaxed)
    }

    /// How many of them are still open (the client has not closed them).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Stops listening: connects are refused from now on.
    pub fn refuse(&self) {
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.refuse();
    }
}

/// Connections accepted, those still open, and requests received.
struct Counters {
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
}

async fn accept(
    listener: TcpListener,
    name: String,
    behavior: Arc<Mutex<Behavior>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    counters: Counters,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let n = counters.accepted.fetch_add(1, Ordering::Relaxed);
        counters.open.fetch_add(1, Ordering::Relaxed);
        let (name, behavior, requests, open, served) =
            (name.clone(), behavior.clone(), requests.clone(), counters.open.clone(), counters.served.clone());
        tokio::spawn(async move {
            let _ = serve(stream, n, &name, &behavior, (&requests, &served)).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn serve(
    mut stream: TcpStream,
    conn: usize,
    name: &str,
    behavior: &Mutex<Behavior>,
    (requests, served): (&Mutex<Vec<Recorded>>, &AtomicUsize),
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let early = behavior.lock().early;
        let Some(req) = read_request(&mut stream, &mut buf, conn, !early).await? else { return Ok(()) };
        let probe_close =
            req.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close"));
        let head_only = req.line.starts_with("HEAD ");
        let b = behavior.lock().clone();
        if b.early && b.early_reads {
            let body = if b.body.is_empty() { name.to_string() } else { b.body.clone() };
            let head = format!(
                "HTTP/1.1 {} {}\r\nX-Origin: {name}\r\nContent-Length: {}\r\n\r\n{body}",
                b.status,
                reason(b.status),
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            let mut req = req;
            req.body = read_body(&mut stream, &mut buf, &req.headers).await?;
            requests.lock().push(req);
            served.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let not_modified = b.etag.as_ref().is_some_and(|tag| {
            req.headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("if-none-match") && v.split(',').any(|t| t.trim() == tag))
        });
        if b.record {
            requests.lock().push(req);
        }
        served.fetch_add(1, Ordering::Relaxed);
        if b.reset {
            return Ok(());
        }
        if b.early {
            let body = if b.body.is_empty() { name.to_string() } else { b.body.clone() };
            let head = format!(
                "HTTP/1.1 {} {}\r\nX-Origin: {name}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                b.status,
                reason(b.status),
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            tokio::time::sleep(b.hold_open.unwrap_or_default()).await;
            return Ok(());
        }
        tokio::time::sleep(b.head_delay).await;
        if let Some(raw) = &b.raw {
            stream.write_all(raw.as_bytes()).await?;
            if b.keep_raw {
                continue;
            }
            if let Some(d) = b.hold_open {
                tokio::time::sleep(d).await;
            }
            return Ok(());
        }
        let body = match &b.bytes {
            Some(bytes) => bytes.clone(),
            None if b.body.is_empty() => name.as_bytes().to_vec(),
            None => b.body.clone().into_bytes(),
        };
        let close = b.close || probe_close;
        let mut head = if not_modified {
            format!("HTTP/1.1 304 Not Modified\r\nX-Origin: {name}\r\n")
        } else {
            format!(
                "HTTP/1.1 {} {}\r\nX-Origin: {name}\r\nContent-Length: {}\r\n",
                b.status,
                reason(b.status),
                body.len()
            )
        };
        if let Some(tag) = &b.etag {
            head.push_str(&format!("ETag: {tag}\r\n"));
        }
        for h in &b.headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        if !b.headers.iter().any(|h| h.len() > 14 && h[..14].eq_ignore_ascii_case("cache-control:")) {
            head.push_str("Cache-Control: no-store\r\n");
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let head_only = head_only || not_modified;
        if !head_only && b.stall_body.is_none() && b.pause_body.is_none() && !close {
            // Head and body in one write, as a real server would.
            let mut all = head.into_bytes();
            all.extend_from_slice(&body);
            stream.write_all(&all).await?;
            if b.drop_after {
                if let Some(d) = b.hold_open {
                    tokio::time::sleep(d).await;
                }
                return Ok(());
            }
            continue;
        }
        stream.write_all(head.as_bytes()).await?;
        if head_only {
            if close {
                return Ok(());
            }
            continue;
        }
        if let Some(pause) = b.pause_body {
            stream.write_all(&body[..body.len() / 2]).await?;
            stream.flush().await?;
            tokio::time::sleep(pause).await;
            stream.write_all(&body[body.len() / 2..]).await?;
            if close {
                return Ok(());
            }
            continue;
        }
        if let Some(stall) = b.stall_body {
            stream.write_all(&body[..body.len() / 2]).await?;
            stream.flush().await?;
            tokio::time::sleep(stall).await;
            return Ok(());
        }
        if close {
            stream.write_all(&body).await?;
            if let Some(d) = b.hold_open {
                tokio::time::sleep(d).await;
            }
            stream.shutdown().await?;
            return Ok(());
        }
    }
}

async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    conn: usize,
    with_body: bool,
) -> std::io::Result<Option<Recorded>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    if !with_body {
        return Ok(Some(Recorded { line, headers, body: Vec::new(), conn }));
    }
    // A connection closed in the body: no request.
    let body = match read_body(stream, buf, &headers).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(Recorded { line, headers, body, conn }))
}

/// The body the headers announce, from `buf` and then the stream.
async fn read_body(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    headers: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let find_hdr = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if let Some(len) = find_hdr("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < len {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        body = buf.drain(..len).collect();
    } else if find_hdr("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = crate::client::read_chunked(stream, buf).await?;
    }
    Ok(body)
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        404 => "Not Found",
        413 => "Content Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
