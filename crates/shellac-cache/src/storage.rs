//! The storage of stored objects (`-s malloc,SIZE`): what each object costs (metadata, headers,
//! body, charged as the body arrives, released when the object leaves the index), and an LRU
//! order to evict from when a new object or chunk would pass the limit (`n_lru_nuked`). An object
//! that left the index but is still being delivered is not counted: it is as short-lived as its
//! slowest reader.
//!
//! A cache has one or more stores (`-s`) and `Transient` (for hit-for-miss and hit-for-pass
//! markers and short-lived objects); each object is charged to its own. Objects that are not in
//! the index (a pass's response, an object too large for its store) are not charged: they are as
//! short-lived as their delivery.
//!
//! The LRU order is touched at most once per [`TOUCH_EVERY`] per object, so that hits on hot
//! objects do not all take its lock (as varnishd's `lru_interval`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::index::Key;
use crate::object::Object;

/// The least time between two LRU touches of one object, in seconds.
pub const TOUCH_EVERY: u64 = 2;

/// What a stored object costs beyond its own size: its `Arc`, its slot in the index, its entry
/// in the LRU order, its body's chunk list and the allocator's rounding. Measured with
/// `bench/objects.sh` (RSS growth over 370,000 objects of 100 bytes, minus what the rest of
/// the footprint counts).
pub(crate) const OBJECT_OVERHEAD: u64 = 288;
/// What an object's stored headers cost beyond their bytes and positions: the allocations of
/// their buffer and their index.
pub(crate) const HEADER_OVERHEAD: u64 = 32;
/// What one body chunk costs beyond its bytes.
pub(crate) const CHUNK_OVERHEAD: u64 = 48;

/// A store with a size limit and an LRU order.
pub struct Storage {
    name: String,
    limit: u64,
    used: AtomicU64,
    lru: Mutex<Lru>,
    nuked: AtomicU64,
}

#[derive(Default)]
struct Lru {
    /// Oldest first.
    order: BTreeMap<u64, (Key, Weak<Object>)>,
    next: u64,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("used", &self.used())
            .finish()
    }
}

// === impl Storage ===

impl Storage {
    /// A store called `name` holding at most `limit` bytes.
    pub fn new(name: &str, limit: u64) -> Storage {
        Storage {
            name: name.to_string(),
            limit,
            used: AtomicU64::new(0),
            lru: Mutex::new(Lru { order: BTreeMap::new(), next: 1 }),
            nuked: AtomicU64::new(0),
        }
    }

    /// Its name (`s0`, or as `-s NAME=malloc` gave it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Bytes left before the limit (`storage.NAME.free_space`).
    pub fn free(&self) -> u64 {
        self.limit.saturating_sub(self.used())
    }

    /// Objects evicted to make room so far (`n_lru_nuked`).
    pub fn nuked(&self) -> u64 {
        self.nuked.load(Ordering::Relaxed)
    }

    /// Charges a newly stored object (its metadata and the body it has so far) and puts it in
    /// the LRU order as the newest.
    pub(crate) fn admit(&self, key: &Key, obj: &Arc<Object>) {
        obj.stored.store(true, Ordering::SeqCst);
        self.charge(obj, obj.footprint());
        let mut lru = self.lru.lock();
        let tick = lru.next;
        lru.next += 1;
        lru.order.insert(tick, (*key, Arc::downgrade(obj)));
        obj.set_lru_tick(tick);
    }

    /// Charges `n` more bytes to a stored object (nothing for one that is not stored).
    pub(crate) fn charge(&self, obj: &Object, n: u64) {
        if !obj.stored.load(Ordering::SeqCst) {
            return;
        }
        obj.charged.fetch_add(n, Ordering::SeqCst);
        self.used.fetch_add(n, Ordering::SeqCst);
        // It may have left the index meanwhile: whichever of the two sees the other releases.
        if !obj.stored.load(Ordering::SeqCst) {
            self.used.fetch_sub(obj.charged.swap(0, Ordering::SeqCst), Ordering::SeqCst);
        }
    }

    /// Releases an object's charge and takes it out of the LRU order (it left the index).
    pub(crate) fn forget(&self, obj: &Object) {
        obj.stored.store(false, Ordering::SeqCst);
        self.used.fetch_sub(obj.charged.swap(0, Ordering::SeqCst), Ordering::SeqCst);
        let tick = obj.take_lru_tick();
        if tick != 0 {
            self.lru.lock().order.remove(&tick);
        }
    }

    /// Moves an object to the newest end of the LRU order, if it was not moved lately.
    pub(crate) fn touch(&self, obj: &Object, now: u64) {
        if !obj.due_for_touch(now) {
            return;
        }
        let mut lru = self.lru.lock();
        let old = obj.lru_tick();
        if old == 0 {
            return;
        }
        let Some(entry) = lru.order.remove(&old) else { return };
        let tick = lru.next;
        lru.next += 1;
        lru.order.insert(tick, entry);
        obj.set_lru_tick(tick);
    }

    /// Whether the store is over its limit.
    pub(crate) fn is_over(&self) -> bool {
        self.used() > self.limit
    }

    /// The oldest object in the LRU order other than `except`, taken out of the order (`None`
    /// when none is left). Objects already gone are passed over.
    pub(crate) fn pop_oldest(&self, except: Option<&Arc<Object>>) -> Option<(Key, Arc<Object>)> {
        let mut lru = self.lru.lock();
        let mut kept = None;
        let found = loop {
            let Some((tick, (key, weak))) = lru.order.pop_first() else { break None };
            let Some(obj) = weak.upgrade() else { continue };
            if except.is_some_and(|e| Arc::ptr_eq(e, &obj)) {
                kept = Some((tick, (key, weak)));
                continue;
            }
            break Some((key, obj));
        };
        if let Some((tick, entry)) = kept {
            lru.order.insert(tick, entry);
        }
        found
    }

    /// Counts an eviction.
    pub(crate) fn nuked_one(&self) {
        self.nuked.fetch_add(1, Ordering::Relaxed);
    }
}
