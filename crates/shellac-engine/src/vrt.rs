//! The runtime side of VCL: the request, backend request, backend response and client response
//! that subroutines read and write, and the context one subroutine runs with. Variable access
//! lives in [`vars`].

pub mod cookies;
pub mod filters;
pub mod reason;
pub mod timeouts;
pub mod vars;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use shellac_vcl::symbols::Method;

use crate::backend::BackendHandle;
use crate::vcl::Vcl;

/// A client connection, as VCL sees it.
#[derive(Debug)]
pub struct Sess {
    /// `client.ip`: the connection's peer, or the client a PROXY header names.
    pub client: SocketAddr,
    /// `server.ip`: the connection's local address, or the server a PROXY header names.
    pub local: SocketAddr,
    /// `remote.ip`: the connection's peer.
    pub remote: SocketAddr,
    /// `local.ip`: the connection's local address.
    pub bound: SocketAddr,
    /// `sess.xid`
    pub xid: u64,
    /// `local.endpoint`: the listen address as given.
    pub endpoint: Arc<str>,
    /// `local.socket`: the listen address name (`a0`…).
    pub socket: Arc<str>,
    /// `server.hostname`
    pub hostname: Arc<str>,
    /// `server.identity`
    pub identity: Arc<str>,
    /// `client.ip` as text, for `X-Forwarded-For` (made once per connection).
    pub client_ip: HeaderValue,
    /// The requests of the session, for its log (`Link req N rxreq`), when the log was read
    /// as it began.
    pub links: crate::vsl::Links,
    /// `sess.timeout_idle`, `sess.send_timeout`, `sess.timeout_linger`.
    pub timeouts: timeouts::Timeouts,
    /// Why the connection closes after its last answer, if that answer said so (a
    /// [`crate::fsm::connection::Close`]).
    pub closing: std::sync::atomic::AtomicU8,
    /// The connection's bytes (see [`crate::tally`]).
    pub tally: Arc<crate::tally::Tally>,
}

impl Sess {
    /// `client.ip` as a header value.
    pub fn ip_value(client: &SocketAddr) -> HeaderValue {
        HeaderValue::from_str(&client.ip().to_string()).unwrap_or(HeaderValue::from_static("0.0.0.0"))
    }
}

/// The client request (`req.*`).
#[derive(Debug)]
pub struct Req {
    /// `req.method`
    pub method: Cow<'static, str>,
    /// `req.url`
    pub url: String,
    /// `req.proto`
    pub proto: Cow<'static, str>,
    /// `req.http.*`
    pub headers: HeaderMap,
    /// `req.backend_hint`
    pub backend_hint: BackendHandle,
    /// `req.restarts`
    pub restarts: u32,
    /// `req.xid`
    pub xid: u64,
    /// `req.time`
    pub time: f64,
    /// `req.ttl`
    pub ttl: Option<f64>,
    /// `req.grace`
    pub grace: Option<f64>,
    /// `req.hash_always_miss`
    pub hash_always_miss: bool,
    /// `req.hash_ignore_busy`
    pub hash_ignore_busy: bool,
    /// `req.hash_ignore_vary`
    pub hash_ignore_vary: bool,
    /// `req.esi`
    pub esi: bool,
    /// `client.identity` when set.
    pub client_identity: Option<String>,
    /// Collects `hash_data` in `vcl_hash`.
    pub hasher: Sha256,
    /// `vcl_hash` returned `lookup`: the hasher holds everything `req.hash` is made of.
    pub hashed: bool,
    /// `std.cache_req_body(size)` was called: buffer up to this many bytes of the body.
    pub cache_body: Option<u64>,
    /// `req.is_hitmiss`: the lookup found a hit-for-miss marker.
    pub is_hitmiss: bool,
    /// `req.is_hitpass`: the lookup found a hit-for-pass marker.
    pub is_hitpass: bool,
    /// It arrived with `If-None-Match` or `If-Modified-Since` (delivery then checks for 304).
    pub conditional: bool,
    /// Why this task's last `std.ban()` failed (`std.ban_error()`).
    pub ban_error: Option<Box<str>>,
    /// The request as it came, when the VCL may roll back to it.
    pub original: Option<Box<Original>>,
    /// vmod cookie's jar of the client task.
    pub cookies: Option<Box<cookies::Jar>>,
}

/// A request line and headers as they were: what `std.rollback()` goes back to. Kept only
/// when the VCL calls it.
#[derive(Clone, Debug)]
pub struct Original {
    method: Cow<'static, str>,
    url: String,
    proto: Cow<'static, str>,
    headers: HeaderMap,
}

/// A response being built for the client (`resp.*`).
#[derive(Debug, Default)]
pub struct Resp {
    /// `resp.status` (VWXYZ form allowed; the wire gets the last three digits).
    pub status: u32,
    /// `resp.reason` (a standard phrase is not copied)
    pub reason: Cow<'static, str>,
    /// `resp.proto`
    pub proto: Cow<'static, str>,
    /// `resp.http.*`
    pub headers: HeaderMap,
    /// `resp.body` of a synthetic response.
    pub body: Vec<u8>,
    /// `resp.time`
    pub time: f64,
    /// `resp.filters`: what delivery does to the body (its default set before `vcl_deliver`).
    pub filters: String,
}

/// The backend request (`bereq.*`).
#[derive(Debug)]
pub struct Bereq {
    /// `bereq.method`
    pub method: Cow<'static, str>,
    /// `bereq.url`
    pub url: String,
    /// `bereq.proto`
    pub proto: Cow<'static, str>,
    /// `bereq.http.*`
    pub headers: HeaderMap,
    /// `bereq.backend`
    pub backend: BackendHandle,
    /// `bereq.connect_timeout`
    pub connect_timeout: Option<f64>,
    /// `bereq.first_byte_timeout`
    pub first_byte_timeout: Option<f64>,
    /// `bereq.between_bytes_timeout`
    pub between_bytes_timeout: Option<f64>,
    /// `bereq.retries`
    pub retries: u32,
    /// `bereq.xid`
    pub xid: u64,
    /// `bereq.uncacheable`
    pub uncacheable: bool,
    /// `bereq.is_hitpass`
    pub is_hitpass: bool,
    /// `bereq.is_hitmiss`
    pub is_hitmiss: bool,
    /// `bereq.is_bgfetch`: a background fetch refreshing an object delivered in grace.
    pub is_bgfetch: bool,
    /// The xid of the client request that made it (the log's `Begin bereq PARENT fetch`).
    pub parent: u64,
    /// Why this task's last `std.ban()` failed (`std.ban_error()`).
    pub ban_error: Option<Box<str>>,
    /// `unset bereq.body` was run.
    pub body_unset: bool,
    /// `bereq.time`
    pub time: f64,
    /// The request as the fetch made it, when the VCL may roll back to it.
    pub original: Option<Box<Original>>,
    /// `bereq.hash`: the key of the object a miss or background fetch fills.
    pub hash: Option<shellac_cache::Key>,
    /// vmod cookie's jar of the backend task.
    pub cookies: Option<Box<cookies::Jar>>,
    /// Its own copies of shard parameter sets, by set; and the arguments a backend-side
    /// `.backend(resolve=LAZY, …)` gave a shard director for this request, by director.
    pub shard_params: Vec<(usize, crate::director::shard_param::ShardArgs)>,
}

/// The backend response (`beresp.*`).
#[derive(Debug, Default)]
pub struct Beresp {
    /// `beresp.status`
    pub status: u32,
    /// `beresp.reason` (a standard phrase is not copied)
    pub reason: Cow<'static, str>,
    /// `beresp.proto`
    pub proto: Cow<'static, str>,
    /// `beresp.http.*`
    pub headers: HeaderMap,
    /// The stored ttl, counted from `t_origin` (VCL reads and writes it "from now": see
    /// [`Beresp::ttl_now`]).
    pub ttl: f64,
    /// `beresp.grace`
    pub grace: f64,
    /// `beresp.keep`
    pub keep: f64,
    /// When the response was born at the origin (`now − Age`): `beresp.age` is the time since.
    pub t_origin: f64,
    /// `beresp.uncacheable`
    pub uncacheable: bool,
    /// `beresp.do_stream`
    pub do_stream: bool,
    /// `beresp.do_gzip`
    pub do_gzip: bool,
    /// `beresp.do_gunzip`
    pub do_gunzip: bool,
    /// `beresp.do_esi`
    pub do_esi: bool,
    /// `beresp.backend`
    pub backend: BackendHandle,
    /// `beresp.was_304`
    pub was_304: bool,
    /// `beresp.time`
    pub time: f64,
    /// `beresp.body` of a synthetic (error) response.
    pub body: Vec<u8>,
    /// `beresp.storage_hint`
    pub storage_hint: Option<String>,
    /// `beresp.storage`: where the object goes (for a cacheable object that lives at least
    /// `shortlived`; else Transient).
    pub storage: Option<Arc<shellac_cache::Storage>>,
}

/// Everything one subroutine invocation can see. Parts not available in the method are `None`
/// (the front end already refused VCL that would use them).
pub struct Ctx<'a> {
    /// The VCL running.
    pub vcl: &'a Vcl,
    /// The client connection.
    pub sess: &'a Sess,
    /// The method running.
    pub method: Method,
    /// `now`, read from the clock on first use and fixed for the rest of the invocation.
    pub now: Option<f64>,
    /// `req`
    pub req: Option<&'a mut Req>,
    /// `resp`
    pub resp: Option<&'a mut Resp>,
    /// `bereq`
    pub bereq: Option<&'a mut Bereq>,
    /// `beresp`
    pub beresp: Option<&'a mut Beresp>,
    /// `obj`
    pub obj: Option<&'a shellac_cache::Object>,
    /// The transaction's log (`VCL_Log` from `std.log`).
    pub vsl: Option<&'a mut crate::vsl::Buffer>,
}

// === impl Ctx ===

impl Ctx<'_> {
    /// `now`: the same value for the whole invocation.
    pub fn now(&mut self) -> f64 {
        *self.now.get_or_insert_with(crate::value::now)
    }
}

// === impl Beresp ===

impl Beresp {
    /// `beresp.ttl` at `now`: the stored ttl (a negative one reads as 0) less the time since
    /// the origin made the response (`max-age=100` with `Age: 130` reads −30).
    pub fn ttl_now(&self, now: f64) -> f64 {
        self.ttl.max(0.0) - (now - self.t_origin)
    }

    /// `set beresp.ttl = ttl` at `now`: VCL's ttl is from now, the stored one from the origin.
    pub fn set_ttl_now(&mut self, ttl: f64, now: f64) {
        self.ttl = (ttl + (now - self.t_origin)).max(0.0);
    }
}

// === impl Bereq ===

impl Bereq {
    /// The backend request a client request makes (one constructor for fetches and pipe): the
    /// headers as the mode filters them, `X-Varnish` with a new xid, `GET` for a `HEAD` miss,
    /// and for a miss with `http_gzip_support`, `Accept-Encoding: gzip` (the object is stored
    /// gzip when the backend can, and unpacked for clients that do not take it).
    pub fn from_req(
        server: &crate::server::Server,
        params: &crate::params::Params,
        req: &Req,
        mode: crate::fetch::Mode,
    ) -> Bereq {
        use crate::fetch::Mode;
        let mut headers = req.headers.clone();
        let drop = if mode == Mode::Miss { &crate::hdr::BEREQ_MISS_DROP } else { &crate::hdr::BEREQ_PASS_DROP };
        crate::hdr::filter(&mut headers, drop);
        if mode == Mode::Miss && params.http_gzip_support {
            headers.insert(http::header::ACCEPT_ENCODING, http::HeaderValue::from_static("gzip"));
        }
        let xid = server.next_xid();
        headers.insert(crate::hdr::X_VARNISH, crate::hdr::num(xid));
        let method = if mode == Mode::Miss && req.method == "HEAD" { "GET".into() } else { req.method.clone() };
        Bereq {
            method,
            url: req.url.clone(),
            proto: "HTTP/1.1".into(),
            headers,
            backend: req.backend_hint.clone(),
            connect_timeout: None,
            first_byte_timeout: None,
            between_bytes_timeout: None,
            retries: 0,
            xid,
            uncacheable: mode != Mode::Miss,
            is_hitpass: req.is_hitpass,
            is_hitmiss: req.is_hitmiss,
            is_bgfetch: false,
            parent: req.xid,
            ban_error: None,
            body_unset: false,
            time: crate::value::now(),
            original: None,
            hash: None,
            cookies: None,
            shard_params: Vec::new(),
        }
    }
}

// === impl Original ===

/// `keep_original` and `rollback` for a request type with `method`, `url`, `proto`,
/// `headers` and `original`.
macro_rules! rollback_impl {
    ($ty:ty, $name:literal) => {
        impl $ty {
            #[doc = concat!("Keeps the request as it is now for `std.rollback(", $name, ")`.")]
            pub fn keep_original(&mut self) {
                self.original = Some(Box::new(Original {
                    method: self.method.clone(),
                    url: self.url.clone(),
                    proto: self.proto.clone(),
                    headers: self.headers.clone(),
                }));
            }

            #[doc = concat!("`std.rollback(", $name, ")`: the request line and headers as kept; whether there was a copy.")]
            pub fn rollback(&mut self) -> bool {
                let Some(o) = self.original.as_deref() else { return false };
                (self.method, self.url, self.proto, self.headers) =
                    (o.method.clone(), o.url.clone(), o.proto.clone(), o.headers.clone());
                true
            }
        }
    };
}

rollback_impl!(Req, "req");
rollback_impl!(Bereq, "bereq");

// === impl Req ===

impl Req {
    /// `req.hash`: the SHA-256 of what `vcl_hash` fed it, once `vcl_hash` ran (computed when
    /// asked for: a pass never needs it).
    pub fn hash(&self) -> Option<Arc<[u8]>> {
        self.key().map(|k| Arc::from(&k[..]))
    }

    /// The lookup key: `req.hash` as the cache takes it.
    pub fn key(&self) -> Option<shellac_cache::Key> {
        self.hashed.then(|| self.hasher.clone().finalize().into())
    }

    /// A request as it arrives.
    pub fn new(
        method: Cow<'static, str>,
        url: String,
        proto: Cow<'static, str>,
        headers: HeaderMap,
        xid: u64,
        time: f64,
    ) -> Req {
        Req {
            method,
            url,
            proto,
            headers,
            backend_hint: BackendHandle::None,
            restarts: 0,
            xid,
            time,
            ttl: None,
            grace: None,
            hash_always_miss: false,
            hash_ignore_busy: false,
            hash_ignore_vary: false,
            esi: true,
            client_identity: None,
            hasher: Sha256::new(),
            hashed: false,
            cache_body: None,
            is_hitmiss: false,
            is_hitpass: false,
            conditional: false,
            ban_error: None,
            original: None,
            cookies: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn req_hash_is_the_digest_of_what_vcl_hash_fed_once_it_returned_lookup() {
        let mut req = Req::new("GET".into(), "/a".into(), "HTTP/1.1".into(), HeaderMap::new(), 1, 0.0);
        req.hasher.update(b"/a#example.com#");
        assert!(req.hash().is_none(), "vcl_hash has not returned lookup yet");
        req.hashed = true;
        let want = Sha256::digest(b"/a#example.com#");
        assert_eq!(req.hash().as_deref(), Some(&want[..]));
        assert_eq!(req.hash(), req.hash(), "reading it twice gives the same value");
    }
}
