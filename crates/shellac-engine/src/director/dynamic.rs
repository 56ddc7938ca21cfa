//! `etcd.director(prefix, policy, probe, …)`: a director whose members are the catalog entries
//! under a prefix, one backend per key, each built from the director's template (probe,
//! timeouts, connection limit, Host). Membership changes in place: no VCL reload.
//!
//! Invariants:
//! - A member keeps its `Backend` (and so its admin state, pool and probe history) for as long as
//!   its key keeps the same address; a weight or drain change does not rebuild it.
//! - A deleted or drained member leaves the policy's list at once (no new requests); requests
//!   already using it hold their own reference and finish.
//! - A deleted member is kept, cold (unprobed, its idle connections closed), for [`RETAIN`]: if
//!   its key comes back with the same address it gets the same backend, history included.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use parking_lot::Mutex;
use shellac_vcl::ir::Probe;
use shellac_vcl::vmods::DirectorKind;
use tokio::time::Instant;

use super::{new_director, Director, Member, Members};
use crate::backend::address::Address;
use crate::backend::registry::Registry;
use crate::backend::{Backend, BackendHandle, Timeouts};
use crate::catalog::{Entry, Subscriber};

/// How long a deleted member's backend (and probe history) is kept for its return.
pub const RETAIN: Duration = Duration::from_secs(600);
/// At most this many deleted members are kept per director.
const RETAIN_MAX: usize = 4096;

/// What every member of a dynamic director is built from.
#[derive(Clone, Debug)]
pub struct Template {
    /// How members are chosen.
    pub policy: DirectorKind,
    /// The probe each member gets, if any.
    pub probe: Option<Probe>,
    /// Timeouts of each member.
    pub timeouts: Timeouts,
    /// `.max_connections` of each member (0 = unlimited).
    pub max_connections: u32,
    /// `Host:` for requests without one and for `.url` probes; the member's host if `None`.
    pub host_header: Option<HeaderValue>,
}

/// A dynamic director.
pub struct Dynamic {
    name: String,
    prefix: String,
    template: Template,
    registry: Arc<Registry>,
    /// The policy director holding the members that take requests.
    inner: Arc<dyn Director>,
    state: Mutex<State>,
}

/// What `backend.list` shows of one discovered key.
#[derive(Clone, Debug)]
pub struct Discovered {
    /// The member's name (`web(10.0.0.1:8080)`).
    pub name: String,
    /// The key.
    pub key: String,
    /// Its backend, or why there is none (a malformed key or value, a name that did not
    /// resolve).
    pub backend: Result<Arc<Backend>, String>,
    /// Its weight.
    pub weight: f64,
    /// Whether it is draining.
    pub drain: bool,
}

#[derive(Default)]
struct State {
    warm: bool,
    members: BTreeMap<String, Slot>,
    retired: HashMap<String, (Arc<Backend>, Instant)>,
}

struct Slot {
    entry: Arc<Entry>,
    backend: Option<Arc<Backend>>,
}

// === impl Dynamic ===

impl Dynamic {
    /// An empty one; it fills when subscribed to the catalog or fed with [`Dynamic::update`].
    pub fn new(name: &str, prefix: &str, template: Template, registry: Arc<Registry>) -> Dynamic {
        let inner = new_director(template.policy, name, false);
        Dynamic {
            name: name.to_string(),
            prefix: prefix.to_string(),
            template,
            registry,
            inner,
            state: Mutex::new(State { warm: true, ..State::default() }),
        }
    }

    /// Makes the members those of `entries`, reusing the backends of members that stay.
    pub fn update_members(&self, entries: &[Arc<Entry>]) {
        let mut state = self.state.lock();
        let warm = state.warm;
        let now = Instant::now();
        let mut next = BTreeMap::new();
        for e in entries {
            let old = state.members.remove(&e.key).and_then(|s| s.backend);
            let backend = match (&e.target, old) {
                // Same address: the same backend (a weight or drain change).
                (Ok(addr), Some(b)) if b.addr == Some(Address::Ip(*addr)) => Some(b),
                (target, old) => {
                    if let Some(b) = old {
                        retire(&mut state.retired, &e.key, b, now);
                    }
                    target.as_ref().ok().map(|addr| {
                        let b = match state.retired.remove(&e.key).filter(|(b, _)| b.addr == Some(Address::Ip(*addr))) {
                            Some((b, _)) => b,
                            None => self.new_member(e, *addr),
                        };
                        b.set_warm(warm);
                        b
                    })
                }
            };
            if let Some(b) = &backend {
                tracing::debug!(director = %self.name, member = %b.name, weight = e.weight, drain = e.drain, "member");
            }
            next.insert(e.key.clone(), Slot { entry: e.clone(), backend });
        }
        // What is left was deleted.
        for (key, slot) in std::mem::take(&mut state.members) {
            if let Some(b) = slot.backend {
                tracing::info!(director = %self.name, member = %b.name, "member removed");
                retire(&mut state.retired, &key, b, now);
            }
        }
        state.retired.retain(|_, (_, at)| now.saturating_duration_since(*at) < RETAIN);
        state.members = next;
        let live: Vec<Member> = state
            .members
            .values()
            .filter(|s| !s.entry.drain && s.entry.weight > 0.0)
            .filter_map(|s| {
                s.backend.as_ref().map(|b| Member { handle: BackendHandle::Backend(b.clone()), weight: s.entry.weight })
            })
            .collect();
        self.inner.set_members(live);
    }

    /// The prefix it follows.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Keys under its prefix (usable or not), members taking requests, and the healthy ones
    /// among those.
    pub fn counts(&self) -> (usize, usize, usize) {
        let keys = self.state.lock().members.len();
        let (members, healthy) =
            self.inner.members().with(|m| (m.len(), m.iter().filter(|m| m.handle.is_healthy()).count()));
        (keys, members, healthy)
    }

    fn new_member(&self, e: &Entry, addr: std::net::SocketAddr) -> Arc<Backend> {
        let name = format!("{}({})", self.name, e.endpoint);
        let host_header = self.template.host_header.clone().or_else(|| HeaderValue::from_str(&e.host).ok());
        let probe = self.template.probe.as_ref().map(|p| {
            let spec = crate::vcl::probe_spec(p, host_header.as_ref());
            self.registry.prober(&name, Address::Ip(addr), spec)
        });
        Arc::new(Backend::new(
            name,
            Some(Address::Ip(addr)),
            Some(self.registry.pool(Address::Ip(addr))),
            host_header,
            self.template.timeouts,
            self.template.max_connections,
            probe,
        ))
    }
}

fn retire(retired: &mut HashMap<String, (Arc<Backend>, Instant)>, key: &str, b: Arc<Backend>, now: Instant) {
    b.set_warm(false);
    // It takes no new requests: its idle connections would only hold sockets on both ends.
    if let Some(pool) = &b.pool {
        pool.close_idle();
    }
    if retired.len() >= RETAIN_MAX {
        // Forget the oldest.
        if let Some(k) = retired.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone()) {
            retired.remove(&k);
        }
    }
    retired.insert(key.to_string(), (b, now));
}

impl Director for Dynamic {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        self.inner.type_name()
    }

    fn resolve(&self) -> Option<BackendHandle> {
        self.inner.resolve()
    }

    fn resolve_for(&self, hint: &super::ResolveHint<'_>) -> Option<BackendHandle> {
        self.inner.resolve_for(hint)
    }

    fn members(&self) -> &Members {
        self.inner.members()
    }

    fn uses_key(&self) -> bool {
        self.inner.uses_key()
    }

    fn backend_for_key(&self, key: &[u8]) -> Option<BackendHandle> {
        self.inner.backend_for_key(key)
    }

    fn current(&self) -> Option<usize> {
        self.inner.current()
    }

    fn set_warm(&self, warm: bool) {
        let mut state = self.state.lock();
        state.warm = warm;
        for b in state.members.values().filter_map(|s| s.backend.as_ref()) {
            b.set_warm(warm);
        }
    }

    fn discovered(&self) -> Vec<Discovered> {
        self.state
            .lock()
            .members
            .values()
            .map(|s| Discovered {
                name: format!("{}({})", self.name, s.entry.endpoint),
                key: s.entry.key.clone(),
                backend: match (&s.backend, &s.entry.target) {
                    (Some(b), _) => Ok(b.clone()),
                    (None, Err(e)) => Err(e.clone()),
                    (None, Ok(_)) => Err("no backend".into()),
                },
                weight: s.entry.weight,
                drain: s.entry.drain,
            })
            .collect()
    }
}

impl Subscriber for Dynamic {
    fn prefix(&self) -> &str {
        &self.prefix
    }

    fn update(&self, entries: &[Arc<Entry>]) {
        // Only direct children are members: `<prefix><host>:<port>`.
        let direct: Vec<Arc<Entry>> =
            entries.iter().filter(|e| !e.key[self.prefix.len()..].contains('/')).cloned().collect();
        self.update_members(&direct);
    }
}
