//! Directors (spec §3): one trait, one file per policy. A director holds an ordered member list
//! of backends or other directors, each with a weight; `resolve` picks one member (which may
//! itself be a director: the fetch keeps resolving until it reaches a backend), and health is
//! "at least one member healthy".

pub mod dynamic;
pub mod fallback;
pub mod groups;
pub mod hash;
pub mod random;
pub mod round_robin;
pub mod shard;
pub mod shard_param;

use std::fmt;
use std::sync::Arc;

use parking_lot::RwLock;
use shellac_vcl::vmods::DirectorKind;

use crate::backend::{AdminCell, BackendHandle};

/// A director.
pub trait Director: Send + Sync + 'static {
    /// Its VCL name.
    fn name(&self) -> &str;
    /// Its type as `backend.list -j` prints it (`round-robin`, `fallback`, `random`, `hash`).
    fn type_name(&self) -> &'static str;
    /// Picks a member, or `None` when no member can take the request.
    fn resolve(&self) -> Option<BackendHandle>;
    /// Picks a member for a backend request: directors that pick by the request (shard)
    /// look at it; the others pick as [`Director::resolve`].
    fn resolve_for(&self, _hint: &ResolveHint<'_>) -> Option<BackendHandle> {
        self.resolve()
    }
    /// Whether it can take requests (at least one member healthy); `depth` guards against
    /// cycles.
    fn is_healthy(&self, depth: usize) -> bool {
        self.members().any_healthy(depth)
    }
    /// The members.
    fn members(&self) -> &Members;
    /// `.backend(key)` of the hash director: the member for a key, chosen now.
    fn backend_for_key(&self, _key: &[u8]) -> Option<BackendHandle> {
        None
    }
    /// Whether `.backend(key)` picks by key (hash, groups); others ignore the key.
    fn uses_key(&self) -> bool {
        false
    }
    /// For `backend.list -p`: the index of the member currently in use (sticky fallback).
    fn current(&self) -> Option<usize> {
        None
    }
    /// Called after `remove_backend` took out the member at `index`.
    fn on_removed(&self, _index: usize) {}
    /// Its VCL went warm or cold: members it creates itself (discovered ones) follow.
    fn set_warm(&self, _warm: bool) {}
    /// Directors it creates itself (the groups of `etcd.groups`), for `backend.list`.
    fn children(&self) -> Vec<Arc<dyn Director>> {
        Vec::new()
    }
    /// Its discovered members, including those that cannot be used, for `backend.list`.
    fn discovered(&self) -> Vec<dynamic::Discovered> {
        Vec::new()
    }
    /// The `etcd.groups` object it is, for `.explain()` and what the management port shows.
    fn as_groups(&self) -> Option<&groups::Groups> {
        None
    }
    /// The shard director it is, for its own methods.
    fn as_shard(&self) -> Option<&shard::Shard> {
        None
    }
    /// The shard parameter set it is (an object of vmod directors that is not a director: never
    /// listed, never a backend).
    fn as_shard_param(&self) -> Option<&shard_param::ShardParam> {
        None
    }
    /// Makes `live` its members (a dynamic director's, after a membership change).
    fn set_members(&self, live: Vec<Member>) {
        self.members().replace(live);
    }
}

/// What a backend request tells the directors that pick by it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResolveHint<'a> {
    /// The hash of the object it fetches (`bereq.hash`).
    pub hash: Option<&'a [u8]>,
    /// Its URL.
    pub url: &'a str,
    /// Its own copies of shard parameter sets (`shard_param.set()` on the backend side).
    pub shard_params: &'a [(usize, shard_param::ShardArgs)],
}

/// A director's member list, and its `backend.set_health` override.
#[derive(Default)]
pub struct Members {
    list: RwLock<Vec<Member>>,
    /// The `backend.set_health` override of the director.
    pub admin: AdminCell,
}

/// One member.
#[derive(Clone, Debug)]
pub struct Member {
    /// The backend or director.
    pub handle: BackendHandle,
    /// Its weight (1 where the policy has none).
    pub weight: f64,
}

/// Creates a director of a kind.
pub fn new_director(kind: DirectorKind, name: &str, sticky: bool) -> Arc<dyn Director> {
    match kind {
        DirectorKind::RoundRobin => Arc::new(round_robin::RoundRobin::new(name)),
        DirectorKind::Fallback => Arc::new(fallback::Fallback::new(name, sticky)),
        DirectorKind::Random => Arc::new(random::Random::new(name)),
        DirectorKind::Hash => Arc::new(hash::Hash::new(name)),
        DirectorKind::Shard => shard::new(name),
        DirectorKind::ShardParam => Arc::new(shard_param::ShardParam::new(name)),
        // Discovered directors are built by the loader, which has the registry; as a policy
        // these never reach here.
        DirectorKind::Etcd | DirectorKind::EtcdGroups => Arc::new(round_robin::RoundRobin::new(name)),
    }
}

// === impl Members ===

impl Members {
    /// `add_backend`: appends (duplicates allowed).
    pub fn add(&self, handle: BackendHandle, weight: f64) {
        self.list.write().push(Member { handle, weight });
    }

    /// `remove_backend`: removes the first occurrence; returns its index.
    pub fn remove(&self, handle: &BackendHandle) -> Option<usize> {
        let mut list = self.list.write();
        let i = list.iter().position(|m| m.handle.same(handle))?;
        list.remove(i);
        Some(i)
    }

    /// Replaces the whole list (dynamic directors, after a membership change).
    pub fn replace(&self, list: Vec<Member>) {
        *self.list.write() = list;
    }

    /// A copy of the list.
    pub fn snapshot(&self) -> Vec<Member> {
        self.list.read().clone()
    }

    /// Runs `f` on the list under the read lock.
    pub fn with<R>(&self, f: impl FnOnce(&[Member]) -> R) -> R {
        f(&self.list.read())
    }

    /// Whether any member is healthy.
    pub fn any_healthy(&self, depth: usize) -> bool {
        self.list.read().iter().any(|m| m.handle.healthy_at(depth))
    }
}

/// When the health of anything under `d` last changed (its members' probe verdicts and admin
/// states, the groups it made): a director's `Last change` in `backend.list`.
pub fn health_changed(d: &dyn Director) -> Option<std::time::SystemTime> {
    health_changed_at(d, 0)
}

pub(crate) fn health_changed_at(d: &dyn Director, depth: usize) -> Option<std::time::SystemTime> {
    let members = d.members().with(|m| m.iter().filter_map(|m| m.handle.health_changed_at(depth)).max());
    let children = d.children().iter().filter_map(|c| health_changed_at(c.as_ref(), depth + 1)).max();
    members.max(children)
}

/// Picks among healthy members by cumulative weight: the first whose running total exceeds
/// `r × total` (random and hash directors, spec §3.4–3.5). `r` is in [0, 1).
pub(crate) fn pick_weighted(members: &[Member], r: f64, depth: usize) -> Option<BackendHandle> {
    let healthy: Vec<&Member> = members.iter().filter(|m| m.handle.healthy_at(depth)).collect();
    let total: f64 = healthy.iter().map(|m| m.weight).sum();
    if total <= 0.0 {
        return None;
    }
    let target = r * total;
    let mut acc = 0.0;
    for m in &healthy {
        acc += m.weight;
        if target < acc {
            return Some(m.handle.clone());
        }
    }
    healthy.last().map(|m| m.handle.clone())
}

impl fmt::Debug for dyn Director {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.type_name(), self.name())
    }
}
