//! The one message body type of the data path, for responses to clients and requests to
//! backends: empty, a buffer (synthetic pages, buffered fetches), or a stream read from the other
//! side (a client's request body, or a backend response through its pool [`Lease`]) with a
//! between-bytes timeout and a size limit, or a stored object's body (read from the store as its
//! fetch fills it). When a backend response stream ends cleanly, its
//! connection goes back to the pool; when it stalls or breaks, the stream errors, so hyper aborts
//! the client connection and the client sees a truncated body (spec §4.2).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use shellac_cache::body::Cursor;
use shellac_cache::Object;

use crate::backend::pool::Lease;
use crate::gzip::{Codec, GzipError};

/// A message body.
pub struct Body {
    kind: Kind,
}

enum Kind {
    Empty,
    Full(Option<Bytes>),
    /// A stored object's body, read from its first byte while its fetch may still fill it.
    Object(Arc<Object>, Cursor),
    Stream(Box<Stream>),
    Filtered(Box<Filtered>),
    Logged(Box<Logged>),
    Range(Box<Ranged>),
}

/// A byte range of a body: `skip` bytes dropped, then `left` bytes given.
struct Ranged {
    inner: Body,
    skip: u64,
    left: u64,
}

/// A response body that reports, once, how many bytes it gave: when it ends, fails, or is
/// dropped unread (the request's log is committed then, with `Timestamp Resp` and `ReqAcct`).
struct Logged {
    inner: Body,
    sent: u64,
    end: Option<Box<dyn FnOnce(u64) + Send + Sync>>,
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(end) = self.end.take() {
            end(self.sent);
        }
    }
}

/// A body run through a codec (gzip, gunzip, the gzip test).
struct Filtered {
    inner: Body,
    codec: Codec,
    /// The codec has finished (or failed): nothing more comes out.
    done: bool,
}

struct Stream {
    first: Option<Bytes>,
    source: Source,
    /// For a backend response: the URL fetched, named with the backend when the body breaks
    /// off.
    url: Option<Box<str>>,
    between_bytes: Option<Duration>,
    timer: Option<Pin<Box<Sleep>>>,
    limit: u64,
    seen: u64,
    /// A client's request body: its connection's tally, told of its bytes when it ends or is
    /// dropped (varnishd counts none of a body that broke off), or that it broke off.
    tally: Option<Arc<crate::tally::Tally>>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        // (A reader that took the declared length need not poll for the end.)
        if let Some(t) = self.tally.take() {
            t.body_in(self.seen);
        }
    }
}

/// Where a stream reads from.
enum Source {
    /// Read by hyper: a client's request body, a piped response.
    Incoming(Incoming),
    /// A backend response body on a pooled connection.
    Backend(Lease),
    /// Ended by an error.
    Broken,
}

/// Why a streamed body ended early.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Nothing arrived within between_bytes_timeout.
    #[error("between bytes timeout")]
    Timeout,
    /// More than the allowed size.
    #[error("body larger than {0} bytes")]
    TooLarge(u64),
    /// The client broke off.
    #[error("{0}")]
    Io(#[from] hyper::Error),
    /// The backend broke off or sent a malformed body.
    #[error("{0}")]
    Backend(String),
    /// A body that says it is gzip and is not.
    #[error("{0}")]
    Gzip(#[from] GzipError),
}

// === impl Body ===

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body { kind: Kind::Empty }
    }

    /// A complete body.
    pub fn full(bytes: impl Into<Bytes>) -> Body {
        let b: Bytes = bytes.into();
        if b.is_empty() {
            return Body::empty();
        }
        Body { kind: Kind::Full(Some(b)) }
    }

    /// A body hyper reads (a piped response); `limit` 0 means unlimited.
    pub fn incoming(inner: Incoming, between_bytes: Option<Duration>, limit: u64) -> Body {
        Body::streamed(None, Source::Incoming(inner), between_bytes, limit, None)
    }

    /// A client's request body, as [`Body::incoming`], its bytes counted by the connection's
    /// `tally` (`s_req_bodybytes`) once all of it is read; one that breaks off tells the
    /// tally so (`RX_BODY`).
    pub fn request(
        inner: Incoming,
        between_bytes: Option<Duration>,
        limit: u64,
        tally: Arc<crate::tally::Tally>,
    ) -> Body {
        let mut body = Body::incoming(inner, between_bytes, limit);
        if let Kind::Stream(s) = &mut body.kind {
            s.tally = Some(tally);
        }
        body
    }

    /// A backend response body for `url`, of which `first` was already read; the lease's
    /// connection goes back to its pool when the body ends cleanly. If it breaks off (reset,
    /// short, between-bytes timeout), one log line names the backend, the URL and the cause.
    pub fn backend(first: Option<Bytes>, lease: Lease, between_bytes: Option<Duration>, url: &str) -> Body {
        Body::streamed(first.filter(|b| !b.is_empty()), Source::Backend(lease), between_bytes, 0, Some(url.into()))
    }

    /// The body of a stored object (complete or still filling), from its first byte.
    pub fn object(obj: Arc<Object>) -> Body {
        Body { kind: Kind::Object(obj, Cursor::default()) }
    }

    fn streamed(
        first: Option<Bytes>,
        source: Source,
        between_bytes: Option<Duration>,
        limit: u64,
        url: Option<Box<str>>,
    ) -> Body {
        let stream = Stream { first, source, url, between_bytes, timer: None, limit, seen: 0, tally: None };
        Body { kind: Kind::Stream(Box::new(stream)) }
    }

    /// This body run through `codec` as it is read.
    pub fn filtered(self, codec: Codec) -> Body {
        Body { kind: Kind::Filtered(Box::new(Filtered { inner: self, codec, done: false })) }
    }

    /// The `len` bytes of this body from byte `start` (a `Range` request's).
    pub fn range(self, start: u64, len: u64) -> Body {
        Body { kind: Kind::Range(Box::new(Ranged { inner: self, skip: start, left: len })) }
    }

    /// This body, calling `end` with the bytes it gave once it ends, fails, or goes unread.
    pub fn logged(self, end: Box<dyn FnOnce(u64) + Send + Sync>) -> Body {
        Body { kind: Kind::Logged(Box::new(Logged { inner: self, sent: 0, end: Some(end) })) }
    }

    /// The bytes of a complete body not read yet, taken (an empty body gives empty bytes);
    /// `None` for any other body, left as it was.
    pub fn take_full(&mut self) -> Option<Bytes> {
        match &mut self.kind {
            Kind::Empty => Some(Bytes::new()),
            Kind::Full(b) => Some(b.take().unwrap_or_default()),
            _ => None,
        }
    }

    /// For a body run through a codec that has read all of it: the length of the body unpacked
    /// (see [`Codec::plain_len`]).
    pub fn plain_len(&self) -> Option<u64> {
        match &self.kind {
            Kind::Filtered(f) if f.done => f.codec.plain_len(),
            _ => None,
        }
    }

    /// Whether a fetch may send this body again (retries, the silent retry on a reused
    /// connection).
    pub fn try_clone(&self) -> Option<Body> {
        match &self.kind {
            Kind::Empty => Some(Body::empty()),
            Kind::Full(b) => Some(Body { kind: Kind::Full(b.clone()) }),
            Kind::Object(..) | Kind::Stream(_) | Kind::Filtered(_) | Kind::Logged(_) | Kind::Range(_) => None,
        }
    }

    /// Reads the whole body (`do_stream = false`), keeping the timeouts.
    pub async fn collect(self) -> Result<Bytes, BodyError> {
        self.collect_plain_len().await.map(|(b, _)| b)
    }

    /// Reads the whole body, and says its length unpacked if it ran through a codec that
    /// knows it (see [`Body::plain_len`]).
    pub async fn collect_plain_len(mut self) -> Result<(Bytes, Option<u64>), BodyError> {
        let mut out = bytes::BytesMut::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut self).poll_frame_inner(cx)).await {
            if let Ok(data) = frame?.into_data() {
                out.extend_from_slice(&data);
            }
        }
        Ok((out.freeze(), self.plain_len()))
    }

    fn poll_frame_inner(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Kind::Object(obj, cursor) => {
                obj.body.poll_chunk(cursor, cx).map(|c| c.map(|c| c.map(Frame::data).map_err(BodyError::Backend)))
            }
            Kind::Stream(s) => s.poll(cx),
            Kind::Filtered(f) => f.poll(cx),
            Kind::Range(r) => r.poll(cx),
            Kind::Logged(l) => {
                let polled = l.inner.poll_frame_inner(cx);
                match &polled {
                    Poll::Ready(Some(Ok(frame))) => l.sent += frame.data_ref().map_or(0, |d| d.len() as u64),
                    Poll::Ready(_) => {
                        if let Some(end) = l.end.take() {
                            end(l.sent);
                        }
                    }
                    Poll::Pending => {}
                }
                polled
            }
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.get_mut().poll_frame_inner(cx)
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(b) => b.is_none(),
            // (Read to the end: hyper ends the answer with its last chunk, not with one more
            // poll.)
            Kind::Object(obj, cursor) => obj.body.is_read(cursor),
            Kind::Stream(s) => s.first.is_none() && s.source.is_end_stream(),
            Kind::Filtered(f) => f.done,
            Kind::Range(r) => r.left == 0,
            Kind::Logged(l) => l.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Range(r) => SizeHint::with_exact(r.left),
            // The object's headers carry its length when the backend gave one.
            Kind::Object(..) => SizeHint::new(),
            Kind::Stream(s) => {
                let extra = s.first.as_ref().map_or(0, |b| b.len() as u64);
                let inner = s.source.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower() + extra);
                if let Some(u) = inner.upper() {
                    hint.set_upper(u + extra);
                }
                hint
            }
            Kind::Filtered(_) => SizeHint::new(),
            Kind::Logged(l) => l.inner.size_hint(),
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Empty => f.write_str("Body::Empty"),
            Kind::Full(b) => write!(f, "Body::Full({})", b.as_ref().map_or(0, Bytes::len)),
            Kind::Object(..) => f.write_str("Body::Object"),
            Kind::Stream(_) => f.write_str("Body::Stream"),
            Kind::Filtered(x) => write!(f, "Body::Filtered({:?}, {:?})", x.codec, x.inner),
            Kind::Logged(x) => write!(f, "Body::Logged({:?})", x.inner),
            Kind::Range(x) => write!(f, "Body::Range({}+{}, {:?})", x.skip, x.left, x.inner),
        }
    }
}

// === impl Filtered ===

impl Filtered {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            let out = match std::task::ready!(self.inner.poll_frame_inner(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.codec.push(data),
                    Err(other) => return Poll::Ready(Some(Ok(other))),
                },
                Some(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    self.done = true;
                    self.codec.finish()
                }
            };
            match out {
                Ok(data) if data.is_empty() => continue,
                Ok(data) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                Err(e) => {
                    tracing::info!("{e} ({:?})", self.codec);
                    self.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

// === impl Stream ===

impl Stream {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        let polled = match &mut self.source {
            Source::Incoming(inner) => Pin::new(inner).poll_frame(cx).map_err(BodyError::from),
            Source::Backend(lease) => {
                lease.poll_data(cx).map(|d| d.map(|d| d.map(Frame::data).map_err(BodyError::Backend)))
            }
            Source::Broken => Poll::Ready(None),
        };
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.seen += data.len() as u64;
                    if self.limit > 0 && self.seen > self.limit {
                        self.broke_off(&BodyError::TooLarge(self.limit));
                        return Poll::Ready(Some(Err(BodyError::TooLarge(self.limit))));
                    }
                }
                self.timer = None;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.broke_off(&e);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                if let Some(t) = self.tally.take() {
                    t.body_in(self.seen);
                }
                Poll::Ready(None)
            }
            Poll::Pending => {
                let Some(d) = self.between_bytes else { return Poll::Pending };
                let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + d)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        // Dropping the lease closes the backend connection.
                        self.broke_off(&BodyError::Timeout);
                        Poll::Ready(Some(Err(BodyError::Timeout)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    /// The stream ends in an error: a backend's is logged (once: the source is gone after); a
    /// client's request body's is told to its connection's tally.
    fn broke_off(&mut self, e: &BodyError) {
        if let Some(t) = self.tally.take() {
            t.body_failed();
        }
        if let (Source::Backend(lease), Some(url)) = (&self.source, &self.url) {
            let backend = lease.backend_name().unwrap_or("-");
            tracing::warn!(backend = %backend, url = %url, "backend response body cut short after {} bytes: {e}", self.seen);
        }
        self.source = Source::Broken;
    }
}

// === impl Source ===

impl Source {
    fn is_end_stream(&self) -> bool {
        match self {
            Source::Incoming(inner) => inner.is_end_stream(),
            Source::Backend(lease) => lease.is_done(),
            Source::Broken => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Source::Incoming(inner) => inner.size_hint(),
            Source::Backend(lease) => match lease.remaining() {
                Some(n) => SizeHint::with_exact(n),
                None => SizeHint::new(),
            },
            Source::Broken => SizeHint::with_exact(0),
        }
    }
}

// === impl Ranged ===

impl Ranged {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        while self.left > 0 {
            let Some(frame) = std::task::ready!(self.inner.poll_frame_inner(cx)) else {
                return Poll::Ready(None);
            };
            let mut data = match frame?.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            };
            let n = data.len() as u64;
            if self.skip >= n {
                self.skip -= n;
                continue;
            }
            let _ = data.split_to(self.skip as usize);
            self.skip = 0;
            if data.len() as u64 > self.left {
                data.truncate(self.left as usize);
            }
            self.left -= data.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(None)
    }
}
