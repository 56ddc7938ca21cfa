//! Range requests, as varnishd 7.1.1 answered the same ones (`http_range_support`): a single
//! `bytes=` range of a 200 gives 206 with `Content-Range` from the cache and through a pass,
//! anything else in `Range` gives 416, an `If-Range` that does not hold gives the whole body,
//! `Accept-Ranges: bytes` marks cached answers only, and `resp.filters` without `range` turns
//! it off.

mod common;

use common::*;

/// 240 bytes, as the varnishd runs had.
fn body() -> String {
    "hello world ".repeat(20)
}

async fn origin() -> Origin {
    let o = Origin::start("b").await;
    o.set(|b| {
        b.body = body();
        b.headers = vec!["Cache-Control: max-age=60".into()];
        b.etag = Some("\"v1\"".into());
    });
    o
}

async fn ranged(p: &Proxy, url: &str, range: &str, extra: &str) -> Response {
    p.request(&format!("GET {url} HTTP/1.1\r\nHost: a\r\nRange: {range}\r\n{extra}\r\n")).await
}

#[tokio::test]
async fn one_byte_range_is_cut_from_the_cache_and_anything_else_is_416() {
    let o = origin().await;
    let p = proxy(&vcl_for(&[&o], "sub vcl_deliver { set resp.http.filters = \"[\" + resp.filters + \"]\"; }\n")).await;
    let whole = p.request("GET /r HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let b = body();
    // (range, status, Content-Range, the bytes)
    let rows: &[(&str, u16, &str, &str)] = &[
        ("bytes=0-9", 206, "bytes 0-9/240", &b[0..10]),
        ("bytes=10-", 206, "bytes 10-239/240", &b[10..]),
        ("bytes=-5", 206, "bytes 235-239/240", &b[235..]),
        ("bytes=235-300", 206, "bytes 235-239/240", &b[235..]),
        ("bytes=-300", 206, "bytes 0-239/240", &b),
        ("bytes=240-", 416, "bytes */240", ""),
        ("bytes=5-2", 416, "bytes */240", ""),
        ("bytes=0-1,3-4", 416, "bytes */240", ""),
        ("items=0-1", 416, "bytes */240", ""),
        ("bytes=-0", 416, "bytes */240", ""),
    ];
    for (range, status, cr, bytes) in rows {
        let r = ranged(&p, "/r", range, "").await;
        assert_eq!(r.status, *status, "{range}");
        assert_eq!(r.header("content-range"), Some(*cr), "{range}");
        assert_eq!(r.header("content-length"), Some(bytes.len().to_string().as_str()), "{range}");
        assert_eq!(r.text(), *bytes, "{range}");
        assert_eq!(r.header("filters"), Some("[ range]"), "{range}");
    }
    assert_eq!(o.hits(), 1, "all from the one stored object");
}

#[tokio::test]
async fn if_range_pass_head_and_resp_filters_decide_as_varnishd_does() {
    let o = origin().await;
    let vcl = vcl_for(
        &[&o],
        "sub vcl_recv { if (req.url ~ \"^/pass\") { return (pass); } }\n\
         sub vcl_deliver { if (req.http.whole) { set resp.filters = \"\"; } }\n",
    );
    let p = proxy(&vcl).await;
    let r = ranged(&p, "/r", "bytes=0-9", "If-Range: \"v1\"\r\n").await;
    assert_eq!(r.status, 206, "the ETag holds");
    let r = ranged(&p, "/r", "bytes=0-9", "If-Range: \"v0\"\r\n").await;
    assert_eq!((r.status, r.text().len()), (200, 240), "another ETag: the whole body");
    let r = ranged(&p, "/r", "bytes=0-9", "If-Range: W/\"v1\"\r\n").await;
    assert_eq!(r.status, 200, "a weak one never holds");
    let r = ranged(&p, "/r", "bytes=0-9", "whole: 1\r\n").await;
    assert_eq!((r.status, r.header("content-range")), (200, None), "resp.filters without range");
    let r = p.request("HEAD /r HTTP/1.1\r\nHost: a\r\nRange: bytes=0-9\r\n\r\n").await;
    assert_eq!((r.status, r.header("content-length")), (206, Some("10")));
    // A pass: the origin ignores Range, Shellac cuts it; no Accept-Ranges on a pass answer.
    let r = ranged(&p, "/pass", "bytes=0-9", "").await;
    assert_eq!((r.status, r.header("content-range"), r.text().len()), (206, Some("bytes 0-9/240"), 10));
    assert_eq!(r.header("accept-ranges"), None);
}

#[tokio::test]
async fn without_http_range_support_the_whole_body_goes() {
    let o = origin().await;
    let p = proxy_with(&vcl_for(&[&o], ""), |params| params.http_range_support = false).await;
    let r = ranged(&p, "/r", "bytes=0-9", "").await;
    assert_eq!((r.status, r.text().len()), (200, 240));
    assert_eq!(r.header("accept-ranges"), None);
}
