//! Request bodies on their way to a backend (issue 19, spec §4.2): the first-byte timeout starts
//! once the whole request is sent, a client that stalls mid-body is cut by its own timeout
//! (`timeout_idle`), and a backend that refuses the body early is not waited for, while one that
//! answers early and goes on reading gets all of it.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Reads a response head (and whatever follows in the same reads) within `limit`.
async fn read_head(s: &mut (impl AsyncReadExt + Unpin), limit: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(limit, read).await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn r19_a_slow_upload_is_not_cut_by_first_byte_timeout() {
    let o = Origin::start("o").await;
    let vcl = vcl_for(&[&o], "");
    let p = proxy_with(&vcl, |p| {
        p.first_byte_timeout = 3.0;
        p.timeout_idle = 2.0;
    })
    .await;
    // 5 MB at 1 MB/s: five seconds of sending, longer than the first-byte timeout.
    const TOTAL: usize = 5 << 20;
    let mut s = TcpStream::connect(p.addr).await.expect("connect");
    s.write_all(format!("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {TOTAL}\r\n\r\n").as_bytes())
        .await
        .expect("head");
    let chunk = vec![b'u'; TOTAL / 10];
    for _ in 0..10 {
        s.write_all(&chunk).await.expect("body");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let head = read_head(&mut s, Duration::from_secs(10)).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let got = o.requests();
    assert_eq!(got.last().map(|r| r.body.len()), Some(TOTAL));
}

#[tokio::test]
async fn r19_a_client_that_stalls_mid_body_is_cut_by_its_own_timeout() {
    let o = Origin::start("o").await;
    let vcl = vcl_for(&[&o], "");
    let p = proxy_with(&vcl, |p| {
        p.first_byte_timeout = 30.0;
        p.timeout_idle = 1.0;
    })
    .await;
    let mut s = TcpStream::connect(p.addr).await.expect("connect");
    let start = Instant::now();
    s.write_all(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789").await.expect("write");
    // Then nothing: timeout_idle (1 s) ends it, as varnishd answers: 503 from the failed fetch.
    let head = read_head(&mut s, Duration::from_secs(10)).await;
    let took = start.elapsed();
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "{took:?}");
    // The backend never got a whole request.
    assert!(o.requests().iter().all(|r| r.body.len() == 1000) && o.requests().is_empty(), "{:?}", o.requests().len());
}

#[tokio::test]
async fn r19_a_backend_that_answers_before_the_body_is_sent_is_not_waited_for() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.early = true;
        b.status = 413;
        b.hold_open = Some(Duration::from_secs(30));
    });
    let vcl = vcl_for(&[&o], "");
    let p = proxy_with(&vcl, |p| p.first_byte_timeout = 30.0).await;
    let s = TcpStream::connect(p.addr).await.expect("connect");
    let (mut r, mut w) = s.into_split();
    let start = Instant::now();
    // 64 MB offered as fast as it goes: far more than the socket buffers hold.
    let writer = tokio::spawn(async move {
        const TOTAL: usize = 64 << 20;
        let _ =
            w.write_all(format!("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {TOTAL}\r\n\r\n").as_bytes()).await;
        let chunk = vec![b'u'; 1 << 20];
        for _ in 0..64 {
            if w.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let head = read_head(&mut r, Duration::from_secs(10)).await;
    let took = start.elapsed();
    writer.abort();
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
}

#[tokio::test]
async fn r19_a_backend_that_answers_early_and_goes_on_reading_gets_the_whole_body() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.early = true;
        b.early_reads = true;
    });
    let vcl = vcl_for(&[&o], "");
    let p = proxy_with(&vcl, |p| p.first_byte_timeout = 30.0).await;
    const TOTAL: usize = 8 << 20;
    let mut s = TcpStream::connect(p.addr).await.expect("connect");
    s.write_all(format!("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {TOTAL}\r\n\r\n").as_bytes())
        .await
        .expect("head");
    s.write_all(&vec![b'u'; TOTAL]).await.expect("body");
    let head = read_head(&mut s, Duration::from_secs(10)).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    // The 200 came first, and the backend still got every byte (as varnishd sends them all).
    assert!(eventually(Duration::from_secs(5), || o.requests().last().is_some_and(|r| r.body.len() == TOTAL)).await);
}
