//! Connections to one backend address, shared by every VCL and fetch that uses the address:
//! keep-alive reuse, idle expiry (`backend_idle_timeout`: the registry's sweeper closes idle
//! connections past it, and those the backend closed, every second), the connect-error
//! hold-down (spec §4.6) and the connect timeout. A connection's I/O is driven by the request
//! that uses it (no task of its own: no hand-offs between tasks per request); at checkout it is
//! polled once, so one the backend closed while idle is seen closed and never reused; the fetch
//! retries once on a fresh connection if a reused one fails before any response byte (spec
//! §4.4).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::backend::BusyGuard;
use crate::body::Body;
use crate::error::FetchError;

/// The connection pool of one address.
pub struct Pool {
    addr: SocketAddr,
    idle: Mutex<Vec<Idle>>,
    holddown_until: Mutex<Option<Instant>>,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// One HTTP/1.1 connection: the request handle and the I/O driver, polled by whoever uses it.
pub struct Conn {
    sender: SendRequest<Body>,
    driver: Pin<Box<Connection<TokioIo<TcpStream>, Body>>>,
    ended: bool,
}

/// A connection in use by one fetch's response body. Dropping it closes the connection (the
/// response was not read to the end); [`Lease::recycle`] returns it to the pool.
pub struct Lease {
    pool: Arc<Pool>,
    conn: Option<Conn>,
    reusable: bool,
    _busy: Option<BusyGuard>,
}

/// A connection handed out by [`Pool::checkout`].
pub struct Checkout {
    /// The connection.
    pub conn: Conn,
    /// Whether it served an earlier request.
    pub reused: bool,
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
    pub fn new(addr: SocketAddr) -> Pool {
        Pool { addr, idle: Mutex::new(Vec::new()), holddown_until: Mutex::new(None) }
    }

    /// An idle open connection, else a new one.
    pub async fn checkout(&self, backend: &str, policy: &ConnectPolicy) -> Result<Checkout, FetchError> {
        loop {
            let popped = self.idle.lock().pop();
            let Some(mut idle) = popped else { break };
            if idle.keep(policy.idle_timeout) {
                return Ok(Checkout { conn: idle.conn, reused: true });
            }
        }
        self.checkout_fresh(backend, policy).await
    }

    /// A new connection, never an idle one.
    pub async fn checkout_fresh(&self, backend: &str, policy: &ConnectPolicy) -> Result<Checkout, FetchError> {
        let (sender, driver) = self.handshake(backend, policy).await?;
        Ok(Checkout { conn: Conn { sender, driver: Box::pin(driver), ended: false }, reused: false })
    }

    /// A new connection with its own task and upgrade support, for pipe.
    pub async fn connect(&self, backend: &str, policy: &ConnectPolicy) -> Result<SendRequest<Body>, FetchError> {
        let (sender, conn) = self.handshake(backend, policy).await?;
        tokio::spawn(async move {
            // Errors here surface to the request through the sender; nothing to do.
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    /// A new HTTP/1.1 client connection: request handle and I/O driver.
    async fn handshake(
        &self,
        backend: &str,
        policy: &ConnectPolicy,
    ) -> Result<(SendRequest<Body>, Connection<TokioIo<TcpStream>, Body>), FetchError> {
        let stream = self.open(backend, policy).await?;
        http1::Builder::new()
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| FetchError::Read(e.to_string()))
    }

    /// A TCP connection, respecting the hold-down and the connect timeout.
    async fn open(&self, backend: &str, policy: &ConnectPolicy) -> Result<TcpStream, FetchError> {
        if let Some(until) = *self.holddown_until.lock() {
            if Instant::now() < until {
                return Err(FetchError::Holddown(backend.to_string()));
            }
        }
        let stream = match tokio::time::timeout(policy.timeout, TcpStream::connect(self.addr)).await {
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
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Wraps a connection for one fetch's response body.
    pub fn lease(self: &Arc<Self>, conn: Conn, reusable: bool, busy: Option<BusyGuard>) -> Lease {
        Lease { pool: self.clone(), conn: Some(conn), reusable, _busy: busy }
    }

    /// Closes the idle connections that sat longer than `idle_timeout` or that the backend
    /// closed meanwhile (so that none lingers in CLOSE_WAIT); returns how many it closed.
    pub fn sweep(&self, idle_timeout: Duration) -> usize {
        let mut idle = self.idle.lock();
        let before = idle.len();
        idle.retain_mut(|i| i.keep(idle_timeout));
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
            idle.push(Idle { conn, since: Instant::now() });
        }
    }

    fn hold_down(&self, e: &io::Error, policy: &ConnectPolicy) {
        let d = match e.raw_os_error() {
            Some(111 | 101) => policy.remote_holddown,  // ECONNREFUSED, ENETUNREACH
            Some(13 | 1 | 99) => policy.local_holddown, // EACCES, EPERM, EADDRNOTAVAIL
            _ => Duration::ZERO,
        };
        if !d.is_zero() {
            *self.holddown_until.lock() = Some(Instant::now() + d);
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
    fn keep(&mut self, idle_timeout: Duration) -> bool {
        self.since.elapsed() <= idle_timeout && self.conn.is_usable()
    }
}

// === impl Conn ===

impl Conn {
    /// Sends a request and waits for the response head, driving the connection meanwhile.
    pub async fn send(&mut self, req: Request<Body>) -> Result<Response<Incoming>, String> {
        let Conn { sender, driver, ended } = self;
        std::future::poll_fn(|cx| {
            if !*ended && driver.as_mut().poll(cx).is_ready() {
                *ended = true;
            }
            if *ended {
                return Poll::Ready(Err("connection closed".to_string()));
            }
            sender.poll_ready(cx).map_err(|e| e.to_string())
        })
        .await?;
        let mut response = std::pin::pin!(sender.send_request(req));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = response.as_mut().poll(cx) {
                return Poll::Ready(r.map_err(|e| e.to_string()));
            }
            if !*ended && driver.as_mut().poll(cx).is_ready() {
                *ended = true;
                // The driver finished: the response future resolves now, one way or the other.
                return response.as_mut().poll(cx).map(|r| r.map_err(|e| e.to_string()));
            }
            Poll::Pending
        })
        .await
    }

    /// Drives the connection's I/O (reading a response body needs it).
    pub fn poll_io(&mut self, cx: &mut Context<'_>) {
        if !self.ended && self.driver.as_mut().poll(cx).is_ready() {
            self.ended = true;
        }
    }

    /// Whether the connection is open and idle: polled once, so that a close by the backend
    /// while it sat in the pool is noticed.
    fn is_usable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.poll_io(&mut cx);
        !self.ended && !self.sender.is_closed() && matches!(self.sender.poll_ready(&mut cx), Poll::Ready(Ok(())))
    }
}

// === impl Lease ===

impl Lease {
    /// The response was read to the end: keep the connection if both sides allow it.
    pub fn recycle(mut self) {
        if let Some(mut conn) = self.conn.take() {
            // Let the driver see the end of the exchange.
            let mut cx = Context::from_waker(Waker::noop());
            conn.poll_io(&mut cx);
            if self.reusable && !conn.ended && !conn.sender.is_closed() {
                self.pool.put(conn);
            }
        }
    }

    /// Drives the connection while its response body is read.
    pub fn poll_io(&mut self, cx: &mut Context<'_>) {
        if let Some(c) = self.conn.as_mut() {
            c.poll_io(cx);
        }
    }
}
