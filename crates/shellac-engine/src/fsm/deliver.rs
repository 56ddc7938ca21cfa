//! The deliver step: the response gets Varnish's delivery headers (`X-Varnish`, `Age`, `Via`),
//! `vcl_deliver` runs, and the response goes to the client: a pass's body still streaming from
//! the backend, or an object's body, read from the store as its fetch fills it.

use std::sync::Arc;

use http::header::{AGE, VIA};
use http::{HeaderMap, Response};
use shellac_cache::Object;
use shellac_vcl::symbols::{ActionKind, Method};

use super::{synth_step, Step, Task};
use crate::body::Body;
use crate::fetch::Fetched;
use crate::hdr;
use crate::value::now;
use crate::vcl::Parts;
use crate::vrt::Resp;

impl Task {
    /// Delivers a passed response, or says which step comes instead.
    pub(super) fn deliver(&mut self, fetched: Fetched) -> Result<Response<Body>, Step> {
        let Fetched { beresp, body, .. } = fetched;
        let t = now();
        let resp = Resp {
            status: beresp.status,
            reason: beresp.reason,
            proto: beresp.proto,
            headers: self.delivery_headers(beresp.headers, t - beresp.t_origin),
            body: Vec::new(),
            time: t,
        };
        self.deliver_resp(resp, body, None)
    }

    /// Delivers an object (its body complete or still filling), or says which step comes
    /// instead.
    pub(super) fn deliver_object(&mut self, obj: Arc<Object>) -> Result<Response<Body>, Step> {
        let t = now();
        let resp = Resp {
            status: u32::from(obj.head.status),
            reason: obj.head.reason.clone().into(),
            proto: obj.head.proto.into(),
            headers: self.delivery_headers(obj.head.headers.clone(), obj.age(t)),
            body: Vec::new(),
            time: t,
        };
        let body = Body::object(obj.clone());
        self.deliver_resp(resp, body, Some(&obj))
    }

    /// The stored headers as a client gets them: hop-by-hop and `Age` replaced by this
    /// delivery's `X-Varnish`, `Age` and `Via`.
    fn delivery_headers(&self, mut headers: HeaderMap, age: f64) -> HeaderMap {
        hdr::filter(&mut headers, &hdr::BERESP_DROP);
        headers.append(hdr::X_VARNISH, hdr::num(self.req.xid));
        headers.insert(AGE, hdr::num(age.max(0.0).floor() as u64));
        headers.append(VIA, hdr::VIA);
        headers
    }

    /// `vcl_deliver`, then the response.
    fn deliver_resp(&mut self, mut resp: Resp, body: Body, obj: Option<&Object>) -> Result<Response<Body>, Step> {
        match self.vcl.run(
            Method::Deliver,
            &self.sess,
            Parts { req: Some(&mut self.req), resp: Some(&mut resp), obj, ..Parts::default() },
        ) {
            Ok(h) if h.action == ActionKind::Deliver => Ok(self.response(resp, body)),
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
