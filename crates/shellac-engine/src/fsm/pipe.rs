//! The pipe step: `vcl_pipe`, then the request goes to the backend on a connection of its own
//! and the two sides are joined. A `101 Switching Protocols` answer (WebSocket), or a 2xx answer
//! to `CONNECT`, turns both connections into a byte tunnel; any other answer is streamed back and the client connection
//! closes after it, which is what a pipe amounts to for HTTP/1 clients. Only the connect timeout
//! and `pipe_timeout` (idle) apply.

use http::header::{CONNECTION, HOST};
use http::{HeaderValue, Method as HttpMethod, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use shellac_vcl::symbols::{ActionKind, Method};

use super::{synth_step, Step, Task};
use crate::backend::pool::ConnectPolicy;
use crate::body::Body;
use crate::fetch::{secs, Mode};
use crate::vcl::Parts;
use crate::vrt::Bereq;

impl Task {
    pub(super) async fn pipe(&mut self) -> Response<Body> {
        let mut bereq = Bereq::from_req(&self.server, &self.params, &self.req, Mode::Pipe);
        let xid = bereq.xid;
        self.vsl.add_fmt(crate::vsl::Tag::Link, format_args!("bereq {xid} pipe"));
        let handling = self.vcl.run(
            Method::Pipe,
            &self.sess,
            Parts { req: Some(&mut self.req), vsl: Some(&mut self.vsl), bereq: Some(&mut bereq), ..Parts::default() },
        );
        let next = match handling {
            Ok(h) if h.action == ActionKind::Pipe => match self.tunnel(bereq).await {
                Ok(resp) => return resp,
                Err(e) => {
                    tracing::info!(xid, "pipe: {e}");
                    Step::Synth(503, "Backend fetch failed".into())
                }
            },
            Ok(h) if h.action == ActionKind::Synth => synth_step(&h),
            Ok(_) => Step::Fail,
            Err(e) => self.failed(Method::Pipe, &e.0),
        };
        // Back into the state machine for the synth page.
        let mut step = next;
        loop {
            step = match step {
                Step::Synth(s, r) => match self.synth(s, r) {
                    Ok(resp) => return resp,
                    Err(n) => n,
                },
                Step::Fail => Step::Synth(503, "VCL failed".into()),
                // A restart from vcl_synth after a pipe: the request cannot be replayed.
                _ => Step::Synth(503, "Service Unavailable".into()),
            }
        }
    }

    async fn tunnel(&mut self, mut bereq: Bereq) -> Result<Response<Body>, crate::error::FetchError> {
        use crate::error::FetchError;
        let params = self.params.clone();
        let hint = crate::director::ResolveHint {
            hash: bereq.hash.as_ref().map(|h| &h[..]),
            url: &bereq.url,
            shard_params: &bereq.shard_params,
        };
        let backend = bereq.backend.resolve_for(&hint)?;
        if !backend.is_healthy() {
            return Err(FetchError::Unhealthy(backend.name.clone()));
        }
        let pool = backend.pool.clone().ok_or_else(|| FetchError::NoAddress(backend.name.clone()))?;
        let connect =
            bereq.connect_timeout.filter(|t| *t > 0.0).or(backend.timeouts.connect).unwrap_or(params.connect_timeout);
        let policy = ConnectPolicy {
            timeout: secs(connect),
            idle_timeout: secs(params.backend_idle_timeout),
            remote_holddown: secs(params.backend_remote_error_holddown),
            local_holddown: secs(params.backend_local_error_holddown),
        };
        let mut sender = pool.connect(&backend.name, &policy).await?;
        // From here the connection is the pipe's: its bytes, `n_pipe`, `TX_PIPE` at its close.
        self.sess.tally.pipe(self.head_in);
        if !bereq.headers.contains_key(HOST) {
            if let Some(h) = &backend.host_header {
                bereq.headers.insert(HOST, h.clone());
            }
        }
        if !bereq.headers.contains_key(CONNECTION) {
            bereq.headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        // The backend transaction's log: the request as it goes (a pipe counts no bytes).
        let mut log = crate::vsl::Buffer::new(&self.server.registry.log, bereq.xid, crate::vsl::Side::Backend);
        crate::fetch::log_bereq(&mut log, &bereq, "pipe", Some(&self.vcl.name));
        if let Some(acct) = &mut self.acct {
            acct.bereq_head = crate::hdr::head_len(&bereq.method, &bereq.url, "HTTP/1.1", &bereq.headers);
        }
        let mut request = Request::new(self.body.take().unwrap_or_else(Body::empty));
        *request.method_mut() =
            HttpMethod::from_bytes(bereq.method.as_bytes()).map_err(|_| FetchError::Read("invalid method".into()))?;
        *request.uri_mut() = bereq.url.parse().map_err(|_| FetchError::Read("invalid URL".into()))?;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = bereq.headers;
        let idle = secs(params.pipe_timeout);
        let response = tokio::time::timeout(idle, sender.send_request(request))
            .await
            .map_err(|_| FetchError::FirstByteTimeout)?
            .map_err(|e| FetchError::Read(e.to_string()))?;
        let (ip, port) = pool.addr().ip_port();
        // (The connection is hyper's here: its descriptor and local end are not ours to log.)
        log.add(crate::vsl::Tag::BackendOpen, || format!("- {} {ip} {port} - - connect", backend.name));
        log.timestamp("Bereq", crate::value::now());
        log.add_str(crate::vsl::Tag::BereqAcct, "0 0 0 0 0 0");
        log.commit(&self.server.registry.log);
        if let Some(acct) = &mut self.acct {
            acct.piped = true;
        }
        // 101 (WebSocket), or a CONNECT the backend accepted: from now on a byte tunnel.
        let tunnel = response.status() == StatusCode::SWITCHING_PROTOCOLS
            || (bereq.method == "CONNECT" && response.status().is_success());
        if tunnel {
            if let Some(client_upgrade) = self.upgrade.take() {
                let (mut parts, _) = response.into_parts();
                // A tunnel has no message body (hyper refuses a 2xx CONNECT answer with one).
                parts.headers.remove(http::header::CONTENT_LENGTH);
                parts.headers.remove(http::header::TRANSFER_ENCODING);
                let backend_response = Response::from_parts(parts.clone(), ());
                self.sess.tally.tunnel();
                tokio::spawn(async move {
                    let (Ok(client), Ok(upstream)) = (client_upgrade.await, hyper::upgrade::on(backend_response).await)
                    else {
                        return;
                    };
                    let mut client = TokioIo::new(client);
                    let mut upstream = TokioIo::new(upstream);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
                let mut r = Response::new(Body::empty());
                *r.status_mut() = parts.status;
                *r.headers_mut() = parts.headers;
                // The backend's own reason phrase ("Connection established"), as a pipe relays it.
                if let Some(reason) = parts.extensions.get::<hyper::ext::ReasonPhrase>() {
                    r.extensions_mut().insert(reason.clone());
                }
                return Ok(r);
            }
        }
        let (mut parts, incoming) = response.into_parts();
        parts.headers.insert(CONNECTION, HeaderValue::from_static("close"));
        let body = Body::incoming(incoming, Some(idle), 0);
        Ok(Response::from_parts(parts, body))
    }
}
