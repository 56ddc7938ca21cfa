//! HTTP/1.1 request forms on a raw socket (RFC 9112, issue 19): one row per form, with the status
//! Shellac answers and whether the connection stays open. Where varnishd 7.1 answers otherwise,
//! the row says so; Shellac takes the safe side (README, "Where Shellac behaves otherwise").

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One request form: what is sent, the status expected (0: closed without an answer), and
/// whether the connection then still serves a request.
struct Row {
    form: &'static str,
    raw: String,
    status: u16,
    open: bool,
}

fn row(form: &'static str, raw: impl Into<String>, status: u16, open: bool) -> Row {
    Row { form, raw: raw.into(), status, open }
}

fn table() -> Vec<Row> {
    let big = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(40_000));
    let many: String = (0..100).map(|i| format!("X-{i}: a\r\n")).collect();
    vec![
        row("plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, true),
        row("HTTP/1.0 without keep-alive", "GET / HTTP/1.0\r\n\r\n", 200, false),
        row("bare LF line ends", "GET / HTTP/1.1\nHost: x\n\n", 200, true),
        row("HTTP/1.1 without Host (builtin VCL)", "GET / HTTP/1.1\r\n\r\n", 400, true),
        row("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, false),
        row("absolute-form target", "GET http://abs.example.com/p HTTP/1.1\r\nHost: other\r\n\r\n", 200, true),
        // varnishd: 400. The chunked framing wins and the connection closes after (RFC 9112 §6.3).
        row(
            "Content-Length beside chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            200,
            false,
        ),
        row(
            "two different Content-Lengths",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            400,
            false,
        ),
        // varnishd: 400. Identical values are one value (RFC 9110 §8.6).
        row(
            "the same Content-Length twice",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            200,
            true,
        ),
        row("negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, false),
        row(
            "Transfer-Encoding: identity, chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            400,
            false,
        ),
        row(
            "Transfer-Encoding: gzip, chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            400,
            false,
        ),
        // varnishd: 200.
        row(
            "Transfer-Encoding: chunked twice",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            400,
            false,
        ),
        row(
            "Transfer-Encoding: Chunked (any case)",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            200,
            true,
        ),
        // As varnishd: the body breaks while the fetch sends it.
        row(
            "a bad chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
            503,
            false,
        ),
        // varnishd: 200 (it unfolds). RFC 9112 §5.2 allows rejecting.
        row("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, false),
        row("a control byte in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{1}b\r\n\r\n", 400, false),
        row("a space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, false),
        row("a NUL in the target", "GET /a\u{0}b HTTP/1.1\r\nHost: x\r\n\r\n", 400, false),
        row("a head over http_req_size", big, 431, false),
        row("more headers than http_max_hdr", format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n"), 431, false),
        row("a garbage request line", "GARBAGE\r\n\r\n", 400, false),
        row("an HTTP/0.9 request line", "GET /\r\n\r\n", 400, false),
        row("HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 400, false),
        row("Expect other than 100-continue", "POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 3\r\n\r\nabc", 417, false),
        row(
            "Expect: 100-continue",
            "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
            200,
            true,
        ),
        // Closed without an answer (an HTTP/2 client reads no HTTP/1 text); the close is logged.
        row("the HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, false),
    ]
}

#[tokio::test]
async fn r19_every_request_form_gets_its_status_and_connection_fate() {
    let o = Origin::start("o").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let mut failures = Vec::new();
    for r in table() {
        let mut c = Client::connect(p.addr).await;
        let got = c.send(&r.raw).await;
        // Open: the connection serves another request; closed: it ends.
        let open = if got.closed {
            false
        } else {
            let next = c.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n").await;
            next.status == 200 && !c.is_closed(Duration::from_millis(10)).await
        };
        if (got.status, open) != (r.status, r.open) {
            failures.push(format!("{}: expected {} {}, got {} {}", r.form, r.status, r.open, got.status, open));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // What the backend saw of the absolute-form target and the expectation.
    let seen = o.requests();
    let abs = seen.iter().find(|r| r.line == "GET /p HTTP/1.1").expect("the absolute-form request");
    let host: Vec<&str> =
        abs.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("host")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(host, ["abs.example.com"]);
    assert!(seen.iter().all(|r| !r.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("expect"))));
}

#[tokio::test]
async fn r19_connect_is_piped_and_a_2xx_answer_becomes_a_tunnel() {
    let o = Origin::start("o").await;
    // The backend accepts the CONNECT and then echoes nothing: the tunnel is what follows its
    // head. The builtin VCL pipes methods it does not know.
    o.set(|b| {
        b.raw = Some("HTTP/1.1 200 Connection established\r\nContent-Length: 0\r\n\r\ntunnel-bytes".into());
        b.hold_open = Some(Duration::from_secs(2));
    });
    let p = proxy(&vcl_for(&[&o], "")).await;
    let mut s = tokio::net::TcpStream::connect(p.addr).await.expect("connect");
    s.write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").await.expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !got.windows(12).any(|w| w == b"tunnel-bytes") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 Connection established\r\n"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("content-length"), "a tunnel has no length: {text}");
    assert!(text.ends_with("tunnel-bytes"), "the backend's bytes come through the tunnel: {text}");
    assert!(o.requests().iter().any(|r| r.line == "CONNECT example.com:443 HTTP/1.1"));
}
