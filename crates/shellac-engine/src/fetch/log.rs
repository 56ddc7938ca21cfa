//! A backend transaction's log (spec §4 as varnishd 7.1 logs it): its first records, the
//! response's head, what it logs once `vcl_backend_response` returned (`Timestamp Process`,
//! `Filters`, `Storage`, `Fetch_Body`), a retry's end and new beginning, and the end once the body
//! is read (`BackendClose`, `Timestamp BerespBody`, `Length`, `BereqAcct`, `End`). Nothing here
//! runs while nobody reads the log.

use std::sync::Arc;

use http::HeaderValue;
use shellac_cache::Kind;

use super::{shortlived, FetchTask};
use crate::hdr;
use crate::vrt::{Bereq, Beresp};

/// A backend transaction's log, open until its body is read (`BackendClose`, `Timestamp
/// BerespBody`, `Length`, `BereqAcct`, `End`).
pub struct FetchLog {
    vsl: crate::vsl::Buffer,
    /// Bereq head and body bytes sent, beresp head bytes read.
    acct: [u64; 3],
    /// The connection the response came on.
    close: Option<BackendClose>,
    /// `vcl_backend_error` made the response: its failure's time is logged already, and its
    /// body's length goes in `Length`.
    errored: bool,
    /// The body's bytes as the backend sent them, counted as they come (`BereqAcct`).
    received: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// What `BackendClose` says of the connection a response came on once its body is read: its
/// descriptor, its backend, and whether it goes back to the pool (`recycle`) or is closed.
pub(crate) struct BackendClose {
    pub(crate) fd: i32,
    pub(crate) backend: Arc<crate::backend::Backend>,
    pub(crate) reusable: bool,
}

impl BackendClose {
    /// Logs it: the connection closed (`why`), or back in the pool.
    fn log(&self, vsl: &mut crate::vsl::Buffer, why: Option<&str>) {
        if let Some(mut r) = vsl.rec(crate::vsl::Tag::BackendClose) {
            r.n(u64::try_from(self.fd).unwrap_or(0)).s(" ").s(&self.backend.name);
            match why {
                Some(why) => r.s(" close ").s(why),
                None => r.s(" recycle"),
            };
        }
    }
}

/// Why varnishd says it closed a backend connection the response or VCL asked to close.
const REQUESTED_CLOSE: &str = "Backend/VCL requested close";

impl FetchLog {
    /// Ends it: the body was `body` bytes.
    pub fn finish(mut self, log: &crate::vsl::Log, body: u64) {
        use crate::vsl::Tag;
        if !self.vsl.on() {
            return;
        }
        let [h, b, rh] = self.acct;
        if let Some(c) = self.close.filter(|_| rh > 0) {
            c.log(&mut self.vsl, (!c.reusable).then_some(REQUESTED_CLOSE));
        }
        if !self.errored {
            self.vsl.timestamp(if rh > 0 { "BerespBody" } else { "Error" }, crate::value::now());
        }
        if rh > 0 || self.errored {
            self.vsl.nums(Tag::Length, &[crate::vsl::Num::U(body)]);
        }
        use crate::vsl::Num::U;
        // (What came from the backend: nothing for a body vcl_backend_error made; as it came,
        // before a gzip filter, for one counted.)
        let body = match &self.received {
            _ if self.errored => 0,
            Some(counted) => counted.load(std::sync::atomic::Ordering::Relaxed),
            None => body,
        };
        self.vsl.nums(Tag::BereqAcct, &[U(h), U(b), U(h + b), U(rh), U(body), U(rh + body)]);
        self.vsl.commit(log);
    }
}

/// A backend transaction's first records: `Begin` (`bereq PARENT WHY`), `VCL_use` (the VCL
/// named `vcl`; none for a retry, as varnishd logs it), `Timestamp Start`, the request line and
/// headers.
pub(crate) fn log_bereq(vsl: &mut crate::vsl::Buffer, b: &Bereq, why: &str, vcl: Option<&str>) {
    use crate::vsl::Tag;
    if !vsl.on() {
        return;
    }
    if let Some(mut r) = vsl.rec(Tag::Begin) {
        r.s("bereq ").n(b.parent).s(" ").s(why);
    }
    if let Some(name) = vcl {
        vsl.add_str(Tag::VCL_use, name);
    }
    vsl.timestamp("Start", b.time);
    vsl.add_str(Tag::BereqMethod, &b.method);
    vsl.add_str(Tag::BereqURL, &b.url);
    vsl.add_str(Tag::BereqProtocol, &b.proto);
    for (name, value) in &b.headers {
        vsl.add_header(Tag::BereqHeader, name.as_str(), value.as_bytes());
    }
}

/// The headers the gzip filters may change on the way in.
pub(super) const CODED: [http::HeaderName; 4] =
    [http::header::CONTENT_LENGTH, http::header::CONTENT_ENCODING, http::header::ETAG, http::header::VARY];

/// `BerespProtocol`, `BerespStatus`, `BerespReason` and a `BerespHeader` per header: the
/// response as `vcl_backend_response` or `vcl_backend_error` gets it.
pub(super) fn log_beresp_head(vsl: &mut crate::vsl::Buffer, beresp: &Beresp) {
    use crate::vsl::Tag;
    vsl.add_str(Tag::BerespProtocol, &beresp.proto);
    if let Some(mut r) = vsl.rec(Tag::BerespStatus) {
        r.n(u64::from(beresp.status));
    }
    vsl.add_str(Tag::BerespReason, &beresp.reason);
    for (name, value) in &beresp.headers {
        vsl.add_header(Tag::BerespHeader, name.as_str(), value.as_bytes());
    }
}

// === impl FetchTask ===

impl FetchTask<'_> {
    /// Its log, to end when the body is read.
    pub(super) fn take_log(&mut self) -> FetchLog {
        FetchLog {
            vsl: std::mem::take(&mut self.vsl),
            acct: self.acct,
            close: self.close.take(),
            errored: self.errored,
            received: self.received.take(),
        }
    }

    /// What varnishd logs once `vcl_backend_response` has returned: `Timestamp Process` and, for
    /// a body that comes from the backend (not a 304's, which the stale object gives), the
    /// `Filters` it goes through (whose changes to the headers follow).
    pub(super) fn log_processed(&mut self, filters: &str, fetched_body: bool) {
        if !self.vsl.on() {
            return;
        }
        self.vsl.timestamp("Process", crate::value::now());
        if fetched_body {
            self.vsl.add_str(crate::vsl::Tag::Filters, filters);
        }
    }

    /// A 304 merged into the stale object, as varnishd logs it after the 304's `TTL`: the status
    /// line it became, and the headers it took from the object.
    pub(super) fn log_merged(&mut self, beresp: &Beresp, taken: &[(http::HeaderName, HeaderValue)]) {
        use crate::vsl::Tag;
        if !self.vsl.on() {
            return;
        }
        self.vsl.add_str(Tag::BerespProtocol, &beresp.proto);
        if let Some(mut r) = self.vsl.rec(Tag::BerespStatus) {
            r.n(u64::from(beresp.status));
        }
        self.vsl.add_str(Tag::BerespReason, &beresp.reason);
        for (name, value) in taken {
            self.vsl.add_header(Tag::BerespHeader, name.as_str(), value.as_bytes());
        }
    }

    /// Then the `Storage` the object goes to (Transient for a pass, a marker or a short-lived
    /// object) and how the body comes (`Fetch_Body`; none for a 304's, from the stale object).
    pub(super) fn log_stored(&mut self, beresp: &Beresp, kind: Kind, body_status: Option<&str>) {
        use crate::vsl::Tag;
        if !self.vsl.on() {
            return;
        }
        let transient = kind != Kind::Normal || self.bereq.uncacheable || shortlived(self.params, beresp);
        let store = match &beresp.storage {
            Some(s) if !transient => s.name(),
            _ => self.server.cache.transient().name(),
        };
        if let Some(mut r) = self.vsl.rec(Tag::Storage) {
            r.s("malloc ").s(store);
        }
        let Some(body_status) = body_status else { return };
        if let Some(mut r) = self.vsl.rec(Tag::Fetch_Body) {
            // (No body, nothing to stream: varnishd says `-` whatever `do_stream` says.)
            let stream = beresp.do_stream && body_status != "0 none";
            r.s(body_status).s(if stream { " stream" } else { " -" });
        }
    }

    /// The log's first records: `Begin`, `Timestamp Start`, the request line and headers.
    pub(super) fn log_begin(&mut self) {
        let b = &self.bereq;
        let why = match (b.is_bgfetch, b.uncacheable) {
            (true, _) => "bgfetch",
            (false, true) => "pass",
            (false, false) => "fetch",
        };
        log_bereq(&mut self.vsl, b, why, Some(&self.vcl.name));
    }

    /// A retry's log, as varnishd keeps it: this attempt's transaction ends (its connection
    /// closed, `Timestamp Retry`, a `Link` to the next), and the next begins (`Begin bereq OLD
    /// retry`) with the request as it goes again, its new `X-Varnish` logged as a change.
    pub(super) fn log_retry(&mut self, old: u64, xid: &HeaderValue) {
        use crate::vsl::Tag;
        let log = &self.server.registry.log;
        if let Some(c) = self.close.take() {
            c.log(&mut self.vsl, Some(REQUESTED_CLOSE));
        }
        self.vsl.timestamp("Retry", crate::value::now());
        self.vsl.add_fmt(Tag::Link, format_args!("bereq {} retry", self.bereq.xid));
        self.vsl.commit(log);
        let mut b = crate::vsl::Buffer::new(log, self.bereq.xid, crate::vsl::Side::Backend);
        // (Begun from the attempt before, now: `bereq.parent` and `bereq.time` as they were
        // after.)
        let kept = (
            std::mem::replace(&mut self.bereq.parent, old),
            std::mem::replace(&mut self.bereq.time, crate::value::now()),
        );
        log_bereq(&mut b, &self.bereq, "retry", None);
        (self.bereq.parent, self.bereq.time) = kept;
        for v in self.bereq.headers.get_all(hdr::X_VARNISH) {
            b.add_header(Tag::BereqUnset, hdr::X_VARNISH.as_str(), v.as_bytes());
        }
        b.add_header(Tag::BereqHeader, hdr::X_VARNISH.as_str(), xid.as_bytes());
        self.vsl = b;
    }
}
