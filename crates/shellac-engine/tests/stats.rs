//! Counters (issue 22) after known traffic: hits, misses, hit-for-miss and hit-for-pass,
//! passes, synth, a failing backend, bans; with varnishstat's names and the meanings varnishd
//! 7.1.1 gives them (checked on it: a hit-for-miss counts as a miss too, a hit-for-pass as a
//! pass, every backend request as `s_fetch`, every fetch that ends uncacheable, a pass's
//! included, as `beresp_uncacheable`, a failed one not; `vcl_backend_error`'s answer is not
//! `s_synth`). `SMA.*.c_req` counts objects stored (varnishd counts its allocations).

mod common;

use std::collections::HashMap;

use common::*;
use shellac_engine::stats::{backend_points, server_points};

fn values(p: &Proxy) -> HashMap<String, u64> {
    let mut all: HashMap<String, u64> = server_points(&p.server).into_iter().map(|p| (p.name, p.value)).collect();
    let vcl = p.server.active().expect("a VCL");
    for b in &vcl.backends {
        all.extend(backend_points(&format!("boot.{}", b.name), b).into_iter().map(|p| (p.name, p.value)));
    }
    all
}

/// The values once `ready` holds of them (a connection's close is counted a moment after its
/// answer), or after 2 s.
async fn values_once(p: &Proxy, ready: impl Fn(&HashMap<String, u64>) -> bool) -> HashMap<String, u64> {
    for _ in 0..100 {
        let v = values(p);
        if ready(&v) {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    values(p)
}

const VCL: &str = r#"
import std;
backend down { .host = "127.0.0.1"; .port = "1"; }
sub vcl_recv {
    if (req.url ~ "^/down") { set req.backend_hint = down; }
    if (req.url ~ "^/pass") { return (pass); }
    if (req.url ~ "^/synth") { return (synth(204)); }
    if (req.url ~ "^/ban") { std.ban("obj.status == 999"); return (synth(200)); }
}
sub vcl_backend_response {
    if (bereq.url ~ "^/hfm") { set beresp.uncacheable = true; set beresp.ttl = 60s; }
    if (bereq.url ~ "^/hfp") { return (pass(60s)); }
}
"#;

#[tokio::test]
async fn counters_after_known_traffic_are_varnishds() {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    let p = proxy(&vcl_for(&[&o], VCL)).await;
    for path in ["/a", "/a", "/a", "/b", "/hfm", "/hfm", "/hfp", "/hfp", "/pass", "/synth", "/down", "/ban"] {
        p.get(path).await;
    }
    let v = values(&p);
    let want = [
        ("MAIN.client_req", 12),
        ("MAIN.cache_hit", 2),
        ("MAIN.cache_miss", 6),
        ("MAIN.cache_hitmiss", 1),
        ("MAIN.cache_hitpass", 1),
        ("MAIN.cache_hit_grace", 0),
        ("MAIN.s_pass", 2),
        ("MAIN.s_synth", 2),
        ("MAIN.s_fetch", 8),
        ("MAIN.fetch_length", 7),
        ("MAIN.fetch_failed", 1),
        ("MAIN.backend_fail", 1),
        ("MAIN.beresp_uncacheable", 5),
        ("MAIN.n_object", 4),
        // (The ban from boot and the one `/ban` issued, as varnishd 7.1.1 counts them.)
        ("MAIN.bans_added", 2),
        ("MAIN.bans", 2),
        ("SMA.s0.c_req", 2),
        ("SMA.Transient.c_req", 3),
        ("VBE.boot.down.fail", 1),
        ("VBE.boot.down.fail_econnrefused", 1),
        ("VBE.boot.down.req", 0),
        ("VBE.boot.o.req", 7),
        // The origin's body is its name ("o"), once per fetch; nothing was sent with the requests.
        ("VBE.boot.o.beresp_bodybytes", 7),
        ("VBE.boot.o.bereq_bodybytes", 0),
    ];
    let got: Vec<(&str, u64)> = want.iter().map(|(k, _)| (*k, v.get(*k).copied().unwrap_or(u64::MAX))).collect();
    assert_eq!(got, want);
    // Every connection after the first was reused.
    assert_eq!(v["MAIN.backend_conn"] + v["MAIN.backend_reuse"], 7);
    assert!(v["MAIN.backend_reuse"] >= 1);
    assert!(v["SMA.s0.g_bytes"] > 0 && v["SMA.s0.g_space"] > 0);
    // Heads: some tens of bytes each way per fetch.
    assert!((7 * 40..7 * 1000).contains(&v["VBE.boot.o.bereq_hdrbytes"]), "{}", v["VBE.boot.o.bereq_hdrbytes"]);
    assert!((7 * 40..7 * 1000).contains(&v["VBE.boot.o.beresp_hdrbytes"]), "{}", v["VBE.boot.o.beresp_hdrbytes"]);
}

/// An answer with `Content-Length: 0` is fetched with no body (`fetch_none`, not
/// `fetch_length`), and one without a `Date` gets one at the fetch, which VCL sees and the
/// object keeps: varnishd 7.1.1 does both (checked with an origin that sends no `Date`).
#[tokio::test]
async fn an_empty_answer_is_no_body_and_an_answer_without_a_date_gets_one() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=60".into()];
        b.bytes = Some(Vec::new());
    });
    let vcl = vcl_for(&[&o], "sub vcl_backend_response { set beresp.http.X-Date = beresp.http.Date; }\n");
    let p = proxy(&vcl).await;
    let first = p.get("/empty").await;
    let v = values(&p);
    assert_eq!((v["MAIN.fetch_none"], v["MAIN.fetch_length"]), (1, 0));
    let date = first.header("date").expect("a Date").to_string();
    assert_eq!(first.header("x-date"), Some(date.as_str()), "VCL saw the Date the fetch added");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let hit = p.get("/empty").await;
    assert_eq!(hit.header("x-varnish").map(|x| x.split(' ').count()), Some(2), "a hit");
    assert_eq!(hit.header("date"), Some(date.as_str()), "the hit says when it was fetched");
}

/// The counters added to match more of varnishstat's list: backend requests, purges, gzip
/// operations, 417s (and, in a unit test, accept failures by errno), each as varnishd 7.1.1
/// counts them.
#[tokio::test]
async fn purges_gzip_417_and_backend_requests_are_counted() {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    let vcl = vcl_for(
        &[&o],
        "sub vcl_recv { if (req.method == \"PURGE\") { return (purge); } }\n\
         sub vcl_backend_response { if (bereq.url ~ \"^/z\") { set beresp.do_gzip = true; } }\n",
    );
    let p = proxy(&vcl).await;
    for path in ["/a", "/a", "/z", "/z"] {
        p.get(path).await;
    }
    // The stored gzip body goes to a client that does not take gzip: unpacked on delivery.
    assert_eq!(p.get("/z").await.header("content-encoding"), None);
    let purged = p.request("PURGE /a HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert_eq!(purged.status, 200);
    let refused = p.request("GET /e HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n").await;
    assert_eq!(refused.status, 417);
    let v = values(&p);
    let want = [
        ("MAIN.backend_req", 2),
        ("MAIN.n_purges", 1),
        ("MAIN.n_obj_purged", 1),
        ("MAIN.n_gzip", 1),
        // Every delivery of /z to these clients (none takes gzip) unpacks it.
        ("MAIN.n_gunzip", 3),
        ("MAIN.n_test_gunzip", 0),
        ("MAIN.client_req_417", 1),
        ("MAIN.sess_fail_emfile", 0),
    ];
    let got: Vec<(&str, u64)> = want.iter().map(|(k, _)| (*k, v.get(*k).copied().unwrap_or(u64::MAX))).collect();
    assert_eq!(got, want);
}

/// Requests that wait on another's fetch of the same key (`busy_sleep`, each woken once:
/// `busy_wakeup`), and how connections close (`sc_*`, `sess_closed`), as varnishd counts them.
#[tokio::test]
async fn the_waiting_list_and_closes_are_counted() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=60".into()];
        b.head_delay = std::time::Duration::from_millis(300);
    });
    let p = proxy(&vcl_for(&[&o], "")).await;
    let (a, b, c) = tokio::join!(p.get("/slow"), p.get("/slow"), p.get("/slow"));
    assert_eq!((a.status, b.status, c.status), (200, 200, 200));
    let v = values(&p);
    assert!(v["MAIN.busy_sleep"] >= 1, "{}", v["MAIN.busy_sleep"]);
    assert_eq!(v["MAIN.busy_sleep"], v["MAIN.busy_wakeup"]);
    // A request that is not HTTP: junk, answered 400 and closed by Shellac, an error.
    let r = p.request("NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(r.status, 400);
    let v = values_once(&p, |v| v["MAIN.sc_rx_junk"] == 1).await;
    let got = [v["MAIN.sc_rx_junk"], v["MAIN.client_req_400"], v["MAIN.sess_closed"], v["MAIN.sess_closed_err"]];
    assert_eq!(got, [1, 1, 1, 1]);
    // One that is HTTP but bad (two Host headers): refused 400 and closed, `RX_BAD`, counted as
    // a request as varnishd counts it.
    let (before, head_bytes) = (v["MAIN.client_req"], v["MAIN.s_req_hdrbytes"]);
    let bad = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
    let r = p.request(bad).await;
    assert_eq!(r.status, 400);
    let v = values_once(&p, |v| v["MAIN.sc_rx_bad"] == 1).await;
    let got = [v["MAIN.sc_rx_bad"], v["MAIN.client_req_400"], v["MAIN.client_req"] - before, v["MAIN.sess_closed_err"]];
    assert_eq!(got, [1, 2, 1, 2]);
    assert_eq!(v["MAIN.s_req_hdrbytes"] - head_bytes, bad.len() as u64);
    // Closed after an answer that said so: the client asked (OK), an HTTP/1.0 client did not
    // ask to keep it (an error, as varnishd has it).
    p.request("GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").await;
    p.request("GET /slow HTTP/1.0\r\nHost: test\r\n\r\n").await;
    let v = values_once(&p, |v| v["MAIN.sc_req_close"] == 1 && v["MAIN.sc_req_http10"] == 1).await;
    let got = [v["MAIN.sc_req_close"], v["MAIN.sc_req_http10"], v["MAIN.sess_closed"], v["MAIN.sess_closed_err"]];
    assert_eq!(got, [1, 1, 4, 3]);
}

#[tokio::test]
async fn an_answer_that_says_close_counts_as_resp_close() {
    let o = Origin::start("o").await;
    let p = proxy(&vcl_for(&[&o], "sub vcl_deliver { set resp.http.Connection = \"close\"; }\n")).await;
    let r = p.get("/").await;
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    let v = values_once(&p, |v| v["MAIN.sc_resp_close"] == 1).await;
    assert_eq!((v["MAIN.sc_resp_close"], v["MAIN.sc_rem_close"], v["MAIN.sess_closed_err"]), (1, 0, 0));
}

/// Sends `raw` on a new connection and reads what comes back until the connection closes.
async fn exchange(p: &Proxy, raw: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(p.addr).await.expect("connect");
    c.write_all(raw).await.expect("write");
    let mut out = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), c.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the connection closes");
    out
}

/// A raw answer's head and body lengths.
fn split(raw: &[u8]) -> (u64, u64) {
    let head = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    (head as u64, (raw.len() - head) as u64)
}

/// The bytes each way as varnishd 7.1.1 counts them (checked on it): request heads and bodies,
/// answer heads and bodies as written (`s_req_*`, `s_resp_*`); a piped request's head, body
/// and everything written back as the pipe's instead (`s_pipe_*`, `sc_tx_pipe`).
#[tokio::test]
async fn bytes_each_way_are_counted_as_varnishd_counts_them() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=60".into()];
        b.body = "hello world".into();
    });
    let p = proxy(&vcl_for(&[&o], "sub vcl_recv { if (req.url ~ \"^/pipe\") { return (pipe); } }\n")).await;
    let get = "GET /a HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    let post = "POST /b HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
    // A miss, a hit, a POST (passed by the builtin) with its body.
    let mut heads = 0;
    let mut bodies = 0;
    for raw in [get.as_bytes().to_vec(), get.as_bytes().to_vec(), [post.as_bytes(), b"12345"].concat()] {
        let (head, body) = split(&exchange(&p, &raw).await);
        (heads, bodies) = (heads + head, bodies + body);
    }
    assert_eq!(bodies, 3 * "hello world".len() as u64);
    let v = values_once(&p, |v| v["MAIN.s_resp_bodybytes"] == bodies && v["MAIN.sc_req_close"] == 3).await;
    let got =
        ["s_req_hdrbytes", "s_req_bodybytes", "s_resp_hdrbytes", "s_resp_bodybytes"].map(|k| v[&format!("MAIN.{k}")]);
    assert_eq!(got, [2 * get.len() as u64 + post.len() as u64, 5, heads, bodies]);
    // A pipe: nothing more for the client side's counters.
    let pipe = "POST /pipe HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\n";
    let back = exchange(&p, &[pipe.as_bytes(), b"12345"].concat()).await;
    let v = values_once(&p, |v| v["MAIN.sc_tx_pipe"] == 1 && v["MAIN.n_pipe"] == 0).await;
    let keys = ["s_pipe", "s_pipe_hdrbytes", "s_pipe_in", "s_pipe_out", "n_pipe", "sc_tx_pipe", "s_req_hdrbytes"];
    let got = keys.map(|k| v[&format!("MAIN.{k}")]);
    let want = [1, pipe.len() as u64, 5, back.len() as u64, 0, 1, 2 * get.len() as u64 + post.len() as u64];
    assert_eq!(got, want);
    // A TX_PIPE close is Shellac's, not an error.
    assert_eq!((v["MAIN.sess_closed"], v["MAIN.sess_closed_err"]), (4, 0));
}

/// A connection that times out having sent nothing since its last answer was idle
/// (`RX_CLOSE_IDLE`: neither `sess_closed` nor an error); one that had sent part of a request
/// timed out (`RX_TIMEOUT`, an error); a head past `http_req_size` overflowed (`RX_OVERFLOW`,
/// an error); a request body that stops coming broke off (`RX_BODY`): as varnishd 7.1.1 counts
/// them.
#[tokio::test]
async fn idle_slow_overflowing_and_broken_off_connections_are_told_apart() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let o = Origin::start("o").await;
    let p = proxy_with(&vcl_for(&[&o], ""), |params| {
        params.timeout_idle = 0.3;
        params.http_req_size = 4096;
    })
    .await;
    let wait_close = |mut c: tokio::net::TcpStream| async move {
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), c.read_to_end(&mut sink)).await;
        sink
    };
    // Idle after an answer; idle from the start.
    let mut a = tokio::net::TcpStream::connect(p.addr).await.expect("connect");
    a.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n").await.expect("write");
    let b = tokio::net::TcpStream::connect(p.addr).await.expect("connect");
    // Part of a request, then nothing.
    let mut c = tokio::net::TcpStream::connect(p.addr).await.expect("connect");
    c.write_all(b"GET / HTTP/1.1\r\nHo").await.expect("write");
    let (answered, _, _) = tokio::join!(wait_close(a), wait_close(b), wait_close(c));
    assert!(answered.starts_with(b"HTTP/1.1 200"));
    let v = values_once(&p, |v| v["MAIN.sc_rx_close_idle"] + v["MAIN.sc_rx_timeout"] == 3).await;
    let got = ["sc_rx_close_idle", "sc_rx_timeout", "sess_closed", "sess_closed_err"].map(|k| v[&format!("MAIN.{k}")]);
    assert_eq!(got, [2, 1, 0, 1]);
    // A head past http_req_size, however it arrives.
    let big = format!("GET / HTTP/1.1\r\nHost: test\r\nX-Big: {}\r\n\r\n", "a".repeat(5000));
    let answer = exchange(&p, big.as_bytes()).await;
    assert!(answer.is_empty() || answer.starts_with(b"HTTP/1.1 431"), "{}", String::from_utf8_lossy(&answer));
    let v = values_once(&p, |v| v["MAIN.sc_rx_overflow"] == 1).await;
    let got = ["sc_rx_overflow", "sess_closed", "sess_closed_err", "client_req"].map(|k| v[&format!("MAIN.{k}")]);
    assert_eq!(got, [1, 0, 2, 1]);
    // A body that stops coming: the fetch fails, the connection cannot go on (`RX_BODY`, closed
    // by Shellac, an error), and none of the body counts.
    let answer = exchange(&p, b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789").await;
    assert!(answer.starts_with(b"HTTP/1.1 503"), "{}", String::from_utf8_lossy(&answer));
    let v = values_once(&p, |v| v["MAIN.sc_rx_body"] == 1).await;
    let got = ["sc_rx_body", "sess_closed", "sess_closed_err", "s_req_bodybytes"].map(|k| v[&format!("MAIN.{k}")]);
    assert_eq!(got, [1, 1, 3, 0]);
}

/// `varnishstat -1` lists `MAIN` in varnishd's order.
#[tokio::test]
async fn main_counters_come_in_varnishds_order() {
    let o = Origin::start("o").await;
    let p = proxy(&vcl_for(&[&o], "")).await;
    let names: Vec<String> =
        server_points(&p.server).into_iter().map(|p| p.name).filter(|n| n.starts_with("MAIN.")).collect();
    let at = |n: &str| names.iter().position(|x| x == n).unwrap_or_else(|| panic!("{n} listed"));
    let order =
        ["MAIN.uptime", "MAIN.sess_conn", "MAIN.client_req", "MAIN.threads", "MAIN.n_object", "MAIN.n_objecthead"];
    let more = [
        "MAIN.n_lru_moved",
        "MAIN.s_sess",
        "MAIN.n_pipe",
        "MAIN.s_req_hdrbytes",
        "MAIN.sess_closed",
        "MAIN.sc_rem_close",
    ];
    let last = [
        "MAIN.sc_rx_close_idle",
        "MAIN.sc_tx_pipe",
        "MAIN.sc_resp_close",
        "MAIN.backend_req",
        "MAIN.bans",
        "MAIN.n_gzip",
    ];
    let all: Vec<usize> = order.iter().chain(&more).chain(&last).map(|n| at(n)).collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{names:?}");
}

/// An answer whose length is not known as it goes (a miss still streaming a chunked body) to an
/// HTTP/1.0 client that asked to keep its connection goes to the connection's end, which
/// closes after it: `TX_EOF`, an OK close, as varnishd 7.1.1 counts it (checked on it).
#[tokio::test]
async fn a_body_to_the_connections_end_counts_as_tx_eof() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // An origin that sends a chunked body in two parts, a moment apart.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = c.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=60\r\n\r\n";
                let _ = c.write_all(format!("{head}5\r\nhello\r\n").as_bytes()).await;
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                let _ = c.write_all(b"6\r\n world\r\n0\r\n\r\n").await;
            });
        }
    });
    let vcl = format!("vcl 4.1;\nbackend o {{ .host = \"127.0.0.1\"; .port = \"{}\"; }}\n", origin.port());
    let p = proxy(&vcl).await;
    let answer = exchange(&p, b"GET /eof HTTP/1.0\r\nHost: test\r\nConnection: keep-alive\r\n\r\n").await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.ends_with("\r\n\r\nhello world"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("content-length"), "{text}");
    let v = values_once(&p, |v| v["MAIN.sc_tx_eof"] == 1).await;
    let got = ["sc_tx_eof", "sc_rem_close", "sess_closed", "sess_closed_err"].map(|k| v[&format!("MAIN.{k}")]);
    assert_eq!(got, [1, 0, 1, 0]);
}
