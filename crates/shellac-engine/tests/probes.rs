//! Health probes (spec §2): what counts as a good probe, the history registers, the request
//! sent, and history carried over to a newly loaded VCL with the same backend and probe.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use shellac_engine::backend::probe::{newest_slots, Flag, ProbeSpec, Prober};

fn spec(request: &str, timeout_ms: u64) -> ProbeSpec {
    ProbeSpec {
        request: request.as_bytes().to_vec(),
        timeout: Duration::from_millis(timeout_ms),
        interval: Duration::from_secs(3600),
        window: 8,
        threshold: 3,
        initial: 2,
        expected: 200,
    }
}

async fn poke_once(o: &Origin, timeout_ms: u64) -> (String, String) {
    let p = Prober::new(
        "t".into(),
        shellac_engine::backend::address::Address::Ip(o.addr),
        spec("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", timeout_ms),
    );
    p.poke().await;
    let st = p.state();
    (newest_slots(&st.bits), st.message)
}

#[tokio::test]
async fn good_and_bad_answers_are_told_apart_as_varnish_does() {
    let o = Origin::start("p").await;
    assert_eq!(poke_once(&o, 1000).await, ("4---X-RH".into(), "HTTP/1.1 200 OK".into()));
    o.set_status(404);
    assert_eq!(poke_once(&o, 1000).await.0, "4---X-R-");
    o.set(|b| b.raw = Some("HTTP/1.1 200 \r\n".into()));
    assert_eq!(poke_once(&o, 1000).await.0, "4---X-RH", "a bare status line is enough");
    o.set(|b| b.raw = Some("FROBOZ 200 OK\r\n\r\n".into()));
    assert_eq!(poke_once(&o, 1000).await.0, "4---X-R-");
    o.set(|b| b.raw = Some(String::new()));
    assert_eq!(poke_once(&o, 1000).await, ("4---X---".into(), "Empty response".into()));
    // An answer without EOF times out: only a closed connection ends a probe.
    o.set(|b| {
        b.raw = Some("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".into());
        b.hold_open = Some(Duration::from_secs(2));
    });
    let (slots, msg) = poke_once(&o, 200).await;
    assert_eq!(slots, "4---Xr--");
    assert_eq!(msg, "Poll timeout");
    o.refuse();
    let (slots, msg) = poke_once(&o, 200).await;
    assert_eq!(slots, "--------");
    assert!(msg.starts_with("Open error"), "{msg}");
}

#[tokio::test]
async fn the_verdict_follows_window_and_threshold() {
    let o = Origin::start("p").await;
    let p = Prober::new(
        "t".into(),
        shellac_engine::backend::address::Address::Ip(o.addr),
        spec("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 1000),
    );
    // initial 2 < threshold 3.
    assert!(!p.is_healthy());
    p.poke().await;
    assert!(p.is_healthy());
    assert_eq!(p.state().bits[Flag::Happy as usize], 0b111);
    o.set_status(500);
    for _ in 0..5 {
        p.poke().await;
    }
    // Three happy slots still inside the window of 8.
    assert!(p.is_healthy());
    p.poke().await;
    assert!(!p.is_healthy(), "the oldest good probe left the window");
    assert_eq!(p.state().good, 2);
}

#[tokio::test]
async fn url_probes_send_host_and_close_and_request_probes_are_verbatim() {
    let o = Origin::start("p").await;
    let vcl = format!(
        "vcl 4.1;\nbackend a {{ .host = \"{h}\"; .port = \"{port}\"; .host_header = \"site.example\"; .probe = {{ .url = \"/health\"; .interval = 50ms; }} }}\n\
         backend b {{ .host = \"{h}\"; .port = \"{port}\"; .probe = {{ .request = \"HEAD /raw HTTP/1.0\" \"X-Probe: yes\"; .interval = 50ms; }} }}\n\
         sub vcl_recv {{ if (req.url == \"/b\") {{ set req.backend_hint = b; }} }}\n",
        h = o.host(),
        port = o.port()
    );
    let _p = proxy(&vcl).await;
    assert!(eventually(Duration::from_secs(3), || o.hits() >= 2).await);
    let reqs = o.requests();
    let url = reqs.iter().find(|r| r.line == "GET /health HTTP/1.1").expect("url probe");
    assert_eq!(
        url.headers,
        [("Host".to_string(), "site.example".to_string()), ("Connection".to_string(), "close".to_string())]
    );
    let raw = reqs.iter().find(|r| r.line == "HEAD /raw HTTP/1.0").expect("request probe");
    assert_eq!(raw.headers, [("X-Probe".to_string(), "yes".to_string())]);
}

#[tokio::test]
async fn probe_history_survives_a_reload_for_the_same_backend_and_probe() {
    let o = Origin::start("p").await;
    let probe = ".probe = { .url = \"/\"; .interval = 50ms; .window = 5; .threshold = 5; .initial = 0; }";
    let vcl = vcl_for(&[], &o.backend_vcl(probe));
    let p = proxy(&vcl).await;
    let first = p.backend("p");
    assert!(eventually(Duration::from_secs(5), || first.is_healthy()).await, "five good probes");
    // A new VCL with the same backend and probe: healthy at once, same history.
    let second_vcl = load(&p.server, "second", &vcl);
    let second = second_vcl.backends[0].clone();
    assert!(second.is_healthy(), "no restart from sick (Varnish issue 2195)");
    assert!(Arc::ptr_eq(first.probe.as_ref().expect("probe"), second.probe.as_ref().expect("probe")));
    // A different probe definition is a different identity and starts afresh.
    let other = load(&p.server, "third", &vcl_for(&[], &o.backend_vcl(&probe.replace("50ms", "60ms"))));
    assert!(!other.backends[0].is_healthy(), "initial 0: sick until probed");
}

#[tokio::test]
async fn the_interval_counts_from_the_end_of_the_previous_probe() {
    // Each probe takes its full 300 ms timeout (the origin holds the connection open), the
    // interval is 200 ms: one probe per 500 ms, not one per 200 ms, and never two at once.
    let o = Origin::start("p").await;
    o.set(|b| {
        b.raw = Some("HTTP/1.1 200 OK\r\n\r\n".into());
        b.hold_open = Some(Duration::from_secs(5));
    });
    let mut s = spec("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 300);
    s.interval = Duration::from_millis(200);
    let p = Arc::new(Prober::new("t".into(), shellac_engine::backend::address::Address::Ip(o.addr), s));
    p.warm();
    p.start();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let n = p.state().count;
    assert!((3..=4).contains(&n), "{n} probes in 1.6 s");
    // One connection per probe, plus the one in progress, if any.
    let conns = o.connections() as u64;
    assert!(conns == n || conns == n + 1, "{conns} connections for {n} probes");
}

#[tokio::test]
async fn a_cold_vcl_stops_probing_and_a_warm_one_resumes() {
    let o = Origin::start("p").await;
    let vcl = vcl_for(&[], &o.backend_vcl(".probe = { .url = \"/\"; .interval = 50ms; }"));
    let p = proxy(&vcl).await;
    assert!(eventually(Duration::from_secs(3), || o.hits() >= 2).await, "warm: probing");
    let active = p.server.active().expect("active");
    active.set_warm(false);
    tokio::time::sleep(Duration::from_millis(120)).await;
    let before = o.hits();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(o.hits(), before, "cold: no probes");
    active.set_warm(true);
    assert!(eventually(Duration::from_secs(3), || o.hits() > before).await, "warm again: probing");
}
