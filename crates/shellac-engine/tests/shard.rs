//! The shard director (`directors.shard()`, Varnish 7.1's consistent hashing; issue 23): a sick
//! member moves only its share, `by=HASH` takes the object's hash on the backend side and when
//! resolved lazily, rampup and warmup send a chosen member's requests to the next one, and an
//! `etcd.director(policy = shard)` keeps its key → node map when a node joins. (That the ring
//! picks what varnishd picks is the unit tests', from values read off varnishd 7.1.1.)

mod common;

use std::collections::HashMap;

use common::*;
use shellac_engine::backend::Admin;
use shellac_engine::catalog::{Change, Entry};
use shellac_engine::params::Params;
use shellac_engine::server::Server;

/// Who serves each of `urls`.
async fn routes(p: &Proxy, urls: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for u in urls {
        out.push(who(&p.get(u).await));
    }
    out
}

/// A shard director `s` over b1, b2 and b3, for vcl_init.
const SHARD3: &str =
    "new s = directors.shard(); s.add_backend(b1); s.add_backend(b2); s.add_backend(b3); s.reconfigure();";

fn urls(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("/k{i}")).collect()
}

#[tokio::test]
async fn a_sick_member_moves_only_its_share_and_gets_it_back() {
    let o: Vec<Origin> = futures_join(["b1", "b2", "b3", "b4"]).await;
    let refs: Vec<&Origin> = o.iter().collect();
    let vcl = vcl_for(
        &refs,
        "import directors;\n\
         sub vcl_init { new s = directors.shard(); s.add_backend(b1); s.add_backend(b2); s.add_backend(b3); s.add_backend(b4); s.reconfigure(); }\n\
         sub vcl_recv { set req.backend_hint = s.backend(by=URL); return (pass); }\n",
    );
    let p = proxy(&vcl).await;
    let urls = urls(40);
    let before = routes(&p, &urls).await;
    assert_eq!(before, routes(&p, &urls).await, "the same URL, the same member");
    let spread: HashMap<&String, usize> = before.iter().fold(HashMap::new(), |mut m, w| {
        *m.entry(w).or_default() += 1;
        m
    });
    assert!(spread.len() >= 3 && spread.contains_key(&"b2".to_string()), "{spread:?}");
    p.backend("b2").set_admin(Admin::Sick);
    let sick = routes(&p, &urls).await;
    for (i, (was, now)) in before.iter().zip(&sick).enumerate() {
        if was == "b2" {
            assert_ne!(now, "b2", "{} left the sick member", urls[i]);
        } else {
            assert_eq!(now, was, "{} stays where it was", urls[i]);
        }
    }
    p.backend("b2").set_admin(Admin::Auto);
    assert_eq!(routes(&p, &urls).await, before, "back on its member once healthy");
}

#[tokio::test]
async fn by_hash_takes_the_objects_hash_on_the_backend_side_and_when_resolved_lazily() {
    // The round robin's only member is the shard director itself (resolve=LAZY in vcl_init):
    // the fetch resolves it by the object's hash; vcl_backend_fetch asks the same now.
    let (_o, p) = three(&format!(
        "import directors;\n\
             sub vcl_init {{ {SHARD3} new rr = directors.round_robin(); rr.add_backend(s.backend()); }}\n\
             sub vcl_recv {{ set req.backend_hint = rr.backend(); }}\n\
             sub vcl_backend_fetch {{ set bereq.http.x-now = s.backend(); }}\n\
             sub vcl_backend_response {{ set beresp.http.x-now = bereq.http.x-now; }}\n"
    ))
    .await;
    let mut served = HashMap::new();
    for u in urls(24) {
        let r = p.get(&u).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-now"), Some(who(&r).as_str()), "{u}: the lazy and the backend-side choice agree");
        *served.entry(who(&r)).or_insert(0) += 1;
    }
    assert!(served.len() >= 2, "{served:?}");
}

#[tokio::test]
async fn rampup_and_warmup_send_the_chosen_members_requests_to_the_next_one() {
    // b1 ramps up for 1000 s from now; the others do not ramp up.
    let (_o, p) = three("import directors;\nimport std;\n\
         sub vcl_init { new s = directors.shard(); s.add_backend(b1, rampup = 1000s); s.add_backend(b2); s.add_backend(b3); s.reconfigure(); }\n\
         sub vcl_recv { return (synth(200)); }\n\
         sub vcl_synth {\n\
           set resp.http.chosen = s.backend(by=KEY, key=std.integer(req.http.k), healthy=IGNORE);\n\
           set resp.http.next = s.backend(by=KEY, key=std.integer(req.http.k), alt=1, healthy=IGNORE);\n\
           set resp.http.pick = s.backend(by=KEY, key=std.integer(req.http.k));\n\
           set resp.http.warm = s.backend(by=KEY, key=std.integer(req.http.k), warmup=0.999, rampup=false);\n\
         }\n").await;
    let (mut ramping, mut settled) = (Vec::new(), Vec::new());
    for k in 1..=60u32 {
        let r = p.request(&format!("GET / HTTP/1.1\r\nHost: a\r\nk: {}\r\n\r\n", k.wrapping_mul(71_582_788))).await;
        let h = |n: &str| r.header(n).unwrap_or("").to_string();
        if h("chosen") == "b1" {
            ramping.push((h("next"), h("pick"), h("chosen"), h("warm")));
        } else {
            settled.push((h("next"), h("pick"), h("chosen"), h("warm")));
        }
    }
    assert!(ramping.len() >= 5 && settled.len() >= 5, "{} {}", ramping.len(), settled.len());
    // Ramping up (0.1 s of 1000): its requests go to the next member, but for the odd throw
    // of the dice (p ≈ 1e-4 each); warmup does not apply to it.
    let moved = ramping.iter().filter(|(next, pick, ..)| pick == next).count();
    assert!(moved >= ramping.len() - 1, "{ramping:?}");
    assert!(ramping.iter().all(|(_, _, chosen, warm)| warm == chosen), "{ramping:?}");
    // Settled: the chosen member, unless warmup (0.999) sends it on.
    assert!(settled.iter().all(|(_, pick, chosen, _)| pick == chosen), "{settled:?}");
    let warmed = settled.iter().filter(|(next, .., warm)| warm == next).count();
    assert!(warmed >= settled.len() - 1, "{settled:?}");
}

/// Varnish's own example of a parameter set: the director is chosen lazily on the client side,
/// and the backend request changes the set it is associated with (here `alt=1`, `by=URL`); the
/// fetch resolves the director with the request's copy, which no other request sees.
#[tokio::test]
async fn a_parameter_set_changed_in_the_backend_request_steers_the_lazy_resolution() {
    let (_o, p) = three(&format!(
            "import directors;\n\
             sub vcl_init {{ new p = directors.shard_param(); {SHARD3} s.associate(p.use()); }}\n\
             sub vcl_recv {{ set req.backend_hint = s.backend(resolve=LAZY); return (pass); }}\n\
             sub vcl_backend_fetch {{\n\
               set bereq.http.x-first = s.backend(by=URL);\n\
               if (bereq.http.alt) {{ p.set(alt=1, by=URL); }} else {{ p.set(by=URL); }}\n\
               set bereq.http.x-set = p.get_by() + \" \" + p.get_alt();\n\
             }}\n\
             sub vcl_backend_response {{ set beresp.http.x-first = bereq.http.x-first; set beresp.http.x-set = bereq.http.x-set; }}\n"
        )).await;
    for u in urls(12) {
        let plain = p.get(&u).await;
        assert_eq!(plain.header("x-set"), Some("URL 0"));
        assert_eq!(who(&plain), plain.header("x-first").unwrap_or(""), "{u}: by=URL through the set");
        let alt = p.request(&format!("GET {u} HTTP/1.1\r\nHost: a\r\nalt: 1\r\n\r\n")).await;
        assert_eq!(alt.header("x-set"), Some("URL 1"), "the request's own copy");
        assert_ne!(who(&alt), who(&plain), "{u}: alt=1 is the next member");
    }
}

/// A lazy `.backend()` with arguments: on the backend side they hold for this request's
/// resolution; in vcl_init and on the client side they are an error (as varnishd has it).
#[tokio::test]
async fn lazy_arguments_hold_for_the_backend_request_and_fail_on_the_client_side() {
    let (_o, p) = three(&format!(
        "import directors;\n\
         sub vcl_init {{ {SHARD3} }}\n\
         sub vcl_recv {{ if (req.http.client) {{ set req.backend_hint = s.backend(resolve=LAZY, alt=1); }} return (pass); }}\n\
         sub vcl_backend_fetch {{\n\
           set bereq.http.x-want = s.backend(by=URL, alt=1);\n\
           set bereq.backend = s.backend(resolve=LAZY, by=URL, alt=1);\n\
         }}\n\
         sub vcl_backend_response {{ set beresp.http.x-want = bereq.http.x-want; }}\n"
    ))
    .await;
    for u in urls(8) {
        let r = p.get(&u).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-want"), Some(who(&r).as_str()), "{u}: resolved with the request's arguments");
    }
    let r = p.request("GET / HTTP/1.1\r\nHost: a\r\nclient: 1\r\n\r\n").await;
    assert_eq!(r.status, 503, "LAZY with arguments on the client side fails the VCL");
}

#[tokio::test]
async fn an_etcd_director_with_the_shard_policy_keeps_its_key_map_when_a_node_joins() {
    const ROOT: &str = "/varnish/backends/";
    let o: Vec<Origin> = futures_join(["a", "b", "c", "d"]).await;
    let server = Server::new(Params::default());
    server.registry.catalog.set_root(ROOT);
    let entry = |o: &Origin| {
        let endpoint = o.addr.to_string();
        Entry {
            key: format!("{ROOT}web/{endpoint}"),
            endpoint,
            host: o.host(),
            target: Ok(o.addr),
            weight: 1.0,
            drain: false,
        }
    };
    for x in &o[..3] {
        server.registry.catalog.apply([Change::Put(entry(x))]);
    }
    let vcl = "vcl 4.1;\nimport etcd;\nbackend default none;\n\
               sub vcl_init { new web = etcd.director(prefix = \"/varnish/backends/web/\", policy = shard); }\n\
               sub vcl_recv { set req.backend_hint = web.backend(); return (pass); }\n";
    let v = load(&server, "boot", vcl);
    let p = common::serve_vcl(server, v).await;
    let urls = urls(40);
    let before = routes(&p, &urls).await;
    assert!(before.iter().all(|w| ["a", "b", "c"].contains(&w.as_str())), "{before:?}");
    p.server.registry.catalog.apply([Change::Put(entry(&o[3]))]);
    let after = routes(&p, &urls).await;
    let moved: Vec<_> = before.iter().zip(&after).filter(|(b, a)| b != a).collect();
    assert!(!moved.is_empty(), "the new node takes a share");
    assert!(moved.iter().all(|(_, a)| *a == "d"), "keys move only to the new node: {moved:?}");
    p.server.registry.catalog.apply([Change::Delete(format!("{ROOT}web/{}", o[3].addr))]);
    assert_eq!(routes(&p, &urls).await, before, "and come back when it leaves");
}

/// Origins b1, b2, b3 and a proxy running `rest` after their backends (the origins live as
/// long as the first half).
async fn three(rest: &str) -> (Vec<Origin>, Proxy) {
    let o: Vec<Origin> = futures_join(["b1", "b2", "b3"]).await;
    let refs: Vec<&Origin> = o.iter().collect();
    let p = proxy(&vcl_for(&refs, rest)).await;
    (o, p)
}

/// Starts origins named so, in order.
async fn futures_join<const N: usize>(names: [&str; N]) -> Vec<Origin> {
    let mut out = Vec::new();
    for n in names {
        out.push(Origin::start(n).await);
    }
    out
}
