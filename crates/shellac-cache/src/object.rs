//! An object: a response as the store keeps it. Its head (status, reason, protocol, headers) and
//! lifetime are fixed when the fetch hands it over; its body may still be filling (streaming);
//! its hit count moves with every delivery. VCL sees it as `obj.*`.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::body::Body;
use crate::headers::Headers;
use crate::index::Key;
use crate::storage;
use crate::ttl::Ttl;
use crate::vary::Vary;

/// The head of a stored response.
#[derive(Clone, Debug, Default)]
pub struct Head {
    /// The status (three digits).
    pub status: u16,
    /// `HTTP/1.0` (else `HTTP/1.1`).
    pub http10: bool,
    /// The reason phrase, unless it is the standard one for the status (nearly always: a
    /// million objects need not keep a million copies of "OK"). Boxed twice: 8 bytes here.
    #[allow(clippy::box_collection)]
    reason: Option<Box<String>>,
    /// The headers.
    pub headers: Headers,
}

/// What kind of object it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// A response to deliver.
    #[default]
    Normal,
    /// A hit-for-miss marker (`beresp.uncacheable`): lookups that find it fetch, uncoalesced.
    HitForMiss,
    /// A hit-for-pass marker (`return (pass)` from `vcl_backend_response`): lookups that find it
    /// pass.
    HitForPass,
}

/// A stored (or being stored) response.
///
/// A million small objects make every byte here a megabyte: the lifetime is kept as Varnish
/// keeps it (the origin time in double precision, the durations in single), counters in 32
/// bits where that is enough.
#[derive(Debug)]
pub struct Object {
    /// The key it is stored under (set when a fetch inserts it).
    pub(crate) key: Key,
    /// Its head.
    pub head: Head,
    /// Its lifetime: when it was born at the origin.
    t_origin: f64,
    /// Its lifetime: ttl, grace and keep (`f32` bits; a soft purge changes them).
    spans: [AtomicU32; 3],
    /// What kind of object it is.
    pub kind: Kind,
    /// The variant it is (the request values of its `Vary` headers), if it varies.
    pub vary: Option<Box<Vary>>,
    /// Its body.
    pub body: Body,
    /// The xid of the backend request that fetched it (a hit's second `X-Varnish` number).
    pub xid: u64,
    /// Whether its body is gzip (Varnish's `OF_GZIPED`): a client that does not take gzip gets
    /// it unpacked.
    pub gzip: bool,
    /// The store it is charged to while it is stored (`None`: the cache's first store).
    pub storage: Option<Arc<crate::Storage>>,
    /// The length of its body unpacked, once known (`u64::MAX`: not yet).
    plain_len: AtomicU64,
    hits: AtomicU32,
    /// Whether it is in the index (and so charged to the storage).
    pub(crate) stored: AtomicBool,
    /// Bytes charged to the storage.
    pub(crate) charged: AtomicU64,
    /// Its node in the storage's LRU order (0: none).
    lru_node: AtomicU32,
    /// When it was last moved in the LRU order (seconds).
    touched: AtomicU32,
    /// The newest ban it has been tested against (see [`crate::ban`]), while it is stored.
    ban: AtomicU32,
}

// === impl Head ===

impl Head {
    /// A head of this status, reason, protocol and headers.
    pub fn new(status: u16, reason: &str, http10: bool, headers: Headers) -> Head {
        let standard = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
        let reason = (standard != Some(reason)).then(|| Box::new(reason.to_string()));
        Head { status, http10, reason, headers }
    }

    /// The reason phrase.
    pub fn reason(&self) -> &str {
        match &self.reason {
            Some(r) => r,
            None => http::StatusCode::from_u16(self.status).ok().and_then(|s| s.canonical_reason()).unwrap_or(""),
        }
    }

    /// `HTTP/1.1` or `HTTP/1.0`.
    pub fn proto(&self) -> &'static str {
        if self.http10 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        }
    }
}

// === impl Object ===

impl Object {
    /// Reads the first line of each of its pieces on the heap, its headers and body (an
    /// eviction to come will free them: see `Storage::pop_oldest`); what it read, for
    /// `black_box` to keep the reads.
    pub(crate) fn warm(&self) -> usize {
        self.head.headers.len() + usize::from(self.body.warm())
    }

    /// An object whose body the fetch will append.
    pub fn new(head: Head, ttl: Ttl, kind: Kind) -> Object {
        Object::with_body(head, ttl, kind, Body::default())
    }

    /// An object with a complete body (a synthetic response).
    pub fn complete(head: Head, ttl: Ttl, body: Bytes) -> Object {
        Object::with_body(head, ttl, Kind::Normal, Body::complete(body))
    }

    /// An object with this body (complete, or to be appended to).
    pub fn with_body(head: Head, ttl: Ttl, kind: Kind, body: Body) -> Object {
        let mut obj = Object {
            key: [0; 32],
            head,
            t_origin: 0.0,
            spans: Default::default(),
            kind,
            vary: None,
            body,
            xid: 0,
            gzip: false,
            storage: None,
            plain_len: AtomicU64::new(u64::MAX),
            hits: AtomicU32::new(0),
            ban: AtomicU32::new(0),
            stored: AtomicBool::new(false),
            charged: AtomicU64::new(0),
            lru_node: AtomicU32::new(0),
            touched: AtomicU32::new(0),
        };
        obj.set_ttl(ttl);
        obj
    }

    /// Its lifetime.
    pub fn ttl(&self) -> Ttl {
        let [ttl, grace, keep] = self.spans();
        Ttl { t_origin: self.t_origin, ttl, grace, keep }
    }

    /// ttl, grace and keep.
    fn spans(&self) -> [f64; 3] {
        [0, 1, 2].map(|i| f64::from(f32::from_bits(self.spans[i].load(Ordering::Relaxed))))
    }

    /// Sets its lifetime (before it is shared).
    pub fn set_ttl(&mut self, ttl: Ttl) {
        self.t_origin = ttl.t_origin;
        for (slot, d) in self.spans.iter().zip([ttl.ttl, ttl.grace, ttl.keep]) {
            slot.store((d as f32).to_bits(), Ordering::Relaxed);
        }
    }

    /// Gives it a new lifetime from `now` (a soft purge, Varnish's `EXP_Rearm`): fresh for
    /// `ttl` more seconds, then `grace` and `keep`; a negative grace or keep stays as it was.
    /// (Only through the index, whose sweep must learn the new end: [`crate::Cache::rearm`].)
    pub(crate) fn rearm(&self, now: f64, ttl: f64, grace: f64, keep: f64) {
        let ttl = now + ttl - self.t_origin;
        for (i, d) in [(0, ttl), (1, grace), (2, keep)] {
            if i == 0 || d >= 0.0 {
                self.spans[i].store((d as f32).to_bits(), Ordering::Relaxed);
            }
        }
    }

    /// What it costs in the store: the object itself, its headers, its variant and its body
    /// so far (each chunk with its bookkeeping).
    pub fn footprint(&self) -> u64 {
        let headers = self.head.headers.heap_bytes() + storage::HEADER_OVERHEAD;
        let vary: u64 = match self.vary.as_deref() {
            Some(Vary::Headers(h)) => {
                h.iter().map(|(n, v)| (n.as_str().len() + v.as_ref().map_or(0, Vec::len) + 32) as u64).sum()
            }
            _ => 0,
        };
        let (len, chunks) = self.body.len_and_chunks();
        let body = len + chunks as u64 * storage::CHUNK_OVERHEAD;
        std::mem::size_of::<Object>() as u64
            + storage::OBJECT_OVERHEAD
            + self.head.reason.as_ref().map_or(0, |r| r.len() as u64)
            + headers
            + vary
            + body
    }

    /// The length of its gzip body unpacked, once the fetch has seen all of it.
    pub fn plain_len(&self) -> Option<u64> {
        let n = self.plain_len.load(Ordering::Acquire);
        (n != u64::MAX).then_some(n)
    }

    /// Records the length of its gzip body unpacked (the fetch, before it completes the body).
    pub fn set_plain_len(&self, n: u64) {
        self.plain_len.store(n, Ordering::Release);
    }

    /// Whether it is in the index.
    pub fn is_stored(&self) -> bool {
        self.stored.load(Ordering::SeqCst)
    }

    /// Its ban position (see [`crate::ban`]; changed under the ban list's lock).
    pub(crate) fn ban(&self) -> u32 {
        self.ban.load(Ordering::Acquire)
    }

    pub(crate) fn set_ban(&self, seq: u32) {
        self.ban.store(seq, Ordering::Release);
    }

    pub(crate) fn lru_node(&self) -> u32 {
        self.lru_node.load(Ordering::Relaxed)
    }

    pub(crate) fn set_lru_node(&self, node: u32) {
        self.lru_node.store(node, Ordering::Relaxed);
    }

    pub(crate) fn take_lru_node(&self) -> u32 {
        self.lru_node.swap(0, Ordering::Relaxed)
    }

    /// Whether its LRU place is old enough to be moved at `now` (seconds); marks it moved.
    pub(crate) fn due_for_touch(&self, now: u64) -> bool {
        // Seconds since the epoch fit in 32 bits until 2106.
        let now = u32::try_from(now).unwrap_or(u32::MAX);
        let last = self.touched.load(Ordering::Relaxed);
        u64::from(now) >= u64::from(last) + storage::TOUCH_EVERY
            && self.touched.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// `obj.hits`: deliveries from the cache so far.
    pub fn hits(&self) -> u64 {
        u64::from(self.hits.load(Ordering::Relaxed))
    }

    /// Counts a delivery from the cache (stopping at four billion).
    pub fn hit(&self) {
        let _ = self.hits.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| h.checked_add(1));
    }

    /// `obj.ttl` at `now`: the time left fresh (negative once stale).
    pub fn ttl_now(&self, now: f64) -> f64 {
        self.spans()[0] - (now - self.t_origin)
    }

    /// `obj.age` at `now`.
    pub fn age(&self, now: f64) -> f64 {
        now - self.t_origin
    }

    /// Whether it is fresh at `now` (for a request whose `req.ttl` caps the ttl).
    pub fn is_fresh(&self, now: f64, req_ttl: Option<f64>) -> bool {
        let own = self.spans()[0];
        let ttl = req_ttl.map_or(own, |r| own.min(r));
        self.t_origin + ttl > now
    }

    /// Whether a stale copy may still be served at `now` (within grace, `req.grace` capping it).
    pub fn is_in_grace(&self, now: f64, req_grace: Option<f64>) -> bool {
        let [ttl, own, _] = self.spans();
        let grace = req_grace.map_or(own, |r| own.min(r));
        self.t_origin + ttl + grace > now
    }

    /// Whether it has outlived ttl, grace and keep at `now` (it can go).
    pub fn is_expired(&self, now: f64) -> bool {
        self.expires_at() <= now
    }

    /// When it will have outlived ttl, grace and keep (seconds since the epoch).
    pub fn expires_at(&self) -> f64 {
        let [ttl, grace, keep] = self.spans();
        self.t_origin + ttl.max(0.0) + grace + keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_fits_a_192_byte_allocation_with_its_arc() {
        // A million small objects: every byte here is a megabyte (bench/objects.sh). The
        // allocator's size classes step from 192 to 224 bytes.
        assert!(std::mem::size_of::<Object>() + 16 <= 192, "{}", std::mem::size_of::<Object>());
    }

    #[test]
    fn freshness_grace_and_expiry_follow_the_lifetime() {
        // ttl 2 s and grace 5 s, born at 100 (spec §5.3's timeline).
        let o = Object::new(Head::default(), Ttl { t_origin: 100.0, ttl: 2.0, grace: 5.0, keep: 0.0 }, Kind::Normal);
        assert!(o.is_fresh(101.0, None));
        assert!(!o.is_fresh(101.0, Some(0.5)), "req.ttl caps the ttl");
        assert!(!o.is_fresh(103.5, None));
        assert!(o.is_in_grace(103.5, None));
        assert_eq!(o.ttl_now(103.5), -1.5);
        assert_eq!(o.age(103.5), 3.5);
        assert!(!o.is_in_grace(103.5, Some(1.0)), "req.grace caps the grace");
        assert!(!o.is_in_grace(107.5, None));
        assert!(o.is_expired(107.0));
        o.hit();
        assert_eq!(o.hits(), 1);
    }
}
