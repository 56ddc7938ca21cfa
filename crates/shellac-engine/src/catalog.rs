//! The catalog of discovered backends: every key a discovery source (etcd) reported under the
//! watched root, parsed, and the dynamic directors that follow a prefix of it. It outlives loaded
//! VCLs (it lives in the [`crate::backend::registry::Registry`]), so a VCL loaded later starts
//! with the members known now.
//!
//! The catalog knows nothing of etcd: the discovery side parses keys and values, resolves names
//! and hands it [`Change`]s. Subscribers are told of every change under their prefix, in order,
//! with the whole set of entries under it, so a subscriber only ever diffs desired against
//! current state.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};

/// The discovered members, and who follows them.
#[derive(Default)]
pub struct Catalog {
    root: RwLock<Option<String>>,
    state: Mutex<State>,
}

/// One discovered key.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The full key.
    pub key: String,
    /// Its last path segment as written (`10.0.0.1:8080`, `[2001:db8::1]:80`, `web1:80`); a
    /// member's name is its director's name and this, as in `web(10.0.0.1:8080)`.
    pub endpoint: String,
    /// The host part without brackets: the `Host:` of probes and of requests without one.
    pub host: String,
    /// Where to connect, or why the key or value cannot be used.
    pub target: Result<SocketAddr, String>,
    /// Share of traffic for random and hash policies (1 by default).
    pub weight: f64,
    /// Whether it takes no new requests (in-flight ones finish).
    pub drain: bool,
}

/// One change from the discovery source.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A key was created or changed.
    Put(Entry),
    /// A key was deleted.
    Delete(String),
}

/// Something that follows the entries under a prefix: a dynamic director.
pub trait Subscriber: Send + Sync {
    /// The prefix it follows (ends with `/`).
    fn prefix(&self) -> &str;
    /// The entries under the prefix, in key order, after a change that touched it. Called with
    /// the catalog locked: it must not call back into the catalog.
    fn update(&self, entries: &[Arc<Entry>]);
}

#[derive(Default)]
struct State {
    entries: BTreeMap<String, Arc<Entry>>,
    subscribers: Vec<Weak<dyn Subscriber>>,
}

// === impl Catalog ===

impl Catalog {
    /// Sets the root the discovery source watches; dynamic directors must follow a prefix under
    /// it.
    pub fn set_root(&self, root: &str) {
        *self.root.write() = Some(root.to_string());
    }

    /// The watched root, if discovery is configured.
    pub fn root(&self) -> Option<String> {
        self.root.read().clone()
    }

    /// Applies changes in order and tells each subscriber whose prefix they touch. Returns how
    /// many changed anything.
    pub fn apply(&self, changes: impl IntoIterator<Item = Change>) -> usize {
        let mut state = self.state.lock();
        let mut touched: Vec<String> = Vec::new();
        let mut n = 0;
        for change in changes {
            let key = match change {
                Change::Put(e) => {
                    if state.entries.get(&e.key).is_some_and(|old| **old == e) {
                        continue;
                    }
                    let key = e.key.clone();
                    state.entries.insert(key.clone(), Arc::new(e));
                    key
                }
                Change::Delete(key) => {
                    if state.entries.remove(&key).is_none() {
                        continue;
                    }
                    key
                }
            };
            n += 1;
            touched.push(key);
        }
        if n > 0 {
            state.subscribers.retain(|w| w.strong_count() > 0);
            let subs: Vec<Arc<dyn Subscriber>> = state.subscribers.iter().filter_map(Weak::upgrade).collect();
            for s in subs {
                if touched.iter().any(|k| k.starts_with(s.prefix())) {
                    s.update(&under(&state.entries, s.prefix()));
                }
            }
        }
        n
    }

    /// Starts telling `s` of changes, and tells it the entries under its prefix now.
    pub fn subscribe(&self, s: &Arc<dyn Subscriber>) {
        let mut state = self.state.lock();
        s.update(&under(&state.entries, s.prefix()));
        state.subscribers.retain(|w| w.strong_count() > 0);
        state.subscribers.push(Arc::downgrade(s));
    }

    /// The entry of a key.
    pub fn get(&self, key: &str) -> Option<Arc<Entry>> {
        self.state.lock().entries.get(key).cloned()
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        self.state.lock().entries.values().cloned().collect()
    }
}

fn under(entries: &BTreeMap<String, Arc<Entry>>, prefix: &str) -> Vec<Arc<Entry>> {
    entries.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(_, e)| e.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder {
        prefix: String,
        seen: Mutex<Vec<Vec<String>>>,
    }

    impl Subscriber for Recorder {
        fn prefix(&self) -> &str {
            &self.prefix
        }
        fn update(&self, entries: &[Arc<Entry>]) {
            self.seen.lock().push(entries.iter().map(|e| e.endpoint.clone()).collect());
        }
    }

    fn entry(key: &str) -> Entry {
        let endpoint = key.rsplit('/').next().unwrap_or_default().to_string();
        Entry {
            key: key.into(),
            host: "127.0.0.1".into(),
            target: endpoint.parse().map_err(|_| "bad".to_string()),
            endpoint,
            weight: 1.0,
            drain: false,
        }
    }

    #[test]
    fn subscribers_see_only_their_prefix_and_only_real_changes() {
        let c = Catalog::default();
        c.apply([Change::Put(entry("/b/web/127.0.0.1:1"))]);
        let web = Arc::new(Recorder { prefix: "/b/web/".into(), seen: Mutex::default() });
        let api = Arc::new(Recorder { prefix: "/b/api/".into(), seen: Mutex::default() });
        c.subscribe(&(web.clone() as Arc<dyn Subscriber>));
        c.subscribe(&(api.clone() as Arc<dyn Subscriber>));
        assert_eq!(c.apply([Change::Put(entry("/b/web/127.0.0.1:2"))]), 1);
        // The same value again, and a delete of an unknown key, change nothing.
        assert_eq!(c.apply([Change::Put(entry("/b/web/127.0.0.1:2")), Change::Delete("/b/x".into())]), 0);
        c.apply([Change::Delete("/b/web/127.0.0.1:1".into()), Change::Put(entry("/b/api/127.0.0.1:3"))]);
        assert_eq!(
            *web.seen.lock(),
            vec![vec!["127.0.0.1:1"], vec!["127.0.0.1:1", "127.0.0.1:2"], vec!["127.0.0.1:2"]]
        );
        assert_eq!(*api.seen.lock(), vec![vec![], vec!["127.0.0.1:3"]]);
        // A "/b/web" prefix without the slash would also catch "/b/webby/": prefixes end in '/'.
        assert_eq!(c.entries().len(), 2);
    }

    #[test]
    fn dropped_subscribers_are_forgotten() {
        let c = Catalog::default();
        let web = Arc::new(Recorder { prefix: "/b/web/".into(), seen: Mutex::default() });
        c.subscribe(&(web.clone() as Arc<dyn Subscriber>));
        drop(web);
        assert_eq!(c.apply([Change::Put(entry("/b/web/127.0.0.1:1"))]), 1);
        assert!(c.state.lock().subscribers.is_empty());
    }
}
