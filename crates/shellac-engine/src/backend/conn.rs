//! One keep-alive HTTP/1.1 connection to a backend, driven by the fetch that holds it (no task
//! of its own, no channel between the fetch and the socket): it writes a request head and body,
//! reads the response head (skipping 1xx), and fills the read buffer that the body decoder
//! (`codec::Decoder`) consumes. Whether an idle connection is still usable is read from the
//! runtime's readiness (the mark of a response's own bytes is cleared when it ends), with a
//! read only when the backend sent or closed something while the connection was idle.

use std::future::{poll_fn, Future as _};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::transport::Stream;
use bytes::BytesMut;
use http_body::Body as _;
use tokio::io::{AsyncWrite as _, AsyncWriteExt as _, Interest};
use tokio::time::Instant;

use super::codec::{self, Head, HeadLimits, ReqFraming};
use crate::body::{Body, BodyError};
use crate::deadline::Deadline;

/// How much the read buffer grows by.
const READ_CHUNK: usize = 8 * 1024;

/// Buffered request bytes are written out past this size.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// A connection to a backend.
pub struct Conn {
    wire: Wire,
    first_byte: Deadline,
    /// `BackendOpen`'s fields for it, made the first time it is logged (asking the socket for
    /// both ends takes two system calls; they do not change).
    open_fields: std::sync::OnceLock<Box<str>>,
}

/// Why an exchange failed.
#[derive(Debug)]
pub enum ExchangeError {
    /// No response head within the first-byte timeout.
    Timeout,
    /// Writing or reading failed, or the head was malformed (the text says which).
    Failed(String),
}

/// `from + d`, or never for a zero timeout (0 means none, as in varnishd).
fn after(from: Instant, d: Duration) -> Instant {
    if d.is_zero() {
        from + Duration::from_secs(100 * 365 * 86_400)
    } else {
        from + d
    }
}

/// The timeouts of one exchange (zero: none).
#[derive(Clone, Copy, Debug)]
pub struct ExchangeTimeouts {
    /// From the end of the request to the response head (`first_byte_timeout`).
    pub first_byte: Duration,
    /// The longest the backend may take none of a request body (`between_bytes_timeout`).
    pub send_idle: Duration,
}

/// A response head, and whether the whole request went out before it.
#[derive(Debug)]
pub struct Exchanged {
    /// The head.
    pub head: Head,
    /// False when the backend answered before the request body was sent in full: the
    /// connection cannot be reused.
    pub request_sent: bool,
    /// Request body bytes sent.
    pub body_sent: u64,
}

/// After an answer that came before the request body was sent, the longest the backend may take
/// none of the rest before the rest is given up (a backend that answered and stopped reading).
const EARLY_STALL: Duration = Duration::from_secs(1);

/// A request body being sent.
struct Send {
    body: Body,
    framing: ReqFraming,
    /// A final response head that came before the body was sent in full.
    early: Option<Head>,
    /// Body bytes taken so far.
    sent: u64,
    /// Bytes of the write buffer already written.
    written: usize,
    /// Whether the body (and its last chunk) is in the write buffer.
    done: bool,
}

/// The socket and its buffers.
struct Wire {
    io: Stream,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
}

impl Conn {
    /// The socket's descriptor (`BackendClose`'s first field).
    pub fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.wire.io.as_raw_fd()
    }

    /// `BackendOpen`'s fields but the backend's name: the socket's descriptor, then the
    /// backend's address and port and the local address and port (made once a connection).
    pub fn open_fields(&self) -> (&str, &str) {
        use std::os::fd::AsRawFd;
        let fields = self.open_fields.get_or_init(|| {
            let fd = self.wire.io.as_raw_fd();
            match self.wire.io.ends() {
                Some(ends) => format!("{fd} {ends}"),
                None => format!("{fd} - - - -"),
            }
            .into()
        });
        fields.split_once(' ').unwrap_or((fields, ""))
    }

    /// Wraps a connected socket.
    pub fn new(io: Stream) -> Conn {
        Conn {
            wire: Wire { io, rbuf: BytesMut::new(), wbuf: Vec::new() },
            first_byte: Deadline::new(Instant::now()),
            open_fields: std::sync::OnceLock::new(),
        }
    }

    /// Sends a request (its head as `head` writes it, [`codec::encode_head`] for `framing`,
    /// then `body`) and reads the response head. The head is written into the connection's own
    /// buffer: no allocation per request.
    ///
    /// The first-byte timeout counts from when the whole request has been sent: from `start`
    /// for a request without a body (its head goes out at once), from the end of the body
    /// otherwise (spec §4.2: a slow upload is not a slow backend). While a body is sent, the
    /// backend must take some of it within `timeouts.send_idle`, and may answer early: an error
    /// answer is taken at once and the rest of the body is not sent ([`Exchanged::request_sent`]
    /// is false, and the connection is not reused); see `Wire::poll_send`.
    pub async fn exchange(
        &mut self,
        head: impl FnOnce(&mut Vec<u8>),
        framing: ReqFraming,
        body: Body,
        limits: HeadLimits,
        start: Instant,
        timeouts: ExchangeTimeouts,
    ) -> Result<Exchanged, ExchangeError> {
        let Conn { wire, first_byte: deadline, .. } = self;
        wire.wbuf.clear();
        head(&mut wire.wbuf);
        let mut body_sent = 0;
        if framing != ReqFraming::Empty {
            let mut send = Send { body, framing, early: None, sent: 0, written: 0, done: false };
            deadline.set(after(Instant::now(), timeouts.send_idle));
            let early = poll_fn(|cx| wire.poll_send(cx, &mut send, limits, deadline, timeouts.send_idle)).await;
            // A large upload's (or head's) buffer is not kept for the life of the connection.
            if wire.wbuf.capacity() > 2 * READ_CHUNK {
                wire.wbuf = Vec::new();
            }
            body_sent = send.sent;
            match early? {
                Some(answered) => return Ok(answered),
                None => deadline.set(after(Instant::now(), timeouts.first_byte)),
            }
        } else {
            deadline.set(after(start, timeouts.first_byte));
        }
        let mut exchange = std::pin::pin!(async {
            wire.flush().await?;
            wire.read_head(limits).await
        });
        poll_fn(|cx| {
            if let Poll::Ready(r) = exchange.as_mut().poll(cx) {
                return Poll::Ready(
                    r.map(|head| Exchanged { head, request_sent: true, body_sent }).map_err(ExchangeError::Failed),
                );
            }
            deadline.poll_expired(cx).map(|()| Err(ExchangeError::Timeout))
        })
        .await
    }

    /// Reads more into the buffer; `Ok(0)` at EOF.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.wire.poll_fill(cx)
    }

    /// The bytes read and not yet consumed.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.wire.rbuf
    }

    /// The response was read to its end: the readable mark left by its last bytes is spent, and
    /// is cleared here without a syscall, so that a mark seen at the next checkout means the
    /// backend sent or closed something while the connection sat idle. (A close stays marked:
    /// the runtime never clears closed states.)
    pub fn spend_readiness(&self) {
        let _ = self.wire.io.try_io(Interest::READABLE, || Err::<(), _>(io::ErrorKind::WouldBlock.into()));
    }

    /// The response was read to its end and the connection goes idle: its read buffer (whose
    /// memory the response's head and body may still share) is let go rather than kept for the
    /// next response, which then reads into memory the allocator has just had back: warm in the
    /// cache even when many connections take turns (round robin over many backends), and no
    /// buffer held per idle connection.
    pub fn release_buffer(&mut self) {
        self.wire.rbuf = BytesMut::new();
    }

    /// Whether an idle connection can take a request: nothing left unread, and no sign that the
    /// backend closed it (or sent anything) while it sat idle.
    pub fn is_usable(&mut self) -> bool {
        let wire = &mut self.wire;
        if !wire.rbuf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match wire.io.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readable: EOF, unsolicited bytes, or a mark the last response left.
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(wire.io.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }
}

impl Wire {
    /// Sends the buffered head and the body, watching for an early response: `Ok(None)` once
    /// all was written and no answer came yet. An answer that comes first is returned at once
    /// when it is an error status or closes the connection (the backend refused the upload);
    /// otherwise the rest of the body is still sent while the backend takes it (a backend may
    /// answer early and go on reading, and varnishd would have sent it all), and given up after
    /// [`EARLY_STALL`] without progress.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        send: &mut Send,
        limits: HeadLimits,
        idle: &mut Deadline,
        send_idle: Duration,
    ) -> Poll<Result<Option<Exchanged>, ExchangeError>> {
        loop {
            if send.early.is_none() {
                match self.poll_head(cx, limits) {
                    // A refusal (413, 401, …) or an answer that closes: the rest would be wasted.
                    Poll::Ready(Ok(head)) if head.status >= 400 || !head.keep_alive() => {
                        return Poll::Ready(Ok(Some(Exchanged { head, request_sent: false, body_sent: send.sent })));
                    }
                    Poll::Ready(Ok(head)) => {
                        send.early = Some(head);
                        idle.set(Instant::now() + EARLY_STALL);
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(ExchangeError::Failed(e))),
                    Poll::Pending => {}
                }
            }
            if send.written < self.wbuf.len() {
                match Pin::new(&mut self.io).poll_write(cx, &self.wbuf[send.written..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(ExchangeError::Failed("write: connection closed".into())))
                    }
                    Poll::Ready(Ok(n)) => {
                        send.written += n;
                        let allowed = if send.early.is_some() { EARLY_STALL } else { send_idle };
                        idle.set(after(Instant::now(), allowed));
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        // A backend that answered and closed: its answer may be waiting.
                        let head = match send.early.take() {
                            Some(head) => Some(head),
                            None => self.take_head(limits).ok().flatten(),
                        };
                        return Poll::Ready(match head {
                            Some(head) => Ok(Some(Exchanged { head, request_sent: false, body_sent: send.sent })),
                            None => Err(ExchangeError::Failed(format!("write: {e}"))),
                        });
                    }
                    Poll::Pending => {
                        return idle.poll_expired(cx).map(|()| match send.early.take() {
                            // It answered and stopped reading: the rest is given up.
                            Some(head) => Ok(Some(Exchanged { head, request_sent: false, body_sent: send.sent })),
                            None => Err(ExchangeError::Failed(format!(
                                "the backend took no request body bytes for {send_idle:?} (between_bytes_timeout)"
                            ))),
                        });
                    }
                }
            }
            self.wbuf.clear();
            send.written = 0;
            if send.done {
                // All sent: an early answer is an answer like any other.
                return Poll::Ready(Ok(send.early.take().map(|head| Exchanged {
                    head,
                    request_sent: true,
                    body_sent: send.sent,
                })));
            }
            // More of the body: what it has now, up to the high-water mark.
            while self.wbuf.len() < WRITE_HIGH_WATER {
                match Pin::new(&mut send.body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        let Ok(data) = frame.into_data() else { continue };
                        send.sent += data.len() as u64;
                        match send.framing {
                            ReqFraming::Length(n) if send.sent > n => {
                                return Poll::Ready(Err(ExchangeError::Failed(
                                    "request body longer than its length".into(),
                                )))
                            }
                            ReqFraming::Chunked => codec::encode_chunk(&mut self.wbuf, &data),
                            _ => self.wbuf.extend_from_slice(&data),
                        }
                    }
                    Poll::Ready(Some(Err(e))) => {
                        let why = match e {
                            BodyError::Timeout => "the client sent nothing for timeout_idle".to_string(),
                            e => e.to_string(),
                        };
                        return Poll::Ready(Err(ExchangeError::Failed(format!("request body: {why}"))));
                    }
                    Poll::Ready(None) => {
                        match send.framing {
                            ReqFraming::Length(n) if send.sent != n => {
                                return Poll::Ready(Err(ExchangeError::Failed(
                                    "request body shorter than its length".into(),
                                )))
                            }
                            ReqFraming::Chunked => self.wbuf.extend_from_slice(codec::LAST_CHUNK),
                            _ => {}
                        }
                        send.done = true;
                        break;
                    }
                    // The client's next bytes wake us; its own idle timeout is the body's.
                    Poll::Pending if self.wbuf.is_empty() => return Poll::Pending,
                    Poll::Pending => break,
                }
            }
        }
    }

    /// Reads until a final response head is complete (1xx skipped).
    fn poll_head(&mut self, cx: &mut Context<'_>, limits: HeadLimits) -> Poll<Result<Head, String>> {
        loop {
            if let Some(head) = self.take_head(limits)? {
                return Poll::Ready(Ok(head));
            }
            match std::task::ready!(self.poll_fill(cx)) {
                Ok(0) => {
                    return Poll::Ready(Err(if self.rbuf.is_empty() {
                        "backend closed the connection before responding".into()
                    } else {
                        "backend closed the connection in the response head".into()
                    }))
                }
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(e.to_string())),
            }
        }
    }

    /// A final response head from what was read, if it is complete; 1xx heads are skipped.
    fn take_head(&mut self, limits: HeadLimits) -> Result<Option<Head>, String> {
        while !self.rbuf.is_empty() {
            let before = self.rbuf.len();
            let parsed = codec::parse_head(&mut self.rbuf, limits)?;
            if before - self.rbuf.len() > limits.bytes {
                return Err(format!("response head larger than {} bytes", limits.bytes));
            }
            match parsed {
                // 100 Continue and the like: the final response follows.
                Some(head) if (100..200).contains(&head.status) && head.status != 101 => continue,
                Some(head) => return Ok(Some(head)),
                None if self.rbuf.len() > limits.bytes => {
                    return Err(format!("response head larger than {} bytes", limits.bytes))
                }
                None => break,
            }
        }
        Ok(None)
    }

    async fn flush(&mut self) -> Result<(), String> {
        if !self.wbuf.is_empty() {
            self.io.write_all(&self.wbuf).await.map_err(|e| format!("write: {e}"))?;
            self.wbuf.clear();
        }
        Ok(())
    }

    async fn read_head(&mut self, limits: HeadLimits) -> Result<Head, String> {
        poll_fn(|cx| self.poll_head(cx, limits)).await
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
            self.rbuf.reserve(READ_CHUNK);
        }
        loop {
            match self.io.try_read_buf(&mut self.rbuf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(e) = std::task::ready!(self.io.poll_read_ready(cx)) {
                        return Poll::Ready(Err(e));
                    }
                }
                r => return Poll::Ready(r),
            }
        }
    }
}
