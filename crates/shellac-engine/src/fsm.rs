//! The client request state machine (spec §1.7), one function per step as in Varnish's
//! `cache_req_fsm.c`: recv → hash → lookup → hit/miss/pass/pipe/purge/synth → fetch → deliver,
//! with restart and fail. `Lookup` is the cache's side (`fsm/lookup.rs`: hit, grace, miss, the
//! waiting list, hit-for-miss and hit-for-pass).
//!
//! ```text
//! Recv ─┬─ hash ──► Hash ─► Lookup ─► Miss ─┬─ fetch ─► Fetch(miss) ─► Deliver ─► done
//!       ├─ pass ──► Hash ─► Pass ───────────┼─ fetch ─► Fetch(pass) ─┘    │
//!       ├─ pipe ──► Hash ─► Pipe ─► tunnel  │                             ├─ synth ─► Synth ─► done
//!       ├─ purge ─► Hash ─► Purge ─► Synth  └─ synth/restart/fail         └─ restart ─► Recv
//!       ├─ synth ─► Hash ─► Synth
//!       ├─ restart ─► Hash ─► Restart ─► Recv (or Synth 503 beyond max_restarts)
//!       └─ fail ─► Synth 503 "VCL failed"
//! ```

pub mod connection;
mod deliver;
mod log;
mod lookup;
mod pipe;
mod range;
mod synth;
mod wire;

use crate::stats::Main;
use connection::{connection_header, Peer};
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_LENGTH, EXPECT, HOST, IF_MODIFIED_SINCE, IF_NONE_MATCH, TRANSFER_ENCODING,
};
use http::{HeaderMap, HeaderValue, Request, Response, Version};
use hyper::body::Incoming;
use sha2::{Digest as _, Sha256};
use shellac_vcl::symbols::{ActionKind, Method};

use crate::body::Body;
use crate::exec::Handling;
use crate::fetch::{self, Mode, Outcome};
use crate::hdr;
use crate::params::Params;
use crate::server::Server;
use crate::value::now;
use crate::vcl::{Parts, Vcl};
use crate::vrt::{Bereq, Req, Sess};
use shellac_cache::Object;

/// A step of the state machine.
#[derive(Debug)]
enum Step {
    Recv,
    Lookup,
    /// `vcl_hit` on a fresh object, or a stale one in grace.
    Hit(Arc<Object>),
    Miss,
    Pass,
    Pipe,
    Purge,
    Fetch(Mode),
    Synth(u32, String),
    Restart,
    Fail,
}

/// One client request in flight.
pub(crate) struct Task {
    pub(crate) server: Arc<Server>,
    /// The parameters as the request started (read once per request).
    pub(crate) params: Arc<Params>,
    pub(crate) vcl: Arc<Vcl>,
    pub(crate) sess: Arc<Sess>,
    pub(crate) req: Req,
    pub(crate) body: Option<Body>,
    pub(crate) upgrade: Option<hyper::upgrade::OnUpgrade>,
    /// `return (vcl(label))` already moved this request.
    pub(crate) switched: bool,
    /// The right to fill the looked-up key (a miss, or the refresh of a grace hit): released,
    /// waking whoever waits on it, when the request goes elsewhere.
    pub(crate) fetch: Option<shellac_cache::Fetch>,
    /// The stale object a miss may revalidate with the backend (kept past its grace).
    pub(crate) stale: Option<Arc<Object>>,
    /// Its transaction log.
    pub(crate) vsl: crate::vsl::Buffer,
    /// While the log is read: the request body's declared length (`ReqAcct`), the log of a
    /// pass's fetch (ended when its body has gone to the client), and whether the request was
    /// piped.
    pub(crate) acct: Option<Box<Acct>>,
    /// How the client's connection goes on after this request.
    pub(crate) peer: Peer,
    /// The request's head as the client sent it, in bytes (`s_req_hdrbytes`, `ReqAcct`).
    pub(crate) head_in: u64,
}

/// What the log of a request gathers besides records, for its end.
#[derive(Default)]
pub(crate) struct Acct {
    pub(crate) body_in: u64,
    pub(crate) fetch: Option<crate::fetch::FetchLog>,
    pub(crate) piped: bool,
    pub(crate) bereq_head: u64,
    /// The response's head was logged before `vcl_deliver` or `vcl_synth` ran.
    pub(crate) resp_logged: bool,
    /// `Timestamp Process` was logged as VCL returned.
    pub(crate) processed: bool,
}

/// Handles one request to the end, as hyper's service: it never fails (an error is an answer).
/// hyper moves the future, whole, for every request, so the checks and the request's parts stay
/// out of it: it holds the task and the run.
pub fn handle(
    server: Arc<Server>,
    sess: Arc<Sess>,
    request: Request<Incoming>,
) -> impl Future<Output = Result<Response<Body>, Infallible>> + Send {
    let mut started = start(server, sess, request);
    async move {
        Ok(match &mut started {
            Ok(task) => {
                let t0 = crate::clock::mono();
                let mut resp = task.run().await;
                let stats = &task.server.registry.stats;
                stats.client.record(crate::clock::mono().saturating_duration_since(t0));
                // (A piped request's head is the pipe's: counted as it began.)
                if !task.sess.tally.piped() {
                    stats.add(Main::SReqHdrbytes, task.head_in);
                }
                let close = connection_header(&mut resp, task.peer, &task.req.method);
                if close != connection::Close::No {
                    task.sess.closing.store(close as u8, std::sync::atomic::Ordering::Relaxed);
                }
                if task.vsl.on() {
                    task.logged(resp)
                } else {
                    let wire = wire::head(&resp, task.peer.http10, |_, _| {});
                    task.head_going(&wire);
                    resp
                }
            }
            Err((sess, (status, text))) => {
                // (The answer closes the connection: a 400 is a bad request, as varnishd has it.)
                let close = if *status == 400 { connection::Close::RxBad } else { connection::Close::RespClose };
                sess.closing.store(close as u8, std::sync::atomic::Ordering::Relaxed);
                let resp = plain(*status, text);
                sess.tally.head_out(wire::head(&resp, false, |_, _| {}).len);
                resp
            }
        })
    }
}

/// The checks a request passes before it becomes a task: whether it is conditional, and the
/// length of its headers as sent; or the status and text of the answer that refuses it.
fn admit(
    server: &Server,
    params: &Params,
    parts: &mut http::request::Parts,
) -> Result<(bool, usize), (u16, &'static str)> {
    if let Some(name) = hdr::protected_in_connection(&parts.headers) {
        tracing::debug!("400: Connection names protected header {name}");
        return Err(refuse(server, (400, "Bad Request\n")));
    }
    let conditional = framing_checks(parts).map_err(|e| refuse(server, e))?;
    // (One walk: the longest header, and all of them as sent, for the head's length.)
    let (longest, fields) = parts.headers.iter().fold((0, 0), |(longest, all), (n, v)| {
        let len = n.as_str().len() + v.len() + 2;
        (longest.max(len), all + len + 2)
    });
    if longest as u64 > params.http_req_hdr_len {
        return Err((431, "Request Header Fields Too Large\n"));
    }
    if params.req_body_max > 0 {
        let len = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if len.is_some_and(|l| l > params.req_body_max) {
            return Err((413, "Payload Too Large\n"));
        }
    }
    Ok((conditional, fields))
}

/// The request as a task, or the status and text of the answer that refuses it (with the
/// session back).
#[allow(clippy::type_complexity)]
fn start(
    server: Arc<Server>,
    sess: Arc<Sess>,
    request: Request<Incoming>,
) -> Result<Task, (Arc<Sess>, (u16, &'static str))> {
    let Some(vcl) = server.active() else {
        return Err((sess, (503, "Service Unavailable: no VCL loaded\n")));
    };
    let params = server.params();
    let (mut parts, incoming) = request.into_parts();
    let (conditional, fields) = match admit(&server, &params, &mut parts) {
        Ok(admitted) => admitted,
        Err(refused) => {
            if refused.0 == 400 {
                // (A bad request counts as one, its head with it, as varnishd counts it.)
                let url = parts.uri.to_string();
                let proto = if parts.version == Version::HTTP_10 { "HTTP/1.0" } else { "HTTP/1.1" };
                let head = hdr::head_len(parts.method.as_str(), &url, proto, &parts.headers);
                server.registry.stats.add(Main::SReqHdrbytes, head);
            }
            return Err((sess, refused));
        }
    };
    let proto: &'static str = if parts.version == Version::HTTP_10 { "HTTP/1.0" } else { "HTTP/1.1" };
    let url = parts.uri.path_and_query().map_or_else(|| parts.uri.to_string(), |p| p.as_str().to_string());
    let peer = Peer::of(parts.version, &parts.headers);
    let mut headers = std::mem::take(&mut parts.headers);
    // (The head as the client sent it: the line, the headers and the blank line.)
    let head_in = hdr::line_and_end_len(parts.method.as_str(), &url, proto) + fields as u64;
    prepare_headers(&mut headers, &sess);
    let mut req = Req::new(method_text(&parts.method), url, proto.into(), headers, server.next_xid(), now());
    req.conditional = conditional;
    req.backend_hint = vcl.default_backend.clone();
    if vcl.keeps_originals {
        req.keep_original();
    }
    // A request without a body gets an empty one, which retries can send again.
    let body = if http_body::Body::is_end_stream(&incoming) {
        Body::empty()
    } else {
        // A client that stops sending its body for timeout_idle is cut (the fetch fails, 503),
        // as varnishd does.
        Body::request(
            incoming,
            (params.timeout_idle > 0.0).then(|| fetch::secs(params.timeout_idle)),
            params.req_body_max,
            sess.tally.clone(),
        )
    };
    let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    server.registry.stats.inc(Main::ClientReq);
    let vsl = request_log(&server, &sess, &req, &vcl.name);
    // (The body as the client declared it.)
    let acct = vsl.on().then(|| {
        let body_in = req.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0);
        Box::new(Acct { body_in, ..Acct::default() })
    });
    Ok(Task {
        server,
        params,
        vcl,
        sess,
        req,
        body: Some(body),
        upgrade,
        switched: false,
        fetch: None,
        stale: None,
        vsl,
        acct,
        peer,
        head_in,
    })
}

/// A request's log as it begins (when the log is read): `Begin`, `Timestamp Start` and `Req`, `VCL_use`,
/// then [`log_request`].
fn request_log(server: &Server, sess: &Sess, req: &Req, vcl: &str) -> crate::vsl::Buffer {
    let mut b = crate::vsl::Buffer::new(&server.registry.log, req.xid, crate::vsl::Side::Client);
    if !b.on() {
        return b;
    }
    sess.links.add(req.xid);
    if let Some(mut r) = b.rec(crate::vsl::Tag::Begin) {
        r.s("req ").n(sess.xid).s(" rxreq");
    }
    b.timestamp("Start", req.time);
    b.timestamp("Req", req.time);
    b.add_str(crate::vsl::Tag::VCL_use, vcl);
    log_request(&mut b, sess, req);
    b
}

/// `ReqStart`, the request line and headers.
pub(crate) fn log_request(b: &mut crate::vsl::Buffer, sess: &Sess, req: &Req) {
    use crate::vsl::Tag;
    if let Some(mut r) = b.rec(Tag::ReqStart) {
        // (The client's address as text already, for X-Forwarded-For.)
        r.s(sess.client_ip.to_str().unwrap_or("-")).s(" ").n(u64::from(sess.client.port())).s(" ").s(&sess.socket);
    }
    b.add_str(Tag::ReqMethod, &req.method);
    b.add_str(Tag::ReqURL, &req.url);
    b.add_str(Tag::ReqProtocol, &req.proto);
    for (name, value) in &req.headers {
        b.add_header(Tag::ReqHeader, name.as_str(), value.as_bytes());
    }
}

/// A request refused before it became a task: a 400 counts as `client_req_400` (and, as
/// varnishd counts a request it parsed and found bad, as `client_req`).
fn refuse(server: &Server, answer: (u16, &'static str)) -> (u16, &'static str) {
    match answer.0 {
        400 => {
            server.registry.stats.inc(Main::ClientReq400);
            server.registry.stats.inc(Main::ClientReq);
        }
        417 => server.registry.stats.inc(Main::ClientReq417),
        _ => {}
    }
    answer
}

// === impl Task ===

impl Task {
    /// The answer's head, as [`wire::head`] worked it out, goes to hyper: its length to the
    /// connection's tally; a body to the connection's end closes it after (`TX_EOF`, unless it
    /// closes for a reason of its own).
    fn head_going(&self, wire: &wire::Wire) {
        self.sess.tally.head_out(wire.len);
        if wire.eof {
            use std::sync::atomic::Ordering::Relaxed;
            let _ = self.sess.closing.compare_exchange(
                connection::Close::No as u8,
                connection::Close::TxEof as u8,
                Relaxed,
                Relaxed,
            );
        }
    }

    async fn run(&mut self) -> Response<Body> {
        let mut step = Step::Recv;
        loop {
            step = match step {
                Step::Recv => self.recv(),
                Step::Lookup => self.lookup().await,
                Step::Hit(obj) => match self.hit(obj) {
                    Ok(resp) => return resp,
                    Err(next) => next,
                },
                Step::Miss => self.client_step(Method::Miss, |a| match a {
                    ActionKind::Fetch => Some(Step::Fetch(Mode::Miss)),
                    ActionKind::Pass => Some(Step::Pass),
                    _ => None,
                }),
                Step::Pass => {
                    self.count(Main::SPass);
                    // Nobody waits on a request that passes.
                    (self.fetch, self.stale) = (None, None);
                    self.client_step(Method::Pass, |a| match a {
                        ActionKind::Fetch => Some(Step::Fetch(Mode::Pass)),
                        _ => None,
                    })
                }
                Step::Purge => {
                    // Every object under the request's key goes (every variant), then
                    // vcl_purge says what the client gets (builtin: 200 Purged).
                    if let Some(key) = self.req.key() {
                        let gone = self.server.cache.purge(&key);
                        self.count(Main::NPurges);
                        self.server.registry.stats.add(Main::NObjPurged, gone as u64);
                        tracing::debug!(xid = self.req.xid, gone, "purged");
                    }
                    self.client_step(Method::Purge, |_| None)
                }
                Step::Pipe => {
                    self.count(Main::SPipe);
                    return self.pipe().await;
                }
                // A miss: the fetch fills an object in a task of its own; the response is
                // delivered from the object as it fills.
                Step::Fetch(Mode::Miss) => {
                    let body = self.request_body().await;
                    let bereq = Bereq::from_req(&self.server, &self.params, &self.req, Mode::Miss);
                    if let Some(mut r) = self.vsl.rec(crate::vsl::Tag::Link) {
                        r.s("bereq ").n(bereq.xid).s(" fetch");
                    }
                    let (server, params, vcl, sess) =
                        (self.server.clone(), self.params.clone(), self.vcl.clone(), self.sess.clone());
                    let fill = fetch::Fill { fetch: self.fetch.take(), stale: self.stale.take() };
                    let started = fetch::start(server, params, vcl, sess, bereq, body, fill).await;
                    self.log_fetched();
                    match started {
                        Some(fetch::Handoff { obj, headers }) => match self.deliver_object(obj, false, Some(headers)) {
                            Ok(resp) => return resp,
                            Err(next) => next,
                        },
                        None => Step::Synth(503, "Service Unavailable".into()),
                    }
                }
                // A pass (or pipe's sibling): the response streams straight from the backend.
                Step::Fetch(mode) => {
                    let body = self.request_body().await;
                    let fetched = fetch::fetch(self, body, mode).await;
                    self.log_fetched();
                    match fetched {
                        Outcome::Deliver(fetched) => match self.deliver(*fetched) {
                            Ok(resp) => return resp,
                            Err(next) => next,
                        },
                        Outcome::Failed => Step::Synth(503, "Service Unavailable".into()),
                    }
                }
                Step::Synth(status, reason) => match self.count(Main::SSynth).synth(status, reason) {
                    Ok(resp) => return resp,
                    Err(next) => next,
                },
                Step::Restart => {
                    (self.fetch, self.stale) = (None, None);
                    self.req.restarts += 1;
                    self.restart_log();
                    if u64::from(self.req.restarts) > self.params.max_restarts {
                        Step::Synth(503, "Service Unavailable".into())
                    } else {
                        Step::Recv
                    }
                }
                Step::Fail => Step::Synth(503, "VCL failed".into()),
            }
        }
    }

    /// `vcl_recv`, then `vcl_hash` whatever recv returned.
    fn recv(&mut self) -> Step {
        let h = match self.vcl.run(
            Method::Recv,
            &self.sess,
            Parts { req: Some(&mut self.req), vsl: Some(&mut self.vsl), ..Parts::default() },
        ) {
            Ok(h) => h,
            Err(e) => return self.failed(Method::Recv, &e.0),
        };
        let next = match h.action {
            ActionKind::Hash => Step::Lookup,
            ActionKind::Pass => Step::Pass,
            ActionKind::Pipe => Step::Pipe,
            ActionKind::Purge => Step::Purge,
            ActionKind::Synth => synth_step(&h),
            // (vcl_hash runs first all the same, as in Varnish.)
            ActionKind::Restart => Step::Restart,
            ActionKind::Vcl => {
                // Only from the first pass through the active VCL, as in Varnish.
                let label = h.label.unwrap_or_default();
                return match self.server.label(&label) {
                    Some(vcl) if self.req.restarts == 0 && !self.switched => {
                        self.switched = true;
                        self.req.backend_hint = vcl.default_backend.clone();
                        self.vcl = vcl;
                        Step::Recv
                    }
                    _ => {
                        self.failed(Method::Recv, &format!("return (vcl({label})): no such label, or not allowed here"))
                    }
                };
            }
            _ => return Step::Fail,
        };
        if matches!(next, Step::Lookup) && self.params.http_gzip_support {
            normalize_accept_encoding(&mut self.req.headers);
        }
        self.req.hasher = Sha256::new();
        self.req.hashed = false;
        match self.vcl.run(
            Method::Hash,
            &self.sess,
            Parts { req: Some(&mut self.req), vsl: Some(&mut self.vsl), ..Parts::default() },
        ) {
            Ok(h) if h.action == ActionKind::Lookup => {
                self.req.hashed = true;
                next
            }
            Ok(_) => Step::Fail,
            Err(e) => self.failed(Method::Hash, &e.0),
        }
    }

    /// Runs a client method whose actions besides synth/restart/fail are mapped by `map`.
    fn client_step(&mut self, method: Method, map: impl Fn(ActionKind) -> Option<Step>) -> Step {
        match self.vcl.run(
            method,
            &self.sess,
            Parts { req: Some(&mut self.req), vsl: Some(&mut self.vsl), ..Parts::default() },
        ) {
            Ok(h) => match map(h.action) {
                Some(step) => step,
                None => match h.action {
                    ActionKind::Synth => synth_step(&h),
                    ActionKind::Restart => Step::Restart,
                    _ => Step::Fail,
                },
            },
            Err(e) => self.failed(method, &e.0),
        }
    }

    /// Counts one (`MAIN.*`); itself, to go on.
    pub(crate) fn count(&mut self, c: Main) -> &mut Task {
        self.server.registry.stats.inc(c);
        self
    }

    fn failed(&self, method: Method, why: &str) -> Step {
        self.server.registry.stats.inc(Main::VclFail);
        tracing::info!(xid = self.req.xid, "VCL failed in {}: {why}", shellac_vcl::symbols::method_def(method).name);
        Step::Fail
    }

    /// The request body for a fetch: buffered when `std.cache_req_body` asked for it (so that
    /// retries can resend it), else streamed once.
    async fn request_body(&mut self) -> Body {
        let Some(body) = self.body.take() else { return Body::empty() };
        if self.req.cache_body.is_none() {
            return body;
        }
        match body.collect().await {
            Ok(bytes) => {
                let b = Body::full(bytes);
                self.body = b.try_clone();
                b
            }
            Err(e) => {
                tracing::info!(xid = self.req.xid, "request body: {e}");
                Body::empty()
            }
        }
    }
}

fn synth_step(h: &Handling) -> Step {
    let status = h.args.first().map_or(503, |v| u32::try_from(v.int()).unwrap_or(503));
    let reason = h.args.get(1).map(|v| v.to_text()).unwrap_or_default();
    Step::Synth(status, reason)
}

/// Before `vcl_recv`: `X-Forwarded-For` merged with the client address appended, multiple
/// `Cache-Control` lines merged (spec §4.1).
/// RFC 9112 framing, as varnishd checks it before any VCL runs: one `Host` (two: 400), no
/// transfer coding but `chunked` (400: a proxy that passes `identity, chunked` on is a smuggling
/// vector), `Expect` only `100-continue` (else 417; hyper sends the 100 when the body is first
/// read) and never passed on; an absolute-form target (`GET http://host/path`) gives the Host
/// the VCL and the backend see, and the path.
///
/// Returns whether the request is conditional (`If-None-Match`, `If-Modified-Since`): only then
/// does delivery look for a 304.
fn framing_checks(parts: &mut http::request::Parts) -> Result<bool, (u16, &'static str)> {
    // One pass over the names (standard names compare as integers) instead of a lookup each.
    let (mut host, mut te, mut expect, mut conditional) = (false, false, false, false);
    for name in parts.headers.keys() {
        if name == HOST {
            host = true;
        } else if name == TRANSFER_ENCODING {
            te = true;
        } else if name == EXPECT {
            expect = true;
        } else if name == IF_NONE_MATCH || name == IF_MODIFIED_SINCE {
            conditional = true;
        }
    }
    // A name given twice shows as more values than names.
    let repeated = parts.headers.len() != parts.headers.keys_len();
    if host && repeated && parts.headers.get_all(HOST).iter().count() > 1 {
        tracing::debug!("400: more than one Host header");
        return Err((400, "Bad Request\n"));
    }
    // (hyper has already refused differing Content-Lengths, and drops a Content-Length beside
    // chunked and closes the connection after the answer, as RFC 9112 §6.3 allows.)
    if te {
        let mut te = parts.headers.get_all(TRANSFER_ENCODING).iter();
        match (te.next(), te.next()) {
            (Some(v), None) if v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"chunked") => {}
            _ => {
                tracing::debug!("400: a Transfer-Encoding other than chunked");
                return Err((400, "Bad Request\n"));
            }
        }
    }
    if expect {
        let all: Vec<HeaderValue> = parts.headers.get_all(EXPECT).iter().cloned().collect();
        parts.headers.remove(EXPECT);
        if all.iter().any(|e| !e.as_bytes().trim_ascii().eq_ignore_ascii_case(b"100-continue")) {
            return Err((417, "Expectation Failed\n"));
        }
    }
    if parts.uri.scheme().is_some() {
        if let Some(authority) = parts.uri.authority() {
            let host = match authority.port() {
                Some(port) => format!("{}:{port}", authority.host()),
                None => authority.host().to_string(),
            };
            let host = HeaderValue::from_str(&host).map_err(|_| (400, "Bad Request\n"))?;
            parts.headers.insert(HOST, host);
        }
    }
    Ok(conditional)
}

fn prepare_headers(headers: &mut HeaderMap, sess: &Sess) {
    let value = if headers.contains_key(&hdr::X_FORWARDED_FOR) {
        let mut v: Vec<u8> = Vec::new();
        for x in headers.get_all(&hdr::X_FORWARDED_FOR) {
            v.extend_from_slice(x.as_bytes());
            v.extend_from_slice(b", ");
        }
        v.extend_from_slice(sess.client_ip.as_bytes());
        HeaderValue::from_bytes(&v).ok()
    } else {
        Some(sess.client_ip.clone())
    };
    if let Some(v) = value {
        headers.insert(hdr::X_FORWARDED_FOR, v);
    }
    let mut cc = headers.get_all(CACHE_CONTROL).iter();
    if cc.next().is_some() && cc.next().is_some() {
        let cc: Vec<&[u8]> = headers.get_all(CACHE_CONTROL).iter().map(HeaderValue::as_bytes).collect();
        if let Ok(v) = HeaderValue::from_bytes(&cc.join(&b", "[..])) {
            headers.insert(CACHE_CONTROL, v);
        }
    }
}

/// The method as text, without an allocation for the standard ones.
fn method_text(m: &http::Method) -> Cow<'static, str> {
    const STANDARD: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"];
    match STANDARD.iter().find(|s| **s == m.as_str()) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(m.as_str().to_string()),
    }
}

/// `Accept-Encoding` becomes `gzip` when the client takes gzip, else goes.
fn normalize_accept_encoding(headers: &mut HeaderMap) {
    if !headers.contains_key(ACCEPT_ENCODING) {
        return;
    }
    if crate::gzip::accepts_gzip(headers) {
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    } else {
        headers.remove(ACCEPT_ENCODING);
    }
}

/// A response that bypasses VCL (no VCL loaded, protocol errors).
pub(crate) fn plain(status: u16, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::full(text));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_normalised() {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("br, GZIP;q=0.5"));
        normalize_accept_encoding(&mut h);
        assert_eq!(h[ACCEPT_ENCODING], "gzip");
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, br"));
        normalize_accept_encoding(&mut h);
        assert!(!h.contains_key(ACCEPT_ENCODING));
    }
}
