//! An in-memory [`Store`] with etcd's revision semantics, for testing the watcher: every change
//! bumps the revision, watches replay history from their start revision, compaction forgets
//! history (a watch starting below it is told so), and the store can be taken down (listing and
//! watching fail, running watches end) and brought back, or replaced by a fresh one (another
//! cluster id, history and revision from zero).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::{Event, Header, Kv, Listing, Store, StoreError, Watch, WatchMessage};

/// The store; clones share it.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Mem>>,
}

/// A watch on a [`MemoryStore`].
pub struct MemoryWatch(mpsc::UnboundedReceiver<WatchMessage>);

#[derive(Default)]
struct Mem {
    cluster: u64,
    rev: i64,
    kvs: BTreeMap<String, Kv>,
    history: Vec<Event>,
    compacted: i64,
    down: bool,
    watchers: Vec<(String, mpsc::UnboundedSender<WatchMessage>)>,
    watch_starts: Vec<i64>,
    lists: usize,
}

fn rev_of(e: &Event) -> i64 {
    match e {
        Event::Put(kv) => kv.mod_revision,
        Event::Delete { revision, .. } => *revision,
    }
}

fn key_of(e: &Event) -> &str {
    match e {
        Event::Put(kv) => &kv.key,
        Event::Delete { key, .. } => key,
    }
}

// === impl MemoryStore ===

impl MemoryStore {
    /// Creates or changes a key.
    pub fn put(&self, key: &str, value: &str) {
        let mut m = self.inner.lock();
        m.rev += 1;
        let kv = Kv { key: key.to_string(), value: value.as_bytes().to_vec(), mod_revision: m.rev };
        m.kvs.insert(key.to_string(), kv.clone());
        m.record(Event::Put(kv));
    }

    /// Changes a key without any watch hearing of it (a lost event).
    pub fn put_silently(&self, key: &str, value: &str) {
        let mut m = self.inner.lock();
        m.rev += 1;
        let kv = Kv { key: key.to_string(), value: value.as_bytes().to_vec(), mod_revision: m.rev };
        m.kvs.insert(key.to_string(), kv);
    }

    /// Deletes a key.
    pub fn delete(&self, key: &str) {
        let mut m = self.inner.lock();
        if m.kvs.remove(key).is_some() {
            m.rev += 1;
            let revision = m.rev;
            m.record(Event::Delete { key: key.to_string(), revision });
        }
    }

    /// Forgets history before `rev`.
    pub fn compact(&self, rev: i64) {
        let mut m = self.inner.lock();
        m.compacted = rev;
        m.history.retain(|e| rev_of(e) >= rev);
    }

    /// Takes the store down (running watches end) or brings it back.
    pub fn set_down(&self, down: bool) {
        let mut m = self.inner.lock();
        m.down = down;
        if down {
            m.watchers.clear();
        }
    }

    /// Replaces the store by a fresh, empty one at the same place (a new etcd cluster): another
    /// cluster id, revision 0, no history; running watches end.
    pub fn replace(&self) {
        let mut m = self.inner.lock();
        let cluster = m.cluster + 1;
        let lists = m.lists;
        *m = Mem { cluster, lists, ..Mem::default() };
    }

    /// The current revision.
    pub fn revision(&self) -> i64 {
        self.inner.lock().rev
    }

    /// Start revisions of the watches created so far.
    pub fn watch_starts(&self) -> Vec<i64> {
        self.inner.lock().watch_starts.clone()
    }

    /// How many listings were served.
    pub fn lists(&self) -> usize {
        self.inner.lock().lists
    }
}

impl Mem {
    fn record(&mut self, e: Event) {
        self.watchers.retain(|(prefix, tx)| {
            !key_of(&e).starts_with(prefix) || tx.send(WatchMessage::Events(vec![e.clone()])).is_ok()
        });
        self.history.push(e);
    }
}

impl Store for MemoryStore {
    type Watch = MemoryWatch;

    async fn list(&mut self, prefix: &str) -> Result<Listing, StoreError> {
        let mut m = self.inner.lock();
        if m.down {
            return Err(StoreError("connection refused".into()));
        }
        m.lists += 1;
        let kvs = m.kvs.values().filter(|kv| kv.key.starts_with(prefix)).cloned().collect();
        Ok(Listing { cluster_id: m.cluster, revision: m.rev, kvs })
    }

    async fn header(&mut self, _prefix: &str) -> Result<Header, StoreError> {
        let m = self.inner.lock();
        if m.down {
            return Err(StoreError("connection refused".into()));
        }
        Ok(Header { cluster_id: m.cluster, revision: m.rev })
    }

    async fn watch(&mut self, prefix: &str, start: i64) -> Result<MemoryWatch, StoreError> {
        let mut m = self.inner.lock();
        if m.down {
            return Err(StoreError("connection refused".into()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        if start < m.compacted {
            let _ = tx.send(WatchMessage::Compacted(m.compacted));
            return Ok(MemoryWatch(rx));
        }
        m.watch_starts.push(start);
        for e in m.history.iter().filter(|e| rev_of(e) >= start && key_of(e).starts_with(prefix)) {
            let _ = tx.send(WatchMessage::Events(vec![e.clone()]));
        }
        m.watchers.push((prefix.to_string(), tx));
        Ok(MemoryWatch(rx))
    }

    fn reset(&mut self) {}
}

impl Watch for MemoryWatch {
    async fn next(&mut self) -> Result<Option<WatchMessage>, StoreError> {
        Ok(self.0.recv().await)
    }
}
