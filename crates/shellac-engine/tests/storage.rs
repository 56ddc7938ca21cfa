//! Stores end to end (issue 20 point 8): several `-s` stores taken in turn, `beresp.storage` and
//! `obj.storage`, Transient for uncacheable and short-lived objects, `storage.NAME.*` in VCL,
//! and eviction that stays inside the store that is full.

mod common;

use std::time::Duration;

use common::*;
use shellac_cache::Storage;
use shellac_engine::params::Params;

/// An origin whose answers may be cached for `max_age` seconds.
async fn cacheable(max_age: u32) -> Origin {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec![format!("Cache-Control: max-age={max_age}")]);
    o
}

const VCL: &str = r#"
sub vcl_backend_response {
    set beresp.http.x-first = beresp.storage;
    if (bereq.url ~ "^/mem") { set beresp.storage = storage.mem; }
    if (bereq.url ~ "^/short") { set beresp.ttl = 1s; set beresp.grace = 0s; }
    if (bereq.url ~ "^/uncacheable") { set beresp.uncacheable = true; }
    set beresp.http.x-used = storage.s0.used_space;
}
sub vcl_deliver {
    set resp.http.x-storage = obj.storage;
    set resp.http.x-free = storage.mem.free_space;
    set resp.http.x-transient-free = storage.Transient.free_space;
    set resp.http.x-happy = storage.s0.happy;
}
"#;

async fn two_stores(o: &Origin) -> Proxy {
    let stores = vec![Storage::new("s0", 1 << 20), Storage::new("mem", 1 << 20)];
    proxy_with_stores(&vcl_for(&[o], VCL), Params::default(), stores, Storage::new("Transient", u64::MAX)).await
}

#[tokio::test]
async fn objects_go_to_the_stores_in_turn_or_where_the_vcl_says() {
    let o = cacheable(60).await;
    let p = two_stores(&o).await;
    // Without a choice, the -s stores take objects in turn, as varnishd's do.
    let mut seen = Vec::new();
    for url in ["/a", "/b", "/c", "/d"] {
        let r = p.get(url).await;
        assert_eq!(r.header("x-first"), r.header("x-storage"), "{url}");
        seen.push(r.header("x-storage").unwrap_or_default().to_string());
    }
    seen.sort();
    assert_eq!(seen, ["storage.mem", "storage.mem", "storage.s0", "storage.s0"]);
    // beresp.storage decides.
    let r = p.get("/mem/x").await;
    assert_eq!(r.header("x-storage"), Some("storage.mem"));
    let hit = p.get("/mem/x").await;
    assert_eq!((hit.header("x-storage"), hit.header("x-happy")), (Some("storage.mem"), Some("true")));
    // The VCL reads the stores' accounting: mem holds three objects now.
    let free: u64 = hit.header("x-free").and_then(|v| v.parse().ok()).expect("free_space");
    assert_eq!(free, (1 << 20) - p.server.cache.store("mem").expect("mem").used());
    assert!(free < 1 << 20);
    // An unlimited store reads as varnishd's does.
    assert_eq!(hit.header("x-transient-free"), Some("999999999999999"));
}

#[tokio::test]
async fn uncacheable_and_short_lived_objects_go_to_transient() {
    let o = cacheable(60).await;
    let p = two_stores(&o).await;
    let r = p.get("/uncacheable").await;
    assert_eq!(r.header("x-storage"), Some("storage.Transient"));
    let r = p.get("/short").await;
    assert_eq!(r.header("x-storage"), Some("storage.Transient"));
    // Kept in the index all the same: the short one is a hit while it is fresh.
    let before = o.hits();
    let hit = p.get("/short").await;
    assert_eq!((hit.header("x-storage"), o.hits()), (Some("storage.Transient"), before));
    assert!(p.server.cache.transient().used() > 0);
    // A pass is not stored at all: it streams from the backend to its client.
    let used = p.server.cache.transient().used();
    let r = p.request("POST /pass HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").await;
    assert_eq!(r.header("x-first"), Some("storage.Transient"), "beresp.storage of a pass");
    assert_eq!(p.server.cache.transient().used(), used);
}

#[tokio::test]
async fn a_full_store_evicts_its_own_objects_only() {
    let o = cacheable(60).await;
    o.set(|b| b.body = "x".repeat(20_000));
    let stores = vec![Storage::new("s0", 100_000), Storage::new("mem", 1 << 20)];
    let vcl = vcl_for(
        &[&o],
        "sub vcl_backend_response { if (bereq.url ~ \"^/mem\") { set beresp.storage = storage.mem; } else { set beresp.storage = storage.s0; } }\n",
    );
    let p = proxy_with_stores(&vcl, Params::default(), stores, Storage::new("Transient", u64::MAX)).await;
    for i in 0..3 {
        p.get(&format!("/mem/{i}")).await;
    }
    for i in 0..20 {
        p.get(&format!("/s0/{i}")).await;
    }
    let (s0, mem) = (p.server.cache.store("s0").expect("s0"), p.server.cache.store("mem").expect("mem"));
    assert!(s0.used() <= 100_000 && s0.nuked() > 0, "used {} nuked {}", s0.used(), s0.nuked());
    assert_eq!(mem.nuked(), 0);
    // The objects of the other store are all still hits.
    let before = o.hits();
    for i in 0..3 {
        p.get(&format!("/mem/{i}")).await;
    }
    assert_eq!(o.hits(), before, "mem's objects were not evicted for s0's");
}

#[tokio::test]
async fn expired_objects_are_counted() {
    let o = cacheable(1).await;
    let p = proxy_with(&vcl_for(&[&o], "sub vcl_backend_response { set beresp.grace = 0s; }\n"), |_| {}).await;
    p.get("/gone").await;
    assert_eq!(p.server.cache.len(), 1);
    let now = shellac_engine::value::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(p.server.cache.sweep(now + 1.5), 1);
    assert_eq!((p.server.cache.len(), p.server.cache.expired()), (0, 1));
}
