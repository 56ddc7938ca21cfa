//! The builtin subroutines every request runs, linked as Rust rather than as a tree of
//! closures: `vcl_builtin_recv` (with `vcl_req_host`, `vcl_req_method`,
//! `vcl_req_authorization`, `vcl_req_cookie`), `vcl_builtin_hash` and
//! `vcl_builtin_backend_response` (with `vcl_beresp_stale`, `vcl_beresp_cookie`,
//! `vcl_beresp_control`, `vcl_beresp_vary`, `vcl_beresp_hitmiss`). Varnish compiles VCL to C;
//! interpreted, the builtin subroutines cost a cache hit about a tenth of its instructions.
//!
//! Only when none of those subroutines has a part of the user's (a VCL may add to any of them;
//! then the interpreter runs them all). Each writes through the same `vars` calls the linked
//! statements make, and reads what they read (`vcl_builtin_backend_response` takes `bereq` and
//! `beresp` from `vars` and reads `beresp.ttl` through the same "from now" arithmetic, its
//! headers' first values in one walk), so the log records, the TTL arithmetic and the header
//! handling are the interpreter's own; the tests run both on the same requests.

use http::header::{AUTHORIZATION, COOKIE, HOST, SET_COOKIE, VARY};
use http::HeaderName;
use shellac_vcl::ir::Program;
use shellac_vcl::symbols::{ActionKind, Var};

use super::{Flow, Handling, StmtFn};
use crate::error::VclFail;
use crate::value::Value;
use crate::vrt::{vars, Ctx};

/// The subroutines [`vcl_builtin_recv`] stands for.
const RECV: [&str; 5] =
    ["vcl_builtin_recv", "vcl_req_host", "vcl_req_method", "vcl_req_authorization", "vcl_req_cookie"];

/// The subroutine [`vcl_builtin_hash`] stands for.
const HASH: [&str; 1] = ["vcl_builtin_hash"];

/// The subroutines [`vcl_builtin_backend_response`] stands for.
const BACKEND_RESPONSE: [&str; 6] = [
    "vcl_builtin_backend_response",
    "vcl_beresp_stale",
    "vcl_beresp_cookie",
    "vcl_beresp_control",
    "vcl_beresp_vary",
    "vcl_beresp_hitmiss",
];

/// A family's native body.
type Native = fn(&mut Ctx<'_>) -> Result<Flow, VclFail>;

const SURROGATE_CONTROL: HeaderName = HeaderName::from_static("surrogate-control");
const CACHE_CONTROL: HeaderName = http::header::CACHE_CONTROL;

/// The native body of the subroutine called `name`, if it has one and `program` left it and
/// the subroutines it calls as the builtin VCL has them.
pub(crate) fn body(program: &Program, name: &str) -> Option<StmtFn> {
    let (family, f): (&[&str], Native) = match name {
        "vcl_builtin_recv" => (&RECV, vcl_builtin_recv),
        "vcl_builtin_hash" => (&HASH, vcl_builtin_hash),
        "vcl_builtin_backend_response" => (&BACKEND_RESPONSE, vcl_builtin_backend_response),
        _ => return None,
    };
    let pristine = family
        .iter()
        .all(|n| program.subs.iter().find(|s| s.name == *n).is_some_and(|s| !s.user_defined && !s.body.is_empty()));
    pristine.then(|| Box::new(f) as StmtFn)
}

fn ret(action: ActionKind) -> Result<Flow, VclFail> {
    Ok(Flow::Return(Handling::new(action)))
}

fn synth(status: i64) -> Result<Flow, VclFail> {
    Ok(Flow::Return(Handling { action: ActionKind::Synth, args: vec![Value::Int(status)], label: None }))
}

/// Whether a header (or other text variable) is set: `if (req.http.x)`.
fn is_set(ctx: &mut Ctx<'_>, var: Var, name: &HeaderName) -> Result<bool, VclFail> {
    match vars::peek(ctx, var, Some(name), |v| v.is_some()) {
        Some(r) => r,
        None => Ok(vars::get(ctx, var, Some(name))?.truth()),
    }
}

/// `var ~ re` for a text variable, with `re` given as a test of the bytes (an unset header
/// matches as the empty string).
fn matches(ctx: &mut Ctx<'_>, var: Var, name: Option<&HeaderName>, re: fn(&[u8]) -> bool) -> Result<bool, VclFail> {
    match vars::peek(ctx, var, name, |v| re(v.unwrap_or(b""))) {
        Some(r) => r,
        None => Ok(re(vars::get(ctx, var, name)?.str().as_bytes())),
    }
}

/// Whether `hay` holds `needle` (lower case ASCII, beginning with a letter), ignoring ASCII
/// case: `(?i)needle`.
fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    contains_any_ignore_case(hay, &[needle])
}

/// Whether `hay` holds any of `needles` (lower case ASCII, each beginning with a letter),
/// ignoring ASCII case: `(?i)(a|b|c)`, in one scan.
fn contains_any_ignore_case(hay: &[u8], needles: &[&[u8]]) -> bool {
    // The needles' first letters, a bit each: most bytes are passed over on one test.
    let firsts = needles.iter().filter_map(|n| n.first()).fold(0u32, |m, &b| m | 1 << (b.wrapping_sub(b'a') & 31));
    for (i, &b) in hay.iter().enumerate() {
        // (A letter's two cases differ by 0x20 alone; no other byte maps onto a lower case
        // letter this way.)
        let lower = b | 0x20;
        let letter = lower.wrapping_sub(b'a');
        if letter < 26 && firsts >> letter & 1 != 0 {
            let rest = &hay[i..];
            if needles
                .iter()
                .any(|n| n.first() == Some(&lower) && rest.len() >= n.len() && rest[..n.len()].eq_ignore_ascii_case(n))
            {
                return true;
            }
        }
    }
    false
}

/// `vcl_beresp_cookie`, `vcl_beresp_control` and `vcl_beresp_vary`: whether the response's
/// headers make it uncacheable. Each test reads a header's first value, as `beresp.http.NAME`
/// does (an unset one as the empty string), all of them from one walk over the headers rather
/// than a lookup each.
fn headers_make_uncacheable(headers: &http::HeaderMap) -> bool {
    let (mut cookie, mut surrogate, mut control, mut vary) = (false, None, None, None);
    for (name, value) in headers {
        let value = value.as_bytes();
        if name == SET_COOKIE {
            cookie = true;
        } else if name == CACHE_CONTROL {
            control.get_or_insert(value);
        } else if name == VARY {
            vary.get_or_insert(value);
        } else if name == SURROGATE_CONTROL {
            surrogate.get_or_insert(value);
        }
    }
    cookie
        || surrogate.is_some_and(|v| contains_ignore_case(v, b"no-store"))
        || (surrogate.is_none()
            && control.is_some_and(|v| contains_any_ignore_case(v, &[b"no-cache", b"no-store", b"private"])))
        || vary == Some(&b"*"[..])
}

/// `vcl_builtin_recv` and the four subroutines it calls.
fn vcl_builtin_recv(ctx: &mut Ctx<'_>) -> Result<Flow, VclFail> {
    // vcl_req_host
    if matches(ctx, Var::ReqHttp, Some(&HOST), |h| h.iter().any(u8::is_ascii_uppercase))? {
        let mut host = vars::get(ctx, Var::ReqHttp, Some(&HOST))?.to_text();
        host.make_ascii_lowercase();
        vars::set(ctx, Var::ReqHttp, Some(&HOST), Value::Str(host))?;
    }
    // (`req.esi_level` is always 0: there is no ESI.)
    if !is_set(ctx, Var::ReqHttp, &HOST)? && matches(ctx, Var::ReqProto, None, |p| p == b"HTTP/1.1")? {
        return synth(400);
    }
    // vcl_req_method
    let class = |m: &[u8]| {
        const KNOWN: [&[u8]; 8] = [b"GET", b"HEAD", b"PUT", b"POST", b"TRACE", b"OPTIONS", b"DELETE", b"PATCH"];
        if m == b"PRI" {
            Some(synth(405))
        } else if !KNOWN.contains(&m) {
            Some(ret(ActionKind::Pipe))
        } else if m != b"GET" && m != b"HEAD" {
            Some(ret(ActionKind::Pass))
        } else {
            None
        }
    };
    let decided = match vars::peek(ctx, Var::ReqMethod, None, |m| class(m.unwrap_or(b""))) {
        Some(r) => r?,
        None => class(vars::get(ctx, Var::ReqMethod, None)?.str().as_bytes()),
    };
    if let Some(flow) = decided {
        return flow;
    }
    // vcl_req_authorization, vcl_req_cookie
    if is_set(ctx, Var::ReqHttp, &AUTHORIZATION)? || is_set(ctx, Var::ReqHttp, &COOKIE)? {
        return ret(ActionKind::Pass);
    }
    Ok(Flow::Next)
}

/// `vcl_builtin_hash`: the URL, then the `Host` header or, without one, the server's address.
fn vcl_builtin_hash(ctx: &mut Ctx<'_>) -> Result<Flow, VclFail> {
    let outside = || VclFail("hash_data outside vcl_hash".into());
    vars::hash_req_var(ctx, Var::ReqUrl, None).ok_or_else(outside)??;
    if !vars::hash_req_header_if_set(ctx, &HOST)? {
        let ip = vars::get(ctx, Var::ServerIp, None)?;
        vars::hash_value(ctx, &ip)?;
    }
    Ok(Flow::Next)
}

/// `vcl_builtin_backend_response` and the five subroutines it calls.
fn vcl_builtin_backend_response(ctx: &mut Ctx<'_>) -> Result<Flow, VclFail> {
    if vars::bereq(ctx)?.uncacheable {
        return ret(ActionKind::Deliver);
    }
    let now = ctx.now();
    let beresp = vars::beresp(ctx)?;
    let hitmiss = beresp.ttl_now(now) <= 0.0 || headers_make_uncacheable(&beresp.headers);
    if !hitmiss {
        return Ok(Flow::Next);
    }
    // vcl_beresp_hitmiss
    vars::set(ctx, Var::BerespTtl, None, Value::Duration(120.0))?;
    vars::set(ctx, Var::BerespUncacheable, None, Value::Bool(true))?;
    ret(ActionKind::Deliver)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(vcl: &str) -> Program {
        let opts = shellac_vcl::Options {
            vcl_path: Vec::new(),
            err_unref: false,
            storages: shellac_vcl::default_storages(),
            labels: None,
        };
        let out = shellac_vcl::compile("t.vcl", vcl.as_bytes(), &opts, &shellac_vcl::MemLoader::new(), None);
        match out.program {
            Some(p) => p,
            None => panic!("{}", out.render()),
        }
    }

    #[test]
    fn only_subroutines_left_as_the_builtin_has_them_run_natively() {
        let head = "vcl 4.1;\nbackend b { .host = \"127.0.0.1\"; }\n";
        let plain = program(head);
        assert!(body(&plain, "vcl_builtin_recv").is_some());
        assert!(body(&plain, "vcl_builtin_backend_response").is_some());
        assert!(body(&plain, "vcl_builtin_hash").is_some());
        assert!(body(&plain, "vcl_req_host").is_none(), "only the family's head stands for it");
        // The user's own vcl_recv and vcl_backend_response do not touch the families.
        let own = program(&format!(
            "{head}sub vcl_recv {{ if (req.url == \"/x\") {{ return (pass); }} }}\n\
             sub vcl_backend_response {{ set beresp.grace = 1m; }}\n"
        ));
        assert!(body(&own, "vcl_builtin_recv").is_some() && body(&own, "vcl_builtin_backend_response").is_some());
        // A part of the user's in any member of a family: that family is interpreted.
        for (sub, family) in [
            ("vcl_builtin_recv", "vcl_builtin_recv"),
            ("vcl_req_host", "vcl_builtin_recv"),
            ("vcl_req_method", "vcl_builtin_recv"),
            ("vcl_req_authorization", "vcl_builtin_recv"),
            ("vcl_req_cookie", "vcl_builtin_recv"),
            ("vcl_builtin_backend_response", "vcl_builtin_backend_response"),
            ("vcl_beresp_stale", "vcl_builtin_backend_response"),
            ("vcl_beresp_cookie", "vcl_builtin_backend_response"),
            ("vcl_beresp_control", "vcl_builtin_backend_response"),
            ("vcl_beresp_vary", "vcl_builtin_backend_response"),
            ("vcl_beresp_hitmiss", "vcl_builtin_backend_response"),
            ("vcl_builtin_hash", "vcl_builtin_hash"),
        ] {
            let p = program(&format!("{head}sub {sub} {{ }}\n"));
            assert!(body(&p, family).is_none(), "{sub}");
            let other = if family == "vcl_builtin_recv" { "vcl_builtin_backend_response" } else { "vcl_builtin_recv" };
            assert!(body(&p, other).is_some(), "{sub} leaves {other} native");
        }
    }

    #[test]
    fn no_case_ignoring_search_finds_more_or_less_than_the_regex_would() {
        for (hay, needle, want) in [
            (&b"max-age=60, NO-CACHE"[..], &b"no-cache"[..], true),
            (b"no-stor", b"no-store", false),
            (b"", b"private", false),
            (b"PrIvAtE", b"private", true),
            (b"priv\xc3\xa9", b"private", false),
            (b"max-age=1,private", b"private", true),
            (b"ppprivate", b"private", true),
            (b"privat", b"private", false),
        ] {
            assert_eq!(contains_ignore_case(hay, needle), want, "{hay:?}");
        }
        let any = |hay: &[u8]| contains_any_ignore_case(hay, &[b"no-cache", b"no-store", b"private"]);
        assert!(any(b"public, NO-STORE") && any(b"Private") && any(b"xno-cachex"));
        assert!(!any(b"max-age=3600") && !any(b"no-stor") && !any(b"n") && !any(b"") && !any(b"\xce\xee-cache"));
    }
}
