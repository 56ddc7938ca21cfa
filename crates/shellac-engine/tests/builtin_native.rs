//! The builtin subroutines Shellac runs as Rust (`vcl_builtin_recv`, `vcl_builtin_hash` and
//! `vcl_builtin_backend_response` with the subroutines they call) decide as the interpreted
//! builtin does: the same requests and responses through a VCL that leaves the builtin as it is,
//! and through one that adds an empty part of its own to one subroutine of each (which makes
//! Shellac interpret them), give the same answers, the same way, the same backend requests; and
//! the native hash makes the interpreted one's keys (one cache, the two VCLs in turn).

mod common;

use common::*;

/// What every side records: which way each request went, and why a response was not cached.
const WAYS: &str = r#"
sub vcl_hit { set req.http.X-Way = "hit"; }
sub vcl_miss { set req.http.X-Way = "miss"; }
sub vcl_pass { set req.http.X-Way = "pass"; }
sub vcl_pipe { set bereq.http.X-Way = "pipe"; }
sub vcl_deliver { set resp.http.X-Way = req.http.X-Way; }
sub vcl_synth { set resp.http.X-Way = "synth"; }
"#;

/// Empty parts of the user's: the builtin subroutines of both families are interpreted.
const INTERPRETED: &str = "sub vcl_req_cookie {}\nsub vcl_beresp_vary {}\n";

/// Answer and backend request, as far as they can be told apart.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    way: Option<String>,
    /// The Host header the origin got, if the request reached it.
    origin_host: Option<String>,
}

async fn sides() -> [(Origin, Proxy); 2] {
    let mut out = Vec::new();
    for extra in ["", INTERPRETED] {
        let o = Origin::start("o").await;
        o.set(|b| b.record = true);
        let p = proxy(&vcl_for(&[&o], &format!("{WAYS}{extra}"))).await;
        out.push((o, p));
    }
    let [a, b]: [(Origin, Proxy); 2] = out.try_into().unwrap_or_else(|_| panic!("two sides"));
    [a, b]
}

async fn send(o: &Origin, p: &Proxy, raw: &str) -> Seen {
    let before = o.requests().len();
    let r = p.request(raw).await;
    let after = o.requests();
    let origin_host = after
        .get(before)
        .and_then(|rec| rec.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")).map(|(_, v)| v.clone()));
    Seen { status: r.status, way: r.header("x-way").map(str::to_string), origin_host }
}

#[tokio::test]
async fn the_native_builtin_recv_decides_as_the_interpreted_one() {
    let sides = sides().await;
    let cases: &[(&str, &str)] = &[
        ("GET /a HTTP/1.1\r\nHost: example.com\r\n", "miss"),
        ("GET /a HTTP/1.1\r\nHost: example.com\r\n", "hit"),
        ("GET /b HTTP/1.1\r\nHost: ExAmPlE.CoM\r\n", "miss (host lowered)"),
        ("GET /b HTTP/1.1\r\nHost: example.com\r\n", "hit (same object)"),
        ("GET /c HTTP/1.1\r\n", "400"),
        ("GET /c HTTP/1.0\r\n", "miss (1.0 needs no host)"),
        ("PRI /d HTTP/1.1\r\nHost: h\r\n", "405"),
        ("FOO /e HTTP/1.1\r\nHost: h\r\n", "pipe"),
        ("get /e HTTP/1.1\r\nHost: h\r\n", "pipe (methods are case-sensitive)"),
        ("POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n", "pass"),
        ("PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n", "pass"),
        ("DELETE /f HTTP/1.1\r\nHost: h\r\n", "pass"),
        ("PATCH /f HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n", "pass"),
        ("OPTIONS /f HTTP/1.1\r\nHost: h\r\n", "pass"),
        ("TRACE /f HTTP/1.1\r\nHost: h\r\n", "pass"),
        ("HEAD /g HTTP/1.1\r\nHost: h\r\n", "miss"),
        ("GET /h HTTP/1.1\r\nHost: h\r\nAuthorization: Basic eDp5\r\n", "pass"),
        ("GET /h HTTP/1.1\r\nHost: h\r\nCookie: a=b\r\n", "pass"),
        ("GET /h HTTP/1.1\r\nHost: h\r\nCookie:\r\n", "pass (an empty header is set)"),
        ("GET /i HTTP/1.1\r\nHost: UPPER\r\nHost: second\r\n", "the first host"),
    ];
    for (raw, what) in cases {
        let raw = format!("{raw}Connection: close\r\n\r\n");
        let [native, interpreted] = [&sides[0], &sides[1]];
        let n = send(&native.0, &native.1, &raw).await;
        let i = send(&interpreted.0, &interpreted.1, &raw).await;
        assert_eq!(n, i, "{what}: {raw:?}");
    }
    // And the cases do what they say (both sides, as they agree).
    let o = &sides[0].0;
    let hosts: Vec<String> = o
        .requests()
        .iter()
        .filter_map(|r| r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")).map(|(_, v)| v.clone()))
        .collect();
    assert!(hosts.contains(&"example.com".to_string()) && !hosts.iter().any(|h| h == "ExAmPlE.CoM"), "{hosts:?}");
}

#[tokio::test]
async fn the_native_builtin_backend_response_decides_as_the_interpreted_one() {
    let sides = sides().await;
    let cases: &[&[&str]] = &[
        &["Cache-Control: max-age=60"],
        &[],
        &["Cache-Control: max-age=0"],
        &["Cache-Control: max-age=60", "Set-Cookie: a=b"],
        &["Cache-Control: private, max-age=60"],
        &["Cache-Control: max-age=60, NO-CACHE"],
        &["Cache-Control: max-age=60,no-store"],
        &["Cache-Control: max-age=60, no-storage-hint"],
        &["Surrogate-Control: no-store", "Cache-Control: max-age=60"],
        &["Surrogate-Control: max-age=60", "Cache-Control: private"],
        &["Surrogate-Control: No-Store"],
        &["Cache-Control: max-age=60", "Vary: *"],
        &["Cache-Control: max-age=60", "Vary: Accept"],
        &["Cache-Control: max-age=60", "Vary: *, Accept"],
        &["Cache-Control: max-age=60", "Cache-Control: private"],
        &["Surrogate-Control: max-age=60", "Surrogate-Control: no-store", "Cache-Control: max-age=60"],
        &["Vary: Accept", "Vary: *", "Cache-Control: max-age=60"],
        &["Cache-Control: max-age=60", "Set-Cookie:"],
        &["Cache-Control: max-age=60, nno-cachee"],
    ];
    for (n, headers) in cases.iter().enumerate() {
        let mut seen = Vec::new();
        for (o, p) in &sides {
            o.set(|b| b.headers = headers.iter().map(|h| h.to_string()).collect());
            let raw = format!("GET /r{n} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
            // The second request tells whether the first answer was kept (hit), or marked
            // hit-for-miss or not cacheable (miss again).
            seen.push([send(o, p, &raw).await, send(o, p, &raw).await]);
        }
        assert_eq!(seen[0], seen[1], "{headers:?}");
    }
    // A pass is delivered as it came, whatever it says.
    let raw = "POST /pass HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let [a, b] = [&sides[0], &sides[1]];
    assert_eq!(send(&a.0, &a.1, raw).await, send(&b.0, &b.1, raw).await);
    // The cases do what they say: a plain max-age is kept, max-age=0 is not.
    let o = &sides[0];
    o.0.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    let raw = |u: &str| format!("GET {u} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    send(&o.0, &o.1, &raw("/kept")).await;
    assert_eq!(send(&o.0, &o.1, &raw("/kept")).await.way.as_deref(), Some("hit"));
    o.0.set(|b| b.headers = vec!["Cache-Control: no-cache".into()]);
    send(&o.0, &o.1, &raw("/not")).await;
    assert_eq!(send(&o.0, &o.1, &raw("/not")).await.way.as_deref(), Some("miss"));
}

#[tokio::test]
async fn the_native_builtin_hash_makes_the_keys_the_interpreted_one_makes() {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Cache-Control: max-age=60".into()]);
    let native = vcl_for(&[&o], WAYS);
    let interpreted = format!("{native}sub vcl_builtin_hash {{}}\n");
    let p = proxy(&native).await;
    let way = |r: Response| r.header("x-way").map(str::to_string).unwrap_or_default();
    let raw = |head: &str| format!("{head}Connection: close\r\n\r\n");
    // URL and Host make the key; without a Host (HTTP/1.0) the server's address does.
    let stored_native = [
        "GET /a HTTP/1.1\r\nHost: example.com\r\n",
        "GET /a HTTP/1.1\r\nHost: other.example\r\n",
        "GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\n",
        "GET /b HTTP/1.0\r\n",
    ];
    let stored_interpreted = ["GET /c HTTP/1.1\r\nHost: example.com\r\n", "GET /d HTTP/1.0\r\n"];
    for head in stored_native {
        assert_eq!(way(p.request(&raw(head)).await), "miss", "{head:?}: a key of its own");
        assert_eq!(way(p.request(&raw(head)).await), "hit", "{head:?}");
    }
    p.server.use_vcl(load(&p.server, "interpreted", &interpreted));
    for head in stored_native {
        assert_eq!(way(p.request(&raw(head)).await), "hit", "{head:?}: the interpreted hash finds it");
    }
    for head in stored_interpreted {
        assert_eq!(way(p.request(&raw(head)).await), "miss", "{head:?}");
    }
    p.server.use_vcl(load(&p.server, "native", &native));
    for head in stored_interpreted {
        assert_eq!(way(p.request(&raw(head)).await), "hit", "{head:?}: the native hash finds it");
    }
}
