//! Linking statements (spec §1.6).

use shellac_vcl::ast::AssignOp;
use shellac_vcl::ir::{Action, ArithOp, Stmt};
use shellac_vcl::symbols::Var;
use shellac_vcl::types::Type;

use super::expr::{arith, link_expr, var_parts};
use super::{run_block, run_sub, Flow, Handling, Linker, StmtFn};
use crate::error::{LoadError, VclFail};
use crate::value::Value;
use crate::vrt::vars;

/// Links a block.
pub(crate) fn link_block(l: &Linker<'_>, block: &[Stmt]) -> Result<Vec<StmtFn>, LoadError> {
    block.iter().map(|s| link_stmt(l, s)).collect()
}

fn link_stmt(l: &Linker<'_>, s: &Stmt) -> Result<StmtFn, LoadError> {
    Ok(match s {
        Stmt::Set { var, op, value, .. } => {
            let (v, hdr) = var_parts(var)?;
            let f = link_expr(l, value)?;
            let ty = shellac_vcl::symbols::var_def(v).ty;
            let op = *op;
            Box::new(move |ctx| {
                let new = f(ctx)?;
                let value = match op {
                    AssignOp::Set => new,
                    AssignOp::Add if ty == Type::Body => {
                        vars::append_body(ctx, v, &new.to_text())?;
                        return Ok(Flow::Next);
                    }
                    AssignOp::Add if matches!(ty, Type::String | Type::Header) => {
                        let mut cur = vars::get(ctx, v, hdr.as_ref())?.to_text();
                        cur.push_str(&new.to_text());
                        Value::Str(cur)
                    }
                    op => {
                        let cur = vars::get(ctx, v, hdr.as_ref())?;
                        let aop = match op {
                            AssignOp::Add | AssignOp::Set => ArithOp::Add,
                            AssignOp::Sub => ArithOp::Sub,
                            AssignOp::Mul => ArithOp::Mul,
                            AssignOp::Div => ArithOp::Div,
                        };
                        arith(aop, ty, cur, new)?
                    }
                };
                vars::set(ctx, v, hdr.as_ref(), value)?;
                Ok(Flow::Next)
            })
        }
        Stmt::Unset { var, .. } => {
            let (v, hdr) = var_parts(var)?;
            Box::new(move |ctx| {
                vars::unset(ctx, v, hdr.as_ref())?;
                Ok(Flow::Next)
            })
        }
        Stmt::If { arms, otherwise } => {
            let arms = arms
                .iter()
                .map(|(c, b)| Ok((link_expr(l, c)?, link_block(l, b)?)))
                .collect::<Result<Vec<_>, LoadError>>()?;
            let otherwise = link_block(l, otherwise)?;
            Box::new(move |ctx| {
                for (cond, block) in &arms {
                    if cond(ctx)?.truth() {
                        return run_block(block, ctx);
                    }
                }
                run_block(&otherwise, ctx)
            })
        }
        Stmt::Return(Action::Leave, _) => Box::new(|_| Ok(Flow::Leave)),
        Stmt::Return(Action::Vcl(label), _) => {
            let label = label.clone();
            Box::new(move |_| {
                Ok(Flow::Return(Handling {
                    action: shellac_vcl::symbols::ActionKind::Vcl,
                    args: Vec::new(),
                    label: Some(label.clone()),
                }))
            })
        }
        Stmt::Return(Action::Act(kind, args), _) => {
            let kind = *kind;
            let args = args.iter().map(|a| link_expr(l, a)).collect::<Result<Vec<_>, _>>()?;
            Box::new(move |ctx| {
                let values = args.iter().map(|a| a(ctx)).collect::<Result<Vec<_>, _>>()?;
                Ok(Flow::Return(Handling { action: kind, args: values, label: None }))
            })
        }
        Stmt::Call(id, _) => {
            let id = *id;
            Box::new(move |ctx| match run_sub(ctx, id)? {
                Flow::Leave => Ok(Flow::Next),
                other => Ok(other),
            })
        }
        // Objects are created when the VCL is linked; `new` has nothing left to do.
        Stmt::New(..) => Box::new(|_| Ok(Flow::Next)),
        Stmt::Synthetic(e) => {
            let f = link_expr(l, e)?;
            Box::new(move |ctx| {
                let text = f(ctx)?.to_text();
                let var = if ctx.resp.is_some() { Var::RespBody } else { Var::BerespBody };
                vars::append_body(ctx, var, &text)?;
                Ok(Flow::Next)
            })
        }
        Stmt::HashData(e) => match super::expr::text_var(e).filter(|v| matches!(v.var, Var::ReqUrl | Var::ReqHttp)) {
            // `hash_data(req.url)`, `hash_data(req.http.host)`: hashed where they lie.
            Some(v) => {
                let (var, hdr) = var_parts(v)?;
                Box::new(move |ctx| {
                    match vars::hash_req_var(ctx, var, hdr.as_ref()) {
                        Some(r) => r?,
                        None => return Err(VclFail("hash_data outside vcl_hash".into())),
                    }
                    Ok(Flow::Next)
                })
            }
            None => link_hash_data(l, e)?,
        },
        // `ban()`: as `std.ban()`, but a bad ban is only logged (varnishd: `VCL_Error`).
        Stmt::Ban(e) => {
            let f = link_expr(l, e)?;
            let cache = l.cache.cloned();
            Box::new(move |ctx| {
                let spec = f(ctx)?.to_text();
                let now = ctx.now();
                if let Some(cache) = &cache {
                    if let Err(e) = crate::ban::issue_vcl(cache, &spec, now) {
                        tracing::warn!(target: "vcl_log", "ban(\"{spec}\"): {e}");
                    }
                }
                Ok(Flow::Next)
            })
        }
        Stmt::Eval(e) => {
            let f = link_expr(l, e)?;
            Box::new(move |ctx| {
                f(ctx)?;
                Ok(Flow::Next)
            })
        }
    })
}

/// `hash_data(EXPR)` in general: the value's text, then the field separator.
fn link_hash_data(l: &Linker<'_>, e: &shellac_vcl::ir::Expr) -> Result<StmtFn, LoadError> {
    let f = link_expr(l, e)?;
    Ok(Box::new(move |ctx| {
        let v = f(ctx)?;
        vars::hash_value(ctx, &v)?;
        Ok(Flow::Next)
    }))
}
