//! One part of the index (see [`super`]): per key its newest object in a table of 8 bytes a
//! key (an object knows its key), the few keys with several variants in a map of their own,
//! the busy fetches, and the time before which none of its objects expires.

use std::collections::HashMap;
use std::sync::Arc;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use super::{Key, Registered};
use crate::object::Object;

/// One part of the index.
#[derive(Default)]
pub(super) struct Shard {
    /// The newest object of each key.
    pub(super) newest: HashTable<Arc<Object>>,
    /// Every object, newest first, of each key that has more than one (its first is the one in
    /// `newest`).
    pub(super) more: HashMap<Key, Vec<Arc<Object>>, KeyHash>,
    /// The busy fetch of each key that has one.
    pub(super) busy: HashMap<Key, Registered, KeyHash>,
    /// The number the next registered fetch gets.
    pub(super) next_fetch: u64,
    /// No object here expires before this time (seconds; 0: not known): the sweep passes over
    /// a shard whose objects all live on, without touching them (a million objects, nearly
    /// all of them memory no cache holds, cost the sweeper 300 ms of CPU a second). Each
    /// object put lowers it to its own end, a rearm to the new one; a sweep sets it anew.
    pub(super) soonest: f64,
}

/// Hashes a key by some of its own bits (uniform already: no need for SipHash's cost on every
/// miss).
#[derive(Clone, Copy, Default)]
pub(super) struct KeyHash;

/// The hasher [`KeyHash`] makes.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A key hashes as its length (ignored), then its 32 bytes at once.
        if let Ok(key) = <&Key>::try_from(bytes) {
            self.0 = hash(key);
        }
    }
}

/// Where a key goes in its shard's table: its bits are uniform already (SHA-256); the shard
/// was chosen by its first byte.
fn hash(key: &Key) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[8..16]);
    u64::from_le_bytes(b)
}

impl Shard {
    /// The objects of `key`, newest first.
    pub(super) fn objects(&self, key: &Key) -> &[Arc<Object>] {
        if !self.more.is_empty() {
            if let Some(all) = self.more.get(key) {
                return all;
            }
        }
        self.newest.find(hash(key), |o| &o.key == key).map_or(&[], std::slice::from_ref)
    }

    /// Keeps the objects of `key` that `keep` says to; how many went.
    pub(super) fn retain(&mut self, key: &Key, mut keep: impl FnMut(&Arc<Object>) -> bool) -> usize {
        if let Some(all) = self.more.get_mut(key) {
            let before = all.len();
            all.retain(|o| keep(o));
            let gone = before - all.len();
            let first = all.first().cloned();
            if all.len() <= 1 {
                self.more.remove(key);
            }
            self.set_newest(key, first);
            return gone;
        }
        match self.newest.find_entry(hash(key), |o| &o.key == key) {
            Ok(entry) if !keep(entry.get()) => {
                entry.remove();
                1
            }
            _ => 0,
        }
    }

    /// Adds `obj` as the newest of `key`, removing the objects `replaced` says it replaces;
    /// how many went. (One probe of the table for a key with at most one object.)
    pub(super) fn put(&mut self, key: &Key, obj: Arc<Object>, mut replaced: impl FnMut(&Arc<Object>) -> bool) -> usize {
        self.soonest = self.soonest.min(obj.expires_at());
        if !self.more.is_empty() && self.more.contains_key(key) {
            let gone = self.retain(key, |o| !replaced(o));
            self.push_front(key, obj);
            return gone;
        }
        match self.newest.entry(hash(key), |o| &o.key == key, |o| hash(&o.key)) {
            Entry::Occupied(mut entry) if replaced(entry.get()) => {
                *entry.get_mut() = obj;
                1
            }
            Entry::Occupied(mut entry) => {
                let old = std::mem::replace(entry.get_mut(), obj.clone());
                self.more.insert(*key, vec![obj, old]);
                0
            }
            Entry::Vacant(vacant) => {
                vacant.insert(obj);
                0
            }
        }
    }

    /// Adds `obj` as the newest of `key`.
    fn push_front(&mut self, key: &Key, obj: Arc<Object>) {
        if let Some(all) = self.more.get_mut(key) {
            all.insert(0, obj.clone());
        } else if let Some(old) = self.newest.find(hash(key), |o| &o.key == key) {
            let all = vec![obj.clone(), old.clone()];
            self.more.insert(*key, all);
        }
        self.set_newest(key, Some(obj));
    }

    fn set_newest(&mut self, key: &Key, obj: Option<Arc<Object>>) {
        match (self.newest.find_entry(hash(key), |o| &o.key == key), obj) {
            (Ok(mut entry), Some(obj)) => *entry.get_mut() = obj,
            (Ok(entry), None) => {
                entry.remove();
            }
            (Err(_), Some(obj)) => {
                self.newest.insert_unique(hash(key), obj, |o| hash(&o.key));
            }
            (Err(_), None) => {}
        }
    }

    /// Removes every object `expired` says is; how many went.
    pub(super) fn sweep(&mut self, mut expired: impl FnMut(&Arc<Object>) -> bool) -> usize {
        let mut gone = 0;
        // The keys with several objects first: then the newest of each is one that stays.
        let several: Vec<Key> = self.more.keys().copied().collect();
        for key in several {
            gone += self.retain(&key, |o| !expired(o));
        }
        self.newest.retain(|o| {
            let expired = expired(o);
            gone += usize::from(expired);
            !expired
        });
        gone
    }
}
