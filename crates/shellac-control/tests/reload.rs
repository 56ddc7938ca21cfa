//! Zero loss across reloads: keep-alive clients run through 50 `vcl.load` + `vcl.use` cycles that
//! add and remove backends. No request fails, and no request that starts after `vcl.use`
//! returned reaches a backend the new VCL dropped. A bad VCL is refused and changes nothing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shellac_control::manager::{Manager, VclText};
use shellac_engine::listener::{self, Listen};
use shellac_engine::params::Params;
use shellac_engine::server::Server;
use shellac_testkit::{Client, Origin};
use tokio::net::TcpListener;

/// VCL generation `g` balances over origins g and g+1.
fn vcl(origins: &[Origin], g: usize) -> String {
    let (a, b) = (&origins[g], &origins[g + 1]);
    format!(
        "vcl 4.1;\nimport directors;\n{}{}sub vcl_init {{ new rr = directors.round_robin(); rr.add_backend({}); rr.add_backend({}); }}\n\
         sub vcl_recv {{ set req.backend_hint = rr.backend(); return (pass); }}\n",
        a.backend_vcl(""),
        b.backend_vcl(""),
        a.name,
        b.name
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_reloads_lose_nothing_and_never_reach_a_removed_backend() {
    const RELOADS: usize = 50;
    let mut origins = Vec::new();
    for i in 0..=RELOADS + 1 {
        origins.push(Origin::start(&format!("o{i}")).await);
    }
    let server = Server::new(Params::default());
    let manager = Arc::new(Manager::new(server.clone(), false));
    manager.load("g0", VclText::Inline(vcl(&origins, 0))).await.expect("load g0");
    manager.use_vcl("g0").expect("use g0");
    let socket = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    let listens = vec![Listen {
        name: "a0".into(),
        endpoint: addr.to_string(),
        socket: shellac_engine::client_io::Socket::Tcp(socket),
        proxy: false,
    }];
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(listener::serve(server.clone(), listens, async {
        let _ = stop_rx.await;
    }));

    // The generation whose vcl.use has returned.
    let generation = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (generation, done) = (generation.clone(), done.clone());
        clients.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            let (mut served, mut violations, mut failures) = (0usize, Vec::new(), 0usize);
            while !done.load(Ordering::Acquire) && served < 100_000 {
                let g = generation.load(Ordering::Acquire);
                let r = c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
                if r.status != 200 {
                    failures += 1;
                    c = Client::connect(addr).await;
                    continue;
                }
                served += 1;
                let origin: usize = r.header("x-origin").and_then(|o| o[1..].parse().ok()).unwrap_or(usize::MAX);
                if origin < g {
                    violations.push((g, origin));
                }
            }
            (served, violations, failures)
        }));
    }
    for g in 1..=RELOADS {
        let name = format!("g{g}");
        manager.load(&name, VclText::Inline(vcl(&origins, g))).await.expect("load");
        if g == RELOADS / 2 {
            let bad = manager
                .load(
                    "broken",
                    VclText::Inline(
                        "vcl 4.1;\nbackend b { .host = \"127.0.0.1\"; }\nsub vcl_recv { set req.nope = 1; }\n".into(),
                    ),
                )
                .await;
            let (status, text) = bad.expect_err("a bad VCL is refused");
            assert_eq!(status as u16, 106);
            assert!(text.contains("req.nope"), "{text}");
        }
        manager.use_vcl(&name).expect("use");
        generation.store(g, Ordering::Release);
        let old = format!("g{}", g - 1);
        manager.discard(&[old]).expect("discard the previous VCL");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    done.store(true, Ordering::Release);
    let mut total = 0;
    for c in clients {
        let (served, violations, failures) = c.await.expect("client");
        assert_eq!(failures, 0, "no request failed");
        assert!(violations.is_empty(), "requests reached removed backends: {violations:?}");
        total += served;
    }
    assert!(total > 200, "the clients kept going ({total} requests)");
    // Only the last VCL is left, and it is active.
    assert!(manager.list().trim_start().starts_with("active"));
    let _ = stop_tx.send(());
}
