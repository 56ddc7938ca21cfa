//! Directors beyond the seed examples: sticky fallback, members added and removed at run time,
//! `std.healthy`, `directors.lookup`, and Varnish 3 director blocks.

mod common;

use common::*;
use shellac_engine::backend::Admin;

async fn seq(p: &Proxy, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(who(&p.get("/").await));
    }
    out
}

#[tokio::test]
async fn sticky_fallback_stays_on_the_member_in_use() {
    let (a, b, c) = (Origin::start("b1").await, Origin::start("b2").await, Origin::start("b3").await);
    let vcl = vcl_for(
        &[&a, &b, &c],
        "import directors;\nsub vcl_init { new fb = directors.fallback(sticky = true); fb.add_backend(b1); fb.add_backend(b2); fb.add_backend(b3); }\n\
         sub vcl_recv { set req.backend_hint = fb.backend(); }\n",
    );
    let p = proxy(&vcl).await;
    assert_eq!(seq(&p, 2).await, ["b1", "b1"]);
    p.backend("b1").set_admin(Admin::Sick);
    p.backend("b2").set_admin(Admin::Sick);
    assert_eq!(seq(&p, 2).await, ["b3", "b3"]);
    p.backend("b1").set_admin(Admin::Auto);
    assert_eq!(seq(&p, 2).await, ["b3", "b3"], "sticky: b1's recovery does not move traffic back");
    p.backend("b3").set_admin(Admin::Sick);
    assert_eq!(seq(&p, 1).await, ["b1"]);
}

#[tokio::test]
async fn members_can_be_added_and_removed_at_run_time() {
    let (a, b) = (Origin::start("b1").await, Origin::start("b2").await);
    let vcl = vcl_for(
        &[&a, &b],
        "import directors;\nsub vcl_init { new rr = directors.round_robin(); rr.add_backend(b1); }\n\
         sub vcl_recv { if (req.url == \"/add\") { rr.add_backend(b2); } if (req.url == \"/remove\") { rr.remove_backend(b1); } set req.backend_hint = rr.backend(); }\n",
    );
    let p = proxy(&vcl).await;
    assert_eq!(seq(&p, 2).await, ["b1", "b1"]);
    p.get("/add").await;
    let s = seq(&p, 4).await;
    assert_eq!(s.iter().filter(|w| *w == "b2").count(), 2, "{s:?}");
    p.get("/remove").await;
    assert_eq!(seq(&p, 3).await, ["b2", "b2", "b2"]);
}

#[tokio::test]
async fn std_healthy_and_directors_lookup() {
    let (a, b) = (Origin::start("b1").await, Origin::start("b2").await);
    let vcl = vcl_for(
        &[&a, &b],
        "import std;\nimport directors;\n\
         sub vcl_init { new rr = directors.round_robin(); rr.add_backend(directors.lookup(\"b1\")); rr.add_backend(b2); }\n\
         sub vcl_recv { set req.backend_hint = rr.backend(); return (synth(200, \"\" + std.healthy(rr.backend()) + \" \" + std.healthy(b1) + \" \" + req.backend_hint)); }\n",
    );
    let p = proxy(&vcl).await;
    assert_eq!(p.get("/").await.reason, "true true rr");
    p.backend("b1").set_admin(Admin::Sick);
    assert_eq!(p.get("/").await.reason, "true false rr");
    p.backend("b2").set_admin(Admin::Sick);
    assert_eq!(p.get("/").await.reason, "false false rr");
}

#[tokio::test]
async fn varnish3_director_blocks_behave_like_their_vmod_equivalents() {
    let (a, b) = (Origin::start("b1").await, Origin::start("b2").await);
    let vcl = format!(
        "{}{}director pool round-robin {{ {{ .backend = b1; }} {{ .backend = b2; }} }}\n\
         director fb fallback {{ {{ .backend = b2; }} {{ .backend = b1; }} }}\n\
         sub vcl_recv {{ if (req.url == \"/fb\") {{ set req.backend = fb; }} else {{ set req.backend = pool; }} }}\n",
        a.backend_vcl(""),
        b.backend_vcl("")
    );
    let p = proxy(&vcl).await;
    assert_eq!(seq(&p, 4).await, ["b1", "b2", "b1", "b2"]);
    assert_eq!(who(&p.get("/fb").await), "b2");
    p.backend("b2").set_admin(Admin::Sick);
    assert_eq!(who(&p.get("/fb").await), "b1");
}
