//! The object store end to end (issue 20, spec §5): hits, `vcl_hit`, coalescing of concurrent
//! misses, hit-for-miss and hit-for-pass, grace with a background fetch, variants, streaming to
//! several clients, fetches that outlive their client or fail half way, and a cache that outlives
//! a VCL.

mod common;

use std::time::Duration;

use common::*;

/// An origin whose answers may be cached for `max_age` seconds.
async fn cacheable(name: &str, max_age: u32) -> Origin {
    let o = Origin::start(name).await;
    o.set(|b| b.headers = vec![format!("Cache-Control: max-age={max_age}")]);
    o
}

/// Requests to the origin (probes aside).
fn fetches(o: &Origin) -> usize {
    o.requests().iter().filter(|r| !r.line.starts_with("GET /probe")).count()
}

/// `GET url` until the response satisfies `done` (at most 50 tries, 20 ms apart): the last one.
async fn get_until(p: &Proxy, url: &str, done: impl Fn(&Response) -> bool) -> Response {
    let mut r = p.get(url).await;
    for _ in 0..50 {
        if done(&r) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        r = p.get(url).await;
    }
    r
}

#[tokio::test]
async fn a_second_request_is_a_hit_with_its_age_and_hits() {
    let o = cacheable("o", 60).await;
    let vcl = vcl_for(&[&o], "sub vcl_deliver { set resp.http.x-hits = obj.hits; }\n");
    let p = proxy(&vcl).await;
    let first = p.get("/a").await;
    assert_eq!((first.status, first.text().as_str(), first.header("x-hits")), (200, "o", Some("0")));
    let second = p.get("/a").await;
    assert_eq!((second.status, second.text().as_str(), second.header("x-hits")), (200, "o", Some("1")));
    assert_eq!(fetches(&o), 1, "one backend request for two");
    // A miss names its request; a hit its request and the fetch that stored the object.
    let bereq_xid = sent_header(&o, 0, "x-varnish").expect("the bereq's X-Varnish");
    let (req_xid, obj_xid) = second.header("x-varnish").and_then(|x| x.split_once(' ')).expect("two xids on a hit");
    assert_eq!(obj_xid, bereq_xid);
    assert!(![first.header("x-varnish"), Some(bereq_xid.as_str())].contains(&Some(req_xid)));
    assert!(!first.header("x-varnish").unwrap_or_default().contains(' '), "one xid on a miss");
    // Another URL is another object.
    assert_eq!(p.get("/b").await.text(), "o");
    assert_eq!(fetches(&o), 2);
    assert_eq!(p.server.cache.len(), 2);
}

#[tokio::test]
async fn vcl_hit_can_pass_synth_and_restart() {
    let o = cacheable("o", 60).await;
    let vcl = vcl_for(
        &[&o],
        r#"sub vcl_hit {
    if (req.url == "/pass") { return (pass); }
    if (req.url == "/synth") { return (synth(418, "Hit")); }
    if (req.url == "/restart" && req.restarts == 0) { set req.url = "/other"; return (restart); }
}
"#,
    );
    let p = proxy(&vcl).await;
    for url in ["/pass", "/synth", "/restart", "/other"] {
        p.get(url).await;
    }
    let before = fetches(&o);
    assert_eq!(p.get("/pass").await.text(), "o");
    assert_eq!(fetches(&o), before + 1, "pass from vcl_hit fetches");
    assert_eq!(p.get("/synth").await.status, 418);
    let r = p.get("/restart").await;
    assert_eq!((r.status, r.text().as_str()), (200, "o"));
    assert_eq!(fetches(&o), before + 1, "the restart was a hit on /other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_make_one_backend_request() {
    let o = cacheable("o", 60).await;
    o.set(|b| b.head_delay = Duration::from_millis(300));
    let p = proxy(&vcl_for(&[&o], "")).await;
    let mut clients = Vec::new();
    for _ in 0..50 {
        let addr = p.addr;
        clients.push(tokio::spawn(async move { get(addr, "/cold").await }));
    }
    for c in clients {
        let r = c.await.expect("client");
        assert_eq!((r.status, r.text().as_str()), (200, "o"));
    }
    assert_eq!(fetches(&o), 1, "fifty clients, one fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_on_an_uncacheable_url_fetch_in_parallel_after_the_first() {
    // No Cache-Control from the test: the origin says no-store (hit-for-miss).
    let o = Origin::start("o").await;
    o.set(|b| b.head_delay = Duration::from_millis(300));
    let p = proxy(&vcl_for(&[&o], "sub vcl_deliver { set resp.http.x-hitmiss = req.is_hitmiss; }\n")).await;
    let start = tokio::time::Instant::now();
    let mut clients = Vec::new();
    for _ in 0..5 {
        let addr = p.addr;
        clients.push(tokio::spawn(async move { get(addr, "/private").await }));
    }
    for c in clients {
        assert_eq!(c.await.expect("client").status, 200);
    }
    // The first fetch is waited for once; its marker sends the others to fetch side by side.
    assert_eq!(fetches(&o), 5);
    assert!(start.elapsed() < Duration::from_millis(1200), "not one by one: {:?}", start.elapsed());
    assert_eq!(p.get("/private").await.header("x-hitmiss"), Some("true"));
}

#[tokio::test]
async fn return_pass_from_backend_response_makes_a_hit_for_pass_marker() {
    let o = cacheable("o", 60).await;
    let vcl = vcl_for(
        &[&o],
        "sub vcl_backend_response { return (pass(30s)); }\n\
         sub vcl_deliver { set resp.http.x-hitpass = req.is_hitpass; }\n",
    );
    let p = proxy(&vcl).await;
    assert_eq!(p.get("/hfp").await.header("x-hitpass"), Some("false"));
    let r = p.get("/hfp").await;
    assert_eq!((r.text().as_str(), r.header("x-hitpass")), ("o", Some("true")));
    assert_eq!(fetches(&o), 2, "the marker sends requests to the backend");
}

#[tokio::test]
async fn a_stale_object_in_grace_is_delivered_while_a_background_fetch_refreshes_it() {
    let o = Origin::start("v1").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=1".into()];
        b.body = "v1".into();
    });
    let vcl = vcl_for(
        &[&o],
        "sub vcl_backend_response { set beresp.grace = 10s; set beresp.http.x-bg = bereq.is_bgfetch; }\n",
    );
    let p = proxy(&vcl).await;
    assert_eq!(p.get("/g").await.text(), "v1");
    o.set(|b| b.body = "v2".into());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Stale, in grace: the old copy now, the refresh behind it.
    let stale = p.get("/g").await;
    assert_eq!(stale.text(), "v1");
    assert!(stale.header("age").and_then(|a| a.parse::<u32>().ok()).is_some_and(|a| a >= 1), "{:?}", stale.headers);
    assert!(eventually(Duration::from_secs(2), || fetches(&o) == 2).await, "one background fetch");
    let fresh = get_until(&p, "/g", |r| r.text() == "v2").await;
    assert_eq!((fresh.text().as_str(), fresh.header("x-bg")), ("v2", Some("true")));
    assert_eq!(fetches(&o), 2);
}

#[tokio::test]
async fn variants_by_vary_are_stored_side_by_side() {
    let o = cacheable("o", 60).await;
    o.set(|b| b.headers.push("Vary: X-Lang".into()));
    let vcl = vcl_for(&[&o], "sub vcl_deliver { set resp.http.x-hits = obj.hits; }\n");
    let p = proxy(&vcl).await;
    let req = |lang: &str| format!("GET /v HTTP/1.1\r\nHost: x\r\nX-Lang: {lang}\r\nConnection: close\r\n\r\n");
    assert_eq!(p.request(&req("en")).await.header("x-hits"), Some("0"));
    assert_eq!(p.request(&req("fr")).await.header("x-hits"), Some("0"));
    assert_eq!(p.request(&req("en")).await.header("x-hits"), Some("1"));
    assert_eq!(p.request(&req("fr")).await.header("x-hits"), Some("1"));
    assert_eq!(fetches(&o), 2);
    assert_eq!(p.server.cache.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_miss_reaches_clients_before_its_body_is_complete() {
    let o = cacheable("o", 60).await;
    o.set(|b| {
        b.body = "x".repeat(200_000);
        b.pause_body = Some(Duration::from_millis(500));
    });
    let p = proxy(&vcl_for(&[&o], "")).await;
    let start = tokio::time::Instant::now();
    let first = tokio::spawn({
        let addr = p.addr;
        async move { get(addr, "/big").await }
    });
    // A second client joins while the body is still arriving: it gets all of it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = get(p.addr, "/big").await;
    let first = first.await.expect("first");
    for r in [&first, &second] {
        assert_eq!((r.status, r.body.len(), r.truncated), (200, 200_000, false));
    }
    assert_eq!(fetches(&o), 1);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_fetch_that_fails_half_way_truncates_and_leaves_no_object() {
    let o = cacheable("o", 60).await;
    o.set(|b| {
        b.body = "y".repeat(100_000);
        b.stall_body = Some(Duration::from_millis(100));
    });
    let p = proxy(&vcl_for(&[&o], "")).await;
    let r = p.get("/cut").await;
    assert!(r.truncated, "the client sees the cut");
    assert!(eventually(Duration::from_secs(2), || p.server.cache.is_empty()).await, "nothing stored");
    o.set(|b| b.stall_body = None);
    let r = p.get("/cut").await;
    assert_eq!((r.status, r.body.len()), (200, 100_000));
    assert_eq!(fetches(&o), 2);
}

#[tokio::test]
async fn a_fetch_outlives_its_client_and_the_cache_outlives_the_vcl() {
    let o = cacheable("o", 60).await;
    o.set(|b| b.head_delay = Duration::from_millis(200));
    let p = proxy(&vcl_for(&[&o], "")).await;
    // The client gives up before the answer.
    let mut c = Client::connect(p.addr).await;
    c.write(b"GET /gone HTTP/1.1\r\nHost: x\r\n\r\n").await;
    drop(c);
    assert!(eventually(Duration::from_secs(2), || p.server.cache.len() == 1).await, "the fetch went on");
    // A new VCL: the cache stays.
    let v2 = load(&p.server, "v2", &vcl_for(&[&o], "sub vcl_deliver { set resp.http.x-v = \"2\"; }\n"));
    p.server.use_vcl(v2);
    let r = p.request("GET /gone HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!((r.text().as_str(), r.header("x-v")), ("o", Some("2")));
    assert_eq!(fetches(&o), 1);
}

#[tokio::test]
async fn a_small_store_evicts_the_least_recently_used_and_stays_within_its_size() {
    let o = cacheable("o", 600).await;
    o.set(|b| b.body = "z".repeat(10_000));
    const LIMIT: u64 = 64 << 10;
    let p = proxy_with_storage(&vcl_for(&[&o], ""), shellac_cache::Storage::new("s0", LIMIT)).await;
    for i in 0..20 {
        assert_eq!(p.get(&format!("/obj{i}")).await.body.len(), 10_000);
        assert!(p.server.cache.storage().used() <= LIMIT, "{} after {i}", p.server.cache.storage().used());
    }
    assert!(p.server.cache.storage().nuked() >= 10, "evicted: {}", p.server.cache.storage().nuked());
    let before = fetches(&o);
    // The newest are still there; the oldest went.
    assert_eq!(p.get("/obj19").await.body.len(), 10_000);
    assert_eq!(fetches(&o), before, "a hit");
    assert_eq!(p.get("/obj0").await.body.len(), 10_000);
    assert_eq!(fetches(&o), before + 1, "evicted, fetched again");
    // An object larger than the whole store is delivered, and not kept.
    o.set(|b| b.body = "w".repeat(100_000));
    assert_eq!(p.get("/huge").await.body.len(), 100_000);
    assert!(p.server.cache.storage().used() <= LIMIT);
    assert_eq!(p.get("/huge").await.body.len(), 100_000);
    assert_eq!(fetches(&o), before + 3);
}

#[tokio::test]
async fn a_body_that_came_whole_with_its_head_and_outgrows_the_store_is_delivered_and_not_kept() {
    // (9 KB comes in the read that brings the head: the object is made complete at once.)
    let o = cacheable("o", 600).await;
    o.set(|b| b.body = "k".repeat(9_000));
    const LIMIT: u64 = 8 << 10;
    let p = proxy_with_storage(&vcl_for(&[&o], ""), shellac_cache::Storage::new("s0", LIMIT)).await;
    for n in 1..=2 {
        let r = p.get("/whole").await;
        assert_eq!((r.status, r.body.len()), (200, 9_000));
        assert_eq!(fetches(&o), n, "not kept: fetched again");
        assert_eq!((p.server.cache.len(), p.server.cache.storage().used()), (0, 0));
    }
    // One that fits is kept whole, and charged what it costs.
    o.set(|b| b.body = "k".repeat(2_000));
    assert_eq!(p.get("/fits").await.body.len(), 2_000);
    assert_eq!(p.get("/fits").await.body.len(), 2_000);
    assert_eq!(fetches(&o), 3);
    let used = p.server.cache.storage().used();
    assert!((2_000..LIMIT).contains(&used), "{used}");
}

#[tokio::test]
async fn clients_get_304_on_their_conditions_and_the_backend_never_sees_them() {
    let o = cacheable("o", 60).await;
    o.set(|b| b.headers.push("ETag: \"v1\"".into()));
    let p = proxy(&vcl_for(&[&o], "")).await;
    let cond = |inm: &str| format!("GET /e HTTP/1.1\r\nHost: x\r\nIf-None-Match: {inm}\r\nConnection: close\r\n\r\n");
    // A cold miss with a matching If-None-Match: the backend gets a plain GET, the client a 304.
    let r = p.request(&cond("\"v1\"")).await;
    assert_eq!((r.status, r.body.len(), r.header("content-length")), (304, 0, None));
    assert!(o.requests().iter().all(|r| !r.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("if-none-match"))));
    // A hit: 304 on a match (weak too), 200 otherwise.
    assert_eq!(p.request(&cond("W/\"v1\"")).await.status, 304);
    let r = p.request(&cond("\"v2\"")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "o"));
    assert_eq!(fetches(&o), 1);
}

/// The value of a header in the origin's `i`-th request (probes aside).
fn sent_header(o: &Origin, i: usize, name: &str) -> Option<String> {
    let reqs: Vec<_> = o.requests().into_iter().filter(|r| !r.line.starts_with("GET /probe")).collect();
    reqs.get(i)?.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
}

#[tokio::test]
async fn a_kept_object_is_revalidated_and_a_304_keeps_its_body() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=1".into(), "Last-Modified: Sun, 06 Dec 2026 08:00:00 GMT".into()];
        b.etag = Some("\"v1\"".into());
        b.body = "the first body".into();
    });
    let vcl = vcl_for(
        &[&o],
        "sub vcl_backend_response { set beresp.grace = 0s; set beresp.keep = 60s; \
         set beresp.http.x-was-304 = beresp.was_304; }\n",
    );
    let p = proxy(&vcl).await;
    let first = p.get("/r").await;
    assert_eq!((first.text().as_str(), first.header("x-was-304")), ("the first body", Some("false")));
    assert_eq!(sent_header(&o, 0, "if-none-match"), None, "a cold miss is not conditional");
    // The origin's body changes, but its ETag does not: a 304 confirms the stored body.
    o.set(|b| b.body = "a body the 304 must not bring".into());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = p.get("/r").await;
    assert_eq!(fetches(&o), 2, "expired past its grace: a fetch");
    assert_eq!(sent_header(&o, 1, "if-none-match").as_deref(), Some("\"v1\""));
    assert_eq!(sent_header(&o, 1, "if-modified-since").as_deref(), Some("Sun, 06 Dec 2026 08:00:00 GMT"));
    assert_eq!(
        (second.status, second.text().as_str(), second.header("x-was-304"), second.header("etag")),
        (200, "the first body", Some("true"), Some("\"v1\""))
    );
    assert_eq!(second.header("content-length"), Some("14"));
    // The merged object is stored, fresh again: a hit.
    let third = p.get("/r").await;
    assert_eq!((third.text().as_str(), fetches(&o)), ("the first body", 2));
    // A new ETag: the backend answers 200 and the new body replaces the old.
    o.set(|b| b.etag = Some("\"v2\"".into()));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let fourth = p.get("/r").await;
    assert_eq!(sent_header(&o, 2, "if-none-match").as_deref(), Some("\"v1\""));
    assert_eq!((fourth.text().as_str(), fourth.header("x-was-304")), ("a body the 304 must not bring", Some("false")));
}

#[tokio::test]
async fn without_keep_or_a_validator_the_refresh_is_a_plain_get() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=1".into()];
        b.etag = Some("\"v1\"".into());
    });
    // keep 0 (the default): nothing to revalidate once the TTL and grace are over.
    let p = proxy(&vcl_for(&[&o], "sub vcl_backend_response { set beresp.grace = 0s; }\n")).await;
    p.get("/n").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(p.get("/n").await.status, 200);
    assert_eq!((fetches(&o), sent_header(&o, 1, "if-none-match")), (2, None));
    // A validator-less object with keep: a plain GET too.
    let q = Origin::start("q").await;
    q.set(|b| b.headers = vec!["Cache-Control: max-age=1".into()]);
    let p =
        proxy(&vcl_for(&[&q], "sub vcl_backend_response { set beresp.grace = 0s; set beresp.keep = 60s; }\n")).await;
    p.get("/n").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    p.get("/n").await;
    assert_eq!((fetches(&q), sent_header(&q, 1, "if-modified-since")), (2, None));
}

#[tokio::test]
async fn a_grace_refresh_with_keep_is_conditional() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=1".into()];
        b.etag = Some("\"g\"".into());
        b.body = "graced".into();
    });
    let vcl = vcl_for(
        &[&o],
        "sub vcl_backend_response { set beresp.grace = 30s; set beresp.keep = 30s; \
         set beresp.http.x-bg = bereq.is_bgfetch; }\n",
    );
    let p = proxy(&vcl).await;
    p.get("/g").await;
    o.set(|b| b.body = "not this".into());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(p.get("/g").await.text(), "graced");
    assert!(eventually(Duration::from_secs(2), || fetches(&o) == 2).await, "one background fetch");
    assert_eq!(sent_header(&o, 1, "if-none-match").as_deref(), Some("\"g\""));
    // The refreshed object (from the 304) replaces the stale one: fresh, same body.
    let r = get_until(&p, "/g", |r| r.header("x-bg") == Some("true")).await;
    assert_eq!((r.text().as_str(), r.header("x-bg")), ("graced", Some("true")));
    assert_eq!(fetches(&o), 2);
}

#[tokio::test]
async fn an_unsolicited_304_on_a_cacheable_fetch_is_a_backend_error() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.raw = Some("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n".into());
        b.keep_raw = true;
    });
    let p = proxy(&vcl_for(&[&o], "")).await;
    assert_eq!(p.get("/u").await.status, 503);
    // Passed, the 304 goes to the client as it is.
    let p = proxy(&vcl_for(&[&o], "sub vcl_recv { return (pass); }\n")).await;
    assert_eq!(p.get("/u").await.status, 304);
}
