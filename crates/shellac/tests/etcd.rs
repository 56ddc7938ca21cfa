//! Discovery against a real etcd (started by the testkit on free loopback ports) and the real
//! `shellac` process: seed 000's setup without VCL, etcd directors in VCL, an etcd outage and
//! restart, a compaction past the watcher, 1,000 keys, bad keys, and `shellac register`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use etcd_client::{Client, CompactionOptions, Txn, TxnOp};
use shellac_testkit::{request, Etcd, Origin, Relay};

/// A running `shellac serve`, killed on drop.
struct Shellac {
    child: Child,
    addr: SocketAddr,
    admin: String,
}

impl Drop for Shellac {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Shellac {
    /// Starts `shellac serve -a 127.0.0.1:0 -T 127.0.0.1:0 ARGS` and waits for its listening
    /// lines (at most 30 s).
    fn start(args: &[&str]) -> Shellac {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shellac"))
            .args(["serve", "-a", "127.0.0.1:0", "-T", "127.0.0.1:0", "-S", "none"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn shellac");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut addr, mut admin) = (None, None);
        while addr.is_none() || admin.is_none() {
            let line = rx.recv_timeout(Duration::from_secs(30)).expect("shellac prints where it listens");
            if let Some(a) = line.strip_prefix("Listening on a0=") {
                addr = a.parse().ok();
            } else if let Some(a) = line.strip_prefix("Management port on ") {
                admin = Some(a.to_string());
            }
        }
        Shellac { child, addr: addr.expect("addr"), admin: admin.expect("admin") }
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

    /// Runs a management command through `shellac adm`.
    fn adm(&self, cmd: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_shellac"))
            .args(["adm", "-T", &self.admin])
            .args(cmd)
            .output()
            .expect("shellac adm");
        String::from_utf8_lossy(&out.stdout).into_owned()
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
    let p = Shellac::start(&["--etcd", &etcd.url]);
    // The key that was there at start; its first probe (GET /probe.txt) makes it healthy.
    p.until("web.example.com", &["a"]).await;
    assert!(a.requests().iter().any(|r| r.line == "GET /probe.txt HTTP/1.1"));
    // No group called "api", and no default group yet.
    assert_eq!(p.get("api.example.com").await, "503");
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

fn vcl_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("shellac-etcd-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let f = dir.join(name);
    std::fs::write(&f, text).expect("write");
    f.to_string_lossy().into_owned()
}

#[tokio::test]
async fn weights_and_an_etcd_restart_under_a_running_proxy() {
    let mut etcd = Etcd::start().await;
    let mut c = client(&etcd.url).await;
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    c.put(key("web", &a), "", None).await.expect("put");
    c.put(key("web", &b), r#"{"weight": 0}"#, None).await.expect("put");
    let f = vcl_file("random.vcl", RANDOM_VCL);
    let p = Shellac::start(&["-f", &f, "--etcd", &etcd.url]);
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
    let f = vcl_file("compact.vcl", RANDOM_VCL);
    let p = Shellac::start(&["-f", &f, "--etcd", &relay.url()]);
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
    let f = vcl_file("big.vcl", vcl);
    let p = Shellac::start(&["-f", &f, "--etcd", &etcd.url]);
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
