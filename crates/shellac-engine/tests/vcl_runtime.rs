//! VCL at run time: variables, functions, synth pages, failures, restarts and retries.

mod common;

use std::time::Duration;

use common::*;

/// The builtin synth page, as `varnishd -x builtin` prints it.
fn guru(status: u16, reason: &str, xid: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <title>{status} {reason}</title>\n  </head>\n  <body>\n    <h1>Error {status} {reason}</h1>\n    <p>{reason}</p>\n    <h3>Guru Meditation:</h3>\n    <p>XID: {xid}</p>\n    <hr>\n    <p>Varnish cache server</p>\n  </body>\n</html>\n"
    )
}

#[tokio::test]
async fn synth_pages_are_the_builtin_ones_byte_for_byte() {
    let o = Origin::start("b").await;
    // (varnishd 7.1 has no phrase for 418: "Unknown HTTP Status", not http's "I'm a teapot".)
    let p = proxy(&vcl_for(&[&o], "sub vcl_recv { if (req.url == \"/teapot\") { return (synth(418)); } }\n")).await;
    let r = p.get("/teapot").await;
    assert_eq!(r.status, 418);
    assert_eq!(r.reason, "Unknown HTTP Status");
    let xid = r.header("x-varnish").expect("xid").to_string();
    assert_eq!(r.text(), guru(418, "Unknown HTTP Status", &xid));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(r.header("server"), Some("Varnish"));
    assert!(r.header("date").is_some());
    assert!(r.header("via").is_none() && r.header("age").is_none());
    // varnishd's 503 "Backend fetch failed" page is 282 bytes with its usual 5-digit xids.
    assert_eq!(guru(503, "Backend fetch failed", "32770").len(), 282);
    o.refuse();
    let r = p.get("/").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.reason, "Backend fetch failed");
    let bxid = r.text().split("XID: ").nth(1).and_then(|s| s.split('<').next()).unwrap_or("").to_string();
    assert_ne!(bxid, xid, "the page of a backend error carries the backend request's xid");
    assert_eq!(r.text(), guru(503, "Backend fetch failed", &bxid));
    assert_eq!(r.header("retry-after"), Some("5"));
    assert!(r.header("via").is_some() && r.header("age").is_some(), "backend errors are delivered");
}

/// Assigning any status rewrites the reason with varnishd's phrase for it (checked on varnishd
/// 7.1.1 with this VCL): a code it does not list gets "Unknown HTTP Status", not the old reason.
#[tokio::test]
async fn assigning_a_status_brings_varnishds_phrase_for_it() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(
        &[&o],
        "import std;\n\
         sub vcl_recv { return (synth(200, \"Custom\")); }\n\
         sub vcl_synth { set resp.status = std.integer(regsub(req.url, \"^/\", \"\"), 200); }\n",
    );
    let p = proxy(&vcl).await;
    for (path, status, reason) in [
        ("/299", 299, "Unknown HTTP Status"),
        ("/418", 418, "Unknown HTTP Status"),
        ("/416", 416, "Requested Range Not Satisfiable"),
        ("/413", 413, "Request Entity Too Large"),
        ("/200", 200, "OK"),
        ("/1404", 404, "Not Found"),
    ] {
        let r = p.get(path).await;
        assert_eq!((r.status, r.reason.as_str()), (status, reason), "{path}");
    }
}

#[tokio::test]
async fn strings_headers_and_regexes_behave_like_varnish() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(
        &[&o],
        r#"
import std;
sub vcl_recv {
    set req.http.X-Concat = "a" + 1 + 2 + req.http.unset-header + "|" + 1.5 + "|" + (2s + 500ms);
    set req.http.X-Sub = regsub(req.url, "^/(\w+)/(\d+)$", "\2-\1\&");
    set req.http.X-All = regsuball("a.b.c", "\.", "/");
    set req.http.X-Lower = std.tolower("MiXeD");
    if (req.http.HOST == "Case.Test") { set req.http.X-Case = "header names ignore case"; }
    if (req.http.missing) { set req.http.X-Missing = "set"; } else { set req.http.X-Missing = "unset"; }
    if (req.http.missing != "x") { set req.http.X-Ne = "unset differs"; }
    set req.http.X-Int = std.integer("  42 ", 0) * 2;
    set req.http.X-Dur = std.duration("1.5m", 0s);
    set req.http.X-Ip = client.ip;
    set req.http.X-Append = "x";
    set req.http.X-Append += "y";
    return (pass);
}
sub vcl_deliver {
    set resp.http.X-Restarts = req.restarts;
    unset resp.http.X-Origin;
}
"#,
    );
    let p = proxy(&vcl).await;
    let r = p.request("GET /item/42 HTTP/1.1\r\nHost: Case.Test\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-origin").is_none(), "unset in vcl_deliver");
    assert_eq!(r.header("x-restarts"), Some("0"));
    let req = &o.requests()[0];
    let h = |n: &str| {
        req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    assert_eq!(h("x-concat"), "a12|1.500|2.500");
    assert_eq!(h("x-sub"), "42-item&");
    assert_eq!(h("x-all"), "a/b/c");
    assert_eq!(h("x-lower"), "mixed");
    assert_eq!(h("x-case"), "header names ignore case");
    assert_eq!(h("x-missing"), "unset");
    assert_eq!(h("x-ne"), "unset differs");
    assert_eq!(h("x-int"), "84");
    assert_eq!(h("x-dur"), "90.000");
    assert_eq!(h("x-ip"), "127.0.0.1");
    assert_eq!(h("x-append"), "xy");
    // The user's vcl_recv returned before the builtin's, so the Host is not lower-cased.
    assert_eq!(h("host"), "Case.Test");
}

#[tokio::test]
async fn a_failed_conversion_is_a_vcl_failure_and_503() {
    let o = Origin::start("b").await;
    let p =
        proxy(&vcl_for(&[&o], "import std;\nsub vcl_recv { set req.http.n = std.integer(req.http.n) + 1; }\n")).await;
    let r = p.request("GET / HTTP/1.1\r\nHost: a\r\nn: 1.5\r\n\r\n").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.reason, "VCL failed");
    let r = p.request("GET / HTTP/1.1\r\nHost: a\r\nn: 7\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(o.hits(), 1);
}

#[tokio::test]
async fn acls_match_client_addresses() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(
        &[&o],
        "acl loopback { \"127.0.0.0\"/8; ! \"127.0.0.2\"; }\nacl other { \"10.0.0.0\"/8; }\n\
         sub vcl_recv { if (client.ip ~ other) { return (synth(403)); } if (client.ip !~ loopback) { return (synth(401)); } }\n",
    );
    let p = proxy(&vcl).await;
    assert_eq!(p.get("/").await.status, 200);
}

#[tokio::test]
async fn restarts_run_recv_again_up_to_max_restarts() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(
        &[&o],
        "import std;\nsub vcl_recv { set req.http.X-Seen = req.restarts; }\n\
         sub vcl_deliver { if (req.restarts < std.integer(req.http.want, 0)) { return (restart); } set resp.http.X-Restarts = req.restarts; }\n",
    );
    let p = proxy(&vcl).await;
    let r = p.request("GET / HTTP/1.1\r\nHost: a\r\nwant: 2\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-restarts"), Some("2"));
    assert_eq!(o.hits(), 3);
    // Beyond max_restarts (4): 503.
    let r = p.request("GET / HTTP/1.1\r\nHost: a\r\nwant: 9\r\n\r\n").await;
    assert_eq!(r.status, 503);
    assert_eq!(o.hits(), 3 + 5);
}

#[tokio::test]
async fn retries_go_to_the_next_round_robin_member_and_stop_at_max_retries() {
    let a = Origin::start("a").await;
    let b = Origin::start("b").await;
    a.set_status(500);
    let vcl = vcl_for(
        &[&a, &b],
        "import directors;\nsub vcl_init { new rr = directors.round_robin(); rr.add_backend(a); rr.add_backend(b); }\n\
         sub vcl_recv { set req.backend_hint = rr.backend(); return (pass); }\n\
         sub vcl_backend_response { if (beresp.status >= 500) { return (retry); } set beresp.http.X-Retries = bereq.retries; }\n",
    );
    let p = proxy(&vcl).await;
    let r = p.get("/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "b");
    assert_eq!(r.header("x-retries"), Some("1"));
    // Both failing: 1 + max_retries (4) attempts, then vcl_backend_error's 503.
    b.set_status(500);
    let before = a.hits() + b.hits();
    let r = p.get("/").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.reason, "Backend fetch failed");
    assert_eq!(a.hits() + b.hits() - before, 5);
}

#[tokio::test]
async fn retry_from_backend_error_beyond_the_limit_fails_the_fetch() {
    let a = Origin::start("a").await;
    a.refuse();
    let vcl = vcl_for(&[&a], "sub vcl_backend_error { return (retry); }\n");
    let p = proxy(&vcl).await;
    let r = p.get("/").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.reason, "Service Unavailable");
    assert!(r.header("via").is_none(), "a failed fetch ends in vcl_synth");
}

#[tokio::test]
async fn error_and_abandon_from_backend_subs() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(
        &[&o],
        "sub vcl_backend_fetch { if (bereq.url == \"/err\") { return (error(599, \"Custom\")); } if (bereq.url == \"/abandon\") { return (abandon); } }\n",
    );
    let p = proxy(&vcl).await;
    let r = p.get("/err").await;
    assert_eq!((r.status, r.reason.as_str()), (599, "Custom"));
    let r = p.get("/abandon").await;
    assert_eq!((r.status, r.reason.as_str()), (503, "Service Unavailable"));
    assert_eq!(o.hits(), 0);
}

#[tokio::test]
async fn vcl_synth_can_be_customised_and_vwxyz_statuses_use_three_digits() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(
        &[&o],
        "sub vcl_recv { if (req.url == \"/r\") { return (synth(1301, \"Moved\")); } }\n\
         sub vcl_synth { if (resp.status == 1301) { set resp.http.Location = \"/new\"; set resp.status = 301; synthetic(\"gone\"); return (deliver); } }\n",
    );
    let p = proxy(&vcl).await;
    let r = p.get("/r").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/new"));
    assert_eq!(r.text(), "gone");
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test]
async fn purge_goes_through_vcl_purge_to_synth() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(&[&o], "sub vcl_recv { if (req.method == \"PURGE\") { return (purge); } }\n");
    let p = proxy(&vcl).await;
    let r = p.request("PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!((r.status, r.reason.as_str()), (200, "Purged"));
    assert_eq!(o.hits(), 0);
}

#[tokio::test]
async fn return_vcl_label_moves_the_request_to_the_labelled_vcl() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let p = proxy(&vcl_for(&[&a], "sub vcl_recv { if (req.url == \"/other\") { return (vcl(other)); } }\n")).await;
    let other = load(&p.server, "second", &vcl_for(&[&b], ""));
    // Without the label: a VCL failure.
    assert_eq!(p.get("/other").await.status, 503);
    p.server.set_labels([("other".to_string(), other)].into_iter().collect());
    assert_eq!(who(&p.get("/other").await), "b", "the labelled VCL served it");
    assert_eq!(who(&p.get("/").await), "a");
}

#[tokio::test]
async fn requests_without_a_body_can_be_retried_whatever_their_method() {
    // The builtin drops the body of GETs only; a DELETE without a body must still be
    // resendable on retry (regression: it was treated as a one-shot stream).
    let a = Origin::start("a").await;
    let b = Origin::start("b").await;
    a.set_status(500);
    let vcl = vcl_for(
        &[&a, &b],
        "import directors;\nsub vcl_init { new rr = directors.round_robin(); rr.add_backend(a); rr.add_backend(b); }\n\
         sub vcl_recv { set req.backend_hint = rr.backend(); return (pass); }\n\
         sub vcl_backend_response { if (beresp.status >= 500) { return (retry); } }\n",
    );
    let p = proxy(&vcl).await;
    let r = p.request("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "b");
}

#[tokio::test]
async fn beresp_ttl_age_and_grace_read_as_varnishd_shows_them() {
    let o = Origin::start("o").await;
    // What varnishd 7.1.1 printed for the same answers (spec §5.1, checked on the real thing).
    let vcl = vcl_for(
        &[&o],
        "sub vcl_backend_response {\n\
         set beresp.http.x-ttl = beresp.ttl; set beresp.http.x-grace = beresp.grace;\n\
         set beresp.http.x-age = beresp.age; set beresp.http.x-keep = beresp.keep;\n\
         }\n",
    );
    let p = proxy_with(&vcl, |p| p.default_keep = 5.0).await;
    let ttl =
        |r: &Response| (r.header("x-ttl").unwrap_or("-").to_string(), r.header("x-age").unwrap_or("-").to_string());
    let r = p.get("/plain").await;
    assert_eq!(ttl(&r), ("120.000".into(), "0.000".into()));
    assert_eq!((r.header("x-grace"), r.header("x-keep")), (Some("10.000"), Some("5.000")));
    o.set(|b| b.headers = vec!["Cache-Control: max-age=100".into(), "Age: 130".into()]);
    assert_eq!(ttl(&p.get("/old").await), ("-30.000".into(), "130.000".into()));
    o.set(|b| b.headers = vec!["Age: 5".into()]);
    assert_eq!(ttl(&p.get("/aged-default").await), ("115.000".into(), "5.000".into()));
    o.set(|b| {
        b.headers = vec!["Cache-Control: max-age=60, stale-while-revalidate=30".into()];
    });
    let r = p.get("/swr").await;
    assert_eq!((ttl(&r).0.as_str(), r.header("x-grace")), ("60.000", Some("30.000")));
    o.set(|b| {
        b.headers = Vec::new();
        b.status = 500;
    });
    assert_eq!(ttl(&p.get("/error").await).0, "0.000", "an uncacheable status reads as 0");
}

#[tokio::test]
async fn default_ttl_is_a_parameter_and_beresp_ttl_is_set_from_now() {
    let o = Origin::start("o").await;
    o.set(|b| b.headers = vec!["Age: 10".into()]);
    let vcl = vcl_for(
        &[&o],
        "sub vcl_backend_response {\n\
         set beresp.http.x-before = beresp.ttl; set beresp.ttl = 30s; set beresp.http.x-after = beresp.ttl;\n\
         }\n",
    );
    let p = proxy_with(&vcl, |p| p.default_ttl = 60.0).await;
    let r = p.get("/").await;
    assert_eq!((r.header("x-before"), r.header("x-after")), (Some("50.000"), Some("30.000")));
}

/// The std functions added for Varnish 7.1 parity, each row as varnishd 7.1.1 answered the same
/// VCL (`set resp.http.NAME = EXPR;` in vcl_synth).
#[tokio::test]
async fn std_conversions_files_and_strftime_give_what_varnishd_gives() {
    let o = Origin::start("b").await;
    let scratch = shellac_testkit::Scratch::new("fileread");
    let file = scratch.write("lines.txt", "line one\nline two\n");
    let rows: &[(&str, &str, &str)] = &[
        ("r2i-a", "std.real2integer(1.5, 7)", "2"),
        ("r2i-b", "std.real2integer(-0.5, 7)", "-1"),
        ("r2i-c", "std.real2integer(2.5, 7)", "3"),
        ("r2i-d", "std.real2integer(-2.5, 7)", "-3"),
        ("r2i-e", "std.real2integer(-2.499, 7)", "-2"),
        ("r2t-a", "std.real2time(1140618699.5, now)", "Wed, 22 Feb 2006 14:31:39 GMT"),
        ("r2t-b", "std.time2real(std.real2time(1140618699.5, now), 0.0)", "1140618699.500"),
        ("r2t-c", "std.time2real(std.real2time(-1.5, now), 0.0)", "-1.500"),
        ("t2i-a", "std.time2integer(std.real2time(1140618699.0, now) + 0.7s, 0)", "1140618700"),
        ("t2i-b", "std.time2integer(std.real2time(-3, now) - 0.7s, 0)", "-4"),
        ("t2i-c", "std.time2integer(std.real2time(-3.5, now), 0)", "-4"),
        ("t2i-d", "std.time2integer(std.real2time(0.5, now), 0)", "1"),
        ("t2r-a", "std.time2real(std.real2time(1140618699.0, now) + 0.25s, 0.0)", "1140618699.250"),
        ("env-a", "\"[\" + std.getenv(\"SHELLAC_SURELY_UNSET\") + \"]\"", "[]"),
        ("syn-a", "std.syntax(4.0)", "true"),
        ("syn-b", "std.syntax(4.1)", "true"),
        ("syn-c", "std.syntax(4.2)", "false"),
        ("syn-d", "std.syntax(3.9)", "true"),
        ("fe-a", &format!("std.file_exists(\"{file}\")"), "true"),
        ("fe-b", "std.file_exists(\"/nonexistent/shellac\")", "false"),
        ("fe-c", "std.file_exists(\"/\")", "true"),
        ("fr-a", &format!("regsuball(std.fileread(\"{file}\"), \"\\n\", \"|\")"), "line one|line two|"),
        ("br-a", &format!("std.blobread(\"{file}\")"), ":bGluZSBvbmUKbGluZSB0d28K:"),
        (
            "sf-a",
            "std.strftime(std.real2time(1140618699.0, now), \"%Y%m%dT%H%M%SZ %a %b %j %e %A %B %p %I %u %w %C %D %R %y %%\")",
            "20060222T143139Z Wed Feb 053 22 Wednesday February PM 02 3 3 20 02/22/06 14:31 06 %",
        ),
        ("sf-b", "std.strftime(std.real2time(0, now), \"%F %T %z %Z %s\")", "1970-01-01 00:00:00 +0000 GMT 0"),
        ("sf-c", "\"[\" + std.strftime(now, \"\") + \"]\"", "[]"),
    ];
    let sets: String = rows.iter().map(|(name, expr, _)| format!("    set resp.http.{name} = {expr};\n")).collect();
    let vcl = vcl_for(
        &[&o],
        &format!(
            "import std;\nsub vcl_recv {{ return (synth(200)); }}\nsub vcl_synth {{\n{sets}    set resp.http.env-path = std.getenv(\"PATH\");\n}}\n"
        ),
    );
    let p = proxy(&vcl).await;
    let r = p.get("/").await;
    assert_eq!(r.status, 200, "{}", r.text());
    for (name, expr, want) in rows {
        assert_eq!(r.header(name), Some(*want), "{expr}");
    }
    assert_eq!(r.header("env-path").map(str::to_string), std::env::var("PATH").ok());
    // A file that is not there fails the VCL, as varnishd's does.
    let p = proxy(&vcl_for(
        &[&o],
        "import std;\nsub vcl_recv { set req.http.x = std.fileread(\"/nonexistent/shellac\"); }\n",
    ))
    .await;
    assert_eq!(p.get("/").await.status, 503);
}

#[tokio::test]
async fn std_rollback_takes_req_and_bereq_back_to_what_they_were() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(
        &[&o],
        r#"
import std;
sub vcl_recv {
    set req.url = "/changed";
    set req.http.X-Added = "1";
    unset req.http.X-Keep;
    if (req.http.X-Roll) { std.rollback(req); }
    set req.http.X-Url-In-Recv = req.url;
    return (pass);
}
sub vcl_backend_fetch {
    set bereq.http.X-Be = "1";
    set bereq.url = "/be";
    std.rollback(bereq);
    set bereq.http.X-After = "yes";
}
sub vcl_pipe { std.rollback(req); }
"#,
    );
    let p = proxy(&vcl).await;
    let r = p.request("GET /orig HTTP/1.1\r\nHost: a\r\nX-Keep: k\r\nX-Roll: 1\r\n\r\n").await;
    assert_eq!(r.status, 200);
    let r = p.request("GET /orig HTTP/1.1\r\nHost: a\r\nX-Keep: k\r\n\r\n").await;
    assert_eq!(r.status, 200);
    let reqs = o.requests();
    let h = |i: usize, n: &str| reqs[i].headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
    // Rolled back in vcl_recv: the URL and headers as the client sent them, then what came after.
    assert_eq!(reqs[0].line, "GET /orig HTTP/1.1");
    assert_eq!(h(0, "x-keep").as_deref(), Some("k"));
    assert_eq!(h(0, "x-added"), None);
    assert_eq!(h(0, "x-url-in-recv").as_deref(), Some("/orig"));
    // bereq rolled back to what the fetch made of the request: vcl_recv's changes stay.
    assert_eq!(reqs[1].line, "GET /changed HTTP/1.1");
    assert_eq!(h(1, "x-added").as_deref(), Some("1"));
    assert_eq!(h(1, "x-keep"), None);
    assert_eq!(h(1, "x-be"), None);
    assert_eq!(h(1, "x-after").as_deref(), Some("yes"));
}

/// Comparisons and sums as varnishd 7.1.1 evaluated the same expressions: strings in byte
/// order with an unset one greater than anything, `+` of values without a sum concatenated
/// where a string is wanted.
#[tokio::test]
async fn string_order_unset_strings_and_mixed_sums_evaluate_as_varnishd() {
    let o = Origin::start("b").await;
    let rows: &[(&str, &str, &str)] = &[
        ("lt-ab", "\"a\" < \"b\"", "true"),
        ("lt-Ba", "\"B\" < \"a\"", "true"),
        ("lt-nulla", "req.http.nope < \"a\"", "false"),
        ("gt-nulla", "req.http.nope > \"a\"", "true"),
        ("le-nulla", "req.http.nope <= \"a\"", "false"),
        ("ge-nulla", "req.http.nope >= \"a\"", "true"),
        ("lt-anull", "\"a\" < req.http.nope", "false"),
        ("gt-anull", "\"a\" > req.http.nope", "true"),
        ("eq-nullnull", "req.http.nope == req.http.nope2", "false"),
        ("lt-nullnull", "req.http.nope < req.http.nope2", "false"),
        ("le-nullnull", "req.http.nope <= req.http.nope2", "false"),
        ("le-aa", "\"a\" <= \"a\"", "true"),
        ("cat1", "1 + 1s", "11.000"),
        ("cat2", "true + true", "truetrue"),
        ("cat3", "1.5 + 1s", "1.5001.000"),
        ("num1", "1 + 1.5", "2.500"),
        ("num2", "1.5 * 2", "3.000"),
        ("num3", "7 / 2", "3"),
        ("num4", "1s * 1.5", "1.500"),
        ("cmp1", "1.5 > 1", "true"),
        ("ipcmp", "client.ip == \"127.0.0.1\"", "true"),
        ("bool-case", "True", "true"),
    ];
    let sets: String = rows.iter().map(|(name, expr, _)| format!("    set resp.http.{name} = {expr};\n")).collect();
    let vcl = vcl_for(&[&o], &format!("sub vcl_recv {{ return (synth(200)); }}\nsub vcl_synth {{\n{sets}}}\n"));
    let r = proxy(&vcl).await.get("/").await;
    assert_eq!(r.status, 200, "{}", r.text());
    for (name, expr, want) in rows {
        assert_eq!(r.header(name), Some(*want), "{expr}");
    }
}

/// `sess.timeout_idle` set by VCL is the session's from then on: the keep-alive connection of
/// a request that shortened it closes after the new timeout, another one stays open.
#[tokio::test]
async fn sess_timeout_idle_set_in_vcl_applies_to_the_rest_of_the_session() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let o = Origin::start("b").await;
    let p = proxy(&vcl_for(
        &[&o],
        "sub vcl_recv { if (req.http.short) { set sess.timeout_idle = 0.2s; } return (synth(200)); }\nsub vcl_synth { set resp.http.idle = sess.timeout_idle; set resp.http.send = sess.send_timeout; }\n",
    ))
    .await;
    let idle_after = |short: bool| {
        let addr = p.addr;
        async move {
            let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let h = if short { "short: 1\r\n" } else { "" };
            c.write_all(format!("GET / HTTP/1.1\r\nHost: a\r\n{h}\r\n").as_bytes()).await.expect("write");
            let mut buf = vec![0u8; 4096];
            let n = c.read(&mut buf).await.expect("read");
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            // Closed (EOF) within a second, or still open then.
            let closed = matches!(tokio::time::timeout(Duration::from_secs(1), c.read(&mut buf)).await, Ok(Ok(0)));
            (head, closed)
        }
    };
    let (head, closed) = idle_after(true).await;
    assert!(head.contains("idle: 0.200"), "{head}");
    assert!(head.contains("send: 600.000"), "{head}");
    assert!(closed, "the shortened session closes after 0.2 s idle");
    let (head, closed) = idle_after(false).await;
    assert!(head.contains("idle: 5.000"), "{head}");
    assert!(!closed, "the default 5 s still holds for another session");
}

/// The filter lists as varnishd 7.1.1 showed them for the same responses, and what setting
/// them does; `req_top` is the request; `bereq.hash` is `req.hash`.
#[tokio::test]
async fn filter_lists_req_top_and_bereq_hash_read_as_varnishd_shows_them() {
    use std::io::Write as _;
    let plain = Origin::start("plain").await;
    plain.set(|b| {
        b.body = "hello world hello world hello world".into();
        b.headers = vec!["Cache-Control: max-age=60".into()];
    });
    let gz = Origin::start("gz").await;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b"hello world hello world hello world").expect("gzip");
    let packed = e.finish().expect("gzip");
    gz.set(|b| {
        b.bytes = Some(packed);
        b.headers = vec!["Cache-Control: max-age=60".into(), "Content-Encoding: gzip".into()];
    });
    let vcl = vcl_for(
        &[&plain, &gz],
        r#"
sub vcl_recv {
    set req.http.top = req_top.url + " " + req_top.method + " " + req_top.http.host;
    if (req.url ~ "^/gz") { set req.backend_hint = gz; } else { set req.backend_hint = plain; }
}
sub vcl_miss { set req.http.hash = req.hash; }
sub vcl_backend_response {
    set beresp.http.f0 = "[" + beresp.filters + "]";
    if (bereq.url ~ "dogzip") { set beresp.do_gzip = true; }
    if (bereq.url ~ "dogunzip") { set beresp.do_gunzip = true; }
    if (bereq.url ~ "setfilters") { set beresp.filters = "gunzip"; }
    set beresp.http.f1 = "[" + beresp.filters + "]";
    set beresp.http.bhash = bereq.hash;
}
sub vcl_deliver {
    set resp.http.d0 = "[" + resp.filters + "]";
    if (req.http.nofilters) { set resp.filters = ""; }
    set resp.http.top = req.http.top;
    set resp.http.hash = req.http.hash;
}
"#,
    );
    let p = proxy(&vcl).await;
    let ask = |path: &str, gzip: bool, extra: &str| {
        let ae = if gzip { "Accept-Encoding: gzip\r\n" } else { "" };
        format!("GET {path} HTTP/1.1\r\nHost: h\r\n{ae}{extra}\r\n")
    };
    /// (path, client takes gzip, f0, f1, d0, content-encoding on the answer)
    type Row<'a> = (&'a str, bool, &'a str, &'a str, &'a str, Option<&'a str>);
    let rows: &[Row<'_>] = &[
        ("/plain", true, "[]", "[]", "[]", None),
        ("/gz", true, "[ testgunzip]", "[ testgunzip]", "[]", Some("gzip")),
        ("/gz?2", false, "[ testgunzip]", "[ testgunzip]", "[ gunzip]", None),
        ("/plain-dogzip", true, "[]", "[ gzip]", "[]", Some("gzip")),
        ("/plain-dogzip?2", false, "[]", "[ gzip]", "[ gunzip]", None),
        ("/gz-dogunzip", true, "[ testgunzip]", "[ gunzip]", "[]", None),
        ("/gz-setfilters", true, "[ testgunzip]", "[ gunzip]", "[]", None),
    ];
    for (path, gzip, f0, f1, d0, ce) in rows {
        let r = p.request(&ask(path, *gzip, "")).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("f0"), Some(*f0), "{path} f0");
        assert_eq!(r.header("f1"), Some(*f1), "{path} f1");
        assert_eq!(r.header("d0"), Some(*d0), "{path} d0");
        assert_eq!(r.header("content-encoding"), *ce, "{path} content-encoding");
        assert_eq!(r.header("top"), Some(format!("{path} GET h").as_str()));
        assert!(r.header("hash").is_some_and(|h| h.starts_with(':') && h.len() == 46), "{path}");
        assert_eq!(r.header("bhash"), r.header("hash"), "bereq.hash is req.hash");
    }
    // An empty resp.filters keeps the body gzip even for a client that does not take it.
    let r = p.request(&ask("/gz?2", false, "nofilters: 1\r\n")).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
}

/// varnishd's ACL network notation at run time: `"127.0.0"` is 127.0.0.0/24, `"127"` is
/// 127.0.0.0/8, and the longest match decides.
#[tokio::test]
async fn acl_network_notation_matches_the_network_it_names() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(
        &[&o],
        "acl net { \"127\"; ! \"127.0.0\"; }\nacl host { \"127.0.0\"; }\n\
         sub vcl_recv { return (synth(200)); }\n\
         sub vcl_synth { set resp.http.net = client.ip ~ net; set resp.http.host = client.ip ~ host; }\n",
    );
    let r = proxy(&vcl).await.get("/").await;
    assert_eq!(r.header("net"), Some("false"), "127.0.0.1 is in the excluded /24");
    assert_eq!(r.header("host"), Some("true"));
}
