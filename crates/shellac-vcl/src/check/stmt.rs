//! Pass 3a: subroutine bodies. Statements are typed; every use whose legality depends on the
//! method (variables, return actions, `new`, `hash_data`, `synthetic`) is recorded for pass 4.

use super::expr::Access;
use super::Checker;
use crate::ast::{self, AssignOp, StmtKind};
use crate::diagnostic::Diagnostic;
use crate::ir::{self, Action};
use crate::symbols::{self, ActionKind, Method, BACKEND, CLIENT};
use crate::types::Type;
use crate::vmods;

// === impl Checker ===

impl Checker<'_, '_> {
    /// Pass 3 over every subroutine.
    pub(super) fn check_subs(&mut self) {
        // vcl_init first: it creates the objects other subroutines use.
        let mut order: Vec<usize> = (0..self.subs.len()).collect();
        order.sort_by_key(|i| self.subs[*i].method != Some(Method::Init));
        for i in order {
            self.current = ir::SubId(i as u32);
            let defs = self.subs[i].defs.clone();
            let mut body = Vec::new();
            for def in defs {
                body.extend(self.block(&def.body));
            }
            self.subs[i].body = body;
        }
    }

    /// Checks statements; a nested `{ … }` has no scope in VCL, so its statements are spliced
    /// into the enclosing list.
    fn block(&mut self, stmts: &[ast::Stmt]) -> Vec<ir::Stmt> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            match &s.kind {
                StmtKind::Block(inner) => out.extend(self.block(inner)),
                _ => out.extend(self.stmt(s)),
            }
        }
        out
    }

    fn stmt(&mut self, s: &ast::Stmt) -> Option<ir::Stmt> {
        match &s.kind {
            StmtKind::Set { target, op, op_span, value } => self.set(target, *op, *op_span, value, s.span),
            StmtKind::Unset(target) => {
                let (def, header) = self.var(target, Access::Unset)?;
                Some(ir::Stmt::Unset { var: ir::VarRef { var: def.var, header: header.map(Into::into) }, span: s.span })
            }
            StmtKind::If { arms, otherwise } => {
                let mut out = Vec::new();
                let mut ok = true;
                for (cond, body) in arms {
                    let c = self.cond(cond);
                    let b = self.block(body);
                    match c {
                        Some(c) => out.push((c, b)),
                        None => ok = false,
                    }
                }
                let otherwise = otherwise.as_ref().map(|b| self.block(b)).unwrap_or_default();
                ok.then_some(ir::Stmt::If { arms: out, otherwise })
            }
            // Handled by `block`, which splices nested blocks into their parent.
            StmtKind::Block(_) => None,
            StmtKind::Return(action) => self.return_stmt(action.as_ref(), s.span),
            StmtKind::Call(name) => self.call_stmt(name),
            StmtKind::New { name, ctor } => self.new_stmt(name, ctor, s.span),
            StmtKind::Synthetic(e) => {
                self.record(
                    symbols::Mask(0).with(Method::Synth).with(Method::BackendError),
                    s.span,
                    "'synthetic()' cannot be used".into(),
                );
                let v = self.expr_as(e, Type::String)?;
                Some(ir::Stmt::Synthetic(self.coerce(v, Type::String)?))
            }
            StmtKind::HashData(e) => {
                self.record(symbols::Mask(0).with(Method::Hash), s.span, "'hash_data()' cannot be used".into());
                let v = self.expr_as(e, Type::String)?;
                Some(ir::Stmt::HashData(self.coerce(v, Type::String)?))
            }
            StmtKind::Ban(e) => {
                self.record(symbols::Mask(CLIENT.0 | BACKEND.0), s.span, "'ban()' cannot be used".into());
                let v = self.expr_as(e, Type::String)?;
                Some(ir::Stmt::Ban(self.coerce(v, Type::String)?))
            }
            StmtKind::Eval(e) => {
                let ast::ExprKind::Call { callee, args } = &e.kind else {
                    self.error(e.span, "Only a function or method call can stand as a statement");
                    return None;
                };
                Some(ir::Stmt::Eval(self.call(callee, args, e.span)?))
            }
        }
    }

    fn set(
        &mut self,
        target: &ast::Ident,
        op: AssignOp,
        op_span: crate::source::Span,
        value: &ast::Expr,
        span: crate::source::Span,
    ) -> Option<ir::Stmt> {
        let resolved = self.var(target, Access::Write);
        // (Wanted as the variable's type; `+=` on a TIME adds a DURATION.)
        let want = resolved.as_ref().map(|(d, _)| match (op, d.ty) {
            (AssignOp::Add | AssignOp::Sub, Type::Time) => Type::Duration,
            (AssignOp::Mul | AssignOp::Div, Type::Real | Type::Duration) => Type::Real,
            (_, ty) => ty,
        });
        let v = match want {
            Some(want) => self.expr_as(value, want),
            None => self.expr(value),
        };
        let (def, header) = resolved?;
        if let Some(why) = unsupported_write(def.var) {
            self.error(target.span, format!("'{}' cannot be set: {why}", def.name));
            return None;
        }
        let v = v?;
        let var = ir::VarRef { var: def.var, header: header.map(Into::into) };
        let ty = def.ty;
        let value = match (op, ty) {
            (AssignOp::Set, Type::Header | Type::String | Type::Body) => self.coerce(v, Type::String)?,
            (AssignOp::Set, _) => self.coerce(v, ty)?,
            (AssignOp::Add, Type::Header | Type::String | Type::Body) => self.coerce(v, Type::String)?,
            (AssignOp::Add | AssignOp::Sub, Type::Int | Type::Real | Type::Duration | Type::Bytes) => {
                self.coerce(v, ty)?
            }
            (AssignOp::Add | AssignOp::Sub, Type::Time) => self.coerce(v, Type::Duration)?,
            (AssignOp::Mul | AssignOp::Div, Type::Int) => self.coerce(v, Type::Int)?,
            (AssignOp::Mul | AssignOp::Div, Type::Real | Type::Duration) => self.coerce(v, Type::Real)?,
            _ => {
                let sym = match op {
                    AssignOp::Set => "=",
                    AssignOp::Add => "+=",
                    AssignOp::Sub => "-=",
                    AssignOp::Mul => "*=",
                    AssignOp::Div => "/=",
                };
                self.error(op_span, format!("Operator '{sym}' is not possible on type {ty}"));
                return None;
            }
        };
        Some(ir::Stmt::Set { var, op, value, span })
    }

    fn return_stmt(&mut self, action: Option<&ast::ReturnAction>, span: crate::source::Span) -> Option<ir::Stmt> {
        let cur = self.current.0 as usize;
        let Some(action) = action else {
            if self.subs[cur].method.is_some() {
                self.error(span, "'return;' without an action is only allowed in a custom subroutine");
                return None;
            }
            return Some(ir::Stmt::Return(Action::Leave, span));
        };
        let name = &action.name;
        let Some(def) = symbols::action_by_name(&name.name) else {
            let here = self.subs[cur].method.map(|m| {
                symbols::method_def(m)
                    .actions
                    .iter()
                    .map(|a| symbols::action_def(*a).name)
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let mut d = Diagnostic::error(name.span, format!("Unknown return action '{}'", name.name));
            let actions = symbols::ACTIONS.iter().map(|a| a.name.to_string()).collect();
            d = super::with_suggestion(d, &name.name, actions);
            if let (Some(list), Some(m)) = (here, self.subs[cur].method) {
                d = d.with_note(format!("{} may return: {list}", m.name()), None);
            }
            self.diags.push(d);
            return None;
        };
        let mut mask = symbols::action_mask(def.kind);
        if def.kind == ActionKind::Pass && !action.args.is_empty() {
            mask = symbols::Mask(0).with(Method::BackendResponse);
        }
        let shown = if action.args.is_empty() { name.name.clone() } else { format!("{}(…)", name.name) };
        self.record(mask, name.span, format!("'return ({shown})' is not allowed"));
        if def.kind == ActionKind::Vcl {
            return match action.args.as_slice() {
                [ast::Expr { kind: ast::ExprKind::Path(label), .. }] if !label.name.contains('.') => {
                    if self.opts.labels.is_some_and(|known| !known.contains(&label.name)) {
                        let d = Diagnostic::error(label.span, format!("Symbol not found: '{}'", label.name)).with_note(
                            "the label must exist when this VCL is compiled: 'vcl.label LABEL VCL' first",
                            None,
                        );
                        self.diags.push(d);
                        return None;
                    }
                    self.returns_to.insert(label.name.clone());
                    Some(ir::Stmt::Return(Action::Vcl(label.name.clone()), span))
                }
                _ => {
                    self.error(name.span, "'return (vcl(LABEL))' takes one VCL label name");
                    None
                }
            };
        }
        let needs_args = matches!(def.kind, ActionKind::Synth);
        if needs_args && action.args.is_empty() {
            self.error(
                name.span,
                format!("'{}' needs arguments: return ({}(STATUS[, \"reason\"]))", name.name, name.name),
            );
            return None;
        }
        if action.args.len() > def.args.len() {
            let msg = if def.args.is_empty() {
                format!("'{}' takes no arguments", name.name)
            } else {
                format!("'{}' takes at most {} arguments", name.name, def.args.len())
            };
            self.error(action.args[def.args.len()].span, msg);
            return None;
        }
        let mut args = Vec::new();
        let mut ok = true;
        for (e, ty) in action.args.iter().zip(def.args) {
            match self.expr_as(e, *ty).and_then(|v| self.coerce(v, *ty)) {
                Some(v) => args.push(v),
                None => ok = false,
            }
        }
        ok.then_some(ir::Stmt::Return(Action::Act(def.kind, args), span))
    }

    fn call_stmt(&mut self, name: &ast::Ident) -> Option<ir::Stmt> {
        match self.names.get(&name.name).map(|(s, _)| *s) {
            Some(super::Symbol::Sub(id)) => {
                if let Some(m) = self.subs[id.0 as usize].method {
                    self.error(name.span, format!("'{}' is a builtin method and cannot be called", m.name()));
                    return None;
                }
                let cur = self.current.0 as usize;
                self.subs[cur].calls.push((id, name.span));
                Some(ir::Stmt::Call(id, name.span))
            }
            _ => {
                let subs =
                    self.names_of(|s| matches!(s, super::Symbol::Sub(id) if self.subs[id.0 as usize].method.is_none()));
                self.error_unknown(name.span, format!("Unknown subroutine '{}'", name.name), &name.name, subs);
                None
            }
        }
    }

    fn new_stmt(&mut self, name: &ast::Ident, ctor: &ast::Expr, span: crate::source::Span) -> Option<ir::Stmt> {
        let cur = self.current.0 as usize;
        if self.subs[cur].method != Some(Method::Init) {
            self.error(span, "'new' is only allowed in vcl_init");
            return None;
        }
        let Some((super::Symbol::Object(id), decl_span)) = self.names.get(&name.name).copied() else {
            return None;
        };
        if decl_span != name.span {
            return None;
        }
        let ast::ExprKind::Call { callee, args } = &ctor.kind else {
            self.error(ctor.span, "Expected a constructor call such as 'directors.round_robin()'");
            return None;
        };
        let (alias, func) = callee.name.split_once('.').unwrap_or(("", &callee.name));
        let Some(vmod) = self.imports.get(alias).copied() else {
            let mut d = Diagnostic::error(callee.span, format!("Unknown object constructor '{}'", callee.name));
            if alias == "directors" {
                d = d.with_note("add 'import directors;'", None);
            }
            self.diags.push(d);
            return None;
        };
        let full = format!("{vmod}.{func}");
        let Some(def) = vmods::director(&full) else {
            self.error(callee.span, format!("'{}' is not an object constructor", callee.name));
            return None;
        };
        let bound = self.bind(&callee.name, def.ctor, args, ctor.span);
        let ok = match &bound {
            Some(args) if matches!(def.kind, vmods::DirectorKind::Etcd | vmods::DirectorKind::EtcdGroups) => {
                self.etcd_args(def, args).is_some()
            }
            Some(_) => true,
            None => false,
        };
        // The object exists even when its arguments are wrong, so that its uses are checked
        // (and not reported as uses before `new`).
        let args = bound.unwrap_or_default();
        self.objects[id.0 as usize] =
            Some(ir::Object { name: name.name.clone(), kind: def.kind, args, span: name.span, from_vcl3: false });
        ok.then_some(ir::Stmt::New(id, span))
    }

    /// The arguments of `etcd.director`/`etcd.groups` build every member, so they are constants.
    fn etcd_args(&mut self, def: &vmods::DirectorDef, args: &[Option<ir::Expr>]) -> Option<()> {
        let mut ok = true;
        for (p, a) in def.ctor.iter().zip(args) {
            let Some(a) = a else { continue };
            match (&a.kind, p.name) {
                (ir::ExprKind::Str(s), "prefix") if !s.starts_with('/') || !s.ends_with('/') => {
                    self.error(a.span, format!("prefix {s:?} must start and end with '/'"));
                    ok = false;
                }
                (ir::ExprKind::Str(s), "default") if s.is_empty() || s.contains('/') => {
                    self.error(a.span, format!("default group {s:?} must be a non-empty name without '/'"));
                    ok = false;
                }
                (ir::ExprKind::Int(n), _) if *n < 0 => {
                    self.error(a.span, format!("'{}' cannot be negative", p.name));
                    ok = false;
                }
                (ir::ExprKind::Duration(d), _) if *d < 0.0 => {
                    self.error(a.span, format!("'{}' cannot be negative", p.name));
                    ok = false;
                }
                (
                    ir::ExprKind::Str(_) | ir::ExprKind::Int(_) | ir::ExprKind::Duration(_) | ir::ExprKind::Probe(_),
                    _,
                ) => {}
                _ => {
                    self.error(a.span, format!("'{}' of {}() must be a constant", p.name, def.name));
                    ok = false;
                }
            }
        }
        ok.then_some(())
    }
}

/// Variables Varnish 7.1 lets VCL set for a feature Shellac lacks: refused, never set and
/// ignored.
fn unsupported_write(var: crate::symbols::Var) -> Option<&'static str> {
    use crate::symbols::Var as V;
    match var {
        V::BerespDoEsi | V::RespDoEsi | V::ReqEsi => Some("ESI is not supported by Shellac"),
        V::ReqStorage => Some("Shellac keeps a cached request body (std.cache_req_body) in memory, not in a storage"),
        V::SessIdleSendTimeout => Some(
            "Shellac has one send timeout per write, sess.send_timeout (a write that makes no progress for it fails)",
        ),
        _ => None,
    }
}
