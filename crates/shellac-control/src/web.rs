//! The metrics listener (`serve --metrics HOST:PORT`): `GET /metrics`, the Prometheus text
//! exposition ([`crate::metrics`]), and `GET /`, the status page ([`crate::status_page`]).
//! Anything else is 404; a method other than GET or HEAD, 405. Request heads are bounded by hyper's limits and must arrive within 10 seconds; the
//! accept loop rides out running out of descriptors as the others do.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use shellac_engine::accept::Backoff;
use shellac_engine::body::Body;
use tokio::net::TcpListener;

use crate::manager::Manager;

/// The content type of the text exposition format.
pub const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves the listener until the task is dropped.
pub async fn serve(listener: TcpListener, manager: Arc<Manager>) {
    let bound = listener.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
    let mut backoff = Backoff::new(format!("the metrics port {bound}"));
    let memory = Arc::new(crate::status_page::Memory::default());
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        backoff.succeeded();
        let (m, memory) = (manager.clone(), memory.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (m, memory) = (m.clone(), memory.clone());
                async move { Ok::<_, Infallible>(answer(&m, &memory, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The answer to one request.
pub fn answer(m: &Manager, memory: &Arc<crate::status_page::Memory>, req: &Request<Incoming>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    }
    match req.uri().path() {
        "/metrics" => {
            let text = crate::metrics::render(m);
            let mut r = Response::new(if head { Body::empty() } else { Body::full(text) });
            r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(METRICS_TYPE));
            r
        }
        "/" => {
            let page = crate::status_page::render(m, memory);
            let mut r = Response::new(if head { Body::empty() } else { Body::full(page) });
            r.headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/html; charset=utf-8"));
            r
        }
        _ => plain(StatusCode::NOT_FOUND, "Not Found: / is the status page, /metrics the metrics\n"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::full(text));
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}
