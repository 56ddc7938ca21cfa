//! What the checker hands the engine: the shape of the IR for the constructs whose lowering
//! matters at run time (concatenation, builtin concatenation, Varnish 3 directors, defaults).

#![allow(clippy::unwrap_used)] // Test helpers: a failure is the report.

use shellac_vcl::ir::{Action, BackendRef, ExprKind, Stmt};
use shellac_vcl::symbols::{ActionKind, Method, Var};
use shellac_vcl::vmods::{DirectorKind, ObjMethod};
use shellac_vcl::{compile, MemLoader, Options, Program};

fn program(src: &str) -> Program {
    let out = compile("t.vcl", src.as_bytes(), &Options::default(), &MemLoader::new(), None);
    let rendered = out.render();
    out.program.unwrap_or_else(|| panic!("{rendered}"))
}

const B: &str = "vcl 4.1;\nbackend default { .host = \"127.0.0.1\"; }\n";

#[test]
fn string_plus_anything_is_one_flat_concatenation() {
    let p = program(&format!("{B}sub vcl_recv {{ set req.http.x = \"a\" + 1 + req.http.y + 2s; }}"));
    let Stmt::Set { var, value, .. } = &p.method(Method::Recv).body[0] else { panic!() };
    assert_eq!(var.var, Var::ReqHttp);
    assert_eq!(var.header.as_deref(), Some("x"));
    let ExprKind::Concat(parts) = &value.kind else { panic!("{value:?}") };
    assert_eq!(parts.len(), 4);
    assert!(matches!(parts[1].kind, ExprKind::ToString(_)));
    assert!(matches!(parts[2].kind, ExprKind::Var(_)));
}

#[test]
fn methods_run_the_users_code_then_the_builtin() {
    let p =
        program(&format!("{B}sub vcl_recv {{ set req.http.a = \"1\"; }}\nsub vcl_recv {{ set req.http.b = \"2\"; }}"));
    let body = &p.method(Method::Recv).body;
    assert_eq!(body.len(), 4, "{body:?}");
    assert!(matches!(&body[2], Stmt::Call(id, _) if p.subs[id.0 as usize].name == "vcl_builtin_recv"));
    assert!(matches!(&body[3], Stmt::Return(Action::Act(ActionKind::Hash, _), _)));
    // Untouched methods are the builtin alone.
    assert!(matches!(&p.method(Method::Deliver).body[1], Stmt::Return(Action::Act(ActionKind::Deliver, _), _)));
}

#[test]
fn return_miss_in_vcl_hit_is_kept_as_miss() {
    let p = program(&format!("{B}sub vcl_hit {{ return (miss); }}"));
    assert!(matches!(&p.method(Method::Hit).body[0], Stmt::Return(Action::Act(ActionKind::Miss, _), _)));
}

#[test]
fn varnish3_directors_become_objects_created_first_in_vcl_init() {
    let p = program(
        "vcl 4.1;\nbackend a { .host = \"127.0.0.1\"; }\nbackend b { .host = \"127.0.0.1\"; .port = \"81\"; }\n\
         director d random { { .backend = a; .weight = 3; } { .backend = b; } }\n\
         sub vcl_init { return (ok); }\nsub vcl_recv { set req.backend = d; }",
    );
    assert_eq!(p.objects.len(), 1);
    assert_eq!(p.objects[0].kind, DirectorKind::Random);
    assert!(p.objects[0].from_vcl3);
    let init = &p.method(Method::Init).body;
    assert!(matches!(init[0], Stmt::New(..)));
    let Stmt::Eval(e) = &init[1] else { panic!() };
    let ExprKind::Method(_, ObjMethod::AddBackend, args) = &e.kind else { panic!() };
    assert!(matches!(args[1].as_ref().unwrap().kind, ExprKind::Real(w) if w == 3.0));
    let Stmt::Eval(e) = &init[2] else { panic!() };
    let ExprKind::Method(_, ObjMethod::AddBackend, args) = &e.kind else { panic!() };
    assert!(matches!(args[1].as_ref().unwrap().kind, ExprKind::Real(w) if w == 1.0));
    assert!(matches!(init[3], Stmt::Return(..)));
    let Stmt::Set { var, value, .. } = &p.method(Method::Recv).body[0] else { panic!() };
    assert_eq!(var.var, Var::ReqBackendHint);
    assert!(matches!(value.kind, ExprKind::Backend(BackendRef::Director(_))));
}

#[test]
fn default_backend_is_named_default_else_first() {
    let p = program("vcl 4.1;\nbackend x { .host = \"127.0.0.1\"; }\nbackend default { .host = \"127.0.0.1\"; }\nsub vcl_recv { set req.backend_hint = x; }");
    assert_eq!(p.default_backend, BackendRef::Backend(p.backend_by_name("default").unwrap()));
    let p = program("vcl 4.1;\nbackend x { .host = \"127.0.0.1\"; }\n");
    assert_eq!(p.default_backend, BackendRef::Backend(p.backend_by_name("x").unwrap()));
}

#[test]
fn regexes_are_compiled_once_and_shared() {
    let p = program(&format!("{B}sub vcl_recv {{ if (req.url ~ \"^/a\" || req.http.x ~ \"^/a\") {{ set req.url = regsub(req.url, \"^/a\", \"/b\"); }} }}"));
    // The builtin VCL has regexes of its own; the user's three uses of "^/a" add one.
    let base = program(B).regexes.len();
    assert_eq!(p.regexes.len(), base + 1);
    let re = p.regexes.iter().find(|r| r.as_str() == "^/a").unwrap();
    assert!(re.is_match(b"/a/x").unwrap());
}

#[test]
fn probe_and_backend_attributes_reach_the_ir() {
    let p = program(
        "vcl 4.1;\nprobe p { .url = \"/h\"; .window = 10; .threshold = 8; .interval = 3s; .timeout = 2s; }\n\
         backend default { .host = \"127.0.0.1\"; .port = \"8080\"; .connect_timeout = 5s; .first_byte_timeout = 6s; .between_bytes_timeout = 2s; .max_connections = 7; .probe = p; }",
    );
    let b = &p.backends[0];
    assert_eq!(
        (b.connect_timeout, b.first_byte_timeout, b.between_bytes_timeout, b.max_connections),
        (Some(5.0), Some(6.0), Some(2.0), 7)
    );
    assert_eq!(b.host_header.as_deref(), Some("127.0.0.1"));
    let probe = &p.probes[b.probe.unwrap().0 as usize];
    assert_eq!((probe.window, probe.threshold, probe.initial, probe.interval, probe.timeout), (10, 8, 7, 3.0, 2.0));
}
