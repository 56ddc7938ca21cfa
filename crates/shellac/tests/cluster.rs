//! Invalidations across a cluster (issue 21): three `shellac serve` processes watching one real
//! etcd; a ban (CLI `ban.cluster` or VCL `etcd.ban()`), a purge of a key (`etcd.purge()`) or a
//! purge by surrogate key (`etcd.xkey_purge()`) issued on one node makes every node fetch
//! again; a node stopped meanwhile, with etcd restarted and compacted under it, applies what it
//! missed when it comes back.

use std::process::Command;
use std::time::Duration;

use etcd_client::{Client, CompactionOptions};
use shellac_testkit::{request, Etcd, Origin, Scratch, Shellac};

/// Caches everything for an hour; `BAN`, `XPURGE` and `PURGE` requests go to the cluster.
fn vcl(o: &Origin) -> String {
    format!(
        r#"vcl 4.1;
import std;
import etcd;
{}
sub vcl_recv {{
    if (req.method == "BAN") {{
        if (etcd.ban(req.http.x-ban)) {{ return (synth(200, "Queued")); }}
        return (synth(400, std.ban_error()));
    }}
    if (req.method == "XPURGE") {{
        if (etcd.xkey_purge(req.http.x-keys)) {{ return (synth(200, "Queued")); }}
        return (synth(500, "Not queued"));
    }}
    if (req.method == "PURGE") {{ return (hash); }}
}}
sub vcl_hit {{ if (req.method == "PURGE") {{ etcd.purge(); return (synth(200, "Queued")); }} }}
sub vcl_miss {{ if (req.method == "PURGE") {{ etcd.purge(); return (synth(200, "Queued")); }} }}
sub vcl_backend_response {{
    set beresp.ttl = 1h;
    set beresp.http.xkey = "page" + regsub(bereq.url, "^/", "-");
}}
"#,
        o.backend_vcl("")
    )
}

/// An origin whose answers may be cached (the testkit's say `no-store` unless told).
async fn origin() -> Origin {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=3600".into()]);
    o
}

async fn node(etcd: &Etcd, vcl_file: &str) -> Shellac {
    let work = Scratch::new("cluster-test-workdir");
    let dir = work.dir();
    let args =
        ["-a", "127.0.0.1:0", "-T", "127.0.0.1:0", "-S", "none", "-n", &dir, "-f", vcl_file, "--etcd", &etcd.url];
    Shellac::spawn(env!("CARGO_BIN_EXE_shellac"), &args, &[]).await.owning(work)
}

async fn send(n: &Shellac, method: &str, path: &str, header: &str) -> (u16, String) {
    let r = request(n.addr, &format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n")).await;
    (r.status, r.reason.clone())
}

/// Fetches of `path` the origin has seen.
fn fetches(o: &Origin, path: &str) -> usize {
    o.requests().iter().filter(|r| r.line.starts_with(&format!("GET {path} "))).count()
}

/// Gets `path` from each node, then waits (at most 10 s) until the origin has seen `want`
/// fetches of it, asking again meanwhile.
async fn until_fetched(nodes: &[&Shellac], o: &Origin, path: &str, want: usize) {
    for _ in 0..200 {
        for n in nodes {
            send(n, "GET", path, "").await;
        }
        if fetches(o, path) >= want {
            assert_eq!(fetches(o, path), want, "{path}: no more fetches than nodes");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path}: {} fetches, wanted {want}", fetches(o, path));
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().expect("kill").success());
}

#[tokio::test]
async fn a_ban_purge_or_xkey_purge_on_one_node_reaches_every_node() {
    let etcd = Etcd::start().await;
    let o = origin().await;
    let scratch = Scratch::new("cluster-test-vcl");
    let f = scratch.write("cluster.vcl", &vcl(&o));
    let (a, b, c) = (node(&etcd, &f).await, node(&etcd, &f).await, node(&etcd, &f).await);
    let all = [&a, &b, &c];
    for path in ["/x", "/y", "/z"] {
        until_fetched(&all, &o, path, 3).await;
        until_fetched(&all, &o, path, 3).await;
    }

    // The CLI: written to etcd, answered once applied on the node that wrote it.
    assert_eq!(a.adm(&["ban.cluster", "req.url", "~", "^/x"]).trim(), "");
    until_fetched(&all, &o, "/x", 6).await;
    let list = b.adm(&["ban.list"]);
    assert!(list.contains(" -  req.url ~ ^/x  (cluster)"), "{list}");
    assert_eq!(fetches(&o, "/y"), 3, "/y was not banned");

    // VCL: a bad ban fails where it is issued; a good one reaches every node.
    let (status, reason) = send(&b, "BAN", "/", "X-Ban: foo.url ~ y\r\n").await;
    assert_eq!((status, reason.as_str()), (400, "Unknown or unsupported field \"foo.url\""));
    assert_eq!(send(&b, "BAN", "/", "X-Ban: req.url == /y\r\n").await.0, 200);
    until_fetched(&all, &o, "/y", 6).await;

    // A purge of the key a request makes, and a purge by surrogate key.
    assert_eq!(send(&c, "PURGE", "/z", "").await.0, 200);
    until_fetched(&all, &o, "/z", 6).await;
    assert_eq!(send(&a, "XPURGE", "/", "X-Keys: page-z\r\n").await.0, 200);
    until_fetched(&all, &o, "/z", 9).await;
    until_fetched(&all, &o, "/x", 6).await;
}

#[tokio::test]
async fn a_node_stopped_through_an_etcd_restart_and_a_compaction_applies_what_it_missed() {
    let mut etcd = Etcd::start().await;
    let o = origin().await;
    let scratch = Scratch::new("cluster-test-vcl");
    let f = scratch.write("cluster.vcl", &vcl(&o));
    let (a, b, c) = (node(&etcd, &f).await, node(&etcd, &f).await, node(&etcd, &f).await);
    for path in ["/x", "/y"] {
        until_fetched(&[&a, &b, &c], &o, path, 3).await;
    }

    // B stops; a ban goes out; etcd restarts (keeping its data); another ban goes out and
    // etcd compacts its history past where B stopped.
    signal(b.pid(), "-STOP");
    assert_eq!(a.adm(&["ban.cluster", "req.url", "==", "/x"]).trim(), "");
    etcd.stop();
    etcd.restart().await;
    let mut ok = false;
    for _ in 0..100 {
        if a.adm(&["ban.cluster", "req.url", "==", "/y"]).trim().is_empty() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "node A writes again once etcd is back");
    let mut client = Client::connect([etcd.url.as_str()], None).await.expect("connect");
    let rev = client.get("/", None).await.expect("get").header().expect("header").revision();
    client.compact(rev, Some(CompactionOptions::new().with_physical())).await.expect("compact");

    // A and C applied both (C through its own resumed watch); B applies both when it comes
    // back, each once.
    until_fetched(&[&a, &c], &o, "/x", 5).await;
    until_fetched(&[&a, &c], &o, "/y", 5).await;
    signal(b.pid(), "-CONT");
    // (B catches up before it is asked: an object it fetched between applying the two bans
    // would rightly hold the older one, and the count at the end would depend on that race.)
    for _ in 0..200 {
        let list = b.adm(&["ban.list"]);
        if list.contains("req.url == /x") && list.contains("req.url == /y") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut seen = (0, 0);
    for _ in 0..200 {
        send(&b, "GET", "/x", "").await;
        send(&b, "GET", "/y", "").await;
        seen = (fetches(&o, "/x"), fetches(&o, "/y"));
        if seen == (6, 6) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, (6, 6), "B fetched /x and /y again, once each");
    let list = b.adm(&["ban.list"]);
    assert_eq!(list.matches("(cluster)").count(), 1, "the older one left once no object was older: {list}");
}
