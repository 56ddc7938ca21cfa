//! One exchange with a backend: resolve the director tree to a backend, check its health and
//! connection limit, add `Host`, take a pooled connection (or open one within the connect
//! timeout), send, and wait for the response head within the first-byte timeout, which starts
//! once the request (body included) is sent. A reused connection that fails before any response
//! byte is retried once on a fresh one.

use std::task::{Context, Poll, Waker};

use http::header::HOST;
use http::Version;
use http_body::Body as _;

use super::secs;
use crate::backend::codec::{self, Decoder, Framing};
use crate::backend::conn::{ExchangeError, ExchangeTimeouts, Exchanged};
use crate::backend::pool::{ConnectPolicy, Lease};
use crate::backend::BackendHandle;
use crate::body::Body;
use crate::error::FetchError;
use crate::hdr;
use crate::params::Params;
use crate::value::now;
use crate::vrt::{Bereq, Beresp};

use crate::stats::{Main, Stats, Vbe};

/// A response head and its body.
pub(super) struct Sent {
    pub(super) beresp: Beresp,
    pub(super) body: Body,
    /// What went over the wire: bereq head and body bytes, beresp head bytes (`BereqAcct`).
    pub(super) acct: [u64; 3],
    /// How the body comes, as `Fetch_Body` says it (`3 length`, `2 chunked`, …).
    pub(super) body_status: &'static str,
    /// What `BackendClose` will say of the connection (while the log is read).
    pub(super) close: Option<super::BackendClose>,
    /// The body's bytes as the backend sends them, counted while the log is read.
    pub(super) received: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

/// Sends `bereq` with `body` to the backend it resolves to.
pub(super) async fn send(
    stats: &Stats,
    params: &Params,
    bereq: &Bereq,
    body: Body,
    vsl: &mut crate::vsl::Buffer,
) -> Result<Sent, FetchError> {
    let hint = crate::director::ResolveHint {
        hash: bereq.hash.as_ref().map(|h| &h[..]),
        url: &bereq.url,
        shard_params: &bereq.shard_params,
    };
    let backend = bereq.backend.resolve_for(&hint)?;
    if !backend.is_healthy() {
        stats.inc(Main::BackendUnhealthy);
        backend.stats.add(Vbe::Unhealthy, 1);
        return Err(FetchError::Unhealthy(backend.name.clone()));
    }
    let busy = backend.claim().inspect_err(|_| {
        stats.inc(Main::BackendBusy);
        backend.stats.add(Vbe::Busy, 1);
    })?;
    let pool = backend.pool.as_ref().ok_or_else(|| FetchError::NoAddress(backend.name.clone()))?;
    let pick = |v: Option<f64>, b: Option<f64>, p: f64| v.filter(|t| *t > 0.0).or(b.filter(|t| *t > 0.0)).unwrap_or(p);
    let policy = ConnectPolicy {
        timeout: secs(pick(bereq.connect_timeout, backend.timeouts.connect, params.connect_timeout)),
        idle_timeout: secs(params.backend_idle_timeout),
        remote_holddown: secs(params.backend_remote_error_holddown),
        local_holddown: secs(params.backend_local_error_holddown),
    };
    let first_byte = secs(pick(bereq.first_byte_timeout, backend.timeouts.first_byte, params.first_byte_timeout));
    let between_bytes =
        secs(pick(bereq.between_bytes_timeout, backend.timeouts.between_bytes, params.between_bytes_timeout));
    let timeouts = ExchangeTimeouts { first_byte, send_idle: between_bytes };

    if !is_token(&bereq.method) {
        return Err(FetchError::Read(format!("invalid method {:?}", bereq.method)));
    }
    if bereq.url.is_empty() || bereq.url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(FetchError::Read(format!("invalid URL {:?}", bereq.url)));
    }
    // The head of every attempt, with Host added after selection (spec §4.1).
    let framing = codec::request_framing(body.size_hint().exact(), body.is_end_stream());
    let host = if bereq.headers.contains_key(HOST) { None } else { backend.host_header.as_ref() };
    // (The length of the head sent, for `bereq_hdrbytes`: atomic only so that the future
    // stays `Send`; one writer.)
    let head_len = std::sync::atomic::AtomicUsize::new(0);
    let head = |buf: &mut Vec<u8>| {
        let before = buf.len();
        codec::encode_head(buf, &bereq.method, &bereq.url, &bereq.headers, host, framing);
        head_len.store(buf.len() - before, std::sync::atomic::Ordering::Relaxed);
    };
    let limits = codec::HeadLimits {
        headers: usize::try_from(params.http_max_hdr).unwrap_or(codec::MAX_HEADERS),
        bytes: usize::try_from(params.http_resp_size).unwrap_or(usize::MAX),
        line: usize::try_from(params.http_resp_hdr_len).unwrap_or(usize::MAX),
    };

    let mut spare = body.try_clone();
    let mut body = Some(body);
    let failed = |e: FetchError| {
        count_connect_failure(stats, &backend, &e);
        e
    };
    let t0 = crate::clock::mono();
    let mut checkout = pool.checkout(&backend.name, &policy).await.map_err(failed)?;
    stats.inc(if checkout.reused { Main::BackendReuse } else { Main::BackendConn });
    stats.inc(Main::BackendReq);
    let log_open = |vsl: &mut crate::vsl::Buffer, c: &crate::backend::pool::Checkout| {
        if vsl.on() {
            vsl.timestamp("Connected", now());
            let how = if c.reused { "reuse" } else { "connect" };
            if let Some(mut r) = vsl.rec(crate::vsl::Tag::BackendOpen) {
                let (fd, ends) = c.conn.open_fields();
                r.s(fd).s(" ").s(&backend.name).s(" ").s(ends).s(" ").s(how);
            }
            vsl.timestamp("Bereq", now());
        }
    };
    log_open(vsl, &checkout);
    let response = loop {
        let Some(b) = body.take() else { return Err(FetchError::BodyGone) };
        match checkout.conn.exchange(head, framing, b, limits, checkout.at, timeouts).await {
            Ok(resp) => break resp,
            Err(_) if checkout.reused && spare.is_some() => {
                // The backend may have closed the idle connection as we used it: once more on a
                // fresh one.
                body = spare.take();
                stats.inc(Main::BackendRetry);
                checkout = pool.checkout_fresh(&backend.name, &policy).await.map_err(failed)?;
                stats.inc(Main::BackendConn);
                log_open(vsl, &checkout);
            }
            Err(ExchangeError::Failed(e)) => return Err(FetchError::Read(e)),
            Err(ExchangeError::Timeout) => return Err(FetchError::FirstByteTimeout),
        }
    };

    stats.fetch.record(crate::clock::mono().saturating_duration_since(t0));
    let Exchanged { head: response, request_sent, body_sent } = response;
    let acct = [head_len.load(std::sync::atomic::Ordering::Relaxed) as u64, body_sent, response.wire_len as u64];
    backend.stats.add(Vbe::BereqHdrbytes, acct[0]);
    backend.stats.add(Vbe::BereqBodybytes, body_sent);
    backend.stats.add(Vbe::BerespHdrbytes, response.wire_len as u64);
    backend.stats.add(Vbe::Req, 1);
    let framing = codec::response_framing(&bereq.method, &response).map_err(|e| {
        stats.inc(Main::FetchBad);
        FetchError::Read(e)
    })?;
    stats.inc(match framing {
        _ if bereq.method == "HEAD" => Main::FetchHead,
        _ if response.status == 304 => Main::Fetch304,
        _ if response.status == 204 => Main::Fetch204,
        _ if response.status < 200 => Main::Fetch1xx,
        Framing::Length(_) => Main::FetchLength,
        // (`Content-Length: 0` too: varnishd 7.1.1 counts and logs it as no body.)
        Framing::Empty => Main::FetchNone,
        Framing::Chunked => Main::FetchChunked,
        Framing::Close => Main::FetchEof,
    });
    // An answer that came before the whole request went out leaves the connection unusable.
    let reusable = response.keep_alive() && framing != Framing::Close && request_sent;
    let mut beresp_headers = response.headers;
    hdr::filter(&mut beresp_headers, &hdr::BERESP_DROP_KEEP_AGE);
    // An answer without a `Date` gets one, as varnishd gives it: VCL sees it, the object keeps
    // it (a hit says when it was fetched, not when it was delivered).
    if !beresp_headers.contains_key(http::header::DATE) {
        if let Ok(date) = http::HeaderValue::from_str(&crate::value::http_date(now())) {
            beresp_headers.append(http::header::DATE, date);
        }
    }
    // (varnishd's body statuses: `none` 0, `chunked` 2, `length` 3, `eof` 4.)
    let body_status = match framing {
        Framing::Length(_) => "3 length",
        Framing::Empty => "0 none",
        Framing::Chunked => "2 chunked",
        Framing::Close => "4 eof",
    };
    let close = vsl.on().then(|| super::BackendClose { fd: checkout.conn.fd(), backend: backend.clone(), reusable });
    let mut lease = pool.lease(checkout.conn, Decoder::new(framing), reusable, Some(busy));
    let received = vsl.on().then(|| std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)));
    if let Some(counter) = &received {
        lease.count_into(counter.clone());
    }
    let mut beresp = Beresp {
        status: u32::from(response.status),
        reason: response.reason,
        proto: if response.version == Version::HTTP_10 { "HTTP/1.0".into() } else { "HTTP/1.1".into() },
        headers: beresp_headers,
        uncacheable: bereq.uncacheable,
        do_stream: true,
        backend: BackendHandle::Backend(backend),
        time: now(),
        ..Beresp::default()
    };
    // Spec §5.1; a pass is never cached (ttl −1, no grace or keep: only its age is wanted).
    if bereq.uncacheable {
        beresp.t_origin = shellac_cache::ttl::origin_time(&beresp.headers, beresp.time);
        (beresp.ttl, beresp.grace, beresp.keep) = (-1.0, 0.0, 0.0);
    } else {
        let ttl = shellac_cache::ttl::rfc_ttl(response.status, &beresp.headers, beresp.time, &params.ttl_params());
        beresp.t_origin = ttl.t_origin;
        (beresp.ttl, beresp.grace, beresp.keep) = (ttl.ttl, ttl.grace, ttl.keep);
    }
    let body = body_of(lease, between_bytes, &bereq.url);
    vsl.timestamp("Beresp", beresp.time);
    Ok(Sent { beresp, body, acct, body_status, close, received })
}

/// The response body. Whatever the backend already sent with the head is taken now (never a
/// wait), so that a small response goes to the client in one write with its head and its
/// connection returns to the pool at once; the rest streams.
fn body_of(mut lease: Lease, between_bytes: std::time::Duration, url: &str) -> Body {
    let bb = (!between_bytes.is_zero()).then_some(between_bytes);
    match lease.poll_data(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Some(Ok(data))) if lease.is_done() => Body::full(data),
        Poll::Ready(Some(Ok(data))) => Body::backend(Some(data), lease, bb, url),
        // No body (the connection is back in the pool).
        Poll::Ready(None) => Body::empty(),
        // A broken body: let the stream report it where the client sees it.
        Poll::Ready(Some(Err(_))) | Poll::Pending => Body::backend(None, lease, bb, url),
    }
}

/// Whether `s` is an HTTP token (a method).
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Counts a connection that could not be made (`backend_fail`; `VBE.*.fail*`, or
/// `VBE.*.helddown` for one not attempted during the error hold-down).
fn count_connect_failure(stats: &Stats, backend: &crate::backend::Backend, e: &FetchError) {
    stats.inc(Main::BackendFail);
    if let FetchError::Holddown(_) = e {
        backend.stats.add(Vbe::Helddown, 1);
        return;
    }
    backend.stats.add(Vbe::Fail, 1);
    let kind = match e {
        FetchError::Connect { errno: 111, .. } => Vbe::FailEconnrefused,
        FetchError::Connect { errno: 110, .. } => Vbe::FailEtimedout,
        _ => Vbe::FailOther,
    };
    backend.stats.add(kind, 1);
}
