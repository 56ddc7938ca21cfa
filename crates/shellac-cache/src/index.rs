//! The index: objects by key (SHA-256 of `hash_data`), several variants per key, and per key at
//! most one busy fetch whose waiting list the other requests for that key join (coalescing,
//! spec §5.5). A lookup takes the key's shard lock, decides ([`crate::lookup`]) and answers with
//! the object to deliver, the right to fetch ([`Fetch`]), or a place on the waiting list
//! ([`Waiter`]). A fetch that has its head inserts the object and wakes every waiter, who look up
//! again; one that fails wakes them too, never leaving them hanging.
//!
//! A shard's table holds, per key, its newest object and nothing else (an object knows its
//! key): 8 bytes a key for the million small objects a cache may hold. The few keys with several
//! variants have them all in a map of their own, as busy fetches have.
//!
//! Invariants: an object is only ever found under its own key and variant; a key in the table
//! has at least one object; a key has at most one registered busy fetch, cleared exactly once
//! (by insert, abandon or drop).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::ban::Bans;
use crate::lookup::{decide, Decision, Query};
use crate::object::{Kind, Object};
use crate::storage::Storage;
use crate::xkey::Xkeys;

/// A lookup key: the SHA-256 of what `vcl_hash` fed `hash_data`.
pub type Key = [u8; 32];

mod invalidation;
mod shard;

pub use invalidation::LurkPlan;
use shard::Shard;

/// Shards of the table (a power of two).
const SHARDS: usize = 64;

/// The object index. Clones share it.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[Mutex<Shard>]>,
    objects: AtomicUsize,
    /// The stores `-s` names, in order (at least one).
    stores: Vec<Arc<Storage>>,
    /// `Transient`: short-lived and uncacheable objects.
    transient: Arc<Storage>,
    /// Round robin over `stores` for objects that name none.
    next_store: AtomicUsize,
    /// Objects removed for having outlived ttl + grace + keep (`n_expired`).
    expired: AtomicU64,
    /// The bans, and every stored object's place in them.
    bans: Bans,
    /// Surrogate keys (`xkey`).
    xkeys: Xkeys,
    /// The latest time (`f64` bits) any object stored so far expires (ttl + grace + keep).
    latest_expiry: AtomicU64,
}

/// varnishd's default storage: `-s default,100m`.
pub const DEFAULT_SIZE: u64 = 100 << 20;

/// A busy fetch as its shard knows it: which one it is, and its waiting list, made when the
/// first request waits (most fetches nobody waits on need none).
pub(super) struct Registered {
    fetch: u64,
    waiting: Option<Arc<Busy>>,
}

/// The waiting list of a fetch in progress.
struct Busy {
    /// Lets waiters go: `rush_exponent` permits when a cacheable object arrives, and each
    /// waiter that goes passes on as many after its lookup (Varnish's rush, 3, 9, 27, …);
    /// closed (all go at once) when the fetch fails or brings a marker.
    rush: Semaphore,
    rush_exponent: usize,
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
    /// Its number among its shard's registered fetches; `None` for a fetch nobody waits on
    /// (hit-for-miss).
    registered: Option<u64>,
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
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Cache {
            inner: Arc::new(Inner {
                shards,
                objects: AtomicUsize::new(0),
                stores,
                transient: Arc::new(transient),
                next_store: AtomicUsize::new(0),
                expired: AtomicU64::new(0),
                // (The one clock reading here: the time of varnishd's ban "from boot".)
                bans: Bans::new(
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
                ),
                xkeys: Xkeys::default(),
                latest_expiry: AtomicU64::new(0),
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

    /// The bans.
    pub fn bans(&self) -> &Bans {
        &self.inner.bans
    }

    /// The latest time (seconds since the epoch) at which an object stored so far expires, past
    /// ttl, grace and keep: after it, nothing stored before now can match anything.
    pub fn latest_expiry(&self) -> f64 {
        f64::from_bits(self.inner.latest_expiry.load(Ordering::Relaxed))
    }

    /// The surrogate key index.
    pub fn xkeys(&self) -> &Xkeys {
        &self.inner.xkeys
    }

    /// An object leaves the index: its charge is released, it leaves its ban and its surrogate
    /// keys.
    fn forget(&self, obj: &Object) {
        self.store_of(obj).forget(obj);
        self.inner.bans.detach(obj);
        self.inner.xkeys.remove(obj);
    }

    /// The store an object is charged to.
    fn store_of<'a>(&'a self, obj: &'a Object) -> &'a Storage {
        obj.storage.as_deref().unwrap_or(&self.inner.stores[0])
    }

    fn shard(&self, key: &Key) -> &Mutex<Shard> {
        &self.inner.shards[usize::from(key[0]) % SHARDS]
    }

    /// Looks `key` up for a request (spec §5.3).
    pub fn lookup(&self, key: &Key, q: &Query<'_>) -> Lookup {
        let mut shard = self.shard(key).lock();
        let busy = shard.busy.contains_key(key);
        if shard.objects(key).iter().any(|o| self.inner.bans.behind(o)) {
            self.test_bans(&mut shard, key, q);
        }
        let objects = shard.objects(key);
        let decision = decide(objects, busy, q);
        let pick = |i: usize| objects[i].clone();
        match decision {
            Decision::Hit(i) => Lookup::Hit(pick(i)),
            Decision::HitForPass(i) => Lookup::HitForPass(pick(i)),
            Decision::HitMiss(i) => Lookup::HitMiss { marker: pick(i), fetch: self.private(key) },
            Decision::Grace { stale, fetch } => {
                let stale = pick(stale);
                let fetch = fetch.then(|| self.register(key, &mut shard));
                Lookup::Grace { stale, fetch }
            }
            Decision::Miss { stale } => {
                let stale = stale.map(pick);
                let fetch = if q.ignore_busy && busy { self.private(key) } else { self.register(key, &mut shard) };
                Lookup::Miss { fetch, stale }
            }
            Decision::Wait => match shard.busy.get_mut(key) {
                Some(r) => {
                    let busy = r.waiting.get_or_insert_with(|| Busy::new(q.rush_exponent.max(1)));
                    busy.waiters.fetch_add(1, Ordering::Relaxed);
                    Lookup::Wait(Waiter { busy: busy.clone() })
                }
                // (Wait is only decided with a busy fetch.)
                None => Lookup::Miss { fetch: self.register(key, &mut shard), stale: None },
            },
        }
    }

    /// A fetch that nobody waits on, and that no lookup will wait for.
    pub fn private(&self, key: &Key) -> Fetch {
        Fetch { cache: self.clone(), key: *key, registered: None }
    }

    fn register(&self, key: &Key, shard: &mut Shard) -> Fetch {
        let fetch = shard.next_fetch;
        shard.next_fetch += 1;
        let r = Registered { fetch, waiting: None };
        // (A lookup registers a fetch only where none is busy; should one be, its waiters look
        // up again, and wait for this one.)
        if let Some(Registered { waiting: Some(busy), .. }) = shard.busy.insert(*key, r) {
            busy.release(false);
        }
        Fetch { cache: self.clone(), key: *key, registered: Some(fetch) }
    }

    /// Removes `obj` from the index (its fetch failed, or it is evicted): its charge is
    /// released.
    pub fn remove(&self, obj: &Arc<Object>) {
        let key = &obj.key;
        let mut shard = self.shard(key).lock();
        let gone = shard.retain(key, |o| !Arc::ptr_eq(o, obj));
        drop(shard);
        self.inner.objects.fetch_sub(gone, Ordering::Relaxed);
        self.forget(obj);
    }

    /// Removes every object stored under `key`, every variant and marker at once (`return
    /// (purge)`, Varnish's `HSH_Purge` with no grace); how many went. A fetch busy for the key
    /// is left to finish, and objects being delivered are delivered to the end.
    pub fn purge(&self, key: &Key) -> usize {
        let mut gone = Vec::new();
        let mut shard = self.shard(key).lock();
        shard.retain(key, |o| {
            gone.push(o.clone());
            false
        });
        drop(shard);
        self.inner.objects.fetch_sub(gone.len(), Ordering::Relaxed);
        for o in &gone {
            self.forget(o);
        }
        gone.len()
    }

    /// Gives every object under `key` a new lifetime from `now` (`purge.soft`: see
    /// [`Object::rearm`]); how many. They leave when the sweep finds them past it.
    pub fn rearm(&self, key: &Key, now: f64, ttl: f64, grace: f64, keep: f64) -> usize {
        let mut shard = self.shard(key).lock();
        let mut soonest = shard.soonest;
        let objects = shard.objects(key);
        for o in objects {
            o.rearm(now, ttl, grace, keep);
            soonest = soonest.min(o.expires_at());
        }
        let n = objects.len();
        shard.soonest = soonest;
        n
    }

    /// Gives one stored object a new lifetime from `now`, as [`Cache::rearm`] does.
    pub(crate) fn rearm_one(&self, obj: &Object, now: f64, ttl: f64, grace: f64, keep: f64) {
        let mut shard = self.shard(&obj.key).lock();
        obj.rearm(now, ttl, grace, keep);
        shard.soonest = shard.soonest.min(obj.expires_at());
    }

    /// Appends a body chunk to `obj` (stored under `key`) and charges it; whether the object is
    /// still stored (one larger than the whole store is delivered and not kept). A stored chunk
    /// is a copy: the chunk given may be a slice of a connection's read buffer, which it would
    /// keep alive whole for as long as the object lives.
    pub fn append(&self, obj: &Arc<Object>, chunk: bytes::Bytes) -> bool {
        let chunk = if obj.is_stored() { bytes::Bytes::copy_from_slice(&chunk) } else { chunk };
        self.append_shared(obj, chunk)
    }

    /// As [`Cache::append`], for a chunk the store already owns (another stored object's): kept
    /// as it is, not copied.
    pub fn append_shared(&self, obj: &Arc<Object>, chunk: bytes::Bytes) -> bool {
        let n = chunk.len() as u64 + crate::storage::CHUNK_OVERHEAD;
        obj.body.append(chunk);
        if !obj.is_stored() {
            return false;
        }
        self.store_of(obj).charge(obj, n);
        self.make_room(obj)
    }

    /// Ends `obj`'s body, complete or failed, and wakes its readers; the store is charged for
    /// the chunks' bookkeeping no longer (a complete body is kept in one piece).
    pub fn finish(&self, obj: &Object, state: crate::body::State) {
        let fewer = obj.body.finish(state);
        if fewer > 0 && obj.is_stored() {
            self.store_of(obj).discharge(obj, fewer as u64 * crate::storage::CHUNK_OVERHEAD);
        }
    }

    /// Moves a delivered object to the newest end of the LRU order (at most every couple of
    /// seconds per object). `now` in seconds.
    pub fn touch(&self, obj: &Object, now: u64) {
        self.store_of(obj).touch(obj, now);
    }

    /// Evicts the least recently used objects of `obj`'s store other than `obj` until the store
    /// is within its limit; if that is not enough, `obj` itself leaves. Whether `obj` is still
    /// stored.
    fn make_room(&self, obj: &Arc<Object>) -> bool {
        let storage = self.store_of(obj);
        while storage.is_over() {
            let Some(victim) = storage.pop_oldest(Some(obj)) else { break };
            self.remove(&victim);
            storage.nuked_one();
        }
        if storage.is_over() && obj.is_stored() {
            storage.failed_one();
            self.remove(obj);
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
        let mut shard = self.inner.shards[i % SHARDS].lock();
        if now < shard.soonest {
            return 0;
        }
        let mut soonest = f64::INFINITY;
        let gone = shard.sweep(|o| {
            let end = o.expires_at();
            if end <= now {
                self.forget(o);
                return true;
            }
            soonest = soonest.min(end);
            false
        });
        shard.soonest = soonest;
        drop(shard);
        self.inner.objects.fetch_sub(gone, Ordering::Relaxed);
        self.inner.expired.fetch_add(gone as u64, Ordering::Relaxed);
        gone
    }

    /// Objects stored.
    pub fn len(&self) -> usize {
        self.inner.objects.load(Ordering::Relaxed)
    }

    /// Keys with an object stored or a fetch going on (varnishd's `n_objecthead`). Takes each
    /// part's lock in turn: for counters, not for a request.
    pub fn heads(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| {
                let s = s.lock();
                s.newest.len() + s.busy.keys().filter(|k| s.objects(k).is_empty()).count()
            })
            .sum()
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
        let Some(fetch) = self.registered else { return false };
        let shard = self.cache.shard(&self.key).lock();
        shard
            .busy
            .get(&self.key)
            .filter(|r| r.fetch == fetch)
            .and_then(|r| r.waiting.as_ref())
            .is_some_and(|b| b.waiters.load(Ordering::Relaxed) > 0)
    }

    /// The key it fills.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Stores `obj` under this fetch's key if it has a lifetime (ttl above zero), replacing
    /// the objects of the same variant and evicting others if the store is full, and wakes the
    /// waiters. The object, shared.
    pub fn insert(self, obj: Object) -> Arc<Object> {
        self.store(obj, true)
    }

    /// As [`Fetch::insert`], except that a normal object of the same variant stays: for an
    /// error answer (a 5xx marker, a synthetic error), which must not take a good object's
    /// place (a stale copy keeps serving in grace).
    pub fn insert_unless_good(self, obj: Object) -> Arc<Object> {
        self.store(obj, false)
    }

    fn store(mut self, mut obj: Object, replace_good: bool) -> Arc<Object> {
        obj.key = self.key;
        let obj = Arc::new(obj);
        let cache = self.cache.clone();
        let key = &self.key;
        let mut shard = cache.shard(key).lock();
        let shadows_good =
            !replace_good && shard.objects(key).iter().any(|o| o.kind == Kind::Normal && o.vary == obj.vary);
        let stored = obj.ttl().ttl > 0.0 && !shadows_good;
        if stored {
            // (Placed in the ban list and under its surrogate keys before any lookup, the lurker
            // or a purge can see it.)
            cache.inner.bans.attach(&obj);
            cache.inner.xkeys.add(&obj);
            let t = obj.ttl();
            // (Positive doubles order as their bits do.)
            let end = (t.t_origin + t.ttl + t.grace.max(0.0) + t.keep.max(0.0)).max(0.0);
            cache.inner.latest_expiry.fetch_max(end.to_bits(), Ordering::Relaxed);
            let gone = shard.put(key, obj.clone(), |o| {
                let same = o.vary == obj.vary;
                if same {
                    cache.forget(o);
                }
                same
            });
            cache.inner.objects.fetch_sub(gone, Ordering::Relaxed);
            cache.inner.objects.fetch_add(1, Ordering::Relaxed);
            cache.store_of(&obj).admit(&obj);
        }
        // A cacheable object: the waiters go a few at a time, each served from it.
        self.clear(&mut shard, stored && obj.kind == Kind::Normal);
        drop(shard);
        if stored {
            cache.make_room(&obj);
        }
        obj
    }

    /// Stores nothing and wakes the waiters (they look up again).
    pub fn abandon(mut self) {
        let cache = self.cache.clone();
        let mut shard = cache.shard(&self.key).lock();
        self.clear(&mut shard, false);
    }

    /// Unregisters the busy fetch (if it is still this one) and wakes its waiters.
    /// `rush`: a cacheable object came, let the waiters go a few at a time; else all at once.
    fn clear(&mut self, shard: &mut Shard, rush: bool) {
        let Some(fetch) = self.registered.take() else { return };
        // (One probe: a key's registered fetch is nearly always this one.)
        match shard.busy.remove(&self.key) {
            Some(r) if r.fetch == fetch => {
                if let Some(busy) = r.waiting {
                    busy.release(rush);
                }
            }
            Some(other) => {
                shard.busy.insert(self.key, other);
            }
            None => {}
        }
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        if self.registered.is_some() {
            let cache = self.cache.clone();
            let mut shard = cache.shard(&self.key).lock();
            self.clear(&mut shard, false);
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
    fn new(rush_exponent: usize) -> Arc<Busy> {
        Arc::new(Busy { rush: Semaphore::new(0), rush_exponent, waiters: AtomicUsize::new(0) })
    }

    /// The fetch is over: the first `rush_exponent` waiters go (each then lets as many go), or
    /// all of them. (Called under the shard's lock, after the fetch left the busy list.)
    fn release(&self, rush: bool) {
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
    use crate::vary::Vary;
    use http::HeaderMap;

    fn q(now: f64, h: &HeaderMap) -> Query<'_> {
        Query::new(now, h, b"/")
    }

    fn object(ttl: f64) -> Object {
        Object::new(Head::default(), Ttl { t_origin: 100.0, ttl, grace: 10.0, keep: 0.0 }, Kind::Normal)
    }

    fn store(cache: &Cache, key: Key, body: usize) -> Arc<Object> {
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &HeaderMap::new())) else { panic!("a miss") };
        let obj = fetch.insert(object(60.0));
        assert!(cache.append(&obj, bytes::Bytes::from(vec![b'x'; body])) || body > 10_000);
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
        // Each touch moved it (`n_lru_moved`); one key per object stored (`n_objecthead`).
        assert_eq!(cache.storage().moved(), 4);
        assert_eq!(cache.heads(), cache.len());
        let h = HeaderMap::new();
        assert!(matches!(cache.lookup(&[1; 32], &q(101.0, &h)), Lookup::Hit(_)), "the recently used one stays");
        assert!(matches!(cache.lookup(&[2; 32], &q(101.0, &h)), Lookup::Miss { .. }), "the oldest went");
        // An object larger than the store is not kept (and evicts nothing it cannot use).
        let big = store(&cache, [9; 32], 20_000);
        assert!(!big.is_stored());
        assert!(cache.storage().used() <= 10_000);
        // A fetch going on for a key with nothing stored is a head too.
        let Lookup::Miss { fetch, .. } = cache.lookup(&[7; 32], &q(101.0, &h)) else { panic!("a miss") };
        assert_eq!(cache.heads(), cache.len() + 1);
        drop(fetch);
        // Everything expired goes, and its charge with it.
        cache.sweep(10_000.0);
        assert_eq!(cache.storage().used(), 0);
        assert_eq!(cache.heads(), 0);
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
    async fn rush_waves(obj: Object) -> Vec<usize> {
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
        assert_eq!(rush_waves(marker).await, [20]);
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
        let good = fetch.insert(object(1.0));
        // Stale in grace: the refresh gets a 503 marked hit-for-miss.
        let Lookup::Grace { fetch: Some(refresh), .. } = cache.lookup(&key, &q(102.0, &h)) else { panic!() };
        let mut error = Object::new(
            Head::new(503, "Service Unavailable", false, Default::default()),
            Ttl { t_origin: 102.0, ttl: 120.0, grace: 0.0, keep: 0.0 },
            Kind::HitForMiss,
        );
        error.vary = None;
        refresh.insert_unless_good(error);
        let Lookup::Grace { stale, .. } = cache.lookup(&key, &q(103.0, &h)) else { panic!("still served in grace") };
        assert!(Arc::ptr_eq(&stale, &good));
    }

    #[test]
    fn the_sweep_passes_over_a_shard_until_an_object_in_it_may_have_expired() {
        let cache = Cache::new();
        let key = [3u8; 32];
        let part = usize::from(key[0]) % SHARDS;
        let soonest = |cache: &Cache| cache.inner.shards[part].lock().soonest;
        // Born at 100, ttl 60, grace 10: it goes at 170. The first sweep learns that.
        let obj = store(&cache, key, 10);
        assert_eq!(cache.sweep_shard(part, 169.0), 0);
        assert_eq!(soonest(&cache), 170.0);
        // An object that lives longer leaves the floor where it is; one that goes sooner lowers it.
        store(
            &cache,
            [3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            10,
        );
        assert_eq!(soonest(&cache), 170.0);
        // A soft purge brings an end nearer (fresh until 120, then 5 s of grace): the floor
        // follows, and the sweep finds it then, and only it.
        assert_eq!(cache.rearm(&key, 115.0, 5.0, 5.0, 0.0), 1);
        assert_eq!(soonest(&cache), 125.0);
        assert_eq!(cache.sweep_shard(part, 124.0), 0);
        assert_eq!(cache.sweep_shard(part, 125.0), 1);
        assert!(!obj.is_stored());
        assert!(matches!(cache.lookup(&key, &q(125.0, &HeaderMap::new())), Lookup::Miss { .. }));
        assert_eq!(soonest(&cache), 170.0, "the other one is left");
        // One object rearmed alone (an xkey soft purge) lowers it too.
        let other = store(&cache, key, 10);
        cache.rearm_one(&other, 130.0, 0.0, 2.0, 0.0);
        assert_eq!(soonest(&cache), 132.0);
        assert_eq!(cache.sweep_shard(part, 132.0), 1);
        assert_eq!(cache.len(), 1);
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
        let first = fetch.insert(object(1.0));
        // Stale at 103 but in grace: a grace hit that starts the refresh.
        let Lookup::Grace { stale, fetch: Some(refresh) } = cache.lookup(&key, &q(103.0, &h)) else { panic!() };
        assert!(Arc::ptr_eq(&stale, &first));
        refresh.insert(object(60.0));
        assert_eq!(cache.len(), 1, "the refreshed object replaced the stale one");
        cache.remove(&first);
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.sweep(1000.0), 1);
        assert!(cache.is_empty());
    }

    #[test]
    fn a_key_with_several_variants_keeps_each_replaces_each_and_sweeps_each() {
        let cache = Cache::new();
        let key = [5u8; 32];
        let req = |lang: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("accept-language", http::HeaderValue::from_static(lang));
            h
        };
        let vary_resp = {
            let mut h = HeaderMap::new();
            h.insert("vary", http::HeaderValue::from_static("Accept-Language"));
            h
        };
        let variant = |lang, ttl| {
            let mut o = object(ttl);
            o.vary = Vary::record(&vary_resp, &req(lang)).expect("vary").map(Box::new);
            o
        };
        let fill = |lang: &'static str, ttl| {
            let h = req(lang);
            let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &h)) else { panic!("a miss for {lang}") };
            fetch.insert(variant(lang, ttl))
        };
        let hit = |lang: &'static str| match cache.lookup(&key, &q(101.0, &req(lang))) {
            Lookup::Hit(o) => Some(o),
            _ => None,
        };
        let (en, fr, de) = (fill("en", 60.0), fill("fr", 60.0), fill("de", 5.0));
        assert_eq!(cache.len(), 3);
        for (lang, obj) in [("en", &en), ("fr", &fr), ("de", &de)] {
            assert!(hit(lang).is_some_and(|o| Arc::ptr_eq(&o, obj)), "{lang} finds its own");
        }
        // A new object of a variant (a refresh) replaces that variant only.
        let fr2 = cache.private(&key).insert(variant("fr", 60.0));
        assert_eq!(cache.len(), 3);
        assert!(hit("fr").is_some_and(|o| Arc::ptr_eq(&o, &fr2)));
        assert!(hit("en").is_some_and(|o| Arc::ptr_eq(&o, &en)));
        // Removing the newest leaves the others.
        cache.remove(&fr2);
        assert!(hit("fr").is_none() && hit("en").is_some() && hit("de").is_some());
        // de expires (ttl 5, grace 10): the sweep takes it alone.
        assert_eq!(cache.sweep(120.0), 1);
        assert!(hit("en").is_some() && hit("de").is_none());
        cache.remove(&en);
        assert!(cache.is_empty() && hit("en").is_none());
        assert_eq!(cache.storage().used(), 0);
    }

    #[test]
    fn a_purge_removes_every_variant_and_marker_of_its_key_and_nothing_else() {
        let cache = Cache::new();
        let h = HeaderMap::new();
        let (key, other) = ([8u8; 32], [9u8; 32]);
        let Lookup::Miss { fetch, .. } = cache.lookup(&key, &q(100.0, &h)) else { panic!("a miss") };
        let first = fetch.insert(object(60.0));
        let mut variant = object(60.0);
        variant.vary = Some(Box::new(Vary::Star));
        cache.private(&key).insert(variant);
        let Lookup::Miss { fetch, .. } = cache.lookup(&other, &q(100.0, &h)) else { panic!("a miss") };
        fetch.insert(object(60.0));
        assert_eq!((cache.len(), cache.storage().lru_len()), (3, 3));
        assert_eq!(cache.purge(&key), 2);
        assert!(!first.is_stored());
        assert!(matches!(cache.lookup(&key, &q(101.0, &h)), Lookup::Miss { .. }));
        assert!(matches!(cache.lookup(&other, &q(101.0, &h)), Lookup::Hit(_)), "another key stays");
        assert_eq!((cache.len(), cache.storage().lru_len()), (1, 1));
        assert_eq!(cache.purge(&key), 0);
    }
}
