//! Surrogate keys, as varnish-modules' `xkey` has them: a stored object carries the keys of its
//! `xkey` (or legacy `X-HashTwo`) response headers, separated by spaces, tabs or commas, and a
//! purge by key finds the objects carrying it through an index from key to objects, in time
//! that grows with the objects it finds, not with the cache.
//!
//! The index is kept only once a VCL imports `xkey` (as the vmod subscribes to object events
//! when it is loaded). An object's keys are not copied into it: they are read again from its
//! stored headers when it leaves the index, which are never changed.
//!
//! Invariant: an object is in a key's set exactly while it is in the cache's index and carries
//! the key (it is added under the index's shard lock before any lookup can find it, and taken
//! out when it leaves).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use hashbrown::HashTable;
use parking_lot::Mutex;

use crate::object::Object;

/// Shards of the key index (a power of two).
const SHARDS: usize = 16;

/// The surrogate key index.
#[derive(Default)]
pub struct Xkeys {
    on: AtomicBool,
    shards: [Mutex<HashMap<Box<[u8]>, Set>>; SHARDS],
}

/// The objects carrying one key, by address.
#[derive(Default)]
struct Set(HashTable<Weak<Object>>);

/// The keys an object carries: every word of its `xkey` and `X-HashTwo` headers.
pub fn keys_of(obj: &Object) -> impl Iterator<Item = &[u8]> + '_ {
    obj.head
        .headers
        .iter()
        .filter(|(name, _)| *name == b"xkey" || *name == b"x-hashtwo")
        .flat_map(|(_, value)| words(value))
}

/// The words of a list of keys (separated by spaces, tabs or commas).
pub fn words(s: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    s.split(|&b| b == b' ' || b == b'\t' || b == b',').filter(|w| !w.is_empty())
}

/// An object's hash in a set: its address, mixed (addresses differ in their low bits only).
fn addr(obj: &Object) -> u64 {
    hash_ptr(obj as *const Object)
}

fn hash_ptr(p: *const Object) -> u64 {
    (p as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
}

fn shard_of(key: &[u8]) -> usize {
    // FNV-1a: cheap, and the map hashes the key again properly.
    let h = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (h as usize) % SHARDS
}

// === impl Xkeys ===

impl Xkeys {
    /// Starts keeping the index (a VCL imports `xkey`); objects stored from now on are in it.
    pub fn enable(&self) {
        self.on.store(true, Ordering::Release);
    }

    /// Whether the index is kept.
    pub fn enabled(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// Adds a newly stored object under each of its keys.
    pub(crate) fn add(&self, obj: &Arc<Object>) {
        if !self.enabled() {
            return;
        }
        for key in keys_of(obj) {
            let mut shard = self.shards[shard_of(key)].lock();
            let set = shard.entry(key.into()).or_default();
            let a = addr(obj);
            let me = Arc::as_ptr(obj);
            if set.0.find(a, |w| w.as_ptr() == me).is_none() {
                set.0.insert_unique(a, Arc::downgrade(obj), |w| hash_ptr(w.as_ptr()));
            }
        }
    }

    /// Takes an object that leaves the index out of its keys' sets.
    pub(crate) fn remove(&self, obj: &Object) {
        if !self.enabled() {
            return;
        }
        let (a, me) = (addr(obj), obj as *const Object);
        for key in keys_of(obj) {
            let mut shard = self.shards[shard_of(key)].lock();
            let Some(set) = shard.get_mut(key) else { continue };
            if let Ok(entry) = set.0.find_entry(a, |w| w.as_ptr() == me) {
                entry.remove();
            }
            if set.0.is_empty() {
                shard.remove(key);
            }
        }
    }

    /// The stored objects carrying `key`.
    pub(crate) fn objects(&self, key: &[u8]) -> Vec<Arc<Object>> {
        let shard = self.shards[shard_of(key)].lock();
        shard
            .get(key)
            .map_or_else(Vec::new, |set| set.0.iter().filter_map(Weak::upgrade).filter(|o| o.is_stored()).collect())
    }

    /// How many keys are indexed.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether no key is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_words_of_every_xkey_and_x_hashtwo_header() {
        let w: Vec<&[u8]> = words(b" a,b\tc ,, d").collect();
        assert_eq!(w, [&b"a"[..], b"b", b"c", b"d"]);
        assert_eq!(words(b" , ").count(), 0);
    }
}
