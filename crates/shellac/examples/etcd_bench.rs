//! The discovery benchmark behind `bench/etcd.sh` (run it through the script).
//!
//! 1. Propagation: `shellac serve --etcd` in seed 000's setup; 100 times, one etcd transaction
//!    swaps the group's only member for a new origin, and the clock runs until the first request
//!    answered by the new origin (its first probe included). Prints p50/p90/p99/max.
//! 2. Scale: requests per second through the same setup with 3 members and with 1,000 members
//!    (all one nginx on `NGINX_PORT`, reached as 127.0.X.Y), measured by wrk in alternating
//!    rounds; prints medians, the ratio of the medians and the ratio per round. HAProxy (if
//!    installed) is the peer measured in the same rounds: a round-robin backend with the same 3
//!    or 1,000 servers and the same health check (`GET /probe.txt` every 3 s), started only for
//!    its own measurement, while Shellac's group is empty (so neither proxy's probes run during
//!    the other's measurement).
//!
//! Arguments: SHELLAC_BINARY NGINX_PORT ROUNDS SECONDS CONNECTIONS. With `NO_PROBE=1` neither
//! proxy probes (to see what the probes cost at 1,000 members).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use etcd_client::{Client, GetOptions, Txn, TxnOp};
use shellac_testkit::{request, Etcd, Origin};
use tokio::time::Instant;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// HAProxy 2.6 balancing over `members` with the seed's health check, one thread, on CPU 1.
fn haproxy(port: u16, members: &[String], dir: &std::path::Path) -> Option<Killed> {
    let probe = std::env::var_os("NO_PROBE").is_none();
    let mut cfg = String::from(
        "global\n    nbthread 1\n    maxconn 8000\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n    option http-keep-alive\n",
    );
    cfg += &format!("frontend fe\n    bind 127.0.0.1:{port}\n    default_backend web\nbackend web\n    balance roundrobin\n    http-reuse always\n");
    if probe {
        cfg += "    option httpchk GET /probe.txt\n    default-server check inter 3s rise 1 fall 3\n    timeout check 2s\n";
    }
    for (i, m) in members.iter().enumerate() {
        cfg += &format!("    server s{i} {m}\n");
    }
    let path = dir.join(format!("haproxy-{}.cfg", members.len()));
    std::fs::write(&path, cfg).expect("write haproxy.cfg");
    let child = Command::new("taskset")
        .args(["-c", "1", "haproxy", "-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Killed(child))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn body(addr: SocketAddr) -> String {
    let r = request(addr, "GET / HTTP/1.1\r\nHost: web.example.com\r\n\r\n").await;
    if r.status == 200 {
        r.text()
    } else {
        r.status.to_string()
    }
}

async fn wrk(addr: SocketAddr, secs: u32, conns: u32) -> f64 {
    let out = Command::new("taskset")
        .args(["-c", "0", "wrk", "-t1", &format!("-c{conns}"), &format!("-d{secs}s")])
        .args(["-H", "Host: web.example.com", &format!("http://{addr}/")])
        .output()
        .expect("wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).map(|v| v.trim().parse().unwrap_or(0.0));
    let errors = text.lines().find(|l| l.contains("Non-2xx"));
    if let Some(e) = errors {
        eprintln!("wrk: {}", e.trim());
    }
    rps.unwrap_or(0.0)
}

/// Replaces every member of group web with `addrs` in transactions of at most 100 operations.
async fn set_members(c: &mut Client, addrs: &[String]) {
    let old =
        c.get("/varnish/backends/web/", Some(GetOptions::new().with_prefix().with_keys_only())).await.expect("get");
    let old: Vec<String> = old.kvs().iter().map(|kv| String::from_utf8_lossy(kv.key()).into_owned()).collect();
    let new: Vec<String> = addrs.iter().map(|a| format!("/varnish/backends/web/{a}")).collect();
    let ops: Vec<TxnOp> = old
        .iter()
        .filter(|k| !new.contains(k))
        .map(|k| TxnOp::delete(k.as_str(), None))
        .chain(new.iter().filter(|k| !old.contains(k)).map(|k| TxnOp::put(k.as_str(), "", None)))
        .collect();
    for chunk in ops.chunks(100) {
        c.txn(Txn::new().and_then(chunk.to_vec())).await.expect("txn");
    }
}

/// Returns once `addr` listens and 20 requests in a row are not 5xx (every member answered its
/// first probe), or after 20 s.
async fn settle(addr: SocketAddr) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    loop {
        let mut sick = false;
        for _ in 0..20 {
            sick |= body(addr).await.starts_with('5');
        }
        if !sick || start.elapsed() > Duration::from_secs(20) {
            return;
        }
    }
}

/// req/s through a proxy once its members are up: settle, 4 s of probes, 2 s of warm-up.
async fn measure(addr: SocketAddr, secs: u32, conns: u32) -> f64 {
    settle(addr).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _ = wrk(addr, 2, conns).await;
    wrk(addr, secs, conns).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (binary, nginx_port) = (args[1].clone(), args[2].parse::<u16>().expect("nginx port"));
    let rounds: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(3);
    let secs: u32 = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(10);
    let conns: u32 = args.get(5).and_then(|v| v.parse().ok()).unwrap_or(50);

    let etcd = Etcd::start().await;
    let mut c = Client::connect([etcd.url.as_str()], None).await.expect("etcd");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut serve = vec![
        "-c".to_string(),
        "1".into(),
        binary,
        "serve".into(),
        "-T".into(),
        "none".into(),
        "-a".into(),
        addr.to_string(),
    ];
    serve.extend(["--etcd".to_string(), etcd.url.clone()]);
    if std::env::var_os("NO_PROBE").is_some() {
        let vcl = std::env::temp_dir().join(format!("etcd-bench-{}.vcl", std::process::id()));
        let text = "vcl 4.1;\nimport etcd;\nbackend default none;\nsub vcl_init { new groups = etcd.groups(prefix = \"/varnish/backends/\"); }\nsub vcl_recv { set req.backend_hint = groups.backend(regsub(req.http.host, \"^([^.:]+).*$\", \"\\1\")); return (pass); }\n";
        std::fs::write(&vcl, text).expect("write the VCL");
        serve.extend(["-f".to_string(), vcl.to_string_lossy().into_owned()]);
    }
    let _shellac = Killed(
        Command::new("taskset")
            .args(&serve)
            .env("TOKIO_WORKER_THREADS", "1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("shellac"),
    );
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // 1. Propagation.
    let mut prev: Option<Origin> = None;
    let mut took = Vec::new();
    for i in 0..100 {
        let o = Origin::start(&format!("o{i}")).await;
        let mut ops = vec![TxnOp::put(format!("/varnish/backends/web/{}", o.addr), "", None)];
        if let Some(p) = &prev {
            ops.push(TxnOp::delete(format!("/varnish/backends/web/{}", p.addr), None));
        }
        let t0 = Instant::now();
        c.txn(Txn::new().and_then(ops)).await.expect("txn");
        while body(addr).await != o.name {
            assert!(t0.elapsed() < Duration::from_secs(60), "change {i} never routed");
        }
        took.push(t0.elapsed().as_secs_f64() * 1000.0);
        prev = Some(o);
    }
    took.sort_by(f64::total_cmp);
    println!(
        "propagation (etcd put -> first request on the new member, 100 changes): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&took, 0.5),
        percentile(&took, 0.9),
        percentile(&took, 0.99),
        took[took.len() - 1]
    );

    // 2. Scale.
    let members = |n: usize| -> Vec<String> {
        (0..n).map(|i| format!("127.0.{}.{}:{nginx_port}", i / 250, i % 250 + 1)).collect()
    };
    let has_haproxy = Command::new("haproxy").arg("-v").output().is_ok_and(|o| o.status.success());
    let dir = std::env::temp_dir().join(format!("etcd-bench-haproxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hport = free_port();
    let haddr: SocketAddr = format!("127.0.0.1:{hport}").parse().expect("addr");
    // [proxy][members: 0 = 3, 1 = 1000] -> req/s per round
    let mut rps = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for round in 0..rounds {
        for (m, n) in [3usize, 1000].into_iter().enumerate() {
            set_members(&mut c, &members(n)).await;
            let r = measure(addr, secs, conns).await;
            println!("round {} shellac members {n:4}: {r:.0} req/s", round + 1);
            rps[0][m].push(r);
            if has_haproxy {
                set_members(&mut c, &[]).await;
                let Some(_h) = haproxy(hport, &members(n), &dir) else { continue };
                let r = measure(haddr, secs, conns).await;
                println!("round {} haproxy members {n:4}: {r:.0} req/s", round + 1);
                rps[1][m].push(r);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    for (p, name) in ["shellac", "haproxy"].iter().enumerate() {
        if rps[p][0].is_empty() {
            continue;
        }
        let per_round: Vec<String> = rps[p][0].iter().zip(&rps[p][1]).map(|(a, b)| format!("{:.3}", b / a)).collect();
        let (m3, m1000) = (median(&mut rps[p][0].clone()), median(&mut rps[p][1].clone()));
        println!(
            "{name}: median req/s 3 members {m3:.0}, 1000 members {m1000:.0}, ratio {:.3} (per round: {})",
            m1000 / m3,
            per_round.join(", ")
        );
    }
    drop(etcd);
}
