//! The deliver step: the fetched response gets Varnish's delivery headers, `vcl_deliver` runs,
//! and the response goes to the client with its body still streaming from the backend.

use http::header::{AGE, VIA};
use http::Response;
use shellac_vcl::symbols::{ActionKind, Method};

use super::{synth_step, Step, Task};
use crate::body::Body;
use crate::fetch::Fetched;
use crate::hdr;
use crate::value::now;
use crate::vcl::Parts;
use crate::vrt::Resp;

impl Task {
    /// Delivers a fetched response, or says which step comes instead.
    pub(super) fn deliver(&mut self, fetched: Fetched) -> Result<Response<Body>, Step> {
        let Fetched { beresp, body } = fetched;
        let t = now();
        let mut headers = beresp.headers;
        hdr::filter(&mut headers, &hdr::BERESP_DROP);
        headers.append(hdr::X_VARNISH, hdr::num(self.req.xid));
        let age = (t - beresp.t_origin).max(0.0).floor() as u64;
        headers.insert(AGE, hdr::num(age));
        headers.append(VIA, hdr::VIA);
        let mut resp = Resp {
            status: beresp.status,
            reason: beresp.reason,
            proto: beresp.proto,
            headers,
            body: Vec::new(),
            time: t,
        };
        match self.vcl.run(
            Method::Deliver,
            &self.sess,
            Parts { req: Some(&mut self.req), resp: Some(&mut resp), ..Parts::default() },
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
