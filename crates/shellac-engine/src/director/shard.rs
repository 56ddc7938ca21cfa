//! `directors.shard()`: Varnish 7.1's consistent-hashing director, to the same ring so that the
//! same key picks the same backend as varnishd does for the same backends and idents.
//!
//! - **The ring**: for each backend, `replicas × weight` points (weight at least 1), the point of
//!   replica `n` (from 0) being the last four bytes of SHA-256(`<ident><n>`) read little-endian
//!   (ident defaults to the backend's name), sorted.
//! - **A key** is a 32-bit number: given (`by=KEY`), the first four bytes of a blob or of the
//!   object's hash read big-endian (`by=BLOB`, `by=HASH` on the backend side), or SHA-256 of the
//!   URL as for a ring point (`by=URL`, `by=HASH` on the client side).
//! - **A lookup** finds the key's point by varnishd's own binary search (a key above the last
//!   point stays on the last one), then walks the ring for the first healthy backend not seen
//!   yet, or the `alt`-th one; `rampup` and `warmup` may send a request to the next one.
//! - **Changes** (`add_backend`, `remove_backend`, `clear`) wait for `reconfigure()`, or for the
//!   end of the VCL method that made them.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};

use super::shard_param::{By, ShardArgs};
use super::{Director, Member, Members, ResolveHint};
use crate::backend::BackendHandle;

/// varnishd's default `replicas`.
pub const DEFAULT_REPLICAS: i64 = 67;

/// At most this many points on a ring (weights that would make more are capped).
const MAX_POINTS: usize = 1 << 20;

/// A shard director.
pub struct Shard {
    name: String,
    members: Members,
    ring: RwLock<Ring>,
    pending: Mutex<Vec<Change>>,
    /// `set_warmup()`, `set_rampup()`.
    defaults: Mutex<(f64, f64)>,
    /// The parameter set `associate()` gave it.
    associated: Mutex<Option<Arc<dyn Director>>>,
}

/// A backend of the director.
#[derive(Clone, Debug)]
pub struct ShardBackend {
    /// The backend (or director).
    pub handle: BackendHandle,
    /// Its identification on the ring (the backend's name when `None`).
    pub ident: Option<String>,
    /// Its own rampup (the director's when `None`).
    pub rampup: Option<f64>,
    /// Its weight (at least 1).
    pub weight: f64,
}

/// A change waiting for `reconfigure()`.
#[derive(Clone, Debug)]
pub enum Change {
    /// `clear()`
    Clear,
    /// `add_backend()`
    Add(ShardBackend),
    /// `remove_backend()`: every instance of the backend (with no ident), or the one ident.
    Remove {
        /// The backend.
        handle: Option<BackendHandle>,
        /// The ident.
        ident: Option<String>,
    },
}

/// Which backends a lookup may return (`healthy=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Healthy {
    /// `CHOSEN`: a healthy one if possible; health ignored for the skipped alternatives.
    Chosen,
    /// `IGNORE`: health, rampup and warmup ignored.
    Ignore,
    /// `ALL`: health checked for the alternatives too.
    All,
}

/// What `.backend()` asks for.
#[derive(Clone, Copy, Debug)]
pub struct Lookup {
    /// The key.
    pub key: u32,
    /// `alt`
    pub alt: i64,
    /// `warmup` (−1: the director's).
    pub warmup: f64,
    /// `rampup`
    pub rampup: bool,
    /// `healthy`
    pub healthy: Healthy,
}

#[derive(Default)]
struct Ring {
    backends: Vec<ShardBackend>,
    /// (point, backend index), sorted.
    points: Vec<(u32, u32)>,
    replicas: i64,
}

/// A walk along the ring (varnishd's `shard_state`).
struct Walk<'a> {
    ring: &'a Ring,
    idx: usize,
    picked: Vec<bool>,
    count: usize,
    /// (backend, when its health last changed)
    previous: Option<(usize, f64)>,
    last: Option<(usize, f64)>,
}

/// A string's point or key: the last four bytes of its SHA-256, little-endian.
pub fn hash_str(s: &str) -> u32 {
    let d = Sha256::digest(s.as_bytes());
    u32::from_le_bytes([d[28], d[29], d[30], d[31]])
}

/// A key from bytes (a blob, the object's hash): the first four, big-endian, left-padded with
/// zeros when there are fewer.
pub fn key_from_bytes(b: &[u8]) -> u32 {
    let mut k = [0u8; 4];
    let n = b.len().min(4);
    k[4 - n..].copy_from_slice(&b[..n]);
    u32::from_be_bytes(k)
}

// === impl Shard ===

impl Shard {
    /// An empty one.
    pub fn new(name: &str) -> Shard {
        Shard {
            name: name.to_string(),
            members: Members::default(),
            ring: RwLock::new(Ring::default()),
            pending: Mutex::new(Vec::new()),
            defaults: Mutex::new((0.0, 0.0)),
            associated: Mutex::new(None),
        }
    }

    /// `associate(param)`: the parameter set its lookups start from (none: `.backend()`'s
    /// defaults).
    pub fn associate(&self, param: Option<Arc<dyn Director>>) {
        *self.associated.lock() = param.filter(|p| p.as_shard_param().is_some());
    }

    /// Its identity, under which a backend request keeps the arguments a lazy `.backend()`
    /// gave it.
    pub fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The arguments a lookup starts from: the associated set's (as this request has it), or
    /// the defaults.
    pub fn base_args(&self, copies: &[(usize, ShardArgs)]) -> ShardArgs {
        match &*self.associated.lock() {
            Some(p) => p.as_shard_param().map_or_else(ShardArgs::default, |p| p.effective(copies)),
            None => ShardArgs::default(),
        }
    }

    /// Queues a change for the next `reconfigure()`.
    pub fn change(&self, c: Change) {
        self.pending.lock().push(c);
    }

    /// `set_warmup(probability)`: ignored outside [0, 1); whether it was taken.
    pub fn set_warmup(&self, p: f64) -> bool {
        let ok = (0.0..1.0).contains(&p);
        if ok {
            self.defaults.lock().0 = p;
        }
        ok
    }

    /// `set_rampup(duration)`.
    pub fn set_rampup(&self, d: f64) {
        self.defaults.lock().1 = d.max(0.0);
    }

    /// `reconfigure(replicas)`: applies the queued changes and builds the ring. An error says
    /// why the director is now empty or nothing changed.
    pub fn reconfigure(&self, replicas: i64) -> Result<(), String> {
        if replicas <= 0 {
            return Err(format!(".reconfigure() invalid replicas argument {replicas}"));
        }
        let changes = std::mem::take(&mut *self.pending.lock());
        if changes.is_empty() {
            return Ok(());
        }
        let mut ring = self.ring.write();
        let mut backends = std::mem::take(&mut ring.backends);
        apply(&mut backends, &changes);
        *ring = Ring::build(backends, replicas);
        self.members
            .replace(ring.backends.iter().map(|b| Member { handle: b.handle.clone(), weight: b.weight }).collect());
        if ring.backends.is_empty() {
            return Err(".reconfigure() no backends".into());
        }
        Ok(())
    }

    /// The end of the VCL method that queued changes: they take effect, as at the end of
    /// varnishd's task.
    pub fn end_task(&self) {
        if self.pending.lock().is_empty() {
            return;
        }
        let replicas = match self.ring.read().replicas {
            0 => DEFAULT_REPLICAS,
            r => r,
        };
        if let Err(e) = self.reconfigure(replicas) {
            tracing::warn!(director = %self.name, "vmod_directors.shard: {e}");
        }
    }

    /// The backend for a lookup, at `now` (seconds since the epoch); `None` when there is none.
    pub fn pick(&self, q: &Lookup, now: f64) -> Option<BackendHandle> {
        let ring = self.ring.read();
        let n = ring.backends.len();
        if n == 0 || ring.points.is_empty() {
            return None;
        }
        let (dflt_warmup, dflt_rampup) = *self.defaults.lock();
        let alt = q.alt.clamp(0, n as i64 - 1);
        let mut w = Walk {
            ring: &ring,
            idx: lookup(&ring.points, q.key),
            picked: vec![false; n],
            count: 0,
            previous: None,
            last: None,
        };
        let handle = |i: usize| ring.backends[i].handle.clone();
        if alt > 0 && w.next(alt - 1, q.healthy == Healthy::All).is_none() {
            return w.previous.map(|(i, _)| handle(i));
        }
        if w.next(0, q.healthy != Healthy::Ignore).is_none() {
            return w.previous.map(|(i, _)| handle(i));
        }
        let (chosen, _) = w.last?;
        let warmup = if q.warmup == -1.0 { dflt_warmup } else { q.warmup };
        if alt > 0 || q.healthy == Healthy::Ignore || (!q.rampup && warmup == 0.0) || w.next(0, true).is_none() {
            return Some(handle(chosen));
        }
        let (Some((c, c_changed)), Some((a, a_changed))) = (w.previous, w.last) else {
            return Some(handle(chosen));
        };
        let rampup_of = |i: usize| ring.backends[i].rampup.unwrap_or(dflt_rampup);
        let (chosen_r, alt_r) = (rampup_of(c), rampup_of(a));
        let keep = if now - c_changed < chosen_r {
            // The chosen one is ramping up: it keeps the request unless the alternative is
            // settled and the dice say so, in proportion to how far along it is.
            !q.rampup || now - a_changed < alt_r || fastrand::f64() * chosen_r < now - c_changed
        } else {
            warmup == 0.0 || fastrand::f64() > warmup
        };
        Some(handle(if keep { c } else { a }))
    }

    /// The backends on the ring now, for `backend.list`.
    pub fn backends(&self) -> Vec<ShardBackend> {
        self.ring.read().backends.clone()
    }
}

/// varnishd's change list: everything before the last `clear` is dropped; an add of a backend
/// already there (same ident, or the same backend when neither has one) is skipped; a remove
/// takes every instance of a backend given without ident, or what matches the ident.
fn apply(backends: &mut Vec<ShardBackend>, changes: &[Change]) {
    let start = changes.iter().rposition(|c| matches!(c, Change::Clear)).map_or(0, |i| {
        backends.clear();
        i + 1
    });
    for c in &changes[start..] {
        match c {
            Change::Clear => {}
            Change::Add(b) => {
                if backends.iter().any(|x| same(b, x)) {
                    tracing::info!(
                        backend = b.handle.name(),
                        "vmod_directors.shard: backend already exists - skipping"
                    );
                } else {
                    backends.push(b.clone());
                }
            }
            Change::Remove { handle, ident } => backends.retain(|x| match (handle, ident) {
                (Some(h), None) => !h.same(&x.handle),
                (h, ident) => {
                    let probe = ShardBackend {
                        handle: h.clone().unwrap_or_default(),
                        ident: ident.clone(),
                        rampup: None,
                        weight: 1.0,
                    };
                    !same(&probe, x)
                }
            }),
        }
    }
}

/// varnishd's `shardcfg_backend_cmp() == 0`.
fn same(a: &ShardBackend, b: &ShardBackend) -> bool {
    match (&a.ident, &b.ident) {
        (None, None) => a.handle.same(&b.handle),
        (ai, bi) => {
            ai.as_deref().unwrap_or_else(|| a.handle.name()) == bi.as_deref().unwrap_or_else(|| b.handle.name())
        }
    }
}

/// varnishd's `shard_lookup()`: the index of the first point at or above the key, by its
/// binary search (a key above the last point gets the last one).
fn lookup(points: &[(u32, u32)], key: u32) -> usize {
    let n = points.len();
    let (mut low, mut high) = (0, n);
    loop {
        let i = (high + low) / 2;
        if points[i].0 == key || i == n - 1 {
            return i;
        }
        if points[i].0 < key && points[i + 1].0 >= key {
            return i + 1;
        }
        if points[i].0 > key {
            if i == 0 {
                return 0;
            }
            high = i;
        } else {
            low = i;
        }
    }
}

// === impl Ring ===

impl Ring {
    fn build(backends: Vec<ShardBackend>, replicas: i64) -> Ring {
        let mut points = Vec::new();
        for (i, b) in backends.iter().enumerate() {
            let ident = b.ident.clone().unwrap_or_else(|| b.handle.name().to_string());
            let r = ((replicas as f64) * b.weight.max(1.0)) as usize;
            for j in 0..r.min(MAX_POINTS.saturating_sub(points.len())) {
                points.push((hash_str(&format!("{ident}{j}")), i as u32));
            }
        }
        points.sort_by_key(|p| p.0);
        Ring { backends, points, replicas }
    }
}

// === impl Walk ===

impl Walk<'_> {
    /// varnishd's `shard_next()`: walks on from the current point to the `skip`-th backend not
    /// seen yet (healthy ones only when `healthy`), noting the last two it passed.
    fn next(&mut self, mut skip: i64, healthy: bool) -> Option<usize> {
        let n = self.ring.backends.len();
        let size = self.ring.points.len();
        while self.count < n && skip >= 0 {
            let c = self.ring.points[self.idx].1 as usize;
            if !self.picked[c] {
                self.picked[c] = true;
                self.count += 1;
                let be = &self.ring.backends[c].handle;
                let changed = be.health_changed_at(0).map_or(0.0, epoch);
                let mut chosen = false;
                let mut noted = None;
                if be.is_healthy() {
                    chosen = skip == 0;
                    noted = Some(chosen);
                    skip -= 1;
                } else if !healthy {
                    chosen = skip == 0;
                    noted = chosen.then_some(true);
                    skip -= 1;
                }
                match noted {
                    Some(true) => {
                        if self.last.is_some() {
                            self.previous = self.last;
                        }
                        self.last = Some((c, changed));
                    }
                    Some(false) => self.previous = Some((c, changed)),
                    None => {}
                }
                if chosen {
                    return Some(c);
                }
            }
            self.idx = (self.idx + 1) % size;
        }
        None
    }
}

/// The key a lookup with `args` takes: the object's `hash` and the `url` for `by=HASH` and
/// `by=URL` (the URL's hash when there is no object hash).
pub fn key_of(args: &ShardArgs, hash: Option<&[u8]>, url: &str) -> u32 {
    match args.by {
        // (An INT key is taken modulo 2^32, as varnishd's cast does.)
        By::Key => args.key as u32,
        By::Blob => args.key_blob.as_deref().filter(|b| !b.is_empty()).map_or(0, key_from_bytes),
        By::Url => hash_str(url),
        By::Hash => hash.map_or_else(|| hash_str(url), key_from_bytes),
    }
}

/// A lookup of `key` with the rest of `args`.
pub fn lookup_of(args: &ShardArgs, key: u32) -> Lookup {
    Lookup { key, alt: args.alt, warmup: args.warmup, rampup: args.rampup, healthy: args.healthy }
}

fn epoch(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Director for Shard {
    fn name(&self) -> &str {
        &self.name
    }

    fn type_name(&self) -> &'static str {
        "shard"
    }

    fn resolve(&self) -> Option<BackendHandle> {
        self.resolve_for(&ResolveHint::default())
    }

    /// Resolved when a fetch uses it (`resolve=LAZY`, or as another director's member): with
    /// the associated parameter set as this backend request has it (or the defaults), `by=HASH`
    /// being the object's hash (the URL's for a fetch without one).
    fn resolve_for(&self, hint: &ResolveHint<'_>) -> Option<BackendHandle> {
        // (What a backend-side `.backend(resolve=LAZY, …)` gave it for this request, if any.)
        let args = match hint.shard_params.iter().find(|(id, _)| *id == self.id()) {
            Some((_, a)) => a.clone(),
            None => self.base_args(hint.shard_params),
        };
        let q = lookup_of(&args, key_of(&args, hint.hash, hint.url));
        self.pick(&q, crate::value::now())
    }

    fn members(&self) -> &Members {
        &self.members
    }

    fn as_shard(&self) -> Option<&Shard> {
        Some(self)
    }

    /// A discovered membership: the ring is rebuilt from it at once, each member's ident its
    /// name (`DIRECTOR(host:port)`, the same on every node running the same VCL), so that a
    /// cluster keeps its key → node map when a node joins or leaves.
    fn set_members(&self, live: Vec<Member>) {
        {
            let mut pending = self.pending.lock();
            pending.clear();
            pending.push(Change::Clear);
            pending.extend(
                live.into_iter().map(|m| {
                    Change::Add(ShardBackend { handle: m.handle, ident: None, rampup: None, weight: m.weight })
                }),
            );
        }
        let replicas = match self.ring.read().replicas {
            0 => DEFAULT_REPLICAS,
            r => r,
        };
        if let Err(e) = self.reconfigure(replicas) {
            tracing::debug!(director = %self.name, "vmod_directors.shard: {e}");
        }
    }

    fn uses_key(&self) -> bool {
        true
    }

    /// `.backend(key)` of an `etcd.director(policy = shard)`: the key's hash as `.key()` makes
    /// it, looked up with the default parameters.
    fn backend_for_key(&self, key: &[u8]) -> Option<BackendHandle> {
        let q = Lookup {
            key: hash_str(&String::from_utf8_lossy(key)),
            alt: 0,
            warmup: -1.0,
            rampup: true,
            healthy: Healthy::Chosen,
        };
        self.pick(&q, crate::value::now())
    }
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shard {}", self.name)
    }
}

/// A shard director as a trait object, for the loader.
pub fn new(name: &str) -> Arc<dyn Director> {
    Arc::new(Shard::new(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director::round_robin::RoundRobin;

    /// A member with a name and nothing behind it (health is ignored by these lookups).
    fn member(name: &str, ident: Option<&str>, weight: f64) -> ShardBackend {
        let handle = BackendHandle::Director(Arc::new(RoundRobin::new(name)));
        ShardBackend { handle, ident: ident.map(str::to_string), rampup: None, weight }
    }

    fn shard(members: Vec<ShardBackend>, replicas: i64) -> Shard {
        let s = Shard::new("s");
        members.into_iter().for_each(|m| s.change(Change::Add(m)));
        s.reconfigure(replicas).expect("members");
        s
    }

    fn pick(s: &Shard, key: u32, alt: i64) -> String {
        let q = Lookup { key, alt, warmup: -1.0, rampup: true, healthy: Healthy::Ignore };
        s.pick(&q, 0.0).map(|h| h.name().to_string()).unwrap_or_default()
    }

    /// Each row as varnishd 7.1.1 answered for `s` = a, b, c (ident "cee"), `replicas = 5`,
    /// and `w` = a, b (weight 3), the default replicas: (key, pick, alt=1, alt=2, w's pick,
    /// `s.key("hello<key>")`).
    #[test]
    fn the_ring_and_its_walk_are_varnishds() {
        let s = shard(vec![member("a", None, 1.0), member("b", None, 1.0), member("c", Some("cee"), 1.0)], 5);
        let w = shard(vec![member("a", None, 1.0), member("b", None, 3.0)], DEFAULT_REPLICAS);
        let rows: &[(u32, &str, &str, &str, &str, u32)] = &[
            (0, "a", "c", "b", "b", 210093338),
            (1, "a", "c", "b", "b", 2884663376),
            (1000, "a", "c", "b", "b", 2461536128),
            (123456789, "a", "c", "b", "a", 43899673),
            (2147483647, "b", "c", "a", "a", 1519652939),
            (3000000000, "b", "a", "c", "b", 3754485940),
            (4294967295, "b", "a", "c", "b", 2182799876),
            (77777, "a", "c", "b", "b", 1322327199),
            (5555555, "a", "c", "b", "b", 3379677081),
            (987654321, "a", "b", "c", "a", 3652779710),
            (42, "a", "c", "b", "b", 1052586074),
        ];
        for &(key, p0, p1, p2, wp, k) in rows {
            assert_eq!(pick(&s, key, 0), p0, "key {key}");
            assert_eq!(pick(&s, key, 1), p1, "key {key} alt 1");
            assert_eq!(pick(&s, key, 2), p2, "key {key} alt 2");
            assert_eq!(pick(&w, key, 0), wp, "key {key} weighted");
            assert_eq!(hash_str(&format!("hello{key}")), k);
        }
        // alt beyond the members is the last one.
        assert_eq!(pick(&s, 0, 9), pick(&s, 0, 2));
    }

    /// The ring points of replica 0 for these idents, as Varnish's own test suite (d00015)
    /// expects its shard director to place them.
    #[test]
    fn ring_points_are_the_ones_varnish_places() {
        let rows: &[(&str, u32)] = &[
            ("s1", 0xf08a_d325),
            ("s2", 0x6e04_0182),
            ("s1_1", 0xbae8_0b0b),
            ("s1_2", 0x732c_7bbe),
            ("1", 0xd51d_afe6),
            ("4", 0x03d1_fe97),
            ("9", 0x6337_e62c),
        ];
        for (ident, point) in rows {
            let ring = Ring::build(vec![member("x", Some(ident), 1.0)], 1);
            assert_eq!(ring.points, [(*point, 0)], "{ident}");
        }
    }

    #[test]
    fn keys_from_bytes_are_big_endian_and_left_padded() {
        assert_eq!(key_from_bytes(&[0x12, 0x34, 0xab]), 0x0012_34ab);
        assert_eq!(key_from_bytes(&[1, 2, 3, 4, 5]), 0x0102_0304);
        assert_eq!(key_from_bytes(&[]), 0);
    }

    #[test]
    fn a_key_above_the_last_point_stays_on_it_as_varnishds_search_leaves_it() {
        let points = [(10, 0), (20, 1), (30, 2)];
        assert_eq!(lookup(&points, 5), 0);
        assert_eq!(lookup(&points, 10), 0);
        assert_eq!(lookup(&points, 11), 1);
        assert_eq!(lookup(&points, 30), 2);
        assert_eq!(lookup(&points, 31), 2);
        assert_eq!(lookup(&[(7, 0)], 9), 0);
    }

    #[test]
    fn changes_apply_as_varnishd_applies_them() {
        let s = Shard::new("s");
        let (a, b) = (member("a", None, 1.0), member("b", None, 1.0));
        let b2 = ShardBackend { ident: Some("b2".into()), ..b.clone() };
        for m in [a.clone(), b, a, b2] {
            s.change(Change::Add(m));
        }
        s.reconfigure(3).expect("members");
        let names = |s: &Shard| {
            s.backends()
                .iter()
                .map(|b| b.ident.clone().unwrap_or_else(|| b.handle.name().to_string()))
                .collect::<Vec<_>>()
        };
        // The second a is the same backend: skipped; b under another ident is another instance.
        assert_eq!(names(&s), ["a", "b", "b2"]);
        // By backend: every instance; by ident: that one.
        let b = s.backends()[1].handle.clone();
        s.change(Change::Remove { handle: Some(b), ident: None });
        s.reconfigure(3).expect("members");
        assert_eq!(names(&s), ["a"]);
        s.change(Change::Add(member("c", None, 1.0)));
        s.change(Change::Remove { handle: None, ident: Some("a".into()) });
        s.reconfigure(3).expect("members");
        assert_eq!(names(&s), ["c"]);
        // Everything before a clear is dropped; no members left is an error, and no ring.
        s.change(Change::Add(member("d", None, 1.0)));
        s.change(Change::Clear);
        assert!(s.reconfigure(3).is_err());
        assert!(s.backends().is_empty());
        assert_eq!(pick(&s, 1, 0), "");
        assert!(s.reconfigure(0).is_err(), "replicas must be positive");
    }
}
