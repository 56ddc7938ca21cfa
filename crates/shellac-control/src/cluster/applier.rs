//! The watch that applies the cluster's invalidations to this node's cache: list the prefix at
//! R and apply every entry above the last revision applied, then watch from there, applying
//! each new key once, in revision order. After a disconnect it resumes from the last revision
//! applied plus one (a node that was away applies what it missed); after a compaction, or when
//! the store is not the one it was (another cluster id, or a revision below the last applied),
//! it lists again. Deletes (leases running out) change nothing: an entry goes only once it can
//! match nothing.
//!
//! Invariant: an entry is applied at most once (only revisions above `last` are, and `last`
//! only grows, except for a store that is not the same one), and every entry written while
//! this node watches, or while it was away but still within its lease, is applied.

use std::time::Duration;

use shellac_cache::Cache;

use super::entry::Entry;
use crate::discovery::{Event, Kv, Store, StoreError, Watch, WatchMessage};

/// The applier of one prefix.
pub struct Applier<S: Store> {
    store: S,
    prefix: String,
    cache: Cache,
    last: i64,
    cluster: Option<u64>,
    applied: tokio::sync::watch::Sender<i64>,
    backoff_min: Duration,
    backoff_max: Duration,
}

// === impl Applier ===

impl<S: Store> Applier<S> {
    /// An applier of the entries under `prefix` to `cache`.
    pub fn new(store: S, prefix: &str, cache: Cache) -> Applier<S> {
        Applier {
            store,
            prefix: prefix.to_string(),
            cache,
            last: 0,
            cluster: None,
            applied: tokio::sync::watch::Sender::new(0),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }

    /// Shorter retry delays (tests).
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Applier<S> {
        (self.backoff_min, self.backoff_max) = (min, max);
        self
    }

    /// The last revision applied, as it moves.
    pub fn applied(&self) -> tokio::sync::watch::Receiver<i64> {
        self.applied.subscribe()
    }

    /// Runs until the task is dropped or aborted.
    pub async fn run(mut self) {
        let mut relist = true;
        let mut backoff = self.backoff_min;
        loop {
            match self.session(&mut relist, &mut backoff).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(target: "cluster", prefix = %self.prefix, revision = self.last, "etcd: {e}; retrying in {backoff:?}");
                    self.store.reset();
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.backoff_max);
                }
            }
        }
    }

    async fn session(&mut self, relist: &mut bool, backoff: &mut Duration) -> Result<(), StoreError> {
        if !*relist {
            let h = self.store.header(&self.prefix).await?;
            if self.cluster.is_some_and(|c| c != h.cluster_id) || h.revision < self.last {
                tracing::warn!(target: "cluster", "etcd: the store changed while disconnected; listing again");
                self.last = 0;
                *relist = true;
            }
        }
        if *relist {
            let listing = self.store.list(&self.prefix).await?;
            let mut kvs = listing.kvs;
            kvs.sort_by_key(|kv| kv.mod_revision);
            for kv in &kvs {
                self.apply(kv);
            }
            self.cluster = Some(listing.cluster_id);
            self.last = self.last.max(listing.revision);
            self.applied.send_replace(self.last);
            *relist = false;
        }
        let mut watch = self.store.watch(&self.prefix, self.last + 1).await?;
        *backoff = self.backoff_min;
        loop {
            match watch.next().await? {
                None => return Err(StoreError("the watch stream ended".into())),
                Some(WatchMessage::Events(events)) => {
                    for ev in events {
                        match ev {
                            Event::Put(kv) => {
                                self.apply(&kv);
                                self.last = self.last.max(kv.mod_revision);
                            }
                            Event::Delete { revision, .. } => self.last = self.last.max(revision),
                        }
                    }
                    self.applied.send_replace(self.last);
                }
                Some(WatchMessage::Compacted(rev)) => {
                    tracing::warn!(target: "cluster", "etcd: revision {} was compacted (oldest now {rev}); listing again", self.last + 1);
                    *relist = true;
                    return Ok(());
                }
                Some(WatchMessage::Canceled(why)) => {
                    *relist = true;
                    return Err(StoreError(format!("the watch was canceled: {why}")));
                }
            }
        }
    }

    /// Applies one entry, unless it was applied already (at or below `last`).
    fn apply(&self, kv: &Kv) {
        if kv.mod_revision <= self.last {
            return;
        }
        match Entry::decode(&kv.value) {
            Ok(e) => match e.what.apply(&self.cache, shellac_engine::value::now()) {
                Ok(did) => {
                    tracing::info!(target: "cluster", key = %kv.key, node = %e.node, revision = kv.mod_revision, "applied: {did}")
                }
                Err(why) => tracing::warn!(target: "cluster", key = %kv.key, "not applied: {why}"),
            },
            Err(why) => tracing::warn!(target: "cluster", key = %kv.key, "bad invalidation, skipped: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use shellac_cache::{Cache, Head, Kind, Object, Ttl};
    use shellac_engine::cluster::Invalidation;

    use super::*;
    use crate::cluster::entry::Entry;
    use crate::discovery::memory::MemoryStore;

    fn value(words: &str) -> String {
        let what = Invalidation::Ban(words.split(' ').map(str::to_string).collect());
        Entry { what, node: "n".into(), time: 0.0 }.encode()
    }

    /// The cluster bans the cache holds, oldest first.
    fn cluster_bans(cache: &Cache) -> Vec<String> {
        cache.bans().listed().into_iter().rev().filter(|b| b.cluster).map(|b| b.spec).collect()
    }

    /// Keeps an object stored (at the newest ban) so that the bans stay listed.
    fn pin(cache: &Cache, k: u8) {
        let h = http::HeaderMap::new();
        let q = shellac_cache::Query::new(0.0, &h, b"/");
        let shellac_cache::Lookup::Miss { fetch, .. } = cache.lookup(&[k; 32], &q) else { panic!("a miss") };
        let ttl = Ttl { t_origin: 0.0, ttl: 1e12, grace: 0.0, keep: 0.0 };
        let _: Arc<Object> = fetch.insert(Object::new(Head::default(), ttl, Kind::Normal));
    }

    #[tokio::test]
    async fn each_entry_is_applied_once_in_order_across_disconnects_and_compactions() {
        let store = MemoryStore::default();
        let cache = Cache::new();
        store.put("/bans/1", &value("req.url == /1"));
        let applier = Applier::new(store.clone(), "/bans/", cache.clone())
            .with_backoff(Duration::from_millis(5), Duration::from_millis(20));
        let mut applied = applier.applied();
        let task = tokio::spawn(applier.run());
        let until = |want: i64, applied: &mut tokio::sync::watch::Receiver<i64>| {
            let mut applied = applied.clone();
            async move {
                let wait = applied.wait_for(|r| *r >= want);
                tokio::time::timeout(Duration::from_secs(5), wait).await.expect("applied in time").expect("running");
            }
        };
        until(store.revision(), &mut applied).await;
        pin(&cache, 1);
        store.put("/bans/2", &value("req.url == /2"));
        until(store.revision(), &mut applied).await;
        pin(&cache, 2);
        assert_eq!(cluster_bans(&cache), ["req.url == /1", "req.url == /2"]);

        // Away: an entry written meanwhile, then one past a compaction; a bad one is skipped.
        store.set_down(true);
        tokio::time::sleep(Duration::from_millis(30)).await;
        store.put("/bans/3", &value("req.url == /3"));
        store.put("/bans/bad", "{\"ban\": [\"nope\"]}");
        store.set_down(false);
        until(store.revision(), &mut applied).await;
        pin(&cache, 3);
        store.set_down(true);
        tokio::time::sleep(Duration::from_millis(30)).await;
        store.put("/bans/4", &value("req.url == /4"));
        store.put("/bans/5", &value("req.url == /5"));
        store.compact(store.revision());
        let lists = store.lists();
        store.set_down(false);
        until(store.revision(), &mut applied).await;
        assert_eq!(store.lists(), lists + 1, "the resume found its revision compacted: listed again");
        // Deletes (leases running out) change nothing.
        store.delete("/bans/1");
        until(store.revision(), &mut applied).await;
        task.abort();
        assert_eq!(
            cluster_bans(&cache),
            ["req.url == /1", "req.url == /2", "req.url == /3", "req.url == /4", "req.url == /5"],
            "each once, in order"
        );
    }
}
