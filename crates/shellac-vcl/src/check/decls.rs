//! Pass 2: backend, probe and ACL declarations (spec §1.3, §1.4) and the lowering of Varnish 3
//! `director` blocks (spec §3.9) to vmod directors objects.

use std::collections::HashMap;

use super::literal::{number, Num};
use super::{Checker, Symbol};
use crate::ast::{AclDecl, BackendDecl, Decl, DirectorDecl, Field, FieldValue, Ident, ProbeDecl};
use crate::diagnostic::Diagnostic;
use crate::include::Version;
use crate::ir::{self, BackendRef, Endpoint, ExprKind, ObjId, ProbeId, ProbeRequest};
use crate::source::Span;
use crate::symbols::Var;
use crate::types::Type;
use crate::vmods::{DirectorKind, ObjMethod};

const BACKEND_FIELDS: &[&str] = &[
    "host",
    "port",
    "path",
    "host_header",
    "connect_timeout",
    "first_byte_timeout",
    "between_bytes_timeout",
    "max_connections",
    "probe",
    "proxy_header",
];
const PROBE_FIELDS: &[&str] =
    &["url", "request", "expected_response", "timeout", "interval", "window", "threshold", "initial"];

/// A probe with every default (spec §1.4).
pub(crate) fn default_probe(name: &str, span: Span) -> ir::Probe {
    ir::Probe {
        name: name.to_string(),
        span,
        request: ProbeRequest::Url("/".into()),
        expected_response: 200,
        timeout: 2.0,
        interval: 5.0,
        window: 8,
        threshold: 3,
        initial: 2,
    }
}

// === impl Checker ===

impl Checker<'_, '_> {
    /// Pass 2 over every declaration.
    pub(super) fn check_decls(&mut self, all: &[&Decl]) {
        // Named probes first: backends refer to them.
        for d in all {
            if let Decl::Probe(p) = d {
                if let Some(id) = self.probe_names.get(&p.name.name).copied() {
                    if self.probes[id.0 as usize].span == p.name.span {
                        let probe = self.probe(p);
                        self.probes[id.0 as usize] = probe;
                    }
                }
            }
        }
        let mut backend_index = 0;
        let mut acl_index = 0;
        let mut object_index = 0;
        for d in all {
            match d {
                Decl::Backend(b) => {
                    if self.names.get(&b.name.name).map(|(s, _)| *s)
                        == Some(Symbol::Backend(crate::ir::BackendId(backend_index)))
                    {
                        let backend = self.backend(b);
                        self.backends[backend_index as usize] = backend;
                    }
                    backend_index += 1;
                }
                Decl::Acl(a) => {
                    self.acl(a, acl_index);
                    acl_index += 1;
                }
                Decl::Director(dir) => {
                    if self.names.get(&dir.name.name).map(|(s, _)| *s) == Some(Symbol::Object(ObjId(object_index))) {
                        self.director(dir, ObjId(object_index));
                    }
                    object_index += 1;
                }
                _ => {}
            }
        }
    }

    /// Reports duplicated and unknown fields; returns the fields by name.
    fn fields<'f>(&mut self, fields: &'f [Field], known: &[&str], what: &str) -> HashMap<&'f str, &'f Field> {
        let mut seen: HashMap<&str, &Field> = HashMap::new();
        for f in fields {
            let name = f.name.name.as_str();
            if !known.contains(&name) {
                let hint = if name == "preamble" {
                    " ('.preamble' is not supported)".to_string()
                } else {
                    format!(" (known: .{})", known.join(", ."))
                };
                self.error(f.name.span, format!("Unknown field '.{name}' in {what}{hint}"));
                continue;
            }
            if let Some(prev) = seen.get(name) {
                let prev = prev.name.span;
                self.diags.push(
                    Diagnostic::error(f.name.span, format!("Field '.{name}' redefined"))
                        .with_note("first defined here", Some(prev)),
                );
                continue;
            }
            seen.insert(name, f);
        }
        seen
    }

    fn string_field(&mut self, f: &Field) -> Option<String> {
        match &f.value {
            FieldValue::Strings(parts) if parts.len() == 1 => Some(parts[0].0.clone()),
            FieldValue::Strings(parts) => {
                self.error(parts[1].1, format!("'.{}' takes a single string", f.name.name));
                None
            }
            FieldValue::Number(n) => {
                let hint =
                    if f.name.name == "port" { format!(": write .port = \"{}\";", n.text) } else { String::new() };
                self.error(n.span, format!("'.{}' must be a string{hint}", f.name.name));
                None
            }
            other => {
                self.error(value_span(other, f.span), format!("'.{}' must be a string", f.name.name));
                None
            }
        }
    }

    fn duration_field(&mut self, f: &Field) -> Option<f64> {
        if let FieldValue::Number(n) = &f.value {
            match number(n) {
                Ok(Num::Duration(d)) if d >= 0.0 => return Some(d),
                Ok(Num::Duration(_)) => self.error(n.span, format!("'.{}' cannot be negative", f.name.name)),
                Ok(Num::Int(_) | Num::Real(_)) => self.error(
                    n.span,
                    format!(
                        "'.{}' needs a duration with a unit, e.g. '{}s' (units: ms, s, m, h, d, w, y)",
                        f.name.name, n.text
                    ),
                ),
                Ok(Num::Bytes(_)) => self.error(n.span, format!("'.{}' needs a duration, not a size", f.name.name)),
                Err(d) => self.diags.push(d),
            }
            return None;
        }
        self.error(value_span(&f.value, f.span), format!("'.{}' needs a duration, e.g. 5s", f.name.name));
        None
    }

    fn uint_field(&mut self, f: &Field) -> Option<u64> {
        if let FieldValue::Number(n) = &f.value {
            match number(n) {
                Ok(Num::Int(i)) if i >= 0 => return Some(i as u64),
                Ok(Num::Int(_)) => self.error(n.span, format!("'.{}' cannot be negative", f.name.name)),
                Ok(_) => self.error(n.span, format!("'.{}' needs a whole number without unit", f.name.name)),
                Err(d) => self.diags.push(d),
            }
            return None;
        }
        self.error(value_span(&f.value, f.span), format!("'.{}' needs a whole number", f.name.name));
        None
    }

    fn probe(&mut self, p: &ProbeDecl) -> ir::Probe {
        self.probe_fields(&p.name.name, p.name.span, &p.fields)
    }

    fn probe_fields(&mut self, name: &str, span: Span, fields: &[Field]) -> ir::Probe {
        let mut probe = default_probe(name, span);
        let f = self.fields(fields, PROBE_FIELDS, "a probe");
        if let (Some(_), Some(r)) = (f.get("url"), f.get("request")) {
            self.error(r.name.span, "Probe request redefinition: '.url' and '.request' cannot both be given");
        } else if let Some(u) = f.get("url") {
            if let Some(url) = self.string_field(u) {
                probe.request = ProbeRequest::Url(url);
            }
        } else if let Some(r) = f.get("request") {
            match &r.value {
                FieldValue::Strings(parts) => {
                    probe.request = ProbeRequest::Lines(parts.iter().map(|p| p.0.clone()).collect())
                }
                other => self.error(value_span(other, r.span), "'.request' takes one or more strings, one per line"),
            }
        }
        if let Some(e) = f.get("expected_response") {
            if let Some(v) = self.uint_field(e) {
                if (100..=999).contains(&v) {
                    probe.expected_response = v as u16;
                } else {
                    self.error(
                        value_span(&e.value, e.span),
                        "Must specify .expected_response with exactly three digits (100 <= x <= 999)",
                    );
                }
            }
        }
        // 0 means the default.
        let mut duration = |key: &str, dflt: f64| {
            f.get(key).and_then(|t| self.duration_field(t)).map(|v| if v == 0.0 { dflt } else { v })
        };
        probe.timeout = duration("timeout", 2.0).unwrap_or(probe.timeout);
        probe.interval = duration("interval", 5.0).unwrap_or(probe.interval);
        let window = f.get("window").and_then(|w| self.uint_field(w).map(|v| (v, w)));
        let threshold = f.get("threshold").and_then(|t| self.uint_field(t).map(|v| (v, t)));
        let mut ok = true;
        for (v, field) in [window, threshold].into_iter().flatten() {
            if v > 64 {
                self.error(
                    value_span(&field.value, field.span),
                    format!("Must specify .{} with a value less than or equal to 64", field.name.name),
                );
                ok = false;
            }
        }
        if let (Some((_, w)), None) = (window, f.get("threshold")) {
            self.error(w.name.span, "Must specify .threshold with .window");
            ok = false;
        }
        if ok {
            match (window, threshold) {
                (Some((w, _)), Some((t, tf))) => {
                    if t > w {
                        self.error(tf.name.span, "Threshold can not be greater than window");
                    }
                    probe.window = w as u32;
                    probe.threshold = t as u32;
                }
                (None, Some((t, _))) => {
                    probe.threshold = t as u32;
                    probe.window = (t as u32 + 1).min(64);
                }
                _ => {}
            }
        }
        // An explicit threshold of 0 means the default, 3 (as varnishd does at run time).
        if probe.threshold == 0 {
            probe.threshold = 3;
        }
        probe.initial = probe.threshold.saturating_sub(1);
        if let Some(i) = f.get("initial") {
            if let Some(v) = self.uint_field(i) {
                probe.initial = (v as u32).min(probe.threshold);
            }
        }
        probe
    }

    fn backend(&mut self, b: &BackendDecl) -> ir::Backend {
        let mut be = super::placeholder_backend(&b.name);
        let Some(fields) = &b.fields else { return be };
        let f = self.fields(fields, BACKEND_FIELDS, "a backend");
        let host = f.get("host").and_then(|h| self.string_field(h).map(|s| (s, h)));
        let port = f.get("port").and_then(|p| self.string_field(p).map(|s| (s, p)));
        let path = f.get("path").and_then(|p| self.string_field(p).map(|s| (s, p)));
        match (&host, &path) {
            (Some(_), Some((_, pf))) => {
                self.error(pf.name.span, "Address redefinition: a backend has either '.host' or '.path'")
            }
            (None, None) if !f.contains_key("host") && !f.contains_key("path") => {
                self.error(b.name.span, format!("Backend '{}' needs '.host' or '.path'", b.name.name))
            }
            (Some((h, hf)), None) => {
                let vspan = value_span(&hf.value, hf.span);
                match split_host(h) {
                    Err(msg) => self.error(vspan, msg),
                    Ok((hostname, inline_port)) => {
                        let port = match (inline_port, &port) {
                            (Some(_), Some((_, pf))) => {
                                self.error(
                                    pf.name.span,
                                    "'.host' already names a port; drop '.port' or the port in '.host'",
                                );
                                return be;
                            }
                            (Some(p), None) => Some(p),
                            (None, Some((p, pf))) => {
                                if p.is_empty() || !p.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
                                    self.error(value_span(&pf.value, pf.span), format!("Invalid port '{p}'"));
                                }
                                Some(p.clone())
                            }
                            (None, None) => Some("80".to_string()),
                        };
                        be.host_header = Some(h.clone());
                        be.endpoint = Some(Endpoint::Host {
                            host: hostname,
                            port: port.unwrap_or_default(),
                            span: vspan,
                            resolved: vec![],
                        });
                    }
                }
            }
            (None, Some((p, pf))) => {
                if self.version < Version::V41 {
                    self.error(pf.name.span, "'.path' backends need 'vcl 4.1;'");
                } else if !p.starts_with('/') {
                    self.error(value_span(&pf.value, pf.span), "'.path' must be an absolute path");
                }
                be.endpoint = Some(Endpoint::Path(p.clone()));
            }
            _ => {}
        }
        if let Some(hh) = f.get("host_header") {
            if let Some(v) = self.string_field(hh) {
                be.host_header = Some(v);
            }
        }
        be.connect_timeout = f.get("connect_timeout").and_then(|t| self.duration_field(t));
        be.first_byte_timeout = f.get("first_byte_timeout").and_then(|t| self.duration_field(t));
        be.between_bytes_timeout = f.get("between_bytes_timeout").and_then(|t| self.duration_field(t));
        if let Some(m) = f.get("max_connections") {
            match self.uint_field(m) {
                Some(v) if v <= u32::MAX as u64 => be.max_connections = v as u32,
                Some(_) => self.error(m.span, "'.max_connections' is too large"),
                None => {}
            }
        }
        if let Some(p) = f.get("proxy_header") {
            match self.uint_field(p) {
                Some(v @ (1 | 2)) => be.proxy_header = Some(v as u8),
                Some(_) => self.error(value_span(&p.value, p.span), "'.proxy_header' must be 1 or 2"),
                None => {}
            }
        }
        be.probe = match f.get("probe") {
            Some(p) => match &p.value {
                FieldValue::Ident(id) => self.probe_ref(id),
                FieldValue::Block(fields, span) => {
                    let probe = self.probe_fields(&format!("{}.probe", b.name.name), *span, fields);
                    self.probes.push(probe);
                    self.probe_used.push(true);
                    Some(ProbeId(self.probes.len() as u32 - 1))
                }
                other => {
                    self.error(value_span(other, p.span), "'.probe' takes a probe name or a '{ … }' probe");
                    None
                }
            },
            None => self.probe_names.get("default").copied(),
        };
        be
    }

    pub(crate) fn probe_ref(&mut self, id: &Ident) -> Option<ProbeId> {
        match self.probe_names.get(&id.name) {
            Some(p) => {
                self.probe_used[p.0 as usize] = true;
                Some(*p)
            }
            None => {
                let probes = self.probe_names.keys().cloned().collect();
                self.error_unknown(id.span, format!("Unknown probe '{}'", id.name), &id.name, probes);
                None
            }
        }
    }

    fn acl(&mut self, a: &AclDecl, index: usize) {
        let mut entries = Vec::new();
        for e in &a.entries {
            // varnishd's network notation: one to three numbers are a network, `"10.1.1"` is
            // 10.1.1.0/24 unless a mask is given.
            let (addr, mask) = match net_notation(&e.addr) {
                Some((net, bits)) => (net.to_string(), Some(e.mask.map_or(bits, |m| m.0))),
                None => (e.addr.clone(), e.mask.map(|m| m.0)),
            };
            if let Some((mask, span)) = e.mask {
                let max = if e.addr.contains(':') { 128 } else { 32 };
                if mask > max {
                    self.error(span, format!("Mask /{mask} is too long for '{}' (at most {max})", e.addr));
                }
            }
            if e.addr.is_empty() {
                self.error(e.addr_span, "Empty address in ACL");
            }
            entries.push(ir::AclEntry {
                negated: e.negated,
                optional: e.optional,
                addr,
                mask,
                span: e.addr_span,
                resolved: vec![],
            });
        }
        // (Varnish 7.1's flags; `fold` came later.)
        let mut pedantic = true;
        for f in &a.flags {
            match f.name.as_str() {
                "+pedantic" => pedantic = true,
                "-pedantic" => pedantic = false,
                "+log" | "-log" | "+table" | "-table" => {}
                other => {
                    self.error(f.span, format!("Unknown ACL flag '{other}' (the flags are log, pedantic and table)"))
                }
            }
        }
        if let Some(acl) = self.acls.get_mut(index) {
            acl.entries = entries;
            acl.pedantic = pedantic;
        }
    }

    /// Lowers `director NAME POLICY { … }` to a directors object plus `add_backend` calls that run
    /// at the start of `vcl_init`.
    fn director(&mut self, d: &DirectorDecl, id: ObjId) {
        let (kind, weighted) = match d.policy.name.as_str() {
            "round-robin" => (DirectorKind::RoundRobin, false),
            "random" => (DirectorKind::Random, true),
            "client" | "hash" => (DirectorKind::Hash, true),
            "fallback" => (DirectorKind::Fallback, false),
            "dns" => {
                self.error(
                    d.policy.span,
                    "The Varnish 3 'dns' director is not supported; declare the backends and use a director",
                );
                return;
            }
            other => {
                self.error(
                    d.policy.span,
                    format!("Unknown director type '{other}' (round-robin, random, client, hash, fallback)"),
                );
                return;
            }
        };
        // client directors pick by client identity, hash directors by URL and Host.
        let var = |v: Var, h: Option<&str>| {
            lit(ExprKind::Var(ir::VarRef { var: v, header: h.map(Into::into) }), Type::String, d.name.span)
        };
        let key = match d.policy.name.as_str() {
            "client" => Some(vec![var(Var::ClientIdentity, None)]),
            "hash" => Some(vec![var(Var::ReqUrl, None), var(Var::ReqHttp, Some("host"))]),
            _ => None,
        };
        if let Some(parts) = key {
            self.vcl3_keys.insert(id, lit(ExprKind::Concat(parts), Type::String, d.name.span));
        }
        for f in &d.fields {
            match f.name.name.as_str() {
                "retries" if weighted => {
                    self.diags.push(Diagnostic::warning(f.name.span, "'.retries' of Varnish 3 directors is ignored"))
                }
                other => self.error(f.name.span, format!("Unknown field '.{other}' in a {} director", d.policy.name)),
            }
        }
        let span = d.name.span;
        let args = if kind == DirectorKind::Fallback {
            vec![Some(lit(ExprKind::Bool(false), Type::Bool, span))]
        } else {
            vec![]
        };
        self.objects[id.0 as usize] = Some(ir::Object { name: d.name.name.clone(), kind, args, span, from_vcl3: true });
        self.vcl3_init.push(ir::Stmt::New(id, span));
        if d.members.is_empty() {
            self.diags.push(Diagnostic::warning(span, format!("Director '{}' has no members", d.name.name)));
        }
        for (fields, mspan) in &d.members {
            let f =
                self.fields(fields, if weighted { &["backend", "weight"] } else { &["backend"] }, "a director member");
            let Some(bf) = f.get("backend") else {
                self.error(*mspan, "Director member needs '.backend'");
                continue;
            };
            let backend = match &bf.value {
                FieldValue::Ident(name) => match self.names.get(&name.name).map(|(s, _)| *s) {
                    Some(Symbol::Backend(b)) => {
                        self.backend_used[b.0 as usize] = true;
                        BackendRef::Backend(b)
                    }
                    _ => {
                        let backends = self.names_of(|s| matches!(s, Symbol::Backend(_)));
                        self.error_unknown(name.span, format!("Unknown backend '{}'", name.name), &name.name, backends);
                        continue;
                    }
                },
                other => {
                    self.error(
                        value_span(other, bf.span),
                        "Inline backends in directors are not supported; declare the backend and name it here",
                    );
                    continue;
                }
            };
            let mut args = vec![Some(lit(ExprKind::Backend(backend), Type::Backend, bf.span))];
            if weighted {
                let w = match f.get("weight") {
                    Some(wf) => match &wf.value {
                        FieldValue::Number(n) => match number(n) {
                            Ok(Num::Int(i)) if i >= 0 => i as f64,
                            Ok(Num::Real(r)) if r >= 0.0 => r,
                            Ok(_) => {
                                self.error(n.span, "'.weight' must be a non-negative number");
                                continue;
                            }
                            Err(e) => {
                                self.diags.push(e);
                                continue;
                            }
                        },
                        other => {
                            self.error(value_span(other, wf.span), "'.weight' must be a number");
                            continue;
                        }
                    },
                    None => 1.0,
                };
                args.push(Some(lit(ExprKind::Real(w), Type::Real, *mspan)));
            }
            let call = lit(ExprKind::Method(id, ObjMethod::AddBackend, args), Type::Void, *mspan);
            self.vcl3_init.push(ir::Stmt::Eval(call));
        }
    }

    /// The backend a Varnish 3 director stands for when named in an expression: the director
    /// itself, or for `client`/`hash` its `.backend(key)`.
    pub(crate) fn vcl3_director_backend(&self, id: ObjId, span: Span) -> ir::Expr {
        match self.vcl3_keys.get(&id) {
            Some(key) => lit(ExprKind::Method(id, ObjMethod::Backend, vec![Some(key.clone())]), Type::Backend, span),
            None => lit(ExprKind::Backend(BackendRef::Director(id)), Type::Backend, span),
        }
    }
}

pub(crate) fn lit(kind: ExprKind, ty: Type, span: Span) -> ir::Expr {
    ir::Expr { kind, ty, span }
}

fn value_span(v: &FieldValue, fallback: Span) -> Span {
    match v {
        FieldValue::Strings(p) => p.first().map_or(fallback, |p| p.1),
        FieldValue::Number(n) => n.span,
        FieldValue::Ident(i) => i.span,
        FieldValue::Block(_, s) => *s,
    }
}

/// Splits `.host` into host and optional port: `name`, `name:port`, `1.2.3.4:80`, `::1`,
/// `[::1]`, `[::1]:8080`.
fn split_host(h: &str) -> Result<(String, Option<String>), String> {
    if h.is_empty() {
        return Err("'.host' is empty".into());
    }
    if let Some(rest) = h.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return Err(format!("Missing ']' in '.host' \"{h}\""));
        };
        return match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => Ok((addr.to_string(), Some(p.to_string()))),
            None if after.is_empty() => Ok((addr.to_string(), None)),
            _ => Err(format!("Cannot read '.host' \"{h}\" (expected [address]:port)")),
        };
    }
    match h.matches(':').count() {
        0 => Ok((h.to_string(), None)),
        1 => {
            let (a, p) = h.split_once(':').unwrap_or((h, ""));
            if a.is_empty() || p.is_empty() {
                return Err(format!("Cannot read '.host' \"{h}\" (expected host:port)"));
            }
            Ok((a.to_string(), Some(p.to_string())))
        }
        _ => Ok((h.to_string(), None)),
    }
}

/// An ACL entry of one to three dot-separated numbers (`"10"`, `"10.1"`, `"10.1.1"`): the network
/// it stands for in varnishd, and its default mask length.
fn net_notation(addr: &str) -> Option<(std::net::Ipv4Addr, u32)> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        octets[i] = p.parse().ok()?;
    }
    Some((std::net::Ipv4Addr::from(octets), 8 * parts.len() as u32))
}
