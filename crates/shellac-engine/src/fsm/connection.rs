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
///
/// Returns why the connection closes after this answer, if it does (see [`Close`]).
pub(super) fn connection_header(resp: &mut Response<Body>, peer: Peer, method: &str) -> Close {
    use http::header::{Entry, CONNECTION};
    if method == "CONNECT" || resp.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        return Close::No;
    }
    let asked = || if peer.http10 { Close::ReqHttp10 } else { Close::ReqClose };
    // (One probe of the headers: nearly every answer has no Connection of its own.)
    match resp.headers_mut().entry(CONNECTION) {
        Entry::Vacant(v) => {
            v.insert(HeaderValue::from_static(if peer.keep_alive { "keep-alive" } else { "close" }));
            if peer.keep_alive {
                Close::No
            } else {
                asked()
            }
        }
        Entry::Occupied(mut o) => {
            let says_close = crate::hdr::tokens(o.iter()).any(|t| t.eq_ignore_ascii_case("close"));
            let only_close = o.get() == "close" && o.iter().count() == 1;
            if (!peer.keep_alive || says_close) && !only_close {
                // (Every value goes: `close` alone says it.)
                o.insert(HeaderValue::from_static("close"));
            }
            match (peer.keep_alive, says_close) {
                (false, _) => asked(),
                (true, true) => Close::RespClose,
                (true, false) => Close::No,
            }
        }
    }
}

/// Why a connection closes after an answer, as varnishd's session close reasons say it
/// (`sc_req_close`, `sc_req_http10`, `sc_resp_close`, `sc_rx_bad`, `sc_tx_eof`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Close {
    /// It goes on.
    No = 0,
    /// The client asked to close (`Connection: close`).
    ReqClose = 1,
    /// An HTTP/1.0 client that did not ask to keep it.
    ReqHttp10 = 2,
    /// The answer says `Connection: close` (VCL or the backend, or a refusal other than 400).
    RespClose = 3,
    /// A request refused 400 before it ran (its framing, a `Connection` that names a protected
    /// header).
    RxBad = 4,
    /// An answer whose body goes to the connection's end (an HTTP/1.0 client, a length not
    /// known when it went).
    TxEof = 5,
}

impl Close {
    /// From what [`crate::vrt::Sess::closing`] holds.
    pub fn of(v: u8) -> Close {
        match v {
            1 => Close::ReqClose,
            2 => Close::ReqHttp10,
            3 => Close::RespClose,
            4 => Close::RxBad,
            5 => Close::TxEof,
            _ => Close::No,
        }
    }
}
