//! A `-a ADDR,PROXY` listener: the client and server a PROXY header (version 1 or 2) names
//! become `client.ip` and `server.ip` (and `X-Forwarded-For`), `remote.ip` and `local.ip` stay
//! the connection's; `LOCAL` keeps the connection's own; a connection without a header is
//! closed unanswered; a header in pieces, and several requests after one header, work.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const VCL: &str = r#"vcl 4.1;
backend default none;
sub vcl_recv { return (synth(200)); }
sub vcl_synth {
    set resp.http.client = client.ip;
    set resp.http.server = server.ip;
    set resp.http.remote = remote.ip;
    set resp.http.local = local.ip;
    set resp.http.xff = req.http.X-Forwarded-For;
}
"#;

/// Sends `pieces` (a pause between them) and reads until the server closes (or 5 s).
async fn exchange(p: &Proxy, pieces: &[&[u8]]) -> String {
    let mut s = TcpStream::connect(p.addr).await.expect("connect");
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        s.write_all(piece).await.expect("write");
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

fn v2(cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x20 | cmd, family]);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(body);
    h
}

#[tokio::test]
async fn the_proxy_header_names_the_client_and_the_server() {
    let p = proxy_protocol(VCL).await;
    // Version 1, the request in the same write.
    let r = exchange(&p, &[&[&b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"[..], GET].concat()]).await;
    assert!(r.starts_with("http/1.1 200"), "{r}");
    for line in [
        "client: 192.0.2.1\r\n",
        "server: 198.51.100.2\r\n",
        "remote: 127.0.0.1\r\n",
        "local: 127.0.0.1\r\n",
        "xff: 192.0.2.1\r\n",
    ] {
        assert!(r.contains(line), "{line:?} in {r}");
    }
    // Version 2 over IPv6, the header in two pieces and the request after.
    let mut six = [0u8; 36];
    six[15] = 0x10;
    six[31] = 0x20;
    six[32..34].copy_from_slice(&40000u16.to_be_bytes());
    six[34..36].copy_from_slice(&443u16.to_be_bytes());
    let h = v2(1, 0x21, &six);
    let r = exchange(&p, &[&h[..10], &h[10..], GET]).await;
    assert!(
        r.contains("client: ::10\r\n") && r.contains("server: ::20\r\n") && r.contains("remote: 127.0.0.1\r\n"),
        "{r}"
    );
    // LOCAL (a balancer's health check): the connection's own addresses.
    let r = exchange(&p, &[&[&v2(0, 0x00, &[])[..], GET].concat()]).await;
    assert!(r.starts_with("http/1.1 200") && r.contains("client: 127.0.0.1\r\n"), "{r}");
    // Version 1 UNKNOWN: the same.
    let r = exchange(&p, &[&[&b"PROXY UNKNOWN\r\n"[..], GET].concat()]).await;
    assert!(r.contains("client: 127.0.0.1\r\n"), "{r}");
}

#[tokio::test]
async fn a_connection_without_a_header_is_closed_unanswered() {
    let p = proxy_protocol(VCL).await;
    assert_eq!(exchange(&p, &[GET]).await, "", "no answer to a request without a header");
    assert_eq!(exchange(&p, &[b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", GET]).await, "", "a bad port");
    assert_eq!(p.server.registry.stats.get(shellac_engine::stats::Main::SessClosedErr), 2);
    // The listener still serves.
    let r = exchange(&p, &[&[&b"PROXY TCP4 192.0.2.9 198.51.100.2 1 443\r\n"[..], GET].concat()]).await;
    assert!(r.contains("client: 192.0.2.9\r\n"), "{r}");
}

#[tokio::test]
async fn requests_after_one_header_all_come_from_its_client() {
    let p = proxy_protocol(VCL).await;
    let keep = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let r = exchange(&p, &[&[&b"PROXY TCP4 192.0.2.7 198.51.100.2 5000 80\r\n"[..], keep, GET].concat()]).await;
    assert_eq!(r.matches("http/1.1 200").count(), 2, "{r}");
    assert_eq!(r.matches("client: 192.0.2.7\r\n").count(), 2, "{r}");
}
