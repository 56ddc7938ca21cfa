//! Writing an invalidation for the cluster: a lease as long as an object it could match may
//! still live (the latest expiry of any object this node stored, from now, with a margin), then
//! the key under it. The CLI writes and waits; VCL's calls go through the engine's bounded
//! outbox, which [`drain`] empties, retrying while etcd does not answer (meanwhile the outbox
//! fills, and past its depth VCL's calls return false rather than queue without end).

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, PutOptions};
use shellac_cache::Cache;
use shellac_engine::cluster::{Inbox, Invalidation};

use super::entry::Entry;
use crate::discovery::etcd::EtcdOptions;

/// Writes invalidations under a prefix.
pub struct Publisher {
    opts: EtcdOptions,
    prefix: String,
    node: String,
    cache: Cache,
    client: tokio::sync::Mutex<Option<Client>>,
}

/// The least lease: a node that was away for less still finds the entry.
pub const MIN_LEASE: Duration = Duration::from_secs(300);

/// Beyond the latest expiry: clocks differ between nodes.
const MARGIN: f64 = 60.0;

// === impl Publisher ===

impl Publisher {
    /// A publisher writing under `prefix` for `node`, with leases fitted to `cache`.
    pub fn new(opts: EtcdOptions, prefix: &str, node: &str, cache: Cache) -> Publisher {
        Publisher {
            opts,
            prefix: prefix.to_string(),
            node: node.to_string(),
            cache,
            client: tokio::sync::Mutex::new(None),
        }
    }

    /// The prefix it writes under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How long an entry written at `now` must last: until every object stored so far could
    /// have expired (ttl + grace + keep), and at least [`MIN_LEASE`].
    pub fn lease_secs(&self, now: f64) -> i64 {
        let left = (self.cache.latest_expiry() - now).max(0.0) + MARGIN;
        (left.ceil() as i64).clamp(MIN_LEASE.as_secs() as i64, 1_000_000_000)
    }

    /// Writes one invalidation; the revision it was written at.
    pub async fn publish(&self, what: Invalidation) -> Result<i64, String> {
        let now = shellac_engine::value::now();
        let value = Entry { what, node: self.node.clone(), time: now }.encode();
        let key = format!("{}{:016x}-{:08x}", self.prefix, (now * 1e6) as u64, fastrand::u32(..));
        let ttl = self.lease_secs(now);
        let timeout = self.opts.timeout;
        let mut guard = self.client.lock().await;
        if guard.is_none() {
            *guard = Some(self.opts.connect().await.map_err(|e| e.to_string())?);
        }
        let Some(c) = guard.as_mut() else { return Err("no etcd client".into()) };
        let result = async {
            let lease = tokio::time::timeout(timeout, c.lease_grant(ttl, None))
                .await
                .map_err(|_| format!("a lease took longer than {timeout:?}"))?
                .map_err(|e| format!("lease: {e}"))?;
            let put = c.put(key.as_str(), value.as_str(), Some(PutOptions::new().with_lease(lease.id())));
            let r = tokio::time::timeout(timeout, put)
                .await
                .map_err(|_| format!("writing {key} took longer than {timeout:?}"))?
                .map_err(|e| format!("writing {key}: {e}"))?;
            r.header().map(|h| h.revision()).ok_or_else(|| "an answer without a header".to_string())
        }
        .await;
        if result.is_err() {
            // (Connect again next time.)
            *guard = None;
        }
        result
    }
}

/// Writes what VCL queues, in order, each until etcd takes it.
pub async fn drain(publisher: Arc<Publisher>, mut inbox: Inbox) {
    while let Some(what) = inbox.recv().await {
        let mut backoff = Duration::from_millis(100);
        loop {
            match publisher.publish(what.clone()).await {
                Ok(revision) => {
                    tracing::debug!(target: "cluster", revision, ?what, "invalidation written");
                    break;
                }
                Err(e) => {
                    tracing::warn!(target: "cluster", "cannot write an invalidation to etcd ({e}); retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
