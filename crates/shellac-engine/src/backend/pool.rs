//! Connections to one backend address, shared by every VCL and fetch that uses the address:
//! keep-alive reuse, idle expiry (`backend_idle_timeout`: the registry's sweeper closes idle
//! connections past it, and those the backend closed, every second), the connect-error
//! hold-down (spec §4.6) and the connect timeout. A connection (`conn::Conn`) is driven by the
//! fetch that uses it; while its response body is read it is a [`Lease`], which returns it to
//! the pool when the body ended cleanly. At checkout an idle connection is checked for a close
//! by the backend, so one seen closed is never reused; the fetch retries once on a fresh
//! connection if a reused one fails before any response byte (spec §4.4).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::address::Address;
use super::codec::Decoder;
use super::conn::Conn;
use crate::backend::BusyGuard;
use crate::body::Body;
use crate::error::FetchError;
use crate::transport::Stream;

/// The connection pool of one address.
pub struct Pool {
    addr: Address,
    idle: Mutex<Vec<Idle>>,
    holddown_until: Mutex<Option<Instant>>,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// A connection in use by one fetch's response body, which it decodes. When the body was read
/// to the end the connection goes back to the pool (if both sides allow it); dropping the lease
/// before that closes the connection.
pub struct Lease {
    pool: Arc<Pool>,
    conn: Option<Conn>,
    decoder: Decoder,
    /// Why the body broke off, until the reader was told.
    broken: Option<String>,
    reusable: bool,
    busy: Option<BusyGuard>,
    /// Where the body's bytes as they come are counted (for the fetch's log).
    counted: Option<Arc<AtomicU64>>,
}

/// A connection handed out by [`Pool::checkout`].
pub struct Checkout {
    /// The connection.
    pub conn: Conn,
    /// Whether it served an earlier request.
    pub reused: bool,
    /// When it was handed out (the clock is read once per checkout; the first-byte timeout
    /// counts from here).
    pub at: Instant,
}

/// How long to refuse connects after errors, from the parameters.
#[derive(Clone, Copy, Debug)]
pub struct ConnectPolicy {
    /// Connect timeout.
    pub timeout: Duration,
    /// Idle connections older than this are not reused.
    pub idle_timeout: Duration,
    /// Hold-down after ECONNREFUSED/ENETUNREACH.
    pub remote_holddown: Duration,
    /// Hold-down after EACCES/EPERM/EADDRNOTAVAIL.
    pub local_holddown: Duration,
}

/// The most idle connections kept per address.
const MAX_IDLE: usize = 1024;

// === impl Pool ===

impl Pool {
    /// An empty pool for `addr`.
    pub fn new(addr: Address) -> Pool {
        Pool { addr, idle: Mutex::new(Vec::new()), holddown_until: Mutex::new(None) }
    }

    /// The backend's address.
    pub fn addr(&self) -> &Address {
        &self.addr
    }

    /// An idle open connection, else a new one.
    pub async fn checkout(&self, backend: &str, policy: &ConnectPolicy) -> Result<Checkout, FetchError> {
        let now = crate::clock::mono();
        loop {
            let popped = self.idle.lock().pop();
            let Some(mut idle) = popped else { break };
            if idle.keep(policy.idle_timeout, now) {
                return Ok(Checkout { conn: idle.conn, reused: true, at: now });
            }
        }
        self.checkout_fresh(backend, policy).await
    }

    /// A new connection, never an idle one.
    pub async fn checkout_fresh(&self, backend: &str, policy: &ConnectPolicy) -> Result<Checkout, FetchError> {
        let stream = self.open(backend, policy).await?;
        Ok(Checkout { conn: Conn::new(stream), reused: false, at: crate::clock::mono() })
    }

    /// A new connection on hyper's client with its own task and upgrade support, for pipe.
    pub async fn connect(&self, backend: &str, policy: &ConnectPolicy) -> Result<SendRequest<Body>, FetchError> {
        let stream = self.open(backend, policy).await?;
        let (sender, conn) =
            http1::Builder::new().handshake(TokioIo::new(stream)).await.map_err(|e| FetchError::Read(e.to_string()))?;
        tokio::spawn(async move {
            // Errors here surface to the request through the sender; nothing to do.
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    /// A connection, respecting the hold-down and the connect timeout.
    async fn open(&self, backend: &str, policy: &ConnectPolicy) -> Result<Stream, FetchError> {
        if let Some(until) = *self.holddown_until.lock() {
            if crate::clock::mono() < until {
                return Err(FetchError::Holddown(backend.to_string()));
            }
        }
        let stream = match tokio::time::timeout(policy.timeout, self.addr.connect()).await {
            Err(_) => {
                return Err(FetchError::Connect {
                    backend: backend.to_string(),
                    errno: 110,
                    reason: "Connection timed out".into(),
                })
            }
            Ok(Err(e)) => {
                self.hold_down(&e, policy);
                return Err(connect_error(backend, &e));
            }
            Ok(Ok(s)) => s,
        };
        Ok(stream)
    }

    /// Wraps a connection for one fetch's response body.
    pub fn lease(self: &Arc<Self>, conn: Conn, decoder: Decoder, reusable: bool, busy: Option<BusyGuard>) -> Lease {
        Lease { pool: self.clone(), conn: Some(conn), decoder, broken: None, reusable, busy, counted: None }
    }

    /// Closes the idle connections that sat longer than `idle_timeout` or that the backend
    /// closed meanwhile (so that none lingers in CLOSE_WAIT); returns how many it closed.
    pub fn sweep(&self, idle_timeout: Duration) -> usize {
        let mut idle = self.idle.lock();
        let before = idle.len();
        let now = crate::clock::mono();
        idle.retain_mut(|i| i.keep(idle_timeout, now));
        before - idle.len()
    }

    /// Closes every idle connection (nothing will use them soon: the backend left its
    /// director); connections in use are not affected.
    pub fn close_idle(&self) {
        // Taken under the lock, closed after it.
        drop(std::mem::take(&mut *self.idle.lock()));
    }

    /// How many idle connections it holds.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().len()
    }

    fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(Idle { conn, since: crate::clock::mono() });
        }
    }

    fn hold_down(&self, e: &io::Error, policy: &ConnectPolicy) {
        let d = match e.raw_os_error() {
            Some(111 | 101) => policy.remote_holddown,  // ECONNREFUSED, ENETUNREACH
            Some(13 | 1 | 99) => policy.local_holddown, // EACCES, EPERM, EADDRNOTAVAIL
            _ => Duration::ZERO,
        };
        if !d.is_zero() {
            *self.holddown_until.lock() = Some(crate::clock::mono() + d);
        }
    }
}

fn connect_error(backend: &str, e: &io::Error) -> FetchError {
    let errno = e.raw_os_error().unwrap_or(0);
    let reason = match e.kind() {
        io::ErrorKind::ConnectionRefused => "Connection refused".to_string(),
        _ => e.to_string(),
    };
    FetchError::Connect { backend: backend.to_string(), errno, reason }
}

// === impl Idle ===

impl Idle {
    /// Whether it may still be used: not idle past `idle_timeout`, not closed by the backend.
    fn keep(&mut self, idle_timeout: Duration, now: Instant) -> bool {
        now.saturating_duration_since(self.since) <= idle_timeout && self.conn.is_usable()
    }
}

// === impl Lease ===

impl Lease {
    /// The next piece of the response body, reading from the connection as needed; `None` at
    /// the end, after which the connection is back in the pool (or closed).
    pub fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, String>>> {
        let Some(conn) = self.conn.as_mut() else { return Poll::Ready(self.broken.take().map(Err)) };
        loop {
            match self.decoder.decode(conn.buffer()) {
                Ok(Some(data)) => {
                    if let Some(b) = &self.busy {
                        b.backend().stats.add(crate::stats::Vbe::BerespBodybytes, data.len() as u64);
                    }
                    if let Some(c) = &self.counted {
                        c.fetch_add(data.len() as u64, Ordering::Relaxed);
                    }
                    if self.decoder.is_done() {
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(data)));
                }
                Ok(None) if self.decoder.is_done() => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(self.break_off(e)))),
            }
            match std::task::ready!(conn.poll_fill(cx)) {
                // EOF ends a close-delimited body; anything else was cut short.
                Ok(0) => {
                    self.conn = None;
                    return Poll::Ready(self.decoder.eof().err().map(|e| Err(self.break_off(e))));
                }
                Ok(_) => {}
                Err(e) => return Poll::Ready(Some(Err(self.break_off(e.to_string())))),
            }
        }
    }

    /// Counts the body's bytes into `counter` as they come (`BereqAcct`: what the backend sent,
    /// before any filter).
    pub fn count_into(&mut self, counter: Arc<AtomicU64>) {
        self.counted = Some(counter);
    }

    /// The name of the backend it reads from.
    pub fn backend_name(&self) -> Option<&str> {
        self.busy.as_ref().map(|b| b.backend().name.as_str())
    }

    /// Whether the body was read to the end (or broke off and said so).
    pub fn is_done(&self) -> bool {
        (self.conn.is_none() && self.broken.is_none()) || self.decoder.is_done()
    }

    /// Closes the connection; the error is returned now and once more to the next poll (a
    /// first look without a reader must not hide it from the reader).
    fn break_off(&mut self, e: String) -> String {
        self.conn = None;
        self.broken = Some(e.clone());
        e
    }

    /// How many body bytes are still to come, when the framing says.
    pub fn remaining(&self) -> Option<u64> {
        if self.is_done() {
            Some(0)
        } else {
            self.decoder.remaining()
        }
    }

    /// The body is complete: keep the connection if both sides allow it and nothing unexpected
    /// follows the response.
    fn finish(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if self.reusable && conn.buffer().is_empty() {
                conn.spend_readiness();
                conn.release_buffer();
                self.pool.put(conn);
            }
        }
    }
}
