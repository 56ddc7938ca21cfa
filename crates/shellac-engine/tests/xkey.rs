//! Surrogate keys (issue 21), compatible with varnish-modules' `xkey`: objects carry the words of
//! their `xkey` and `X-HashTwo` headers, `xkey.purge()` removes the objects carrying any of the
//! keys and `xkey.softpurge()` makes them stale (kept for grace); both count an object once per
//! key it carries.

mod common;

use common::*;

async fn origin() -> Origin {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    o
}

fn fetches(o: &Origin) -> usize {
    o.requests().iter().filter(|r| !r.line.starts_with("GET /probe")).count()
}

/// Keys set per URL in `vcl_backend_response` (as the vmod's docs allow), and `PURGE` /
/// `SOFTPURGE` requests that answer how many objects they hit.
const XKEY_VCL: &str = r#"
import xkey;
sub vcl_recv {
    if (req.method == "PURGE") {
        return (synth(200, "Purged " + xkey.purge(req.http.x-keys)));
    }
    if (req.method == "SOFTPURGE") {
        return (synth(200, "Softpurged " + xkey.softpurge(req.http.x-keys)));
    }
}
sub vcl_backend_response {
    set beresp.grace = 1h;
    if (bereq.url == "/p1") { set beresp.http.xkey = "a b"; }
    if (bereq.url == "/p2") { set beresp.http.xkey = "b,c"; set beresp.http.xkey2 = "z"; }
    if (bereq.url == "/p3") { set beresp.http.X-HashTwo = "c"; }
}
"#;

fn purge(method: &str, keys: &str) -> String {
    format!("{method} / HTTP/1.1\r\nHost: test\r\nX-Keys: {keys}\r\nConnection: close\r\n\r\n")
}

async fn fill(p: &Proxy) {
    for path in ["/p1", "/p2", "/p3", "/p4"] {
        p.get(path).await;
    }
}

#[tokio::test]
async fn a_purge_by_key_removes_the_objects_that_carry_it_and_counts_per_key() {
    let o = origin().await;
    let p = proxy(&vcl_for(&[&o], XKEY_VCL)).await;
    fill(&p).await;
    assert_eq!((fetches(&o), p.server.cache.len()), (4, 4));
    assert_eq!(p.request(&purge("PURGE", "b")).await.reason, "Purged 2");
    assert_eq!(p.server.cache.len(), 2);
    fill(&p).await;
    assert_eq!(fetches(&o), 6, "/p1 and /p2 fetched again, /p3 and /p4 hits");
    // An object carrying two of the keys counts twice (as the vmod counts).
    assert_eq!(p.request(&purge("PURGE", "a b")).await.reason, "Purged 3");
    assert_eq!(p.request(&purge("PURGE", "c")).await.reason, "Purged 1", "X-HashTwo is read too");
    assert_eq!(p.request(&purge("PURGE", "z nothing")).await.reason, "Purged 0");
    assert_eq!(p.server.cache.len(), 1, "only /p4 stays");
    assert_eq!(p.server.cache.xkeys().len(), 0, "no key is left indexed");
}

#[tokio::test]
async fn a_soft_purge_leaves_stale_copies_for_grace_and_passes_stale_ones_over() {
    let o = origin().await;
    let p = proxy(&vcl_for(&[&o], XKEY_VCL)).await;
    fill(&p).await;
    assert_eq!(p.request(&purge("SOFTPURGE", "b")).await.reason, "Softpurged 2");
    assert_eq!(p.server.cache.len(), 4, "kept");
    assert_eq!(p.request(&purge("SOFTPURGE", "b")).await.reason, "Softpurged 0", "already stale");
    // A stale copy within grace: delivered at once, refreshed in the background.
    let r = p.get("/p1").await;
    assert_eq!((r.status, r.text().as_str()), (200, "o"));
    let origin_saw = || fetches(&o) == 5;
    assert!(eventually(std::time::Duration::from_secs(5), origin_saw).await, "one background fetch");
}
