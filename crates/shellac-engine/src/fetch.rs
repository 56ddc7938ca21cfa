//! The backend fetch task (spec §4): `vcl_backend_fetch`, director resolution, the request to
//! the backend with its timeouts, `vcl_backend_response`, retries, and `vcl_backend_error` for
//! every failure. It returns the response to deliver (streamed or buffered) or a failure, which
//! the client side turns into 503.

mod send;

use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, DATE, SERVER};
use http::HeaderValue;
use shellac_vcl::symbols::{ActionKind, Method};

use crate::body::Body;
use crate::error::FetchError;
use crate::exec::Handling;
use crate::hdr;
use crate::params::Params;
use crate::server::Server;
use crate::value::{http_date, now};
use crate::vcl::{Parts, Vcl};
use crate::vrt::{Bereq, Beresp, Req, Sess};

/// Why the backend request is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `return (pass)`: uncacheable, most headers kept.
    Pass,
    /// A cache miss.
    Miss,
}

/// The response to deliver.
pub struct Fetched {
    /// Status, reason and headers as `vcl_backend_response`/`vcl_backend_error` left them.
    pub beresp: Beresp,
    /// The body.
    pub body: Body,
}

/// What the fetch came to.
pub enum Outcome {
    /// A response (from the backend or `vcl_backend_error`).
    Deliver(Box<Fetched>),
    /// The fetch failed (`abandon`, `fail`, too many retries from `vcl_backend_error`).
    Failed,
}

enum Next {
    Fetch,
    Error(u32, String),
}

/// Runs a backend fetch for a client request.
pub async fn fetch(
    server: &Server,
    params: &Params,
    vcl: &Vcl,
    sess: &Sess,
    req: &Req,
    body: Body,
    mode: Mode,
) -> Outcome {
    let mut bereq = new_bereq(server, req, mode);
    let mut body = Some(body);
    let mut next = Next::Fetch;
    loop {
        if let Next::Fetch = next {
            match vcl.run(Method::BackendFetch, sess, Parts { bereq: Some(&mut bereq), ..Parts::default() }) {
                Ok(h) if h.action == ActionKind::Fetch => {}
                Ok(h) if h.action == ActionKind::Error => next = error_args(&h),
                Ok(_) => return Outcome::Failed,
                Err(e) => {
                    tracing::info!(xid = bereq.xid, "VCL failed in vcl_backend_fetch: {e}");
                    return Outcome::Failed;
                }
            }
        }
        if let Next::Fetch = next {
            let send_body = if bereq.body_unset {
                Some(Body::empty())
            } else {
                match body.as_ref().and_then(Body::try_clone) {
                    Some(b) => Some(b),
                    None => body.take(),
                }
            };
            let result = match send_body {
                Some(b) => send::send(params, &bereq, b).await,
                None => Err(FetchError::BodyGone),
            };
            match result {
                Ok(resp) => {
                    let mut beresp = resp.beresp;
                    match vcl.run(
                        Method::BackendResponse,
                        sess,
                        Parts { bereq: Some(&mut bereq), beresp: Some(&mut beresp), ..Parts::default() },
                    ) {
                        Ok(h) if matches!(h.action, ActionKind::Deliver | ActionKind::Pass) => {
                            let body = if beresp.do_stream {
                                resp.body
                            } else {
                                match resp.body.collect().await {
                                    Ok(b) => Body::full(b),
                                    Err(e) => {
                                        // (The body said why, with the backend and the URL.)
                                        tracing::debug!(xid = bereq.xid, "FetchError: {e}");
                                        next = Next::Error(503, "Backend fetch failed".into());
                                        continue;
                                    }
                                }
                            };
                            return Outcome::Deliver(Box::new(Fetched { beresp, body }));
                        }
                        Ok(h) if h.action == ActionKind::Retry => {
                            if u64::from(bereq.retries) >= params.max_retries {
                                tracing::info!(xid = bereq.xid, "Too many retries, delivering 503");
                                next = Next::Error(503, "Backend fetch failed".into());
                            } else {
                                retry(server, &mut bereq);
                            }
                            continue;
                        }
                        Ok(h) if h.action == ActionKind::Error => next = error_args(&h),
                        Ok(_) => return Outcome::Failed,
                        Err(e) => {
                            tracing::info!(xid = bereq.xid, "VCL failed in vcl_backend_response: {e}");
                            return Outcome::Failed;
                        }
                    }
                }
                Err(e) => {
                    tracing::info!(xid = bereq.xid, backend = bereq.backend.name(), "FetchError: {e}");
                    next = Next::Error(503, "Backend fetch failed".into());
                }
            }
        }
        // vcl_backend_error
        let Next::Error(status, reason) = std::mem::replace(&mut next, Next::Fetch) else { continue };
        let mut beresp = error_beresp(status, reason);
        match vcl.run(
            Method::BackendError,
            sess,
            Parts { bereq: Some(&mut bereq), beresp: Some(&mut beresp), ..Parts::default() },
        ) {
            Ok(h) if h.action == ActionKind::Deliver => {
                let body = Body::full(Bytes::from(std::mem::take(&mut beresp.body)));
                return Outcome::Deliver(Box::new(Fetched { beresp, body }));
            }
            Ok(h) if h.action == ActionKind::Retry => {
                if u64::from(bereq.retries) >= params.max_retries {
                    return Outcome::Failed;
                }
                retry(server, &mut bereq);
            }
            Ok(_) => return Outcome::Failed,
            Err(e) => {
                tracing::info!(xid = bereq.xid, "VCL failed in vcl_backend_error: {e}");
                return Outcome::Failed;
            }
        }
    }
}

fn new_bereq(server: &Server, req: &Req, mode: Mode) -> Bereq {
    let mut headers = req.headers.clone();
    hdr::filter(&mut headers, if mode == Mode::Pass { &hdr::BEREQ_PASS_DROP } else { &hdr::BEREQ_MISS_DROP });
    let xid = server.next_xid();
    headers.insert(hdr::X_VARNISH, hdr::num(xid));
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
        uncacheable: mode == Mode::Pass,
        is_hitpass: false,
        is_hitmiss: false,
        body_unset: false,
        time: now(),
    }
}

fn retry(server: &Server, bereq: &mut Bereq) {
    bereq.retries += 1;
    bereq.xid = server.next_xid();
    bereq.headers.insert(hdr::X_VARNISH, hdr::num(bereq.xid));
}

/// `return (error([status[, reason]]))`: 503 "Backend fetch failed" without arguments, the
/// status's standard phrase without a reason.
fn error_args(h: &Handling) -> Next {
    let Some(status) = h.args.first() else { return Next::Error(503, "Backend fetch failed".into()) };
    let status = u32::try_from(status.int()).unwrap_or(503);
    let reason = match h.args.get(1) {
        Some(v) => v.to_text(),
        None => crate::vrt::vars::reason_for(status).unwrap_or("Unknown HTTP Status").to_string(),
    };
    Next::Error(status, reason)
}

/// The response `vcl_backend_error` starts from (spec §4.3).
fn error_beresp(status: u32, reason: String) -> Beresp {
    let t = now();
    let mut beresp = Beresp {
        status,
        reason: reason.into(),
        proto: "HTTP/1.1".into(),
        time: t,
        do_stream: true,
        ..Beresp::default()
    };
    if let Ok(v) = HeaderValue::from_str(&http_date(t)) {
        beresp.headers.insert(DATE, v);
    }
    beresp.headers.insert(SERVER, hdr::SERVER);
    beresp
}

/// The ttl a response gets before VCL sees it: `s-maxage`, else `max-age`, else the default
/// (a first cut of spec §5.1; the object store brings the full rules).
pub(crate) fn initial_ttl(beresp: &Beresp, default_ttl: f64) -> f64 {
    let Some(cc) = beresp.headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()) else { return default_ttl };
    let directive = |name: &str| {
        cc.split(',').find_map(|d| {
            let (k, v) = d.trim().split_once('=')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').parse::<f64>().ok()).flatten()
        })
    };
    // `beresp.age` is the response's `Age:`, read once when the response arrived.
    directive("s-maxage").or_else(|| directive("max-age")).map_or(default_ttl, |t| t - beresp.age)
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
