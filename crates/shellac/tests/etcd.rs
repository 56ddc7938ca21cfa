//! Discovery against a real etcd (started by the testkit on free loopback ports) and the real
//! `shellac` process: seed 000's setup without VCL, etcd directors in VCL, an etcd outage and
//! restart, a compaction past the watcher, 1,000 keys, bad keys, and `shellac register`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use etcd_client::{Client, CompactionOptions, Txn, TxnOp};
use shellac_testkit::{request, Etcd, Origin, Relay, Scratch, Shellac};

/// A running `shellac serve` with what the tests ask of it.
struct Proxy(Shellac);

impl std::ops::Deref for Proxy {
    type Target = Shellac;
    fn deref(&self) -> &Shellac {
        &self.0
    }
}

impl Proxy {
    /// Starts `shellac serve -a 127.0.0.1:0 -T 127.0.0.1:0 -S none ARGS` (its own working
    /// directory) and waits until it listens.
    async fn start(args: &[&str]) -> Proxy {
        let work = Scratch::new("etcd-test-workdir");
        let dir = work.dir();
        let mut all = vec!["-a", "127.0.0.1:0", "-T", "127.0.0.1:0", "-S", "none", "-n", &dir];
        all.extend_from_slice(args);
        Proxy(Shellac::spawn(env!("CARGO_BIN_EXE_shellac"), &all, &[]).await.owning(work))
    }

    /// The body (or status, when not 200) of `GET /` with this Host.
    async fn get(&self, host: &str) -> String {
        let r = request(self.addr, &format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")).await;
        if r.status == 200 {
            r.text()
        } else {
            r.status.to_string()
        }
    }

    /// What `n` requests with this Host were answered with, sorted and deduplicated.
    async fn seen(&self, host: &str, n: usize) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..n {
            seen.push(self.get(host).await);
        }
        seen.sort();
        seen.dedup();
        seen
    }

    /// Polls until requests with this Host are answered by exactly `want` (at most 15 s).
    async fn until(&self, host: &str, want: &[&str]) {
        let mut last = Vec::new();
        for _ in 0..300 {
            last = self.seen(host, 6).await;
            if last == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("Host {host}: wanted {want:?}, still {last:?}");
    }
}

fn key(group: &str, o: &Origin) -> String {
    format!("/varnish/backends/{group}/{}", o.addr)
}

async fn client(url: &str) -> Client {
    Client::connect([url], None).await.expect("connect to etcd")
}

#[tokio::test]
async fn seed_setup_without_vcl_follows_adds_removes_and_drains() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, b, d) = (Origin::start("a").await, Origin::start("b").await, Origin::start("d").await);
    c.put(key("web", &a), "", None).await.expect("put");
    let p = Proxy::start(&["--etcd", &etcd.url]).await;
    // The key that was there at start; its first probe (GET /probe.txt) makes it healthy.
    p.until("web.example.com", &["a"]).await;
    assert!(a.requests().iter().any(|r| r.line == "GET /probe.txt HTTP/1.1"));
    // No group called "api": "web", the only group, is the fallback.
    assert_eq!(p.get("api.example.com").await, "a");
    // A group called "default" is the fallback once it has keys.
    c.put(key("default", &d), "", None).await.expect("put");
    p.until("api.example.com", &["d"]).await;
    c.put(key("web", &b), "", None).await.expect("put");
    p.until("WEB.example.com:80", &["a", "b"]).await;
    c.delete(key("web", &a), None).await.expect("delete");
    p.until("web.example.com", &["b"]).await;
    c.put(key("web", &b), r#"{"drain": true}"#, None).await.expect("drain");
    p.until("web.example.com", &["503"]).await;
    let list = p.adm(&["backend.list"]);
    assert!(list.contains(&format!("boot.web({})", b.addr)) && list.contains("drain"), "{list}");
    c.put(key("web", &b), "", None).await.expect("undrain");
    p.until("web.example.com", &["b"]).await;
    let status = p.adm(&["discovery.status"]);
    assert!(status.contains("Connected: yes") && status.contains("Keys: 2"), "{status}");
}

const RANDOM_VCL: &str = r#"vcl 4.1;
import etcd;
backend default none;
sub vcl_init {
    new web = etcd.director(prefix = "/varnish/backends/web/", policy = random);
}
sub vcl_recv { set req.backend_hint = web.backend(); return (pass); }
"#;

/// A fresh directory for this test process, named `name`.
/// A VCL file in a scratch directory of its own (removed when the first value is dropped);
/// its path.
fn vcl_file(name: &str, text: &str) -> (Scratch, String) {
    let dir = Scratch::new("etcd-test-vcl");
    let f = dir.write(name, text);
    (dir, f)
}

#[tokio::test]
async fn weights_and_an_etcd_restart_under_a_running_proxy() {
    let mut etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    c.put(key("web", &a), "", None).await.expect("put");
    c.put(key("web", &b), r#"{"weight": 0}"#, None).await.expect("put");
    let (_vcl, f) = vcl_file("random.vcl", RANDOM_VCL);
    let p = Proxy::start(&["-f", &f, "--etcd", &etcd.url]).await;
    p.until("x", &["a"]).await;
    c.put(key("web", &b), r#"{"weight": 1}"#, None).await.expect("weight");
    p.until("x", &["a", "b"]).await;

    // etcd goes away: the proxy keeps routing with what it knows.
    etcd.stop();
    let mut rounds = 0;
    while !p.adm(&["discovery.status"]).contains("Connected: no") {
        rounds += 1;
        assert!(rounds < 100, "the watcher noticed the outage");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(p.seen("x", 20).await, vec!["a", "b"]);
    etcd.restart().await;
    let mut c = client(&etcd.url).await;
    c.delete(key("web", &a), None).await.expect("delete after the restart");
    p.until("x", &["b"]).await;
    let status = p.adm(&["discovery.status", "-j"]);
    assert!(status.contains("\"connected\": true") && status.contains("\"failures\""), "{status}");
}

#[tokio::test]
async fn a_compaction_past_the_watchers_revision_relists() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    c.put(key("web", &a), "", None).await.expect("put");
    // The proxy reaches etcd through a relay, which the test cuts like a network partition.
    let relay = Relay::start(format!("127.0.0.1:{}", etcd.port()).parse().expect("addr")).await;
    let (_vcl, f) = vcl_file("compact.vcl", RANDOM_VCL);
    let p = Proxy::start(&["-f", &f, "--etcd", &relay.url()]).await;
    p.until("x", &["a"]).await;
    relay.cut();
    // Meanwhile: a delete, a put, and a compaction of all history up to now.
    c.delete(key("web", &a), None).await.expect("delete");
    let r = c.put(key("web", &b), "", None).await.expect("put");
    let rev = r.header().map(|h| h.revision()).expect("revision");
    c.compact(rev, Some(CompactionOptions::new().with_physical())).await.expect("compact");
    assert_eq!(p.seen("x", 5).await, vec!["a"], "cut off, it serves what it knew");
    relay.restore();
    p.until("x", &["b"]).await;
    let status = p.adm(&["discovery.status"]);
    assert!(status.contains("compacted=1"), "{status}");
}

#[tokio::test]
async fn a_thousand_keys_and_bad_ones() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let a = Origin::start("a").await;
    // 1,000 members (no listener behind them: no probe, so they count as healthy).
    for chunk in 0..10 {
        let ops: Vec<TxnOp> = (0..100)
            .map(|i| TxnOp::put(format!("/varnish/backends/big/127.0.0.1:{}", 20000 + chunk * 100 + i), "", None))
            .collect();
        c.txn(Txn::new().and_then(ops)).await.expect("txn");
    }
    c.put(key("web", &a), "", None).await.expect("put");
    c.put("/varnish/backends/web/no-port-here", "", None).await.expect("put");
    c.put("/varnish/backends/web/127.0.0.1:1", "not json", None).await.expect("put");
    let vcl = r#"vcl 4.1;
import etcd;
backend default none;
sub vcl_init {
    new big = etcd.director(prefix = "/varnish/backends/big/");
    new web = etcd.director(prefix = "/varnish/backends/web/");
}
sub vcl_recv {
    set req.backend_hint = web.backend();
    if (req.http.host == "big") { set req.backend_hint = big.backend(); }
    return (pass);
}
"#;
    let (_vcl, f) = vcl_file("big.vcl", vcl);
    let p = Proxy::start(&["-f", &f, "--etcd", &etcd.url]).await;
    p.until("x", &["a"]).await;
    let list = p.adm(&["backend.list", "big(*)"]);
    assert_eq!(list.lines().filter(|l| l.starts_with("boot.big(127.0.0.1:")).count(), 1000, "{list}");
    let status = p.adm(&["discovery.status"]);
    assert!(status.contains("Keys: 1003"), "{status}");
    assert!(status.contains("/varnish/backends/web/no-port-here: \"no-port-here\": no port"), "{status}");
    assert!(status.contains("/varnish/backends/web/127.0.0.1:1: value is neither empty nor JSON"), "{status}");
    let list = p.adm(&["backend.list", "-p", "web(*)"]);
    assert!(list.contains("boot.web(no-port-here)") && list.contains("Error: \"no-port-here\": no port"), "{list}");
    // A deleted member of the big director takes no more requests; the rest stay.
    c.delete("/varnish/backends/big/127.0.0.1:20000", None).await.expect("delete");
    let mut rounds = 0;
    while p.adm(&["backend.list", "big(*)"]).lines().filter(|l| l.starts_with("boot.big(")).count() != 999 {
        rounds += 1;
        assert!(rounds < 100, "the delete reached the director");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The answers to one request each with these Hosts, in order.
async fn answers(p: &Proxy, hosts: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for h in hosts {
        out.push(p.get(h).await);
    }
    out
}

/// Whether `seq` cycles through `n` distinct members, as round robin does.
fn is_round_robin(seq: &[String], n: usize) -> bool {
    let first: std::collections::BTreeSet<&String> = seq.iter().take(n).collect();
    first.len() == n && seq.iter().zip(seq.iter().skip(n)).all(|(x, y)| x == y)
}

#[tokio::test]
async fn r18_seed_000_keys_route_any_host_round_robin_from_the_first_request() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, b, d) = (Origin::start("a").await, Origin::start("b").await, Origin::start("c").await);
    // Seed 000's layout: one group, empty values.
    for o in [&a, &b, &d] {
        c.put(key("project", o), "", None).await.expect("put");
    }
    let p = Proxy::start(&["--etcd", &etcd.url]).await;
    // From the very first request, whatever the Host: the only group takes it, in turn.
    let own = p.addr.to_string();
    let seq = answers(&p, &[&own, "www.example.com", "localhost", &own, "PROJECT.example.com", "x:8080"]).await;
    assert!(is_round_robin(&seq, 3), "{seq:?}");

    let log = p.log();
    for line in [
        "Routing: a request goes to the group named like the first label of its Host header",
        "Fallback rule: the group \"default\" when it has keys, else the only group when exactly one group has keys",
        "Groups under /varnish/backends/: project (3 members, 3 healthy)",
        "Fallback now: project (the only group)",
        "Probe: GET /probe.txt (Host: the member's host) every 3s, timeout 2s; a member is healthy once 8 of the last 10 probes passed",
    ] {
        assert!(log.contains(line), "missing {line:?} in:\n{log}");
    }
    let status = p.adm(&["discovery.status"]);
    assert!(status.contains("  project: 3 keys, 3 members, 3 healthy  (fallback)"), "{status}");
    assert!(status.contains("Fallback: project (the only group)"), "{status}");
    let json = p.adm(&["discovery.status", "-j"]);
    assert!(json.contains("\"fallback\": \"project\""), "{json}");
    // Only real members: the generated VCL's `backend default none;` is no backend.
    let list = p.adm(&["backend.list"]);
    assert!(!list.contains("boot.default"), "{list}");
    assert_eq!(list.lines().filter(|l| l.starts_with("boot.project(")).count(), 3, "{list}");
}

#[tokio::test]
async fn r18_seed_000_keys_route_once_etcd_comes_up_after_shellac() {
    let mut etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    for o in [&a, &b] {
        c.put(key("project", o), "", None).await.expect("put");
    }
    etcd.stop();
    let p = Proxy::start(&["--etcd", &etcd.url]).await;
    // Nothing known yet: the 503 says why.
    let r = request(p.addr, "GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n").await;
    assert_eq!(r.status, 503);
    assert!(r.text().contains("no group has keys under /varnish/backends/"), "{}", r.text());
    assert!(p.log().contains("Groups under /varnish/backends/: none yet"), "{}", p.log());
    etcd.restart().await;
    p.until("www.example.com", &["a", "b"]).await;
    let seq = answers(&p, &["www.example.com", "127.0.0.1", "api", "www.example.com"]).await;
    assert!(is_round_robin(&seq, 2), "{seq:?}");
}

#[tokio::test]
async fn r18_a_second_group_takes_only_its_own_host_and_the_503_names_the_groups() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, d) = (Origin::start("a").await, Origin::start("d").await);
    c.put(key("project", &a), "", None).await.expect("put");
    let p = Proxy::start(&["--etcd", &etcd.url]).await;
    assert_eq!(p.get("x.example.com").await, "a");

    c.put(key("api", &d), "", None).await.expect("put");
    p.until("api.example.com", &["d"]).await;
    assert_eq!(p.get("project.example.com").await, "a");
    // Two groups, none called "default": a Host that names neither has no fallback.
    for _ in 0..3 {
        let r = request(p.addr, "GET / HTTP/1.1\r\nHost: x.example.com\r\nConnection: close\r\n\r\n").await;
        assert_eq!(r.status, 503);
        let body = r.text();
        assert!(
            body.contains("\"x\" names no group, and there is no fallback: the groups are api, project and none is called \"default\""),
            "{body}"
        );
        assert!(body.contains("--etcd-default-group GROUP"), "{body}");
    }
    assert!(
        p.wait_log("no fallback group any more: the groups are api, project", Duration::from_secs(5)),
        "{}",
        p.log()
    );
    assert!(p.wait_log("\"x\" names no group", Duration::from_secs(5)));
    assert_eq!(p.log().matches("\"x\" names no group").count(), 1, "logged once per name:\n{}", p.log());
    assert!(p.log().contains("--etcd-default-group GROUP"), "{}", p.log());
    let status = p.adm(&["discovery.status"]);
    assert!(status.contains("Fallback: none (several groups, none called \"default\")"), "{status}");
    assert!(status.contains("  api: 1 key, 1 member, 1 healthy\n"), "{status}");

    // `serve -C` states the same from etcd.
    let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["serve", "-C", "--etcd", &etcd.url])
        .output()
        .expect("serve -C");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Groups under /varnish/backends/: api (1 key), project (1 key)"), "{text}");
    assert!(text.contains("Fallback now: none (several groups, none called \"default\")"), "{text}");
    assert!(text.contains("Probe: GET /probe.txt"), "{text}");

    // --etcd-default-group picks the fallback.
    let q = Proxy::start(&["--etcd", &etcd.url, "--etcd-default-group", "project"]).await;
    assert_eq!(q.get("x.example.com").await, "a");
    assert_eq!(q.get("api.example.com").await, "d");
    assert!(q.log().contains("Fallback rule: the group \"project\" (--etcd-default-group)"), "{}", q.log());

    // The second group goes: the only group is the fallback again, and the change is logged.
    c.delete(key("api", &d), None).await.expect("delete");
    p.until("x.example.com", &["a"]).await;
    assert!(p.wait_log("fallback group is now project (the only group)", Duration::from_secs(5)), "{}", p.log());
}

#[tokio::test]
async fn r18_a_member_that_stays_sick_says_why_once() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, s) = (Origin::start("a").await, Origin::start("s").await);
    s.set_status(404);
    c.put(key("project", &a), "", None).await.expect("put");
    c.put(key("project", &s), "", None).await.expect("put");
    let p = Proxy::start(&["--etcd", &etcd.url]).await;
    let why = format!(
        "project({}) is sick: 7 of the last 10 probes passed, 8 needed; the last probe (GET /probe.txt HTTP/1.1) got: HTTP/1.1 404",
        s.addr
    );
    assert!(p.wait_log(&why, Duration::from_secs(10)), "{}", p.log());
    // A second failed probe (every 3 s) does not say it again.
    let start = tokio::time::Instant::now();
    while s.requests().iter().filter(|r| r.line.starts_with("GET /probe.txt")).count() < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "a second probe");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(p.log().matches(&format!("project({}) is sick", s.addr)).count(), 1, "{}", p.log());
    assert_eq!(p.seen("www.example.com", 4).await, vec!["a"]);
}

#[tokio::test]
async fn r18_a_plain_varnishadm_finds_the_default_management_port() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let a = Origin::start("a").await;
    c.put(key("project", &a), "", None).await.expect("put");
    // No -T, -S or -n: varnishd's defaults (localhost, a generated secret, its working directory).
    let p = Shellac::spawn(env!("CARGO_BIN_EXE_shellac"), &["-a", "127.0.0.1:0", "--etcd", &etcd.url], &[]).await;
    assert!(p.admin.as_deref().is_some_and(|a| a.starts_with("127.0.0.1:")), "{:?}", p.admin);
    let out = Command::new("varnishadm").arg("backend.list").output().expect("varnishadm");
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{list}{}", String::from_utf8_lossy(&out.stderr));
    assert!(list.contains(&format!("boot.project({})", a.addr)) && !list.contains("boot.default"), "{list}");
    let out = Command::new(env!("CARGO_BIN_EXE_shellac")).args(["adm", "discovery.status"]).output().expect("adm");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Fallback: project (the only group)"));
    // A second one without -n is told how to run beside it.
    let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["serve", "-a", "127.0.0.1:0", "--etcd", &etcd.url])
        .output()
        .expect("second serve");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is in use by process") && err.contains("-n DIR") && err.contains("-T none"), "{err}");
    assert!(p.stop(), "SIGTERM stops it cleanly");
}

#[tokio::test]
async fn r19_a_bad_value_keeps_the_serving_member_and_a_deep_key_is_named() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    c.put(key("project", &a), "", None).await.expect("put");
    c.put(key("project", &b), "", None).await.expect("put");
    let p = Proxy::start(&["--etcd", &etcd.url]).await;
    p.until("x", &["a", "b"]).await;
    // A malformed value on a working key: the member stays, the key is listed as bad, once.
    c.put(key("project", &a), "{oops", None).await.expect("put");
    let mut status = String::new();
    for _ in 0..100 {
        status = p.adm(&["discovery.status"]);
        if status.contains("Bad keys:") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(status.contains(&format!("{}: value is neither empty nor JSON", key("project", &a))), "{status}");
    assert!(status.contains("(the last good value stays in use)"), "{status}");
    assert_eq!(p.seen("x", 10).await, vec!["a", "b"]);
    assert_eq!(p.log().matches("etcd: bad key or value").count(), 1, "{}", p.log());
    // Only a delete removes it.
    c.delete(key("project", &a), None).await.expect("delete");
    p.until("x", &["b"]).await;
    // A key with extra path levels is named, never a member.
    c.put("/varnish/backends/a/b/c/127.0.0.1:1", "", None).await.expect("put");
    let mut status = String::new();
    for _ in 0..100 {
        status = p.adm(&["discovery.status"]);
        if status.contains("/varnish/backends/a/b/c/127.0.0.1:1: 4 path levels") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(status.contains("/varnish/backends/a/b/c/127.0.0.1:1: 4 path levels under /varnish/backends/"), "{status}");
    assert!(!p.adm(&["backend.list"]).contains("127.0.0.1:1)"));
}

#[tokio::test]
async fn r19_etcd_replaced_by_a_fresh_cluster_is_listed_again_at_once() {
    let mut etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, b, d) = (Origin::start("a").await, Origin::start("b").await, Origin::start("d").await);
    c.put(key("project", &a), "", None).await.expect("put");
    c.put(key("project", &b), "", None).await.expect("put");
    // History well past what the fresh cluster will have.
    for i in 0..50 {
        c.put("/elsewhere/counter", i.to_string(), None).await.expect("put");
    }
    let p = Proxy::start(&["--etcd", &etcd.url]).await;
    p.until("x", &["a", "b"]).await;
    // A fresh cluster at the same URL, where "a" is gone.
    etcd.replace().await;
    let mut c = client(&etcd.url).await;
    c.put(key("project", &b), "", None).await.expect("put");
    p.until("x", &["b"]).await;
    let status = p.adm(&["discovery.status"]);
    assert!(status.contains("cluster_changed=1"), "{status}");
    // Its own (low) revisions are followed, not skipped as old.
    c.put(key("project", &d), "", None).await.expect("put");
    p.until("x", &["b", "d"]).await;
}

/// Waits until `key` is present (`true`) or absent, at most `limit`; returns how long it took.
async fn key_is(c: &mut Client, key: &str, present: bool, limit: Duration) -> Duration {
    let start = tokio::time::Instant::now();
    loop {
        let r = c.get(key, None).await.expect("get");
        if r.kvs().is_empty() != present {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{key} still {}", if present { "absent" } else { "present" });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn register(etcd: &str, key: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["register", "--etcd", etcd, "--key", key, "--ttl", "3s"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn shellac register")
}

fn signal(child: &Child, sig: &str) {
    assert!(Command::new("kill").args([sig, &child.id().to_string()]).status().expect("kill").success());
}

#[tokio::test]
async fn register_holds_a_lease_and_lets_go() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let k = "/varnish/backends/web/127.0.0.1:9";

    // SIGTERM: the lease is revoked, the key goes at once.
    let mut r = register(&etcd.url, k, &["--value", r#"{"weight": 2}"#]);
    key_is(&mut c, k, true, Duration::from_secs(10)).await;
    let got = c.get(k, None).await.expect("get");
    let kv = got.kvs().first().expect("kv");
    assert_ne!(kv.lease(), 0, "the key is held by a lease");
    assert_eq!(kv.value(), br#"{"weight": 2}"#);
    // It outlives its TTL while the registrar keeps it alive.
    tokio::time::sleep(Duration::from_secs(4)).await;
    key_is(&mut c, k, true, Duration::from_secs(1)).await;
    signal(&r, "-TERM");
    let gone = key_is(&mut c, k, false, Duration::from_secs(2)).await;
    assert!(gone < Duration::from_secs(1), "removed {gone:?} after SIGTERM");
    assert!(r.wait().expect("wait").success());

    // SIGKILL: nobody revokes; the lease expires within its TTL (and etcd's slack).
    let mut r = register(&etcd.url, k, &[]);
    key_is(&mut c, k, true, Duration::from_secs(10)).await;
    signal(&r, "-KILL");
    let _ = r.wait();
    let gone = key_is(&mut c, k, false, Duration::from_secs(8)).await;
    assert!(gone > Duration::from_millis(500), "the key outlived the process until the lease expired");

    // A key deleted by hand is put back; a lease revoked from outside is granted again.
    let mut r = register(&etcd.url, k, &["--check-interval", "200ms"]);
    key_is(&mut c, k, true, Duration::from_secs(10)).await;
    c.delete(k, None).await.expect("delete");
    key_is(&mut c, k, true, Duration::from_secs(5)).await;
    let lease = c.get(k, None).await.expect("get").kvs()[0].lease();
    c.lease_revoke(lease).await.expect("revoke");
    key_is(&mut c, k, true, Duration::from_secs(5)).await;
    assert_ne!(c.get(k, None).await.expect("get").kvs()[0].lease(), lease);
    signal(&r, "-TERM");
    assert!(r.wait().expect("wait").success());
}

#[tokio::test]
async fn register_withdraws_while_the_check_fails() {
    let etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let svc = Origin::start("svc").await;
    let k = format!("/varnish/backends/web/{}", svc.addr);
    let check = format!("http://{}/health", svc.addr);
    let mut r = register(&etcd.url, &k, &["--check", &check, "--check-interval", "200ms"]);
    key_is(&mut c, &k, true, Duration::from_secs(10)).await;
    svc.set_status(503);
    key_is(&mut c, &k, false, Duration::from_secs(5)).await;
    svc.set_status(200);
    key_is(&mut c, &k, true, Duration::from_secs(5)).await;
    signal(&r, "-INT");
    key_is(&mut c, &k, false, Duration::from_secs(2)).await;
    assert!(r.wait().expect("wait").success());
    // Bad input is refused before anything is written.
    let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
        .args(["register", "--etcd", &etcd.url, "--key", "/varnish/backends/web/[::1]"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected [IPv6]:port"));
}
