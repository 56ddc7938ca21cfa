//! Dynamic directors (`etcd.director`, `etcd.groups`) fed through the catalog, as the etcd
//! watcher feeds it: membership, weights, drain, in-flight requests on removed members, probe
//! history across removal, groups routing, and the load errors.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use shellac_engine::catalog::{Change, Entry};
use shellac_engine::params::Params;
use shellac_engine::server::Server;
use shellac_engine::vcl::Vcl;

const ROOT: &str = "/varnish/backends/";

fn entry(group: &str, o: &Origin, weight: f64, drain: bool) -> Entry {
    let endpoint = o.addr.to_string();
    Entry { key: format!("{ROOT}{group}/{endpoint}"), endpoint, host: o.host(), target: Ok(o.addr), weight, drain }
}

fn put(server: &Server, e: Entry) {
    server.registry.catalog.apply([Change::Put(e)]);
}

fn delete(server: &Server, group: &str, o: &Origin) {
    server.registry.catalog.apply([Change::Delete(format!("{ROOT}{group}/{}", o.addr))]);
}

/// A proxy whose catalog follows `ROOT`.
async fn discovery_proxy(vcl: &str) -> Proxy {
    let server = Server::new(Params::default());
    server.registry.catalog.set_root(ROOT);
    let v = load(&server, "boot", vcl);
    common::serve_vcl(server, v).await
}

async fn tally(p: &Proxy, n: usize) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for _ in 0..n {
        let r = p.get("/").await;
        *seen.entry(if r.status == 200 { r.text() } else { r.status.to_string() }).or_default() += 1;
    }
    seen
}

const DIRECTOR_VCL: &str = r#"vcl 4.1;
import etcd;
backend default none;
sub vcl_init {
    new web = etcd.director(prefix = "/varnish/backends/web/", policy = POLICY);
}
sub vcl_recv { set req.backend_hint = web.backend(); return (pass); }
"#;

#[tokio::test]
async fn members_come_and_go_without_a_reload() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let p = discovery_proxy(&DIRECTOR_VCL.replace("POLICY", "round_robin")).await;
    // No member yet: 503 through vcl_backend_error.
    assert_eq!(p.get("/").await.status, 503);
    put(&p.server, entry("web", &a, 1.0, false));
    assert_eq!(tally(&p, 4).await, HashMap::from([("a".into(), 4)]));
    put(&p.server, entry("web", &b, 1.0, false));
    assert_eq!(tally(&p, 4).await, HashMap::from([("a".into(), 2), ("b".into(), 2)]));
    // A key elsewhere is not a member.
    let c = Origin::start("c").await;
    put(&p.server, entry("api", &c, 1.0, false));
    delete(&p.server, "web", &a);
    assert_eq!(tally(&p, 4).await, HashMap::from([("b".into(), 4)]));
    delete(&p.server, "web", &b);
    assert_eq!(p.get("/").await.status, 503);
    assert_eq!(c.hits(), 0);
}

#[tokio::test]
async fn a_deleted_member_closes_its_idle_connections_at_once() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let p = discovery_proxy(&DIRECTOR_VCL.replace("POLICY", "round_robin")).await;
    put(&p.server, entry("web", &a, 1.0, false));
    put(&p.server, entry("web", &b, 1.0, false));
    assert_eq!(tally(&p, 2).await, HashMap::from([("a".into(), 1), ("b".into(), 1)]));
    assert_eq!((a.open_connections(), b.open_connections()), (1, 1));
    delete(&p.server, "web", &a);
    // backend_idle_timeout is 60 s: only the removal can have closed it.
    assert!(eventually(Duration::from_secs(2), || a.open_connections() == 0).await, "a's idle connection stays open");
    assert_eq!(b.open_connections(), 1, "the remaining member keeps its connection");
    // Back with the same address: a new connection.
    put(&p.server, entry("web", &a, 1.0, false));
    assert_eq!(tally(&p, 2).await, HashMap::from([("a".into(), 1), ("b".into(), 1)]));
    assert_eq!(a.connections(), 2);
}

#[tokio::test]
async fn drain_and_weight_follow_the_value() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let p = discovery_proxy(&DIRECTOR_VCL.replace("POLICY", "random")).await;
    put(&p.server, entry("web", &a, 1.0, false));
    put(&p.server, entry("web", &b, 3.0, false));
    let seen = tally(&p, 400).await;
    let share = seen.get("b").copied().unwrap_or(0) as f64 / 400.0;
    assert!((0.65..0.85).contains(&share), "weight 3:1 gave b a share of {share} ({seen:?})");
    let before = p.server.active().expect("vcl").directors[0].discovered();
    // Draining b: no new requests; the backend object is the same (its history stays).
    put(&p.server, entry("web", &b, 3.0, true));
    assert_eq!(tally(&p, 20).await, HashMap::from([("a".into(), 20)]));
    let after = p.server.active().expect("vcl").directors[0].discovered();
    let same = |name: &str| {
        let x = before.iter().find(|d| d.name.contains(name)).and_then(|d| d.backend.clone().ok());
        let y = after.iter().find(|d| d.name.contains(name)).and_then(|d| d.backend.clone().ok());
        matches!((x, y), (Some(x), Some(y)) if Arc::ptr_eq(&x, &y))
    };
    assert!(same(&b.addr.to_string()));
    assert!(after.iter().any(|d| d.drain && d.name == format!("web({})", b.addr)));
    // Undrained, it takes traffic again.
    put(&p.server, entry("web", &b, 1.0, false));
    let seen = tally(&p, 100).await;
    assert!(seen.get("b").copied().unwrap_or(0) > 20, "{seen:?}");
}

#[tokio::test]
async fn a_removed_member_finishes_its_in_flight_requests() {
    let a = Origin::start("a").await;
    a.set(|b| b.head_delay = Duration::from_millis(300));
    let p = discovery_proxy(&DIRECTOR_VCL.replace("POLICY", "round_robin")).await;
    put(&p.server, entry("web", &a, 1.0, false));
    let addr = p.addr;
    let slow = tokio::spawn(async move { get(addr, "/").await });
    assert!(eventually(Duration::from_secs(2), || a.hits() == 1).await);
    delete(&p.server, "web", &a);
    let r = slow.await.expect("request task");
    assert_eq!((r.status, r.text()), (200, "a".to_string()));
    assert_eq!(p.get("/").await.status, 503);
}

#[tokio::test]
async fn a_member_that_comes_back_keeps_its_probe_history() {
    let a = Origin::start("a").await;
    let vcl = r#"vcl 4.1;
import etcd;
backend default none;
probe p { .url = "/"; .interval = 50ms; .timeout = 1s; .window = 8; .threshold = 3; .initial = 0; }
sub vcl_init {
    new web = etcd.director(prefix = "/varnish/backends/web/", probe = p);
}
sub vcl_recv { set req.backend_hint = web.backend(); return (pass); }
"#;
    let p = discovery_proxy(vcl).await;
    put(&p.server, entry("web", &a, 1.0, false));
    let dir = p.server.active().expect("vcl").directors[0].clone();
    let member = || dir.discovered().first().and_then(|d| d.backend.clone().ok());
    // Starts sick (initial 0), turns healthy after three good probes.
    assert!(eventually(Duration::from_secs(3), || member().is_some_and(|b| b.is_healthy())).await);
    let prober = member().and_then(|b| b.probe.clone()).expect("probe");
    delete(&p.server, "web", &a);
    assert!(member().is_none());
    put(&p.server, entry("web", &a, 1.0, false));
    let back = member().expect("member back");
    // The same prober, healthy at once: no sick period after the key returns.
    assert!(Arc::ptr_eq(back.probe.as_ref().expect("probe"), &prober));
    assert!(back.is_healthy());
    assert_eq!(p.get("/").await.status, 200);
    // The probe sent the member's host, as the seed's probe does.
    assert!(a.requests().iter().any(|r| r.headers.iter().any(|(n, v)| n == "Host" && *v == a.host())));
}

#[tokio::test]
async fn groups_route_by_name_and_fall_back_to_the_default_group() {
    let (w, d) = (Origin::start("w").await, Origin::start("d").await);
    let vcl = r#"vcl 4.1;
import etcd;
backend default none;
sub vcl_init {
    new groups = etcd.groups(prefix = "/varnish/backends/", default = "default");
}
sub vcl_recv {
    set req.backend_hint = groups.backend(regsub(req.http.host, "^([^.:]+).*$", "\1"));
    return (pass);
}
"#;
    let p = discovery_proxy(vcl).await;
    let host = |h: &str| format!("GET / HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n");
    assert_eq!(p.request(&host("web.example.com")).await.status, 503);
    put(&p.server, entry("default", &d, 1.0, false));
    assert_eq!(p.request(&host("web.example.com")).await.text(), "d");
    put(&p.server, entry("web", &w, 1.0, false));
    assert_eq!(p.request(&host("web.example.com")).await.text(), "w");
    assert_eq!(p.request(&host("web:8080")).await.text(), "w");
    assert_eq!(p.request(&host("api.example.com")).await.text(), "d");
    // The group's last key gone: its name falls back to the default group.
    delete(&p.server, "web", &w);
    assert_eq!(p.request(&host("web.example.com")).await.text(), "d");
    let groups = p.server.active().expect("vcl").directors[0].children();
    assert_eq!(groups.iter().map(|g| g.name().to_string()).collect::<Vec<_>>(), vec!["default"]);
}

#[tokio::test]
async fn without_a_default_the_fallback_is_the_group_default_else_the_only_group() {
    let (w, a, d) = (Origin::start("w").await, Origin::start("a").await, Origin::start("d").await);
    let vcl = r#"vcl 4.1;
import etcd;
backend default none;
sub vcl_init {
    new groups = etcd.groups(prefix = "/varnish/backends/");
}
sub vcl_recv {
    set req.backend_hint = groups.backend(regsub(req.http.host, "^([^.:]+).*$", "\1"));
    if (!req.backend_hint) {
        return (synth(503, "No group"));
    }
    return (pass);
}
sub vcl_synth {
    set resp.body = groups.explain(regsub(req.http.host, "^([^.:]+).*$", "\1"));
    return (deliver);
}
"#;
    let p = discovery_proxy(vcl).await;
    let host = |h: &str| format!("GET / HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n");
    let r = p.request(&host("x.example.com")).await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (503, "\"x\" names no group, and there is no fallback: no group has keys under /varnish/backends/")
    );
    // One group: it takes every name.
    put(&p.server, entry("web", &w, 1.0, false));
    assert_eq!(p.request(&host("x.example.com")).await.text(), "w");
    // Two groups, none called "default": only their own names.
    put(&p.server, entry("api", &a, 1.0, false));
    assert_eq!(p.request(&host("api.example.com")).await.text(), "a");
    assert_eq!(p.request(&host("web.example.com")).await.text(), "w");
    let r = p.request(&host("x.example.com")).await;
    assert_eq!(r.status, 503);
    assert_eq!(
        r.text(),
        "\"x\" names no group, and there is no fallback: the groups are api, web and none is called \"default\""
    );
    // A group called "default" is the fallback.
    put(&p.server, entry("default", &d, 1.0, false));
    assert_eq!(p.request(&host("x.example.com")).await.text(), "d");
    let groups = p.server.active().expect("vcl").directors[0].clone();
    let g = groups.as_groups().expect("etcd.groups");
    assert_eq!(
        g.explain("x"),
        "\"x\" names no group; it goes to the fallback, the group default (the group called \"default\")"
    );
    assert_eq!(g.explain("web"), "\"web\" is the group web (1 member, 1 healthy)");
    assert_eq!(
        g.groups().iter().map(|i| (i.name.as_str(), i.keys)).collect::<Vec<_>>(),
        vec![("api", 1), ("default", 1), ("web", 1)]
    );
    // Back to one group.
    delete(&p.server, "default", &d);
    delete(&p.server, "api", &a);
    assert_eq!(p.request(&host("x.example.com")).await.text(), "w");
    assert_eq!(g.fallback().to_string(), "web (the only group)");
}

#[tokio::test]
async fn a_bad_entry_is_shown_and_skipped() {
    let a = Origin::start("a").await;
    let p = discovery_proxy(&DIRECTOR_VCL.replace("POLICY", "round_robin")).await;
    put(&p.server, entry("web", &a, 1.0, false));
    put(
        &p.server,
        Entry {
            key: format!("{ROOT}web/nohost"),
            endpoint: "nohost".into(),
            host: "nohost".into(),
            target: Err("no port in \"nohost\"".into()),
            weight: 1.0,
            drain: false,
        },
    );
    assert_eq!(tally(&p, 3).await, HashMap::from([("a".into(), 3)]));
    let shown = p.server.active().expect("vcl").directors[0].discovered();
    assert!(shown.iter().any(|d| d.name == "web(nohost)" && d.backend.as_ref().is_err_and(|e| e.contains("no port"))));
}

#[test]
fn loading_needs_discovery_and_a_prefix_under_its_root() {
    let vcl = DIRECTOR_VCL.replace("POLICY", "round_robin");
    let program = Arc::new(compile(&vcl));
    let server = Server::new(Params::default());
    let err = Vcl::load("boot", program.clone(), &server.registry, &server.params()).err().expect("no discovery");
    assert!(err.to_string().contains("start shellac with --etcd"), "{err}");
    server.registry.catalog.set_root("/elsewhere/");
    let err = Vcl::load("boot", program, &server.registry, &server.params()).err().expect("outside root");
    assert!(err.to_string().contains("outside the watched prefix"), "{err}");
    // Keys are <root><group>/<host>:<port>: a director follows one group, groups the root.
    server.registry.catalog.set_root("/varnish/");
    let deep = Arc::new(compile(&vcl));
    let err = Vcl::load("boot", deep, &server.registry, &server.params()).err().expect("two levels");
    assert!(err.to_string().contains("an etcd.director follows one group, \"/varnish/<group>/\""), "{err}");
    server.registry.catalog.set_root("/varnish/backends/");
    let groups = "vcl 4.1;\nimport etcd;\nbackend default none;\nsub vcl_init { new g = etcd.groups(prefix = \"/varnish/backends/web/\"); }\nsub vcl_recv { set req.backend_hint = g.backend(\"x\"); }\n";
    let err = Vcl::load("boot", Arc::new(compile(groups)), &server.registry, &server.params()).err().expect("groups");
    assert!(err.to_string().contains("etcd.groups follows the watched prefix itself"), "{err}");
}

#[tokio::test]
async fn a_cold_vcl_stops_probing_its_discovered_members() {
    let a = Origin::start("a").await;
    let vcl = r#"vcl 4.1;
import etcd;
backend default none;
probe p { .url = "/"; .interval = 30ms; .timeout = 1s; }
sub vcl_init { new web = etcd.director(prefix = "/varnish/backends/web/", probe = p); }
sub vcl_recv { set req.backend_hint = web.backend(); }
"#;
    let p = discovery_proxy(vcl).await;
    put(&p.server, entry("web", &a, 1.0, false));
    assert!(eventually(Duration::from_secs(2), || a.hits() >= 2).await);
    p.server.active().expect("vcl").set_warm(false);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hits = a.hits();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(a.hits(), hits, "a cold VCL's members are not probed");
}
