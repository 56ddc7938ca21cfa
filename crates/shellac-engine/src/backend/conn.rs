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

use bytes::BytesMut;
use http_body::Body as _;
use tokio::io::{AsyncWriteExt as _, Interest};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::codec::{self, Head, ReqFraming};
use crate::body::Body;
use crate::deadline::Deadline;

/// The largest response head accepted (Varnish's `http_resp_size` default).
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// How much the read buffer grows by.
const READ_CHUNK: usize = 8 * 1024;

/// Buffered request bytes are written out past this size.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// A connection to a backend.
pub struct Conn {
    wire: Wire,
    first_byte: Deadline,
}

/// Why an exchange failed.
#[derive(Debug)]
pub enum ExchangeError {
    /// No response head within the first-byte timeout.
    Timeout,
    /// Writing or reading failed, or the head was malformed (the text says which).
    Failed(String),
}

/// The socket and its buffers.
struct Wire {
    io: TcpStream,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
}

impl Conn {
    /// Wraps a connected socket.
    pub fn new(io: TcpStream) -> Conn {
        Conn { wire: Wire { io, rbuf: BytesMut::new(), wbuf: Vec::new() }, first_byte: Deadline::new(Instant::now()) }
    }

    /// Sends a request (its head as `head` writes it, [`codec::encode_head`] for `framing`,
    /// then `body`) and reads the response head, all within `first_byte` from `start`. The head
    /// is written into the connection's own buffer: no allocation per request.
    pub async fn exchange(
        &mut self,
        head: impl FnOnce(&mut Vec<u8>),
        framing: ReqFraming,
        body: Body,
        max_headers: usize,
        start: Instant,
        first_byte: Duration,
    ) -> Result<Head, ExchangeError> {
        let Conn { wire, first_byte: deadline } = self;
        deadline.set(start + first_byte);
        let mut exchange = std::pin::pin!(wire.exchange(head, framing, body, max_headers));
        poll_fn(|cx| {
            if let Poll::Ready(r) = exchange.as_mut().poll(cx) {
                return Poll::Ready(r.map_err(ExchangeError::Failed));
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
    async fn exchange(
        &mut self,
        head: impl FnOnce(&mut Vec<u8>),
        framing: ReqFraming,
        body: Body,
        max_headers: usize,
    ) -> Result<Head, String> {
        self.wbuf.clear();
        head(&mut self.wbuf);
        if framing == ReqFraming::Empty {
            // Most requests: the head alone.
            self.flush().await?;
        } else {
            self.write_body(framing, body).await?;
        }
        // A large upload's (or head's) buffer is not kept for the life of the connection.
        if self.wbuf.capacity() > 2 * READ_CHUNK {
            self.wbuf = Vec::new();
        }
        self.read_head(max_headers).await
    }

    /// Writes the buffered head and then `body` with `framing` (never `Empty`).
    async fn write_body(&mut self, framing: ReqFraming, mut body: Body) -> Result<(), String> {
        let mut sent: u64 = 0;
        loop {
            // Take what the body has at once; write out what is buffered before waiting.
            let now = Pin::new(&mut body).poll_frame(&mut Context::from_waker(Waker::noop()));
            let next = match now {
                Poll::Ready(f) => f,
                Poll::Pending => {
                    self.flush().await?;
                    poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
                }
            };
            let Some(frame) = next else { break };
            let frame = frame.map_err(|e| format!("request body: {e}"))?;
            let Ok(data) = frame.into_data() else { continue };
            sent += data.len() as u64;
            match framing {
                ReqFraming::Length(n) if sent > n => return Err("request body longer than its length".into()),
                ReqFraming::Chunked => codec::encode_chunk(&mut self.wbuf, &data),
                _ => self.wbuf.extend_from_slice(&data),
            }
            if self.wbuf.len() >= WRITE_HIGH_WATER {
                self.flush().await?;
            }
        }
        match framing {
            ReqFraming::Length(n) if sent != n => return Err("request body shorter than its length".into()),
            ReqFraming::Chunked => self.wbuf.extend_from_slice(codec::LAST_CHUNK),
            _ => {}
        }
        self.flush().await
    }

    async fn flush(&mut self) -> Result<(), String> {
        if !self.wbuf.is_empty() {
            self.io.write_all(&self.wbuf).await.map_err(|e| format!("write: {e}"))?;
            self.wbuf.clear();
        }
        Ok(())
    }

    async fn read_head(&mut self, max_headers: usize) -> Result<Head, String> {
        loop {
            if !self.rbuf.is_empty() {
                let before = self.rbuf.len();
                let parsed = codec::parse_head(&mut self.rbuf, max_headers)?;
                if before - self.rbuf.len() > MAX_HEAD_BYTES {
                    return Err(format!("response head larger than {MAX_HEAD_BYTES} bytes"));
                }
                match parsed {
                    // 100 Continue and the like: the final response follows.
                    Some(head) if (100..200).contains(&head.status) && head.status != 101 => continue,
                    Some(head) => return Ok(head),
                    None if self.rbuf.len() > MAX_HEAD_BYTES => {
                        return Err(format!("response head larger than {MAX_HEAD_BYTES} bytes"))
                    }
                    None => {}
                }
            }
            let n = poll_fn(|cx| self.poll_fill(cx)).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err(if self.rbuf.is_empty() {
                    "backend closed the connection before responding".into()
                } else {
                    "backend closed the connection in the response head".into()
                });
            }
        }
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
