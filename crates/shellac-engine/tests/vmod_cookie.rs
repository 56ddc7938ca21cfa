//! vmod cookie (Varnish 7.1's, bundled): the same VCL as run on varnishd 7.1.1 gives the same
//! headers for the same Cookie strings, quirks included; the backend task has a jar of its own.

mod common;

use common::*;

const VCL: &str = r#"
import cookie;
import std;
sub vcl_recv { return (synth(200)); }
sub vcl_synth {
  cookie.parse(req.http.c);
  set resp.http.s0 = "[" + cookie.get_string() + "]";
  set resp.http.a = "[" + cookie.get("a") + "]";
  set resp.http.isset-b = cookie.isset("b");
  set resp.http.isset-z = cookie.isset("z");
  set resp.http.re = "[" + cookie.get_re("^b") + "]";
  cookie.set("n", "v1");
  cookie.set("a", "A2");
  set resp.http.s1 = "[" + cookie.get_string() + "]";
  cookie.delete("n");
  cookie.filter("x, b");
  set resp.http.s2 = "[" + cookie.get_string() + "]";
  cookie.parse(req.http.c);
  cookie.keep("a,c");
  set resp.http.s3 = "[" + cookie.get_string() + "]";
  cookie.parse(req.http.c);
  cookie.filter_re("^[ab]$");
  set resp.http.s4 = "[" + cookie.get_string() + "]";
  cookie.parse(req.http.c);
  cookie.keep_re("^[ab]$");
  set resp.http.s5 = "[" + cookie.get_string() + "]";
  cookie.clean();
  set resp.http.s6 = "[" + cookie.get_string() + "]";
  set resp.http.fd = cookie.format_date(std.real2time(1140618699, now), 5m);
}
"#;

type Row<'a> = (&'a str, &'a [(&'a str, &'a str)]);

/// What varnishd 7.1.1 answered, per Cookie string (`c:`; none for the last row).
const ROWS: &[Row<'static>] = &[
    (
        "a=1; b=2; c=3",
        &[
            ("s0", "[a=1; b=2; c=3;]"),
            ("a", "[1]"),
            ("isset-b", "true"),
            ("isset-z", "false"),
            ("re", "[2]"),
            ("s1", "[a=A2; b=2; c=3; n=v1;]"),
            ("s2", "[a=A2; c=3;]"),
            ("s3", "[a=1; c=3;]"),
            ("s4", "[c=3;]"),
            ("s5", "[a=1; b=2;]"),
            ("s6", "[]"),
            ("fd", "Wed, 22 Feb 2006 14:36:39 GMT"),
        ],
    ),
    (
        "a=1;b=2;;c=3;",
        &[
            ("s0", "[a=1; b=2; ;c=3;]"),
            ("a", "[1]"),
            ("isset-b", "true"),
            ("isset-z", "false"),
            ("re", "[2]"),
            ("s1", "[a=A2; b=2; ;c=3; n=v1;]"),
            ("s2", "[a=A2; ;c=3;]"),
            ("s3", "[a=1;]"),
            ("s4", "[;c=3;]"),
            ("s5", "[a=1; b=2;]"),
            ("s6", "[]"),
            ("fd", "Wed, 22 Feb 2006 14:36:39 GMT"),
        ],
    ),
    (
        "  a = 1 ; b=2",
        &[
            ("s0", "[a = 1 ; b=2;]"),
            ("a", "[]"),
            ("isset-b", "true"),
            ("isset-z", "false"),
            ("re", "[2]"),
            ("s1", "[a = 1 ; b=2; n=v1; a=A2;]"),
            ("s2", "[a = 1 ; a=A2;]"),
            ("s3", "[]"),
            ("s4", "[a = 1 ;]"),
            ("s5", "[b=2;]"),
            ("s6", "[]"),
            ("fd", "Wed, 22 Feb 2006 14:36:39 GMT"),
        ],
    ),
    (
        "a=1; a=2; b",
        &[
            ("s0", "[a=2;]"),
            ("a", "[2]"),
            ("isset-b", "false"),
            ("isset-z", "false"),
            ("re", "[]"),
            ("s1", "[a=A2; n=v1;]"),
            ("s2", "[a=A2;]"),
            ("s3", "[a=2;]"),
            ("s4", "[]"),
            ("s5", "[a=2;]"),
            ("s6", "[]"),
            ("fd", "Wed, 22 Feb 2006 14:36:39 GMT"),
        ],
    ),
    (
        "x; =5; b=; c=3",
        &[
            ("s0", "[x; =5; c=3;]"),
            ("a", "[]"),
            ("isset-b", "false"),
            ("isset-z", "false"),
            ("re", "[]"),
            ("s1", "[x; =5; c=3; n=v1; a=A2;]"),
            ("s2", "[x; =5; c=3; a=A2;]"),
            ("s3", "[c=3;]"),
            ("s4", "[x; =5; c=3;]"),
            ("s5", "[]"),
            ("s6", "[]"),
            ("fd", "Wed, 22 Feb 2006 14:36:39 GMT"),
        ],
    ),
    (
        r#"a=1=2; b="q""#,
        &[
            ("s0", r#"[a=1=2; b="q";]"#),
            ("a", "[1=2]"),
            ("isset-b", "true"),
            ("isset-z", "false"),
            ("re", r#"["q"]"#),
            ("s1", r#"[a=A2; b="q"; n=v1;]"#),
            ("s2", "[a=A2;]"),
            ("s3", "[a=1=2;]"),
            ("s4", "[]"),
            ("s5", r#"[a=1=2; b="q";]"#),
            ("s6", "[]"),
            ("fd", "Wed, 22 Feb 2006 14:36:39 GMT"),
        ],
    ),
    (
        "",
        &[
            ("s0", "[]"),
            ("a", "[]"),
            ("isset-b", "false"),
            ("isset-z", "false"),
            ("re", "[]"),
            ("s1", "[n=v1; a=A2;]"),
            ("s2", "[a=A2;]"),
            ("s3", "[a=A2;]"),
            ("s4", "[]"),
            ("s5", "[]"),
            ("s6", "[]"),
            ("fd", "Wed, 22 Feb 2006 14:36:39 GMT"),
        ],
    ),
];

#[tokio::test]
async fn cookie_functions_answer_as_varnishds() {
    let o = Origin::start("b").await;
    let p = proxy(&vcl_for(&[&o], VCL)).await;
    for (cookie, want) in ROWS {
        let c = if cookie.is_empty() { String::new() } else { format!("c: {cookie}\r\n") };
        let r = p.request(&format!("GET / HTTP/1.1\r\nHost: a\r\n{c}\r\n")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        for (name, value) in *want {
            assert_eq!(r.header(name), Some(*value), "{cookie:?}: {name}");
        }
    }
}

#[tokio::test]
async fn the_backend_task_has_a_jar_of_its_own() {
    let o = Origin::start("b").await;
    let vcl = vcl_for(
        &[&o],
        "import cookie;\n\
         sub vcl_recv { cookie.parse(req.http.cookie); cookie.keep(\"keep\"); set req.http.cookie = cookie.get_string(); return (pass); }\n\
         sub vcl_backend_fetch { set bereq.http.x-before = \"[\" + cookie.get_string() + \"]\"; cookie.set(\"be\", \"1\"); set bereq.http.x-be = cookie.get_string(); }\n\
         sub vcl_deliver { set resp.http.x-client = cookie.get_string(); }\n",
    );
    let p = proxy(&vcl).await;
    let r = p.request("GET / HTTP/1.1\r\nHost: a\r\nCookie: drop=1; keep=2\r\n\r\n").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-client"), Some("keep=2;"), "the client task's jar lives through the request");
    let sent = &o.requests()[0];
    let h = |n: &str| sent.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str());
    assert_eq!(h("cookie"), Some("keep=2;"));
    assert_eq!(h("x-before"), Some("[]"), "the backend task starts with an empty jar");
    assert_eq!(h("x-be"), Some("be=1;"));
}
