//! The backend fetch (spec §4), as a state machine with one function per step (Varnish's
//! `vbf_stp_*`, drawn in LIFECYCLE.md): `vcl_backend_fetch`, director resolution and the request
//! to the backend with its timeouts (`send.rs`), `vcl_backend_response`, retries, and
//! `vcl_backend_error` for every failure. It returns the response to deliver (streamed or
//! buffered) or a failure, which the client side turns into 503.

mod log;
mod send;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{DATE, SERVER};
use http::HeaderValue;
use shellac_cache::body::State as BodyState;
use shellac_cache::{Fetch, Head, Kind, Object, Ttl, Vary};
use shellac_vcl::symbols::{ActionKind, Method};

use crate::body::Body;
use crate::error::FetchError;
use crate::exec::Handling;
use crate::hdr;
use crate::params::Params;
use crate::server::Server;
use crate::value::{http_date, now};
use crate::vcl::{Parts, Vcl};
use crate::vrt::{Bereq, Beresp, Sess};

pub use log::FetchLog;
pub(crate) use log::{log_bereq, BackendClose};
use log::{log_beresp_head, CODED};

/// Why the backend request is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `return (pass)`: uncacheable, most headers kept.
    Pass,
    /// A cache miss: `GET` for `HEAD`, the conditional and range headers dropped.
    Miss,
    /// `return (pipe)`: the request as for a pass, on a connection of its own.
    Pipe,
}

/// The response to deliver.
pub struct Fetched {
    /// Status, reason and headers as `vcl_backend_response`/`vcl_backend_error` left them.
    pub beresp: Beresp,
    /// The body.
    pub body: Body,
    /// What it is stored as: a response, or a marker (`beresp.uncacheable`: hit-for-miss;
    /// `return (pass)`: hit-for-pass).
    pub kind: Kind,
    /// Made by `vcl_backend_error` (kept a second for waiting requests, spec §4.3).
    pub synthetic: bool,
    /// A 304 revalidated this stale object: the new object takes its body.
    pub revalidated: Option<Arc<Object>>,
    /// The body is gzip (see [`crate::gzip::fetch_codec`]).
    pub gzip: bool,
    /// The length of the gzip body unpacked, when it is already known (a buffered body).
    pub plain_len: Option<u64>,
    /// The fetch's log, still open: a pass's ends when its body has gone to the client.
    pub log: Option<FetchLog>,
}

/// What the fetch came to.
pub enum Outcome {
    /// A response (from the backend or `vcl_backend_error`).
    Deliver(Box<Fetched>),
    /// The fetch failed (`abandon`, `fail`, too many retries from `vcl_backend_error`).
    Failed,
}

/// The steps of a backend fetch, one function each (Varnish's `vbf_stp_*` in cache_fetch.c;
/// drawn in LIFECYCLE.md).
enum Step {
    /// `vcl_backend_fetch`.
    Fetch,
    /// Send the request, read the response head, `vcl_backend_response`.
    StartFetch,
    /// `vcl_backend_error` with this status and reason.
    Error(u32, String),
    /// `return (retry)`: a new attempt (`bereq.retries` + 1, a new xid), director re-resolved.
    Retry,
    /// A response to deliver.
    Done(Box<Fetched>),
    /// The fetch failed.
    Fail,
}

/// One backend fetch in progress: the backend request and what it needs.
struct FetchTask<'a> {
    server: &'a Server,
    params: &'a Params,
    vcl: &'a Vcl,
    sess: &'a Sess,
    bereq: Bereq,
    /// The request body, taken by the first attempt unless it can be sent again.
    body: Option<Body>,
    /// A stale object this fetch asked the backend to revalidate (`If-None-Match`,
    /// `If-Modified-Since` from its `ETag`, `Last-Modified`).
    stale: Option<Arc<Object>>,
    /// Its transaction log.
    vsl: crate::vsl::Buffer,
    /// What went over the wire (see [`FetchLog`]).
    acct: [u64; 3],
    /// The connection the response came on (see [`FetchLog`]).
    close: Option<BackendClose>,
    /// `vcl_backend_error` made the response (its `Timestamp Error` is logged).
    errored: bool,
    /// The body's bytes as the backend sends them (see [`FetchLog`]).
    received: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// Runs a backend fetch for a client request, inside the client's task: the pass path, whose
/// response streams from the backend to its one client. The request's log gets the `Link`.
pub(crate) async fn fetch(task: &mut crate::fsm::Task, body: Body, mode: Mode) -> Outcome {
    let (server, params, vcl, sess) = (&*task.server, &*task.params, &*task.vcl, &*task.sess);
    let bereq = Bereq::from_req(server, params, &task.req, mode);
    let why = if mode == Mode::Miss { "fetch" } else { "pass" };
    if let Some(mut r) = task.vsl.rec(crate::vsl::Tag::Link) {
        r.s("bereq ").n(bereq.xid).s(" ").s(why);
    }
    let mut fetch = FetchTask::new(server, params, vcl, sess, bereq, body, None);
    let mut out = fetch.run().await;
    match &mut out {
        Outcome::Deliver(f) => f.log = Some(fetch.take_log()),
        Outcome::Failed => fetch.take_log().finish(&server.registry.log, 0),
    }
    out
}

/// What a spawned fetch hands the request that started it.
pub struct Handoff {
    /// The object, its body still filling.
    pub obj: Arc<Object>,
    /// Its headers as a map, ready to deliver (rather than made again from the stored copy).
    pub headers: http::HeaderMap,
}

/// What a spawned fetch fills.
pub struct Fill {
    /// The right to fill the key (none for a private fetch).
    pub fetch: Option<Fetch>,
    /// The stale object it may revalidate.
    pub stale: Option<Arc<Object>>,
}

/// A fetch begun by the request that waits for its object: its head is polled in that
/// request's task until the object is handed over (a body that came with the head is complete
/// by then, and the fetch is over: no task, no wake-ups across tasks); if its body is still
/// arriving, the rest of it goes on in a task of its own, as all of it does if the request goes
/// away first. Dropped at once, it is a background fetch.
pub struct Inline {
    head: Option<UpToHandoff>,
}

/// A fetch up to the handing over of its object (`None`: it ended without one), with what is
/// left of it then.
type UpToHandoff = Pin<Box<dyn Future<Output = Option<(Handoff, Option<Rest>)>> + Send>>;

/// What is left of a fetch once its object is handed over: its body, still arriving.
type Rest = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `fut` in a task of its own (without a runtime, at shutdown, it stops).
fn go_on(fut: impl Future<Output = ()> + Send + 'static) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(crate::clock::per_poll(fut));
    }
}

impl Future for Inline {
    /// The object, `None` when the fetch ended without one.
    type Output = Option<Handoff>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(head) = &mut self.head else { return Poll::Ready(None) };
        let out = std::task::ready!(head.as_mut().poll(cx));
        self.head = None;
        Poll::Ready(out.map(|(handoff, rest)| {
            if let Some(rest) = rest {
                go_on(rest);
            }
            handoff
        }))
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        // The request went away: the fetch goes on without it.
        if let Some(head) = self.head.take() {
            go_on(async move {
                if let Some((_, Some(rest))) = head.await {
                    rest.await;
                }
            });
        }
    }
}

/// A backend fetch that fills an object (a miss, or a background fetch): the object is stored
/// in the index through `fetch` (when its lifetime says so; the requests waiting on it are
/// woken) and comes back as soon as its head is known, its body then streaming into it for
/// whoever reads it (`None` when the fetch failed). The fetch goes on if the client goes away;
/// a body that breaks off takes the object out of the index.
pub fn start(
    server: Arc<Server>,
    params: Arc<Params>,
    vcl: Arc<Vcl>,
    sess: Arc<Sess>,
    mut bereq: Bereq,
    body: Body,
    Fill { fetch, stale }: Fill,
) -> Inline {
    bereq.hash = fetch.as_ref().map(|f| *f.key());
    // A kept object with a validator is revalidated rather than fetched again (spec §5.7).
    let stale = stale.filter(|s| revalidate(s, &mut bereq));
    // Boxed: it moves from the request's task to its own (and tokio would otherwise copy the
    // whole future, the backend request, the body and every await's state, into a task cell).
    let head = boxed(move || async move {
        let mut task = FetchTask::new(&server, &params, &vcl, &sess, bereq, body, stale);
        // A failed fetch drops `fetch`: its waiters wake and look up again. (The steps' state
        // lives in this box: a task spawned for the fetch, should the request go away, holds
        // the box, and tokio copies no more than that.)
        let Outcome::Deliver(fetched) = task.run().await else {
            task.take_log().finish(&server.registry.log, 0);
            return None;
        };
        // (Read where it lies: moved out of its box, a fetch's whole answer would be copied.)
        let mut fetched = fetched;
        let Fetched { beresp, body, kind, synthetic, revalidated, gzip, plain_len, log: _ } = &mut *fetched;
        let (kind, synthetic, gzip, plain_len, revalidated) =
            (*kind, *synthetic, *gzip, *plain_len, revalidated.take());
        if synthetic && fetch.as_ref().is_some_and(Fetch::has_waiters) {
            // An error with requests waiting: kept a moment, so that they are served from it.
            let now = crate::value::now();
            beresp.set_ttl_now(1.0, now);
            (beresp.grace, beresp.keep) = (5.0, 5.0);
        }
        let storage = storage_for(&server.cache, &params, beresp, kind);
        if kind == Kind::Normal && shortlived(&params, beresp) {
            server.registry.stats.inc(crate::stats::Main::BerespShortlived);
        }
        let vary = if synthetic { Ok(None) } else { Vary::record(&beresp.headers, &task.bereq.headers) };
        // What came with the head: a body that came whole is stored complete at once (no
        // appends, no waking, one charge); the rest of one still arriving follows the object.
        let ready = if revalidated.is_none() { take_ready(body) } else { Ready::default() };
        let whole = ready.end == Some(Ok(()));
        let complete = whole.then(|| {
            // (As `Cache::append` copies what it appends to a stored object.)
            shellac_cache::body::Body::complete_from(ready.chunks(), beresp.ttl > 0.0)
        });
        let (mut obj, headers) = object_of(beresp, kind, complete);
        obj.storage = Some(storage);
        obj.xid = task.bereq.xid;
        obj.gzip = gzip;
        if let Some(n) = plain_len {
            obj.set_plain_len(n);
        }
        // (A codec counted the unpacked length of a body it has seen whole.)
        if let Some(n) = body.plain_len().filter(|_| whole) {
            obj.set_plain_len(n);
        }
        match vary {
            Ok(vary) => obj.vary = vary.map(Box::new),
            Err(e) => {
                // A Vary that names no headers: delivered, never stored.
                tracing::info!(xid = task.bereq.xid, "{e}: not stored");
                obj.set_ttl(Ttl { ttl: -1.0, ..obj.ttl() });
            }
        }
        // An error answer (a 5xx the builtin marks uncacheable, or vcl_backend_error's) never
        // replaces a good object: a stale copy keeps serving in grace.
        let error = obj.head.status >= 500 && (synthetic || obj.kind != Kind::Normal);
        let obj = match fetch {
            Some(f) if error => f.insert_unless_good(obj),
            Some(f) => f.insert(obj),
            None => Arc::new(obj),
        };
        // (The cache copies and charges what it appends to an object it stores; to any other
        // it appends as it is.)
        let cache = &server.cache;
        let ended = match revalidated {
            Some(old) => {
                // The body of the object the 304 confirmed (its chunks are shared, not copied).
                for chunk in old.body.bytes().unwrap_or_default() {
                    cache.append_shared(&obj, chunk);
                }
                if let Some(n) = old.plain_len() {
                    obj.set_plain_len(n);
                }
                cache.finish(&obj, BodyState::Complete);
                Some(true)
            }
            // (Stored whole above.)
            None if whole => Some(true),
            None => {
                // What came with the head goes in first: the client writes it with the head.
                for chunk in ready.one.into_iter().chain(ready.more) {
                    cache.append(&obj, chunk);
                }
                match ready.end {
                    // A body that broke off fails the object: its readers end with the error.
                    Some(Err(e)) => {
                        cache.finish(&obj, BodyState::Failed(e.into()));
                        Some(false)
                    }
                    // (More to come: a whole one was stored above.)
                    _ => None,
                }
            }
        };
        // Whoever waits gets the object now; the rest of the body follows.
        let handoff = Handoff { obj: obj.clone(), headers };
        let log = task.take_log();
        let rest = match ended {
            Some(complete) => {
                finish(&server, &obj, complete, log);
                None
            }
            None => {
                let body = std::mem::replace(body, Body::empty());
                Some(Box::pin(async move {
                    let complete = fill(&server.cache, &obj, body).await;
                    finish(&server, &obj, complete, log);
                }) as Rest)
            }
        };
        Some((handoff, rest))
    });
    Inline { head: Some(head) }
}

/// The future `make` makes, made in its box: a fetch's is some kilobytes (every await's state),
/// which `Box::pin` of a future made on the stack would copy there and again into the box.
fn boxed<F: Future + Send + 'static>(make: impl FnOnce() -> F) -> Pin<Box<dyn Future<Output = F::Output> + Send>> {
    let made: Box<F> = Box::write(Box::<F>::new_uninit(), make());
    Box::into_pin(made)
}

/// The end of a fetch that handed its object over: a body that did not complete takes the
/// object out of the index; the backend transaction's log is committed.
fn finish(server: &Server, obj: &Arc<Object>, complete: bool, log: FetchLog) {
    if !complete && obj.is_stored() {
        server.cache.remove(obj);
    }
    log.finish(&server.registry.log, obj.body.len());
}

/// Whether `stale` can be revalidated (it has a keep, a complete body and an `ETag` or
/// `Last-Modified`); if so, the conditions go into the backend request.
fn revalidate(stale: &Object, bereq: &mut Bereq) -> bool {
    use http::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
    if stale.ttl().keep <= 0.0 || stale.kind != Kind::Normal || stale.body.bytes().is_none() {
        return false;
    }
    let (etag, lm) = (stale.head.headers.get(&ETAG), stale.head.headers.get(&LAST_MODIFIED));
    let conditional = etag.is_some() || lm.is_some();
    if let Some(etag) = etag {
        bereq.headers.insert(IF_NONE_MATCH, etag);
    }
    if let Some(lm) = lm {
        bereq.headers.insert(IF_MODIFIED_SINCE, lm);
    }
    // (`X-Varnish` after the conditions, where varnishd has it.)
    if conditional {
        if let Some(xid) = bereq.headers.remove(crate::hdr::X_VARNISH) {
            bereq.headers.append(crate::hdr::X_VARNISH, xid);
        }
    }
    conditional
}

/// A 304 merged into the stale object it confirms, as varnishd merges it: a 200 with the 304's
/// headers (framing and encoding aside), then each of the object's that the 304 does not carry;
/// the TTL worked out again from the result. What it took from the object, for the log.
fn merge_304(beresp: &mut Beresp, old: &Object, params: &Params) -> Vec<(http::HeaderName, http::HeaderValue)> {
    use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, TRANSFER_ENCODING};
    let framing = |n: &http::HeaderName| n == CONTENT_LENGTH || n == TRANSFER_ENCODING || n == CONTENT_ENCODING;
    let fresh = std::mem::take(&mut beresp.headers);
    let mut headers = http::HeaderMap::with_capacity(fresh.len() + old.head.headers.len());
    for (name, value) in &fresh {
        if !framing(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    let mut taken = Vec::new();
    for (name, value) in &old.head.headers.to_map(0) {
        if !headers.contains_key(name) || (framing(name) && !fresh.contains_key(name)) {
            taken.push((name.clone(), value.clone()));
        }
    }
    for (name, value) in &taken {
        headers.append(name.clone(), value.clone());
    }
    beresp.headers = headers;
    beresp.status = 200;
    beresp.reason = "OK".into();
    beresp.was_304 = true;
    let ttl = shellac_cache::ttl::rfc_ttl(200, &beresp.headers, beresp.time, &params.ttl_params());
    beresp.t_origin = ttl.t_origin;
    (beresp.ttl, beresp.grace, beresp.keep) = (ttl.ttl, ttl.grace, ttl.keep);
    taken
}

/// The store an object goes to (Varnish's `vbf_allocobj`): Transient for an uncacheable marker
/// and for an object whose ttl + grace + keep is under `shortlived`, else `beresp.storage`.
fn storage_for(
    cache: &shellac_cache::Cache,
    params: &Params,
    beresp: &Beresp,
    kind: Kind,
) -> Arc<shellac_cache::Storage> {
    if kind != Kind::Normal || shortlived(params, beresp) {
        return cache.transient().clone();
    }
    beresp.storage.clone().unwrap_or_else(|| cache.next_store())
}

/// Whether an object lives (ttl + grace + keep) less than `shortlived`.
fn shortlived(params: &Params, beresp: &Beresp) -> bool {
    beresp.ttl + beresp.grace + beresp.keep < params.shortlived
}

/// The object a response becomes: its head and lifetime as `vcl_backend_response` (or
/// `vcl_backend_error`) left them.
/// The headers come back as they were: the request that made the fetch delivers them as they
/// are (the object keeps its own compact copy).
/// `body`: the body, complete (else the fetch appends it).
fn object_of(beresp: &mut Beresp, kind: Kind, body: Option<shellac_cache::body::Body>) -> (Object, http::HeaderMap) {
    let head = Head::new(
        (beresp.status % 1000) as u16,
        &beresp.reason,
        beresp.proto == "HTTP/1.0",
        shellac_cache::Headers::from_map(&beresp.headers),
    );
    let ttl = Ttl { t_origin: beresp.t_origin, ttl: beresp.ttl, grace: beresp.grace, keep: beresp.keep };
    let obj = match body {
        Some(body) => Object::with_body(head, ttl, kind, body),
        None => Object::new(head, ttl, kind),
    };
    (obj, std::mem::take(&mut beresp.headers))
}

/// Streams a response body into its object (charged to the store while it is stored under
/// `key`); a body that breaks off fails the object (its readers end with the error; the body's
/// stream logged it). Whether it completed.
async fn fill(cache: &shellac_cache::Cache, obj: &Arc<Object>, mut body: Body) -> bool {
    std::future::poll_fn(|cx| poll_fill(cache, obj, &mut body, cx)).await
}

/// What a response body had ready when its head came.
#[derive(Default)]
struct Ready {
    /// The chunk, when there is one (nearly always: no list to allocate)...
    one: Option<bytes::Bytes>,
    /// ...else the chunks.
    more: Vec<bytes::Bytes>,
    /// `Some` when the body ended: complete, or broken off with this error.
    end: Option<Result<(), String>>,
}

impl Ready {
    fn push(&mut self, chunk: bytes::Bytes) {
        if self.one.is_none() && self.more.is_empty() {
            self.one = Some(chunk);
        } else {
            self.more.extend(self.one.take());
            self.more.push(chunk);
        }
    }

    /// The chunks, in order.
    fn chunks(&self) -> &[bytes::Bytes] {
        match &self.one {
            Some(chunk) => std::slice::from_ref(chunk),
            None => &self.more,
        }
    }
}

/// Takes what the body has ready now (what came in the read that brought the head, or all of
/// a buffered body), without waiting. (Polled with a waker that does nothing: the next poll, by
/// [`fill`], registers the task's.)
fn take_ready(body: &mut Body) -> Ready {
    let mut ready = Ready::default();
    // (A body that came whole with the head, nearly always for a small one, needs no polling.)
    if let Some(whole) = body.take_full() {
        ready.one = Some(whole).filter(|b| !b.is_empty());
        ready.end = Some(Ok(()));
        return ready;
    }
    let mut cx = Context::from_waker(std::task::Waker::noop());
    loop {
        ready.end = match poll_data(body, &mut cx) {
            Poll::Ready(Some(Ok(data))) => {
                ready.push(data);
                continue;
            }
            Poll::Ready(Some(Err(e))) => Some(Err(e)),
            Poll::Ready(None) => Some(Ok(())),
            Poll::Pending => None,
        };
        return ready;
    }
}

/// Appends every chunk the body has ready; at its end, completes the object (with its unpacked
/// length, if a codec counted it) or fails it: `Ready(whether it completed)`.
fn poll_fill(cache: &shellac_cache::Cache, obj: &Arc<Object>, body: &mut Body, cx: &mut Context<'_>) -> Poll<bool> {
    loop {
        match std::task::ready!(poll_data(body, cx)) {
            Some(Ok(data)) => {
                cache.append(obj, data);
            }
            Some(Err(e)) => {
                cache.finish(obj, BodyState::Failed(e.into()));
                return Poll::Ready(false);
            }
            None => {
                if let Some(n) = body.plain_len() {
                    obj.set_plain_len(n);
                }
                cache.finish(obj, BodyState::Complete);
                return Poll::Ready(true);
            }
        }
    }
}

/// The body's next chunk of data (frames without data, and empty chunks, are passed over), its
/// end (`None`), or why it broke off.
fn poll_data(body: &mut Body, cx: &mut Context<'_>) -> Poll<Option<Result<bytes::Bytes, String>>> {
    use http_body::Body as _;
    loop {
        match std::task::ready!(std::pin::Pin::new(&mut *body).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) if !data.is_empty() => return Poll::Ready(Some(Ok(data))),
                _ => {}
            },
            Some(Err(e)) => return Poll::Ready(Some(Err(e.to_string()))),
            None => return Poll::Ready(None),
        }
    }
}

// === impl FetchTask ===

impl<'a> FetchTask<'a> {
    /// A fetch of `bereq`, with its own transaction log.
    fn new(
        server: &'a Server,
        params: &'a Params,
        vcl: &'a Vcl,
        sess: &'a Sess,
        bereq: Bereq,
        body: Body,
        stale: Option<Arc<Object>>,
    ) -> FetchTask<'a> {
        let vsl = crate::vsl::Buffer::new(&server.registry.log, bereq.xid, crate::vsl::Side::Backend);
        FetchTask {
            server,
            params,
            vcl,
            sess,
            bereq,
            body: Some(body),
            stale,
            vsl,
            acct: [0; 3],
            close: None,
            errored: false,
            received: None,
        }
    }

    /// Runs the steps to the response (or the failure); its log stays open for the body.
    async fn run(&mut self) -> Outcome {
        self.log_begin();
        self.steps().await
    }

    /// The steps, from `vcl_backend_fetch` to the response or the failure.
    async fn steps(&mut self) -> Outcome {
        let stats = &self.server.registry.stats;
        stats.inc(crate::stats::Main::SFetch);
        if self.bereq.is_bgfetch {
            stats.inc(crate::stats::Main::SBgfetch);
        }
        let mut step = Step::Fetch;
        loop {
            step = match step {
                Step::Fetch => self.fetch(),
                Step::StartFetch => self.start_fetch().await,
                Step::Error(status, reason) => self.error(status, reason),
                Step::Retry => self.retry(),
                Step::Done(fetched) => return Outcome::Deliver(fetched),
                Step::Fail => return Outcome::Failed,
            };
        }
    }

    /// `vcl_backend_fetch`: `fetch`, or `error` to go straight to `vcl_backend_error`.
    fn fetch(&mut self) -> Step {
        // (What `std.rollback(bereq)` goes back to: the request before this VCL touched it.)
        if self.vcl.keeps_originals && self.bereq.original.is_none() {
            self.bereq.keep_original();
        }
        match self.vcl.run(
            Method::BackendFetch,
            self.sess,
            Parts { bereq: Some(&mut self.bereq), vsl: Some(&mut self.vsl), ..Parts::default() },
        ) {
            Ok(h) if h.action == ActionKind::Fetch => {
                self.vsl.timestamp("Fetch", crate::value::now());
                Step::StartFetch
            }
            Ok(h) if h.action == ActionKind::Error => error_args(&h),
            Ok(_) => Step::Fail,
            Err(e) => {
                tracing::info!(xid = self.bereq.xid, "VCL failed in vcl_backend_fetch: {e}");
                Step::Fail
            }
        }
    }

    /// Sends the request and reads the response head; every failure goes to
    /// `vcl_backend_error` with 503. Then `vcl_backend_response`.
    async fn start_fetch(&mut self) -> Step {
        let send_body = if self.bereq.body_unset {
            Some(Body::empty())
        } else {
            match self.body.as_ref().and_then(Body::try_clone) {
                Some(b) => Some(b),
                None => self.body.take(),
            }
        };
        let result = match send_body {
            Some(b) => send::send(&self.server.registry.stats, self.params, &self.bereq, b, &mut self.vsl).await,
            None => Err(FetchError::BodyGone),
        };
        let sent = match result {
            Ok(sent) => sent,
            Err(e) => {
                self.vsl.add_fmt(crate::vsl::Tag::FetchError, format_args!("{e}"));
                self.server.registry.stats.inc(crate::stats::Main::FetchFailed);
                tracing::info!(xid = self.bereq.xid, backend = self.bereq.backend.name(), "FetchError: {e}");
                return Step::Error(503, "Backend fetch failed".into());
            }
        };
        let mut beresp = sent.beresp;
        self.acct = sent.acct;
        self.close = sent.close;
        self.received = sent.received;
        if self.vsl.on() {
            use crate::vsl::Tag;
            log_beresp_head(&mut self.vsl, &beresp);
            if !self.bereq.uncacheable {
                // `TTL RFC TTL GRACE KEEP NOW ORIGIN DATE EXPIRES MAX-AGE cacheable`, as varnishd
                // logs the lifetime the headers gave.
                let (date, expires, max_age) = shellac_cache::ttl::header_times(&beresp.headers);
                let b = &beresp;
                self.vsl.add_fmt(
                    Tag::TTL,
                    format_args!(
                        "RFC {:.0} {:.0} {:.0} {:.0} {:.0} {:.0} {:.0} {:.0} cacheable",
                        b.ttl, b.grace, b.keep, b.time, b.t_origin, date, expires, max_age
                    ),
                );
            }
        }
        beresp.storage = Some(self.default_storage());
        let mut revalidated = None;
        if beresp.status == 304 && !self.bereq.uncacheable {
            match self.stale.take() {
                // The backend confirmed the stale object: a 200 with its body and headers,
                // updated by the 304's (beresp.was_304).
                Some(old) => {
                    let taken = merge_304(&mut beresp, &old, self.params);
                    self.log_merged(&beresp, &taken);
                    revalidated = Some(old);
                }
                None => {
                    tracing::info!(xid = self.bereq.xid, "FetchError: 304 to a request that was not conditional");
                    return Step::Error(503, "Backend fetch failed".into());
                }
            }
        }
        let handling = self.vcl.run(
            Method::BackendResponse,
            self.sess,
            Parts {
                bereq: Some(&mut self.bereq),
                vsl: Some(&mut self.vsl),
                beresp: Some(&mut beresp),
                ..Parts::default()
            },
        );
        match handling {
            Ok(h) if matches!(h.action, ActionKind::Deliver | ActionKind::Pass) => {
                // `return (pass[(d)])`: the object is a hit-for-pass marker for d (else its ttl),
                // without grace or keep.
                let kind = if h.action == ActionKind::Pass {
                    if let Some(d) = h.args.first() {
                        let now = crate::value::now();
                        beresp.set_ttl_now(d.num(), now);
                    }
                    (beresp.grace, beresp.keep) = (0.0, 0.0);
                    Kind::HitForPass
                } else if beresp.uncacheable {
                    Kind::HitForMiss
                } else {
                    Kind::Normal
                };
                // (varnishd counts every fetch that ends uncacheable: markers and passes.)
                if kind != Kind::Normal || self.bereq.uncacheable {
                    self.server.registry.stats.inc(crate::stats::Main::BerespUncacheable);
                }
                // (The list only for the log: it reads the headers.)
                let filters = if self.vsl.on() { crate::vrt::filters::beresp_list(&beresp) } else { "" };
                self.log_processed(filters, revalidated.is_none());
                // (Watched only when a gzip filter may change them.)
                let watch =
                    if filters.is_empty() { None } else { crate::vsl::Watch::of(&CODED, &beresp.headers, &self.vsl) };
                // The body's encoding: a 304's object keeps the stale one's.
                let (body, gzip) = match &revalidated {
                    Some(old) => (sent.body, old.gzip),
                    None => {
                        let empty = http_body::Body::is_end_stream(&sent.body);
                        let (codec, gzip) = crate::gzip::fetch_codec(
                            &mut beresp.headers,
                            empty,
                            self.params.http_gzip_support,
                            beresp.do_gzip,
                            beresp.do_gunzip,
                            u32::try_from(self.params.gzip_level).unwrap_or(9),
                        );
                        if let Some(c) = &codec {
                            self.server.registry.stats.inc(c.counter());
                        }
                        (if let Some(c) = codec { sent.body.filtered(c) } else { sent.body }, gzip)
                    }
                };
                if let Some(w) = watch {
                    w.log_changes(
                        &beresp.headers,
                        &mut self.vsl,
                        [crate::vsl::Tag::BerespHeader, crate::vsl::Tag::BerespUnset],
                    );
                }
                self.log_stored(&beresp, kind, revalidated.is_none().then_some(sent.body_status));
                let (body, plain_len) = if beresp.do_stream {
                    (body, None)
                } else {
                    match body.collect_plain_len().await {
                        Ok((b, n)) => (Body::full(b), n),
                        Err(e) => {
                            // (The body said why, with the backend and the URL.)
                            tracing::debug!(xid = self.bereq.xid, "FetchError: {e}");
                            return Step::Error(503, "Backend fetch failed".into());
                        }
                    }
                };
                Step::Done(Box::new(Fetched {
                    beresp,
                    body,
                    kind,
                    synthetic: false,
                    revalidated,
                    gzip,
                    plain_len,
                    log: None,
                }))
            }
            Ok(h) if h.action == ActionKind::Retry => {
                if u64::from(self.bereq.retries) >= self.params.max_retries {
                    tracing::info!(xid = self.bereq.xid, "Too many retries, delivering 503");
                    Step::Error(503, "Backend fetch failed".into())
                } else {
                    Step::Retry
                }
            }
            Ok(h) if h.action == ActionKind::Error => error_args(&h),
            Ok(_) => Step::Fail,
            Err(e) => {
                tracing::info!(xid = self.bereq.xid, "VCL failed in vcl_backend_response: {e}");
                Step::Fail
            }
        }
    }

    /// `vcl_backend_error` on a synthetic response (spec §4.3); `retry` beyond `max_retries`
    /// fails the fetch.
    fn error(&mut self, status: u32, reason: String) -> Step {
        let mut beresp = error_beresp(status, reason);
        beresp.storage = Some(self.default_storage());
        if self.vsl.on() {
            // As varnishd logs it: the failure's time, then the response vcl_backend_error
            // starts from.
            self.vsl.timestamp("Beresp", beresp.time);
            self.vsl.timestamp("Error", beresp.time);
            self.errored = true;
            log_beresp_head(&mut self.vsl, &beresp);
        }
        match self.vcl.run(
            Method::BackendError,
            self.sess,
            Parts {
                bereq: Some(&mut self.bereq),
                vsl: Some(&mut self.vsl),
                beresp: Some(&mut beresp),
                ..Parts::default()
            },
        ) {
            Ok(h) if h.action == ActionKind::Deliver => {
                if let Some(mut r) = self.vsl.rec(crate::vsl::Tag::Storage) {
                    r.s("malloc ").s(self.server.cache.transient().name());
                }
                let body = Body::full(Bytes::from(std::mem::take(&mut beresp.body)));
                Step::Done(Box::new(Fetched {
                    beresp,
                    body,
                    kind: Kind::Normal,
                    synthetic: true,
                    revalidated: None,
                    gzip: false,
                    plain_len: None,
                    log: None,
                }))
            }
            Ok(h) if h.action == ActionKind::Retry => {
                if u64::from(self.bereq.retries) >= self.params.max_retries {
                    Step::Fail
                } else {
                    Step::Retry
                }
            }
            Ok(_) => Step::Fail,
            Err(e) => {
                tracing::info!(xid = self.bereq.xid, "VCL failed in vcl_backend_error: {e}");
                Step::Fail
            }
        }
    }

    /// What `beresp.storage` starts as: Transient for a pass, else the next store.
    fn default_storage(&self) -> Arc<shellac_cache::Storage> {
        if self.bereq.uncacheable {
            self.server.cache.transient().clone()
        } else {
            self.server.cache.next_store()
        }
    }

    /// Another attempt: `bereq.retries` + 1 and a new xid, then `vcl_backend_fetch` again.
    fn retry(&mut self) -> Step {
        self.errored = false;
        self.bereq.retries += 1;
        let old = self.bereq.xid;
        self.bereq.xid = self.server.next_xid();
        let xid = hdr::num(self.bereq.xid);
        if self.vsl.on() {
            self.log_retry(old, &xid);
        }
        self.bereq.headers.insert(hdr::X_VARNISH, xid);
        Step::Fetch
    }
}

/// `return (error([status[, reason]]))`: 503 "Backend fetch failed" without arguments, the
/// status's standard phrase without a reason.
fn error_args(h: &Handling) -> Step {
    let Some(status) = h.args.first() else { return Step::Error(503, "Backend fetch failed".into()) };
    let status = u32::try_from(status.int()).unwrap_or(503);
    let reason = match h.args.get(1) {
        Some(v) => v.to_text(),
        None => crate::vrt::reason::of(status).to_string(),
    };
    Step::Error(status, reason)
}

/// The response `vcl_backend_error` starts from (spec §4.3).
fn error_beresp(status: u32, reason: String) -> Beresp {
    let t = now();
    // Born now, with ttl, grace and keep 0: delivered to this client only (§4.3).
    let mut beresp = Beresp {
        status,
        reason: reason.into(),
        proto: "HTTP/1.1".into(),
        time: t,
        t_origin: t,
        do_stream: true,
        ..Beresp::default()
    };
    if let Ok(v) = HeaderValue::from_str(&http_date(t)) {
        beresp.headers.insert(DATE, v);
    }
    beresp.headers.insert(SERVER, hdr::SERVER);
    beresp
}

/// A duration in seconds, as a timeout (to the nanosecond; several per request, and
/// `Duration::from_secs_f64`'s exact rounding costs ten times this).
pub(crate) fn secs(s: f64) -> Duration {
    Duration::from_nanos(if s.is_finite() && s > 0.0 { (s.min(1e9) * 1e9) as u64 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_in_seconds_become_durations() {
        assert_eq!(secs(1.5), Duration::from_millis(1500));
        assert_eq!(secs(0.001), Duration::from_millis(1));
        assert_eq!(secs(3600.0), Duration::from_secs(3600));
        for nothing in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(secs(nothing), Duration::ZERO);
        }
        assert_eq!(secs(1e12), Duration::from_secs(1_000_000_000));
    }
}
