//! What the backend side of the data path makes of the bytes a backend sends: every body
//! framing, informational responses, malformed heads, and when a connection may be reused.

mod common;

use common::*;

/// A path never asked before: these answers are cacheable, and each request must reach the
/// backend.
fn unique() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!("/u{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// An origin that answers every request on a connection with `raw` (kept alive).
async fn raw_origin(raw: &str) -> Origin {
    let o = Origin::start("raw").await;
    let raw = raw.to_string();
    o.set(move |b| {
        b.raw = Some(raw);
        b.keep_raw = true;
    });
    o
}

#[tokio::test]
async fn a_chunked_response_arrives_whole_and_its_connection_is_reused() {
    let o = raw_origin(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n",
    )
    .await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    for i in 0..3 {
        let r = p.get(&format!("/{i}")).await;
        assert_eq!((r.status, r.text().as_str()), (200, "hello world"), "request {i}");
        assert!(r.header("transfer-encoding").is_none_or(|v| v == "chunked"), "re-framed for the client");
    }
    assert_eq!(o.connections(), 1, "one backend connection for the three");
}

#[tokio::test]
async fn a_close_delimited_response_ends_at_eof_and_is_not_reused() {
    let o = Origin::start("eof").await;
    o.set(|b| b.raw = Some("HTTP/1.1 200 OK\r\nX-Origin: eof\r\n\r\nuntil the end".into()));
    let p = proxy(&vcl_for(&[&o], "")).await;
    for _ in 0..2 {
        let r = p.get(&unique()).await;
        assert_eq!((r.status, r.text().as_str()), (200, "until the end"));
    }
    assert_eq!(o.connections(), 2);
}

#[tokio::test]
async fn http10_responses_are_reused_only_with_keep_alive() {
    let o = raw_origin("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    assert_eq!(p.get(&unique()).await.text(), "ok");
    assert_eq!(p.get(&unique()).await.text(), "ok");
    assert_eq!(o.connections(), 2, "HTTP/1.0 without keep-alive: a connection per request");

    let o = raw_origin("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    assert_eq!(p.get(&unique()).await.text(), "ok");
    assert_eq!(p.get(&unique()).await.text(), "ok");
    assert_eq!(o.connections(), 1);
}

#[tokio::test]
async fn informational_responses_are_skipped() {
    let o = raw_origin(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 201 Made It\r\nContent-Length: 2\r\n\r\nok",
    )
    .await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let r = p.get(&unique()).await;
    assert_eq!((r.status, r.text().as_str()), (201, "ok"));
    assert!(r.header("link").is_none());
}

#[tokio::test]
async fn the_backend_reason_phrase_and_repeated_headers_are_kept() {
    let o = raw_origin("HTTP/1.1 299 Quite Fine\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 0\r\n\r\n").await;
    let p = proxy(&vcl_for(&[&o], "sub vcl_backend_response { set beresp.http.reason = beresp.reason; }")).await;
    let r = p.get(&unique()).await;
    assert_eq!(r.status, 299);
    assert_eq!(r.header("reason"), Some("Quite Fine"));
    assert_eq!(r.headers_named("x-a"), ["1", "2"]);
    assert_eq!(r.text(), "");
}

#[tokio::test]
async fn malformed_backend_responses_are_503() {
    let many: String = (0..70).map(|i| format!("X-{i}: v\r\n")).collect();
    for raw in [
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok".to_string(),
        "HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nok".to_string(),
        "SSH-2.0-OpenSSH_9.2\r\n\r\n".to_string(),
        format!("HTTP/1.1 200 OK\r\n{many}Content-Length: 2\r\n\r\nok"),
        format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "b".repeat(40_000)),
    ] {
        let o = Origin::start("bad").await;
        o.set(|b| b.raw = Some(raw.clone()));
        let p = proxy(&vcl_for(&[&o], "")).await;
        let r = p.get(&unique()).await;
        assert_eq!(r.status, 503, "{:?}", &raw[..raw.len().min(60)]);
    }
}

#[tokio::test]
async fn http_resp_size_and_http_resp_hdr_len_bound_the_backend_head() {
    // A 10 KiB header line: over the 8 KiB line limit, under the 32 KiB head.
    let long = format!("HTTP/1.1 200 OK\r\nX-Long: {}\r\nContent-Length: 2\r\n\r\nok", "l".repeat(10 << 10));
    let o = raw_origin(&long).await;
    assert_eq!(proxy(&vcl_for(&[&o], "")).await.get(&unique()).await.status, 503, "default http_resp_hdr_len");
    let p = proxy_with(&vcl_for(&[&o], ""), |p| p.set("http_resp_hdr_len", "16k").unwrap()).await;
    let r = p.get(&unique()).await;
    assert_eq!((r.status, r.header("x-long").map(str::len)), (200, Some(10 << 10)));
    // A head of 20 headers of 1 KiB: 20 KiB, under 32 KiB; refused below that.
    let many: String = (0..20).map(|i| format!("X-{i}: {}\r\n", "m".repeat(1000))).collect();
    let o = raw_origin(&format!("HTTP/1.1 200 OK\r\n{many}Content-Length: 2\r\n\r\nok")).await;
    assert_eq!(proxy(&vcl_for(&[&o], "")).await.get(&unique()).await.status, 200);
    let p = proxy_with(&vcl_for(&[&o], ""), |p| p.set("http_resp_size", "16k").unwrap()).await;
    assert_eq!(p.get(&unique()).await.status, 503, "http_resp_size 16k");
}

#[tokio::test]
async fn a_body_cut_short_truncates_the_client_response() {
    // Chunked, then EOF inside the second chunk: the client must not see a complete response.
    let o = Origin::start("cut").await;
    o.set(|b| b.raw = Some("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n9\r\nde".into()));
    let p = proxy(&vcl_for(&[&o], "")).await;
    let mut c = Client::connect(p.addr).await;
    c.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let r = c.read_response(false).await;
    assert!(r.status == 0 || r.closed, "the connection is closed, not a clean response: {r:?}");
}

#[tokio::test]
async fn bytes_after_a_response_keep_its_connection_out_of_the_pool() {
    let o = raw_origin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    assert_eq!(p.get(&unique()).await.text(), "ok");
    assert_eq!(p.get(&unique()).await.text(), "ok");
    assert_eq!(o.connections(), 2, "the connection with stray bytes was not reused");
}

#[tokio::test]
async fn a_unix_socket_backend_is_fetched_from_and_probed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = shellac_testkit::Scratch::new("uds-backend");
    let path = dir.path().join("app.sock");
    let listener = tokio::net::UnixListener::bind(&path).expect("bind");
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nCache-Control: no-store\r\n\r\nover uds";
                        if s.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    let vcl = format!(
        "vcl 4.1;\nprobe p {{ .url = \"/health\"; .interval = 100ms; .initial = 1; .window = 2; .threshold = 1; }}\n\
         backend app {{ .path = \"{}\"; .probe = p; }}\n",
        path.display()
    );
    let p = proxy(&vcl).await;
    let r = p.get(&unique()).await;
    assert_eq!((r.status, r.text().as_str()), (200, "over uds"));
    // The probe reaches it too: healthy within a few intervals (at most 5 s).
    let vcl = p.server.active().expect("a VCL");
    let backend = vcl.backends.iter().find(|b| b.name == "app").expect("the backend").clone();
    use shellac_engine::backend::probe::Flag;
    let unix_connects = || backend.probe.as_ref().map_or(0, |pr| pr.state().bits[Flag::Unix as usize]);
    for _ in 0..250 {
        if unix_connects() & 1 == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(unix_connects() & 1, 1, "the probe connected over the socket");
    assert!(backend.probe.as_ref().is_some_and(|pr| pr.is_healthy()), "and found it healthy");
    assert!(served.load(std::sync::atomic::Ordering::Relaxed) >= 2, "a fetch and a probe");
}
