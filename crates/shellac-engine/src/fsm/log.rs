//! A client request's transaction log at its turns (only while the log is read): the response
//! it sends (`Resp*`, `Timestamp Process`), its end once the body has gone (`Timestamp Resp`
//! and `ReqAcct`, or `Timestamp PipeSess` and `PipeAcct` for a pipe; a pass's fetch ends just
//! before it), and a restart, which ends the transaction and begins the next (`Link req N
//! restart`, `Begin req N restart`), as varnishd 7.1 logs them.

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::Response;

use super::Task;
use crate::body::Body;
use crate::value::now;
use crate::vsl::Num::U;
use crate::vsl::{Buffer, Side, Tag};

/// The bytes hyper's server adds to a response head: `date` when it has none, and the
/// `Connection` token that tells the client whether the connection goes on (`close` to an
/// HTTP/1.1 client that asked for it, `keep-alive` to an HTTP/1.0 one that asked for that),
/// on a line of its own or after the response's own `Connection` values.
fn added_by_hyper(headers: &http::HeaderMap, peer: super::Peer) -> u64 {
    let mut n = 0;
    if !headers.contains_key(DATE) {
        n += "date: Mon, 07 Dec 2026 03:41:10 GMT\r\n".len();
    }
    let has = |token: &str| {
        headers
            .get_all(CONNECTION)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
    };
    let token = match (peer.http10, peer.keep_alive) {
        (false, false) if !has("close") => Some("close"),
        (true, true) if !has("keep-alive") => Some("keep-alive"),
        _ => None,
    };
    if let Some(token) = token {
        n += if headers.contains_key(CONNECTION) {
            ", ".len() + token.len()
        } else {
            "connection: \r\n".len() + token.len()
        };
    }
    n as u64
}

impl Task {
    /// Logs the response as it goes to the client, and wraps its body so that the
    /// transaction ends (and is committed) when the body has gone.
    pub(super) fn logged(&mut self, mut resp: Response<Body>) -> Response<Body> {
        let acct = self.acct.take().map(|a| *a).unwrap_or_default();
        let reason = match resp.extensions().get::<hyper::ext::ReasonPhrase>() {
            Some(p) => String::from_utf8_lossy(p.as_bytes()).into_owned().into(),
            None => std::borrow::Cow::Borrowed(resp.status().canonical_reason().unwrap_or("")),
        };
        let status = resp.status();
        let code = status.as_str();
        // The framing header hyper would add goes in now, so that it is logged (and counted)
        // as varnishd logs its own.
        let bodiless = matches!(resp.status().as_u16(), 100..=199 | 204 | 304);
        let framed = resp.headers().contains_key(CONTENT_LENGTH) || resp.headers().contains_key(TRANSFER_ENCODING);
        let mut chunked = false;
        if !bodiless && !framed {
            match http_body::Body::size_hint(resp.body()).exact() {
                Some(n) => {
                    resp.headers_mut().insert(CONTENT_LENGTH, n.into());
                }
                // (An HTTP/1.0 client gets such a body to the connection's end.)
                None => chunked = !http_body::Body::is_end_stream(resp.body()) && !self.peer.http10,
            }
        }
        // The head's length (`ReqAcct`'s fourth field): the status line, what hyper adds on
        // the way out and the end here, the headers counted on the walk that logs them.
        let mut head_out = ("HTTP/1.1".len() + 1 + code.len() + 1 + reason.len() + 2 + 2) as u64;
        if chunked {
            head_out += "transfer-encoding: chunked\r\n".len() as u64;
        }
        head_out += added_by_hyper(resp.headers(), self.peer);
        let mut vsl = std::mem::take(&mut self.vsl);
        if acct.piped {
            vsl.timestamp("Pipe", now());
            head_out += resp.headers().iter().map(|(n, v)| (n.as_str().len() + 2 + v.len() + 2) as u64).sum::<u64>();
        } else {
            vsl.timestamp("Process", now());
            vsl.add_str(Tag::RespProtocol, "HTTP/1.1");
            vsl.add_str(Tag::RespStatus, code);
            vsl.add_str(Tag::RespReason, &reason);
            for (name, value) in resp.headers() {
                let name = name.as_str();
                head_out += (name.len() + 2 + value.len() + 2) as u64;
                vsl.add_header(Tag::RespHeader, name, value.as_bytes());
            }
        }
        let server = self.server.clone();
        let end = move |sent: u64| {
            let log = &server.registry.log;
            if let Some(fetch) = acct.fetch {
                fetch.finish(log, sent);
            }
            let (hin, bin) = (acct.head_in, acct.body_in);
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
