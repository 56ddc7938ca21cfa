//! The transaction log (issue 22): nothing is recorded until somebody reads; then each client
//! request's records come in varnishlog's order (a miss's, a hit's, a pass's, a pipe's, a
//! synth's, a restart's, as varnishd 7.1.1 logs them), and a fetch is a backend transaction of
//! its own, linked both ways.

mod common;

use common::*;
use shellac_engine::vsl::Tag;

fn tags(p: &Proxy, cursor: u64) -> (u64, Vec<Vec<&'static str>>) {
    let r = p.server.registry.log.read(cursor, 100);
    let txns = r.txns.iter().map(|t| t.records().iter().map(|(tag, _)| tag.name()).collect()).collect();
    (r.next, txns)
}

/// Whether a transaction is a client request (not a session).
fn is_req(t: &shellac_engine::vsl::Txn) -> bool {
    t.side == shellac_engine::vsl::Side::Client && t.records().first().is_some_and(|(_, d)| d.starts_with("req "))
}

/// The log from `cursor` once it holds `n` transactions (a request's ends once its body has
/// gone, which can trail the answer by a moment).
async fn read(p: &Proxy, cursor: u64, n: usize) -> shellac_engine::vsl::Read {
    eventually(std::time::Duration::from_secs(5), || p.server.registry.log.read(cursor, 1000).txns.len() >= n).await;
    p.server.registry.log.read(cursor, 1000)
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
    let r = read(&p, start, 3).await;
    let (_, all) = tags(&p, start);
    // (The sessions' transactions aside: the connections' own, tested in crates/shellac.)
    // The miss's fetch is a transaction of its own, on the backend side.
    let backend: Vec<_> = r.txns.iter().filter(|t| t.side == shellac_engine::vsl::Side::Backend).collect();
    assert_eq!(backend.len(), 1);
    let b: Vec<&str> = backend[0].records().iter().map(|(t, _)| t.name()).filter(|n| !n.ends_with("Header")).collect();
    assert_eq!(
        b,
        [
            "Begin",
            "VCL_use",
            "Timestamp",
            "BereqMethod",
            "BereqURL",
            "BereqProtocol",
            "VCL_call",
            "VCL_return",
            "Timestamp",
            "Timestamp",
            "BackendOpen",
            "Timestamp",
            "Timestamp",
            "BerespProtocol",
            "BerespStatus",
            "BerespReason",
            "TTL",
            "VCL_call",
            "VCL_return",
            "Timestamp",
            "Filters",
            "Storage",
            "Fetch_Body",
            "BackendClose",
            "Timestamp",
            "Length",
            "BereqAcct",
            "End"
        ]
    );
    let data = |tag: Tag| backend[0].records().into_iter().find(|(t, _)| *t == tag).map(|(_, d)| d);
    assert_eq!(data(Tag::VCL_use).as_deref(), Some("boot"));
    assert_eq!(data(Tag::Storage).as_deref(), Some("malloc s0"));
    assert_eq!(data(Tag::Fetch_Body).as_deref(), Some("3 length stream"));
    assert!(data(Tag::BackendClose).is_some_and(|d| d.ends_with(" o recycle")), "{:?}", data(Tag::BackendClose));
    let stamps: Vec<String> = labels(lines(backend[0])).into_iter().filter(|l| l.starts_with("Timestamp")).collect();
    assert_eq!(
        stamps,
        ["Start", "Fetch", "Connected", "Bereq", "Beresp", "Process", "BerespBody"].map(|l| format!("Timestamp {l}"))
    );
    let begin = &backend[0].records()[0].1;
    let client = r.txns.iter().find(|t| is_req(t)).expect("the miss");
    assert_eq!(begin, &format!("bereq {} fetch", client.vxid));
    let link = client.records().iter().find(|(t, _)| *t == Tag::Link).map(|(_, d)| d.clone());
    assert_eq!(link, Some(format!("bereq {} fetch", backend[0].vxid)));
    let txns: Vec<Vec<&'static str>> = r
        .txns
        .iter()
        .zip(all)
        .filter(|(t, _)| t.side == shellac_engine::vsl::Side::Client && t.records()[0].1.starts_with("req "))
        .map(|(_, names)| names.into_iter().filter(|n| *n != "Link").collect())
        .collect();
    assert_eq!(txns.len(), 2, "{txns:?}");
    let head = ["Begin", "Timestamp", "Timestamp", "VCL_use", "ReqStart", "ReqMethod", "ReqURL", "ReqProtocol"];
    for t in &txns {
        assert_eq!(&t[..8], &head);
        assert!(t.ends_with(&["Timestamp", "ReqAcct", "End"]), "{t:?}");
    }
    let flow = |t: &Vec<&'static str>| -> Vec<&'static str> {
        t.iter().copied().filter(|n| !matches!(*n, "ReqHeader" | "RespHeader" | "VCL_Log")).skip(8).collect()
    };
    // recv, hash, then miss (the fetch's head: Timestamp Fetch) or hit (first saying which
    // object), then the response as vcl_deliver gets it, vcl_deliver, Timestamp Process and the
    // filters, and the end once the body has gone.
    let sub = ["VCL_call", "VCL_return"];
    let head = ["RespProtocol", "RespStatus", "RespReason"];
    let end = ["Timestamp", "Filters", "Timestamp", "ReqAcct", "End"];
    let miss: Vec<&str> = [&sub[..], &sub, &sub, &["Timestamp"], &head, &sub, &end].concat();
    let hit: Vec<&str> = [&sub[..], &sub, &["Hit"], &sub, &head, &sub, &end].concat();
    assert_eq!((flow(&txns[0]), flow(&txns[1])), (miss, hit));
    let hit_txn = r
        .txns
        .iter()
        .rfind(|t| t.side == shellac_engine::vsl::Side::Client && t.records()[0].1.starts_with("req "))
        .expect("the hit");
    let calls: Vec<String> =
        hit_txn.records().into_iter().filter(|(t, _)| *t == Tag::VCL_call).map(|(_, d)| d).collect();
    assert_eq!(calls, ["RECV", "HASH", "HIT", "DELIVER"]);
    let url = client.records().into_iter().find(|(t, _)| *t == Tag::ReqURL).map(|(_, d)| d);
    assert_eq!(url.as_deref(), Some("/a"));
    // std.log, between vcl_recv's call and its return.
    let names: Vec<&str> = client.records().iter().map(|(t, _)| t.name()).collect();
    let at = names.iter().position(|n| *n == "VCL_Log").expect("a VCL_Log record");
    assert_eq!((names[at - 1], names[at + 1]), ("VCL_call", "VCL_return"));
    assert_eq!(client.records()[at].1, "seen:/a");
}

/// The records of a transaction as `TAG data` lines, headers left out.
fn lines(t: &shellac_engine::vsl::Txn) -> Vec<String> {
    t.records()
        .iter()
        .filter(|(tag, _)| !tag.name().ends_with("Header"))
        .map(|(tag, d)| format!("{} {d}", tag.name()))
        .collect()
}

/// `Timestamp` records as their labels only (`Timestamp Fetch`).
fn labels(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|l| match l.strip_prefix("Timestamp ") {
            Some(rest) => format!("Timestamp {}", rest.split(':').next().unwrap_or("")),
            None => l,
        })
        .collect()
}

#[tokio::test]
async fn a_pass_a_pipe_a_synth_and_a_restart_log_as_varnishd_does() {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    let vcl = "sub vcl_recv {\n\
        if (req.url == \"/pass\") { return (pass); }\n\
        if (req.url == \"/pipe\") { return (pipe); }\n\
        if (req.url == \"/synth\") { return (synth(404, \"Nope\")); }\n\
        if (req.url == \"/restart\") { set req.url = \"/after\"; return (restart); }\n}\n";
    let p = proxy(&vcl_for(&[&o], vcl)).await;
    let start = p.server.registry.log.read(u64::MAX, 1).next;
    let client = |r: &shellac_engine::vsl::Read, url: &str| -> Vec<String> {
        let t = r
            .txns
            .iter()
            .find(|t| {
                t.records().iter().any(|(tag, d)| *tag == Tag::ReqURL && d == url)
                    && t.side == shellac_engine::vsl::Side::Client
            })
            .unwrap_or_else(|| panic!("a transaction for {url}"));
        labels(lines(t)).into_iter().skip(8).filter(|l| !l.starts_with("ReqStart")).collect()
    };
    let pass = p.get("/pass").await;
    assert_eq!(pass.status, 200);
    let r = read(&p, start, 2).await;
    let c = client(&r, "/pass");
    let fetch = r.txns.iter().find(|t| t.side == shellac_engine::vsl::Side::Backend).expect("the pass's fetch");
    assert_eq!(fetch.records()[0].1, format!("bereq {} pass", r.txns.iter().find(|t| is_req(t)).expect("c").vxid));
    assert!(c.contains(&format!("Link bereq {} pass", fetch.vxid)), "{c:?}");
    assert_eq!(
        &c[..8],
        [
            "VCL_call RECV",
            "VCL_return pass",
            "VCL_call HASH",
            "VCL_return lookup",
            "VCL_call PASS",
            "VCL_return fetch",
            &format!("Link bereq {} pass", fetch.vxid),
            "Timestamp Fetch"
        ]
    );
    // A pass's fetch ends once its body has gone to the client: before the request does.
    let at = |vxid: u64| r.txns.iter().position(|t| t.vxid == vxid).expect("in the log");
    assert!(at(fetch.vxid) < at(r.txns.iter().find(|t| is_req(t)).expect("c").vxid));

    let next = r.next;
    p.get("/synth").await;
    let r = read(&p, next, 1).await;
    let c = client(&r, "/synth");
    assert_eq!(
        c.iter().filter(|l| !l.starts_with("Resp")).cloned().collect::<Vec<_>>(),
        [
            "VCL_call RECV",
            "VCL_return synth",
            "VCL_call HASH",
            "VCL_return lookup",
            "VCL_call SYNTH",
            "VCL_return deliver",
            "Timestamp Process",
            "Timestamp Resp",
            c.iter().find(|l| l.starts_with("ReqAcct")).expect("ReqAcct"),
            "End "
        ]
    );
    assert!(c.contains(&"RespStatus 404".to_string()) && c.contains(&"RespReason Nope".to_string()), "{c:?}");

    let next = r.next;
    let restarted = p.get("/restart").await;
    let r = read(&p, next, 3).await;
    let first = client(&r, "/restart");
    let second_vxid: u64 = restarted.header("x-varnish").expect("X-Varnish").parse().expect("a vxid");
    assert_eq!(
        first,
        [
            "VCL_call RECV",
            "ReqURL /after",
            "VCL_return restart",
            "VCL_call HASH",
            "VCL_return lookup",
            "Timestamp Restart",
            &format!("Link req {second_vxid} restart"),
            "End "
        ],
        "the restarted transaction ends there; the answer names the next"
    );
    let second = r.txns.iter().find(|t| t.vxid == second_vxid).expect("the restart's transaction");
    let first_vxid = r
        .txns
        .iter()
        .find(|t| t.records().iter().any(|(tag, d)| *tag == Tag::Link && d.ends_with("restart")))
        .expect("first")
        .vxid;
    assert_eq!(second.records()[0].1, format!("req {first_vxid} restart"));
    assert!(lines(second).contains(&"ReqURL /after".to_string()));

    let next = r.next;
    let piped = p.request("GET /pipe HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(piped.status, 200);
    let r = read(&p, next, 2).await;
    let c = client(&r, "/pipe");
    let bereq =
        r.txns.iter().find(|t| t.side == shellac_engine::vsl::Side::Backend).expect("the pipe's backend request");
    assert_eq!(
        c.iter()
            .map(|l| if l.starts_with("Timestamp") { l.as_str() } else { l.split(' ').next().unwrap_or("") })
            .collect::<Vec<_>>(),
        [
            "VCL_call",
            "VCL_return",
            "VCL_call",
            "VCL_return",
            "Link",
            "VCL_call",
            "VCL_return",
            "Timestamp Pipe",
            "Timestamp PipeSess",
            "PipeAcct",
            "End"
        ],
        "no Resp records, and PipeAcct for ReqAcct: {c:?}"
    );
    assert!(c.contains(&format!("Link bereq {} pipe", bereq.vxid)));
    assert_eq!(
        labels(lines(bereq)).iter().map(|l| l.split(' ').next().unwrap_or("")).collect::<Vec<_>>(),
        [
            "Begin",
            "VCL_use",
            "Timestamp",
            "BereqMethod",
            "BereqURL",
            "BereqProtocol",
            "BackendOpen",
            "Timestamp",
            "BereqAcct",
            "End"
        ]
    );
}

#[tokio::test]
async fn probes_log_backend_health_records_of_no_transaction() {
    let o = Origin::start("o").await;
    let vcl = format!(
        "vcl 4.1;\nbackend o {{ .host = \"{}\"; .port = \"{}\"; .probe = {{ .url = \"/\"; .interval = 50ms; \
         .window = 5; .threshold = 3; .initial = 2; }} }}\n",
        o.host(),
        o.port()
    );
    let p = proxy(&vcl).await;
    let start = p.server.registry.log.read(u64::MAX, 1).next;
    let found = eventually(std::time::Duration::from_secs(5), || {
        p.server.registry.log.read(start, 1000).txns.iter().any(|t| t.vxid == 0)
    })
    .await;
    assert!(found, "a Backend_health record");
    let r = p.server.registry.log.read(start, 1000);
    let t = r.txns.iter().find(|t| t.vxid == 0).expect("found");
    let records = t.records();
    assert_eq!(records.len(), 1, "one record, no Begin or End: {records:?}");
    let (tag, data) = &records[0];
    assert_eq!(*tag, Tag::Backend_health);
    // `NAME Still|Went healthy|sick FLAGS GOOD THRESHOLD WINDOW LAST AVG "MESSAGE"` (spec §2.6).
    let f: Vec<&str> = data.split(' ').collect();
    assert!(f[0].ends_with('o') && ["Still", "Went"].contains(&f[1]) && ["healthy", "sick"].contains(&f[2]), "{data}");
    assert!(f[3].len() == 8 && f[3].chars().zip("46UxXrRH".chars()).all(|(c, flag)| c == '-' || c == flag), "{data}");
    assert!(f[4].parse::<u32>().is_ok() && f[5] == "3" && f[6] == "5", "{data}");
    assert!(f[7..9].iter().all(|x| x.split_once('.').is_some_and(|(_, frac)| frac.len() == 6)), "{data}");
    assert!(f[9].starts_with('"') && data.ends_with('"'), "{data}");
    assert_eq!(t.side, shellac_engine::vsl::Side::None);
}

#[tokio::test]
async fn a_fetch_logs_the_lifetime_the_headers_gave_and_each_change_vcl_made() {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: s-maxage=50, max-age=600, stale-while-revalidate=30".into()]);
    let vcl =
        "sub vcl_backend_response {\n  if (bereq.url == \"/v\") { set beresp.ttl = 77s; set beresp.grace = 5s; }\n}\n";
    let p = proxy(&vcl_for(&[&o], vcl)).await;
    let start = p.server.registry.log.read(u64::MAX, 1).next;
    p.get("/v").await;
    p.get("/pass-me").await;
    let r = read(&p, start, 4).await;
    let ttl = |url: &str| -> Vec<String> {
        let t = r
            .txns
            .iter()
            .find(|t| t.records().iter().any(|(tag, d)| *tag == Tag::BereqURL && d == url))
            .unwrap_or_else(|| panic!("the fetch of {url}"));
        t.records().into_iter().filter(|(tag, _)| *tag == Tag::TTL).map(|(_, d)| d).collect()
    };
    // `RFC TTL GRACE KEEP NOW ORIGIN DATE EXPIRES MAX-AGE cacheable`: s-maxage, and
    // stale-while-revalidate as grace.
    let plain = ttl("/pass-me");
    assert_eq!(plain.len(), 1, "{plain:?}");
    let f: Vec<&str> = plain[0].split(' ').collect();
    assert_eq!((f[0], f[1], f[2], f[3], f[8], f[9]), ("RFC", "50", "30", "0", "50", "cacheable"), "{plain:?}");
    assert_eq!(f[4], f[5], "no Age: born now");
    // Then one `VCL TTL GRACE KEEP ORIGIN cacheable` per change.
    let changed = ttl("/v");
    let origin = changed[0].split(' ').nth(5).expect("origin").to_string();
    assert_eq!(changed[1..], [format!("VCL 77 30 0 {origin} cacheable"), format!("VCL 77 5 0 {origin} cacheable")]);
}

#[tokio::test]
async fn backend_open_names_the_descriptor_the_backend_and_both_ends_and_says_connect_or_reuse() {
    let o = Origin::start("o").await;
    let p = proxy(&vcl_for(&[&o], "sub vcl_recv { return (pass); }\n")).await;
    let (start, _) = tags(&p, u64::MAX);
    for path in ["/1", "/2", "/3"] {
        p.get(path).await;
    }
    let r = read(&p, start, 6).await;
    let opens: Vec<String> = r
        .txns
        .iter()
        .flat_map(|t| t.records().into_iter().filter(|(tag, _)| *tag == Tag::BackendOpen).map(|(_, d)| d))
        .collect();
    assert_eq!(opens.len(), 3, "{opens:?}");
    let port = o.addr.port().to_string();
    for open in &opens {
        let f: Vec<&str> = open.split(' ').collect();
        assert_eq!(f.len(), 7, "{open}");
        assert!(f[0].parse::<u32>().is_ok(), "a descriptor: {open}");
        assert_eq!((f[1], f[2], f[3], f[4]), ("o", "127.0.0.1", port.as_str(), "127.0.0.1"), "{open}");
        assert!(f[5].parse::<u16>().is_ok_and(|p| p > 0), "the local port: {open}");
    }
    // One connection, opened for the first and reused for the others: the same fields.
    let how: Vec<&str> = opens.iter().map(|o| o.rsplit_once(' ').map_or("", |(_, h)| h)).collect();
    assert_eq!(how, ["connect", "reuse", "reuse"]);
    let fields = |o: &String| o.rsplit_once(' ').map(|(f, _)| f.to_string());
    assert!(opens.iter().all(|o| fields(o) == fields(&opens[0])), "{opens:?}");
}

/// Sends `raw` on a connection of its own, then a request that closes it, and reads to the
/// end: the bytes of the first answer's head and of its body as they came over the wire.
async fn wire(p: &Proxy, raw: &str) -> (u64, u64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(p.addr).await.expect("connect");
    let bye = "GET /bye HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    s.write_all(format!("{raw}{bye}").as_bytes()).await.expect("write");
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.expect("read");
    let head = got.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    let text = String::from_utf8_lossy(&got[..head]).to_ascii_lowercase();
    let body = match text.split("\r\n").find_map(|l| l.strip_prefix("content-length: ")) {
        Some(n) => n.parse().expect("a length"),
        // (Chunked, and the connection closed after it.)
        None => (got.len() - head) as u64,
    };
    (head as u64, body)
}

#[tokio::test]
async fn req_acct_counts_the_head_and_body_bytes_that_went_to_the_client() {
    let o = Origin::start("o").await;
    let p = proxy(&vcl_for(
        &[&o],
        "sub vcl_recv { if (req.url == \"/synth\") { return (synth(404, \"Not Here At All\")); } \
         if (req.url == \"/chunked\") { return (pass); } }\n\
         sub vcl_deliver { if (req.url == \"/own\") { set resp.http.Connection = \"x-own\"; } }\n",
    ))
    .await;
    let (start, _) = tags(&p, u64::MAX);
    p.get("/warm").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into(), "X-Long: ".to_string() + &"v".repeat(300)]);
    // The same object missed, then hit by clients that keep the connection, close it, and
    // speak HTTP/1.0 with and without keep-alive; a synth; an answer of its own Connection.
    let get = |url: &str, proto: &str, conn: &str| format!("GET {url} {proto}\r\nHost: h\r\n{conn}\r\n");
    let cases = [
        ("/object", get("/object", "HTTP/1.1", "Connection: close\r\n")),
        ("/object", get("/object", "HTTP/1.1", "")),
        ("/object", get("/object", "HTTP/1.0", "Connection: keep-alive\r\n")),
        ("/object", get("/object", "HTTP/1.0", "")),
        ("/synth", get("/synth", "HTTP/1.1", "Connection: close\r\n")),
        ("/own", get("/own", "HTTP/1.1", "Connection: close\r\n")),
    ];
    let mut wires = Vec::new();
    for (url, raw) in &cases {
        wires.push((*url, wire(&p, raw).await));
    }
    o.set(|b| b.raw = Some("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".into()));
    wires.push(("/chunked", wire(&p, &get("/chunked", "HTTP/1.1", "Connection: close\r\n")).await));
    let r = read(&p, start, 20).await;
    let mut accts: Vec<(String, Vec<u64>)> = r
        .txns
        .iter()
        .filter(|t| is_req(t))
        .filter_map(|t| {
            let recs = t.records();
            let url = recs.iter().find(|(tag, _)| *tag == Tag::ReqURL)?.1.clone();
            let acct = &recs.iter().find(|(tag, _)| *tag == Tag::ReqAcct)?.1;
            Some((url, acct.split(' ').map(|n| n.parse().expect("a number")).collect()))
        })
        .filter(|(url, _)| url != "/bye" && url != "/warm")
        .collect();
    accts.sort_by_key(|(url, _)| wires.iter().position(|(u, _)| u == url));
    assert_eq!(accts.len(), wires.len(), "{accts:?}");
    for ((url, (head, body)), (logged, acct)) in wires.iter().zip(&accts) {
        assert_eq!(url, logged);
        assert_eq!((acct[3], acct[4], acct[5]), (*head, *body, head + body), "{url}: {acct:?}");
    }
}

/// The records between `VCL_call NAME` and its `VCL_return`, as `TAG data` lines.
fn inside(t: &shellac_engine::vsl::Txn, name: &str) -> Vec<String> {
    let records = t.records();
    let at = records.iter().position(|(tag, d)| *tag == Tag::VCL_call && d == name).expect("the call");
    records[at + 1..]
        .iter()
        .take_while(|(tag, _)| *tag != Tag::VCL_return)
        .map(|(t, d)| format!("{} {d}", t.name()))
        .collect()
}

#[tokio::test]
async fn what_vcl_changes_is_logged_where_it_changes_it_as_varnishd_logs_it() {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into(), "X-Gone: 1".into()]);
    let vcl = "sub vcl_recv { set req.http.X-Req = \"r\"; unset req.http.Accept; set req.url = \"/b\"; }\n\
        sub vcl_backend_fetch { set bereq.http.X-B = \"b\"; unset bereq.http.X-Req; set bereq.url = \"/c\"; }\n\
        sub vcl_backend_response { set beresp.http.X-BR = \"1\"; unset beresp.http.X-Gone; \
            set beresp.status = 201; set beresp.reason = \"Made\"; }\n\
        sub vcl_deliver { set resp.http.X-Test = \"1\"; unset resp.http.X-BR; set resp.status = 202; }\n";
    let p = proxy(&vcl_for(&[&o], vcl)).await;
    let start = p.server.registry.log.read(u64::MAX, 1).next;
    let resp = p.request("GET /a HTTP/1.1\r\nHost: x\r\nX-Req: old\r\nAccept: */*\r\n\r\n").await;
    assert_eq!(resp.status, 202);
    let r = read(&p, start, 2).await;
    let client = r.txns.iter().find(|t| is_req(t)).expect("the request");
    let fetch = r.txns.iter().find(|t| t.side == shellac_engine::vsl::Side::Backend).expect("the fetch");
    // (varnishd 7.1.1 logs the same, its header names as VCL wrote them.)
    assert_eq!(
        inside(client, "RECV"),
        ["ReqUnset x-req: old", "ReqHeader x-req: r", "ReqUnset accept: */*", "ReqURL /b"]
    );
    assert_eq!(inside(fetch, "BACKEND_FETCH"), ["BereqHeader x-b: b", "BereqUnset x-req: r", "BereqURL /c"]);
    assert_eq!(
        inside(fetch, "BACKEND_RESPONSE"),
        [
            "BerespHeader x-br: 1",
            "BerespUnset x-gone: 1",
            "BerespStatus 201",
            "BerespReason Created",
            "BerespReason Made"
        ]
    );
    assert_eq!(
        inside(client, "DELIVER"),
        ["RespHeader x-test: 1", "RespUnset x-br: 1", "RespStatus 202", "RespReason Accepted"]
    );
    // The response as vcl_deliver got it comes before the call, each header once; only the
    // connection's header is added as it goes out.
    let lines: Vec<String> = client.records().into_iter().map(|(t, d)| format!("{} {d}", t.name())).collect();
    let call = lines.iter().position(|l| l == "VCL_call DELIVER").expect("vcl_deliver");
    let head = lines.iter().position(|l| l == "RespProtocol HTTP/1.1").expect("the response's head");
    assert!(head < call, "{lines:?}");
    assert_eq!(lines[head + 1..head + 3], ["RespStatus 201", "RespReason Made"], "{lines:?}");
    assert!(lines[head..call].iter().all(|l| l.starts_with("Resp")), "{lines:?}");
    assert!(lines[head..call].contains(&"RespHeader x-br: 1".to_string()));
    let after: Vec<&String> = lines[call..].iter().filter(|l| l.starts_with("RespHeader")).collect();
    assert_eq!(after, ["RespHeader x-test: 1", "RespHeader connection: keep-alive"]);
}

#[tokio::test]
async fn a_fetch_that_fails_logs_the_error_and_the_response_vcl_backend_error_starts_from() {
    let p = proxy("vcl 4.1;\nbackend dead { .host = \"127.0.0.1\"; .port = \"1\"; }\n").await;
    let start = p.server.registry.log.read(u64::MAX, 1).next;
    assert_eq!(p.get("/x").await.status, 503);
    let r = read(&p, start, 2).await;
    let fetch = r.txns.iter().find(|t| t.side == shellac_engine::vsl::Side::Backend).expect("the fetch");
    let names: Vec<String> = labels(lines(fetch))
        .into_iter()
        .map(|l| {
            if l.starts_with("Timestamp") || l.starts_with("VCL_") || l.starts_with("Storage") {
                l
            } else {
                l.split(' ').next().unwrap_or("").to_string()
            }
        })
        .collect();
    // As varnishd 7.1.1 logs it (its FetchError says `backend dead: fail errno 111 …`).
    assert_eq!(
        names,
        [
            "Begin",
            "VCL_use boot",
            "Timestamp Start",
            "BereqMethod",
            "BereqURL",
            "BereqProtocol",
            "VCL_call BACKEND_FETCH",
            "VCL_return fetch",
            "Timestamp Fetch",
            "FetchError",
            "Timestamp Beresp",
            "Timestamp Error",
            "BerespProtocol",
            "BerespStatus",
            "BerespReason",
            "VCL_call BACKEND_ERROR",
            "VCL_return deliver",
            "Storage malloc Transient",
            "Length",
            "BereqAcct",
            "End"
        ]
    );
    let acct = fetch.records().into_iter().find(|(t, _)| *t == Tag::BereqAcct).map(|(_, d)| d);
    assert_eq!(acct.as_deref(), Some("0 0 0 0 0 0"), "nothing came from the backend");
}

#[tokio::test]
async fn a_retry_ends_its_attempts_transaction_and_begins_the_next_below_it() {
    let o = Origin::start("o").await;
    let vcl = "sub vcl_backend_response { if (bereq.retries == 0) { return (retry); } }\n";
    let p = proxy(&vcl_for(&[&o], vcl)).await;
    let start = p.server.registry.log.read(u64::MAX, 1).next;
    assert_eq!(p.get("/r").await.status, 200);
    let r = read(&p, start, 3).await;
    let fetches: Vec<_> = r.txns.iter().filter(|t| t.side == shellac_engine::vsl::Side::Backend).collect();
    assert_eq!(fetches.len(), 2, "one transaction per attempt");
    let (first, second) =
        if fetches[0].records()[0].1.ends_with(" fetch") { (fetches[0], fetches[1]) } else { (fetches[1], fetches[0]) };
    let client = r.txns.iter().find(|t| is_req(t)).expect("the request");
    assert!(lines(client).contains(&format!("Link bereq {} fetch", first.vxid)), "the request links the first");
    // As varnishd 7.1.1 logs it: the attempt's connection closed, `Timestamp Retry`, the link.
    let tail: Vec<String> = labels(lines(first)).into_iter().rev().take(5).collect();
    assert_eq!(tail[0], "End ");
    assert_eq!(tail[1], format!("Link bereq {} retry", second.vxid));
    assert_eq!(tail[2], "Timestamp Retry");
    assert!(
        tail[3].starts_with("BackendClose ") && tail[3].ends_with(" o close Backend/VCL requested close"),
        "{tail:?}"
    );
    assert_eq!(tail[4], "VCL_return retry");
    let records = second.records();
    assert_eq!(records[0].1, format!("bereq {} retry", first.vxid));
    let at = records.iter().position(|(t, _)| *t == Tag::VCL_call).expect("vcl_backend_fetch");
    assert_eq!(
        records[at - 2..at].iter().map(|(t, d)| format!("{} {d}", t.name())).collect::<Vec<_>>(),
        [format!("BereqUnset x-varnish: {}", first.vxid), format!("BereqHeader x-varnish: {}", second.vxid)]
    );
    assert!(!records.iter().any(|(t, _)| *t == Tag::VCL_use), "no VCL_use in a retry's transaction");
}

#[tokio::test]
async fn what_delivery_changes_after_vcl_deliver_is_logged_as_a_change() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=60".into(), "ETag: \"abc\"".into()];
        b.body = "twelve bytes".into();
    });
    let p = proxy(&vcl_for(&[&o], "")).await;
    p.get("/c").await;
    let start = p.server.registry.log.read(u64::MAX, 1).next;
    let resp = p.request("GET /c HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"abc\"\r\n\r\n").await;
    assert_eq!(resp.status, 304);
    let r = read(&p, start, 1).await;
    let client = r.txns.iter().find(|t| is_req(t)).expect("the request");
    let lines: Vec<String> = labels(client.records().into_iter().map(|(t, d)| format!("{} {d}", t.name())).collect());
    let at = lines.iter().position(|l| l == "Timestamp Process").expect("processed");
    // As varnishd 7.1.1 logs a 304 (the status line again, the length unset), then the
    // connection's header as the answer goes.
    assert_eq!(
        lines[at + 1..at + 7],
        [
            "Filters ".to_string(),
            "RespProtocol HTTP/1.1".into(),
            "RespStatus 304".into(),
            "RespReason Not Modified".into(),
            "RespUnset content-length: 12".into(),
            "RespHeader connection: keep-alive".into()
        ],
        "{lines:?}"
    );
}

#[tokio::test]
async fn bereq_acct_counts_the_body_as_the_backend_sent_it_and_length_as_stored() {
    let o = Origin::start("o").await;
    let body = "gzip me, gzip me, gzip me, gzip me, gzip me, gzip me\n";
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=60".into(), "Content-Type: text/plain".into()];
        b.body = body.into();
    });
    let p = proxy(&vcl_for(&[&o], "sub vcl_backend_response { set beresp.do_gzip = true; }\n")).await;
    let start = p.server.registry.log.read(u64::MAX, 1).next;
    p.request("GET /z HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n").await;
    let r = read(&p, start, 2).await;
    let fetch = r.txns.iter().find(|t| t.side == shellac_engine::vsl::Side::Backend).expect("the fetch");
    let data = |tag: Tag| fetch.records().into_iter().find(|(t, _)| *t == tag).map(|(_, d)| d).expect("the record");
    let acct: Vec<u64> = data(Tag::BereqAcct).split(' ').map(|n| n.parse().expect("a number")).collect();
    let stored: u64 = data(Tag::Length).parse().expect("a length");
    // As varnishd 7.1.1: `Length` the object's (gzipped) bytes, `BereqAcct` what came.
    assert_eq!(acct[4], body.len() as u64, "{acct:?}");
    assert_ne!(stored, acct[4], "stored gzipped");
    assert_eq!(data(Tag::Filters), " gzip");
}

/// A fetch with no body (`Content-Length: 0`) logs `Fetch_Body 0 none -`, as varnishd 7.1.1
/// does (no body: nothing streamed), and the `Date` the fetch added to an answer without one
/// is logged last of its headers.
#[tokio::test]
async fn an_empty_fetch_logs_no_body_and_the_date_it_was_given() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=60".into()];
        b.bytes = Some(Vec::new());
    });
    let p = proxy(&vcl_for(&[&o], "")).await;
    p.get("/unread").await;
    let (start, _) = tags(&p, u64::MAX);
    p.get("/empty").await;
    let r = read(&p, start, 2).await;
    let backend = r.txns.iter().find(|t| t.side == shellac_engine::vsl::Side::Backend).expect("the fetch");
    let records = backend.records();
    let data = |tag: Tag| records.iter().find(|(t, _)| *t == tag).map(|(_, d)| d.clone());
    assert_eq!(data(Tag::Fetch_Body).as_deref(), Some("0 none -"));
    let headers: Vec<&str> = records.iter().filter(|(t, _)| *t == Tag::BerespHeader).map(|(_, d)| d.as_str()).collect();
    assert!(headers.last().is_some_and(|h| h.starts_with("date: ")), "{headers:?}");
}

/// A revalidation's fetch logs the 304, its `TTL`, then the merge as varnishd 7.1.1 logs it:
/// the status line it became (`200 OK`) and the headers taken from the stale object; no
/// `Filters` and no `Fetch_Body` (the body is the stale object's). The conditions go before
/// `X-Varnish` in the request.
#[tokio::test]
async fn a_revalidation_logs_the_merge_as_varnishd_does() {
    let o = Origin::start("o").await;
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=60".into(), "X-Stale-Only: 1".into()];
        b.etag = Some("\"e1\"".into());
    });
    let vcl = "sub vcl_backend_response { set beresp.ttl = 1s; set beresp.grace = 0s; set beresp.keep = 30s; }\n";
    let p = proxy(&vcl_for(&[&o], vcl)).await;
    p.get("/unread").await;
    let (start, _) = tags(&p, u64::MAX);
    p.get("/r").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    p.get("/r").await;
    let r = read(&p, start, 4).await;
    let fetches: Vec<_> = r.txns.iter().filter(|t| t.side == shellac_engine::vsl::Side::Backend).collect();
    assert_eq!(fetches.len(), 2);
    let records = fetches[1].records();
    let tags: Vec<&str> = records.iter().map(|(t, _)| t.name()).filter(|n| *n != "Timestamp").collect();
    let ttl = tags.iter().position(|t| *t == "TTL").expect("TTL");
    assert_eq!(&tags[ttl + 1..ttl + 4], ["BerespProtocol", "BerespStatus", "BerespReason"], "{tags:?}");
    assert!(!tags.contains(&"Filters") && !tags.contains(&"Fetch_Body"), "{tags:?}");
    let data = |tag: Tag| records.iter().filter(|(t, _)| *t == tag).map(|(_, d)| d.as_str()).collect::<Vec<_>>();
    assert_eq!(data(Tag::BerespStatus), ["304", "200"]);
    assert!(data(Tag::BerespHeader).contains(&"x-stale-only: 1"), "{:?}", data(Tag::BerespHeader));
    let bereq = data(Tag::BereqHeader);
    let (inm, xv) = (
        bereq.iter().position(|h| h.starts_with("if-none-match:")).expect("conditional"),
        bereq.iter().position(|h| h.starts_with("x-varnish:")).expect("x-varnish"),
    );
    assert!(inm < xv, "{bereq:?}");
}
