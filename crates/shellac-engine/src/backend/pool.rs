//! Connections to one backend address, shared by every VCL and fetch that uses the address:
//! keep-alive reuse, idle expiry (`backend_idle_timeout`), the connect-error hold-down (spec
//! §4.6) and the connect timeout. A connection is only handed out again when hyper still sees
//! it open and ready, so one the backend closed while idle is never reused; the fetch retries
//! once on a fresh connection if a reused one fails before any response byte (spec §4.4).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::client::conn::http1::{self, SendRequest};
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
    sender: SendRequest<Body>,
    since: Instant,
}

/// A connection in use by one fetch. Dropping it closes the connection (its response was not
/// read to the end); [`Lease::recycle`] returns it to the pool.
pub struct Lease {
    pool: Arc<Pool>,
    sender: Option<SendRequest<Body>>,
    reusable: bool,
    _busy: Option<BusyGuard>,
}

/// A connection handed out by [`Pool::checkout`].
pub struct Checkout {
    /// The connection.
    pub sender: SendRequest<Body>,
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

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Idle connections right now.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().len()
    }

    /// An idle open connection, else a new one.
    pub async fn checkout(&self, backend: &str, policy: &ConnectPolicy) -> Result<Checkout, FetchError> {
        loop {
            let popped = self.idle.lock().pop();
            let Some(idle) = popped else { break };
            if idle.since.elapsed() > policy.idle_timeout || idle.sender.is_closed() {
                continue;
            }
            let mut sender = idle.sender;
            // Ready at once if the previous exchange completed; an error means it was closed.
            if sender.ready().await.is_ok() {
                return Ok(Checkout { sender, reused: true });
            }
        }
        self.connect(backend, policy).await.map(|sender| Checkout { sender, reused: false })
    }

    /// A new connection, respecting the hold-down and the connect timeout.
    pub async fn connect(&self, backend: &str, policy: &ConnectPolicy) -> Result<SendRequest<Body>, FetchError> {
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
        let (sender, conn) =
            http1::Builder::new().handshake(TokioIo::new(stream)).await.map_err(|e| FetchError::Read(e.to_string()))?;
        tokio::spawn(async move {
            // Errors here surface to the request through the sender; nothing to do.
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    /// Wraps a connection for one fetch.
    pub fn lease(self: &Arc<Self>, sender: SendRequest<Body>, reusable: bool, busy: Option<BusyGuard>) -> Lease {
        Lease { pool: self.clone(), sender: Some(sender), reusable, _busy: busy }
    }

    fn put(&self, sender: SendRequest<Body>) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(Idle { sender, since: Instant::now() });
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

// === impl Lease ===

impl Lease {
    /// The response was read to the end: keep the connection if both sides allow it.
    pub fn recycle(mut self) {
        if let Some(sender) = self.sender.take() {
            if self.reusable && !sender.is_closed() {
                self.pool.put(sender);
            }
        }
    }

    /// Marks the connection as not reusable (`Connection: close`, retry, abandon).
    pub fn forbid_reuse(&mut self) {
        self.reusable = false;
    }
}
