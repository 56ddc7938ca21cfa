//! An answer's head as hyper will write it: the status line, each header, the framing header
//! hyper adds to a body without one (`Content-Length` when its length is known, else
//! `Transfer-Encoding: chunked`; an HTTP/1.0 client gets the body to the connection's end)
//! and the `Date` it adds to an answer without one. Its length is `s_resp_hdrbytes` (and
//! `ReqAcct`'s fourth field); what it adds is logged as varnishd logs its own.

use http::{HeaderName, HeaderValue, Response};

use crate::body::Body;
use crate::hdr;

/// The framing header hyper adds.
pub(super) enum Added {
    /// None: the answer has its own, or has no body.
    Nothing,
    /// `Content-Length` of the body's known length.
    Length(HeaderValue),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// An answer's head on the wire.
pub(super) struct Wire {
    /// Its length.
    pub(super) len: u64,
    /// The framing header hyper adds.
    pub(super) added: Added,
    /// The body goes to the connection's end (an HTTP/1.0 client, a length not known): the
    /// connection closes after it (`TX_EOF`).
    pub(super) eof: bool,
}

/// The head of `resp` as hyper writes it to a client (`http10`: an HTTP/1.0 one), in one walk
/// over its headers, each given to `each` on the way (for the log).
pub(super) fn head(resp: &Response<Body>, http10: bool, mut each: impl FnMut(&HeaderName, &HeaderValue)) -> Wire {
    let status = resp.status();
    let reason = match resp.extensions().get::<hyper::ext::ReasonPhrase>() {
        Some(p) => p.as_bytes().len(),
        None => status.canonical_reason().map_or(0, str::len),
    };
    // ("HTTP/1.1 200 OK\r\n" and the blank line.)
    let mut len = (8 + 1 + 3 + 1 + reason + 2 + 2) as u64;
    let (mut framed, mut dated) = (false, false);
    for (name, value) in resp.headers() {
        let n = name.as_str();
        // (By length first: most names are none of the three.)
        match n.len() {
            4 => dated |= n == "date",
            14 => framed |= n == "content-length",
            17 => framed |= n == "transfer-encoding",
            _ => {}
        }
        len += hdr::field_len(n, value.as_bytes());
        each(name, value);
    }
    let bodiless = matches!(status.as_u16(), 100..=199 | 204 | 304);
    let mut eof = false;
    let added = if bodiless || framed {
        Added::Nothing
    } else if let Some(n) = http_body::Body::size_hint(resp.body()).exact() {
        Added::Length(HeaderValue::from(n))
    } else if http_body::Body::is_end_stream(resp.body()) {
        Added::Nothing
    } else if http10 {
        eof = true;
        Added::Nothing
    } else {
        Added::Chunked
    };
    len += match &added {
        Added::Nothing => 0,
        Added::Length(v) => hdr::field_len("content-length", v.as_bytes()),
        Added::Chunked => hdr::field_len("transfer-encoding", b"chunked"),
    };
    if !dated {
        len += hdr::field_len("date", b"Thu, 01 Jan 1970 00:00:00 GMT");
    }
    Wire { len, added, eof }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(resp: Response<Body>, http10: bool) -> (u64, String) {
        let w = head(&resp, http10, |_, _| {});
        let added = match w.added {
            Added::Nothing => String::new(),
            Added::Length(v) => format!("content-length: {}", v.to_str().unwrap_or("?")),
            Added::Chunked => "transfer-encoding: chunked".into(),
        };
        (w.len, added)
    }

    #[test]
    fn the_length_is_what_hyper_writes() {
        // "HTTP/1.1 200 OK\r\n" 17, "date: …\r\n" 37, "content-length: 5\r\n" 19, "\r\n" 2.
        let r = Response::new(Body::full(&b"hello"[..]));
        assert_eq!(wire(r, false), (17 + 37 + 19 + 2, "content-length: 5".into()));
        // Its own date and length: nothing added; "x-a: b\r\n" 8.
        let mut r = Response::new(Body::full(&b"hello"[..]));
        r.headers_mut().insert("date", HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
        r.headers_mut().insert("content-length", HeaderValue::from_static("5"));
        r.headers_mut().insert("x-a", HeaderValue::from_static("b"));
        assert_eq!(wire(r, false), (17 + 37 + 19 + 8 + 2, String::new()));
        // A 304 has no body to frame; a reason of its own counts as it is.
        let mut r = Response::new(Body::empty());
        *r.status_mut() = http::StatusCode::NOT_MODIFIED;
        r.extensions_mut().insert(hyper::ext::ReasonPhrase::from_static(b"Same"));
        assert_eq!(wire(r, false), (8 + 1 + 3 + 1 + 4 + 2 + 37 + 2, String::new()));
    }
}
