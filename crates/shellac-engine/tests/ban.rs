//! Bans (issue 21, spec §5.8): VCL's `ban()` and `std.ban()` / `std.ban_error()`, objects older
//! than a ban tested at lookup (a banned one is fetched again, a newer one is a hit), and the
//! lurker killing objects in the background for bans that need no request.

mod common;

use std::time::Duration;

use common::*;

/// An origin whose answers may be cached for a minute, and that says which fetch made each.
async fn origin() -> Origin {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into(), "X-Kind: page".into()]);
    o
}

/// Requests to the origin (probes aside).
fn fetches(o: &Origin) -> usize {
    o.requests().iter().filter(|r| !r.line.starts_with("GET /probe")).count()
}

/// `BAN` requests ban what their `X-Ban` header says; `std.ban`'s failure is the answer.
const BAN_RECV: &str = r#"
import std;
sub vcl_recv {
    if (req.method == "BAN") {
        if (std.ban(req.http.x-ban)) {
            return (synth(200, "Banned"));
        }
        return (synth(400, std.ban_error()));
    }
    if (req.method == "OLDBAN") {
        ban(req.http.x-ban);
        return (synth(200, "Banned"));
    }
}
"#;

fn ban(method: &str, spec: &str) -> String {
    format!("{method} / HTTP/1.1\r\nHost: test\r\nX-Ban: {spec}\r\nConnection: close\r\n\r\n")
}

#[tokio::test]
async fn a_vcl_ban_makes_the_matching_older_objects_miss_and_leaves_the_rest() {
    let o = origin().await;
    let p = proxy(&vcl_for(&[&o], BAN_RECV)).await;
    for path in ["/a/1", "/a/2", "/b/a", "/c"] {
        p.get(path).await;
    }
    assert_eq!(fetches(&o), 4);
    // Unanchored, as varnishd's: `/b/a` matches `/a` too.
    let r = p.request(&ban("BAN", "req.url ~ /a")).await;
    assert_eq!((r.status, r.reason.as_str()), (200, "Banned"));
    p.get("/c").await;
    assert_eq!(fetches(&o), 4, "/c is not banned: a hit");
    for path in ["/a/1", "/a/2", "/b/a"] {
        p.get(path).await;
    }
    assert_eq!(fetches(&o), 7, "each banned object was fetched again");
    p.get("/a/1").await;
    assert_eq!(fetches(&o), 7, "the new object is newer than the ban: a hit");
    let bans = p.server.cache.bans();
    assert_eq!(bans.counters().obj_killed.load(std::sync::atomic::Ordering::Relaxed), 3);
    assert_eq!(bans.listed()[0].spec, "req.url ~ /a");

    // The deprecated `ban()` bans as well.
    p.request(&ban("OLDBAN", "obj.http.x-kind == page && req.url == /c")).await;
    p.get("/c").await;
    assert_eq!(fetches(&o), 8);
}

#[tokio::test]
async fn a_bad_ban_from_vcl_fails_with_varnishds_reason_and_bans_nothing() {
    let o = origin().await;
    let p = proxy(&vcl_for(&[&o], BAN_RECV)).await;
    p.get("/a").await;
    let before = p.server.cache.bans().len();
    for (spec, reason) in [
        ("req.url ~ (", "Regex compile error"),
        ("foo.url ~ a", "Unknown or unsupported field \"foo.url\""),
        ("obj.ttl > 3", "expected duration <n.nn>[ms|s|m|h|d|w|y] got \"3\""),
        ("req.url ~ a &&", "No ban conditions found."),
    ] {
        let r = p.request(&ban("BAN", spec)).await;
        assert_eq!(r.status, 400, "{spec}");
        assert!(r.reason.starts_with(reason), "{spec}: {}", r.reason);
    }
    // `ban()` only logs its failure.
    assert_eq!(p.request(&ban("OLDBAN", "req.url ~ (")).await.status, 200);
    assert_eq!(p.server.cache.bans().len(), before);
    p.get("/a").await;
    assert_eq!(fetches(&o), 1, "nothing was banned");
}

#[tokio::test]
async fn the_lurker_removes_objects_of_an_object_ban_without_a_request() {
    let o = origin().await;
    let p = proxy_with(&vcl_for(&[&o], BAN_RECV), |params| {
        params.set("ban_lurker_age", "0").unwrap();
        params.set("ban_lurker_sleep", "0.001").unwrap();
    })
    .await;
    for path in ["/1", "/2", "/3"] {
        p.get(path).await;
    }
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into(), "X-Kind: other".into()]);
    p.get("/4").await;
    assert_eq!(p.server.cache.len(), 4);
    p.request(&ban("BAN", "obj.http.x-kind == page")).await;
    let cache = p.server.cache.clone();
    assert!(eventually(Duration::from_secs(5), || cache.len() == 1).await, "the lurker killed the three");
    let listed = cache.bans().listed();
    assert!(listed[0].completed && listed[0].spec.is_empty(), "completed, its text shed: {listed:?}");
    assert_eq!(listed[0].refs, 1, "the object that stays moved up to it");
    p.get("/4").await;
    assert_eq!(fetches(&o), 4, "/4 stayed");
}
