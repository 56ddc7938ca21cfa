//! The deliver step: the response gets Varnish's delivery headers (`X-Varnish`, `Age`, `Via`),
//! `vcl_deliver` runs, and the response goes to the client: a pass's body still streaming from
//! the backend, or an object's body, read from the store as its fetch fills it.

use std::sync::Arc;

use http::header::{
    AGE, CONTENT_LENGTH, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RANGE, TRANSFER_ENCODING, VIA,
};
use http::{HeaderMap, Response};
use shellac_cache::Object;
use shellac_vcl::symbols::{ActionKind, Method};

use super::{synth_step, Step, Task};
use crate::body::Body;
use crate::fetch::Fetched;
use crate::gzip;
use crate::hdr;
use crate::value::now;
use crate::vcl::Parts;
use crate::vrt::{filters, Resp};

impl Task {
    /// Delivers a passed response, or says which step comes instead.
    pub(super) fn deliver(&mut self, fetched: Fetched) -> Result<Response<Body>, Step> {
        let Fetched { beresp, body, gzip, plain_len, log, .. } = fetched;
        if let (Some(acct), Some(log)) = (&mut self.acct, log) {
            acct.fetch = Some(log);
        }
        let t = now();
        let mut headers = self.delivery_headers(beresp.headers, t - beresp.t_origin, None);
        let unpack = self.unpack(gzip, &mut headers).then_some(plain_len);
        let range = self.wants_range(beresp.status);
        let resp = Resp {
            status: beresp.status,
            reason: beresp.reason,
            proto: beresp.proto,
            headers,
            body: Vec::new(),
            time: t,
            filters: filters::resp_list(unpack.is_some(), range),
        };
        self.deliver_resp(resp, body, None, beresp.t_origin, unpack)
    }

    /// Delivers an object (its body complete or still filling), or says which step comes
    /// instead.
    /// `headers`: the object's headers as a map already (its fetch's), else made from the
    /// stored copy.
    pub(super) fn deliver_object(
        &mut self,
        obj: Arc<Object>,
        hit: bool,
        headers: Option<HeaderMap>,
    ) -> Result<Response<Body>, Step> {
        let t = now();
        let headers = headers.unwrap_or_else(|| obj.head.headers.to_map(3));
        // A hit names the fetch that stored the object too: `X-Varnish: 32770 3`.
        let mut headers = self.delivery_headers(headers, obj.age(t), hit.then_some(obj.xid));
        // (Before vcl_deliver, which may take it away; a pass answer does not say it.)
        if obj.head.status == 200 && self.params.http_range_support {
            headers.insert(http::header::ACCEPT_RANGES, http::HeaderValue::from_static("bytes"));
        }
        let unpack = self.unpack(obj.gzip, &mut headers).then(|| obj.plain_len());
        let range = self.wants_range(u32::from(obj.head.status));
        let resp = Resp {
            status: u32::from(obj.head.status),
            // A standard phrase is borrowed, not copied for every hit.
            reason: match crate::vrt::reason::standard(u32::from(obj.head.status)) {
                Some(standard) if standard == obj.head.reason() => standard.into(),
                _ => obj.head.reason().to_string().into(),
            },
            proto: obj.head.proto().into(),
            headers,
            body: Vec::new(),
            time: t,
            filters: filters::resp_list(unpack.is_some(), range),
        };
        let body = Body::object(obj.clone());
        self.deliver_resp(resp, body, Some(&obj), obj.ttl().t_origin, unpack)
    }

    /// Whether this request asks for a range of an answer with `status` that delivery cuts.
    fn wants_range(&self, status: u32) -> bool {
        status == 200 && self.params.http_range_support && self.req.headers.contains_key(http::header::RANGE)
    }

    /// Cuts the range the request asks for from a 200 answer whose length is known: 206 with
    /// `Content-Range`, or 416 (see [`super::range`]); anything else goes out whole.
    fn cut_range(&self, resp: &mut Resp, body: Body, len: Option<u64>) -> Body {
        use http::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
        let (Some(len), Some(header)) = (len, self.req.headers.get(RANGE)) else { return body };
        if resp.status % 1000 != 200 || !super::range::if_range_holds(&self.req.headers, &resp.headers) {
            return body;
        }
        match super::range::parse(header.as_bytes(), len) {
            super::range::Range::Part { start, len: n } => {
                resp.status = 206;
                resp.reason = "Partial Content".into();
                resp.headers.insert(CONTENT_RANGE, value(format!("bytes {start}-{}/{len}", start + n - 1)));
                resp.headers.insert(CONTENT_LENGTH, hdr::num(n));
                body.range(start, n)
            }
            super::range::Range::Unsatisfiable => {
                resp.status = 416;
                resp.reason = "Requested Range Not Satisfiable".into();
                resp.headers.insert(CONTENT_RANGE, value(format!("bytes */{len}")));
                resp.headers.insert(CONTENT_LENGTH, hdr::num(0));
                Body::empty()
            }
        }
    }

    /// Whether a gzip body goes to this client unpacked (`http_gzip_support`, and its
    /// `Accept-Encoding` does not take gzip); if so, its `ETag` is weakened before
    /// `vcl_deliver`, as Varnish's is.
    fn unpack(&self, gzip: bool, headers: &mut HeaderMap) -> bool {
        let unpack = gzip && self.params.http_gzip_support && !gzip::accepts_gzip(&self.req.headers);
        if unpack {
            gzip::before_deliver(headers);
        }
        unpack
    }

    /// The stored headers as a client gets them: hop-by-hop and `Age` replaced by this
    /// delivery's `X-Varnish` (with the object's xid on a hit), `Age` and `Via`.
    fn delivery_headers(&self, mut headers: HeaderMap, age: f64, obj_xid: Option<u64>) -> HeaderMap {
        hdr::filter(&mut headers, &hdr::BERESP_DROP);
        let xid = match obj_xid {
            Some(obj) => hdr::num_pair(self.req.xid, obj),
            None => hdr::num(self.req.xid),
        };
        headers.append(hdr::X_VARNISH, xid);
        headers.insert(AGE, hdr::num(age.max(0.0).floor() as u64));
        headers.append(VIA, hdr::VIA);
        headers
    }

    /// `vcl_deliver`, then the response (a 304 when the request's condition holds). `unpack`:
    /// the body is gzip and goes out unpacked, with this length if it is known.
    fn deliver_resp(
        &mut self,
        mut resp: Resp,
        mut body: Body,
        obj: Option<&Object>,
        t_origin: f64,
        unpack: Option<Option<u64>>,
    ) -> Result<Response<Body>, Step> {
        self.log_resp_head(&resp);
        match self.vcl.run(
            Method::Deliver,
            &self.sess,
            Parts {
                req: Some(&mut self.req),
                vsl: Some(&mut self.vsl),
                resp: Some(&mut resp),
                obj,
                ..Parts::default()
            },
        ) {
            Ok(h) if h.action == ActionKind::Deliver => {
                self.log_processed(Some(&resp.filters));
                // `resp.filters` as vcl_deliver left it decides whether a gzip body is unpacked.
                let unpack = match (unpack, filters::resp_unpacks(&resp.filters)) {
                    (Some(_), false) => None,
                    (None, true) if filters::is_gzip(&resp.headers) => Some(obj.and_then(Object::plain_len)),
                    (unpack, _) => unpack,
                };
                let ranged = filters::resp_ranges(&resp.filters) && self.params.http_range_support;
                // (What may change the head after VCL, seldom, is watched only then, and only
                // while the log is read: its changes are logged at the end.)
                let before = if unpack.is_some() || self.req.conditional || ranged {
                    super::log::Watched::of(&resp, &self.vsl)
                } else {
                    None
                };
                if let Some(plain_len) = unpack {
                    gzip::deliver_gunzip(&mut resp.headers, plain_len);
                    self.count(crate::stats::Main::NGunzip);
                    body = body.filtered(gzip::Codec::gunzip());
                } else if let Some(obj) = obj {
                    // A complete object whose length the backend did not give (chunked, or
                    // gzipped here) is sent with its length, as Varnish sends it.
                    if !resp.headers.contains_key(CONTENT_LENGTH)
                        && obj.body.state() == shellac_cache::body::State::Complete
                    {
                        let len = hdr::num(obj.body.len());
                        if before.is_none() {
                            self.vsl.add_header(crate::vsl::Tag::RespHeader, "content-length", len.as_bytes());
                        }
                        resp.headers.insert(CONTENT_LENGTH, len);
                    }
                }
                if self.req.conditional
                    && resp.status % 1000 == 200
                    && not_modified(&self.req.headers, &resp.headers, t_origin, resp.time)
                {
                    resp.status = 304;
                    resp.reason = "Not Modified".into();
                    resp.headers.remove(CONTENT_LENGTH);
                    resp.headers.remove(TRANSFER_ENCODING);
                    self.log_delivery_changes(before, &resp);
                    return Ok(self.response(resp, Body::empty()));
                }
                if ranged {
                    // (The length as it goes out: a stored body's, the answer's Content-Length.)
                    let len = match (unpack, obj) {
                        (Some(plain), _) => plain,
                        (None, Some(o)) if o.body.state() == shellac_cache::body::State::Complete => Some(o.body.len()),
                        _ => resp.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()),
                    };
                    body = self.cut_range(&mut resp, body, len);
                }
                self.log_delivery_changes(before, &resp);
                Ok(self.response(resp, body))
            }
            Ok(h) if h.action == ActionKind::Synth => Err(synth_step(&h)),
            Ok(h) if h.action == ActionKind::Restart => Err(Step::Restart),
            Ok(_) => Err(Step::Fail),
            Err(e) => Err(self.failed(Method::Deliver, &e.0)),
        }
    }

    /// The response hyper writes: status (last three digits), reason phrase, headers, body.
    pub(super) fn response(&self, resp: Resp, body: Body) -> Response<Body> {
        let mut r = Response::new(body);
        let code = (resp.status % 1000) as u16;
        *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        if r.status().canonical_reason() != Some(resp.reason.as_ref()) {
            if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(resp.reason.into_owned().into_bytes()) {
                r.extensions_mut().insert(reason);
            }
        }
        *r.headers_mut() = resp.headers;
        r
    }
}

/// Whether a 200 answer becomes a 304 for this request (spec §5.7, Varnish's
/// `RFC2616_Do_Cond`): with `If-None-Match`, when it equals the answer's `ETag` after a leading
/// `W/` is taken off each (both strong, and equal as they are, when the request has a `Range`;
/// no lists, no `*`), `If-Modified-Since` then ignored; else with an `If-Modified-Since` that
/// parses and is not in the future, when `Last-Modified` (or the origin time) is not after it.
fn not_modified(req: &HeaderMap, resp: &HeaderMap, t_origin: f64, now: f64) -> bool {
    if let Some(inm) = req.get(IF_NONE_MATCH) {
        let Some(etag) = resp.get(ETAG) else { return false };
        let (inm, etag) = (inm.as_bytes(), etag.as_bytes());
        if req.contains_key(RANGE) {
            return !etag.starts_with(b"W/") && !inm.starts_with(b"W/") && inm == etag;
        }
        return inm.strip_prefix(b"W/").unwrap_or(inm) == etag.strip_prefix(b"W/").unwrap_or(etag);
    }
    let date = |v: &http::HeaderValue| {
        let t = httpdate::parse_http_date(v.to_str().ok()?).ok()?;
        Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
    };
    let Some(ims) = req.get(IF_MODIFIED_SINCE).and_then(date) else { return false };
    if ims > now {
        return false;
    }
    let modified = resp.get(LAST_MODIFIED).and_then(date).unwrap_or(t_origin);
    modified <= ims
}

/// A header value made here (ASCII by construction).
fn value(s: String) -> http::HeaderValue {
    http::HeaderValue::try_from(s).unwrap_or_else(|_| http::HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.append(*n, HeaderValue::from_static(v));
        }
        m
    }

    const NOW: f64 = 1_800_000_000.0;

    /// One row per rule of spec §5.7 (as observed on varnishd 7.1.1).
    #[test]
    fn conditions_follow_varnish() {
        let etag = h(&[("etag", "\"abc\""), ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        let rows: Vec<(&str, HeaderMap, &HeaderMap, bool)> = vec![
            ("same ETag", h(&[("if-none-match", "\"abc\"")]), &etag, true),
            ("weak against strong", h(&[("if-none-match", "W/\"abc\"")]), &etag, true),
            ("another ETag", h(&[("if-none-match", "\"abd\"")]), &etag, false),
            ("no list parsing", h(&[("if-none-match", "\"abc\", \"def\"")]), &etag, false),
            ("no star", h(&[("if-none-match", "*")]), &etag, false),
            ("strong with Range", h(&[("if-none-match", "W/\"abc\""), ("range", "bytes=0-1")]), &etag, false),
            (
                "If-None-Match wins over If-Modified-Since",
                h(&[("if-none-match", "\"x\""), ("if-modified-since", "Mon, 07 Nov 1994 08:49:37 GMT")]),
                &etag,
                false,
            ),
            ("modified before", h(&[("if-modified-since", "Mon, 07 Nov 1994 08:49:37 GMT")]), &etag, true),
            ("modified after", h(&[("if-modified-since", "Sat, 05 Nov 1994 08:49:37 GMT")]), &etag, false),
            ("a future date", h(&[("if-modified-since", "Mon, 07 Nov 2050 08:49:37 GMT")]), &etag, false),
            ("a date that does not parse", h(&[("if-modified-since", "yesterday")]), &etag, false),
        ];
        for (what, req, resp, want) in rows {
            assert_eq!(not_modified(&req, resp, NOW, NOW), want, "{what}");
        }
        // Without Last-Modified, the origin time counts.
        let ims = h(&[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert!(not_modified(&ims, &h(&[]), 784_111_777.0, NOW));
        assert!(!not_modified(&ims, &h(&[]), 784_111_778.0, NOW));
    }
}
