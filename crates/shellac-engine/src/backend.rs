//! Backends: where a fetch goes, its timeouts, its connection limit and its health (admin
//! override over probe verdict). A backend is a leaf of the director tree; [`BackendHandle`] is
//! what VCL holds in a BACKEND value (`none`, a backend or a director).
//!
//! Connections live in the per-address [`pool::Pool`], shared by every VCL that names the same
//! address; probe state lives in [`probe::Prober`], shared by every VCL that declares the same
//! (address, probe) pair, so that history survives a reload. A fetch speaks HTTP/1.1 on a
//! [`conn::Conn`] with the [`codec`].

pub mod address;
pub mod codec;
pub mod conn;
pub mod pool;
pub mod probe;
pub mod registry;

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderValue;
use parking_lot::Mutex;

use crate::director::Director;
use crate::error::FetchError;
use pool::Pool;
use probe::Prober;

/// A backend of one loaded VCL.
pub struct Backend {
    /// Its VCL name.
    pub name: String,
    /// Where it connects; `None` for `backend x none;`.
    pub addr: Option<address::Address>,
    /// The pool of connections to `addr`.
    pub pool: Option<Arc<Pool>>,
    /// `Host:` added to backend requests without one (`.host_header`, else `.host`).
    pub host_header: Option<HeaderValue>,
    /// Timeouts from the declaration (0 or absent: use the parameter).
    pub timeouts: Timeouts,
    /// `.max_connections` (0 = unlimited).
    pub max_connections: u32,
    /// Fetches in progress.
    busy: AtomicU32,
    /// The `backend.set_health` override.
    admin: AdminCell,
    /// Its probe, if it has one.
    pub probe: Option<Arc<Prober>>,
    /// When it was created or its admin state last changed.
    last_change: Mutex<SystemTime>,
    /// Whether its VCL is warm (it then counts as a user of its prober).
    warm: std::sync::atomic::AtomicBool,
    /// Its counters (`VBE.<vcl>.<name>.*`).
    pub stats: crate::stats::BackendStats,
}

/// Connect, first-byte and between-bytes timeouts in seconds; `None` or 0 means "next level".
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timeouts {
    /// `connect_timeout`
    pub connect: Option<f64>,
    /// `first_byte_timeout`
    pub first_byte: Option<f64>,
    /// `between_bytes_timeout`
    pub between_bytes: Option<f64>,
}

/// The `backend.set_health` state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admin {
    /// Follow the probe (or always healthy without one).
    Auto,
    /// Forced healthy.
    Healthy,
    /// Forced sick.
    Sick,
}

/// An [`Admin`] state that can change under readers (backends and directors keep one).
#[derive(Debug, Default)]
pub struct AdminCell(AtomicU8);

/// A BACKEND value: nothing, a backend, or a director to be resolved later.
#[derive(Clone, Default)]
pub enum BackendHandle {
    /// `none`
    #[default]
    None,
    /// A backend.
    Backend(Arc<Backend>),
    /// A director.
    Director(Arc<dyn Director>),
}

/// How deep director stacking may go before resolution gives up (a cycle built with
/// `add_backend` at run time would otherwise loop forever).
const MAX_DEPTH: usize = 64;

// === impl Backend ===

impl Backend {
    /// A backend; `addr` and `pool` are `None` for `backend x none;`.
    pub fn new(
        name: String,
        addr: Option<address::Address>,
        pool: Option<Arc<Pool>>,
        host_header: Option<HeaderValue>,
        timeouts: Timeouts,
        max_connections: u32,
        probe: Option<Arc<Prober>>,
    ) -> Backend {
        Backend {
            name,
            addr,
            pool,
            host_header,
            timeouts,
            max_connections,
            busy: AtomicU32::new(0),
            admin: AdminCell::default(),
            probe,
            last_change: Mutex::new(SystemTime::now()),
            warm: std::sync::atomic::AtomicBool::new(false),
            stats: crate::stats::BackendStats::default(),
        }
    }

    /// Its VCL went warm (`true`) or cold: start or stop counting as a user of the prober.
    pub fn set_warm(&self, warm: bool) {
        if self.warm.swap(warm, Ordering::AcqRel) != warm {
            if let Some(p) = &self.probe {
                if warm {
                    p.warm();
                } else {
                    p.cool();
                }
            }
        }
    }

    /// Effective health: the admin override, else the probe's verdict, else healthy.
    pub fn is_healthy(&self) -> bool {
        match self.admin() {
            Admin::Healthy => true,
            Admin::Sick => false,
            Admin::Auto => self.probe.as_ref().is_none_or(|p| p.is_healthy()),
        }
    }

    /// The admin override.
    pub fn admin(&self) -> Admin {
        self.admin.get()
    }

    /// Sets the admin override; a change stamps "last change".
    pub fn set_admin(&self, admin: Admin) {
        if self.admin.set(admin) {
            *self.last_change.lock() = SystemTime::now();
        }
    }

    /// When it was created or its admin state last changed (its own `Last change`, which a
    /// probe does not move, as in varnishd).
    pub fn last_change(&self) -> SystemTime {
        *self.last_change.lock()
    }

    /// When its health last changed: its admin state, or its probe's verdict.
    pub fn health_changed(&self) -> SystemTime {
        let admin = self.last_change();
        self.probe.as_ref().map_or(admin, |p| admin.max(p.changed()))
    }

    /// Claims a connection slot, or fails with "busy" at `.max_connections`.
    pub fn claim(self: &Arc<Self>) -> Result<BusyGuard, FetchError> {
        let n = self.busy.fetch_add(1, Ordering::AcqRel);
        if self.max_connections > 0 && n >= self.max_connections {
            self.busy.fetch_sub(1, Ordering::AcqRel);
            return Err(FetchError::Busy(self.name.clone()));
        }
        Ok(BusyGuard(self.clone()))
    }

    /// Fetches in progress.
    pub fn busy(&self) -> u32 {
        self.busy.load(Ordering::Relaxed)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.set_warm(false);
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend").field("name", &self.name).field("addr", &self.addr).finish()
    }
}

/// A claimed connection slot of a backend; released on drop.
pub struct BusyGuard(Arc<Backend>);

impl BusyGuard {
    /// The backend whose slot it holds.
    pub fn backend(&self) -> &Backend {
        &self.0
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

// === impl AdminCell ===

impl AdminCell {
    /// The current state.
    pub fn get(&self) -> Admin {
        match self.0.load(Ordering::Relaxed) {
            1 => Admin::Healthy,
            2 => Admin::Sick,
            _ => Admin::Auto,
        }
    }

    /// Sets the state; returns whether it changed.
    pub fn set(&self, admin: Admin) -> bool {
        let v = match admin {
            Admin::Auto => 0,
            Admin::Healthy => 1,
            Admin::Sick => 2,
        };
        self.0.swap(v, Ordering::Relaxed) != v
    }
}

// === impl BackendHandle ===

impl BackendHandle {
    /// The name VCL prints (director name if unresolved, "" for none).
    pub fn name(&self) -> &str {
        match self {
            BackendHandle::None => "",
            BackendHandle::Backend(b) => &b.name,
            BackendHandle::Director(d) => d.name(),
        }
    }

    /// Whether it is `none`.
    pub fn is_none(&self) -> bool {
        matches!(self, BackendHandle::None)
    }

    /// `std.healthy`: a backend's effective health; a director's "any member healthy".
    pub fn is_healthy(&self) -> bool {
        self.healthy_at(0)
    }

    pub(crate) fn healthy_at(&self, depth: usize) -> bool {
        match self {
            BackendHandle::None => false,
            BackendHandle::Backend(b) => b.is_healthy(),
            BackendHandle::Director(d) => match d.members().admin.get() {
                Admin::Healthy => true,
                Admin::Sick => false,
                Admin::Auto => depth < MAX_DEPTH && d.is_healthy(depth + 1),
            },
        }
    }

    /// When the health of anything under it last changed (a director's `Last change` in
    /// `backend.list` moves with its members' health); `None` for `none` or an empty director.
    pub(crate) fn health_changed_at(&self, depth: usize) -> Option<SystemTime> {
        match self {
            BackendHandle::None => None,
            BackendHandle::Backend(b) => Some(b.health_changed()),
            BackendHandle::Director(_) if depth >= MAX_DEPTH => None,
            BackendHandle::Director(d) => crate::director::health_changed_at(d.as_ref(), depth + 1),
        }
    }

    /// Identity comparison (`==` on BACKEND values, `remove_backend`).
    pub fn same(&self, other: &BackendHandle) -> bool {
        match (self, other) {
            (BackendHandle::None, BackendHandle::None) => true,
            (BackendHandle::Backend(a), BackendHandle::Backend(b)) => Arc::ptr_eq(a, b),
            (BackendHandle::Director(a), BackendHandle::Director(b)) => {
                std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
            }
            _ => false,
        }
    }

    /// Resolves directors down to a backend, as the fetch does before connecting. Errors say
    /// which director came up empty, as Varnish's FetchError does.
    pub fn resolve(&self) -> Result<Arc<Backend>, FetchError> {
        self.resolve_for(&crate::director::ResolveHint::default())
    }

    /// As [`BackendHandle::resolve`], for a backend request that directors picking by the
    /// request (shard) look at.
    pub fn resolve_for(&self, hint: &crate::director::ResolveHint<'_>) -> Result<Arc<Backend>, FetchError> {
        // The first level is borrowed; only what a director hands out is owned.
        let mut cur = match self {
            BackendHandle::None => return Err(FetchError::NoBackend),
            BackendHandle::Backend(b) => return Ok(b.clone()),
            BackendHandle::Director(d) => pick(d, hint)?,
        };
        for _ in 1..MAX_DEPTH {
            cur = match cur {
                BackendHandle::None => return Err(FetchError::NoBackend),
                BackendHandle::Backend(b) => return Ok(b),
                BackendHandle::Director(d) => pick(&d, hint)?,
            };
        }
        Err(FetchError::TooDeep)
    }
}

/// One level of resolution: the member a director picks.
fn pick(d: &Arc<dyn Director>, hint: &crate::director::ResolveHint<'_>) -> Result<BackendHandle, FetchError> {
    if d.members().admin.get() == Admin::Sick {
        return Err(FetchError::DirectorEmpty(d.name().to_string()));
    }
    d.resolve_for(hint).ok_or_else(|| FetchError::DirectorEmpty(d.name().to_string()))
}

impl fmt::Debug for BackendHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendHandle::None => f.write_str("none"),
            BackendHandle::Backend(b) => write!(f, "backend {}", b.name),
            BackendHandle::Director(d) => write!(f, "director {}", d.name()),
        }
    }
}
