//! The watch loop (ecosystem §2.2): list the root at revision R, watch from R+1, apply events
//! in order, and:
//! - after a disconnect, keep serving what is known and resume from the last applied revision
//!   plus one, with jittered exponential backoff;
//! - when the start revision was compacted, or the store cancels the watch, list again and diff
//!   against what is known (never resume at the compaction revision: etcd 3.4 can drop a delete
//!   there);
//! - on every reconnect, ask the store who it is: a store replaced under the same address (a
//!   fresh etcd cluster: another cluster id, or a revision below the last one applied) means a
//!   full listing and diff, and `last` starts again from the new store's revision;
//! - every `resync` period, list again and diff (anti-entropy), counting drift; the period runs
//!   on across reconnects;
//! - never trust progress notifications (etcd #15220): only event revisions move `last`;
//! - a bad value written to a key whose last value was good keeps the last good entry (the key
//!   is listed as bad, and logged once); only a delete removes a member.
//!
//! Invariant: the catalog always holds the entries of the known keys (for a key gone bad, its
//! last good entry); events at or below `last` (already reflected by a listing) are skipped, so
//! nothing is applied twice or out of order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shellac_engine::backend::registry::Registry;
use shellac_engine::catalog::{Change, Entry};

use super::status::Status;
use super::{key, Event, Kv, Listing, Store, StoreError, Watch, WatchMessage};

/// Timing of the loop.
#[derive(Clone, Debug)]
pub struct Options {
    /// Anti-entropy: a full listing this often (jittered by ±10 %).
    pub resync: Duration,
    /// First retry delay after a failure.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Prefer IPv6 addresses of DNS names.
    pub prefer_ipv6: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            resync: Duration::from_secs(300),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            prefer_ipv6: false,
        }
    }
}

/// The watcher of one root.
pub struct Watcher<S: Store> {
    store: S,
    root: String,
    registry: Arc<Registry>,
    status: Arc<Status>,
    opts: Options,
    known: BTreeMap<String, Kv>,
    last: i64,
    /// The store's identity, from the last listing.
    cluster: Option<u64>,
    /// When the next anti-entropy listing is due.
    next_resync: tokio::time::Instant,
}

// === impl Watcher ===

impl<S: Store> Watcher<S> {
    /// A watcher feeding the registry's catalog from `store`.
    pub fn new(store: S, root: &str, registry: Arc<Registry>, status: Arc<Status>, opts: Options) -> Watcher<S> {
        let next_resync = tokio::time::Instant::now() + jitter(opts.resync, 0.1);
        Watcher {
            store,
            root: root.to_string(),
            registry,
            status,
            opts,
            known: BTreeMap::new(),
            last: 0,
            cluster: None,
            next_resync,
        }
    }

    /// Runs until the task is dropped or aborted.
    pub async fn run(mut self) {
        let mut relist = Some("initial");
        let mut backoff = self.opts.backoff_min;
        loop {
            match self.session(&mut relist, &mut backoff).await {
                // The watch ended on purpose (compaction): go on at once.
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(target: "discovery", root = %self.root, revision = self.last, "etcd: {e}; retrying in {backoff:?}, serving the last known members");
                    self.status.failed(e.to_string());
                    self.status.set_connected(false);
                    self.store.reset();
                    tokio::time::sleep(jitter(backoff, 0.2)).await;
                    backoff = (backoff * 2).min(self.opts.backoff_max);
                }
            }
        }
    }

    /// One connection: list if needed, then watch until something ends it.
    async fn session(&mut self, relist: &mut Option<&'static str>, backoff: &mut Duration) -> Result<(), StoreError> {
        if relist.is_none() {
            // A reconnect: resuming only makes sense on the same store with its history intact.
            let h = self.store.header(&self.root).await?;
            if self.cluster.is_some_and(|c| c != h.cluster_id) || h.revision < self.last {
                tracing::warn!(
                    target: "discovery",
                    "etcd: the store changed while disconnected (cluster {:x} at revision {}, was {:x} at {}); listing again",
                    h.cluster_id,
                    h.revision,
                    self.cluster.unwrap_or_default(),
                    self.last
                );
                *relist = Some("cluster_changed");
            }
        }
        if let Some(reason) = *relist {
            let listing = self.store.list(&self.root).await?;
            self.resync(listing, reason).await;
            *relist = None;
        }
        let mut watch = self.store.watch(&self.root, self.last + 1).await?;
        self.status.set_connected(true);
        *backoff = self.opts.backoff_min;
        loop {
            tokio::select! {
                msg = watch.next() => match msg? {
                    None => return Err(StoreError("the watch stream ended".into())),
                    Some(WatchMessage::Events(events)) => self.apply(events).await,
                    Some(WatchMessage::Compacted(rev)) => {
                        tracing::warn!(target: "discovery", "etcd: revision {} was compacted (oldest now {rev}); listing again", self.last + 1);
                        *relist = Some("compacted");
                        self.status.set_connected(false);
                        return Ok(());
                    }
                    Some(WatchMessage::Canceled(why)) => {
                        *relist = Some("canceled");
                        return Err(StoreError(format!("the watch was canceled: {why}")));
                    }
                },
                () = tokio::time::sleep_until(self.next_resync) => {
                    let listing = self.store.list(&self.root).await?;
                    self.resync(listing, "anti_entropy").await;
                    self.next_resync = tokio::time::Instant::now() + jitter(self.opts.resync, 0.1);
                }
            }
        }
    }

    /// Applies watch events above `last`, all in one catalog change.
    async fn apply(&mut self, events: Vec<Event>) {
        let mut changes = Vec::with_capacity(events.len());
        let mut top = self.last;
        for ev in events {
            let rev = match &ev {
                Event::Put(kv) => kv.mod_revision,
                Event::Delete { revision, .. } => *revision,
            };
            if rev <= self.last {
                continue;
            }
            top = top.max(rev);
            match ev {
                Event::Put(kv) => {
                    let e = self.entry(&kv).await;
                    self.known.insert(kv.key.clone(), kv);
                    changes.extend(e.map(Change::Put));
                }
                Event::Delete { key, .. } => {
                    self.known.remove(&key);
                    self.forget_bad(&key);
                    changes.push(Change::Delete(key));
                }
            }
        }
        self.last = top;
        let n = changes.len() as u64;
        self.registry.catalog.apply(changes);
        let keys = self.known.len();
        self.status.update(|s| {
            s.events += n;
            s.revision = top;
            s.keys = keys;
        });
    }

    /// Makes the known keys those of a listing: synthesises puts for every key (the catalog
    /// ignores unchanged entries; names are resolved again) and deletes for keys gone.
    async fn resync(&mut self, listing: Listing, reason: &'static str) {
        let fresh: BTreeMap<String, Kv> = listing.kvs.into_iter().map(|kv| (kv.key.clone(), kv)).collect();
        let mut drift = 0u64;
        let mut changes = Vec::with_capacity(fresh.len());
        for (k, kv) in &fresh {
            if self.known.get(k) != Some(kv) {
                drift += 1;
            }
            changes.extend(self.entry(kv).await.map(Change::Put));
        }
        for k in self.known.keys().filter(|k| !fresh.contains_key(*k)).cloned().collect::<Vec<_>>() {
            drift += 1;
            self.forget_bad(&k);
            changes.push(Change::Delete(k));
        }
        if reason == "anti_entropy" && drift > 0 {
            tracing::warn!(target: "discovery", drift, "etcd: anti-entropy listing found {drift} key(s) the watch had not reported");
        }
        tracing::info!(target: "discovery", reason, revision = listing.revision, keys = fresh.len(), "etcd: listed");
        self.known = fresh;
        // Another store (a fresh cluster) has its own revisions: they start again from its own.
        let other = self.cluster.is_some_and(|c| c != listing.cluster_id) || listing.revision < self.last;
        self.last = if other { listing.revision } else { self.last.max(listing.revision) };
        self.cluster = Some(listing.cluster_id);
        self.registry.catalog.apply(changes);
        let (keys, last) = (self.known.len(), self.last);
        self.status.update(|s| {
            *s.resyncs.entry(reason).or_default() += 1;
            if reason == "anti_entropy" {
                s.drift += drift;
            }
            s.revision = last;
            s.keys = keys;
        });
    }

    /// Parses a key into the catalog entry to apply. A bad one is logged once (per distinct
    /// problem) and listed; if the key's entry in the catalog is good, it stays (`None`: nothing
    /// to apply), so that a bad write never takes a working member away.
    async fn entry(&self, kv: &Kv) -> Option<Entry> {
        let e = key::entry(&self.root, &kv.key, &kv.value, self.opts.prefer_ipv6).await;
        let Err(why) = &e.target else {
            self.forget_bad(&kv.key);
            return Some(e);
        };
        let kept = self.registry.catalog.get(&kv.key).is_some_and(|old| old.target.is_ok());
        let why = if kept { format!("{why} (the last good value stays in use)") } else { why.clone() };
        let mut new = false;
        self.status.update(|s| {
            new = s.bad_keys.get(&kv.key) != Some(&why);
            s.bad_keys.insert(kv.key.clone(), why.clone());
        });
        if new {
            tracing::warn!(target: "discovery", key = %kv.key, "etcd: bad key or value: {why}");
        }
        (!kept).then_some(e)
    }

    fn forget_bad(&self, key: &str) {
        self.status.update(|s| {
            s.bad_keys.remove(key);
        });
    }
}

/// `d` scaled by a random factor in [1 − spread, 1 + spread].
fn jitter(d: Duration, spread: f64) -> Duration {
    d.mul_f64(1.0 + spread * (2.0 * fastrand::f64() - 1.0))
}

#[cfg(test)]
mod tests {
    use super::super::memory::MemoryStore;
    use super::*;

    struct Fixture {
        registry: Arc<Registry>,
        status: Arc<Status>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    fn start(store: &MemoryStore, resync: Duration) -> Fixture {
        let registry = Arc::new(Registry::default());
        let status = Arc::new(Status::new(vec!["memory".into()], "/b/"));
        let opts = Options {
            resync,
            backoff_min: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            prefer_ipv6: false,
        };
        let w = Watcher::new(store.clone(), "/b/", registry.clone(), status.clone(), opts);
        Fixture { registry, status, task: tokio::spawn(w.run()) }
    }

    impl Fixture {
        fn keys(&self) -> Vec<String> {
            self.registry.catalog.entries().iter().map(|e| e.key.clone()).collect()
        }

        async fn until(&self, what: &str, cond: impl Fn(&Fixture) -> bool) {
            for _ in 0..500 {
                if cond(self) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("timed out waiting for {what}: keys {:?}, status {:?}", self.keys(), self.status.snapshot());
        }
    }

    fn k(i: u16) -> String {
        format!("/b/web/127.0.0.1:{i}")
    }

    #[tokio::test]
    async fn lists_then_follows_events() {
        let store = MemoryStore::default();
        store.put(&k(1), "");
        store.put("/other/x/127.0.0.1:9", "");
        let f = start(&store, Duration::from_secs(60));
        f.until("the listing", |f| f.keys() == vec![k(1)]).await;
        store.put(&k(2), r#"{"weight": 3}"#);
        store.delete(&k(1));
        f.until("the events", |f| f.keys() == vec![k(2)]).await;
        assert_eq!(f.registry.catalog.entries()[0].weight, 3.0);
        let s = f.status.snapshot();
        assert!(s.connected);
        assert_eq!((s.revision, s.keys, s.events), (store.revision(), 1, 2));
        assert_eq!(s.resyncs.get("initial"), Some(&1));
    }

    #[tokio::test]
    async fn a_disconnect_resumes_from_the_last_revision_without_losing_events() {
        let store = MemoryStore::default();
        store.put(&k(1), "");
        let f = start(&store, Duration::from_secs(60));
        f.until("the listing", |f| f.keys().len() == 1).await;
        store.set_down(true);
        f.until("the disconnect", |f| !f.status.snapshot().connected).await;
        // Changes while the watcher is away; the last known members keep serving meanwhile.
        assert_eq!(f.keys(), vec![k(1)]);
        store.put(&k(2), "");
        store.delete(&k(1));
        store.put(&k(3), "");
        store.set_down(false);
        f.until("the resumed watch", |f| f.keys() == vec![k(2), k(3)]).await;
        let s = f.status.snapshot();
        // Resumed, not re-listed.
        assert_eq!(s.resyncs.get("initial"), Some(&1));
        assert_eq!(s.resyncs.len(), 1);
        assert!(s.failures >= 1);
        assert_eq!(store.watch_starts(), vec![2, 2]);
        assert_eq!(store.lists(), 1);
    }

    #[tokio::test]
    async fn compaction_past_the_watcher_relists_and_diffs() {
        let store = MemoryStore::default();
        store.put(&k(1), "");
        store.put(&k(2), "");
        let f = start(&store, Duration::from_secs(60));
        f.until("the listing", |f| f.keys().len() == 2).await;
        store.set_down(true);
        f.until("the disconnect", |f| !f.status.snapshot().connected).await;
        store.delete(&k(1));
        store.put(&k(3), "");
        store.compact(store.revision());
        store.set_down(false);
        f.until("the re-list", |f| f.keys() == vec![k(2), k(3)]).await;
        assert_eq!(f.status.snapshot().resyncs.get("compacted"), Some(&1));
        // Then it follows events again.
        store.put(&k(4), "");
        f.until("later events", |f| f.keys().len() == 3).await;
    }

    #[tokio::test]
    async fn anti_entropy_finds_what_the_watch_missed() {
        let store = MemoryStore::default();
        let f = start(&store, Duration::from_millis(50));
        f.until("connected", |f| f.status.snapshot().connected).await;
        // A change the watch never reports (as etcd #19179's lost delete).
        store.put_silently(&k(7), "");
        f.until("anti-entropy", |f| f.keys() == vec![k(7)]).await;
        let s = f.status.snapshot();
        assert!(s.drift >= 1 && s.resyncs.get("anti_entropy").is_some_and(|n| *n >= 1), "{s:?}");
    }

    #[tokio::test]
    async fn starting_while_the_store_is_down_retries_until_it_is_up() {
        let store = MemoryStore::default();
        store.put(&k(1), "");
        store.set_down(true);
        let f = start(&store, Duration::from_secs(60));
        f.until("failures", |f| f.status.snapshot().failures >= 2).await;
        assert!(f.keys().is_empty());
        assert!(f.status.snapshot().last_error.is_some());
        store.set_down(false);
        f.until("the listing", |f| f.keys() == vec![k(1)]).await;
    }

    #[tokio::test]
    async fn bad_keys_are_recorded_and_forgotten() {
        let store = MemoryStore::default();
        store.put("/b/web/nohost", "");
        store.put(&k(1), "{not json");
        let f = start(&store, Duration::from_secs(60));
        f.until("the listing", |f| f.keys().len() == 2).await;
        let bad = f.status.snapshot().bad_keys;
        assert!(bad["/b/web/nohost"].contains("no port"), "{bad:?}");
        assert!(bad[&k(1)].contains("JSON"), "{bad:?}");
        assert!(f.registry.catalog.entries().iter().all(|e| e.target.is_err()));
        store.put(&k(1), "");
        store.delete("/b/web/nohost");
        f.until("fixed", |f| f.status.snapshot().bad_keys.is_empty()).await;
        assert!(f.registry.catalog.entries()[0].target.is_ok());
        assert!(f.status.text(&[]).contains("Connected: yes"));
    }

    #[tokio::test]
    async fn a_bad_value_on_a_good_key_keeps_the_last_good_entry_until_a_delete() {
        let store = MemoryStore::default();
        store.put(&k(1), r#"{"weight": 2}"#);
        let f = start(&store, Duration::from_millis(50));
        f.until("the listing", |f| f.keys() == vec![k(1)]).await;
        store.put(&k(1), "{broken");
        f.until("the bad key listed", |f| f.status.snapshot().bad_keys.contains_key(&k(1))).await;
        let why = f.status.snapshot().bad_keys[&k(1)].clone();
        assert!(why.contains("JSON") && why.ends_with("(the last good value stays in use)"), "{why}");
        // Through anti-entropy listings too, the last good entry stays.
        let lists = store.lists();
        f.until("an anti-entropy listing", |_| store.lists() > lists + 1).await;
        let e = f.registry.catalog.get(&k(1)).expect("still there");
        assert_eq!((e.target.is_ok(), e.weight), (true, 2.0));
        // A fixed value applies; a delete removes.
        store.put(&k(1), "");
        f.until("the fix", |f| f.registry.catalog.get(&k(1)).is_some_and(|e| e.weight == 1.0)).await;
        assert!(f.status.snapshot().bad_keys.is_empty());
        store.put(&k(1), "{broken");
        f.until("bad again", |f| f.status.snapshot().bad_keys.contains_key(&k(1))).await;
        store.delete(&k(1));
        f.until("the delete", |f| f.keys().is_empty()).await;
        assert!(f.status.snapshot().bad_keys.is_empty());
    }

    #[tokio::test]
    async fn a_key_with_extra_path_levels_is_a_bad_key() {
        let store = MemoryStore::default();
        store.put("/b/a/b/c/127.0.0.1:1", "");
        store.put("/b/127.0.0.1:2", "");
        let f = start(&store, Duration::from_secs(60));
        f.until("the listing", |f| f.keys().len() == 2).await;
        let bad = f.status.snapshot().bad_keys;
        assert_eq!(bad["/b/a/b/c/127.0.0.1:1"], "4 path levels under /b/: expected /b/<group>/<host>:<port>");
        assert!(bad["/b/127.0.0.1:2"].starts_with("no group"), "{bad:?}");
    }

    #[tokio::test]
    async fn a_store_replaced_while_away_is_listed_again_and_followed_from_its_own_revisions() {
        let store = MemoryStore::default();
        for i in 1..=20 {
            store.put(&k(i), "");
        }
        let f = start(&store, Duration::from_secs(60));
        f.until("the listing", |f| f.keys().len() == 20).await;
        // A fresh store at the same place: another cluster, its revisions start again.
        store.replace();
        store.put(&k(5), "");
        f.until("the new store's keys", |f| f.keys() == vec![k(5)]).await;
        assert_eq!(f.status.snapshot().resyncs.get("cluster_changed"), Some(&1));
        // Its events are not skipped as old ones (its revisions are below the old store's).
        store.put(&k(6), "");
        f.until("a later event", |f| f.keys() == vec![k(5), k(6)]).await;
    }

    #[tokio::test]
    async fn the_anti_entropy_period_runs_on_across_reconnects() {
        let store = MemoryStore::default();
        let f = start(&store, Duration::from_millis(300));
        f.until("connected", |f| f.status.snapshot().connected).await;
        // Reconnect every 100 ms for a second: a period restarted by each reconnect never ends.
        for _ in 0..10 {
            store.set_down(true);
            f.until("the disconnect", |f| !f.status.snapshot().connected).await;
            store.set_down(false);
            f.until("the reconnect", |f| f.status.snapshot().connected).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let s = f.status.snapshot();
        assert!(s.resyncs.get("anti_entropy").is_some_and(|n| *n >= 1), "{s:?}");
    }
}
