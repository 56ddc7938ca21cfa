//! What the client sees when backends fail (spec §4.2): refused, reset, slow first byte,
//! stalled body, busy; and the timeout precedence bereq → backend → parameter.

mod common;

use std::time::Duration;

use common::*;
use tokio::time::Instant;

#[tokio::test]
async fn refused_connections_are_a_fast_503() {
    let o = Origin::start("gone").await;
    o.refuse();
    let p = proxy(&vcl_for(&[&o], "")).await;
    let t = Instant::now();
    let r = p.get("/").await;
    assert_eq!((r.status, r.reason.as_str()), (503, "Backend fetch failed"));
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_reset_before_the_answer_is_503() {
    let o = Origin::start("rst").await;
    o.set(|b| b.reset = true);
    let p = proxy(&vcl_for(&[&o], "")).await;
    assert_eq!(p.get("/").await.status, 503);
}

#[tokio::test]
async fn first_byte_timeout_gives_503_after_the_timeout() {
    let o = Origin::start("slow").await;
    o.set(|b| b.head_delay = Duration::from_millis(1500));
    let vcl = format!(
        "vcl 4.1;\nbackend slow {{ .host = \"{}\"; .port = \"{}\"; .first_byte_timeout = 300ms; }}\n",
        o.host(),
        o.port()
    );
    let p = proxy(&vcl).await;
    let t = Instant::now();
    let r = p.get("/").await;
    let took = t.elapsed();
    assert_eq!(r.status, 503);
    assert!(took >= Duration::from_millis(290) && took < Duration::from_millis(1400), "{took:?}");
}

#[tokio::test]
async fn first_byte_timeout_counts_from_each_request_on_a_reused_connection() {
    // The first-byte timer of a backend connection is re-armed lazily: each request on the
    // kept-alive connection gets its own full timeout, shorter or longer than the last.
    let o = Origin::start("slowish").await;
    o.set(|b| b.head_delay = Duration::from_millis(200));
    let vcl = format!(
        "vcl 4.1;\nbackend b {{ .host = \"{}\"; .port = \"{}\"; .first_byte_timeout = 350ms; }}\n\
         sub vcl_backend_fetch {{ if (bereq.url == \"/short\") {{ set bereq.first_byte_timeout = 100ms; }} }}\n",
        o.host(),
        o.port()
    );
    let p = proxy(&vcl).await;
    for i in 0..4 {
        assert_eq!(p.get(&format!("/{i}")).await.status, 200, "request {i}");
    }
    assert_eq!(o.connections(), 1, "all on one backend connection");
    let t = Instant::now();
    assert_eq!(p.get("/short").await.status, 503, "a shorter timeout on the same connection");
    // 100 ms on the reused connection, then once more on a fresh one (spec §4.4); never the
    // connection's earlier 350 ms.
    assert!(t.elapsed() < Duration::from_millis(340), "{:?}", t.elapsed());
}

#[tokio::test]
async fn timeout_precedence_is_bereq_then_backend_then_parameter() {
    let o = Origin::start("slow").await;
    o.set(|b| b.head_delay = Duration::from_millis(600));
    // Parameter 200 ms, backend 5 s, bereq 100 ms for /short and unset (0) otherwise.
    let vcl = format!(
        "vcl 4.1;\nbackend slow {{ .host = \"{}\"; .port = \"{}\"; .first_byte_timeout = 5s; }}\n\
         sub vcl_backend_fetch {{ if (bereq.url == \"/short\") {{ set bereq.first_byte_timeout = 100ms; }} }}\n",
        o.host(),
        o.port()
    );
    let p = proxy_with(&vcl, |p| p.first_byte_timeout = 0.2).await;
    assert_eq!(p.get("/short").await.status, 503, "bereq.first_byte_timeout wins");
    assert_eq!(p.get("/long").await.status, 200, "the backend's 5 s beats the 200 ms parameter");
    let vcl = format!("vcl 4.1;\nbackend slow {{ .host = \"{}\"; .port = \"{}\"; }}\n", o.host(), o.port());
    let p = proxy_with(&vcl, |p| p.first_byte_timeout = 0.2).await;
    assert_eq!(p.get("/param").await.status, 503, "the parameter applies when nothing else is set");
}

#[tokio::test]
async fn a_stalled_body_truncates_the_response_and_closes_the_connection() {
    let o = Origin::start("stall-body-origin").await;
    o.set(|b| b.stall_body = Some(Duration::from_secs(3)));
    let vcl = format!(
        "vcl 4.1;\nbackend b {{ .host = \"{}\"; .port = \"{}\"; .between_bytes_timeout = 200ms; }}\n",
        o.host(),
        o.port()
    );
    let p = proxy(&vcl).await;
    let t = Instant::now();
    let r = p.get("/").await;
    assert_eq!(r.status, 200, "headers were already sent");
    assert!(r.truncated, "body cut short: {:?}", r.text());
    assert!(r.closed);
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_stalled_body_without_streaming_is_503() {
    let o = Origin::start("stall-body-origin").await;
    o.set(|b| b.stall_body = Some(Duration::from_secs(3)));
    let vcl = format!(
        "vcl 4.1;\nbackend b {{ .host = \"{}\"; .port = \"{}\"; .between_bytes_timeout = 200ms; }}\n\
         sub vcl_backend_response {{ set beresp.do_stream = false; }}\n",
        o.host(),
        o.port()
    );
    let p = proxy(&vcl).await;
    let r = p.get("/").await;
    assert_eq!((r.status, r.reason.as_str()), (503, "Backend fetch failed"));
}

#[tokio::test]
async fn max_connections_fails_fast_with_503() {
    let o = Origin::start("one").await;
    o.set(|b| b.head_delay = Duration::from_millis(500));
    let vcl = format!(
        "vcl 4.1;\nbackend one {{ .host = \"{}\"; .port = \"{}\"; .max_connections = 1; }}\n",
        o.host(),
        o.port()
    );
    let p = proxy(&vcl).await;
    let addr = p.addr;
    let first = tokio::spawn(async move { get(addr, "/1").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let second = p.get("/2").await;
    assert_eq!(second.status, 503);
    assert!(t.elapsed() < Duration::from_millis(300), "no queueing");
    assert_eq!(first.await.expect("join").status, 200);
    assert_eq!(p.backend("one").busy(), 0, "slot released after the body");
    assert_eq!(p.get("/3").await.status, 200);
}

#[tokio::test]
async fn a_backend_closing_idle_connections_silently_costs_no_request() {
    // The origin answers with a length and then closes without saying so; the pool must not
    // hand that connection out again (or must retry once on a fresh one).
    let o = Origin::start("closer").await;
    o.set(|b| b.drop_after = true);
    let p = proxy(&vcl_for(&[&o], "")).await;
    for i in 0..10 {
        let r = p.get(&format!("/{i}")).await;
        assert_eq!(r.status, 200, "request {i}");
    }
    assert_eq!(o.hits(), 10);
}

#[tokio::test]
async fn a_backend_none_is_503() {
    let p = proxy("vcl 4.1;\nbackend default none;\n").await;
    let r = p.get("/").await;
    assert_eq!((r.status, r.reason.as_str()), (503, "Backend fetch failed"));
}

#[tokio::test]
async fn connect_timeout_gives_503_after_the_timeout() {
    // A listener that never accepts, its queue filled: further SYNs go unanswered, so a
    // connect hangs as it would to a black-holed address (loopback only).
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(100), tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    let vcl = format!(
        "vcl 4.1;\nbackend hole {{ .host = \"127.0.0.1\"; .port = \"{}\"; .connect_timeout = 300ms; }}\n",
        addr.port()
    );
    let p = proxy(&vcl).await;
    let t = Instant::now();
    let r = p.get("/").await;
    let took = t.elapsed();
    assert_eq!((r.status, r.reason.as_str()), (503, "Backend fetch failed"));
    assert!(took >= Duration::from_millis(290) && took < Duration::from_secs(2), "{took:?}");
    drop(listener);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_after_send_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let o = Origin::start("big").await;
    let body = "x".repeat(32 << 20);
    o.set(|b| b.body = body);
    let p = proxy_with(&vcl_for(&[&o], ""), |p| p.send_timeout = 0.3).await;
    let mut s = tokio::net::TcpStream::connect(p.addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await.expect("write");
    // Read nothing while the proxy's buffers fill and its writes stall.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => total += n,
            Err(_) => break false,
        }
    };
    assert!(closed, "the connection was closed");
    assert!(total < 32 << 20, "the body was cut short ({total} bytes)");
}
