//! Pass 3b: expressions. Names are resolved, types computed bottom-up, and implicit conversions
//! (spec §1.5) made explicit: stringification where a STRING is wanted, truthiness in conditions,
//! INT to REAL. Regex literals are compiled here.

use std::sync::Arc;

use super::decls::lit;
use super::literal::{number, Num};
use super::{Checker, Symbol};
use crate::ast::{self, Arg, BinOp, ExprKind as A};
use crate::diagnostic::Diagnostic;
use crate::ir::{ArithOp, BackendRef, CmpOp, Expr, ExprKind as K, VarRef};
use crate::source::Span;
use crate::symbols::{self, Mask, VarDef};
use crate::types::Type;
use crate::vmods::{self, Default, Param};

/// What `~` found on its right.
enum MatchTarget {
    Regex(crate::ir::RegexId),
    Acl(crate::ir::AclId),
}

// === impl Checker ===

impl Checker<'_, '_> {
    /// Types an expression; `None` when an error was reported.
    pub(crate) fn expr(&mut self, e: &ast::Expr) -> Option<Expr> {
        match &e.kind {
            A::Str(s) => Some(lit(K::Str(Arc::from(s.as_str())), Type::String, e.span)),
            A::Number(n) => match number(n) {
                Ok(v) => self.number_as_wanted(v, n, e.span),
                Err(d) => {
                    self.diags.push(d);
                    None
                }
            },
            A::Path(id) => self.path(id),
            A::Call { callee, args } => self.call(callee, args, e.span),
            A::Not(inner) => {
                let c = self.cond(inner)?;
                Some(lit(K::Not(Box::new(c)), Type::Bool, e.span))
            }
            A::Neg(inner) => {
                let v = self.expr(inner)?;
                match v.kind {
                    K::Int(i) => Some(lit(K::Int(-i), Type::Int, e.span)),
                    K::Real(r) => Some(lit(K::Real(-r), Type::Real, e.span)),
                    K::Duration(d) => Some(lit(K::Duration(-d), Type::Duration, e.span)),
                    _ if matches!(v.ty, Type::Int | Type::Real | Type::Duration) => {
                        let ty = v.ty;
                        Some(lit(K::Neg(Box::new(v)), ty, e.span))
                    }
                    _ => {
                        self.error(e.span, format!("Unary '-' is not possible on type {}", v.ty));
                        None
                    }
                }
            }
            A::Binary(op, l, r) => self.binary(*op, l, r, e.span),
        }
    }

    /// Types an expression wanted as `want` (which it is then converted to by the caller).
    pub(crate) fn expr_as(&mut self, e: &ast::Expr, want: Type) -> Option<Expr> {
        let want = if matches!(want, Type::Header | Type::Body) { Type::String } else { want };
        let outer = self.want.replace(want);
        let v = self.expr(e);
        self.want = outer;
        v
    }

    /// A number literal as Varnish reads it where `self.want` is wanted: with a unit it is a
    /// DURATION, unless BYTES is wanted (`1KB` anywhere else is an unknown duration unit);
    /// where BYTES is wanted it must have a bytes unit.
    fn number_as_wanted(&mut self, v: Num, n: &ast::NumberLit, span: Span) -> Option<Expr> {
        match (v, self.want) {
            (Num::Bytes(_), Some(want)) if want != Type::Bytes => {
                let unit = n.unit.as_ref().map_or("", |u| u.name.as_str());
                self.error(
                    span,
                    format!("Unknown duration unit '{unit}' (a BYTES value is only read where BYTES is wanted)"),
                );
                None
            }
            (Num::Int(_) | Num::Real(_), Some(Type::Bytes)) => {
                self.error(span, format!("Expected BYTES unit (B, KB, MB...) after '{}'", n.text));
                None
            }
            (v, _) => Some(num_expr(v, span)),
        }
    }

    /// Types an expression used as a condition: any type with a truth value.
    pub(crate) fn cond(&mut self, e: &ast::Expr) -> Option<Expr> {
        let v = self.expr_as(e, Type::Bool)?;
        self.truth(v)
    }

    fn truth(&mut self, v: Expr) -> Option<Expr> {
        match v.ty {
            Type::Bool => Some(v),
            t if t.is_boolable() => {
                let span = v.span;
                Some(lit(K::ToBool(Box::new(v)), Type::Bool, span))
            }
            t => {
                self.error(v.span, format!("Expression has type {t}, expected BOOL"));
                None
            }
        }
    }

    /// Converts a typed expression to the wanted type, or reports why it cannot.
    pub(crate) fn coerce(&mut self, v: Expr, want: Type) -> Option<Expr> {
        let span = v.span;
        match (v.ty, want) {
            (a, b) if a == b => Some(v),
            (Type::Header, Type::String | Type::Body) => Some(v),
            (Type::String, Type::Body) => Some(v),
            (t, Type::String | Type::Body) if t.is_stringifiable() => {
                Some(lit(K::ToString(Box::new(v)), Type::String, span))
            }
            (Type::Int, Type::Real) => Some(match v.kind {
                K::Int(i) => lit(K::Real(i as f64), Type::Real, span),
                _ => lit(K::IntToReal(Box::new(v)), Type::Real, span),
            }),
            (Type::String, Type::Ip) if matches!(v.kind, K::Str(_)) => {
                let K::Str(text) = &v.kind else { return None };
                match text.parse::<std::net::IpAddr>() {
                    Ok(ip) => Some(lit(K::Ip(ip), Type::Ip, span)),
                    Err(_) => {
                        self.error(span, format!("\"{text}\" is not an IP address"));
                        None
                    }
                }
            }
            (t, Type::Regex) if t.is_string_like() => {
                self.error(span, format!("Expression has type {t}, expected REGEX (a regex must be a string literal)"));
                None
            }
            (t, w) => {
                let hint = match (t, w) {
                    (Type::String | Type::Header, Type::Int) => " (convert with std.integer())",
                    (Type::String | Type::Header, Type::Duration) => " (convert with std.duration())",
                    (Type::String | Type::Header, Type::Real) => " (convert with std.real())",
                    (Type::Int | Type::Real, Type::Duration) => " (a duration needs a unit, e.g. 10s)",
                    _ => "",
                };
                self.error(span, format!("Expression has type {t}, expected {w}{hint}"));
                None
            }
        }
    }

    /// Resolves a name used as a value.
    fn path(&mut self, id: &ast::Ident) -> Option<Expr> {
        let name = id.name.as_str();
        // (Varnish reads the BOOL literals in any case: `True`, `FALSE`.)
        if name.eq_ignore_ascii_case("true") {
            return Some(lit(K::Bool(true), Type::Bool, id.span));
        }
        if name.eq_ignore_ascii_case("false") {
            return Some(lit(K::Bool(false), Type::Bool, id.span));
        }
        if let Some((sym, _)) = self.names.get(name).copied() {
            return match sym {
                Symbol::Backend(b) => {
                    self.backend_used[b.0 as usize] = true;
                    Some(lit(K::Backend(BackendRef::Backend(b)), Type::Backend, id.span))
                }
                Symbol::Object(o) => match &self.objects[o.0 as usize] {
                    Some(obj) if obj.from_vcl3 => Some(self.vcl3_director_backend(o, id.span)),
                    Some(obj) => {
                        let def = vmods::director_def(obj.kind);
                        let mut d =
                            Diagnostic::error(id.span, format!("Expression has type {}, expected BACKEND", def.name));
                        if def.methods.iter().any(|(m, ..)| *m == "backend") {
                            d = d.with_note(format!("use '{name}.backend()'"), None);
                        }
                        self.diags.push(d);
                        None
                    }
                    None => {
                        self.error(id.span, format!("Object '{name}' is used before 'new' creates it"));
                        None
                    }
                },
                Symbol::Acl(_) => {
                    self.error(id.span, format!("ACL '{name}' can only be used on the right of '~' or '!~'"));
                    None
                }
                Symbol::Sub(_) => {
                    self.error(id.span, format!("'{name}' is a subroutine; use 'call {name};'"));
                    None
                }
            };
        }
        // `default` (with no backend of that name): the VCL's default backend, varnishd 7.1's
        // symbol for it.
        if name == "default" {
            return Some(lit(K::Backend(self.declared_default_backend()), Type::Backend, id.span));
        }
        let (def, header) = self.var(id, Access::Read)?;
        let ty = def.ty;
        Some(lit(K::Var(VarRef { var: def.var, header: header.map(Arc::from) }), ty, id.span))
    }

    /// Resolves a variable and records the access.
    pub(crate) fn var(&mut self, id: &ast::Ident, access: Access) -> Option<(&'static VarDef, Option<String>)> {
        let mut name = id.name.as_str();
        if name == "req.backend" {
            self.diags
                .push(Diagnostic::warning(id.span, "'req.backend' is Varnish 3 syntax; read as 'req.backend_hint'"));
            name = "req.backend_hint";
        }
        let Some((def, header)) = symbols::lookup_var(name) else {
            self.unknown_name(id);
            return None;
        };
        if !def.availability.exists_in(self.version) {
            let need = if self.version == crate::include::Version::V40 { "4.1" } else { "4.0" };
            self.error(id.span, format!("'{}' is only available in 'vcl {need};'", def.name.trim_end_matches('.')));
            return None;
        }
        if let (Some(h), true) = (header, def.ty == Type::Header) {
            if !self.header_name_ok(id, h) {
                return None;
            }
        }
        if let (Some(store), true) = (header, def.name.starts_with("storage.")) {
            if !self.opts.storages.iter().any(|s| s == store) {
                let known = self.opts.storages.iter().map(|s| format!("storage.{s}")).collect::<Vec<_>>();
                let d = Diagnostic::error(id.span, format!("Symbol not found: 'storage.{store}'"))
                    .with_note(format!("the storages are {} (`-s NAME=malloc,SIZE` adds one)", known.join(", ")), None);
                self.diags.push(d);
                return None;
            }
        }
        let shown = if def.ty == Type::Header || header.is_some() { id.name.clone() } else { def.name.to_string() };
        let (mask, what) = match access {
            Access::Read => (def.read, format!("'{shown}' cannot be read")),
            Access::Write => (def.write, format!("'{shown}' cannot be set")),
            Access::Unset => (def.unset, format!("'{shown}' cannot be unset")),
        };
        if mask.is_empty() {
            let msg = match access {
                Access::Read => format!("Variable '{shown}' is write only"),
                Access::Write => format!("Variable '{shown}' is read only"),
                Access::Unset => format!("Variable '{shown}' cannot be unset"),
            };
            self.error(id.span, msg);
            return None;
        }
        if access == Access::Write && !def.availability.writable_in(self.version) {
            self.error(id.span, format!("Variable '{shown}' is read only in 'vcl {};'", self.version.as_str()));
            return None;
        }
        self.record(mask, id.span, what);
        Some((def, header.map(str::to_string)))
    }

    /// A header name as varnishd 7.1 takes it: a token of at most 126 characters; a quoted
    /// one (`req.http."X-Name"`) only in VCL 4.1, and only a quoted one may hold a dot.
    fn header_name_ok(&mut self, id: &ast::Ident, h: &str) -> bool {
        if id.quoted && self.version == crate::include::Version::V40 {
            self.error(id.span, "Quoted headers are available for VCL >= 4.1");
            return false;
        }
        if !id.quoted && h.contains('.') {
            self.unknown_name(id);
            return false;
        }
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if let Some(c) = h.chars().find(|c| !token(*c)) {
            self.error(id.span, format!("Invalid character '{}' in header name '{h}'", c.escape_default()));
            return false;
        }
        if h.len() > 126 {
            self.error(
                id.span,
                format!("Header name '{}..' is too long ({} characters, at most 126)", &h[..20], h.len()),
            );
            return false;
        }
        true
    }

    fn unknown_name(&mut self, id: &ast::Ident) {
        let name = &id.name;
        let mut d = Diagnostic::error(id.span, format!("Unknown variable or symbol '{name}'"));
        let family = |prefix: &str| symbols::VARIABLES.iter().any(|d| d.ty == Type::Header && d.name == prefix);
        let dash = name.find('-').filter(|pos| symbols::lookup_var(&name[..*pos]).is_some());
        if let Some(pos) = dash {
            d = d.with_note(
                format!("'-' is part of names in VCL; write '{} - {}' to subtract", &name[..pos], &name[pos + 1..]),
                None,
            );
        } else if family(&format!("{name}.")) {
            d = d.with_note(format!("name the header: '{name}.NAME'"), None);
        } else if !name.match_indices('.').any(|(i, _)| family(&name[..=i])) {
            // (A typo, not a header of a family that exists: `req.http.a.b` has a bad name.)
            d = super::with_suggestion(d, name, self.known_names(name));
        }
        if let Some(root) = name.split('.').next() {
            if (root == "std" || root == "directors") && !self.imports.contains_key(root) {
                d = d.with_note(format!("add 'import {root};'"), None);
            }
        }
        self.diags.push(d);
    }

    /// What an unknown `name` may have meant: the variables of this VCL version (a header
    /// family with the rest of `name` as its header), and the declared backends, ACLs and
    /// objects.
    fn known_names(&self, name: &str) -> Vec<String> {
        // (`req.htpp.x-y`: its header is what follows the second dot.)
        let header = name.splitn(3, '.').nth(2);
        let mut known = self.names_of(|s| !matches!(s, super::Symbol::Sub(_)));
        for d in symbols::VARIABLES.iter().filter(|d| d.availability.exists_in(self.version) && !d.name.contains('*')) {
            match (d.ty, header) {
                (Type::Header, Some(h)) => known.push(format!("{}{h}", d.name)),
                (Type::Header, None) => {}
                _ => known.push(d.name.to_string()),
            }
        }
        known
    }

    /// Records that something at `span` is legal only in the methods of `mask`.
    pub(crate) fn record(&mut self, mask: Mask, span: Span, what: String) {
        let cur = self.current.0 as usize;
        self.subs[cur].uses.push(super::Use { mask, span, what });
    }

    fn binary(&mut self, op: BinOp, l: &ast::Expr, r: &ast::Expr, span: Span) -> Option<Expr> {
        match op {
            BinOp::And | BinOp::Or => {
                let (a, b) = (self.cond(l), self.cond(r));
                let (a, b) = (Box::new(a?), Box::new(b?));
                let kind = if op == BinOp::And { K::And(a, b) } else { K::Or(a, b) };
                Some(lit(kind, Type::Bool, span))
            }
            BinOp::Match | BinOp::NotMatch => self.matches(op == BinOp::NotMatch, l, r, span),
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
                // (The right side is read as the left's type, as Varnish reads it.)
                let a = self.expr(l);
                let b = self.right_operand(a.as_ref(), r);
                self.compare(op, a?, b?, span)
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let a = self.expr(l);
                let b = self.right_operand(a.as_ref(), r);
                self.arith(op, a?, b?, span)
            }
        }
    }

    /// The right operand of a binary operator, wanted as the left one's type.
    fn right_operand(&mut self, left: Option<&Expr>, r: &ast::Expr) -> Option<Expr> {
        match left {
            Some(a) => self.expr_as(r, a.ty),
            None => self.expr(r),
        }
    }

    /// Arithmetic as Varnish 7.1 types it: the left operand's type decides (`2 * 1s` and
    /// `1 * 1.5` have no product where `1s * 2` and `1.5 * 1` do); `+` of values without a sum
    /// concatenates them where the left is a string or a STRING is wanted.
    pub(crate) fn arith(&mut self, op: BinOp, a: Expr, b: Expr, span: Span) -> Option<Expr> {
        use Type::*;
        let string_wanted = self.want.is_some_and(Type::is_string_like);
        if op == BinOp::Add && (a.ty.is_string_like() || (b.ty.is_string_like() && string_wanted)) {
            return self.concat(a, b, span);
        }
        let aop = match op {
            BinOp::Add => ArithOp::Add,
            BinOp::Sub => ArithOp::Sub,
            BinOp::Mul => ArithOp::Mul,
            BinOp::Div => ArithOp::Div,
            _ => ArithOp::Rem,
        };
        let additive = matches!(aop, ArithOp::Add | ArithOp::Sub);
        let result = match (aop, a.ty, b.ty) {
            (ArithOp::Rem, Int, Int) => Some((Int, Int, Int)),
            (ArithOp::Rem, ..) => None,
            (_, Int, Int) => Some((Int, Int, Int)),
            (ArithOp::Add | ArithOp::Sub, Int, Real) => Some((Real, Real, Real)),
            (_, Real, Int | Real) => Some((Real, Real, Real)),
            (ArithOp::Add | ArithOp::Sub, Duration, Duration) => Some((Duration, Duration, Duration)),
            (ArithOp::Add | ArithOp::Sub, Time, Duration) => Some((Time, Time, Duration)),
            (ArithOp::Sub, Time, Time) => Some((Duration, Time, Time)),
            (ArithOp::Add | ArithOp::Sub, Bytes, Bytes) => Some((Bytes, Bytes, Bytes)),
            (ArithOp::Mul | ArithOp::Div, Duration, Int | Real) => Some((Duration, Duration, Real)),
            _ => None,
        };
        let Some((ty, ta, tb)) = result else {
            if op == BinOp::Add && string_wanted && a.ty.is_stringifiable() && b.ty.is_stringifiable() {
                return self.concat(a, b, span);
            }
            let msg = if !additive && matches!(a.ty, Time | Bool | String | Header | Ip | Backend) {
                format!("Operator {} not possible on type {}", op.as_str(), a.ty)
            } else {
                format!("{} {} {} not possible", a.ty, op.as_str(), b.ty)
            };
            self.error(span, msg);
            return None;
        };
        let (a, b) = (self.coerce(a, ta)?, self.coerce(b, tb)?);
        Some(lit(K::Arith(aop, Box::new(a), Box::new(b)), ty, span))
    }

    fn concat(&mut self, a: Expr, b: Expr, span: Span) -> Option<Expr> {
        let mut parts = Vec::new();
        for part in [a, b] {
            if !part.ty.is_stringifiable() {
                self.error(part.span, format!("Expression of type {} cannot be concatenated to a string", part.ty));
                return None;
            }
            match part.kind {
                K::Concat(inner) => parts.extend(inner),
                _ => parts.push(self.coerce(part, Type::String)?),
            }
        }
        Some(lit(K::Concat(parts), Type::String, span))
    }

    fn compare(&mut self, op: BinOp, a: Expr, b: Expr, span: Span) -> Option<Expr> {
        let cop = match op {
            BinOp::Eq => CmpOp::Eq,
            BinOp::Ne => CmpOp::Ne,
            BinOp::Lt => CmpOp::Lt,
            BinOp::Gt => CmpOp::Gt,
            BinOp::Le => CmpOp::Le,
            _ => CmpOp::Ge,
        };
        // As Varnish 7.1 compares: both sides of one type (strings in byte order; a REAL with
        // an INT on its right; an IP with an address literal), equality only for BOOL,
        // BACKEND, IP and STEVEDORE.
        let equality = matches!(cop, CmpOp::Eq | CmpOp::Ne);
        let (a, b) = if a.ty.is_string_like() && b.ty.is_string_like() {
            (self.coerce(a, Type::String)?, self.coerce(b, Type::String)?)
        } else if matches!((a.ty, b.ty), (Type::Real, Type::Int)) {
            (a, self.coerce(b, Type::Real)?)
        } else if a.ty == Type::Ip && matches!(b.kind, K::Str(_)) && equality {
            (a, self.coerce(b, Type::Ip)?)
        } else if a.ty == b.ty
            && (a.ty.is_numeric()
                || (equality && matches!(a.ty, Type::Bool | Type::Backend | Type::Ip | Type::Stevedore)))
        {
            (a, b)
        } else {
            self.error(span, format!("Comparison of different types: {} '{}' {}", a.ty, op.as_str(), b.ty));
            return None;
        };
        Some(lit(K::Cmp(cop, Box::new(a), Box::new(b)), Type::Bool, span))
    }

    fn matches(&mut self, negated: bool, l: &ast::Expr, r: &ast::Expr, span: Span) -> Option<Expr> {
        let subject = self.expr(l);
        let target = self.match_target(r, subject.as_ref().map(|s| s.ty));
        let subject = subject?;
        match target? {
            MatchTarget::Acl(acl) => {
                if subject.ty != Type::Ip {
                    self.error(
                        subject.span,
                        format!("Only IP addresses can be matched against an ACL, not {}", subject.ty),
                    );
                    return None;
                }
                Some(lit(K::AclMatch { ip: Box::new(subject), acl, negated }, Type::Bool, span))
            }
            MatchTarget::Regex(regex) => {
                if subject.ty == Type::Ip {
                    self.error(r.span, "An IP address can only be matched against an ACL name");
                    return None;
                }
                if !subject.ty.is_string_like() {
                    let op = if negated { "!~" } else { "~" };
                    self.error(subject.span, format!("Operator {op} not possible on {} (only on strings)", subject.ty));
                    return None;
                }
                let subject = self.coerce(subject, Type::String)?;
                Some(lit(K::Match { subject: Box::new(subject), regex, negated }, Type::Bool, span))
            }
        }
    }

    fn match_target(&mut self, r: &ast::Expr, subject: Option<Type>) -> Option<MatchTarget> {
        if let A::Path(id) = &r.kind {
            if let Some((Symbol::Acl(acl), _)) = self.names.get(&id.name).copied() {
                self.acl_used[acl.0 as usize] = true;
                return Some(MatchTarget::Acl(acl));
            }
            if subject == Some(Type::Ip) {
                let acls = self.names_of(|s| matches!(s, Symbol::Acl(_)));
                self.error_unknown(id.span, format!("Unknown ACL '{}'", id.name), &id.name, acls);
                return None;
            }
        }
        let pattern = self.regex_literal(r)?;
        let id = self.regex(&pattern, r.span)?;
        Some(MatchTarget::Regex(id))
    }

    /// A regex must be a constant: a literal or a `+` concatenation of literals.
    pub(crate) fn regex_literal(&mut self, r: &ast::Expr) -> Option<String> {
        fn constant(e: &ast::Expr, out: &mut String) -> bool {
            match &e.kind {
                A::Str(s) => {
                    out.push_str(s);
                    true
                }
                A::Binary(BinOp::Add, l, r) => constant(l, out) && constant(r, out),
                _ => false,
            }
        }
        let mut s = String::new();
        if constant(r, &mut s) {
            return Some(s);
        }
        let ty = self.expr(r).map(|e| e.ty)?;
        self.error(r.span, format!("Expression has type {ty}, expected REGEX (a regex must be a string literal)"));
        None
    }

    /// A call used as a value or a statement.
    pub(crate) fn call(&mut self, callee: &ast::Ident, args: &[Arg], span: Span) -> Option<Expr> {
        let name = callee.name.as_str();
        if let Some((root, method)) = name.rsplit_once('.') {
            if let Some((Symbol::Object(obj), _)) = self.names.get(root).copied() {
                return self.method_call(obj, method, callee, args, span);
            }
            let (vmod_alias, func) = name.split_once('.').unwrap_or((name, ""));
            let vmod = match self.imports.get(vmod_alias) {
                Some(v) => *v,
                None if vmod_alias == "std" && self.is_builtin(callee.span) => "std",
                None if crate::vmods::KNOWN_VMODS.contains(&vmod_alias) => {
                    self.diags.push(
                        Diagnostic::error(callee.span, format!("'{vmod_alias}' is not imported"))
                            .with_note(format!("add 'import {vmod_alias};' before using it"), None),
                    );
                    return None;
                }
                None => {
                    // (A misspelt vmod: `sdt.log`.)
                    let vmods =
                        self.imports.keys().map(|k| k.as_str()).chain(crate::vmods::KNOWN_VMODS.iter().copied());
                    let known = vmods.map(|v| format!("{v}.{func}")).collect();
                    self.error_unknown(callee.span, format!("Unknown function or object '{name}'"), name, known);
                    return None;
                }
            };
            let full = format!("{vmod}.{func}");
            if vmods::director(&full).is_some() {
                self.error(
                    callee.span,
                    format!("'{name}()' creates an object; use it as 'new NAME = {name}();' in vcl_init"),
                );
                return None;
            }
            let Some(def) = vmods::function(&full) else {
                let prefix = format!("{vmod}.");
                let known = vmods::FUNCTIONS
                    .iter()
                    .filter_map(|f| f.name.strip_prefix(&prefix))
                    .map(|f| format!("{vmod_alias}.{f}"))
                    .collect();
                self.error_unknown(callee.span, format!("Unknown function '{name}' in vmod {vmod}"), name, known);
                return None;
            };
            return self.func_call(def, callee, args, span);
        }
        match vmods::function(name) {
            Some(def) => self.func_call(def, callee, args, span),
            None => {
                let known =
                    vmods::FUNCTIONS.iter().filter(|f| !f.name.contains('.')).map(|f| f.name.to_string()).collect();
                self.error_unknown(callee.span, format!("Unknown function '{name}'"), name, known);
                None
            }
        }
    }

    fn func_call(
        &mut self,
        def: &'static vmods::FuncDef,
        callee: &ast::Ident,
        args: &[Arg],
        span: Span,
    ) -> Option<Expr> {
        if def.mask != symbols::ALL {
            self.record(def.mask, callee.span, format!("'{}()' cannot be called", def.name));
        }
        let bound = self.bind(def.name, def.params, args, span)?;
        if !def.one_of.is_empty() {
            let given: Vec<&str> = def
                .params
                .iter()
                .zip(&bound)
                .filter(|(p, a)| a.is_some() && def.one_of.contains(&p.name))
                .map(|(p, _)| p.name)
                .collect();
            if given.len() != 1 {
                self.error(span, format!("{}() takes exactly one of {}", def.name, def.one_of.join(", ")));
                return None;
            }
        }
        Some(lit(K::Call(def.func, bound), def.ret, span))
    }

    fn method_call(
        &mut self,
        obj: crate::ir::ObjId,
        method: &str,
        callee: &ast::Ident,
        args: &[Arg],
        span: Span,
    ) -> Option<Expr> {
        let Some(kind) = self.objects[obj.0 as usize].as_ref().map(|o| o.kind) else {
            self.error(
                callee.span,
                format!(
                    "Object '{}' is used before 'new' creates it",
                    callee.name.rsplit_once('.').map_or("", |p| p.0)
                ),
            );
            return None;
        };
        let def = vmods::director_def(kind);
        let Some((_, m, ret, params)) = def.methods.iter().find(|(n, ..)| *n == method) else {
            let known: Vec<_> = def.methods.iter().map(|(n, ..)| format!(".{n}()")).collect();
            self.error(callee.span, format!("{} has no method '.{method}()' (it has {})", def.name, known.join(", ")));
            return None;
        };
        let bound = self.bind(&callee.name, params, args, span)?;
        Some(lit(K::Method(obj, *m, bound), *ret, span))
    }

    /// Binds positional and named arguments to parameters, filling defaults.
    pub(crate) fn bind(&mut self, what: &str, params: &[Param], args: &[Arg], span: Span) -> Option<Vec<Option<Expr>>> {
        let mut slots: Vec<Option<&ast::Expr>> = vec![None; params.len()];
        let mut ok = true;
        let mut positional = 0;
        for a in args {
            let idx = match &a.name {
                Some(n) => match params.iter().position(|p| p.name == n.name) {
                    Some(i) => i,
                    None => {
                        self.error(n.span, format!("{what}() has no parameter '{}'", n.name));
                        ok = false;
                        continue;
                    }
                },
                None => {
                    positional += 1;
                    positional - 1
                }
            };
            if idx >= params.len() {
                self.error(a.value.span, format!("Too many arguments for {what}() (it takes {})", params.len()));
                return None;
            }
            if slots[idx].is_some() {
                self.error(a.value.span, format!("Argument '{}' of {what}() given twice", params[idx].name));
                ok = false;
            }
            slots[idx] = Some(&a.value);
        }
        let mut out = Vec::with_capacity(params.len());
        for (p, slot) in params.iter().zip(slots) {
            let v = match slot {
                Some(e) => self.arg(p, e),
                None => match p.default {
                    Default::Required => {
                        self.error(span, format!("Missing argument '{}' ({}) of {what}()", p.name, p.ty));
                        ok = false;
                        None
                    }
                    Default::Absent => {
                        out.push(None);
                        continue;
                    }
                    Default::Bool(b) => Some(lit(K::Bool(b), Type::Bool, span)),
                    Default::Real(r) => Some(lit(K::Real(r), Type::Real, span)),
                    Default::Int(i) => Some(lit(K::Int(i), Type::Int, span)),
                    Default::Str(s) => Some(lit(K::Str(Arc::from(s)), Type::String, span)),
                },
            };
            ok &= v.is_some();
            out.push(v);
        }
        ok.then_some(out)
    }

    fn arg(&mut self, p: &Param, e: &ast::Expr) -> Option<Expr> {
        if !p.choices.is_empty() {
            // An ENUM: a bare identifier among the choices.
            return match &e.kind {
                ast::ExprKind::Path(id) if p.choices.contains(&id.name.as_str()) => {
                    Some(lit(K::Str(Arc::from(id.name.as_str())), Type::String, e.span))
                }
                _ => {
                    self.error(e.span, format!("'{}' must be one of {}", p.name, p.choices.join(", ")));
                    None
                }
            };
        }
        match p.ty {
            Type::Probe => {
                let ast::ExprKind::Path(id) = &e.kind else {
                    self.error(e.span, format!("'{}' takes the name of a probe", p.name));
                    return None;
                };
                let probe = self.probe_ref(id)?;
                Some(lit(K::Probe(probe), Type::Probe, e.span))
            }
            Type::Regex => {
                let pattern = self.regex_literal(e)?;
                let id = self.regex(&pattern, e.span)?;
                Some(lit(K::RegexRef(id), Type::Regex, e.span))
            }
            Type::Http => {
                // `req`, `bereq`, `resp` or `beresp`: legal where its headers may be read.
                let name = match &e.kind {
                    ast::ExprKind::Path(id) if ["req", "bereq", "resp", "beresp"].contains(&id.name.as_str()) => {
                        id.name.as_str()
                    }
                    _ => {
                        self.error(
                            e.span,
                            format!("'{}' must be req, bereq, resp or beresp (a whole HTTP message)", p.name),
                        );
                        return None;
                    }
                };
                let mask = symbols::lookup_var(&format!("{name}.http.x")).map_or(symbols::NONE, |(d, _)| d.read);
                self.record(mask, e.span, format!("'{name}' cannot be used"));
                Some(lit(K::Str(Arc::from(name)), Type::Http, e.span))
            }
            Type::Header => {
                let v = self.expr(e)?;
                if v.ty != Type::Header {
                    self.error(e.span, format!("Expression has type {}, expected HEADER (e.g. req.http.Cookie)", v.ty));
                    return None;
                }
                Some(v)
            }
            ty => {
                let v = self.expr_as(e, ty)?;
                self.coerce(v, ty)
            }
        }
    }
}

/// How a variable is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
    Unset,
}

fn num_expr(v: Num, span: Span) -> Expr {
    match v {
        Num::Int(i) => lit(K::Int(i), Type::Int, span),
        Num::Real(r) => lit(K::Real(r), Type::Real, span),
        Num::Duration(d) => lit(K::Duration(d), Type::Duration, span),
        Num::Bytes(b) => lit(K::Bytes(b), Type::Bytes, span),
    }
}
