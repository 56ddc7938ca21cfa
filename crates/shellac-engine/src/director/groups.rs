//! `etcd.groups(prefix, default, policy, probe, …)`: one dynamic director per group of keys
//! `<prefix><group>/<host>:<port>`, created when a group's first key appears and gone from
//! routing when its last key goes. `.backend(name)` is the group called `name`, else the default
//! group; this is seed 000's setup (one round-robin director per backend type) without the
//! generated VCL.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use super::dynamic::{Dynamic, Template};
use super::{Director, Members};
use crate::backend::registry::Registry;
use crate::backend::BackendHandle;
use crate::catalog::{Entry, Subscriber};

/// A set of group directors.
pub struct Groups {
    name: String,
    prefix: String,
    default_group: String,
    template: Template,
    registry: Arc<Registry>,
    /// Groups with at least one key, by name: what `.backend(name)` reads, lock-free.
    live: ArcSwap<HashMap<String, Arc<Dynamic>>>,
    /// Every group seen (an empty one keeps its retired members' history).
    all: Mutex<BTreeMap<String, Arc<Dynamic>>>,
    warm: Mutex<bool>,
    members: Members,
}

// === impl Groups ===

impl Groups {
    /// An empty one.
    pub fn new(name: &str, prefix: &str, default_group: &str, template: Template, registry: Arc<Registry>) -> Groups {
        Groups {
            name: name.to_string(),
            prefix: prefix.to_string(),
            default_group: default_group.to_string(),
            template,
            registry,
            live: ArcSwap::from_pointee(HashMap::new()),
            all: Mutex::new(BTreeMap::new()),
            warm: Mutex::new(true),
            members: Members::default(),
        }
    }

    /// The director of a group that has keys.
    pub fn group(&self, name: &str) -> Option<Arc<Dynamic>> {
        self.live.load().get(name).cloned()
    }

    fn pick(&self, group: &str) -> Option<BackendHandle> {
        let live = self.live.load();
        let d = live.get(group).or_else(|| live.get(&self.default_group))?;
        Some(BackendHandle::Director(d.clone()))
    }
}

impl Director for Groups {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "groups"
    }

    /// Without a name: the default group.
    fn resolve(&self) -> Option<BackendHandle> {
        self.pick(&self.default_group)
    }

    fn is_healthy(&self, depth: usize) -> bool {
        self.live.load().values().any(|d| BackendHandle::Director(d.clone()).healthy_at(depth))
    }

    fn members(&self) -> &Members {
        &self.members
    }

    fn uses_key(&self) -> bool {
        true
    }

    fn backend_for_key(&self, key: &[u8]) -> Option<BackendHandle> {
        self.pick(std::str::from_utf8(key).unwrap_or_default())
    }

    fn set_warm(&self, warm: bool) {
        let mut w = self.warm.lock();
        *w = warm;
        for d in self.all.lock().values() {
            d.set_warm(warm);
        }
    }

    fn children(&self) -> Vec<Arc<dyn Director>> {
        self.live.load().values().map(|d| d.clone() as Arc<dyn Director>).collect()
    }
}

impl Subscriber for Groups {
    fn prefix(&self) -> &str {
        &self.prefix
    }

    fn update(&self, entries: &[Arc<Entry>]) {
        let mut by_group: BTreeMap<&str, Vec<Arc<Entry>>> = BTreeMap::new();
        for e in entries {
            // `<group>/<host>:<port>`; deeper or shallower keys belong to no group.
            if let Some((group, rest)) = e.key[self.prefix.len()..].split_once('/') {
                if !group.is_empty() && !rest.is_empty() && !rest.contains('/') {
                    by_group.entry(group).or_default().push(e.clone());
                }
            }
        }
        let warm = *self.warm.lock();
        let mut all = self.all.lock();
        let mut live = HashMap::new();
        for (name, d) in all.iter() {
            if !by_group.contains_key(name.as_str()) {
                d.update_members(&[]);
            }
        }
        for (group, members) in by_group {
            let d = all
                .entry(group.to_string())
                .or_insert_with(|| {
                    let prefix = format!("{}{group}/", self.prefix);
                    let d = Arc::new(Dynamic::new(group, &prefix, self.template.clone(), self.registry.clone()));
                    d.set_warm(warm);
                    tracing::info!(director = %self.name, group, "group added");
                    d
                })
                .clone();
            d.update_members(&members);
            live.insert(group.to_string(), d);
        }
        self.live.store(Arc::new(live));
    }
}
