//! A short, stable description of a checked program: what `shellac check` prints on success.

use std::fmt::Write as _;

use crate::ir::{Endpoint, ProbeRequest, Program, Stmt};
use crate::symbols::Method;
use crate::vmods::{director_def, ObjMethod};

/// Lists the backends, probes, directors and the user's subroutines of a program.
pub fn summary(p: &Program) -> String {
    let subs: Vec<_> = p.subs.iter().filter(|s| s.user_defined).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "VCL {}: {}, {}, {}, {}",
        p.version.as_str(),
        count(p.backends.len(), "backend"),
        count(p.probes.len(), "probe"),
        count(p.objects.iter().filter(|o| o.kind != crate::vmods::DirectorKind::ShardParam).count(), "director"),
        count(subs.len(), "subroutine")
    );
    for b in &p.backends {
        let addr = match &b.endpoint {
            None => "none".to_string(),
            Some(Endpoint::Path(path)) => path.clone(),
            Some(Endpoint::Host { host, port, .. }) if host.contains(':') => {
                format!("[{host}]:{port}")
            }
            Some(Endpoint::Host { host, port, .. }) => format!("{host}:{port}"),
        };
        let _ = write!(out, "  backend  {} {addr}", b.name);
        if let Some(probe) = b.probe {
            let _ = write!(out, " probe={}", p.probes[probe.0 as usize].name);
        }
        out.push('\n');
    }
    for pr in &p.probes {
        let req = match &pr.request {
            ProbeRequest::Url(u) => format!("url={u}"),
            ProbeRequest::Lines(l) => format!("request={} lines", l.len()),
        };
        let _ = writeln!(
            out,
            "  probe    {} {req} interval={}s timeout={}s window={} threshold={} initial={} expect={}",
            pr.name, pr.interval, pr.timeout, pr.window, pr.threshold, pr.initial, pr.expected_response
        );
    }
    for a in &p.acls {
        let _ = writeln!(out, "  acl      {} {}", a.name, count_of(a.entries.len(), "entry", "entries"));
    }
    let init = &p.method(Method::Init).body;
    for (i, o) in p.objects.iter().enumerate() {
        let members = init
            .iter()
            .filter(|s| matches!(s, Stmt::Eval(e) if matches!(&e.kind, crate::ir::ExprKind::Method(id, ObjMethod::AddBackend, _) if id.0 as usize == i)))
            .count();
        if o.kind == crate::vmods::DirectorKind::ShardParam {
            let _ = writeln!(out, "  object   {} shard_param", o.name);
            continue;
        }
        let origin = if o.from_vcl3 { " (Varnish 3 director)" } else { "" };
        let _ = writeln!(
            out,
            "  director {} {} {}{origin}",
            o.name,
            director_def(o.kind).type_name,
            count(members, "member")
        );
    }
    for s in subs {
        let _ = writeln!(out, "  sub      {}", s.name);
    }
    out
}

fn count(n: usize, what: &str) -> String {
    count_of(n, what, &format!("{what}s"))
}

fn count_of(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
