//! The transaction log (issue 22): nothing is recorded until somebody reads; then each client
//! request's records come in varnishlog's order, a miss's and a hit's.

mod common;

use common::*;
use shellac_engine::vsl::Tag;

fn tags(p: &Proxy, cursor: u64) -> (u64, Vec<Vec<&'static str>>) {
    let r = p.server.registry.log.read(cursor, 100);
    let txns = r.txns.iter().map(|t| t.records.iter().map(|(tag, _)| tag.name()).collect()).collect();
    (r.next, txns)
}

#[tokio::test]
async fn a_miss_and_a_hit_log_their_records_in_varnishlogs_order() {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    let p = proxy(&vcl_for(&[&o], "")).await;
    p.get("/unread").await;
    let (start, none) = tags(&p, u64::MAX);
    assert!(none.is_empty(), "nothing recorded while nobody read");
    p.get("/a").await;
    p.get("/a").await;
    let (_, txns) = tags(&p, start);
    assert_eq!(txns.len(), 2, "{txns:?}");
    let head = ["Begin", "Timestamp", "ReqStart", "ReqMethod", "ReqURL", "ReqProtocol"];
    for t in &txns {
        assert_eq!(&t[..6], &head);
        assert!(t.ends_with(&["Timestamp", "End"]), "{t:?}");
    }
    let flow = |t: &Vec<&'static str>| -> Vec<&'static str> {
        t.iter().copied().filter(|n| !matches!(*n, "ReqHeader" | "RespHeader")).skip(6).collect()
    };
    // recv, hash, then miss or hit (a hit first says which object), then deliver.
    let sub = ["VCL_call", "VCL_return"];
    let resp = ["RespProtocol", "RespStatus", "RespReason", "Timestamp", "End"];
    let miss: Vec<&str> = [&sub[..], &sub, &sub, &sub, &resp].concat();
    let hit: Vec<&str> = [&sub[..], &sub, &["Hit"], &sub, &sub, &resp].concat();
    assert_eq!((flow(&txns[0]), flow(&txns[1])), (miss, hit));
    let r = p.server.registry.log.read(start, 100);
    let calls: Vec<&str> =
        r.txns[1].records.iter().filter(|(t, _)| *t == Tag::VCL_call).map(|(_, d)| d.as_str()).collect();
    assert_eq!(calls, ["RECV", "HASH", "HIT", "DELIVER"]);
    let url = r.txns[0].records.iter().find(|(t, _)| *t == Tag::ReqURL).map(|(_, d)| d.as_str());
    assert_eq!(url, Some("/a"));
}
