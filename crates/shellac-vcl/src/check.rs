//! The checker: syntax tree to IR, in named passes (STYLE.md habit 5).
//!
//! 1. `declare`: imports, then every name (backends, probes, ACLs, subs, `new` objects, Varnish 3
//!    directors) into one namespace, reporting redefinitions and reserved names.
//! 2. `decls`: backend, probe, ACL and director fields, with every rule of spec §1.3–1.4.
//! 3. `stmt`/`expr`: subroutine bodies, typed; each variable use, return action and restricted
//!    call is recorded with the set of methods it is legal in.
//! 4. `flow`: the call graph: recursion, reachability, and the recorded uses checked against every
//!    method that can reach them (so a user sub is checked for each caller).
//! 5. unused symbols (`vcc_err_unref`; only when nothing else is wrong), then host resolution
//!    through the optional [`Resolver`].
//!
//! Each pass reports every independent error and carries on; the program is built only when none
//! was found.

mod decls;
mod expr;
mod flow;
mod literal;
mod resolve;
mod stmt;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::ast::{Decl, Ident, StmtKind, SubDecl};
use crate::diagnostic::Diagnostic;
use crate::include::Version;
use crate::ir::{self, AclId, BackendId, BackendRef, ObjId, ProbeId, Program, RegexId, SubId};
use crate::regex::VclRegex;
use crate::source::{FileId, Span};
use crate::symbols::{self, Mask, Method};

pub(crate) use flow::Use;

/// Resolves backend and ACL host names. The front end never touches the network; the binary
/// passes the system resolver, tests pass a table.
pub trait Resolver {
    /// Returns the addresses of `host` (a name or literal address) at `port`.
    fn resolve(&self, host: &str, port: &str) -> Result<Vec<SocketAddr>, String>;
}

/// What the checker needs to know besides the source.
#[derive(Clone, Copy)]
pub(crate) struct CheckOptions<'a> {
    pub(crate) err_unref: bool,
    pub(crate) resolver: Option<&'a dyn Resolver>,
    /// The storage names `storage.NAME` may use.
    pub(crate) storages: &'a [String],
    /// The labels `return (vcl(LABEL))` may name (`None`: any).
    pub(crate) labels: Option<&'a [String]>,
}

/// A name in the global namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Symbol {
    Backend(BackendId),
    Acl(AclId),
    Sub(SubId),
    Object(ObjId),
}

/// `d` with the `known` name closest to `name` as a note, if one is close.
pub(crate) fn with_suggestion(d: Diagnostic, name: &str, mut known: Vec<String>) -> Diagnostic {
    known.sort();
    match crate::suggest::closest(name, known.iter().map(String::as_str)) {
        Some(c) => d.with_note(format!("did you mean '{c}'?"), None),
        None => d,
    }
}

/// What the checker knows of one subroutine name.
pub(crate) struct SubInfo<'a> {
    pub(crate) name: String,
    pub(crate) method: Option<Method>,
    /// Definitions in source order: the user's, then the builtin's.
    pub(crate) defs: Vec<&'a SubDecl>,
    pub(crate) user_defined: bool,
    pub(crate) first_span: Span,
    pub(crate) uses: Vec<Use>,
    pub(crate) calls: Vec<(SubId, Span)>,
    pub(crate) body: Vec<ir::Stmt>,
}

pub(crate) struct Checker<'a, 'd> {
    pub(crate) diags: &'d mut Vec<Diagnostic>,
    pub(crate) opts: CheckOptions<'a>,
    pub(crate) version: Version,
    pub(crate) builtin_file: FileId,
    pub(crate) imports: HashMap<String, &'static str>,
    pub(crate) names: HashMap<String, (Symbol, Span)>,
    pub(crate) probe_names: HashMap<String, ProbeId>,
    pub(crate) probes: Vec<ir::Probe>,
    pub(crate) probe_used: Vec<bool>,
    pub(crate) backends: Vec<ir::Backend>,
    pub(crate) backend_used: Vec<bool>,
    pub(crate) acls: Vec<ir::Acl>,
    pub(crate) acl_spans: Vec<Span>,
    pub(crate) acl_used: Vec<bool>,
    pub(crate) objects: Vec<Option<ir::Object>>,
    pub(crate) subs: Vec<SubInfo<'a>>,
    pub(crate) regexes: Vec<Arc<VclRegex>>,
    pub(crate) regex_index: HashMap<String, RegexId>,
    /// Statements that create Varnish 3 directors, run first in `vcl_init`.
    pub(crate) vcl3_init: Vec<ir::Stmt>,
    /// The key expression of lowered Varnish 3 `client` and `hash` directors.
    pub(crate) vcl3_keys: HashMap<ObjId, ir::Expr>,
    /// The labels `return (vcl(LABEL))` names.
    pub(crate) returns_to: std::collections::BTreeSet<String>,
    /// The sub being checked.
    pub(crate) current: SubId,
    /// The type the expression being checked is wanted as (Varnish's `fmt`): a number with a
    /// unit is BYTES only where BYTES is wanted, and `+` of values without a sum makes a
    /// string where a STRING is.
    pub(crate) want: Option<crate::types::Type>,
}

/// Builtin subroutines that are not methods (7.1 splits the builtin into helpers users may call).
pub(crate) fn is_builtin_helper(name: &str, builtin: &[Decl]) -> bool {
    builtin.iter().any(|d| matches!(d, Decl::Sub(s) if s.name.name == name))
}

/// Checks a program: the user's declarations, then the builtin's.
pub(crate) fn check(
    user: &[Decl],
    builtin: &[Decl],
    builtin_file: FileId,
    version: Version,
    opts: CheckOptions<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Program> {
    let mut c = Checker {
        diags,
        opts,
        version,
        builtin_file,
        imports: HashMap::new(),
        names: HashMap::new(),
        probe_names: HashMap::new(),
        probes: Vec::new(),
        probe_used: Vec::new(),
        backends: Vec::new(),
        backend_used: Vec::new(),
        acls: Vec::new(),
        acl_spans: Vec::new(),
        acl_used: Vec::new(),
        objects: Vec::new(),
        subs: Vec::new(),
        regexes: Vec::new(),
        regex_index: HashMap::new(),
        vcl3_init: Vec::new(),
        vcl3_keys: HashMap::new(),
        returns_to: std::collections::BTreeSet::new(),
        current: SubId(0),
        want: None,
    };
    let all: Vec<&Decl> = user.iter().chain(builtin.iter()).collect();
    c.declare(&all, builtin);
    if c.backends.is_empty() && c.objects.is_empty() {
        c.diags.push(Diagnostic::error_global(
            "No backends or directors found in VCL (declare a backend, or 'backend default none;')",
        ));
    }
    c.check_decls(&all);
    c.check_subs();
    let reach = c.check_flow();
    c.check_unused(&reach);
    c.resolve_hosts();
    c.check_acl_entries();
    if c.diags.iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(c.finish())
}

// === impl Checker ===

impl<'a> Checker<'a, '_> {
    pub(crate) fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    /// An error about `name`, which nothing defines, with the `known` name closest to it as a
    /// note when one is close (see [`crate::suggest`]): `did you mean 'X'?`.
    pub(crate) fn error_unknown(&mut self, span: Span, msg: impl Into<String>, name: &str, known: Vec<String>) {
        self.diags.push(with_suggestion(Diagnostic::error(span, msg), name, known));
    }

    /// The names of the symbols of one kind (in the map's order: [`with_suggestion`] sorts).
    pub(crate) fn names_of(&self, kind: impl Fn(&Symbol) -> bool) -> Vec<String> {
        self.names.iter().filter(|(_, (s, _))| kind(s)).map(|(n, _)| n.clone()).collect()
    }

    pub(crate) fn is_builtin(&self, span: Span) -> bool {
        span.file == self.builtin_file
    }

    /// Pass 1: imports and names.
    fn declare(&mut self, all: &[&'a Decl], builtin: &[Decl]) {
        for d in all {
            if let Decl::Import(imp) = d {
                let vmod = imp.vmod.name.as_str();
                match crate::vmods::KNOWN_VMODS.iter().find(|k| **k == vmod) {
                    Some(k) => {
                        let alias = imp.alias.as_ref().map_or(vmod, |a| a.name.as_str());
                        self.imports.insert(alias.to_string(), k);
                    }
                    None => {
                        let why = crate::vmods::unsupported_vmod(vmod).map_or_else(
                            || format!("Unknown vmod '{vmod}'"),
                            |why| format!("vmod '{vmod}' is not supported by Shellac: {why}"),
                        );
                        self.error(
                            imp.vmod.span,
                            format!("{why} (Shellac provides {})", crate::vmods::KNOWN_VMODS.join(", ")),
                        );
                    }
                }
            }
        }
        for d in all {
            match d {
                Decl::Backend(b) => {
                    let id = BackendId(self.backends.len() as u32);
                    self.backends.push(placeholder_backend(&b.name));
                    // A redefinition is reported once, not again as unused.
                    let fresh = self.define(&b.name, Symbol::Backend(id), "backend");
                    self.backend_used.push(!fresh);
                }
                Decl::Acl(a) => {
                    let id = AclId(self.acls.len() as u32);
                    self.acls.push(ir::Acl { name: a.name.name.clone(), entries: vec![], pedantic: true });
                    self.acl_spans.push(a.name.span);
                    let fresh = self.define(&a.name, Symbol::Acl(id), "ACL");
                    self.acl_used.push(!fresh);
                }
                Decl::Probe(p) => {
                    if let Some(prev) = self.probe_names.get(&p.name.name) {
                        let prev_span = self.probes[prev.0 as usize].span;
                        self.diags.push(
                            Diagnostic::error(p.name.span, format!("Probe '{}' redefined", p.name.name))
                                .with_note("first defined here", Some(prev_span)),
                        );
                        continue;
                    }
                    self.check_name(&p.name, "probe");
                    let id = ProbeId(self.probes.len() as u32);
                    self.probe_names.insert(p.name.name.clone(), id);
                    self.probes.push(decls::default_probe(&p.name.name, p.name.span));
                    self.probe_used.push(p.name.name == "default");
                }
                Decl::Director(dir) => {
                    let id = ObjId(self.objects.len() as u32);
                    self.objects.push(None);
                    let _ = self.define(&dir.name, Symbol::Object(id), "director");
                }
                Decl::Sub(s) => self.declare_sub(s, builtin),
                Decl::Import(_) => {}
            }
        }
        // Objects created by `new` in vcl_init.
        let init: Vec<&'a SubDecl> =
            self.subs.iter().filter(|s| s.method == Some(Method::Init)).flat_map(|s| s.defs.iter().copied()).collect();
        for def in init {
            self.declare_objects(&def.body);
        }
    }

    fn declare_objects(&mut self, body: &'a [crate::ast::Stmt]) {
        for s in body {
            match &s.kind {
                StmtKind::New { name, .. } => {
                    let id = ObjId(self.objects.len() as u32);
                    self.objects.push(None);
                    let _ = self.define(name, Symbol::Object(id), "object");
                }
                StmtKind::If { arms, otherwise } => {
                    for (_, b) in arms {
                        self.declare_objects(b);
                    }
                    if let Some(b) = otherwise {
                        self.declare_objects(b);
                    }
                }
                StmtKind::Block(b) => self.declare_objects(b),
                _ => {}
            }
        }
    }

    fn declare_sub(&mut self, s: &'a SubDecl, builtin: &[Decl]) {
        let name = &s.name.name;
        let method = symbols::method_by_name(name).map(|d| d.method);
        let is_builtin = self.is_builtin(s.span);
        if let Some(Symbol::Sub(id)) = self.names.get(name).map(|(sym, _)| *sym) {
            let info = &mut self.subs[id.0 as usize];
            if method.is_some() || is_builtin || is_builtin_helper(name, builtin) {
                // vcl_* and builtin helpers: definitions are concatenated in source order.
                info.defs.push(s);
                info.user_defined |= !is_builtin;
                return;
            }
            let first = info.first_span;
            self.diags.push(
                Diagnostic::error(s.name.span, format!("Subroutine '{name}' redefined"))
                    .with_note("first defined here", Some(first)),
            );
            return;
        }
        if name.starts_with("vcl_") && method.is_none() && !is_builtin && !is_builtin_helper(name, builtin) {
            let valid: Vec<_> = symbols::METHODS.iter().map(|m| m.name).collect();
            self.diags.push(
                Diagnostic::error(
                    s.name.span,
                    format!("Unknown builtin subroutine '{name}' (names starting with 'vcl_' are reserved)"),
                )
                .with_note(format!("valid names: {}", valid.join(", ")), None),
            );
            return;
        }
        if self.names.contains_key(name) {
            // Clashes with another kind of symbol: report it and leave the sub out.
            self.check_name(&s.name, "subroutine");
            self.report_clash(&s.name);
            return;
        }
        let id = SubId(self.subs.len() as u32);
        self.subs.push(SubInfo {
            name: name.clone(),
            method,
            defs: vec![s],
            user_defined: !is_builtin,
            first_span: s.name.span,
            uses: Vec::new(),
            calls: Vec::new(),
            body: Vec::new(),
        });
        let _ = self.define(&s.name, Symbol::Sub(id), "subroutine");
    }

    /// Enters a name into the namespace, reporting clashes; returns whether it was new.
    fn define(&mut self, name: &Ident, sym: Symbol, kind: &str) -> bool {
        self.check_name(name, kind);
        if self.report_clash(name) {
            return false;
        }
        self.names.insert(name.name.clone(), (sym, name.span));
        true
    }

    /// Reports that a name is already taken, with the earlier definition; returns whether it was.
    fn report_clash(&mut self, name: &Ident) -> bool {
        let Some((prev, prev_span)) = self.names.get(&name.name).copied() else {
            return false;
        };
        let what = match prev {
            Symbol::Backend(_) => "a backend",
            Symbol::Acl(_) => "an ACL",
            Symbol::Sub(_) => "a subroutine",
            Symbol::Object(_) => "an object",
        };
        self.diags.push(
            Diagnostic::error(name.span, format!("'{}' is already defined as {what}", name.name))
                .with_note("first defined here", Some(prev_span)),
        );
        true
    }

    fn check_name(&mut self, name: &Ident, kind: &str) {
        let n = &name.name;
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']) { "an" } else { "a" };
        if n.contains('.') {
            self.error(
                name.span,
                format!("{} {kind} name cannot contain '.': '{n}'", if article == "an" { "An" } else { "A" }),
            );
        } else if symbols::RESERVED_ROOTS.contains(&n.as_str())
            || self.imports.contains_key(n)
            || n == "regsub"
            || n == "regsuball"
        {
            self.error(name.span, format!("'{n}' is a reserved name and cannot name {article} {kind}"));
        }
    }

    /// Interns a compiled regex.
    pub(crate) fn regex(&mut self, pattern: &str, span: Span) -> Option<RegexId> {
        if let Some(id) = self.regex_index.get(pattern) {
            return Some(*id);
        }
        match VclRegex::new(pattern) {
            Ok(re) => {
                let id = RegexId(self.regexes.len() as u32);
                self.regexes.push(Arc::new(re));
                self.regex_index.insert(pattern.to_string(), id);
                Some(id)
            }
            Err(e) => {
                self.error(span, format!("Regex error: {e}"));
                None
            }
        }
    }

    /// Pass 5a: unused backends, probes, ACLs and subroutines, once nothing else is wrong (as
    /// varnishd checks them last): a backend with a bad field, or a sub a misspelt `call` does
    /// not reach, is not reported twice.
    fn check_unused(&mut self, reach: &[Mask]) {
        if self.diags.iter().any(Diagnostic::is_error) {
            return;
        }
        let default = self.declared_default_backend();
        let mut found: Vec<(Span, String)> = Vec::new();
        for (i, b) in self.backends.iter().enumerate() {
            if !self.backend_used[i] && BackendRef::Backend(BackendId(i as u32)) != default {
                found.push((b.span, format!("Unused backend '{}'", b.name)));
            }
        }
        for (i, p) in self.probes.iter().enumerate() {
            if !self.probe_used[i] {
                found.push((p.span, format!("Unused probe '{}'", p.name)));
            }
        }
        for (i, a) in self.acls.iter().enumerate() {
            if !self.acl_used[i] {
                found.push((self.acl_spans[i], format!("Unused ACL '{}'", a.name)));
            }
        }
        for (i, s) in self.subs.iter().enumerate() {
            if s.method.is_none() && reach[i].is_empty() && !self.is_builtin(s.first_span) {
                found.push((s.first_span, format!("Unused subroutine '{}'", s.name)));
            }
        }
        for (span, msg) in found {
            if self.is_builtin(span) {
                continue;
            }
            if self.opts.err_unref {
                self.diags.push(
                    Diagnostic::error(span, msg)
                        .with_note("declare only what is used, or set the parameter vcc_err_unref=off", None),
                );
            } else {
                self.diags.push(Diagnostic::warning(span, msg));
            }
        }
    }

    /// The initial `req.backend_hint`: the backend named `default`; else, as a Varnish 3
    /// compatibility rule, the first Varnish 3 `director` block (seed 000 declares its
    /// round-robin director and never assigns `req.backend`, meaning it to balance); else the
    /// first declared backend.
    pub(crate) fn default_backend(&self) -> BackendRef {
        if !self.backends.iter().any(|b| b.name == "default") {
            let vcl3 = self.objects.iter().position(|o| o.as_ref().is_some_and(|o| o.from_vcl3));
            if let Some(i) = vcl3 {
                return BackendRef::Director(ObjId(i as u32));
            }
        }
        self.declared_default_backend()
    }

    /// The backend named `default`, else the first declared one: what Varnish counts as used
    /// even when nothing names it.
    pub(crate) fn declared_default_backend(&self) -> BackendRef {
        let pos = self.backends.iter().position(|b| b.name == "default").or(if self.backends.is_empty() {
            None
        } else {
            Some(0)
        });
        match pos {
            Some(i) => BackendRef::Backend(BackendId(i as u32)),
            None => BackendRef::None,
        }
    }

    fn finish(mut self) -> Program {
        let default_backend = self.default_backend();
        let mut subs = Vec::with_capacity(self.subs.len());
        let mut methods = vec![SubId(0); symbols::METHODS.len()];
        let mut vcl3_init = Some(std::mem::take(&mut self.vcl3_init));
        for (i, info) in self.subs.into_iter().enumerate() {
            let mut body = info.body;
            if info.method == Some(Method::Init) {
                if let Some(mut all) = vcl3_init.take() {
                    all.append(&mut body);
                    body = all;
                }
            }
            if let Some(m) = info.method {
                methods[m as usize] = SubId(i as u32);
            }
            subs.push(ir::Sub { name: info.name, method: info.method, body, user_defined: info.user_defined });
        }
        Program {
            version: self.version,
            backends: self.backends,
            probes: self.probes,
            acls: self.acls,
            objects: self.objects.into_iter().flatten().collect(),
            subs,
            methods,
            regexes: self.regexes,
            default_backend,
            returns_to: self.returns_to.into_iter().collect(),
            imports: {
                let mut v: Vec<&'static str> = self.imports.values().copied().collect();
                v.sort_unstable();
                v.dedup();
                v
            },
        }
    }
}

fn placeholder_backend(name: &Ident) -> ir::Backend {
    ir::Backend {
        name: name.name.clone(),
        span: name.span,
        endpoint: None,
        host_header: None,
        connect_timeout: None,
        first_byte_timeout: None,
        between_bytes_timeout: None,
        max_connections: 0,
        proxy_header: None,
        probe: None,
    }
}
