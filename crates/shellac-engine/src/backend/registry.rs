//! What outlives a loaded VCL: connection pools by address, probers by (address, probe
//! definition) and the catalog of discovered backends. Both are held weakly here and strongly by the VCLs that use them, so a reload
//! that keeps a backend keeps its connections and probe history, and one that drops it lets both
//! go.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::pool::Pool;
use super::probe::{ProbeSpec, Prober};
use crate::catalog::Catalog;

/// Shared pools, probers and discovered backends.
#[derive(Default)]
pub struct Registry {
    /// What discovery (etcd) found; dynamic directors follow it.
    pub catalog: Catalog,
    pools: Mutex<HashMap<SocketAddr, Weak<Pool>>>,
    probers: Mutex<HashMap<(SocketAddr, ProbeSpec), Weak<Prober>>>,
}

// === impl Registry ===

impl Registry {
    /// The pool for an address, created on first use.
    pub fn pool(&self, addr: SocketAddr) -> Arc<Pool> {
        let mut pools = self.pools.lock();
        if let Some(p) = pools.get(&addr).and_then(Weak::upgrade) {
            return p;
        }
        pools.retain(|_, w| w.strong_count() > 0);
        let p = Arc::new(Pool::new(addr));
        pools.insert(addr, Arc::downgrade(&p));
        p
    }

    /// The prober for an address and probe, created (and started) on first use. `name` labels
    /// its log lines.
    pub fn prober(&self, name: &str, addr: SocketAddr, spec: ProbeSpec) -> Arc<Prober> {
        let mut probers = self.probers.lock();
        let key = (addr, spec);
        if let Some(p) = probers.get(&key).and_then(Weak::upgrade) {
            return p;
        }
        probers.retain(|_, w| w.strong_count() > 0);
        let p = Arc::new(Prober::new(name.to_string(), addr, key.1.clone()));
        p.start();
        probers.insert(key, Arc::downgrade(&p));
        p
    }
}
