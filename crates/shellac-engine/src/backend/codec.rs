//! HTTP/1.1 toward a backend, without I/O: the request head as bytes with the framing of its
//! body, the response head parsed (httparse) into status, reason, version and headers, the
//! response body's framing (RFC 9112 §6.3) and an incremental decoder for it, chunked included.
//!
//! The fetch path used to go through hyper's client connection, whose dispatcher costs a channel
//! hop and a oneshot per request and a second copy of the request headers; with the codec here a
//! backend connection is a socket and two buffers owned by the fetch that uses it.

use std::borrow::Cow;
use std::io::Write as _;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Version};

use crate::hdr;

/// The most header lines a response head may have however `http_max_hdr` is set.
pub const MAX_HEADERS: usize = 256;

/// What a backend's response head may hold, as the parameters say (a head past them fails the
/// fetch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// Header lines (`http_max_hdr`, at most [`MAX_HEADERS`]).
    pub headers: usize,
    /// The whole head (`http_resp_size`).
    pub bytes: usize,
    /// One header line, `name: value` (`http_resp_hdr_len`).
    pub line: usize,
}

impl Default for HeadLimits {
    /// varnishd's defaults: 64 lines, 32 KiB, 8 KiB a line.
    fn default() -> Self {
        HeadLimits { headers: 64, bytes: 32 << 10, line: 8 << 10 }
    }
}

/// How the request body goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReqFraming {
    /// No body.
    Empty,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The framing of a request body: its exact length when known, else chunked; no body when it is
/// empty. `Content-Length` and `Transfer-Encoding` from the client are replaced by it.
pub fn request_framing(body_len: Option<u64>, body_empty: bool) -> ReqFraming {
    match body_len {
        _ if body_empty => ReqFraming::Empty,
        Some(n) => ReqFraming::Length(n),
        None => ReqFraming::Chunked,
    }
}

/// Appends the request head to `dst`: request line, the headers but the framing ones, `host`
/// when given, the framing header, and the empty line. A `Content-Length` in `headers` with an empty body goes
/// out as `0` (a POST without a body still needs it).
pub fn encode_head(
    dst: &mut Vec<u8>,
    method: &str,
    url: &str,
    headers: &HeaderMap,
    host: Option<&HeaderValue>,
    framing: ReqFraming,
) {
    dst.extend_from_slice(method.as_bytes());
    dst.push(b' ');
    dst.extend_from_slice(url.as_bytes());
    dst.extend_from_slice(b" HTTP/1.1\r\n");
    let mut had_length = false;
    for (name, value) in headers {
        if name == CONTENT_LENGTH {
            had_length = true;
            continue;
        }
        if name == TRANSFER_ENCODING {
            continue;
        }
        dst.extend_from_slice(name.as_str().as_bytes());
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    if let Some(host) = host {
        dst.extend_from_slice(b"host: ");
        dst.extend_from_slice(host.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    match framing {
        ReqFraming::Empty if had_length => dst.extend_from_slice(b"content-length: 0\r\n"),
        ReqFraming::Empty => {}
        ReqFraming::Length(n) => {
            let _ = write!(dst, "content-length: {n}\r\n");
        }
        ReqFraming::Chunked => dst.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    dst.extend_from_slice(b"\r\n");
}

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// The reason phrase as sent.
    pub reason: Cow<'static, str>,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The header fields.
    pub headers: HeaderMap,
    /// Its length on the wire (status line and headers, with the blank line).
    pub wire_len: usize,
}

impl Head {
    /// Whether the connection may carry another request after this response: HTTP/1.1 without
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        let has = |token: &str| hdr::connection_tokens(&self.headers).any(|t| t.eq_ignore_ascii_case(token));
        if self.version == Version::HTTP_11 {
            !has("close")
        } else {
            has("keep-alive")
        }
    }
}

/// Parses a response head from the start of `buf` and removes it from there: `Ok(None)` when
/// more bytes are needed (nothing removed). Header values share `buf`'s memory.
pub fn parse_head(buf: &mut BytesMut, limits: HeadLimits) -> Result<Option<Head>, String> {
    let max_headers = limits.headers;
    // Header slots left uninitialised: httparse fills what it uses (no 8 KiB memset per head).
    let mut storage = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let slots = &mut storage[..max_headers.clamp(1, MAX_HEADERS)];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut resp, buf, slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(format!("more than {max_headers} header lines")),
        Err(e) => return Err(format!("malformed response head: {e}")),
    };
    let status = resp.code.unwrap_or(0);
    let reason =
        match (resp.reason.unwrap_or(""), http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason())) {
            (r, Some(standard)) if r == standard => Cow::Borrowed(standard),
            (r, _) => Cow::Owned(r.to_string()),
        };
    let version = if resp.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    // Where each name and value lies in the head, so that the values can share its memory once
    // it is split off; on the stack for the usual few dozen headers.
    let base = buf.as_ptr() as usize;
    let span = |s: &[u8]| -> Option<(usize, usize)> {
        let start = (s.as_ptr() as usize).checked_sub(base).filter(|at| at + s.len() <= len)?;
        Some((start, start + s.len()))
    };
    let mut small = [Span::default(); SMALL_HEAD];
    let mut large = Vec::new();
    let spans: &mut [Span] = if resp.headers.len() <= SMALL_HEAD {
        &mut small[..resp.headers.len()]
    } else {
        large.resize(resp.headers.len(), Span::default());
        &mut large
    };
    for (h, at) in resp.headers.iter().zip(spans.iter_mut()) {
        if h.name.len() + 2 + h.value.len() > limits.line {
            return Err(format!("header line longer than {} bytes ({})", limits.line, h.name));
        }
        // httparse's names and values lie in the buffer, but an empty value may not.
        let value = span(h.value).or(h.value.is_empty().then_some((0, 0)));
        match (span(h.name.as_bytes()), value) {
            (Some(name), Some(value)) => *at = Span { name, value },
            _ => return Err(format!("malformed header {:?}", h.name)),
        }
    }
    let head = buf.split_to(len).freeze();
    // Room for what delivery adds (X-Varnish, Age, Via) without growing the map.
    let mut headers = HeaderMap::with_capacity(spans.len() + 3);
    for at in spans.iter() {
        let name = &head[at.name.0..at.name.1];
        let name =
            HeaderName::from_bytes(name).map_err(|_| format!("bad header name {:?}", String::from_utf8_lossy(name)))?;
        let value = HeaderValue::from_maybe_shared(head.slice(at.value.0..at.value.1))
            .map_err(|_| format!("bad value of header {name}"))?;
        headers.append(name, value);
    }
    Ok(Some(Head { status, reason, version, headers, wire_len: len }))
}

/// How many header lines [`parse_head`] places without allocating.
const SMALL_HEAD: usize = 32;

/// Where a header's name and value lie in a response head.
#[derive(Clone, Copy, Default)]
struct Span {
    name: (usize, usize),
    value: (usize, usize),
}

/// How a response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the backend closes the connection.
    Close,
}

/// The framing of a response to a request with method `method` (RFC 9112 §6.3). A
/// `Transfer-Encoding` that does not end in chunked means close-delimited; conflicting or
/// malformed `Content-Length`s are an error.
pub fn response_framing(method: &str, head: &Head) -> Result<Framing, String> {
    if method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(Framing::Empty);
    }
    if head.headers.contains_key(TRANSFER_ENCODING) {
        let last = head
            .headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|t| !t.is_empty());
        return Ok(match last {
            Some(t) if t.eq_ignore_ascii_case("chunked") => Framing::Chunked,
            _ => Framing::Close,
        });
    }
    let mut length: Option<u64> = None;
    for v in head.headers.get_all(CONTENT_LENGTH) {
        for part in v.to_str().map_err(|_| "bad Content-Length".to_string())?.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 19 {
                return Err(format!("bad Content-Length {part:?}"));
            }
            let n: u64 = part.parse().map_err(|_| format!("bad Content-Length {part:?}"))?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length values".into());
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::Close,
    })
}

/// Decodes a response body from a buffer that the connection fills.
#[derive(Debug)]
pub struct Decoder {
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// This many body bytes are left (Content-Length).
    Length(u64),
    /// Until EOF.
    Close,
    /// Reading a chunk size: the value so far and how many hex digits.
    Size(u64, u8),
    /// After the size: extensions up to the line end.
    Extension(u64),
    /// The LF that ends the size line.
    SizeLf(u64),
    /// This many bytes of chunk data are left.
    Data(u64),
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// The LF of the final empty line.
    EndLf,
    /// The body is complete.
    Done,
}

/// The most hex digits of a chunk size (a 64-bit size).
const MAX_SIZE_DIGITS: u8 = 16;

impl Decoder {
    /// A decoder for `framing`.
    pub fn new(framing: Framing) -> Decoder {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Size(0, 0),
            Framing::Close => State::Close,
        };
        Decoder { state }
    }

    /// Whether the whole body was decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// How many body bytes are left, when the framing says (Content-Length).
    pub fn remaining(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// Whether the body ends only when the connection does.
    pub fn is_close_delimited(&self) -> bool {
        self.state == State::Close
    }

    /// The next piece of body data in `buf` (`Ok(None)`: none buffered, or the body is done).
    /// Framing bytes after the data are consumed at once, so that [`Decoder::is_done`] is true
    /// as soon as the last piece is returned when the end is already buffered.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, String> {
        self.settle(buf)?;
        let data = match self.state {
            State::Length(n) | State::Data(n) if !buf.is_empty() => {
                let take = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
                let left = n - take as u64;
                self.state = match self.state {
                    State::Length(_) if left == 0 => State::Done,
                    State::Length(_) => State::Length(left),
                    _ if left == 0 => State::DataCr,
                    _ => State::Data(left),
                };
                buf.split_to(take).freeze()
            }
            State::Close if !buf.is_empty() => buf.split().freeze(),
            _ => return Ok(None),
        };
        self.settle(buf)?;
        Ok(Some(data))
    }

    /// The connection reached EOF: fine for a close-delimited body, an error otherwise.
    pub fn eof(&mut self) -> Result<(), String> {
        match self.state {
            State::Close | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err("backend closed the connection before the end of the body".into()),
        }
    }

    /// Consumes chunked framing bytes until data, the end, or the end of `buf`.
    fn settle(&mut self, buf: &mut BytesMut) -> Result<(), String> {
        while !buf.is_empty() {
            let b = buf[0];
            self.state = match self.state {
                State::Length(_) | State::Close | State::Data(_) | State::Done => return Ok(()),
                State::Size(n, digits) => match (b as char).to_digit(16) {
                    Some(d) if digits < MAX_SIZE_DIGITS => State::Size(n << 4 | u64::from(d), digits + 1),
                    Some(_) => return Err("chunk size too large".into()),
                    None if digits == 0 => return Err("malformed chunk size".into()),
                    None => match b {
                        b'\r' => State::SizeLf(n),
                        b'\n' => Self::after_size(n),
                        b';' | b' ' | b'\t' => State::Extension(n),
                        _ => return Err("malformed chunk size".into()),
                    },
                },
                State::Extension(n) => match b {
                    b'\r' => State::SizeLf(n),
                    b'\n' => Self::after_size(n),
                    _ => State::Extension(n),
                },
                State::SizeLf(n) if b == b'\n' => Self::after_size(n),
                State::SizeLf(_) => return Err("malformed chunk size line".into()),
                State::DataCr if b == b'\r' => State::DataLf,
                State::DataCr | State::DataLf if b == b'\n' => State::Size(0, 0),
                State::DataCr | State::DataLf => return Err("missing CRLF after chunk data".into()),
                State::TrailerStart => match b {
                    b'\r' => State::EndLf,
                    b'\n' => State::Done,
                    _ => State::Trailer,
                },
                State::Trailer if b == b'\n' => State::TrailerStart,
                State::Trailer => State::Trailer,
                State::EndLf if b == b'\n' => State::Done,
                State::EndLf => return Err("malformed chunked trailer".into()),
            };
            buf.advance(1);
        }
        Ok(())
    }

    fn after_size(n: u64) -> State {
        if n == 0 {
            State::TrailerStart
        } else {
            State::Data(n)
        }
    }
}

/// Appends one chunk of a chunked request body to `dst`.
pub fn encode_chunk(dst: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let _ = write!(dst, "{:x}\r\n", data.len());
    dst.extend_from_slice(data);
    dst.extend_from_slice(b"\r\n");
}

/// The end of a chunked request body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        let mut buf = BytesMut::from(raw);
        parse_head(&mut buf, HeadLimits::default()).unwrap().unwrap()
    }

    fn decode_all(framing: Framing, pieces: &[&[u8]]) -> Result<(Vec<u8>, bool), String> {
        let mut d = Decoder::new(framing);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for p in pieces {
            buf.extend_from_slice(p);
            while let Some(data) = d.decode(&mut buf)? {
                out.extend_from_slice(&data);
            }
        }
        Ok((out, d.is_done()))
    }

    #[test]
    fn request_head_replaces_the_framing_headers() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("example.com"));
        h.insert("content-length", HeaderValue::from_static("99"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-a", HeaderValue::from_static("2"));
        let mut out = Vec::new();
        encode_head(&mut out, "POST", "/p?q=1", &h, None, ReqFraming::Length(5));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /p?q=1 HTTP/1.1\r\nhost: example.com\r\nx-a: 1\r\nx-a: 2\r\ncontent-length: 5\r\n\r\n"
        );
        let mut out = Vec::new();
        encode_head(&mut out, "POST", "/", &h, None, ReqFraming::Empty);
        assert!(String::from_utf8(out).unwrap().ends_with("x-a: 2\r\ncontent-length: 0\r\n\r\n"));
        let mut out = Vec::new();
        encode_head(&mut out, "GET", "/", &HeaderMap::new(), None, ReqFraming::Empty);
        assert_eq!(out, b"GET / HTTP/1.1\r\n\r\n");
        let mut out = Vec::new();
        let host = HeaderValue::from_static("b.example");
        encode_head(&mut out, "GET", "/", &HeaderMap::new(), Some(&host), ReqFraming::Empty);
        assert_eq!(out, b"GET / HTTP/1.1\r\nhost: b.example\r\n\r\n");
        let mut out = Vec::new();
        encode_head(&mut out, "PUT", "/", &HeaderMap::new(), None, ReqFraming::Chunked);
        assert_eq!(out, b"PUT / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n");
    }

    #[test]
    fn request_framing_follows_the_body() {
        assert_eq!(request_framing(Some(0), true), ReqFraming::Empty);
        assert_eq!(request_framing(Some(7), false), ReqFraming::Length(7));
        assert_eq!(request_framing(None, false), ReqFraming::Chunked);
    }

    #[test]
    fn parses_a_head_and_leaves_the_body_in_the_buffer() {
        let mut buf = BytesMut::from("HTTP/1.1 203 Odd Reason\r\nA: 1\r\nb:  two \r\nA: 3\r\n\r\nbody");
        let h = parse_head(&mut buf, HeadLimits::default()).unwrap().unwrap();
        assert_eq!((h.status, h.reason.as_ref(), h.version), (203, "Odd Reason", Version::HTTP_11));
        assert_eq!(h.headers.get_all("a").iter().collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(h.headers["b"], "two");
        assert_eq!(&buf[..], b"body");
    }

    #[test]
    fn empty_header_values_are_kept() {
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Sp:   \r\nZ: z\r\n\r\n");
        let h = parse_head(&mut buf, HeadLimits::default()).unwrap().unwrap();
        assert_eq!(h.headers["x-empty"], "");
        assert_eq!(h.headers["x-sp"], "");
        assert_eq!(h.headers["z"], "z");
    }

    #[test]
    fn many_headers_keep_their_order_and_the_rest_of_the_buffer_stays() {
        let mut text = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..SMALL_HEAD + 8 {
            text.push_str(&format!("X-{}: v{i}\r\n", i % 5));
        }
        text.push_str("\r\nbody");
        let mut buf = BytesMut::from(text.as_str());
        let h = parse_head(&mut buf, HeadLimits::default()).unwrap().unwrap();
        assert_eq!(h.headers.len(), SMALL_HEAD + 8);
        let x3: Vec<_> = h.headers.get_all("x-3").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        let want: Vec<_> = (0..SMALL_HEAD + 8).filter(|i| i % 5 == 3).map(|i| format!("v{i}")).collect();
        assert_eq!(x3, want);
        assert_eq!(&buf[..], b"body");
    }

    #[test]
    fn a_standard_reason_is_not_copied_and_another_is_kept() {
        let mut buf = BytesMut::from("HTTP/1.1 404 Not Found\r\n\r\n");
        assert!(matches!(
            parse_head(&mut buf, HeadLimits::default()).unwrap().unwrap().reason,
            Cow::Borrowed("Not Found")
        ));
        let mut buf = BytesMut::from("HTTP/1.1 404 Nope\r\n\r\n");
        assert_eq!(parse_head(&mut buf, HeadLimits::default()).unwrap().unwrap().reason, "Nope");
    }

    #[test]
    fn a_partial_head_asks_for_more_and_garbage_is_an_error() {
        let partial = "HTTP/1.1 200 OK\r\nA: 1\r\n";
        let mut buf = BytesMut::from(partial);
        assert!(parse_head(&mut buf, HeadLimits::default()).unwrap().is_none());
        assert_eq!(buf.len(), partial.len(), "nothing consumed");
        let mut buf = BytesMut::from("SSH-2.0-OpenSSH\r\n\r\n");
        assert!(parse_head(&mut buf, HeadLimits::default()).unwrap_err().contains("malformed"));
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
        assert!(parse_head(&mut buf, HeadLimits { headers: 2, ..HeadLimits::default() })
            .unwrap_err()
            .contains("more than 2"));
    }

    #[test]
    fn keep_alive_by_version_and_connection() {
        assert!(head("HTTP/1.1 200 OK\r\n\r\n").keep_alive());
        assert!(!head("HTTP/1.1 200 OK\r\nConnection: foo, Close\r\n\r\n").keep_alive());
        assert!(!head("HTTP/1.0 200 OK\r\n\r\n").keep_alive());
        assert!(head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").keep_alive());
    }

    #[test]
    fn response_framing_rules() {
        let f = |m: &str, raw: &str| response_framing(m, &head(raw));
        assert_eq!(f("GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), Ok(Framing::Length(5)));
        assert_eq!(f("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), Ok(Framing::Empty));
        assert_eq!(f("GET", "HTTP/1.1 204 No Content\r\n\r\n"), Ok(Framing::Empty));
        assert_eq!(f("GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"), Ok(Framing::Empty));
        assert_eq!(f("GET", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), Ok(Framing::Empty));
        assert_eq!(f("GET", "HTTP/1.1 200 OK\r\n\r\n"), Ok(Framing::Close));
        assert_eq!(
            f("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(f("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), Ok(Framing::Close));
        assert_eq!(f("GET", "HTTP/1.1 200 OK\r\nContent-Length: 4, 4\r\n\r\n"), Ok(Framing::Length(4)));
        assert!(f("GET", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n").is_err());
        assert!(f("GET", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
        assert!(f("GET", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n").is_err());
    }

    #[test]
    fn length_bodies_stop_at_the_length() {
        let mut d = Decoder::new(Framing::Length(5));
        let mut buf = BytesMut::from("hel");
        assert_eq!(d.decode(&mut buf).unwrap().unwrap(), "hel");
        assert!(!d.is_done());
        assert!(d.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"loEXTRA");
        assert_eq!(d.decode(&mut buf).unwrap().unwrap(), "lo");
        assert!(d.is_done());
        assert_eq!(&buf[..], b"EXTRA", "bytes past the body stay (the connection is then not reused)");
        let mut d = Decoder::new(Framing::Length(5));
        assert!(d.eof().is_err(), "EOF before the length is an error");
    }

    #[test]
    fn chunked_bodies_in_any_pieces() {
        let wire: &[u8] = b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
        let (body, done) = decode_all(Framing::Chunked, &[wire]).unwrap();
        assert_eq!((body.as_slice(), done), (&b"hello 0123456789"[..], true));
        // Byte by byte.
        let pieces: Vec<&[u8]> = wire.chunks(1).collect();
        let (body, done) = decode_all(Framing::Chunked, &pieces).unwrap();
        assert_eq!((body.as_slice(), done), (&b"hello 0123456789"[..], true));
        // Bare LFs, no trailer.
        let (body, done) = decode_all(Framing::Chunked, &[b"3\nabc\n0\n\n"]).unwrap();
        assert_eq!((body.as_slice(), done), (&b"abc"[..], true));
    }

    #[test]
    fn the_end_of_a_chunked_body_is_seen_with_its_last_data() {
        let mut d = Decoder::new(Framing::Chunked);
        let mut buf = BytesMut::from("3\r\nabc\r\n0\r\n\r\n");
        assert_eq!(d.decode(&mut buf).unwrap().unwrap(), "abc");
        assert!(d.is_done());
        assert!(buf.is_empty());
    }

    #[test]
    fn malformed_chunked_bodies_are_errors() {
        for bad in [&b"x\r\n"[..], b"3\r\nabcX", b"3\rX", b"11111111111111111\r\n", b"\r\n"] {
            assert!(decode_all(Framing::Chunked, &[bad]).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut d = Decoder::new(Framing::Chunked);
        let mut buf = BytesMut::from("5\r\nab");
        d.decode(&mut buf).unwrap();
        assert!(d.eof().is_err(), "EOF inside a chunk");
    }

    #[test]
    fn close_delimited_bodies_end_at_eof() {
        let mut d = Decoder::new(Framing::Close);
        let mut buf = BytesMut::from("all of it");
        assert_eq!(d.decode(&mut buf).unwrap().unwrap(), "all of it");
        assert!(!d.is_done());
        assert!(d.eof().is_ok());
        assert!(d.is_done());
    }

    #[test]
    fn chunks_are_encoded_with_hex_sizes() {
        let mut out = Vec::new();
        encode_chunk(&mut out, b"0123456789abcdefXYZ");
        encode_chunk(&mut out, b"");
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(out, b"13\r\n0123456789abcdefXYZ\r\n0\r\n\r\n");
    }
}
