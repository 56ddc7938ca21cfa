//! The state every request shares: the active VCL (one atomic pointer; a request pins the VCL
//! it starts with), the parameters, the pool and probe registry, the object store, and the
//! transaction id counter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};

use crate::backend::registry::Registry;
use crate::params::Params;
use crate::vcl::{hostname, Vcl};

/// Shared server state.
pub struct Server {
    active: ArcSwapOption<Vcl>,
    labels: ArcSwap<HashMap<String, Arc<Vcl>>>,
    params: ArcSwap<Params>,
    /// Connection pools and probers, shared by all loaded VCLs.
    pub registry: Arc<Registry>,
    /// The object store: it belongs to the process, not to a VCL (a reload keeps it).
    pub cache: shellac_cache::Cache,
    xids: AtomicU64,
    /// `server.hostname`
    pub hostname: Arc<str>,
    /// `server.identity`
    pub identity: Arc<str>,
}

// === impl Server ===

impl Server {
    /// A server with no VCL yet, and varnishd's default storage (100 MiB).
    pub fn new(params: Params) -> Arc<Server> {
        Server::with_storage(params, shellac_cache::Storage::new("s0", shellac_cache::index::DEFAULT_SIZE))
    }

    /// A server with no VCL yet, whose objects are kept in `storage` (`-s malloc,SIZE`).
    pub fn with_storage(params: Params, storage: shellac_cache::Storage) -> Arc<Server> {
        Server::with_stores(params, vec![storage], shellac_cache::Storage::new("Transient", u64::MAX))
    }

    /// A server with no VCL yet, whose objects are kept in `stores` (the `-s` flags, in order)
    /// and `transient`.
    pub fn with_stores(
        params: Params,
        stores: Vec<shellac_cache::Storage>,
        transient: shellac_cache::Storage,
    ) -> Arc<Server> {
        let host: Arc<str> = hostname().into();
        let cache = shellac_cache::Cache::with_stores(stores, transient);
        let mut registry = Registry::default();
        registry.stores = cache.stores().cloned().collect();
        registry.cache = Some(cache.clone());
        let registry = Arc::new(registry);
        registry.set_idle_timeout(crate::fetch::secs(params.backend_idle_timeout));
        cache.bans().set_dups(params.ban_dups);
        Arc::new(Server {
            active: ArcSwapOption::empty(),
            labels: ArcSwap::from_pointee(HashMap::new()),
            params: ArcSwap::from_pointee(params),
            registry,
            cache,
            xids: AtomicU64::new(1),
            hostname: host.clone(),
            identity: host,
        })
    }

    /// The VCL new requests use.
    pub fn active(&self) -> Option<Arc<Vcl>> {
        self.active.load_full()
    }

    /// Makes a VCL the active one; requests in flight finish on theirs.
    pub fn use_vcl(&self, vcl: Arc<Vcl>) {
        self.active.store(Some(vcl));
    }

    /// The VCL a label points at (`return (vcl(label))`).
    pub fn label(&self, name: &str) -> Option<Arc<Vcl>> {
        self.labels.load().get(name).cloned()
    }

    /// Replaces the label map.
    pub fn set_labels(&self, labels: HashMap<String, Arc<Vcl>>) {
        self.labels.store(Arc::new(labels));
    }

    /// The current parameters.
    pub fn params(&self) -> Arc<Params> {
        self.params.load_full()
    }

    /// Replaces the parameters.
    pub fn set_params(&self, params: Params) {
        self.cache.bans().set_dups(params.ban_dups);
        self.registry.set_idle_timeout(crate::fetch::secs(params.backend_idle_timeout));
        self.params.store(Arc::new(params));
    }

    /// A new transaction id (sessions, requests and backend requests share the sequence).
    pub fn next_xid(&self) -> u64 {
        self.xids.fetch_add(1, Ordering::Relaxed)
    }
}
