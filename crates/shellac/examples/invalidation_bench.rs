//! The invalidation benchmark behind `bench/invalidation.sh` (run it through the script).
//!
//! 1. Cluster: two `shellac serve --etcd` nodes, A and B, caching an nginx origin; 100 times, a
//!    URL is cached on B (a hit), a ban of it goes out on A (`etcd.ban()` from VCL, one request),
//!    and the clock runs until B answers that URL with a miss. Prints p50/p90/p99/max.
//! 2. Steady streams of bans on one node holding 1,000 objects, of which only 500 are requested
//!    (round and round) while bans come at a steady rate; the other 500 are never looked up, so
//!    only the lurker can move them past a ban. The length of `ban.list` and the RSS as it goes:
//!    - bans on `obj.http` (the lurker tests them once they are `ban_lurker_age` old, 60 s);
//!    - bans on `req.url` (only a lookup can test one: the cold objects stay behind them, and
//!      the list is bounded by its most, past which the lurker kills the objects holding the
//!      oldest bans).
//!
//! Arguments: SHELLAC_BINARY NGINX_PORT [OBJ_SECONDS OBJ_RATE REQ_SECONDS REQ_RATE].

use std::net::SocketAddr;
use std::time::Duration;

use shellac_testkit::{request, Etcd, Shellac};
use tokio::time::Instant;

fn vcl(nginx: u16) -> String {
    format!(
        r#"vcl 4.1;
import std;
import etcd;
backend o {{ .host = "127.0.0.1"; .port = "{nginx}"; }}
sub vcl_recv {{
    if (req.method == "BAN") {{
        if (etcd.ban(req.http.x-ban)) {{ return (synth(200, "Queued")); }}
        return (synth(400, std.ban_error()));
    }}
    if (req.method == "LOCALBAN") {{
        if (std.ban(req.http.x-ban)) {{ return (synth(200, "Banned")); }}
        return (synth(400, std.ban_error()));
    }}
}}
sub vcl_backend_response {{ set beresp.ttl = 1h; set beresp.http.x-group = regsub(bereq.url, "^/u/(\d).*", "\1"); }}
"#
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Whether `GET path` on `addr` was a hit (two xids in `X-Varnish`).
async fn hit(addr: SocketAddr, path: &str) -> bool {
    let r = request(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")).await;
    assert_eq!(r.status, 200, "GET {path}");
    r.header("x-varnish").is_some_and(|x| x.contains(' '))
}

async fn ban(addr: SocketAddr, method: &str, spec: &str) {
    let r = request(addr, &format!("{method} / HTTP/1.1\r\nHost: x\r\nX-Ban: {spec}\r\n\r\n")).await;
    assert_eq!(r.status, 200, "{method} {spec}: {}", r.reason);
}

fn rss_mib(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn node(binary: &str, vcl: &str, dir: &std::path::Path, name: &str, etcd: Option<&str>) -> Shellac {
    let work = dir.join(name);
    std::fs::create_dir_all(&work).expect("workdir");
    let work = work.to_string_lossy().into_owned();
    let mut args = vec!["-a", "127.0.0.1:0", "-T", "127.0.0.1:0", "-S", "none", "-n", &work, "-f", vcl];
    if let Some(url) = etcd {
        args.extend(["--etcd", url]);
    }
    Shellac::start(binary, &args, &[("RUST_LOG", "warn")])
}

async fn cluster(binary: &str, vcl: &str, dir: &std::path::Path) {
    let etcd = Etcd::start().await;
    let a = node(binary, vcl, dir, "a", Some(&etcd.url));
    let b = node(binary, vcl, dir, "b", Some(&etcd.url));
    let mut times = Vec::new();
    for i in 0..100 {
        let path = format!("/c/{i}");
        hit(b.addr, &path).await;
        assert!(hit(b.addr, &path).await, "{path} is cached on B");
        let t = Instant::now();
        ban(a.addr, "BAN", &format!("req.url == {path}")).await;
        loop {
            if !hit(b.addr, &path).await {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "{path}: still a hit on B after 10 s");
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "ban on A -> miss on B, 100 bans (ms): p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
}

async fn stream(binary: &str, vcl: &str, dir: &std::path::Path, req: bool, secs: u64, rate: u64) {
    let n = node(binary, vcl, dir, if req { "stream-req" } else { "stream-obj" }, None);
    for u in 0..1000 {
        hit(n.addr, &format!("/u/{u}")).await;
    }
    let kind = if req { "req.url" } else { "obj.http" };
    println!("{rate} bans/s on {kind} for {secs} s; 1,000 objects, 500 of them requested round and round:");
    println!("  {:>6} {:>8} {:>10} {:>9}", "s", "bans", "ban.list", "RSS MiB");
    let start = Instant::now();
    let (mut issued, mut next_sample, mut u) = (0u64, 0u64, 0u64);
    while start.elapsed() < Duration::from_secs(secs) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while issued < due {
            let spec = if req {
                format!("req.url ~ ^/none/{issued}(/|$)")
            } else {
                format!("obj.http.x-group == none-{issued}")
            };
            ban(n.addr, "LOCALBAN", &spec).await;
            issued += 1;
        }
        for _ in 0..20 {
            hit(n.addr, &format!("/u/{}", u % 500)).await;
            u += 1;
        }
        if start.elapsed().as_secs() >= next_sample {
            let listed = n.adm(&["ban.list"]).lines().count().saturating_sub(1);
            println!("  {:>6} {:>8} {:>10} {:>9.1}", start.elapsed().as_secs(), issued, listed, rss_mib(n.pid()));
            next_sample += secs.div_ceil(12).max(1);
        }
    }
    let listed = n.adm(&["ban.list"]).lines().count().saturating_sub(1);
    println!("  {:>6} {:>8} {:>10} {:>9.1}", start.elapsed().as_secs(), issued, listed, rss_mib(n.pid()));
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (binary, nginx) = (args[1].clone(), args[2].parse::<u16>().expect("nginx port"));
    let arg = |i: usize, default: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (obj_secs, obj_rate, req_secs, req_rate) = (arg(3, 100), arg(4, 100), arg(5, 30), arg(6, 2000));
    let dir = std::env::temp_dir().join(format!("shellac-invalidation-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let vcl_path = dir.join("bench.vcl");
    std::fs::write(&vcl_path, vcl(nginx)).expect("vcl");
    let vcl_path = vcl_path.to_string_lossy().into_owned();
    cluster(&binary, &vcl_path, &dir).await;
    stream(&binary, &vcl_path, &dir, false, obj_secs, obj_rate).await;
    stream(&binary, &vcl_path, &dir, true, req_secs, req_rate).await;
    let _ = std::fs::remove_dir_all(&dir);
}
