//! One exchange with a backend: resolve the director tree to a backend, check its health and
//! connection limit, add `Host`, take a pooled connection (or open one within the connect
//! timeout), send, and wait for the response head within the first-byte timeout. A reused
//! connection that fails before any response byte is retried once on a fresh one.

use http::header::HOST;
use http::{Method as HttpMethod, Request, Uri, Version};
use hyper::body::Incoming;
use hyper::ext::ReasonPhrase;

use super::{initial_ttl, secs};
use crate::backend::pool::{ConnectPolicy, Lease};
use crate::backend::BackendHandle;
use crate::body::Body;
use crate::error::FetchError;
use crate::hdr;
use crate::params::Params;
use crate::value::now;
use crate::vrt::{Bereq, Beresp};

/// A response head and its body.
pub(super) struct Sent {
    pub(super) beresp: Beresp,
    pub(super) body: Body,
}

/// Sends `bereq` with `body` to the backend it resolves to.
pub(super) async fn send(params: &Params, bereq: &Bereq, body: Body) -> Result<Sent, FetchError> {
    let backend = bereq.backend.resolve()?;
    if !backend.is_healthy() {
        return Err(FetchError::Unhealthy(backend.name.clone()));
    }
    let busy = backend.claim()?;
    let pool = backend.pool.clone().ok_or_else(|| FetchError::NoAddress(backend.name.clone()))?;
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

    let method = HttpMethod::from_bytes(bereq.method.as_bytes())
        .map_err(|_| FetchError::Read(format!("invalid method {:?}", bereq.method)))?;
    let uri: Uri = bereq.url.parse().map_err(|_| FetchError::Read(format!("invalid URL {:?}", bereq.url)))?;
    // One copy of the headers per attempt, with Host added after selection (spec §4.1).
    let build = |body: Body| {
        let mut r = Request::new(body);
        *r.method_mut() = method.clone();
        *r.uri_mut() = uri.clone();
        *r.version_mut() = Version::HTTP_11;
        let headers = r.headers_mut();
        *headers = bereq.headers.clone();
        if !headers.contains_key(HOST) {
            if let Some(h) = &backend.host_header {
                headers.insert(HOST, h.clone());
            }
        }
        r
    };

    let mut spare = body.try_clone();
    let mut body = Some(body);
    let mut checkout = pool.checkout(&backend.name, &policy).await?;
    let response = loop {
        let Some(b) = body.take() else { return Err(FetchError::BodyGone) };
        let attempt = tokio::time::timeout(first_byte, checkout.conn.send(build(b))).await;
        match attempt {
            Ok(Ok(resp)) => break resp,
            Ok(Err(_)) | Err(_) if checkout.reused && spare.is_some() => {
                // The backend may have closed the idle connection as we used it: once more on a
                // fresh one.
                body = spare.take();
                checkout = pool.checkout_fresh(&backend.name, &policy).await?;
            }
            Ok(Err(e)) => return Err(FetchError::Read(e)),
            Err(_) => return Err(FetchError::FirstByteTimeout),
        }
    };

    let (parts, incoming) = response.into_parts();
    let reusable = !hdr::wants_close(&parts.headers);
    let reason = match parts.extensions.get::<ReasonPhrase>() {
        Some(r) => String::from_utf8_lossy(r.as_bytes()).into_owned(),
        None => parts.status.canonical_reason().unwrap_or("").to_string(),
    };
    let mut beresp_headers = parts.headers;
    hdr::filter(&mut beresp_headers, hdr::BERESP_DROP_KEEP_AGE);
    let age =
        beresp_headers.get(http::header::AGE).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let mut beresp = Beresp {
        status: u32::from(parts.status.as_u16()),
        reason,
        proto: if parts.version == Version::HTTP_10 { "HTTP/1.0".into() } else { "HTTP/1.1".into() },
        headers: beresp_headers,
        grace: 10.0,
        uncacheable: bereq.uncacheable,
        do_stream: true,
        age,
        backend: BackendHandle::Backend(backend.clone()),
        time: now(),
        ..Beresp::default()
    };
    beresp.ttl = initial_ttl(&beresp, 120.0);
    let lease = pool.lease(checkout.conn, reusable, Some(busy));
    let body = body_of(incoming, between_bytes, lease);
    Ok(Sent { beresp, body })
}

/// The response body. Whatever the backend already sent with the head is taken now (never a
/// wait), so that a small response goes to the client in one write with its head and its
/// connection returns to the pool at once; the rest streams.
fn body_of(mut incoming: Incoming, between_bytes: std::time::Duration, mut lease: Lease) -> Body {
    use http_body::Body as _;
    if incoming.is_end_stream() {
        lease.recycle();
        return Body::empty();
    }
    let first = {
        use std::task::{Context, Poll, Waker};
        let mut cx = Context::from_waker(Waker::noop());
        let mut poll = || std::pin::Pin::new(&mut incoming).poll_frame(&mut cx);
        match poll() {
            Poll::Ready(f) => f,
            Poll::Pending => {
                lease.poll_io(&mut Context::from_waker(Waker::noop()));
                match std::pin::Pin::new(&mut incoming).poll_frame(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(f) => f,
                    Poll::Pending => None,
                }
            }
        }
    };
    let bb = (!between_bytes.is_zero()).then_some(between_bytes);
    match first {
        Some(Ok(frame)) => {
            let data = frame.into_data().unwrap_or_default();
            if incoming.is_end_stream() {
                lease.recycle();
                return Body::full(data);
            }
            Body::stream_after(data, incoming, bb, Some(lease))
        }
        // A broken body: let the stream report it where the client sees it.
        Some(Err(_)) | None => Body::stream(incoming, bb, 0, Some(lease)),
    }
}
