//! The transaction log (issue 22): nothing is recorded until somebody reads; then each client
//! request's records come in varnishlog's order, a miss's and a hit's, and a miss's fetch is a
//! backend transaction of its own, linked both ways.

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
    let p = proxy(&vcl_for(&[&o], "import std;\nsub vcl_recv { std.log(\"seen:\" + req.url); }\n")).await;
    p.get("/unread").await;
    let (start, none) = tags(&p, u64::MAX);
    assert!(none.is_empty(), "nothing recorded while nobody read");
    p.get("/a").await;
    p.get("/a").await;
    let (_, all) = tags(&p, start);
    let r = p.server.registry.log.read(start, 100);
    // The miss's fetch is a transaction of its own, on the backend side.
    let backend: Vec<_> = r.txns.iter().filter(|t| t.side == shellac_engine::vsl::Side::Backend).collect();
    assert_eq!(backend.len(), 1);
    let b: Vec<&str> = backend[0].records.iter().map(|(t, _)| t.name()).filter(|n| !n.ends_with("Header")).collect();
    assert_eq!(
        b,
        [
            "Begin",
            "Timestamp",
            "BereqMethod",
            "BereqURL",
            "BereqProtocol",
            "VCL_call",
            "VCL_return",
            "BerespProtocol",
            "BerespStatus",
            "BerespReason",
            "VCL_call",
            "VCL_return",
            "End"
        ]
    );
    let begin = &backend[0].records[0].1;
    let client = r.txns.iter().find(|t| t.side == shellac_engine::vsl::Side::Client).expect("the miss");
    assert_eq!(begin, &format!("bereq {} fetch", client.vxid));
    let link = client.records.iter().find(|(t, _)| *t == Tag::Link).map(|(_, d)| d.clone());
    assert_eq!(link, Some(format!("bereq {} fetch", backend[0].vxid)));
    let txns: Vec<Vec<&'static str>> = r
        .txns
        .iter()
        .zip(all)
        .filter(|(t, _)| t.side == shellac_engine::vsl::Side::Client)
        .map(|(_, names)| names.into_iter().filter(|n| *n != "Link").collect())
        .collect();
    assert_eq!(txns.len(), 2, "{txns:?}");
    let head = ["Begin", "Timestamp", "ReqStart", "ReqMethod", "ReqURL", "ReqProtocol"];
    for t in &txns {
        assert_eq!(&t[..6], &head);
        assert!(t.ends_with(&["Timestamp", "End"]), "{t:?}");
    }
    let flow = |t: &Vec<&'static str>| -> Vec<&'static str> {
        t.iter().copied().filter(|n| !matches!(*n, "ReqHeader" | "RespHeader" | "VCL_Log")).skip(6).collect()
    };
    // recv, hash, then miss or hit (a hit first says which object), then deliver.
    let sub = ["VCL_call", "VCL_return"];
    let resp = ["RespProtocol", "RespStatus", "RespReason", "Timestamp", "End"];
    let miss: Vec<&str> = [&sub[..], &sub, &sub, &sub, &resp].concat();
    let hit: Vec<&str> = [&sub[..], &sub, &["Hit"], &sub, &sub, &resp].concat();
    assert_eq!((flow(&txns[0]), flow(&txns[1])), (miss, hit));
    let hit_txn = r.txns.iter().rfind(|t| t.side == shellac_engine::vsl::Side::Client).expect("the hit");
    let calls: Vec<&str> =
        hit_txn.records.iter().filter(|(t, _)| *t == Tag::VCL_call).map(|(_, d)| d.as_str()).collect();
    assert_eq!(calls, ["RECV", "HASH", "HIT", "DELIVER"]);
    let url = client.records.iter().find(|(t, _)| *t == Tag::ReqURL).map(|(_, d)| d.as_str());
    assert_eq!(url, Some("/a"));
    // std.log, between vcl_recv's call and its return.
    let names: Vec<&str> = client.records.iter().map(|(t, _)| t.name()).collect();
    let at = names.iter().position(|n| *n == "VCL_Log").expect("a VCL_Log record");
    assert_eq!((names[at - 1], names[at + 1]), ("VCL_call", "VCL_return"));
    assert_eq!(client.records[at].1, "seen:/a");
}
