//! Whether the client's connection goes on after a request, and the `Connection` header that
//! says so on every answer, as varnishd's HTTP/1 delivery ends: `keep-alive`, or `close` when
//! the client asked to close (or, over HTTP/1.0, did not ask to keep) or the answer says
//! `close`. The client's connection is judged once, from the request, as hyper judges it.

use http::{HeaderValue, Response, Version};

use crate::body::Body;

/// The client's HTTP version and whether its connection is kept after this request, as hyper
/// decides from the request (an HTTP/1.1 one is kept unless a `Connection` header says
/// `close`; an HTTP/1.0 one only if one says `keep-alive`). The response says which in its
/// `Connection` header, as varnishd's do (see [`connection_header`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Peer {
    pub(crate) http10: bool,
    pub(crate) keep_alive: bool,
}

impl Peer {
    pub(super) fn of(version: Version, headers: &http::HeaderMap) -> Peer {
        let http10 = version == Version::HTTP_10;
        // (One probe of the headers, and a walk over the tokens of what it finds.)
        let (mut close, mut keep) = (false, false);
        for token in crate::hdr::connection_tokens(headers) {
            close |= token.eq_ignore_ascii_case("close");
            keep |= token.eq_ignore_ascii_case("keep-alive");
        }
        let keep_alive = !close && (!http10 || keep);
        Peer { http10, keep_alive }
    }
}

/// What varnishd's HTTP/1 delivery does last: the response says whether the connection goes
/// on, `Connection: keep-alive` unless it has a `Connection` header of its own, or
/// `Connection: close` (in place of any other) when it closes (the client asked to, or the
/// response says `close`). Not for a tunnel (`CONNECT`) or a protocol switch, whose
/// connection is no longer HTTP.
pub(super) fn connection_header(resp: &mut Response<Body>, peer: Peer, method: &str) {
    use http::header::{Entry, CONNECTION};
    if method == "CONNECT" || resp.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    // (One probe of the headers: nearly every answer has no Connection of its own.)
    match resp.headers_mut().entry(CONNECTION) {
        Entry::Vacant(v) => {
            v.insert(HeaderValue::from_static(if peer.keep_alive { "keep-alive" } else { "close" }));
        }
        Entry::Occupied(mut o) => {
            let closing = !peer.keep_alive || crate::hdr::tokens(o.iter()).any(|t| t.eq_ignore_ascii_case("close"));
            let only_close = o.get() == "close" && o.iter().count() == 1;
            if closing && !only_close {
                // (Every value goes: `close` alone says it.)
                o.insert(HeaderValue::from_static("close"));
            }
        }
    }
}
