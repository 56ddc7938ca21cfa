//! The workload a profile-guided release build of Shellac is trained on (`./dev release`, through
//! `bin/pgo-workload.rs`).
//!
//! It starts in-process origins, runs a `shellac` binary on a VCL in the shape of seed 004's
//! examples (content-aware routing; round-robin, hash, random and fallback directors, one
//! stacked on another; probes; pass and lookups with hits, grace hits, hit-for-miss and streaming
//! misses; synthetic answers; header rewriting), and sends
//! it a bounded mix of requests over kept-alive and one-shot connections: GET, HEAD, POST with a
//! body, HTTP/1.0, small and 16 KiB answers, origin 404s, redirects from `vcl_synth`. It does
//! this twice, once on the multi-threaded scheduler (the default) and once on the
//! single-threaded one (`TOKIO_WORKER_THREADS=1`), stopping Shellac with SIGTERM after each so
//! that an instrumented binary writes its profile. Any answer that is not what the VCL says
//! fails the run: a profile of error paths would optimise the wrong code.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::origin::Origin;
use tokio::time::Instant;

/// Concurrent client connections.
const CONNECTIONS: usize = 48;
/// The longest one phase may take, whatever the request count.
const PHASE_LIMIT: Duration = Duration::from_secs(120);

/// One kind of request: the raw bytes, the status the VCL gives it, the body length expected
/// (for the 16 KiB answer), and whether it is sent on a connection of its own.
struct Kind {
    raw: String,
    status: u16,
    body_len: Option<usize>,
    one_shot: bool,
}

/// One run of Shellac under the workload.
#[derive(Clone, Debug)]
pub struct Phase {
    /// Which scheduler Shellac ran on.
    pub scheduler: &'static str,
    /// Requests sent and answered as expected.
    pub requests: usize,
    /// How long they took.
    pub elapsed: Duration,
}

/// Runs the workload against the `shellac` binary at `binary`: `requests` requests in all,
/// half on each scheduler. Returns the two phases, or what went wrong.
pub async fn run(binary: &str, requests: usize) -> Result<Vec<Phase>, String> {
    let mut origins = Vec::new();
    for name in ["o1", "o2", "o3", "big", "gone"] {
        let o = Origin::start(name).await;
        o.set(|b| b.record = false);
        origins.push(o);
    }
    origins[3].set(|b| {
        b.body = "x".repeat(16 * 1024);
        b.headers = vec!["Cache-Control: max-age=60".into(), "Content-Type: application/octet-stream".into()];
    });
    origins[4].set_status(404);
    // Cache hits: o1's objects go stale after a second (grace hits and background fetches),
    // o3's stay fresh; o2 says no-store (hit-for-miss); "big" streams 16 KiB misses, then hits.
    origins[0].set(|b| b.headers = vec!["Cache-Control: max-age=1".into()]);
    origins[2].set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("shellac-pgo-{}-{run}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let vcl = dir.join("workload.vcl");
    std::fs::write(&vcl, workload_vcl(&origins)).map_err(|e| format!("cannot write {}: {e}", vcl.display()))?;
    let vcl = vcl.to_string_lossy().into_owned();
    let result = async {
        let mut phases = Vec::new();
        for (scheduler, single) in [("multi-threaded", false), ("single-threaded", true)] {
            let (requests, elapsed) = phase_run(binary, &vcl, single, requests / 2).await?;
            phases.push(Phase { scheduler, requests, elapsed });
        }
        Ok(phases)
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Runs Shellac on the VCL, sends it `requests` requests and stops it; returns how many were
/// sent and how long they took.
async fn phase_run(binary: &str, vcl: &str, single: bool, requests: usize) -> Result<(usize, Duration), String> {
    let mut cmd = Command::new(binary);
    cmd.args(["serve", "-a", "127.0.0.1:0", "-T", "none", "-f", vcl]).stdout(Stdio::piped()).env("RUST_LOG", "warn");
    if single {
        cmd.env("TOKIO_WORKER_THREADS", "1");
    } else {
        cmd.env_remove("TOKIO_WORKER_THREADS");
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {binary}: {e}"))?;
    let addr = match listening_address(&mut child).await {
        Ok(a) => a,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let start = Instant::now();
    let sent = drive(addr, requests).await;
    let elapsed = start.elapsed();
    let stopped = stop(&mut child).await;
    let sent = sent?;
    stopped?;
    Ok((sent, elapsed))
}

/// Reads Shellac's standard output (on a blocking thread, for at most a minute) up to its
/// "Listening on NAME=ADDR" line; the thread keeps draining it afterwards.
async fn listening_address(child: &mut Child) -> Result<SocketAddr, String> {
    let out = child.stdout.take().ok_or("no standard output from shellac")?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(out).lines();
        let found = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("Listening on ") {
                        let addr = rest.rsplit_once('=').map_or(rest, |(_, a)| a);
                        break addr.parse::<SocketAddr>().map_err(|e| format!("bad listen address {addr:?}: {e}"));
                    }
                }
                _ => break Err("shellac exited before it listened (see its messages above)".to_string()),
            }
        };
        let _ = tx.send(found);
        for _ in lines.by_ref() {}
    });
    match tokio::time::timeout(Duration::from_secs(60), rx).await {
        Ok(Ok(found)) => found,
        Ok(Err(_)) => Err("the thread reading shellac's output ended".into()),
        Err(_) => Err("shellac did not listen within 60 s".into()),
    }
}

/// SIGTERM, then waits (at most 30 s) for a clean exit, which writes the profile.
async fn stop(child: &mut Child) -> Result<(), String> {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().map_err(|e| format!("cannot run kill: {e}"))?;
    if !sent.success() {
        return Err(format!("kill -TERM {pid} failed"));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("shellac exited with {status} on SIGTERM")),
            Ok(None) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("shellac did not stop within 30 s of SIGTERM".into());
            }
            Err(e) => return Err(format!("waiting for shellac: {e}")),
        }
    }
}

/// Sends `total` requests over [`CONNECTIONS`] clients; fails on the first answer that is not
/// the expected one.
async fn drive(addr: SocketAddr, total: usize) -> Result<usize, String> {
    let kinds = Arc::new(kinds());
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + PHASE_LIMIT;
    let mut tasks = Vec::new();
    for id in 0..CONNECTIONS {
        let (kinds, next) = (kinds.clone(), next.clone());
        tasks.push(tokio::spawn(async move { client(addr, id, &kinds, &next, total, deadline).await }));
    }
    let mut sent = 0;
    for t in tasks {
        sent += t.await.map_err(|e| format!("a client task failed: {e}"))??;
    }
    Ok(sent)
}

async fn client(
    addr: SocketAddr,
    id: usize,
    kinds: &[Kind],
    next: &AtomicUsize,
    total: usize,
    deadline: Instant,
) -> Result<usize, String> {
    let mut conn: Option<Client> = None;
    let mut sent = 0;
    while next.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
        let kind = &kinds[(id * 7 + sent) % kinds.len()];
        let mut c = match conn.take() {
            Some(c) if !kind.one_shot => c,
            _ => Client::try_connect(addr).await.map_err(|e| format!("cannot connect to shellac on {addr}: {e}"))?,
        };
        let r = c.send(&kind.raw).await;
        let first_line = kind.raw.lines().next().unwrap_or("");
        if r.status != kind.status || r.truncated {
            return Err(format!("{first_line:?} got {} {} (expected {})", r.status, r.reason, kind.status));
        }
        if let Some(len) = kind.body_len {
            if r.body.len() != len {
                return Err(format!("{first_line:?} got a {}-byte body (expected {len})", r.body.len()));
            }
        }
        if !r.closed && !kind.one_shot {
            conn = Some(c);
        }
        sent += 1;
    }
    Ok(sent)
}

/// The request mix, with the answer the workload VCL gives each.
fn kinds() -> Vec<Kind> {
    let get = |path: &str, extra: &str| format!("GET {path} HTTP/1.1\r\nHost: shop.example\r\n{extra}\r\n");
    let post_body = "item=42&quantity=3&".repeat(16);
    let kind = |raw: String, status: u16| Kind { raw, status, body_len: None, one_shot: false };
    vec![
        kind(get("/static/app.js", "Accept-Encoding: gzip\r\nUser-Agent: pgo-workload\r\n"), 200),
        kind(get("/api/users/42?utm_source=mail", "Cookie: session=abc123\r\nAccept: application/json\r\n"), 200),
        kind(
            format!(
                "POST /api/orders HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{post_body}",
                post_body.len()
            ),
            200,
        ),
        kind("HEAD /static/logo.png HTTP/1.1\r\nHost: shop.example\r\n\r\n".into(), 200),
        kind(get("/health", ""), 200),
        Kind { raw: get("/big/archive.bin", ""), status: 200, body_len: Some(16 * 1024), one_shot: false },
        kind(get("/missing/page", "X-Forwarded-For: 192.0.2.7\r\n"), 404),
        kind(get("/admin/", "Authorization: Basic YWRtaW46YWRtaW4=\r\n"), 200),
        kind(get("/old/home", ""), 301),
        kind(get("/images/banner.jpg", "Referer: http://shop.example/\r\n"), 200),
        Kind {
            raw: "GET /static/site.css HTTP/1.0\r\nHost: shop.example\r\n\r\n".into(),
            status: 200,
            body_len: None,
            one_shot: true,
        },
        kind(get("/", "Accept-Language: en\r\n"), 200),
    ]
}

/// Seed 004 in one file: every director, stacked, behind content-aware routing.
fn workload_vcl(origins: &[Origin]) -> String {
    let probe =
        r#".probe = { .url = "/"; .interval = 1s; .timeout = 500ms; .window = 5; .threshold = 3; .initial = 3; }"#;
    let mut vcl = String::from("vcl 4.1;\nimport directors;\n\n");
    for (i, o) in origins.iter().enumerate() {
        vcl.push_str(&o.backend_vcl(if i < 3 { probe } else { "" }));
    }
    vcl.push_str(
        r#"
sub vcl_init {
    new web = directors.round_robin();
    web.add_backend(o1);
    web.add_backend(o2);
    web.add_backend(o3);
    new api = directors.hash();
    api.add_backend(o1, 1);
    api.add_backend(o2, 2);
    new images = directors.random();
    images.add_backend(o2, 1);
    images.add_backend(o3, 3);
    new admin = directors.fallback();
    admin.add_backend(o3);
    admin.add_backend(web.backend());
}

sub vcl_recv {
    if (req.url == "/health") {
        return (synth(200, "OK"));
    }
    if (req.url ~ "^/old/") {
        return (synth(750, "Moved"));
    }
    set req.http.X-Forwarded-Proto = "http";
    unset req.http.Proxy;
    set req.url = regsub(req.url, "[?&]utm_[a-z]+=[^&]*$", "");
    if (req.url ~ "^/api/") {
        set req.backend_hint = api.backend(req.url);
        return (pass);
    } elsif (req.url ~ "^/admin(/.*)?$") {
        set req.backend_hint = admin.backend();
    } elsif (req.url ~ "^/big/") {
        set req.backend_hint = big;
    } elsif (req.url ~ "^/missing") {
        set req.backend_hint = gone;
    } elsif (req.url ~ "\.(png|gif|jpg)$") {
        set req.backend_hint = images.backend();
    } else {
        set req.backend_hint = web.backend();
    }
}

sub vcl_backend_response {
    set beresp.http.X-Backend = beresp.backend.name;
    if (beresp.status == 404) {
        set beresp.ttl = 10s;
    }
}

sub vcl_deliver {
    set resp.http.X-Served-By = "shellac";
    unset resp.http.X-Origin;
}

sub vcl_synth {
    if (resp.status == 750) {
        set resp.status = 301;
        set resp.http.Location = "http://" + req.http.host + regsub(req.url, "^/old/", "/static/");
        return (deliver);
    }
}
"#,
    );
    vcl
}
