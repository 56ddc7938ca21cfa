//! Purges (issue 21, spec §5.8): `return (purge)` from `vcl_recv` removes every object under the
//! request's key, every variant at once, and `vcl_purge` answers (builtin: 200 Purged) or
//! restarts.

mod common;

use common::*;

/// An origin whose answers vary by `X-Lang` and may be cached for a minute.
async fn origin() -> Origin {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into(), "Vary: X-Lang".into()]);
    o
}

/// Requests to the origin (probes aside).
fn fetches(o: &Origin) -> usize {
    o.requests().iter().filter(|r| !r.line.starts_with("GET /probe")).count()
}

fn req(method: &str, path: &str, lang: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: x\r\nX-Lang: {lang}\r\nConnection: close\r\n\r\n")
}

const PURGE_RECV: &str = "sub vcl_recv { if (req.method == \"PURGE\") { return (purge); } }\n";

#[tokio::test]
async fn a_purge_removes_every_variant_of_its_key_and_nothing_else() {
    let o = origin().await;
    let p = proxy(&vcl_for(&[&o], PURGE_RECV)).await;
    for (path, lang) in [("/v", "en"), ("/v", "fr"), ("/w", "en")] {
        assert_eq!(p.request(&req("GET", path, lang)).await.status, 200);
    }
    assert_eq!((fetches(&o), p.server.cache.len()), (3, 3));
    let r = p.request(&req("PURGE", "/v", "de")).await;
    assert_eq!((r.status, r.reason.as_str()), (200, "Purged"), "the builtin vcl_purge");
    assert_eq!(p.server.cache.len(), 1, "both variants of /v went, whichever variant asked");
    for (path, lang) in [("/v", "en"), ("/v", "fr")] {
        assert_eq!(p.request(&req("GET", path, lang)).await.text(), "o");
    }
    assert_eq!(fetches(&o), 5, "/v fetched again for each variant");
    p.request(&req("GET", "/w", "en")).await;
    assert_eq!(fetches(&o), 5, "/w was not purged");
}

#[tokio::test]
async fn vcl_purge_can_restart_into_a_fresh_fetch() {
    let o = origin().await;
    let vcl = format!(
        "{PURGE_RECV}sub vcl_purge {{ set req.method = \"GET\"; return (restart); }}\n\
         sub vcl_deliver {{ set resp.http.x-restarts = req.restarts; }}\n"
    );
    let p = proxy(&vcl_for(&[&o], &vcl)).await;
    p.request(&req("GET", "/v", "en")).await;
    assert_eq!(fetches(&o), 1);
    let r = p.request(&req("PURGE", "/v", "en")).await;
    assert_eq!((r.status, r.text().as_str(), r.header("x-restarts")), (200, "o", Some("1")));
    assert_eq!(fetches(&o), 2, "the restarted GET missed and fetched");
    assert_eq!(p.server.cache.len(), 1, "and stored the new object");
}

/// The `purge` vmod's VCL: `PURGE` looks up, then `purge.soft()` (with `X-Soft`) or
/// `purge.hard()` from `vcl_hit`; a miss has nothing to purge.
const PURGE_VMOD: &str = "import purge;\n\
    sub vcl_recv { if (req.method == \"PURGE\") { return (hash); } }\n\
    sub vcl_hit { if (req.method == \"PURGE\") {\n\
      if (req.http.x-soft) { set req.http.n = purge.soft(0s, 60s); } else { set req.http.n = purge.hard(); }\n\
      return (synth(200, \"purged \" + req.http.n)); } }\n\
    sub vcl_miss { if (req.method == \"PURGE\") { return (synth(404, \"nothing \" + purge.hard())); } }\n";

#[tokio::test]
async fn purge_soft_keeps_a_stale_copy_for_grace_and_purge_hard_removes_it() {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    let p = proxy(&vcl_for(&[&o], PURGE_VMOD)).await;
    p.get("/s").await;
    let soft = p.request("PURGE /s HTTP/1.1\r\nHost: test\r\nX-Soft: 1\r\nConnection: close\r\n\r\n").await;
    assert_eq!((soft.status, soft.reason.as_str()), (200, "purged 1"));
    // Stale now, within the new grace: delivered at once while a background fetch refreshes it.
    let r = p.get("/s").await;
    assert_eq!((r.status, r.text().as_str()), (200, "o"));
    let mut refreshed = false;
    for _ in 0..50 {
        if fetches(&o) == 2 {
            refreshed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refreshed, "the grace hit started a refresh");
    let hard = p.request("PURGE /s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await;
    assert_eq!((hard.status, hard.reason.as_str()), (200, "purged 1"));
    assert_eq!(p.server.cache.len(), 0);
    let none = p.request("PURGE /s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await;
    assert_eq!((none.status, none.reason.as_str()), (404, "nothing 0"));
    p.get("/s").await;
    assert_eq!(fetches(&o), 3, "after a hard purge the next request fetches");
}

#[tokio::test]
async fn purge_outside_vcl_hit_and_vcl_miss_fails_the_request() {
    let o = Origin::start("o").await;
    let vcl = "import purge;\nsub vcl_recv { set req.http.n = purge.hard(); }\n";
    let p = proxy(&vcl_for(&[&o], vcl)).await;
    assert_eq!(p.get("/").await.status, 503, "a VCL failure, as on varnishd");
    assert_eq!(fetches(&o), 0);
}
