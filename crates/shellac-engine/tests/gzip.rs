//! gzip end to end (issue 20 point 7), as varnishd 7.1.1 does it with `http_gzip_support`: one
//! stored copy, gzip or not, unpacked for clients that do not take gzip; `beresp.do_gzip` and
//! `beresp.do_gunzip`; `Vary: Accept-Encoding` and weakened `ETag`s; broken gzip fails the
//! fetch.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;

const PLAIN: &str = "hello gzip world, hello gzip world, hello gzip world, hello gzip world";

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(data).read_to_string(&mut out).expect("valid gzip");
    out
}

/// An origin that answers `body` with these headers, cacheable for a minute, with an ETag.
async fn origin(body: Vec<u8>, headers: &[&str]) -> Origin {
    let o = Origin::start("o").await;
    let mut h: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
    h.push("Cache-Control: max-age=60".into());
    o.set(|b| {
        b.bytes = Some(body);
        b.headers = h;
        b.etag = Some("\"abc\"".into());
    });
    o
}

fn fetches(o: &Origin) -> Vec<shellac_testkit::origin::Recorded> {
    o.requests().into_iter().filter(|r| !r.line.starts_with("GET /probe")).collect()
}

fn sent(r: &shellac_testkit::origin::Recorded, name: &str) -> Option<String> {
    r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
}

async fn with_ae(p: &Proxy, method: &str, url: &str, ae: Option<&str>) -> Response {
    let ae = ae.map(|v| format!("Accept-Encoding: {v}\r\n")).unwrap_or_default();
    p.request(&format!("{method} {url} HTTP/1.1\r\nHost: x\r\n{ae}\r\n")).await
}

#[tokio::test]
async fn a_gzip_object_is_stored_once_and_unpacked_for_clients_that_do_not_take_gzip() {
    let packed = gz(PLAIN.as_bytes());
    let o = origin(packed.clone(), &["Content-Encoding: gzip"]).await;
    let p = proxy(&vcl_for(&[&o], "sub vcl_deliver { set resp.http.x-can = req.can_gzip; }\n")).await;

    // The first client takes no gzip; the backend is asked for gzip all the same.
    let plain = with_ae(&p, "GET", "/a", None).await;
    assert_eq!((plain.status, plain.text().as_str()), (200, PLAIN));
    assert_eq!(sent(&fetches(&o)[0], "accept-encoding").as_deref(), Some("gzip"));
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!((plain.header("etag"), plain.header("vary")), (Some("W/\"abc\""), Some("Accept-Encoding")));
    assert_eq!(plain.header("x-can"), Some("false"));

    let zipped = with_ae(&p, "GET", "/a", Some("br, gzip")).await;
    assert_eq!(zipped.body, packed, "the stored bytes as they came");
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("content-length"), Some(packed.len().to_string().as_str()));
    assert_eq!((zipped.header("etag"), zipped.header("x-can")), (Some("\"abc\""), Some("true")));

    // A hit, complete: the length unpacked is known. HEAD says it too.
    let again = with_ae(&p, "GET", "/a", Some("gzip;q=0")).await;
    assert_eq!(again.text(), PLAIN);
    assert_eq!(again.header("content-length"), Some(PLAIN.len().to_string().as_str()));
    let head = with_ae(&p, "HEAD", "/a", None).await;
    assert_eq!(head.header("content-length"), Some(PLAIN.len().to_string().as_str()));
    assert_eq!(with_ae(&p, "GET", "/a", Some("x-gzip")).await.body, packed);
    assert_eq!(fetches(&o).len(), 1, "one stored copy serves both kinds of client");

    // A conditional request compares with the weakened ETag as Varnish does.
    let r = p.request("GET /a HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"abc\"\r\n\r\n").await;
    assert_eq!((r.status, r.header("etag"), r.body.len()), (304, Some("W/\"abc\""), 0));
}

#[tokio::test]
async fn do_gzip_packs_a_plain_body_once() {
    let o = origin(PLAIN.as_bytes().to_vec(), &[]).await;
    let p = proxy(&vcl_for(&[&o], "sub vcl_backend_response { set beresp.do_gzip = true; }\n")).await;
    let zipped = with_ae(&p, "GET", "/z", Some("gzip")).await;
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&zipped.body), PLAIN);
    assert_eq!((zipped.header("etag"), zipped.header("vary")), (Some("W/\"abc\""), Some("Accept-Encoding")));
    let plain = with_ae(&p, "GET", "/z", None).await;
    assert_eq!((plain.text().as_str(), plain.header("content-encoding")), (PLAIN, None));
    assert_eq!(plain.header("content-length"), Some(PLAIN.len().to_string().as_str()));
    let hit = with_ae(&p, "GET", "/z", Some("gzip")).await;
    assert_eq!(hit.header("content-length"), Some(hit.body.len().to_string().as_str()));
    assert_eq!(fetches(&o).len(), 1);
}

#[tokio::test]
async fn gzip_level_sets_how_hard_do_gzip_packs() {
    let text = "a body that packs well. ".repeat(200);
    let o = origin(text.clone().into_bytes(), &[]).await;
    let vcl = vcl_for(&[&o], "sub vcl_backend_response { set beresp.do_gzip = true; }\n");
    let mut sizes = Vec::new();
    for level in ["0", "9"] {
        let p = proxy_with(&vcl, |p| p.set("gzip_level", level).unwrap()).await;
        let r = with_ae(&p, "GET", "/lvl", Some("gzip")).await;
        assert_eq!((r.header("content-encoding"), gunzip(&r.body)), (Some("gzip"), text.clone()), "level {level}");
        sizes.push(r.body.len());
    }
    // Level 0 stores the body as it is (in gzip's framing); level 9 packs it.
    assert!(sizes[0] > text.len() && sizes[1] < text.len() / 10, "{sizes:?} for {}", text.len());
}

#[tokio::test]
async fn do_gunzip_stores_the_body_plain() {
    let o = origin(gz(PLAIN.as_bytes()), &["Content-Encoding: gzip"]).await;
    let p = proxy(&vcl_for(&[&o], "sub vcl_backend_response { set beresp.do_gunzip = true; }\n")).await;
    for ae in [Some("gzip"), None] {
        let r = with_ae(&p, "GET", "/u", ae).await;
        assert_eq!((r.status, r.text().as_str()), (200, PLAIN), "{ae:?}");
        assert_eq!((r.header("content-encoding"), r.header("vary")), (None, None));
        assert_eq!(r.header("etag"), Some("W/\"abc\""));
    }
    assert_eq!(fetches(&o).len(), 1);
}

#[tokio::test]
async fn another_encoding_and_an_empty_body_are_left_alone() {
    let o = origin(b"not touched".to_vec(), &["Content-Encoding: br"]).await;
    let p = proxy(&vcl_for(&[&o], "sub vcl_backend_response { set beresp.do_gzip = true; }\n")).await;
    let r = with_ae(&p, "GET", "/br", None).await;
    assert_eq!((r.text().as_str(), r.header("content-encoding"), r.header("vary")), ("not touched", Some("br"), None));
    o.set(|b| {
        b.bytes = Some(Vec::new());
        b.headers = vec!["Content-Encoding: gzip".into(), "Cache-Control: max-age=60".into()];
    });
    let r = with_ae(&p, "GET", "/empty", Some("gzip")).await;
    assert_eq!((r.status, r.body.len(), r.header("content-encoding")), (200, 0, None));
}

#[tokio::test]
async fn broken_gzip_fails_the_fetch_and_nothing_is_kept() {
    let o = origin(b"\x1f\x8bthis is not gzip at all".to_vec(), &["Content-Encoding: gzip"]).await;
    let p = proxy(&vcl_for(
        &[&o],
        "sub vcl_backend_response { if (bereq.url == \"/buffered\") { set beresp.do_stream = false; } }\n",
    ))
    .await;
    // Buffered: the fetch fails before delivery, a 503.
    assert_eq!(with_ae(&p, "GET", "/buffered", Some("gzip")).await.status, 503);
    // Streamed: the client's body breaks off (or its connection closes before the head was
    // sent); either way no whole 200, and nothing stays in the cache.
    let r = with_ae(&p, "GET", "/streamed", None).await;
    assert!(r.status != 200 || r.truncated, "{} truncated={}", r.status, r.truncated);
    let before = fetches(&o).len();
    with_ae(&p, "GET", "/streamed", Some("gzip")).await;
    assert_eq!(fetches(&o).len(), before + 1, "refetched: the broken object was not kept");
}

#[tokio::test]
async fn a_pass_is_unpacked_too_and_its_request_keeps_the_clients_accept_encoding() {
    let o = origin(gz(PLAIN.as_bytes()), &["Content-Encoding: gzip"]).await;
    let p = proxy(&vcl_for(&[&o], "sub vcl_recv { return (pass); }\n")).await;
    let r = with_ae(&p, "GET", "/p", Some("deflate")).await;
    assert_eq!((r.text().as_str(), r.header("content-encoding")), (PLAIN, None));
    assert_eq!(r.header("content-length"), None, "a streamed pass is sent chunked");
    assert_eq!(sent(&fetches(&o)[0], "accept-encoding").as_deref(), Some("deflate"));
    let r = with_ae(&p, "GET", "/p", Some("gzip, br")).await;
    assert_eq!(gunzip(&r.body), PLAIN);
    assert_eq!(sent(&fetches(&o)[1], "accept-encoding").as_deref(), Some("gzip, br"));
}

#[tokio::test]
async fn a_streaming_miss_is_unpacked_as_it_arrives_for_every_reader() {
    let packed = gz(PLAIN.repeat(200).as_bytes());
    let o = origin(packed.clone(), &["Content-Encoding: gzip"]).await;
    o.set(|b| b.pause_body = Some(Duration::from_millis(300)));
    let p = proxy(&vcl_for(&[&o], "")).await;
    let (a, b) = (p.addr, p.addr);
    let plain = tokio::spawn(async move { request(a, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let zipped =
        tokio::spawn(async move { request(b, "GET /s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n").await });
    let (plain, zipped) = (plain.await.expect("client"), zipped.await.expect("client"));
    assert_eq!(plain.text(), PLAIN.repeat(200));
    assert_eq!(plain.header("transfer-encoding"), Some("chunked"), "the length was not known yet");
    assert_eq!(zipped.body, packed);
    assert_eq!(fetches(&o).len(), 1);
}

#[tokio::test]
async fn without_gzip_support_nothing_is_normalised_or_unpacked() {
    let packed = gz(PLAIN.as_bytes());
    let o = origin(packed.clone(), &["Content-Encoding: gzip"]).await;
    let p = proxy_with(&vcl_for(&[&o], "sub vcl_backend_response { set beresp.do_gunzip = true; }\n"), |p| {
        p.http_gzip_support = false
    })
    .await;
    let r = with_ae(&p, "GET", "/n", Some("deflate")).await;
    assert_eq!((r.body.clone(), r.header("content-encoding")), (packed, Some("gzip")));
    assert_eq!(sent(&fetches(&o)[0], "accept-encoding").as_deref(), Some("deflate"));
}
