//! The index: objects by key (SHA-256 of `hash_data`), several variants per key, and per key at
//! most one busy fetch whose waiting list the other requests for that key join (coalescing,
//! spec §5.5). A lookup takes the key's shard lock, decides ([`crate::lookup`]) and answers with
//! the object to deliver, the right to fetch ([`Fetch`]), or a place on the waiting list
//! ([`Waiter`]). A fetch that has its head inserts the object and wakes every waiter, who look up
//! again; one that fails wakes them too, never leaving them hanging.
//!
//! Invariants: an object is only ever found under its own key and variant; a key has at most one
//! registered busy fetch, cleared exactly once (by insert, abandon or drop).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::lookup::{decide, Decision, Query};
use crate::object::{Kind, Object};
use crate::storage::Storage;

/// A lookup key: the SHA-256 of what `vcl_hash` fed `hash_data`.
pub type Key = [u8; 32];

/// Shards of the table (a power of two).
const SHARDS: usize = 64;

/// The object index. Clones share it.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[Mutex<HashMap<Key, ObjHead>>]>,
    objects: AtomicUsize,
    /// The stores `-s` names, in order (at least one).
    stores: Vec<Arc<Storage>>,
    /// `Transient`: short-lived and uncacheable objects.
    transient: Arc<Storage>,
    /// Round robin over `stores` for objects that name none.
    next_store: AtomicUsize,
    /// Objects removed for having outlived ttl + grace + keep (`n_expired`).
    expired: AtomicU64,
}

/// varnishd's default storage: `-s default,100m`.
pub const DEFAULT_SIZE: u64 = 100 << 20;

/// The objects of one key (newest first) and its busy fetch.
#[derive(Default)]
struct ObjHead {
    objects: Vec<Arc<Object>>,
    busy: Option<Arc<Busy>>,
}

/// A fetch in progress that requests wait on.
struct Busy {
    /// Lets waiters go: `rush_exponent` permits when a cacheable object arrives, and each
    /// waiter that goes passes on as many after its lookup (Varnish's rush, 3, 9, 27, …);
    /// closed (all go at once) when the fetch fails or brings a marker.
    rush: Semaphore,
    rush_exponent: usize,
    done: AtomicBool,
    waiters: AtomicUsize,
}

/// What a lookup found.
pub enum Lookup {
    /// A fresh object to deliver.
    Hit(Arc<Object>),
    /// A hit-for-pass marker: the request passes.
    HitForPass(Arc<Object>),
    /// A hit-for-miss marker: the request fetches on its own (`fetch` is not waited on).
    HitMiss {
        /// The marker.
        marker: Arc<Object>,
        /// The fetch, whose object is stored if it is cacheable after all.
        fetch: Fetch,
    },
    /// A stale object within grace to deliver; `fetch` when this request is to refresh it in
    /// the background (no other fetch is busy).
    Grace {
        /// The stale object.
        stale: Arc<Object>,
        /// The background fetch to start, if any.
        fetch: Option<Fetch>,
    },
    /// The request fetches; others wait on it.
    Miss {
        /// The fetch.
        fetch: Fetch,
        /// A stale, kept object the fetch may revalidate.
        stale: Option<Arc<Object>>,
    },
    /// A fetch for this key is busy: wait for it, then look up again.
    Wait(Waiter),
}

/// The right, and the duty, to fill a key: insert an object, or abandon. Waiters are woken
/// either way (also when it is dropped unused).
pub struct Fetch {
    cache: Cache,
    key: Key,
    /// The registered busy fetch; `None` for a fetch nobody waits on (hit-for-miss).
    busy: Option<Arc<Busy>>,
}

/// A place on a busy fetch's waiting list.
pub struct Waiter {
    busy: Arc<Busy>,
}

/// A waiter let go by the rush: when dropped (after its next lookup), it lets as many others
/// go.
pub struct Rushed {
    busy: Option<Arc<Busy>>,
}

// === impl Cache ===

impl Default for Cache {
    fn default() -> Self {
        Cache::new()
    }
}

impl Cache {
    /// An empty index over varnishd's default storage (`s0`, 100 MiB).
    pub fn new() -> Cache {
        Cache::with_storage(Storage::new("s0", DEFAULT_SIZE))
    }

    /// An empty index over `storage`, with an unlimited `Transient`.
    pub fn with_storage(storage: Storage) -> Cache {
        Cache::with_stores(vec![storage], Storage::new("Transient", u64::MAX))
    }

    /// An empty index over the stores `-s` names (in order; none means varnishd's default) and
    /// `Transient`.
    pub fn with_stores(stores: Vec<Storage>, transient: Storage) -> Cache {
        let mut stores: Vec<Arc<Storage>> = stores.into_iter().map(Arc::new).collect();
        if stores.is_empty() {
            stores.push(Arc::new(Storage::new("s0", DEFAULT_SIZE)));
        }
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        Cache {
            inner: Arc::new(Inner {
                shards,
                objects: AtomicUsize::new(0),
                stores,
                transient: Arc::new(transient),
                next_store: AtomicUsize::new(0),
                expired: AtomicU64::new(0),
            }),
        }
    }

    /// The first store: where objects that name no store are charged.
    pub fn storage(&self) -> &Storage {
        &self.inner.stores[0]
    }

    /// Every store, `Transient` last (`storage.list`).
    pub fn stores(&self) -> impl Iterator<Item = &Arc<Storage>> {
        self.inner.stores.iter().chain(std::iter::once(&self.inner.transient))
    }

    /// The store of that name (`storage.NAME`).
    pub fn store(&self, name: &str) -> Option<&Arc<Storage>> {
        self.stores().find(|s| s.name() == name)
    }

    /// `Transient`.
    pub fn transient(&self) -> &Arc<Storage> {
        &self.inner.transient
    }

    /// The store for the next object that names none: the `-s` stores in turn, as varnishd
    /// picks them.
    pub fn next_store(&self) -> Arc<Storage> {
        let n = self.inner.stores.len();
        let i = if n == 1 { 0 } else { self.inner.next_store.fetch_add(1, Ordering::Relaxed) % n };
        self.inner.stores[i].clone()
    }

    /// Objects removed so far for having outlived ttl + grace + keep (`n_expired`).
    pub fn expired(&self) -> u64 {
        self.inner.expired.load(Ordering::Relaxed)
    }

    /// The store an object is charged to.
    fn store_of<'a>(&'a self, obj: &'a Object) -> &'a Storage {
        obj.storage.as_deref().unwrap_or(&self.inner.stores[0])
    }

    fn shard(&self, key: &Key) -> &Mutex<HashMap<Key, ObjHead>> {
        &self.inner.shards[usize::from(key[0]) % SHARDS]
    }

    /// Looks `key` up for a request (spec §5.3).
    pub fn lookup(&self, key: &Key, q: &Query<'_>) -> Lookup {
        let mut shard = self.shard(key).lock();
        let head = shard.entry(*key).or_default();
        let busy = head.busy.as_ref().is_some_and(|b| !b.done.load(Ordering::Acquire));
        match decide(&head.objects, busy, q) {
            Decision::Hit(i) => Lookup::Hit(head.objects[i].clone()),
            Decision::HitForPass(i) => Lookup::HitForPass(head.objects[i].clone()),
            Decision::HitMiss(i) => Lookup::HitMiss { marker: head.objects[i].clone(), fetch: self.private(key) },
            Decision::Grace { stale, fetch } => {
                let stale = head.objects[stale].clone();
                let fetch = fetch.then(|| self.register(key, head, q.rush_exponent));
                Lookup::Grace { stale, fetch }
            }
            Decision::Miss { stale } => {
                let stale = stale.map(|i| head.objects[i].clone());
                let fetch =
                    if q.ignore_busy && busy { self.private(key) } else { self.register(key, head, q.rush_exponent) };
                Lookup::Miss { fetch, stale }
            }
            Decision::Wait => match head.busy.clone() {
                Some(busy) => {
                    busy.waiters.fetch_add(1, Ordering::Relaxed);
                    Lookup::Wait(Waiter { busy })
                }
                // (Wait is only decided with a busy fetch.)
                None => Lookup::Miss { fetch: self.register(key, head, q.rush_exponent), stale: None },
            },
        }
    }

    /// A fetch that nobody waits on, and that no lookup will wait for.
    pub fn private(&self, key: &Key) -> Fetch {
        Fetch { cache: self.clone(), key: *key, busy: None }
    }

    fn register(&self, key: &Key, head: &mut ObjHead, rush_exponent: usize) -> Fetch {
        let busy = Arc::new(Busy {
            rush: Semaphore::new(0),
            rush_exponent: rush_exponent.max(1),
            done: AtomicBool::new(false),
            waiters: AtomicUsize::new(0),
        });
        head.busy = Some(busy.clone());
        Fetch { cache: self.clone(), key: *key, busy: Some(busy) }
    }

    /// Removes `obj` from `key` (its fetch failed, or it is evicted): its charge is released.
    pub fn remove(&self, key: &Key, obj: &Arc<Object>) {
        let mut shard = self.shard(key).lock();
        if let Some(head) = shard.get_mut(key) {
            let before = head.objects.len();
            head.objects.retain(|o| !Arc::ptr_eq(o, obj));
            self.inner.objects.fetch_sub(before - head.objects.len(), Ordering::Relaxed);
            if head.objects.is_empty() && head.busy.is_none() {
                shard.remove(key);
            }
        }
        drop(shard);
        self.store_of(obj).forget(obj);
    }

    /// Appends a body chunk to `obj` (stored under `key`) and charges it; whether the object is
    /// still stored (one larger than the whole store is delivered and not kept). A stored chunk
    /// is a copy: the chunk given may be a slice of a connection's read buffer, which it would
    /// keep alive whole for as long as the object lives.
    pub fn append(&self, key: &Key, obj: &Arc<Object>, chunk: bytes::Bytes) -> bool {
        let chunk = if obj.is_stored() { bytes::Bytes::copy_from_slice(&chunk) } else { chunk };
        self.append_shared(key, obj, chunk)
    }

    /// As [`Cache::append`], for a chunk the store already owns (another stored object's): kept
    /// as it is, not copied.
    pub fn append_shared(&self, key: &Key, obj: &Arc<Object>, chunk: bytes::Bytes) -> bool {
        let n = chunk.len() as u64 + crate::storage::CHUNK_OVERHEAD;
        obj.body.append(chunk);
        if !obj.is_stored() {
            return false;
        }
        self.store_of(obj).charge(obj, n);
        self.make_room(key, obj)
    }

    /// Moves a delivered object to the newest end of the LRU order (at most every couple of
    /// seconds per object). `now` in seconds.
    pub fn touch(&self, obj: &Object, now: u64) {
        self.store_of(obj).touch(obj, now);
    }

    /// Evicts the least recently used objects of `obj`'s store other than `obj` until the store
    /// is within its limit; if that is not enough, `obj` itself leaves. Whether `obj` is still
    /// stored.
    fn make_room(&self, key: &Key, obj: &Arc<Object>) -> bool {
        let storage = self.store_of(obj);
        while storage.is_over() {
            let Some((k, victim)) = storage.pop_oldest(Some(obj)) else { break };
            self.remove(&k, &victim);
            storage.nuked_one();
        }
        if storage.is_over() && obj.is_stored() {
            self.remove(key, obj);
        }
        obj.is_stored()
    }

    /// Removes every object past ttl, grace and keep at `now`; returns how many went.
    pub fn sweep(&self, now: f64) -> usize {
        (0..SHARDS).map(|i| self.sweep_shard(i, now)).sum()
    }

    /// How many parts [`Cache::sweep_shard`] takes: a sweeper that does one part at a time
    /// never holds up the requests for long (a whole sweep of a million objects would).
    pub const SHARDS: usize = SHARDS;

    /// Removes the objects of one part of the index (`i` modulo [`Cache::SHARDS`]) that are past
    /// ttl, grace and keep at `now`; returns how many went. (An expired object is never served
    /// meanwhile: lookups check the time themselves. The sweep gives the memory back.)
    pub fn sweep_shard(&self, i: usize, now: f64) -> usize {
        let mut gone = 0;
        let mut shard = self.inner.shards[i % SHARDS].lock();
        shard.retain(|_, head| {
            head.objects.retain(|o| {
                let expired = o.is_expired(now);
                if expired {
                    self.store_of(o).forget(o);
                    gone += 1;
                }
                !expired
            });
            !head.objects.is_empty() || head.busy.is_some()
        });
        drop(shard);
        self.inner.objects.fetch_sub(gone, Ordering::Relaxed);
        self.inner.expired.fetch_add(gone as u64, Ordering::Relaxed);
        gone
    }

    /// Objects stored.
    pub fn len(&self) -> usize {
        self.inner.objects.load(Ordering::Relaxed)
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// === impl Fetch ===

impl Fetch {
    /// Whether requests are waiting on this fetch (an error object is then kept a moment, so
    /// that they are served from it).
    pub fn has_waiters(&self) -> bool {
        self.busy.as_ref().is_some_and(|b| b.waiters.load(Ordering::Relaxed) > 0)
    }

    /// The key it fills.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Stores `obj` if it has a lifetime (ttl above zero), replacing the objects of the same
    /// variant and evicting others if the store is full, and wakes the waiters.
    pub fn insert(self, obj: Arc<Object>) {
        self.store(obj, true);
    }

    /// As [`Fetch::insert`], except that a normal object of the same variant stays: for an
    /// error answer (a 5xx marker, a synthetic error), which must not take a good object's
    /// place (a stale copy keeps serving in grace).
    pub fn insert_unless_good(self, obj: Arc<Object>) {
        self.store(obj, false);
    }

    fn store(mut self, obj: Arc<Object>, replace_good: bool) {
        let cache = self.cache.clone();
        let mut shard = cache.shard(&self.key).lock();
        let head = shard.entry(self.key).or_default();
        let shadows_good = !replace_good && head.objects.iter().any(|o| o.kind == Kind::Normal && o.vary == obj.vary);
        let stored = obj.ttl.ttl > 0.0 && !shadows_good;
        if stored {
            head.objects.retain(|o| {
                let same = o.vary == obj.vary;
                if same {
                    cache.store_of(o).forget(o);
                    cache.inner.objects.fetch_sub(1, Ordering::Relaxed);
                }
                !same
            });
            // Most keys have one variant: room for one, not the four a first push makes.
            head.objects.reserve_exact(1);
            head.objects.insert(0, obj.clone());
            cache.inner.objects.fetch_add(1, Ordering::Relaxed);
            cache.store_of(&obj).admit(&self.key, &obj);
        }
        // A cacheable object: the waiters go a few at a time, each served from it.
        self.clear(head, stored && obj.kind == Kind::Normal);
        drop(shard);
        if stored {
            cache.make_room(&self.key, &obj);
        }
    }

    /// Stores nothing and wakes the waiters (they look up again).
    pub fn abandon(mut self) {
        let cache = self.cache.clone();
        let mut shard = cache.shard(&self.key).lock();
        let head = shard.entry(self.key).or_default();
        self.clear(head, false);
        if head.objects.is_empty() && head.busy.is_none() {
            shard.remove(&self.key);
        }
    }

    /// Unregisters the busy fetch (if it is still this one) and wakes its waiters.
    /// `rush`: a cacheable object came, let the waiters go a few at a time; else all at once.
    fn clear(&mut self, head: &mut ObjHead, rush: bool) {
        let Some(busy) = self.busy.take() else { return };
        if head.busy.as_ref().is_some_and(|b| Arc::ptr_eq(b, &busy)) {
            head.busy = None;
        }
        busy.release(rush);
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        if self.busy.is_some() {
            let cache = self.cache.clone();
            let mut shard = cache.shard(&self.key).lock();
            if let Some(head) = shard.get_mut(&self.key) {
                self.clear(head, false);
            } else if let Some(busy) = self.busy.take() {
                busy.release(false);
            }
        }
    }
}

// === impl Waiter ===

impl Waiter {
    /// Waits until the busy fetch inserted its object and the rush reaches this request, or
    /// the fetch gave up. Hold the result until the lookup that follows is done: dropping it
    /// lets the next ones go.
    pub async fn wait(self) -> Rushed {
        // Closed (an error): everyone goes, and nobody passes anything on.
        let rushed = self.busy.rush.acquire().await.map(|permit| permit.forget()).is_ok();
        Rushed { busy: rushed.then_some(self.busy) }
    }
}

impl Drop for Rushed {
    fn drop(&mut self) {
        if let Some(busy) = self.busy.take() {
            busy.rush.add_permits(busy.rush_exponent);
        }
    }
}

// === impl Busy ===

impl Busy {
    /// The fetch is over: the first `rush_exponent` waiters go (each then lets as many go), or
    /// all of them.
    fn release(&self, rush: bool) {
        self.done.store(true, Ordering::Release);
        if rush {
            self.rush.add_permits(self.rush_exponent);
        } else {
            self.rush.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Head, Kind};
    use crate::ttl::Ttl;
    use http::HeaderMap;

    fn q(now: f64, h: &HeaderMap) -> Query<'_> {
        Query {
            now,
            req_ttl: None,
            req_grace: None,
            headers: h,
            ignore_vary: false,
            ignore_busy: false,
            gzip_support: false,
            rush_exponent: 3,
        }
    }

    fn object(ttl: f64) -> Arc<Object> {
        Arc::new(Object::new(Head::default(), Ttl { t_origin: 100.0, ttl, grace: 10.0, keep: 0.0 }, Kind::Normal))
    }

    fn store(cache: &Cache, key: Key, body: usize) -> Arc<Object> {
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &HeaderMap::new())) else { panic!("a miss") };
        let obj = object(60.0);
        fetch.insert(obj.clone());
        assert!(cache.append(&key, &obj, bytes::Bytes::from(vec![b'x'; body])) || body > 10_000);
        obj
    }

    #[test]
    fn a_full_store_evicts_the_least_recently_used_and_never_grows_past_its_limit() {
        let cache = Cache::with_storage(Storage::new("s0", 10_000));
        let a = store(&cache, [1; 32], 2000);
        let _b = store(&cache, [2; 32], 2000);
        for k in 3..=6 {
            // Hits on a keep moving it to the newest end (a touch counts every 2 s at most).
            cache.touch(&a, 1_000 + 2 * u64::from(k));
            store(&cache, [k; 32], 2000);
            assert!(cache.storage().used() <= 10_000, "{}", cache.storage().used());
        }
        assert!(cache.storage().nuked() >= 2);
        let h = HeaderMap::new();
        assert!(matches!(cache.lookup(&[1; 32], &q(101.0, &h)), Lookup::Hit(_)), "the recently used one stays");
        assert!(matches!(cache.lookup(&[2; 32], &q(101.0, &h)), Lookup::Miss { .. }), "the oldest went");
        // An object larger than the store is not kept (and evicts nothing it cannot use).
        let big = store(&cache, [9; 32], 20_000);
        assert!(!big.is_stored());
        assert!(cache.storage().used() <= 10_000);
        // Everything expired goes, and its charge with it.
        cache.sweep(10_000.0);
        assert_eq!(cache.storage().used(), 0);
    }

    #[tokio::test]
    async fn one_fetch_per_key_the_others_wait_and_then_hit() {
        let cache = Cache::new();
        let h = HeaderMap::new();
        let key = [7u8; 32];
        let Lookup::Miss { fetch, stale: None } = cache.lookup(&key, &q(100.0, &h)) else { panic!("a miss") };
        let Lookup::Wait(waiter) = cache.lookup(&key, &q(100.0, &h)) else { panic!("a wait") };
        assert!(fetch.has_waiters());
        let waiting = tokio::spawn(waiter.wait());
        fetch.insert(object(60.0));
        waiting.await.expect("woken");
        assert!(matches!(cache.lookup(&key, &q(101.0, &h)), Lookup::Hit(_)));
        assert_eq!(cache.len(), 1);
    }

    /// Twenty waiters on one fetch; what `insert(obj)` lets go, in waves: the sizes of the
    /// waves as each wave's requests finish their lookups.
    async fn rush_waves(obj: Arc<Object>) -> Vec<usize> {
        let cache = Cache::new();
        let h = HeaderMap::new();
        let key = [3u8; 32];
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &h)) else { panic!("a miss") };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..20 {
            let Lookup::Wait(waiter) = cache.lookup(&key, &q(100.0, &h)) else { panic!("a wait") };
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(waiter.wait().await) });
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        fetch.insert(obj);
        let mut waves = Vec::new();
        let mut gone = 0;
        while gone < 20 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let mut wave = Vec::new();
            while let Ok(r) = rx.try_recv() {
                wave.push(r);
            }
            assert!(!wave.is_empty(), "stuck after {waves:?}");
            gone += wave.len();
            waves.push(wave.len());
            // Their lookups are done: the next ones go.
            drop(wave);
        }
        waves
    }

    #[tokio::test]
    async fn waiters_go_in_a_rush_of_rush_exponent_then_its_powers() {
        assert_eq!(rush_waves(object(60.0)).await, [3, 9, 8]);
        // A marker (or a failure) lets everyone go at once: they all fetch.
        let marker =
            Object::new(Head::default(), Ttl { t_origin: 100.0, ttl: 60.0, grace: 0.0, keep: 0.0 }, Kind::HitForMiss);
        assert_eq!(rush_waves(Arc::new(marker)).await, [20]);
    }

    #[tokio::test]
    async fn an_abandoned_or_dropped_fetch_wakes_its_waiters() {
        let cache = Cache::new();
        let h = HeaderMap::new();
        let key = [1u8; 32];
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &h)) else { panic!() };
        let Lookup::Wait(waiter) = cache.lookup(&key, &q(100.0, &h)) else { panic!() };
        drop(fetch);
        waiter.wait().await;
        // The next lookup fetches again.
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &h)) else { panic!() };
        fetch.abandon();
        assert!(matches!(cache.lookup(&key, &q(100.0, &h)), Lookup::Miss { .. }));
    }

    #[test]
    fn an_error_answer_never_takes_a_good_objects_place() {
        let cache = Cache::new();
        let h = HeaderMap::new();
        let key = [3u8; 32];
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &h)) else { panic!() };
        let good = object(1.0);
        fetch.insert(good.clone());
        // Stale in grace: the refresh gets a 503 marked hit-for-miss.
        let Lookup::Grace { fetch: Some(refresh), .. } = cache.lookup(&key, &q(102.0, &h)) else { panic!() };
        let mut error = Object::new(
            Head { status: 503, ..Head::default() },
            Ttl { t_origin: 102.0, ttl: 120.0, grace: 0.0, keep: 0.0 },
            Kind::HitForMiss,
        );
        error.vary = None;
        refresh.insert_unless_good(Arc::new(error));
        let Lookup::Grace { stale, .. } = cache.lookup(&key, &q(103.0, &h)) else { panic!("still served in grace") };
        assert!(Arc::ptr_eq(&stale, &good));
    }

    #[test]
    fn uncacheable_answers_are_not_stored_and_a_new_object_replaces_its_variant() {
        let cache = Cache::new();
        let h = HeaderMap::new();
        let key = [2u8; 32];
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &h)) else { panic!() };
        fetch.insert(object(0.0));
        assert_eq!(cache.len(), 0);
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &h)) else { panic!() };
        let first = object(1.0);
        fetch.insert(first.clone());
        // Stale at 103 but in grace: a grace hit that starts the refresh.
        let Lookup::Grace { stale, fetch: Some(refresh) } = cache.lookup(&key, &q(103.0, &h)) else { panic!() };
        assert!(Arc::ptr_eq(&stale, &first));
        refresh.insert(object(60.0));
        assert_eq!(cache.len(), 1, "the refreshed object replaced the stale one");
        cache.remove(&key, &first);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.sweep(1000.0), 1);
        assert!(cache.is_empty());
    }
}
