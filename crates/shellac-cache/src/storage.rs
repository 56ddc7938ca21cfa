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
//! objects do not all take its lock (as varnishd's `lru_interval`). It is a doubly linked list
//! whose nodes live in blocks of 4096 and link by index (16 bytes an object, every operation
//! O(1), growth without copying); an object knows its node.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::object::Object;

/// The least time between two LRU touches of one object, in seconds.
pub const TOUCH_EVERY: u64 = 2;

/// What a stored object costs beyond its own size: its `Arc`, its slot in the index, its node
/// in the LRU order and the allocator's rounding. Measured with `bench/objects.sh` and
/// `examples/footprint.rs` (RSS growth over a million objects of 100 bytes, minus what the
/// rest of the footprint counts).
pub(crate) const OBJECT_OVERHEAD: u64 = 104;
/// What an object's stored headers cost beyond their bytes and positions: the allocator's
/// rounding of their one buffer.
pub(crate) const HEADER_OVERHEAD: u64 = 8;
/// What one shared body chunk costs beyond its bytes: its handle in the list and the count it
/// is shared by. (A small complete body is plain bytes: none.)
pub(crate) const CHUNK_OVERHEAD: u64 = 64;

/// A store with a size limit and an LRU order.
pub struct Storage {
    name: String,
    limit: u64,
    used: AtomicU64,
    lru: Mutex<Lru>,
    nuked: AtomicU64,
    /// Objects moved to the newest end of the LRU order so far (`n_lru_moved`).
    moved: AtomicU64,
    /// Objects given room (`c_req`).
    requests: AtomicU64,
    /// Objects that did not fit even after evicting (`c_fail`).
    failures: AtomicU64,
}

/// The LRU order: a list from the oldest (`nodes[0].next`) to the newest (`nodes[0].prev`),
/// through node 0, which holds no object. Free nodes chain through `next` from `free`.
struct Lru {
    nodes: Nodes,
    free: u32,
}

/// The nodes, in blocks that never move.
struct Nodes {
    blocks: Vec<Vec<Node>>,
    len: u32,
}

/// Nodes per block (64 KiB).
const BLOCK: usize = 4096;

struct Node {
    prev: u32,
    next: u32,
    obj: Weak<Object>,
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

/// How far ahead of an eviction the objects the next ones will take are read (see
/// [`Lru::ahead`]): the object itself this many nodes on, its count that many.
const WARM_NEAR: u32 = 2;
const WARM_FAR: u32 = 6;

// === impl Storage ===

impl Storage {
    /// A store called `name` holding at most `limit` bytes.
    pub fn new(name: &str, limit: u64) -> Storage {
        Storage {
            name: name.to_string(),
            limit,
            used: AtomicU64::new(0),
            lru: Mutex::new(Lru::new()),
            nuked: AtomicU64::new(0),
            moved: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
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

    /// Objects moved to the newest end of the LRU order so far (`n_lru_moved`).
    pub fn moved(&self) -> u64 {
        self.moved.load(Ordering::Relaxed)
    }

    /// Objects evicted to make room so far (`n_lru_nuked`).
    pub fn nuked(&self) -> u64 {
        self.nuked.load(Ordering::Relaxed)
    }

    /// Charges a newly stored object (its metadata and the body it has so far) and puts it in
    /// the LRU order as the newest.
    /// Objects given room so far (`SMA.*.c_req`).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Objects that did not fit, even after evicting (`SMA.*.c_fail`).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Counts an object that did not fit.
    pub(crate) fn failed_one(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn admit(&self, obj: &Arc<Object>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        obj.stored.store(true, Ordering::SeqCst);
        self.charge(obj, obj.footprint());
        let node = self.lru.lock().push(Arc::downgrade(obj));
        obj.set_lru_node(node);
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

    /// Releases `n` of the bytes charged to an object (its body took less room once complete).
    pub(crate) fn discharge(&self, obj: &Object, n: u64) {
        let mut took = 0;
        let _ = obj.charged.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
            took = n.min(c);
            Some(c - took)
        });
        // (What `forget` swaps out afterwards is what is left: nothing is released twice.)
        self.used.fetch_sub(took, Ordering::SeqCst);
    }

    /// Releases an object's charge and takes it out of the LRU order (it left the index).
    pub(crate) fn forget(&self, obj: &Object) {
        obj.stored.store(false, Ordering::SeqCst);
        self.used.fetch_sub(obj.charged.swap(0, Ordering::SeqCst), Ordering::SeqCst);
        let node = obj.take_lru_node();
        if node != 0 {
            self.lru.lock().free(node);
        }
    }

    /// Moves an object to the newest end of the LRU order, if it was not moved lately.
    pub(crate) fn touch(&self, obj: &Object, now: u64) {
        if !obj.due_for_touch(now) {
            return;
        }
        let mut lru = self.lru.lock();
        // (Read under the lock: `forget` frees the node under it.)
        let node = obj.lru_node();
        if node != 0 {
            lru.unlink(node);
            lru.link_newest(node);
            self.moved.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether the store is over its limit.
    pub(crate) fn is_over(&self) -> bool {
        self.used() > self.limit
    }

    /// The oldest object in the LRU order other than `except`, taken out of the order (`None`
    /// when none is left). Objects already gone are passed over.
    pub(crate) fn pop_oldest(&self, except: Option<&Arc<Object>>) -> Option<Arc<Object>> {
        let mut lru = self.lru.lock();
        let mut node = lru.nodes[0].next;
        while node != 0 {
            let next = lru.nodes[node].next;
            match lru.nodes[node].obj.upgrade() {
                Some(obj) if except.is_some_and(|e| Arc::ptr_eq(e, &obj)) => {}
                Some(obj) => {
                    // Out of the order: its `forget` finds no node to free.
                    if obj.take_lru_node() == node {
                        lru.free(node);
                    }
                    let ahead = lru.ahead(next);
                    drop(lru);
                    if let Some(o) = ahead {
                        std::hint::black_box(o.warm());
                    }
                    return Some(obj);
                }
                // Gone without being forgotten (cannot happen: an object in the order is in
                // the index, which holds it); the node is reclaimed all the same.
                None => lru.free(node),
            }
            node = next;
        }
        None
    }

    /// Objects in the LRU order (for tests).
    #[cfg(test)]
    pub(crate) fn lru_len(&self) -> usize {
        let lru = self.lru.lock();
        let mut n = 0;
        let mut node = lru.nodes[0].next;
        while node != 0 {
            n += 1;
            node = lru.nodes[node].next;
        }
        n
    }

    /// Counts an eviction.
    pub(crate) fn nuked_one(&self) {
        self.nuked.fetch_add(1, Ordering::Relaxed);
    }
}

// === impl Lru ===

impl Lru {
    /// What the evictions to come will read, from node `from` on (the oldest left): the
    /// object [`WARM_NEAR`] nodes on, for its caller to read (see [`Object::warm`]) once the
    /// order is let go; and the count of the one [`WARM_FAR`] nodes on, read now, so that the
    /// object is in the CPU's caches when its turn as the near one comes. A full store's
    /// objects are memory the caches lost long ago: read this way, each arrives while other
    /// work goes on, rather than one miss after another inside the eviction that takes it.
    fn ahead(&self, from: u32) -> Option<Arc<Object>> {
        let (mut node, mut near) = (from, None);
        for step in 1..=WARM_FAR {
            if node == 0 {
                break;
            }
            if step == WARM_NEAR {
                near = self.nodes[node].obj.upgrade();
            } else if step == WARM_FAR {
                std::hint::black_box(self.nodes[node].obj.strong_count());
            }
            node = self.nodes[node].next;
        }
        near
    }

    fn new() -> Lru {
        let mut nodes = Nodes { blocks: Vec::new(), len: 0 };
        nodes.push(Node { prev: 0, next: 0, obj: Weak::new() });
        Lru { nodes, free: 0 }
    }

    /// A node for `obj`, linked as the newest; its index (never 0).
    fn push(&mut self, obj: Weak<Object>) -> u32 {
        let node = if self.free != 0 {
            let node = self.free;
            self.free = self.nodes[node].next;
            self.nodes[node].obj = obj;
            node
        } else {
            self.nodes.push(Node { prev: 0, next: 0, obj })
        };
        self.link_newest(node);
        node
    }

    fn link_newest(&mut self, node: u32) {
        let last = self.nodes[0].prev;
        self.nodes[node].prev = last;
        self.nodes[node].next = 0;
        self.nodes[last].next = node;
        self.nodes[0].prev = node;
    }

    fn unlink(&mut self, node: u32) {
        let Node { prev, next, .. } = self.nodes[node];
        self.nodes[prev].next = next;
        self.nodes[next].prev = prev;
    }

    /// Takes `node` out of the order and onto the free chain.
    fn free(&mut self, node: u32) {
        self.unlink(node);
        let n = &mut self.nodes[node];
        n.obj = Weak::new();
        n.prev = 0;
        n.next = self.free;
        self.free = node;
    }
}

// === impl Nodes ===

impl Nodes {
    /// Adds a node; its index. (More than four billion objects would not fit in memory first.)
    fn push(&mut self, node: Node) -> u32 {
        let i = self.len;
        if (i as usize).is_multiple_of(BLOCK) {
            self.blocks.push(Vec::with_capacity(BLOCK));
        }
        if let Some(block) = self.blocks.last_mut() {
            block.push(node);
        }
        self.len += 1;
        i
    }
}

impl std::ops::Index<u32> for Nodes {
    type Output = Node;
    fn index(&self, i: u32) -> &Node {
        &self.blocks[i as usize / BLOCK][i as usize % BLOCK]
    }
}

impl std::ops::IndexMut<u32> for Nodes {
    fn index_mut(&mut self, i: u32) -> &mut Node {
        &mut self.blocks[i as usize / BLOCK][i as usize % BLOCK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{Head, Kind};
    use crate::ttl::Ttl;

    fn object() -> Arc<Object> {
        Arc::new(Object::new(Head::default(), Ttl { t_origin: 0.0, ttl: 60.0, grace: 0.0, keep: 0.0 }, Kind::Normal))
    }

    #[test]
    fn the_order_goes_oldest_first_touches_move_to_the_end_and_nodes_are_reused() {
        let s = Storage::new("s0", 1 << 30);
        let objs: Vec<_> = (0..4).map(|_| object()).collect();
        objs.iter().for_each(|o| s.admit(o));
        s.touch(&objs[0], 100);
        s.forget(&objs[2]);
        assert_eq!(s.lru_len(), 3);
        let order: Vec<_> = std::iter::from_fn(|| s.pop_oldest(Some(&objs[3]))).collect();
        assert_eq!(order.len(), 2);
        assert!(Arc::ptr_eq(&order[0], &objs[1]) && Arc::ptr_eq(&order[1], &objs[0]), "0 was touched: newest");
        assert_eq!(s.lru_len(), 1, "the one spared stays");
        // (The index removes what was popped: its charge goes.)
        order.iter().for_each(|o| s.forget(o));
        // Freed nodes are used again: the vector does not grow.
        let before = s.lru.lock().nodes.len;
        let more: Vec<_> = (0..3).map(|_| object()).collect();
        more.iter().for_each(|o| s.admit(o));
        assert_eq!(s.lru.lock().nodes.len, before);
        assert_eq!(s.lru_len(), 4);
        more.iter().chain([&objs[3]]).for_each(|o| s.forget(o));
        assert_eq!(s.lru_len(), 0);
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn an_eviction_reads_ahead_the_object_the_one_after_next_takes_and_lets_it_go() {
        let s = Storage::new("s0", 1 << 30);
        let objs: Vec<_> = (0..8).map(|_| object()).collect();
        objs.iter().for_each(|o| s.admit(o));
        let first = s.lru.lock().nodes[0].next;
        let near = s.lru.lock().ahead(first).expect("eight in the order");
        assert!(Arc::ptr_eq(&near, &objs[WARM_NEAR as usize - 1]), "WARM_NEAR nodes on from the oldest");
        drop(near);
        // Popping reads ahead and lets go of what it read: no count is left behind, and the
        // order and what it gives are as without it.
        let popped = s.pop_oldest(None).expect("the oldest");
        assert!(Arc::ptr_eq(&popped, &objs[0]));
        assert!(objs.iter().all(|o| Arc::strong_count(o) == 1 + usize::from(Arc::ptr_eq(o, &popped))));
        assert_eq!(s.lru_len(), 7);
        // Near the end of the order there is nothing that far ahead.
        let last = s.lru.lock().nodes[0].prev;
        assert!(s.lru.lock().ahead(last).is_none());
    }
}
