//! Linking expressions (spec §1.5): each typed IR expression becomes one closure.

use std::net::SocketAddr;
use std::sync::Arc;

use http::header::HeaderName;
use shellac_vcl::ir::{ArithOp, CmpOp, Expr, ExprKind, VarRef};
use shellac_vcl::types::Type;

use super::{funcs, ExprFn, Linker};
use crate::error::{LoadError, VclFail};
use crate::value::Value;
use crate::vrt::vars;

/// Links one expression.
pub(crate) fn link_expr(l: &Linker<'_>, e: &Expr) -> Result<ExprFn, LoadError> {
    if let Some(f) = link_in_place(l, e)? {
        return Ok(f);
    }
    let ty = e.ty;
    Ok(match &e.kind {
        ExprKind::Str(s) => {
            let s: Arc<str> = s.clone();
            Box::new(move |_| Ok(Value::Str(s.to_string())))
        }
        ExprKind::Int(n) => constant(Value::Int(*n)),
        ExprKind::Real(r) => constant(Value::Real(*r)),
        ExprKind::Duration(d) => constant(Value::Duration(*d)),
        ExprKind::Bytes(b) => constant(Value::Bytes(*b)),
        ExprKind::Bool(b) => constant(Value::Bool(*b)),
        ExprKind::Ip(ip) => constant(Value::Ip(Some(SocketAddr::new(*ip, 0)))),
        ExprKind::Var(v) if v.var.is_storage() => {
            let name = v.header.as_deref().unwrap_or_default();
            let store = l.stores.iter().find(|s| s.name() == name).cloned();
            let store = store.ok_or_else(|| LoadError::Unsupported(format!("no storage called {name:?}")))?;
            storage_var(v.var, store)
        }
        ExprKind::Var(v) => {
            let (var, hdr) = var_parts(v)?;
            Box::new(move |ctx| vars::get(ctx, var, hdr.as_ref()))
        }
        ExprKind::Backend(r) => constant(Value::Backend(l.backend_ref(*r))),
        ExprKind::Concat(parts) => {
            let parts = parts.iter().map(|p| link_expr(l, p)).collect::<Result<Vec<_>, _>>()?;
            Box::new(move |ctx| {
                let mut out = String::new();
                for p in &parts {
                    match p(ctx)? {
                        Value::Str(s) => out.push_str(&s),
                        Value::Null => {}
                        other => out.push_str(&other.to_text()),
                    }
                }
                Ok(Value::Str(out))
            })
        }
        ExprKind::ToString(inner) => {
            let f = link_expr(l, inner)?;
            Box::new(move |ctx| Ok(Value::Str(f(ctx)?.to_text())))
        }
        ExprKind::ToBool(inner) => {
            let f = link_expr(l, inner)?;
            Box::new(move |ctx| Ok(Value::Bool(f(ctx)?.truth())))
        }
        ExprKind::IntToReal(inner) => {
            let f = link_expr(l, inner)?;
            Box::new(move |ctx| Ok(Value::Real(f(ctx)?.num())))
        }
        ExprKind::Neg(inner) => {
            let f = link_expr(l, inner)?;
            Box::new(move |ctx| {
                Ok(match f(ctx)? {
                    Value::Int(n) => Value::Int(n.wrapping_neg()),
                    Value::Real(r) => Value::Real(-r),
                    Value::Duration(d) => Value::Duration(-d),
                    other => other,
                })
            })
        }
        ExprKind::Not(inner) => {
            let f = link_expr(l, inner)?;
            Box::new(move |ctx| Ok(Value::Bool(!f(ctx)?.truth())))
        }
        ExprKind::And(a, b) => {
            let (a, b) = (link_expr(l, a)?, link_expr(l, b)?);
            Box::new(move |ctx| Ok(Value::Bool(a(ctx)?.truth() && b(ctx)?.truth())))
        }
        ExprKind::Or(a, b) => {
            let (a, b) = (link_expr(l, a)?, link_expr(l, b)?);
            Box::new(move |ctx| Ok(Value::Bool(a(ctx)?.truth() || b(ctx)?.truth())))
        }
        ExprKind::Arith(op, a, b) => {
            let op = *op;
            let (fa, fb) = (link_expr(l, a)?, link_expr(l, b)?);
            Box::new(move |ctx| arith(op, ty, fa(ctx)?, fb(ctx)?))
        }
        ExprKind::Cmp(op, a, b) => {
            let op = *op;
            let operand = a.ty;
            let (fa, fb) = (link_expr(l, a)?, link_expr(l, b)?);
            Box::new(move |ctx| Ok(Value::Bool(compare(op, operand, &fa(ctx)?, &fb(ctx)?))))
        }
        ExprKind::Match { subject, regex, negated } => {
            let f = link_expr(l, subject)?;
            let re = l.program.regexes[regex.0 as usize].clone();
            let negated = *negated;
            Box::new(move |ctx| {
                let v = f(ctx)?;
                let hit = re.is_match(v.str().as_bytes()).map_err(|e| VclFail(format!("regex match failed: {e}")))?;
                Ok(Value::Bool(hit != negated))
            })
        }
        ExprKind::AclMatch { ip, acl, negated } => {
            let f = link_expr(l, ip)?;
            let acls = l.acls.clone();
            let (idx, negated) = (acl.0 as usize, *negated);
            Box::new(move |ctx| {
                let hit = match f(ctx)? {
                    Value::Ip(Some(a)) => acls[idx].matches(a.ip()),
                    _ => false,
                };
                Ok(Value::Bool(hit != negated))
            })
        }
        ExprKind::Call(func, args) => funcs::link_call(l, *func, args)?,
        ExprKind::RegexRef(_) | ExprKind::Probe(_) => constant(Value::Null),
        ExprKind::Method(obj, method, args) => funcs::link_method(l, *obj, *method, args)?,
    })
}

/// The common tests on text variables, linked to look at the value where it lies instead of
/// copying it: `if (req.http.x)`, `req.method == "GET"`, `req.url ~ "..."`.
fn link_in_place(l: &Linker<'_>, e: &Expr) -> Result<Option<ExprFn>, LoadError> {
    match &e.kind {
        ExprKind::ToBool(inner) => {
            let Some(v) = header_var(inner) else { return Ok(None) };
            let (var, hdr) = var_parts(v)?;
            Ok(Some(Box::new(move |ctx| match vars::peek(ctx, var, hdr.as_ref(), |v| v.is_some()) {
                Some(r) => r.map(Value::Bool),
                None => Ok(Value::Bool(vars::get(ctx, var, hdr.as_ref())?.truth())),
            })))
        }
        ExprKind::Cmp(op @ (CmpOp::Eq | CmpOp::Ne), a, b) => {
            let (Some(v), ExprKind::Str(lit)) = (text_var(a), &b.kind) else { return Ok(None) };
            let (var, hdr) = var_parts(v)?;
            let (lit, eq, operand) = (lit.clone(), *op == CmpOp::Eq, a.ty);
            Ok(Some(Box::new(move |ctx| {
                match vars::peek(ctx, var, hdr.as_ref(), |v| v.is_some_and(|v| v == lit.as_bytes())) {
                    Some(r) => r.map(|same| Value::Bool(same == eq)),
                    None => {
                        let v = vars::get(ctx, var, hdr.as_ref())?;
                        let op = if eq { CmpOp::Eq } else { CmpOp::Ne };
                        Ok(Value::Bool(compare(op, operand, &v, &Value::Str(lit.to_string()))))
                    }
                }
            })))
        }
        ExprKind::Match { subject, regex, negated } => {
            let Some(v) = text_var(subject) else { return Ok(None) };
            let (var, hdr) = var_parts(v)?;
            let re = l.program.regexes[regex.0 as usize].clone();
            let negated = *negated;
            Ok(Some(Box::new(move |ctx| {
                let hit = match vars::peek(ctx, var, hdr.as_ref(), |v| re.is_match(v.unwrap_or(b""))) {
                    Some(r) => r?,
                    None => re.is_match(vars::get(ctx, var, hdr.as_ref())?.str().as_bytes()),
                };
                let hit = hit.map_err(|e| VclFail(format!("regex match failed: {e}")))?;
                Ok(Value::Bool(hit != negated))
            })))
        }
        _ => Ok(None),
    }
}

/// `storage.NAME` and its properties, read from the store itself.
fn storage_var(var: shellac_vcl::symbols::Var, store: Arc<shellac_cache::Storage>) -> ExprFn {
    use shellac_vcl::symbols::Var as V;
    // An unlimited store reads as varnishd's does: 999999999999999 bytes free.
    const UNLIMITED: u64 = 999_999_999_999_999;
    match var {
        V::StorageFreeSpace => Box::new(move |_| Ok(Value::Bytes(store.free().min(UNLIMITED)))),
        V::StorageUsedSpace => Box::new(move |_| Ok(Value::Bytes(store.used()))),
        // A malloc store is always able to store (varnishd 7.1.1 crashes on this one).
        V::StorageHappy => Box::new(move |_| Ok(Value::Bool(true))),
        _ => Box::new(move |_| Ok(Value::Stevedore(store.clone()))),
    }
}

/// Links optional arguments.
pub(crate) fn link_args(l: &Linker<'_>, args: &[Option<Expr>]) -> Result<Vec<Option<ExprFn>>, LoadError> {
    args.iter().map(|a| a.as_ref().map(|e| link_expr(l, e)).transpose()).collect()
}

/// The variable and its prepared header name.
pub(crate) fn var_parts(v: &VarRef) -> Result<(shellac_vcl::symbols::Var, Option<HeaderName>), LoadError> {
    let hdr = match &v.header {
        Some(h) => Some(
            HeaderName::from_bytes(h.as_bytes())
                .map_err(|_| LoadError::Unsupported(format!("invalid header name {h:?}")))?,
        ),
        None => None,
    };
    Ok((v.var, hdr))
}

/// The variable an expression reads, when it is a header.
fn header_var(e: &Expr) -> Option<&VarRef> {
    match &e.kind {
        ExprKind::Var(v) if v.header.is_some() => Some(v),
        _ => None,
    }
}

/// The variable an expression reads, when it is text (STRING or a header).
pub(crate) fn text_var(e: &Expr) -> Option<&VarRef> {
    match &e.kind {
        ExprKind::Var(v) if matches!(e.ty, Type::String | Type::Header) => Some(v),
        _ => None,
    }
}

fn constant(v: Value) -> ExprFn {
    Box::new(move |_| Ok(v.clone()))
}

/// Arithmetic by result type (spec §1.5).
pub(crate) fn arith(op: ArithOp, ty: Type, a: Value, b: Value) -> Result<Value, VclFail> {
    if ty == Type::Int || ty == Type::Bytes {
        let (x, y) = (a.int(), b.int());
        let n = match op {
            ArithOp::Add => x.wrapping_add(y),
            ArithOp::Sub => x.wrapping_sub(y),
            ArithOp::Mul => x.wrapping_mul(y),
            ArithOp::Div | ArithOp::Rem if y == 0 => return Err(VclFail("INT division by zero".into())),
            ArithOp::Div => x.wrapping_div(y),
            ArithOp::Rem => x.wrapping_rem(y),
        };
        return Ok(if ty == Type::Bytes { Value::Bytes(n.max(0) as u64) } else { Value::Int(n) });
    }
    let (x, y) = (a.num(), b.num());
    let r = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div if y == 0.0 => return Err(VclFail("division by zero".into())),
        ArithOp::Div => x / y,
        ArithOp::Rem => x % y,
    };
    Ok(match ty {
        Type::Duration => Value::Duration(r),
        Type::Time => Value::Time(r),
        _ => Value::Real(r),
    })
}

/// Comparison by operand type; strings compare byte-wise, and an unset one on either side
/// compares as greater (equal to nothing), as varnishd's `VRT_strcmp` has it.
pub(crate) fn compare(op: CmpOp, operand: Type, a: &Value, b: &Value) -> bool {
    let ord = match operand {
        Type::String | Type::Header => match (a.as_opt_str(), b.as_opt_str()) {
            (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
            _ => std::cmp::Ordering::Greater,
        },
        Type::Backend => {
            let same = match (a, b) {
                (Value::Backend(x), Value::Backend(y)) => x.same(y),
                _ => false,
            };
            return if op == CmpOp::Eq { same } else { !same };
        }
        Type::Stevedore => {
            let same = match (a, b) {
                (Value::Stevedore(x), Value::Stevedore(y)) => Arc::ptr_eq(x, y),
                _ => false,
            };
            return if op == CmpOp::Eq { same } else { !same };
        }
        Type::Ip => {
            let same = match (a, b) {
                (Value::Ip(Some(x)), Value::Ip(Some(y))) => x.ip() == y.ip(),
                _ => false,
            };
            return if op == CmpOp::Eq { same } else { !same };
        }
        Type::Bool => a.truth().cmp(&b.truth()),
        Type::Int | Type::Bytes => a.int().cmp(&b.int()),
        _ => match a.num().partial_cmp(&b.num()) {
            Some(o) => o,
            None => return op == CmpOp::Ne,
        },
    };
    use std::cmp::Ordering as O;
    match op {
        CmpOp::Eq => ord == O::Equal,
        CmpOp::Ne => ord != O::Equal,
        CmpOp::Lt => ord == O::Less,
        CmpOp::Gt => ord == O::Greater,
        CmpOp::Le => ord != O::Greater,
        CmpOp::Ge => ord != O::Less,
    }
}
