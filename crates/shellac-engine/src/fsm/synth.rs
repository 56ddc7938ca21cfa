//! The synth step: a response made by VCL (`vcl_synth`), for `return (synth(…))`, failures and
//! every error the core turns into a status. A failure inside `vcl_synth` itself gives a bare
//! 500 and closes the connection, as in Varnish.

use std::borrow::Cow;

use http::header::{CONNECTION, DATE, SERVER};
use http::{HeaderValue, Response};
use shellac_vcl::symbols::{ActionKind, Method};

use super::{plain, Step, Task};
use crate::body::Body;
use crate::hdr;
use crate::value::{http_date, now};
use crate::vcl::Parts;
use crate::vrt::Resp;

impl Task {
    /// Builds a synthetic response, or says which step comes instead (restart).
    pub(super) fn synth(&mut self, status: u32, reason: String) -> Result<Response<Body>, Step> {
        // Whatever body the client sent will not be read now.
        self.body = None;
        let status = if crate::vrt::vars::is_valid_status(i64::from(status)) { status } else { 503 };
        let reason: Cow<'static, str> =
            if reason.is_empty() { crate::vrt::reason::of(status).into() } else { reason.into() };
        let t = now();
        let mut resp = Resp { status, reason, proto: "HTTP/1.1".into(), time: t, ..Resp::default() };
        if let Ok(d) = HeaderValue::from_str(&http_date(t)) {
            resp.headers.insert(DATE, d);
        }
        resp.headers.insert(SERVER, hdr::SERVER);
        resp.headers.insert(hdr::X_VARNISH, hdr::num(self.req.xid));
        self.log_resp_head(&resp);
        match self.vcl.run(
            Method::Synth,
            &self.sess,
            Parts { req: Some(&mut self.req), vsl: Some(&mut self.vsl), resp: Some(&mut resp), ..Parts::default() },
        ) {
            Ok(h) if h.action == ActionKind::Deliver => {
                self.log_processed(None);
                let body = Body::full(std::mem::take(&mut resp.body));
                Ok(self.response(resp, body))
            }
            Ok(h) if h.action == ActionKind::Restart => Err(Step::Restart),
            Ok(_) | Err(_) => {
                tracing::info!(xid = self.req.xid, "VCL failed in vcl_synth");
                self.resp_unlogged();
                let mut r = plain(500, "Internal Server Error\n");
                r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
                Ok(r)
            }
        }
    }
}
