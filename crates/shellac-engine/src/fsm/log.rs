//! A client request's transaction log at its turns (only while the log is read): the response
//! it sends (`Resp*`, `Timestamp Process`), its end once the body has gone (`Timestamp Resp`
//! and `ReqAcct`, or `Timestamp PipeSess` and `PipeAcct` for a pipe; a pass's fetch ends just
//! before it), and a restart, which ends the transaction and begins the next (`Link req N
//! restart`, `Begin req N restart`), as varnishd 7.1 logs them.

use http::header::CONTENT_LENGTH;
use http::Response;

use super::Task;
use crate::body::Body;
use crate::value::now;
use crate::vrt::Resp;
use crate::vsl::Num::U;
use crate::vsl::{Buffer, Side, Tag, Watch};

/// The headers delivery may change after `vcl_deliver`.
const WATCHED: [http::HeaderName; 4] =
    [http::header::CONTENT_RANGE, http::header::CONTENT_ENCODING, CONTENT_LENGTH, http::header::TRANSFER_ENCODING];

/// A response's status and [`WATCHED`] headers as `vcl_deliver` left them (only while the log is
/// read).
pub(super) struct Watched {
    status: u32,
    headers: Watch<4>,
}

impl Watched {
    /// What `resp` has now, if `log` records.
    pub(super) fn of(resp: &Resp, log: &Buffer) -> Option<Watched> {
        Some(Watched { status: resp.status, headers: Watch::of(&WATCHED, &resp.headers, log)? })
    }
}

/// `RespStatus`: the three digits that go on the wire.
fn log_status(vsl: &mut Buffer, status: u32) {
    match http::StatusCode::from_u16((status % 1000) as u16) {
        Ok(code) => vsl.add_str(Tag::RespStatus, code.as_str()),
        Err(_) => vsl.add_fmt(Tag::RespStatus, format_args!("{}", status % 1000)),
    }
}

impl Task {
    /// Logs the response as it goes to the client (its head as hyper will write it, worked out
    /// in the walk that logs each header, told to the connection's tally), and wraps its body
    /// so that the transaction ends (and is committed) when the body has gone.
    pub(super) fn logged(&mut self, mut resp: Response<Body>) -> Response<Body> {
        let acct = self.acct.take().map(|a| *a).unwrap_or_default();
        let reason = match resp.extensions().get::<hyper::ext::ReasonPhrase>() {
            Some(p) => String::from_utf8_lossy(p.as_bytes()).into_owned().into(),
            None => std::borrow::Cow::Borrowed(resp.status().canonical_reason().unwrap_or("")),
        };
        let status = resp.status();
        let code = status.as_str();
        let mut vsl = std::mem::take(&mut self.vsl);
        if acct.piped {
            vsl.timestamp("Pipe", now());
        } else {
            if !acct.processed {
                vsl.timestamp("Process", now());
            }
            if !acct.resp_logged {
                vsl.add_str(Tag::RespProtocol, "HTTP/1.1");
                vsl.add_str(Tag::RespStatus, code);
                vsl.add_str(Tag::RespReason, &reason);
            }
        }
        // (With its head logged before vcl_deliver, only what is added as it goes out is
        // logged here: the connection's header.)
        let all = !acct.piped && !acct.resp_logged;
        // One walk over the headers: each logged (as it goes) and counted.
        let wire = super::wire::head(&resp, self.peer.http10, |name, value| {
            let name = name.as_str();
            if all || (!acct.piped && name.len() == 10 && name == "connection") {
                vsl.add_header(Tag::RespHeader, name, value.as_bytes());
            }
        });
        let head_out = wire.len;
        self.head_going(&wire);
        // The framing header hyper would add goes in now, so that it is logged as varnishd logs
        // its own: last, where the map puts a header it did not have.
        match wire.added {
            super::wire::Added::Length(len) => {
                if !acct.piped {
                    vsl.add_header(Tag::RespHeader, "content-length", len.as_bytes());
                }
                resp.headers_mut().insert(CONTENT_LENGTH, len);
            }
            super::wire::Added::Chunked if !acct.piped => {
                vsl.add_header(Tag::RespHeader, "transfer-encoding", b"chunked");
            }
            _ => {}
        }
        let server = self.server.clone();
        let head_in = self.head_in;
        let end = move |sent: u64| {
            let log = &server.registry.log;
            if let Some(fetch) = acct.fetch {
                fetch.finish(log, sent);
            }
            let (hin, bin) = (head_in, acct.body_in);
            if acct.piped {
                vsl.timestamp("PipeSess", now());
                vsl.nums(Tag::PipeAcct, &[U(hin), U(acct.bereq_head), U(bin), U(head_out + sent)]);
            } else {
                vsl.timestamp("Resp", now());
                vsl.nums(Tag::ReqAcct, &[U(hin), U(bin), U(hin + bin), U(head_out), U(sent), U(head_out + sent)]);
            }
            vsl.commit(log);
        };
        let body = std::mem::replace(resp.body_mut(), Body::empty());
        *resp.body_mut() = body.logged(Box::new(end));
        resp
    }

    /// The response as `vcl_deliver` or `vcl_synth` gets it, as varnishd logs it before the
    /// call: `RespProtocol`, `RespStatus`, `RespReason` and a `RespHeader` per header. What VCL
    /// changes is logged as it changes it (see `vrt::vars`), what delivery changes after it
    /// where it does (see [`Task::log_delivery_changes`]), and the headers added as it goes
    /// out at the end.
    pub(super) fn log_resp_head(&mut self, resp: &Resp) {
        let Some(acct) = self.acct.as_deref_mut().filter(|_| self.vsl.on()) else { return };
        acct.resp_logged = true;
        let vsl = &mut self.vsl;
        vsl.add_str(Tag::RespProtocol, &resp.proto);
        log_status(vsl, resp.status);
        vsl.add_str(Tag::RespReason, &resp.reason);
        for (name, value) in &resp.headers {
            vsl.add_header(Tag::RespHeader, name.as_str(), value.as_bytes());
        }
    }

    /// The response logged before VCL ran is not the one that goes (a restart, a failed
    /// `vcl_synth`): the one that goes is logged whole as it goes.
    pub(super) fn resp_unlogged(&mut self) {
        if let Some(acct) = self.acct.as_deref_mut() {
            (acct.resp_logged, acct.processed) = (false, false);
        }
    }

    /// `Timestamp Process`: VCL is done with the response; then, for a delivery, the `Filters`
    /// its body goes through (`resp.filters`).
    pub(super) fn log_processed(&mut self, filters: Option<&str>) {
        let Some(acct) = self.acct.as_deref_mut().filter(|_| self.vsl.on()) else { return };
        acct.processed = true;
        self.vsl.timestamp("Process", now());
        if let Some(list) = filters {
            self.vsl.add_str(Tag::Filters, list);
        }
    }

    /// What delivery changed after `vcl_deliver` (a 304 or 206 status, a gzip body unpacked, a
    /// length or range added), against `before`, logged as varnishd logs such changes.
    pub(super) fn log_delivery_changes(&mut self, before: Option<Watched>, resp: &Resp) {
        let Some(before) = before.filter(|_| self.vsl.on()) else { return };
        let vsl = &mut self.vsl;
        if before.status != resp.status {
            // (A new status line, as varnishd puts it.)
            vsl.add_str(Tag::RespProtocol, &resp.proto);
            log_status(vsl, resp.status);
            vsl.add_str(Tag::RespReason, &resp.reason);
        }
        before.headers.log_changes(&resp.headers, vsl, [Tag::RespHeader, Tag::RespUnset]);
    }

    /// A restart: this transaction ends and the request goes on as a new one, with a new xid.
    pub(super) fn restart_log(&mut self) {
        let (old, new) = (self.req.xid, self.server.next_xid());
        self.req.xid = new;
        if !self.vsl.on() {
            return;
        }
        self.vsl.timestamp("Restart", now());
        self.vsl.add_fmt(Tag::Link, format_args!("req {new} restart"));
        self.vsl.commit(&self.server.registry.log);
        // (The next transaction logs its own response.)
        self.resp_unlogged();
        self.vsl = Buffer::new(&self.server.registry.log, new, Side::Client);
        self.vsl.add_fmt(Tag::Begin, format_args!("req {old} restart"));
        let t = now();
        self.vsl.timestamp("Start", t);
        super::log_request(&mut self.vsl, &self.sess, &self.req);
    }

    /// `Timestamp Fetch`: the backend's response head is here (a miss or a pass).
    pub(super) fn log_fetched(&mut self) {
        self.vsl.timestamp("Fetch", now());
    }
}
