//! The data path end to end: what reaches the backend, what the client gets back, HTTP/1
//! details and client-side limits.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn pass_through_adds_varnish_headers_and_filters_hop_by_hop() {
    let o = Origin::start("web1").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let r = p
        .request(
            "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\n\r\n",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "web1");
    assert_eq!(r.header("x-origin"), Some("web1"));
    assert_eq!(r.header("via"), Some("1.1 varnish (Varnish/7.1)"));
    assert_eq!(r.header("age"), Some("0"));
    let xid: u64 = r.header("x-varnish").expect("x-varnish").parse().expect("numeric xid");
    assert!(xid > 0);
    let req = &o.requests()[0];
    assert_eq!(req.line, "GET /a?b=1 HTTP/1.1");
    let h = |n: &str| req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
    assert_eq!(h("host"), Some("example.com"));
    assert_eq!(h("x-forwarded-for"), Some("10.0.0.1, 127.0.0.1"));
    assert!(h("x-drop").is_none() && h("keep-alive").is_none() && h("te").is_none());
    let bxid: u64 = h("x-varnish").expect("bereq x-varnish").parse().expect("numeric");
    assert_ne!(bxid, xid);
}

#[tokio::test]
async fn host_header_is_added_only_when_missing() {
    let o = Origin::start("b").await;
    let vcl = format!(
        "vcl 4.1;\nbackend b {{ .host = \"{}\"; .port = \"{}\"; .host_header = \"origin.example\"; }}\n",
        o.host(),
        o.port()
    );
    let p = proxy(&vcl).await;
    // HTTP/1.0 without Host: the builtin does not insist, the backend gets .host_header.
    let r = p.request("GET /x HTTP/1.0\r\n\r\n").await;
    assert_eq!(r.status, 200);
    let r = p.request("GET /y HTTP/1.1\r\nHost: client.example\r\n\r\n").await;
    assert_eq!(r.status, 200);
    let reqs = o.requests();
    let host = |i: usize| reqs[i].headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("host")).map(|(_, v)| v.clone());
    assert_eq!(host(0).as_deref(), Some("origin.example"));
    assert_eq!(host(1).as_deref(), Some("client.example"));
    // The backend request is always HTTP/1.1.
    assert_eq!(reqs[0].line, "GET /x HTTP/1.1");
}

#[tokio::test]
async fn http11_without_host_is_400_from_the_builtin() {
    let o = Origin::start("b").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let r = p.request("GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(r.status, 400);
    assert_eq!(o.hits(), 0);
}

#[tokio::test]
async fn connection_naming_a_protected_header_is_400() {
    let o = Origin::start("b").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let r = p.request("GET / HTTP/1.1\r\nHost: a\r\nConnection: Cookie\r\nCookie: x=1\r\n\r\n").await;
    assert_eq!(r.status, 400);
    assert_eq!(o.hits(), 0);
}

#[tokio::test]
async fn keep_alive_on_both_sides_reuses_the_backend_connection() {
    let o = Origin::start("b").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let mut c = Client::connect(p.addr).await;
    for i in 0..5 {
        let r = c.send(&format!("GET /{i} HTTP/1.1\r\nHost: a\r\n\r\n")).await;
        assert_eq!(r.status, 200, "request {i}");
        assert!(!r.closed);
    }
    assert_eq!(o.hits(), 5);
    assert_eq!(o.connections(), 1, "one backend connection, reused");
}

#[tokio::test]
async fn a_backend_that_closes_is_not_reused() {
    let o = Origin::start("b").await;
    o.set(|b| b.close = true);
    let p = proxy(&vcl_for(&[&o], "")).await;
    for _ in 0..3 {
        assert_eq!(p.get("/").await.status, 200);
    }
    assert_eq!(o.connections(), 3);
}

#[tokio::test]
async fn post_bodies_stream_to_the_backend_chunked_or_not() {
    let o = Origin::start("b").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let r = p.request("POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello").await;
    assert_eq!(r.status, 200);
    let r = p
        .request("POST /g HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        .await;
    assert_eq!(r.status, 200);
    let reqs = o.requests();
    assert_eq!(reqs[0].body, b"hello");
    assert_eq!(reqs[1].body, b"abcde");
}

#[tokio::test]
async fn expect_100_continue_gets_100_then_the_answer() {
    let o = Origin::start("b").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let mut c = Client::connect(p.addr).await;
    c.write(b"PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n").await;
    let first = c.read_one_raw_status().await;
    assert_eq!(first, 100);
    c.write(b"abc").await;
    let r = c.read_response(false).await;
    assert_eq!(r.status, 200);
    assert_eq!(o.requests()[0].body, b"abc");
}

#[tokio::test]
async fn head_keeps_the_backend_content_length() {
    let o = Origin::start("web").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let mut c = Client::connect(p.addr).await;
    let r = c.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("3"));
    // The connection is still usable: no body bytes were sent after the HEAD response.
    let r = c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(r.text(), "web");
}

#[tokio::test]
async fn http10_clients_are_served_and_closed() {
    let o = Origin::start("old").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let mut c = Client::connect(p.addr).await;
    let r = c.send("GET / HTTP/1.0\r\nHost: a\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "old");
    assert!(c.is_closed(Duration::from_secs(3)).await, "HTTP/1.0 without keep-alive is closed");
}

#[tokio::test]
async fn every_answer_says_whether_the_connection_goes_on_as_varnishd_does() {
    let o = Origin::start("o").await;
    let p = proxy(&vcl_for(
        &[&o],
        "sub vcl_recv { if (req.url == \"/synth\") { return (synth(404)); } }\n\
         sub vcl_deliver { if (req.http.x-conn) { set resp.http.Connection = req.http.x-conn; } }\n",
    ))
    .await;
    // (request line, request headers) -> the answer's Connection, and whether it closed.
    let cases = [
        ("GET / HTTP/1.1", "", "keep-alive", false),
        ("GET /synth HTTP/1.1", "", "keep-alive", false),
        ("GET / HTTP/1.1", "Connection: close\r\n", "close", true),
        ("GET / HTTP/1.1", "Connection: Keep-Alive, CLOSE\r\n", "close", true),
        ("GET / HTTP/1.0", "", "close", true),
        ("GET / HTTP/1.0", "Connection: keep-alive\r\n", "keep-alive", false),
        // The answer's own: kept while the connection goes on, `close` closes it, and a
        // closing connection says `close` in its place.
        ("GET / HTTP/1.1", "X-Conn: x-mine\r\n", "x-mine", false),
        ("GET / HTTP/1.1", "X-Conn: close\r\n", "close", true),
        ("GET / HTTP/1.1", "X-Conn: x-mine\r\nConnection: close\r\n", "close", true),
    ];
    for (line, headers, want, closes) in cases {
        let mut c = Client::connect(p.addr).await;
        let r = c.send(&format!("{line}\r\nHost: a\r\n{headers}\r\n")).await;
        assert_eq!(r.headers_named("connection"), [want], "{line} {headers:?}");
        assert_eq!(
            c.is_closed(Duration::from_millis(if closes { 3000 } else { 200 })).await,
            closes,
            "{line} {headers:?}"
        );
    }
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_400_and_431() {
    let o = Origin::start("b").await;
    let p = proxy_with(&vcl_for(&[&o], ""), |p| p.http_req_size = 32768).await;
    assert_eq!(p.request("GARBAGE\r\n\r\n").await.status, 400);
    assert_eq!(p.request("GET / HTTP/1.1\r\nHost a\r\n\r\n").await.status, 400);
    let big = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n", "x".repeat(40_000));
    assert_eq!(p.request(&big).await.status, 431);
    let long_line = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Long: {}\r\n\r\n", "y".repeat(8200));
    assert_eq!(p.request(&long_line).await.status, 431, "one line over http_req_hdr_len");
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(p.request(&format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n")).await.status, 431);
    assert_eq!(o.hits(), 0);
}

#[tokio::test]
async fn request_bodies_over_the_limit_get_413() {
    let o = Origin::start("b").await;
    let p = proxy_with(&vcl_for(&[&o], ""), |p| p.req_body_max = 10).await;
    let r = p.request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890").await;
    assert_eq!(r.status, 413);
    assert_eq!(o.hits(), 0);
}

#[tokio::test]
async fn idle_and_slow_clients_are_cut_after_timeout_idle() {
    let o = Origin::start("b").await;
    let p = proxy_with(&vcl_for(&[&o], ""), |p| p.timeout_idle = 0.3).await;
    // Idle keep-alive connection.
    let mut c = Client::connect(p.addr).await;
    assert_eq!(c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n").await.status, 200);
    assert!(c.is_closed(Duration::from_secs(3)).await, "idle connection closed");
    // Slowloris: a head that never completes.
    let mut s = Client::connect(p.addr).await;
    s.write(b"GET / HTTP/1.1\r\nHost: a\r\n").await;
    assert!(s.is_closed(Duration::from_secs(3)).await, "slow head cut off");
}

#[tokio::test]
async fn timeout_idle_counts_from_each_request_not_the_first() {
    // The head timer of a connection is re-armed lazily: requests spaced under timeout_idle,
    // over several times timeout_idle in all, must all be served on the one connection.
    let o = Origin::start("b").await;
    let p = proxy_with(&vcl_for(&[&o], ""), |p| p.timeout_idle = 0.3).await;
    let mut c = Client::connect(p.addr).await;
    for i in 0..6 {
        let r = c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert_eq!((r.status, r.closed), (200, false), "request {i}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(o.connections(), 1);
    assert!(c.is_closed(Duration::from_secs(3)).await, "then closed once idle");
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let o = Origin::start("slow").await;
    o.set(|b| b.head_delay = Duration::from_millis(400));
    let p = proxy(&vcl_for(&[&o], "")).await;
    let addr = p.addr;
    let inflight = tokio::spawn(async move { get(addr, "/").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    p.shutdown().await;
    let r = inflight.await.expect("join");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "slow");
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn unknown_methods_are_piped_with_connection_close() {
    let o = Origin::start("piped").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let mut c = Client::connect(p.addr).await;
    let r = c.send("FROB /x HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "piped");
    assert!(c.is_closed(Duration::from_secs(3)).await, "a piped connection ends with the exchange");
    let req = &o.requests()[0];
    assert_eq!(req.line, "FROB /x HTTP/1.1");
    assert!(req.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("connection") && v == "close"));
}

#[tokio::test]
async fn idle_backend_connections_are_closed_after_backend_idle_timeout() {
    let o = Origin::start("b").await;
    let p = proxy_with(&vcl_for(&[&o], ""), |params| params.backend_idle_timeout = 1.0).await;
    assert_eq!(p.get("/").await.status, 200);
    assert_eq!(o.open_connections(), 1, "kept open for reuse");
    // The sweeper runs every second: closed within timeout + one sweep.
    assert!(eventually(Duration::from_secs(5), || o.open_connections() == 0).await, "still open");
    assert_eq!(p.get("/").await.status, 200, "a new connection afterwards");
    assert_eq!(o.connections(), 2);
}

#[tokio::test]
async fn an_idle_connection_the_backend_closed_is_closed_on_our_side_too() {
    let o = Origin::start("b").await;
    o.set(|b| {
        b.drop_after = true;
        b.hold_open = Some(Duration::from_millis(300));
    });
    let p = proxy(&vcl_for(&[&o], "")).await;
    assert_eq!(p.get("/").await.status, 200);
    let pool = p.server.registry.pool(shellac_engine::backend::address::Address::Ip(o.addr));
    assert_eq!(pool.idle_count(), 1, "answered with keep-alive, so pooled");
    // The origin closes it 300 ms later. It must not sit in CLOSE_WAIT until the next request
    // (idle timeout 60 s).
    assert!(eventually(Duration::from_secs(5), || pool.idle_count() == 0).await, "the closed connection stays pooled");
}
