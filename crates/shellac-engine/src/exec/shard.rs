//! Linking the methods of the shard director and of its parameter sets (`directors.shard()`,
//! `directors.shard_param()`, Varnish 7.1): the arguments as their `.vcc` declares them, what a
//! lookup takes from an associated or given parameter set and from the task, and
//! `resolve=LAZY`, which hands out the director itself to be resolved by the fetch.

use std::sync::Arc;

use shellac_vcl::symbols::Method;
use shellac_vcl::vmods::ObjMethod;

use super::ExprFn;
use crate::backend::BackendHandle;
use crate::director::shard::{self, Change, Healthy, ShardBackend};
use crate::director::shard_param::{By, ShardArgs, ShardParam};
use crate::director::Director;
use crate::error::VclFail;
use crate::value::Value;
use crate::vrt::Ctx;

type Args = Vec<Option<ExprFn>>;

/// Links a method of shard director (or parameter set) `d`; `all` are the VCL's objects, among
/// which a `.use()` BLOB names a parameter set.
pub(crate) fn link(d: Arc<dyn Director>, all: Arc<[Arc<dyn Director>]>, method: ObjMethod, args: Args) -> ExprFn {
    if d.as_shard_param().is_some() {
        return link_param(d, method, args);
    }
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
        ObjMethod::Associate => Box::new(move |ctx| {
            let param = match opt(ctx, &args, 0)? {
                Some(Value::Blob(token)) => match param_of(&token, &all) {
                    Some(p) => Some(p),
                    None => return Err(VclFail(format!("{}.associate(): not a shard_param's .use()", d.name()))),
                },
                _ => None,
            };
            shard(&d)?.associate(param);
            Ok(Value::Null)
        }),
        // (Its flags only make the director log more.)
        ObjMethod::Debug => Box::new(|_| Ok(Value::Null)),
        ObjMethod::Backend => Box::new(move |ctx| backend(ctx, &d, &all, &args)),
        other => Box::new(move |_| Err(VclFail(format!("{other:?} is not a method of the shard director")))),
    }
}

/// `.backend(by, key, key_blob, alt, warmup, rampup, healthy, param, resolve)`.
fn backend(ctx: &mut Ctx<'_>, d: &Arc<dyn Director>, all: &[Arc<dyn Director>], args: &Args) -> Result<Value, VclFail> {
    let given = given_args(ctx, args)?;
    given.check(d.name(), "shard.backend()")?;
    let param = match opt(ctx, args, 7)? {
        Some(Value::Blob(token)) => Some(
            param_of(&token, all)
                .ok_or_else(|| VclFail(format!("{}.backend(): param is not a shard_param's .use()", d.name())))?,
        ),
        _ => None,
    };
    let lazy = match opt(ctx, args, 8)? {
        Some(v) => v.str() == "LAZY",
        None => ctx.method == Method::Init,
    };
    if lazy {
        if !given.any() && param.is_none() {
            return Ok(Value::Backend(BackendHandle::Director(d.clone())));
        }
        // On the backend side (and in vcl_pipe) the arguments hold for this request's
        // resolution of the director, wherever it is referenced; elsewhere they are an error.
        let Some(bereq) = ctx.bereq.as_deref_mut().filter(|_| ctx.method != Method::Init) else {
            return Err(VclFail(format!(
                "{}.backend(resolve=LAZY) takes no other argument in vcl_init or on the client side",
                d.name()
            )));
        };
        let base = match &param {
            Some(p) => p.as_shard_param().map_or_else(ShardArgs::default, |p| p.effective(&bereq.shard_params)),
            None => shard(d)?.base_args(&bereq.shard_params),
        };
        let args = given.over(base);
        let id = shard(d)?.id();
        match bereq.shard_params.iter_mut().find(|(k, _)| *k == id) {
            Some((_, a)) => *a = args,
            None => bereq.shard_params.push((id, args)),
        }
        return Ok(Value::Backend(BackendHandle::Director(d.clone())));
    }
    if ctx.method == Method::Init {
        return Err(VclFail(format!("{}.backend(resolve=NOW) can not be used in vcl_init", d.name())));
    }
    let copies = ctx.bereq.as_deref().map_or(&[][..], |b| &b.shard_params[..]);
    let base = match &param {
        Some(p) => p.as_shard_param().map_or_else(ShardArgs::default, |p| p.effective(copies)),
        None => shard(d)?.base_args(copies),
    };
    let a = given.over(base);
    // HASH: the object's hash on the backend side and in vcl_pipe, the URL on the client side.
    let hash = task_hash(ctx);
    let key = shard::key_of(&a, hash.as_ref().map(|h| &h[..]), &url(ctx));
    let now = ctx.now();
    let picked = shard(d)?.pick(&shard::lookup_of(&a, key), now);
    Ok(Value::Backend(picked.unwrap_or_default()))
}

/// Links a method of a parameter set.
fn link_param(d: Arc<dyn Director>, method: ObjMethod, args: Args) -> ExprFn {
    let getter = d.clone();
    let get = move |f: fn(ShardArgs) -> Value| -> ExprFn {
        let d = getter.clone();
        Box::new(move |ctx| {
            let p = param(&d)?;
            let copies = ctx.bereq.as_deref().map_or(&[][..], |b| &b.shard_params[..]);
            Ok(f(p.effective(copies)))
        })
    };
    match method {
        ObjMethod::GetBy => get(|a| Value::Str(a.by.name().to_string())),
        ObjMethod::GetKey => get(|a| Value::Int(a.key)),
        ObjMethod::GetAlt => get(|a| Value::Int(a.alt)),
        ObjMethod::GetWarmup => get(|a| Value::Real(a.warmup)),
        ObjMethod::GetRampup => get(|a| Value::Bool(a.rampup)),
        ObjMethod::GetHealthy => get(|a| Value::Str(healthy_name(a.healthy).to_string())),
        ObjMethod::Use => Box::new(move |_| Ok(Value::Blob(param(&d)?.token()))),
        ObjMethod::Set => Box::new(move |ctx| {
            let given = given_args(ctx, &args)?;
            given.check(d.name(), "shard_param.set()")?;
            change_param(ctx, &d, |current, _| given.over(current))
        }),
        // (In vcl_init back to `.backend()`'s defaults; in a backend request, to the VCL's.)
        ObjMethod::Clear => Box::new(move |ctx| {
            let init = ctx.method == Method::Init;
            change_param(ctx, &d, |_, vcl| if init { ShardArgs::default() } else { vcl })
        }),
        other => Box::new(move |_| Err(VclFail(format!("{other:?} is not a method of shard_param")))),
    }
}

/// Applies a change (`f(current, the VCL's defaults)`) to a set: its VCL defaults in vcl_init,
/// the backend request's own copy on the backend side and in vcl_pipe.
fn change_param(
    ctx: &mut Ctx<'_>,
    d: &Arc<dyn Director>,
    f: impl FnOnce(ShardArgs, ShardArgs) -> ShardArgs,
) -> Result<Value, VclFail> {
    let p = param(d)?;
    if ctx.method == Method::Init {
        p.set_defaults(f(p.defaults(), p.defaults()));
        return Ok(Value::Null);
    }
    let Some(bereq) = ctx.bereq.as_deref_mut() else {
        return Err(VclFail(format!(
            "{}: a shard_param can not be changed in client context other than vcl_pipe",
            d.name()
        )));
    };
    let next = f(p.effective(&bereq.shard_params), p.defaults());
    match bereq.shard_params.iter_mut().find(|(id, _)| *id == p.id()) {
        Some((_, a)) => *a = next,
        None => bereq.shard_params.push((p.id(), next)),
    }
    Ok(Value::Null)
}

/// The lookup arguments given to `.backend()` or `.set()` (the first seven).
struct Given {
    by: Option<By>,
    key: Option<i64>,
    key_blob: Option<Arc<[u8]>>,
    alt: Option<i64>,
    warmup: Option<f64>,
    rampup: Option<bool>,
    healthy: Option<Healthy>,
}

impl Given {
    /// varnishd's checks of one call's arguments: a key goes with `by=KEY` and a key blob with
    /// `by=BLOB` in the same call (`by` left out counts as HASH here), `alt` is not negative,
    /// `warmup` is −1 or within [0, 1].
    fn check(&self, name: &str, what: &str) -> Result<(), VclFail> {
        let fail = |msg: String| Err(VclFail(format!("vmod_directors: shard {name}: {what} {msg}")));
        let by = self.by.unwrap_or(By::Hash);
        match by {
            By::Key if self.key.is_none() => return fail("missing key argument with by=KEY".into()),
            By::Blob if self.key_blob.is_none() => return fail("missing key_blob argument with by=BLOB".into()),
            By::Hash | By::Url if self.key.is_some() || self.key_blob.is_some() => {
                return fail(format!("key and key_blob arguments are invalid with by={}", by.name()))
            }
            _ => {}
        }
        if self.alt.is_some_and(|a| a < 0) {
            return fail(format!("invalid alt argument {}", self.alt.unwrap_or_default()));
        }
        if self.warmup.is_some_and(|w| w != -1.0 && !(0.0..=1.0).contains(&w)) {
            return fail(format!("invalid warmup {}", self.warmup.unwrap_or_default()));
        }
        Ok(())
    }

    fn any(&self) -> bool {
        self.by.is_some()
            || self.key.is_some()
            || self.key_blob.is_some()
            || self.alt.is_some()
            || self.warmup.is_some()
            || self.rampup.is_some()
            || self.healthy.is_some()
    }

    /// These over `base`.
    fn over(self, base: ShardArgs) -> ShardArgs {
        ShardArgs {
            by: self.by.unwrap_or(base.by),
            key: self.key.unwrap_or(base.key),
            key_blob: self.key_blob.or(base.key_blob),
            alt: self.alt.unwrap_or(base.alt),
            warmup: self.warmup.unwrap_or(base.warmup),
            rampup: self.rampup.unwrap_or(base.rampup),
            healthy: self.healthy.unwrap_or(base.healthy),
        }
    }
}

fn given_args(ctx: &mut Ctx<'_>, args: &Args) -> Result<Given, VclFail> {
    Ok(Given {
        by: opt(ctx, args, 0)?.map(|v| By::parse(v.str())),
        key: opt(ctx, args, 1)?.map(|v| v.int()),
        key_blob: match opt(ctx, args, 2)? {
            Some(Value::Blob(b)) => Some(b),
            _ => None,
        },
        alt: opt(ctx, args, 3)?.map(|v| v.int()),
        warmup: opt(ctx, args, 4)?.map(|v| v.num()),
        rampup: opt(ctx, args, 5)?.map(|v| v.truth()),
        healthy: opt(ctx, args, 6)?.map(|v| match v.str() {
            "IGNORE" => Healthy::Ignore,
            "ALL" => Healthy::All,
            _ => Healthy::Chosen,
        }),
    })
}

fn healthy_name(h: Healthy) -> &'static str {
    match h {
        Healthy::Chosen => "CHOSEN",
        Healthy::Ignore => "IGNORE",
        Healthy::All => "ALL",
    }
}

/// The parameter set a `.use()` BLOB names.
fn param_of(token: &[u8], all: &[Arc<dyn Director>]) -> Option<Arc<dyn Director>> {
    let p = ShardParam::from_token(token, all)?;
    all.iter().find(|d| d.as_shard_param().is_some_and(|q| q.id() == p.id())).cloned()
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

/// The parameter set behind `d`.
fn param(d: &Arc<dyn Director>) -> Result<&ShardParam, VclFail> {
    d.as_shard_param().ok_or_else(|| VclFail(format!("{} is not a shard_param", d.name())))
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
