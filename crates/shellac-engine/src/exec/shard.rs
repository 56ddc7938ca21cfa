//! Linking the shard director's methods (`directors.shard()`, Varnish 7.1): the arguments as
//! its `.vcc` declares them, the key each `by=` takes from the task, and `resolve=LAZY`, which
//! hands out the director itself to be resolved by the fetch.

use std::sync::Arc;

use shellac_vcl::symbols::Method;
use shellac_vcl::vmods::ObjMethod;

use super::ExprFn;
use crate::backend::BackendHandle;
use crate::director::shard::{self, Change, Healthy, Lookup, ShardBackend};
use crate::director::Director;
use crate::error::VclFail;
use crate::value::Value;
use crate::vrt::Ctx;

type Args = Vec<Option<ExprFn>>;

/// Links a method of shard director `d`.
pub(crate) fn link(d: Arc<dyn Director>, method: ObjMethod, args: Args) -> ExprFn {
    match method {
        ObjMethod::AddBackend => Box::new(move |ctx| {
            let Value::Backend(handle) = arg(ctx, &args, 0)? else { return Ok(Value::Bool(false)) };
            if handle.is_none() {
                tracing::info!(director = d.name(), "vmod_directors.shard: .add_backend() NULL backend given");
                return Ok(Value::Bool(false));
            }
            let ident = arg(ctx, &args, 1)?.as_opt_str().filter(|s| !s.is_empty()).map(str::to_string);
            let rampup = opt(ctx, &args, 2)?.map(|v| v.num());
            let weight = opt(ctx, &args, 3)?.map_or(1.0, |v| v.num());
            shard(&d)?.change(Change::Add(ShardBackend { handle, ident, rampup, weight }));
            Ok(Value::Bool(true))
        }),
        ObjMethod::RemoveBackend => Box::new(move |ctx| {
            let handle = match opt(ctx, &args, 0)? {
                Some(Value::Backend(b)) if !b.is_none() => Some(b),
                _ => None,
            };
            let ident = opt(ctx, &args, 1)?.and_then(|v| v.as_opt_str().map(str::to_string));
            if handle.is_none() && ident.is_none() {
                tracing::info!(
                    director = d.name(),
                    "vmod_directors.shard: .remove_backend() at least one of backend and ident must be given"
                );
                return Ok(Value::Bool(false));
            }
            shard(&d)?.change(Change::Remove { handle, ident });
            Ok(Value::Bool(true))
        }),
        ObjMethod::Clear => Box::new(move |_| {
            shard(&d)?.change(Change::Clear);
            Ok(Value::Bool(true))
        }),
        ObjMethod::Reconfigure => Box::new(move |ctx| {
            let replicas = arg(ctx, &args, 0)?.int();
            Ok(Value::Bool(match shard(&d)?.reconfigure(replicas) {
                Ok(()) => true,
                Err(e) => {
                    tracing::info!(director = d.name(), "vmod_directors.shard: {e}");
                    false
                }
            }))
        }),
        ObjMethod::Key => Box::new(move |ctx| Ok(Value::Int(i64::from(shard::hash_str(arg(ctx, &args, 0)?.str()))))),
        ObjMethod::SetWarmup => Box::new(move |ctx| {
            let p = arg(ctx, &args, 0)?.num();
            if !shard(&d)?.set_warmup(p) {
                tracing::info!(director = d.name(), "vmod_directors.shard: .set_warmup({p}) ignored");
            }
            Ok(Value::Null)
        }),
        ObjMethod::SetRampup => Box::new(move |ctx| {
            shard(&d)?.set_rampup(arg(ctx, &args, 0)?.num());
            Ok(Value::Null)
        }),
        // (Its flags only make the director log more.)
        ObjMethod::Debug => Box::new(|_| Ok(Value::Null)),
        ObjMethod::Backend => Box::new(move |ctx| backend(ctx, &d, &args)),
        ObjMethod::Explain => Box::new(|_| Ok(Value::Str(String::new()))),
    }
}

/// `.backend(by, key, key_blob, alt, warmup, rampup, healthy, resolve)`.
fn backend(ctx: &mut Ctx<'_>, d: &Arc<dyn Director>, args: &Args) -> Result<Value, VclFail> {
    let lazy = match opt(ctx, args, 7)? {
        Some(v) => v.str() == "LAZY",
        None => ctx.method == Method::Init,
    };
    if lazy {
        return Ok(Value::Backend(BackendHandle::Director(d.clone())));
    }
    if ctx.method == Method::Init {
        return Err(VclFail(format!("{}.backend(resolve=NOW) can not be used in vcl_init", d.name())));
    }
    let by = arg(ctx, args, 0)?;
    let key = opt(ctx, args, 1)?.map(|v| v.int()).filter(|k| *k != 0);
    let blob = opt(ctx, args, 2)?;
    let none = || Ok(Value::Backend(BackendHandle::None));
    if key.is_some() && by.str() != "KEY" {
        tracing::info!(director = d.name(), "vmod_directors.shard: by={} but key argument used", by.str());
        return none();
    }
    if blob.is_some() && by.str() != "BLOB" {
        tracing::info!(director = d.name(), "vmod_directors.shard: by={} but key_blob argument used", by.str());
        return none();
    }
    let key = match by.str() {
        // (An INT key is taken modulo 2^32, as varnishd's cast does.)
        "KEY" => key.unwrap_or(0) as u32,
        "BLOB" => match blob {
            Some(Value::Blob(b)) if !b.is_empty() => shard::key_from_bytes(&b),
            _ => 0,
        },
        "URL" => shard::hash_str(&url(ctx)),
        // HASH: the object's hash on the backend side and in vcl_pipe, the URL on the client side.
        _ => match task_hash(ctx) {
            Some(h) => shard::key_from_bytes(&h),
            None => shard::hash_str(&url(ctx)),
        },
    };
    let healthy = match arg(ctx, args, 6)?.str() {
        "IGNORE" => Healthy::Ignore,
        "ALL" => Healthy::All,
        _ => Healthy::Chosen,
    };
    let q = Lookup {
        key,
        alt: arg(ctx, args, 3)?.int(),
        warmup: arg(ctx, args, 4)?.num(),
        rampup: arg(ctx, args, 5)?.truth(),
        healthy,
    };
    let now = ctx.now();
    let picked = d.as_shard().and_then(|s| s.pick(&q, now));
    Ok(Value::Backend(picked.unwrap_or_default()))
}

/// The URL a `by=URL` key hashes: `req.url` on the client side, `bereq.url` on the backend side.
fn url(ctx: &Ctx<'_>) -> String {
    match (&ctx.req, &ctx.bereq) {
        (Some(r), _) => r.url.clone(),
        (None, Some(b)) => b.url.clone(),
        _ => String::new(),
    }
}

/// The object's hash for `by=HASH`, where varnishd takes it: on the backend side, and in
/// vcl_pipe (after vcl_hash).
fn task_hash(ctx: &Ctx<'_>) -> Option<[u8; 32]> {
    if let (Some(b), true) = (&ctx.bereq, ctx.req.is_none()) {
        return b.hash;
    }
    if ctx.method == Method::Pipe {
        return ctx.req.as_deref().and_then(crate::vrt::Req::key);
    }
    None
}

/// The shard director behind `d` (the method was linked for one).
fn shard(d: &Arc<dyn Director>) -> Result<&shard::Shard, VclFail> {
    d.as_shard().ok_or_else(|| VclFail(format!("{} is not a shard director", d.name())))
}

fn arg(ctx: &mut Ctx<'_>, args: &Args, i: usize) -> Result<Value, VclFail> {
    opt(ctx, args, i).map(|v| v.unwrap_or(Value::Null))
}

fn opt(ctx: &mut Ctx<'_>, args: &Args, i: usize) -> Result<Option<Value>, VclFail> {
    match args.get(i).and_then(Option::as_ref) {
        Some(f) => f(ctx).map(Some),
        None => Ok(None),
    }
}
