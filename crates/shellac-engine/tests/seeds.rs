//! Every example of seed 004 and seed 000's generated VCL, end to end against in-process
//! origins (host names rewritten to the origins' addresses, probe intervals shortened).

mod common;

use std::time::Duration;

use common::*;
use shellac_engine::backend::Admin;
use shellac_engine::director::hash::key_point;

async fn seq(p: &Proxy, n: usize, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(who(&p.get(path).await));
    }
    out
}

#[tokio::test]
async fn s01_content_aware_routing() {
    let (public, admin) = (Origin::start("public").await, Origin::start("admin").await);
    let p = proxy(&seed004("01-content-aware.vcl", &[("web001.example.com", &public), ("web002.example.com", &admin)]))
        .await;
    assert_eq!(who(&p.get("/admin").await), "admin");
    assert_eq!(who(&p.get("/admin/users").await), "admin");
    // The pattern is anchored at the start only, so this is admin's too, as in Varnish.
    assert_eq!(who(&p.get("/administrator").await), "admin");
    assert_eq!(who(&p.get("/public/admin").await), "public");
    assert_eq!(who(&p.get("/").await), "public");
}

#[tokio::test]
async fn s02_a_probed_backend_goes_sick_and_healthy_again() {
    let (public, admin) = (Origin::start("public").await, Origin::start("admin").await);
    let p = proxy(&seed004("02-health-probes.vcl", &[("web001.example.com", &public), ("web002.example.com", &admin)]))
        .await;
    let be = p.backend("admin");
    // .initial = 1 < .threshold = 3: sick until two more good probes.
    assert!(eventually(Duration::from_secs(5), || be.is_healthy()).await, "admin becomes healthy");
    assert_eq!(p.get("/admin").await.status, 200);
    admin.set_status(500);
    assert!(eventually(Duration::from_secs(5), || !be.is_healthy()).await, "admin goes sick");
    let r = p.get("/admin").await;
    assert_eq!((r.status, r.reason.as_str()), (503, "Backend fetch failed"));
    let hits = admin.requests().iter().filter(|r| !r.line.starts_with("GET / ")).count();
    assert_eq!(hits, 1, "no request reaches a sick backend");
    admin.set_status(200);
    assert!(eventually(Duration::from_secs(5), || be.is_healthy()).await, "admin recovers");
    assert_eq!(who(&p.get("/admin").await), "admin");
    // The history records it.
    let st = be.probe.as_ref().expect("probe").state();
    assert!(st.good >= 3 && st.count >= 6, "{st:?}");
}

#[tokio::test]
async fn s03_directors_with_probes_round_robin_over_healthy_members() {
    let (a, b) = (Origin::start("web001").await, Origin::start("web002").await);
    let p = proxy(&seed004("03-directors.vcl", &[("web001.example.com", &a), ("web002.example.com", &b)])).await;
    let (ba, bb) = (p.backend("web001"), p.backend("web002"));
    assert!(eventually(Duration::from_secs(5), || ba.is_healthy() && bb.is_healthy()).await);
    let s = seq(&p, 4, "/x").await;
    assert!(s == ["web001", "web002", "web001", "web002"] || s == ["web002", "web001", "web002", "web001"], "{s:?}");
    b.set_status(500);
    assert!(eventually(Duration::from_secs(5), || !bb.is_healthy()).await);
    assert_eq!(seq(&p, 3, "/y").await, ["web001"; 3]);
}

#[tokio::test]
async fn s04_round_robin_order_skipping_and_all_sick() {
    let (a, b, c) = (Origin::start("b1").await, Origin::start("b2").await, Origin::start("b3").await);
    let p = proxy(&seed004(
        "04-round-robin.vcl",
        &[("web001.example.com", &a), ("web002.example.com", &b), ("web003.example.com", &c)],
    ))
    .await;
    assert_eq!(seq(&p, 6, "/").await, ["b1", "b2", "b3", "b1", "b2", "b3"]);
    p.backend("backend2").set_admin(Admin::Sick);
    // The position is back at b1 after six requests; b2 is skipped.
    assert_eq!(seq(&p, 4, "/").await, ["b1", "b3", "b1", "b3"]);
    p.backend("backend1").set_admin(Admin::Sick);
    p.backend("backend3").set_admin(Admin::Sick);
    let r = p.get("/").await;
    assert_eq!((r.status, r.reason.as_str()), (503, "Backend fetch failed"));
    p.backend("backend2").set_admin(Admin::Auto);
    assert_eq!(seq(&p, 2, "/").await, ["b2", "b2"]);
}

#[tokio::test]
async fn s05_random_shares_follow_weights() {
    let (a, b) = (Origin::start("b1").await, Origin::start("b2").await);
    let p = proxy(&seed004("05-random.vcl", &[("web001.example.com", &a), ("web002.example.com", &b)])).await;
    let s = seq(&p, 600, "/").await;
    let share = s.iter().filter(|w| *w == "b2").count() as f64 / s.len() as f64;
    // Weight 2 of 3: two thirds, with room for chance (p of falling outside < 1e-6).
    assert!((0.57..0.76).contains(&share), "share of b2: {share}");
    p.backend("backend2").set_admin(Admin::Sick);
    assert_eq!(seq(&p, 20, "/").await, vec!["b1"; 20]);
}

#[tokio::test]
async fn s06_hash_on_client_ip_is_sticky_and_moves_when_sick() {
    let (a, b) = (Origin::start("b1").await, Origin::start("b2").await);
    let p = proxy(&seed004("06-hash-client-ip.vcl", &[("web001.example.com", &a), ("web002.example.com", &b)])).await;
    let (expected, other, other_be) =
        if key_point(b"127.0.0.1") < 0.5 { ("b1", "b2", "backend1") } else { ("b2", "b1", "backend2") };
    assert_eq!(seq(&p, 10, "/").await, vec![expected; 10]);
    p.backend(other_be).set_admin(Admin::Sick);
    assert_eq!(seq(&p, 5, "/").await, vec![other; 5]);
}

#[tokio::test]
async fn s07_hash_on_a_cookie_maps_each_session_to_one_backend() {
    let (a, b) = (Origin::start("b1").await, Origin::start("b2").await);
    let p = proxy(&seed004("07-hash-cookie.vcl", &[("web001.example.com", &a), ("web002.example.com", &b)])).await;
    for sess in ["abc123", "zz9", "SESSIONX", "q1", "777"] {
        let want = if key_point(sess.as_bytes()) < 0.5 { "b1" } else { "b2" };
        for _ in 0..3 {
            let r = p
                .request(&format!("GET /p HTTP/1.1\r\nHost: a\r\nCookie: lang=en; PHPSESSID={sess}; x=y\r\n\r\n"))
                .await;
            assert_eq!(who(&r), want, "session {sess}");
        }
    }
}

#[tokio::test]
async fn s08_hash_on_the_url() {
    let (a, b) = (Origin::start("b1").await, Origin::start("b2").await);
    let p = proxy(&seed004("08-hash-url.vcl", &[("web001.example.com", &a), ("web002.example.com", &b)])).await;
    let mut seen = std::collections::HashSet::new();
    for i in 0..20 {
        let url = format!("/page/{i}");
        let want = if key_point(url.as_bytes()) < 0.5 { "b1" } else { "b2" };
        assert_eq!(who(&p.get(&url).await), want, "{url}");
        assert_eq!(who(&p.get(&url).await), want, "{url} again");
        seen.insert(want);
    }
    assert_eq!(seen.len(), 2, "20 URLs spread over both backends");
}

#[tokio::test]
async fn s09_fallback_uses_the_first_healthy_member() {
    let (a, b) = (Origin::start("web001").await, Origin::start("web002").await);
    let p = proxy(&seed004("09-fallback.vcl", &[("web001.example.com", &a), ("web002.example.com", &b)])).await;
    let (ba, bb) = (p.backend("web001"), p.backend("web002"));
    assert!(eventually(Duration::from_secs(5), || ba.is_healthy() && bb.is_healthy()).await);
    assert_eq!(seq(&p, 3, "/").await, ["web001"; 3]);
    a.set_status(500);
    assert!(eventually(Duration::from_secs(5), || !ba.is_healthy()).await);
    assert_eq!(seq(&p, 3, "/").await, ["web002"; 3]);
    a.set_status(200);
    assert!(eventually(Duration::from_secs(5), || ba.is_healthy()).await);
    assert_eq!(seq(&p, 2, "/").await, ["web001"; 2], "not sticky: back to the first");
}

#[tokio::test]
async fn s10_stacked_directors_fail_over_between_data_centres() {
    let o: Vec<Origin> = futures_join(["dc1w1", "dc1w2", "dc2w1", "dc2w2"]).await;
    let p = proxy(&seed004(
        "10-stacked.vcl",
        &[
            ("dc1-web1.example.com", &o[0]),
            ("dc1-web2.example.com", &o[1]),
            ("dc2-web1.example.com", &o[2]),
            ("dc2-web2.example.com", &o[3]),
        ],
    ))
    .await;
    assert_eq!(seq(&p, 4, "/").await, ["dc1w1", "dc1w2", "dc1w1", "dc1w2"]);
    p.backend("dc1_web1").set_admin(Admin::Sick);
    assert_eq!(seq(&p, 2, "/").await, ["dc1w2", "dc1w2"]);
    p.backend("dc1_web2").set_admin(Admin::Sick);
    let s = seq(&p, 4, "/").await;
    assert!(s == ["dc2w1", "dc2w2", "dc2w1", "dc2w2"] || s == ["dc2w2", "dc2w1", "dc2w2", "dc2w1"], "{s:?}");
    p.backend("dc2_web1").set_admin(Admin::Sick);
    p.backend("dc2_web2").set_admin(Admin::Sick);
    assert_eq!(p.get("/").await.status, 503);
    p.backend("dc1_web1").set_admin(Admin::Auto);
    assert_eq!(seq(&p, 2, "/").await, ["dc1w1", "dc1w1"]);
}

async fn futures_join<const N: usize>(names: [&str; N]) -> Vec<Origin> {
    let mut v = Vec::new();
    for n in names {
        v.push(Origin::start(n).await);
    }
    v
}

#[tokio::test]
async fn s11_s12_grace_examples_serve_a_stale_copy_while_the_backend_fails() {
    for file in ["11-grace-vcl-hit.vcl", "12-grace-beresp.vcl"] {
        let o = Origin::start("web").await;
        o.set(|b| b.headers = vec!["Cache-Control: max-age=1".into()]);
        let p = proxy(&seed004(file, &[("web001.example.com", &o)])).await;
        assert_eq!(who(&p.get("/").await), "web", "{file}");
        assert_eq!(who(&p.get("/").await), "web", "{file}");
        assert_eq!(o.hits(), 1, "{file}: the second request was a hit");
        // The backend fails; once the object is stale, grace keeps it serving ("grace mode only
        // works for items that are stored in cache").
        o.set_status(500);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        for _ in 0..3 {
            let r = p.get("/").await;
            assert_eq!((r.status, who(&r).as_str()), (200, "web"), "{file}");
            assert!(r.header("age").and_then(|a| a.parse::<u32>().ok()).is_some_and(|a| a >= 1), "{file}: stale");
        }
        assert!(o.hits() >= 2, "{file}: background fetches tried the backend");
    }
}

#[tokio::test]
async fn seed000_generated_vcl_balances_over_three_probed_backends() {
    let o = futures_join(["p1", "p2", "p3"]).await;
    let mut backends = example("seed-000/config.d/backends.vcl");
    for (i, origin) in o.iter().enumerate() {
        backends = backends.replace(
            &format!(".host = \"172.17.8.10{}\";\n        .port = \"80\";", i + 1),
            &format!(".host = \"{}\";\n        .port = \"{}\";", origin.host(), origin.port()),
        );
    }
    backends = backends.replace(".interval = 3s;", ".interval = 50ms;");
    assert!(!backends.contains("172.17.8.10") || backends.matches("Host: 172.17.8.10").count() == 3, "rewritten");
    let program = compile_files(
        &example("seed-000/default.vcl"),
        &[("config.d/backends.vcl", backends), ("config.d/directors.vcl", example("seed-000/config.d/directors.vcl"))],
    );
    let p = proxy_program(program).await;
    let bs: Vec<_> = ["project_1", "project_2", "project_3"].iter().map(|n| p.backend(n)).collect();
    // threshold 8, window 10, initial 7: sick until the first good probe.
    assert!(eventually(Duration::from_secs(5), || bs.iter().all(|b| b.is_healthy())).await);
    let s = seq(&p, 6, "/").await;
    for name in ["p1", "p2", "p3"] {
        assert_eq!(s.iter().filter(|w| *w == name).count(), 2, "{s:?}");
    }
    // The probe requests are the seed's, verbatim.
    let probe = o[0].requests().into_iter().find(|r| r.line == "GET /probe.txt HTTP/1.1").expect("a probe");
    assert!(probe.headers.iter().any(|(n, v)| n == "Host" && v == "172.17.8.101"));
    o[1].set_status(500);
    assert!(eventually(Duration::from_secs(5), || !bs[1].is_healthy()).await);
    let s = seq(&p, 4, "/").await;
    assert!(!s.contains(&"p2".to_string()), "{s:?}");
}
