//! What outlives a loaded VCL: connection pools by address, probers by (address, probe
//! definition) and the catalog of discovered backends. Pools and probers are held weakly here
//! and strongly by the VCLs that use them, so a reload that keeps a backend keeps its
//! connections and probe history, and one that drops it lets both go. A sweeper task, started
//! with the first pool, closes idle connections past `backend_idle_timeout` or closed by their
//! backend, once a second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use super::address::Address;
use super::pool::Pool;
use super::probe::{ProbeSpec, Prober};
use crate::catalog::Catalog;

type Pools = Mutex<HashMap<Address, Weak<Pool>>>;

/// How often the sweeper looks at idle connections.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Shared pools, probers and discovered backends.
pub struct Registry {
    /// What discovery (etcd) found; dynamic directors follow it.
    pub catalog: Catalog,
    /// The object stores (`storage.NAME` in VCL), `Transient` last.
    pub stores: Vec<Arc<shellac_cache::Storage>>,
    /// The object store (the `purge` vmod works on it); none outside a server.
    pub cache: Option<shellac_cache::Cache>,
    /// Where VCL queues invalidations for the cluster (set by `serve --etcd`).
    pub outbox: crate::cluster::Slot,
    /// The server's counters (`MAIN.*`).
    pub stats: Arc<crate::stats::Stats>,
    /// The transaction log.
    pub log: Arc<crate::vsl::Log>,
    pools: Arc<Pools>,
    probers: Mutex<HashMap<(Address, ProbeSpec), Weak<Prober>>>,
    /// `backend_idle_timeout` in milliseconds, for the sweeper.
    idle_timeout_ms: Arc<AtomicU64>,
    sweeping: AtomicBool,
}

// === impl Registry ===

impl Default for Registry {
    fn default() -> Self {
        Registry {
            catalog: Catalog::default(),
            stores: Vec::new(),
            cache: None,
            outbox: Arc::default(),
            stats: Arc::default(),
            log: Arc::default(),
            pools: Arc::default(),
            probers: Mutex::default(),
            idle_timeout_ms: Arc::new(AtomicU64::new(60_000)),
            sweeping: AtomicBool::new(false),
        }
    }
}

impl Registry {
    /// The pool for an address, created on first use.
    pub fn pool(&self, addr: Address) -> Arc<Pool> {
        let mut pools = self.pools.lock();
        if let Some(p) = pools.get(&addr).and_then(Weak::upgrade) {
            return p;
        }
        pools.retain(|_, w| w.strong_count() > 0);
        let p = Arc::new(Pool::new(addr.clone()));
        pools.insert(addr, Arc::downgrade(&p));
        drop(pools);
        self.start_sweeper();
        p
    }

    /// Sets the idle timeout the sweeper applies (`backend_idle_timeout`).
    pub fn set_idle_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.idle_timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// Starts the sweeper once, inside a tokio runtime (outside one, a later pool starts it).
    fn start_sweeper(&self) {
        if self.sweeping.load(Ordering::Relaxed) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        if !self.sweeping.swap(true, Ordering::AcqRel) {
            rt.spawn(sweep(Arc::downgrade(&self.pools), self.idle_timeout_ms.clone()));
        }
    }

    /// The prober for an address and probe, created (and started) on first use. `name` labels
    /// its log lines.
    pub fn prober(&self, name: &str, addr: Address, spec: ProbeSpec) -> Arc<Prober> {
        let mut probers = self.probers.lock();
        let key = (addr, spec);
        if let Some(p) = probers.get(&key).and_then(Weak::upgrade) {
            return p;
        }
        probers.retain(|_, w| w.strong_count() > 0);
        let p = Arc::new(Prober::new(name.to_string(), key.0.clone(), key.1.clone()).with_log(self.log.clone()));
        p.start();
        probers.insert(key, Arc::downgrade(&p));
        p
    }

    /// Waits until every prober that a warm VCL uses has finished its first probe, at most
    /// `limit`; returns whether they all did. `serve` waits for this before it listens, so that
    /// the first requests find members healthy that are healthy (rather than not yet probed).
    pub async fn first_probes(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let pending = {
                let probers = self.probers.lock();
                probers.values().filter_map(Weak::upgrade).any(|p| p.is_warm() && p.state().count == 0)
            };
            if !pending {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Every [`SWEEP_EVERY`], closes the idle connections of every live pool that are past the idle
/// timeout or closed by their backend; ends with the registry.
async fn sweep(pools: Weak<Pools>, idle_timeout_ms: Arc<AtomicU64>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(pools) = pools.upgrade() else { return };
        let live: Vec<Arc<Pool>> = pools.lock().values().filter_map(Weak::upgrade).collect();
        drop(pools);
        let timeout = Duration::from_millis(idle_timeout_ms.load(Ordering::Relaxed));
        let closed: usize = live.iter().map(|p| p.sweep(timeout)).sum();
        if closed > 0 {
            tracing::debug!(closed, "idle backend connections closed");
        }
    }
}
