//! A raw HTTP/1.1 client: the test writes the request bytes, the client parses the response
//! (Content-Length, chunked, or until close) and reports a truncated body as such.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::origin::find;

/// A parsed response.
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Header lines as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The body ended before its announced length (or a chunked body before its last chunk).
    pub truncated: bool,
    /// The server closed the connection after this response.
    pub closed: bool,
}

/// A client connection for keep-alive tests.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// Sends one raw request on a new connection.
pub async fn request(addr: SocketAddr, raw: &str) -> Response {
    let mut c = Client::connect(addr).await;
    c.send(raw).await
}

/// `GET path` with `Host: host` on a new connection.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, &format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")).await
}

// === impl Response ===

impl Response {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

// === impl Client ===

impl Client {
    /// Connects.
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::try_connect(addr).await.expect("connect to the proxy")
    }

    /// Connects, or says why it could not.
    pub async fn try_connect(addr: SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        Ok(Client { stream, buf: Vec::new() })
    }

    /// Writes raw bytes without reading.
    pub async fn write(&mut self, raw: &[u8]) {
        let _ = self.stream.write_all(raw).await;
    }

    /// Sends a raw request and reads one response (status 0 if the connection closed first).
    pub async fn send(&mut self, raw: &str) -> Response {
        self.write(raw.as_bytes()).await;
        let head_only = raw.starts_with("HEAD ");
        self.read_response(head_only).await
    }

    /// Reads one response; a 100 Continue is skipped.
    pub async fn read_response(&mut self, head_only: bool) -> Response {
        loop {
            let r = self.read_one(head_only).await;
            if r.status != 100 {
                return r;
            }
        }
    }

    /// Whether the server has closed the connection (waits up to `wait`).
    pub async fn is_closed(&mut self, wait: Duration) -> bool {
        let mut b = [0u8; 1];
        matches!(tokio::time::timeout(wait, self.stream.read(&mut b)).await, Ok(Ok(0)) | Ok(Err(_)))
    }

    async fn read_one(&mut self, head_only: bool) -> Response {
        let mut r = Response::default();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if !self.fill().await {
                r.closed = true;
                return r;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let _proto = parts.next();
        r.status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        r.reason = parts.next().unwrap_or("").to_string();
        r.headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let close = r.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if head_only || r.status == 204 || r.status == 304 || r.status == 101 || (100..200).contains(&r.status) {
            r.closed = close;
            return r;
        }
        if let Some(len) = r.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            while self.buf.len() < len {
                if !self.fill().await {
                    r.truncated = true;
                    r.closed = true;
                    r.body = std::mem::take(&mut self.buf);
                    return r;
                }
            }
            r.body = self.buf.drain(..len).collect();
        } else if r.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            match read_chunked(&mut self.stream, &mut self.buf).await {
                Ok(b) => r.body = b,
                Err(_) => {
                    r.truncated = true;
                    r.closed = true;
                }
            }
        } else {
            while self.fill().await {}
            r.body = std::mem::take(&mut self.buf);
            r.closed = true;
        }
        r.closed |= close;
        r
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(Duration::from_secs(30), self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }
}

/// Reads a chunked body from `buf` and then the stream; an early end is an error.
pub(crate) async fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(buf, b"\r\n") {
                break i;
            }
            more(stream, buf).await?;
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| std::io::Error::other("bad chunk size"))?;
        buf.drain(..line_end + 2);
        while buf.len() < size + 2 {
            more(stream, buf).await?;
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
        if size == 0 {
            return Ok(body);
        }
    }
}

async fn more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
        .await
        .map_err(|_| std::io::Error::other("read timeout"))??;
    if n == 0 {
        return Err(std::io::Error::other("closed mid-body"));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

impl Client {
    /// Reads one response head and returns its status, leaving the rest (for `100 Continue`).
    pub async fn read_one_raw_status(&mut self) -> u16 {
        let r = self.read_one(true).await;
        r.status
    }
}
