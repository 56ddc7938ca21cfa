//! Linking vmod cookie's functions: each works on the jar of the task it runs in (the client
//! request's, or the backend request's; none in vcl_init and vcl_fini, where they do nothing).

use shellac_vcl::ir::{Expr, ExprKind};
use shellac_vcl::vmods::Func;

use super::{ExprFn, Linker};
use crate::error::{LoadError, VclFail};
use crate::value::Value;
use crate::vrt::cookies::{names, Jar};
use crate::vrt::Ctx;

type Args = Vec<Option<ExprFn>>;

/// Links a `cookie.*` call.
pub(crate) fn link(l: &Linker<'_>, func: Func, raw: &[Option<Expr>], args: Args) -> Result<ExprFn, LoadError> {
    // The REGEX argument of the `_re` functions, compiled with the program.
    let regex = match raw.first() {
        Some(Some(Expr { kind: ExprKind::RegexRef(id), .. })) => Some(l.program.regexes[id.0 as usize].clone()),
        _ => None,
    };
    let re = move || regex.clone().ok_or_else(|| LoadError::Unsupported("cookie: a regex argument is missing".into()));
    Ok(match func {
        Func::CookieParse => Box::new(move |ctx| {
            let header = arg(ctx, &args, 0)?;
            with_jar(ctx, |j| j.parse(header.str()));
            Ok(Value::Null)
        }),
        Func::CookieSet => Box::new(move |ctx| {
            let (name, value) = (arg(ctx, &args, 0)?, arg(ctx, &args, 1)?);
            with_jar(ctx, |j| j.set(name.str(), value.str()));
            Ok(Value::Null)
        }),
        Func::CookieGet => Box::new(move |ctx| {
            let name = arg(ctx, &args, 0)?;
            Ok(text(with_jar(ctx, |j| j.get(name.str()).map(str::to_string)).flatten()))
        }),
        Func::CookieIsset => Box::new(move |ctx| {
            let name = arg(ctx, &args, 0)?;
            Ok(Value::Bool(with_jar(ctx, |j| j.get(name.str()).is_some()).unwrap_or(false)))
        }),
        Func::CookieDelete => Box::new(move |ctx| {
            let name = arg(ctx, &args, 0)?;
            with_jar(ctx, |j| j.retain(|n| n != name.str()));
            Ok(Value::Null)
        }),
        Func::CookieFilter | Func::CookieKeep => {
            let keep_listed = func == Func::CookieKeep;
            Box::new(move |ctx| {
                let list = arg(ctx, &args, 0)?;
                let listed = names(list.str());
                with_jar(ctx, |j| j.retain(|n| listed.contains(&n) == keep_listed));
                Ok(Value::Null)
            })
        }
        Func::CookieFilterRe | Func::CookieKeepRe => {
            let (re, keep_matching) = (re()?, func == Func::CookieKeepRe);
            Box::new(move |ctx| {
                let mut failed = None;
                with_jar(ctx, |j| {
                    j.retain(|n| match re.is_match(n.as_bytes()) {
                        Ok(m) => m == keep_matching,
                        Err(e) => {
                            failed.get_or_insert(e);
                            true
                        }
                    })
                });
                failed.map_or(Ok(Value::Null), |e| Err(VclFail(format!("cookie regex: {e}"))))
            })
        }
        Func::CookieGetRe => {
            let re = re()?;
            Box::new(move |ctx| {
                let mut failed = None;
                let found = with_jar(ctx, |j| {
                    j.get_by(|n| {
                        re.is_match(n.as_bytes()).unwrap_or_else(|e| {
                            failed.get_or_insert(e);
                            false
                        })
                    })
                    .map(str::to_string)
                });
                match failed {
                    Some(e) => Err(VclFail(format!("cookie regex: {e}"))),
                    None => Ok(text(found.flatten())),
                }
            })
        }
        Func::CookieGetString => Box::new(|ctx| Ok(Value::Str(with_jar(ctx, |j| j.to_header()).unwrap_or_default()))),
        Func::CookieClean => Box::new(|ctx| {
            with_jar(ctx, Jar::clear);
            Ok(Value::Null)
        }),
        Func::CookieFormatDate => Box::new(move |ctx| {
            let (now, delta) = (arg(ctx, &args, 0)?.num(), arg(ctx, &args, 1)?.num());
            Ok(Value::Str(crate::value::http_date(now + delta)))
        }),
        other => return Err(LoadError::Unsupported(format!("{other:?} is not a cookie function"))),
    })
}

/// Runs `f` on the task's jar (made on first use); `None` in a task without one.
fn with_jar<R>(ctx: &mut Ctx<'_>, f: impl FnOnce(&mut Jar) -> R) -> Option<R> {
    let jar = match (ctx.req.as_deref_mut(), ctx.bereq.as_deref_mut()) {
        (Some(r), _) => &mut r.cookies,
        (None, Some(b)) => &mut b.cookies,
        (None, None) => return None,
    };
    Some(f(jar.get_or_insert_with(Box::default)))
}

fn text(v: Option<String>) -> Value {
    v.map_or(Value::Null, Value::Str)
}

fn arg(ctx: &mut Ctx<'_>, args: &Args, i: usize) -> Result<Value, VclFail> {
    match args.get(i).and_then(Option::as_ref) {
        Some(f) => f(ctx),
        None => Ok(Value::Null),
    }
}
